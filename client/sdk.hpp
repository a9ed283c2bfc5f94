// libimock-client: the reference client SDK, shaped like the documented one
// (SPEC.md §1-§5): init, connect with a time limit and three callbacks, a status
// listener, reconnect on the documented schedule, reconnect-kick, disconnect and
// logout. The decisions live in client/connection.hpp (sans-IO); this is the
// Asio driver that runs them over mqtt://, mqtts://, ws:// and wss://.
//
// Threads: a runtime owns the event-loop thread(s) and one callback thread that
// many clients share. Callbacks never run on the caller's thread, and run in the
// order the events happened. No Asio in this header.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/client/connection.hpp"
#include "imock/client/message.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/codes.hpp"

namespace imock::client {

struct runtime_options {
  /// Event-loop threads, each running its own loop; a client stays on one of them
  /// (assigned in turn), so all of one client's events run on one thread.
  unsigned io_threads = 1;
  /// Client time runs `speed` times faster than the wall clock (the harness).
  double speed = 1.0;
  /// Run callbacks on the event-loop thread instead of the callback thread (the
  /// storm tool, which runs thousands of clients and counts events). Still never
  /// the caller's thread.
  bool inline_callbacks = false;
};

/// Event-loop threads and the callback thread shared by clients. Destroy clients first.
class runtime {
 public:
  explicit runtime(runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// A process-wide runtime with one event-loop thread, made on first use.
  static runtime& default_runtime();

  /// Client time now (ms since the epoch, scaled by speed).
  [[nodiscard]] std::int64_t now_ms() const;
  [[nodiscard]] double speed() const;

  class impl;
  impl& get() { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

struct sdk_options {
  /// Connection servers, tried in turn (attempt n uses urls[n % size]) when there is no
  /// navigation:
  /// mqtt://host:port, mqtts://host:port, ws://host:port/mqtt, wss://host:port/mqtt.
  std::vector<std::string> urls;
  bool tls_verify = true;  // check the server certificate (off for self-signed test servers)
  std::optional<std::filesystem::path> ca_file;
  std::string ca_pem;  // a trusted certificate in PEM (e.g. the mock's self-signed one)
  /// The local database lives in <data_dir>/<app_key>/<user_id>/imock.db. Empty: no
  /// database (db_opened(0) at once; what the storm tool uses).
  std::filesystem::path data_dir;
  std::string device_id;  // CONNECT client id; empty: "imock-" + random
  std::string platform = "ios";
  std::uint16_t heartbeat_s = 30;
  /// Reconnect schedule override; empty: the documented 0.05 s ... 32 s, then 64 s.
  std::vector<std::int64_t> schedule_ms;
  std::int64_t schedule_tail_ms = 64'000;
  jitter_kind jitter = jitter_kind::none;  // the documented schedule has none
  std::uint64_t jitter_seed = 0;
  bool reconnect_kick = false;
  std::int64_t connect_ack_timeout_ms = 10'000;
  /// Local address to bind before connecting ("127.0.0.2"): spreads a storm over
  /// source addresses. Empty: the system picks.
  std::string source_address;
  /// Send no imock-* user properties in CONNECT (options::plain): a plain MQTT 5 client.
  bool plain = false;
  /// Navigation servers, http://host:port, asked in this order for the connection
  /// servers before connecting (SPEC.md §7, docs/client.md "Navigation"); `urls` may
  /// then be empty. The list is kept in the user's database for its lifetime.
  std::vector<std::string> navigation;
  std::int64_t navigation_timeout_ms = 5'000;  // per navigation request: 30005 after it
  /// Which transports to take from a navigation answer (empty: any, in its order).
  std::vector<transport> navigation_transports;
  /// Take one-to-one messages (docs/protocol.md §9, docs/client.md "Messages"): CONNECT
  /// says imock-messages=1 and the server delivers, syncs and marks the sync's end.
  bool messages = true;
  /// How long a send waits for the server's PUBACK before error 30003.
  std::int64_t message_ack_timeout_ms = 10'000;
};

/// sendMessage's attached: the message is in the local database, about to go.
using attached_fn = std::function<void(const message& m)>;
/// sendMessage's success(messageId).
using sent_fn = std::function<void(std::int64_t message_id)>;
/// sendMessage's error(code, messageId): 30002 not connected, 30003 no answer, 30016 too
/// large, 20604 too frequent, ... (docs/client.md "Messages").
using send_error_fn = std::function<void(int code, std::int64_t message_id)>;
/// The receive listener: `left` more in this package, `has_package` more packages.
using receive_fn = std::function<void(const message& m, int left, bool offline, bool has_package)>;
/// onOfflineMessageSyncCompleted: after every connect, once the stored messages are in.
using sync_completed_fn = std::function<void()>;

using db_opened_fn = std::function<void(rc::code code)>;
using success_fn = std::function<void(const std::string& user_id)>;
using error_fn = std::function<void(rc::code code)>;
/// Status changes; `cause` is the code behind the change (31010 for a kick).
using status_fn = std::function<void(rc::status status, rc::code cause)>;
/// Every action of the state machine and every transport event, for traces.
using trace_fn = std::function<void(std::int64_t now_ms, const std::string& line)>;
/// A connection attempt begins (attempt_begun: a navigation or a connect), at client time
/// `now_ms`: with the status listener's Connected, the connect latency (imock-storm).
using attempt_fn = std::function<void(std::int64_t now_ms, std::uint32_t attempt)>;

class client {
 public:
  explicit client(runtime& rt = runtime::default_runtime());
  /// Closes the connection; no callback runs after the destructor returns.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Must come first. Returns 0, or 33003 for bad options (no app key, bad URL, ...).
  rc::code init(std::string app_key, sdk_options options);

  /// Connects; `time_limit_s` > 0 gives up after that long with 34006, <= 0 keeps
  /// trying. db_opened fires before the network is up; success once connected;
  /// error only for codes the SDK cannot recover from (then it stops).
  void connect(std::string token, int time_limit_s, db_opened_fn on_db_opened,
               success_fn on_success, error_fn on_error);
  /// Leaves the reconnect loop: status 12 SignOut. disconnect keeps push, logout not;
  /// for the connection they are the same. 33001 before init (nothing happens), else 0.
  rc::code disconnect();
  rc::code logout();

  void set_connection_status_listener(status_fn listener);
  void set_trace(trace_fn trace);
  /// Called where callbacks run at the start of every connection attempt. Cheaper
  /// than a trace for counting attempts over thousands of clients.
  void set_attempt_listener(attempt_fn listener);
  [[nodiscard]] rc::status current_status() const;
  /// 33001 before init, else 0.
  rc::code set_reconnect_kick_enable(bool on);

  /// sendMessage to `to` (private conversation): attached once stored locally, then
  /// success or error (exactly one). 33001 before init (no callback runs), else 0.
  rc::code send_message(std::string to, std::string object_name, std::string content,
                        std::string push_content, attached_fn on_attached, sent_fn on_sent,
                        send_error_fn on_error);
  /// resendMessage: the message `message_id` (one this user sent) again, under the same
  /// id, so a receiver that got it before drops the copy; then success or error. An id
  /// that is not a sent message: error 33003.
  rc::code resend_message(std::int64_t message_id, sent_fn on_sent, send_error_fn on_error);
  /// Messages from the server, each once: duplicates (SPEC.md §8.5) are dropped.
  void set_receive_listener(receive_fn listener);
  void set_offline_sync_listener(sync_completed_fn listener);
  /// The conversation with `peer` from the local database, oldest first, at most
  /// `limit`: what survives a restart of the app. Empty without a database.
  std::vector<message> history(const std::string& peer, std::size_t limit = 100);

  /// Network reachability and app foreground, as the OS would report them.
  void set_network_available(bool available);
  void app_foreground();

  class state;

 private:
  runtime& runtime_;
  std::shared_ptr<state> state_;
  std::atomic<bool> inited_{false};  // init() succeeded: calls are accepted
};

/// Server URLs (net/url.hpp): mqtt://, mqtts://, ws://, wss://.
using net::parse_server_url;
using net::server_url;

}  // namespace imock::client
