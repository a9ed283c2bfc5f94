// The reference connection machine on a clock and a network that someone else owns:
// virtual time. Every call takes the time it happens at; timers are not armed
// anywhere but reported through next_timer(), and advance() fires the ones due. The
// bytes of a transport go to a `link_network` and come back through the link_*
// calls. No threads, no sockets, no wall clock.
//
// Two drivers use it: the simulation (sim/client_host: the simulated network and
// the discrete-event clock) and `imock-client --harness` in virtual time (the
// harness's clock and network, through JSON lines; docs/scenarios.md, "Virtual
// time"). The Asio SDK (sdk.cpp) drives the same connection machine on real time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "imock/client/connection.hpp"
#include "imock/client/inbox.hpp"
#include "imock/client/messaging.hpp"
#include "imock/protocol/mqtt.hpp"

namespace imock::client {

/// A navigation request (docs/protocol.md §8) as the host sends it.
struct navigation_request {
  std::string url;  // the navigation server, "http://host:port"
  std::string app_key;
  std::string body;  // navigation_body(): token, device, platform
};

/// The network a virtual host talks through. A link is one transport connection.
class link_network {
 public:
  virtual ~link_network() = default;
  /// Opens a new link (a TCP connect) to `server` (a URL navigation gave; empty: the
  /// host's own server); its outcome comes back as link_up or link_refused on the
  /// host. Returns the link's id.
  virtual std::uint64_t open(const std::string& server) = 0;
  /// Sends a navigation request; the answer comes back as navigation_answer or
  /// navigation_unanswered on the host. Returns the request's id.
  virtual std::uint64_t navigate(const navigation_request& r) = 0;
  /// Writes bytes on an open link.
  virtual void send(std::uint64_t link, std::string bytes) = 0;
  /// Closes the host's end of a link; nothing more is reported about it.
  virtual void close(std::uint64_t link) = 0;
};

class virtual_host {
 public:
  /// Every action the machine emits, with the time: open_transport (an attempt),
  /// the callbacks and the status changes among them.
  using observer = std::function<void(const action& a, std::int64_t now_ms)>;

  explicit virtual_host(link_network& net) : net_(net) {}
  ~virtual_host();
  virtual_host(const virtual_host&) = delete;
  virtual_host& operator=(const virtual_host&) = delete;

  void set_observer(observer o) { observer_ = std::move(o); }
  /// What the app is told about messages, with the time: message_sent and send_failed
  /// (a send's outcome), message_received (a new message, stored; a duplicate is
  /// dropped unreported), sync_completed.
  using message_observer = std::function<void(const message_action& a, std::int64_t now_ms)>;
  void set_message_observer(message_observer o) { message_observer_ = std::move(o); }
  /// The user's message database (client/inbox.hpp), owned by the driver so that it
  /// outlives this host, as a file outlives an app; nullptr: none.
  void set_message_store(message_store* store) noexcept {
    store_ = store;
    inbox_.set_store(database_ok_ ? store : nullptr);
  }
  /// Whether the local database opens (false: dbOpened and error 33002).
  void set_database_ok(bool ok) noexcept {
    database_ok_ = ok;
    inbox_.set_store(ok ? store_ : nullptr);
  }

  // --- the SDK's calls ---
  rc::code init(std::shared_ptr<const options> opts, std::uint64_t seed);
  void connect(std::string_view token, int time_limit_s, std::int64_t now_ms);
  rc::code disconnect(std::int64_t now_ms);  // 33001 before init
  rc::code logout(std::int64_t now_ms);
  void network_changed(bool available, std::int64_t now_ms);
  void foreground(std::int64_t now_ms);
  rc::code set_reconnect_kick(bool on) { return machine_.set_reconnect_kick(on); }
  /// sendMessage (private conversation): the new row's id; the outcome goes to the
  /// message observer.
  std::int64_t send_message(const std::string& to, const std::string& object_name,
                            const std::string& content, std::int64_t now_ms);
  /// resendMessage: the row `id` again, under its id; false when it is not a sent message.
  bool resend_message(std::int64_t id, std::int64_t now_ms);
  /// The conversation with `peer` in the database, oldest first.
  std::vector<message> history(const std::string& peer, std::size_t limit = 1000) {
    return inbox_.history(peer, limit);
  }

  // --- what the network reports about the current link (others are ignored) ---
  void link_up(std::uint64_t link, std::int64_t now_ms);
  void link_refused(std::uint64_t link, std::int64_t now_ms);
  void link_bytes(std::uint64_t link, std::string_view bytes, std::int64_t now_ms);
  void link_closed(std::uint64_t link, std::int64_t now_ms);  // the peer closed (FIN)
  void link_reset(std::uint64_t link, std::int64_t now_ms);   // the peer reset it (RST)

  // --- the answer to the current navigation request (others are ignored) ---
  void navigation_answer(std::uint64_t request, int http_status, std::string_view body,
                         std::int64_t now_ms);
  void navigation_unanswered(std::uint64_t request, std::int64_t now_ms);

  // --- time ---
  /// Fires every timer due at or before `now_ms`, earliest first, each at its own
  /// deadline (at most k_max_timers_per_advance of them).
  void advance(std::int64_t now_ms);
  /// When the earliest pending timer is due; nullopt when none is.
  [[nodiscard]] std::optional<std::int64_t> next_timer() const noexcept;

  [[nodiscard]] const connection& machine() const noexcept { return machine_; }

  static constexpr int k_max_timers_per_advance = 1000;

 private:
  /// Carries out actions in order; events they cause append to `todo`.
  void handle(actions& todo, std::int64_t now_ms);
  void run_messages(message_actions& todo, std::int64_t now_ms);
  void go(const outgoing_message& m, std::int64_t now_ms);
  /// Closes the current link, if any: sends waiting for their PUBACK fail (30003).
  void close_link(std::int64_t now_ms);
  /// The link is gone (the peer closed or reset it, or it never came up).
  void lose_link(std::int64_t now_ms);
  [[nodiscard]] bool takes_messages() const noexcept { return options_ && options_->messages; }
  [[nodiscard]] bool current(std::uint64_t link) const noexcept { return link_ && *link_ == link; }

  link_network& net_;
  connection machine_;
  std::shared_ptr<const options> options_;
  std::optional<std::uint64_t> navigation_;  // the request in flight
  // The server list each user's database holds (store_servers), while this host lives.
  std::unordered_map<std::string, server_list> stored_;
  observer observer_;
  std::optional<std::uint64_t> link_;
  mqtt::decoder rx_;
  // When each timer was last started: timers due at the same millisecond fire in
  // the order they were started, as on a real event loop.
  std::array<std::uint64_t, k_timer_count> started_seq_{};
  std::uint64_t next_seq_ = 0;
  bool database_ok_ = true;
  messaging messages_;
  message_store* store_ = nullptr;
  inbox inbox_;
  message_observer message_observer_;
  std::optional<std::int64_t> message_deadline_;  // messaging's timer
};

}  // namespace imock::client
