// The server's decisions, without I/O: who may connect (SPEC.md §2, §4), who gets
// kicked, keep alive, faults, the event log and the counters behind /metrics.
// The Asio layer (server.cpp) owns sockets and feeds the hub packets, closes and
// ticks; the hub answers with actions. Single-threaded: the server's event loop.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "imock/protocol/codes.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/transport.hpp"
#include "imock/server/config.hpp"
#include "imock/server/directory.hpp"
#include "imock/server/event_log.hpp"
#include "imock/server/faults.hpp"
#include "imock/server/mailbox.hpp"
#include "imock/server/name_pool.hpp"

namespace imock::server {

using session_id = std::uint64_t;

using imock::k_transport_count;
using imock::transport;  // protocol/transport.hpp

/// A packet kept out of line, or none. An mqtt::packet is as large as its largest kind
/// (a CONNECT: ~1.2 KB); held in place, every action would be, and a drop-all of
/// 15,000 sessions, which sends nothing, built an 18 MB vector of them.
class packet_slot {
 public:
  packet_slot() = default;
  template <typename P>
    requires(!std::is_same_v<std::remove_cvref_t<P>, packet_slot> &&
             std::is_constructible_v<mqtt::packet, P &&>)
  packet_slot(P&& p)  // NOLINT(google-explicit-constructor): `.send = mqtt::connack{...}`
      : p_(std::make_unique<mqtt::packet>(std::forward<P>(p))) {}
  packet_slot(const packet_slot& o) : p_(o.p_ ? std::make_unique<mqtt::packet>(*o.p_) : nullptr) {}
  packet_slot(packet_slot&&) noexcept = default;
  packet_slot& operator=(const packet_slot& o) { return *this = packet_slot(o); }
  packet_slot& operator=(packet_slot&&) noexcept = default;
  ~packet_slot() = default;

  [[nodiscard]] bool has_value() const noexcept { return p_ != nullptr; }
  explicit operator bool() const noexcept { return has_value(); }
  mqtt::packet& operator*() const noexcept { return *p_; }
  mqtt::packet* operator->() const noexcept { return p_.get(); }

 private:
  std::unique_ptr<mqtt::packet> p_;
};

/// One thing the I/O layer must do for a session.
struct action {
  session_id session = 0;
  packet_slot send;           // encode and queue this packet
  bool close = false;         // then close the connection (after the send drains)
  bool reset = false;         // close at once with a TCP RST (nothing more is sent)
  std::int64_t delay_ms = 0;  // do it this long from now (server time), not at once
};
using actions = std::vector<action>;

/// Which sessions an admin action is for. Empty fields match anything.
struct session_filter {
  std::string app;
  std::string user;
  std::string device;
  std::optional<session_id> session;
};

struct session_view {
  session_id id = 0;
  transport via = transport::tcp;
  std::string remote;
  bool connected = false;  // CONNACK 0 sent
  bool blackholed = false;
  std::string app;
  std::string user;
  std::string device;
  std::string platform;
  std::int64_t opened_ms = 0;
  std::int64_t connected_ms = 0;
  std::uint16_t keep_alive_s = 0;
};

struct hub_counters {
  std::uint64_t accepted[k_transport_count] = {};
  std::uint64_t closed[k_transport_count] = {};   // accepted = closed + open, per transport
  std::map<int, std::uint64_t> connects_by_code;  // 0 = success
  std::uint64_t kicks = 0;
  std::uint64_t faults_fired = 0;
  std::uint64_t keep_alive_timeouts = 0;
  std::uint64_t connect_timeouts = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t slow_reader_drops = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  // One-to-one messages (docs/protocol.md §9).
  std::uint64_t messages_sent = 0;         // taken from a client or the server API
  std::uint64_t messages_stored = 0;       // kept for a recipient with no device online
  std::uint64_t messages_delivered = 0;    // first deliveries
  std::uint64_t messages_redelivered = 0;  // deliveries after one went unacknowledged
  std::uint64_t messages_expired = 0;
  std::uint64_t messages_dropped = 0;      // over max_stored_per_user
  std::uint64_t messages_refused = 0;      // a client send answered with an error
};

class hub {
 public:
  /// `start_ms`: server time now (users blocked in the config count from it).
  hub(const server_config& config, std::uint64_t fault_seed = 1, std::int64_t start_ms = 0);

  // --- session lifecycle (called by the I/O layer) ---------------------------

  /// A connection was accepted. It must send CONNECT within limits.connect_timeout.
  session_id open(transport via, std::string remote, std::int64_t now_ms);
  /// A whole packet arrived.
  actions on_packet(session_id id, mqtt::packet&& p, std::int64_t now_ms);
  /// The decoder failed (malformed 0x81, protocol error 0x82, too large 0x95,
  /// unsupported version 0x84): DISCONNECT (or CONNACK before CONNECT) and close.
  actions on_decode_error(session_id id, std::error_code ec, std::string_view detail,
                          std::int64_t now_ms);
  /// The connection is gone (peer closed, reset, or after a close action).
  void on_closed(session_id id, std::string_view why, std::int64_t now_ms);
  /// The outbound queue of a slow reader overflowed: the I/O layer closes it.
  void on_slow_reader(session_id id, std::int64_t now_ms);
  /// Keep-alive and CONNECT timeouts due by now_ms.
  actions tick(std::int64_t now_ms);
  /// When tick() next has work: the earliest keep-alive or CONNECT deadline of any
  /// session (nullopt: none). O(sessions); the simulation uses it to tick exactly.
  [[nodiscard]] std::optional<std::int64_t> next_deadline() const;
  /// Traffic counters for /metrics.
  void count_bytes(std::uint64_t in, std::uint64_t out) noexcept {
    counters_.bytes_in += in;
    counters_.bytes_out += out;
  }

  // --- admin and server API -------------------------------------------------

  /// DISCONNECT 0x8E + rc-code `why` (31010 by default) to matching connected sessions.
  actions kick(const session_filter& f, rc::code why, std::string_view cause, std::int64_t now_ms);
  /// Disconnect every device of a user with `why` (block: 0x8A + 31009).
  actions disconnect_user(std::string_view app, std::string_view user, rc::code why,
                          std::int64_t now_ms);
  /// Close matching sessions: silently (FIN), after a DISCONNECT (`reason`; sessions
  /// not logged in are closed silently), or with a TCP reset (the client sees 32054).
  enum class drop_how : std::uint8_t { silently, with_disconnect, reset };
  actions drop(const session_filter& f, drop_how how, std::uint8_t reason, std::int64_t now_ms);
  /// Stop (or resume) answering matching sessions: their packets are read and
  /// ignored, the TCP connection stays, the server's keep-alive check is off for them.
  /// With `include_new`, connections accepted from now on are blackholed too
  /// (until a blackhole release with include_new).
  void blackhole(const session_filter& f, bool on, bool include_new, std::int64_t now_ms);
  /// DISCONNECT 0x8B (rc-code 31003) to everyone and close.
  actions shutdown(std::int64_t now_ms);

  // --- messages (docs/protocol.md §9) -------------------------------------------

  /// A message from the server API for each user in `r.to`: stored, and delivered to
  /// the devices online now. `uids` gets each recipient's messageUID, in order.
  actions publish(const publish_request& r, std::int64_t now_ms, std::vector<recipient_uid>& uids);
  /// Messages held for users not online (or not yet acknowledged).
  [[nodiscard]] std::size_t stored_messages() const noexcept { return mailbox_.size(); }

  [[nodiscard]] bool is_online(std::string_view app, std::string_view user) const;
  /// The key of (app, name) in the user and device indexes (a 64-bit FNV-1a hash).
  static std::uint64_t index_key(std::string_view app, std::string_view name) noexcept;
  [[nodiscard]] std::vector<session_view> sessions(const session_filter& f) const;
  [[nodiscard]] std::size_t session_count() const noexcept { return sessions_.size(); }
  [[nodiscard]] std::size_t connected_count() const noexcept { return connected_; }
  [[nodiscard]] std::size_t count_by_transport(transport t) const noexcept {
    return open_by_transport_[static_cast<std::size_t>(t)];
  }
  void log(event_kind kind, std::string detail, std::int64_t now_ms, int code = 0);

  directory& dir() noexcept { return dir_; }
  fault_set& faults() noexcept { return faults_; }
  event_log& events() noexcept { return events_; }
  const event_log& events() const noexcept { return events_; }
  const hub_counters& counters() const noexcept { return counters_; }
  const server_config& config() const noexcept { return config_; }

 private:
  struct session {
    session_id id = 0;
    transport via = transport::tcp;
    bool connected = false;
    bool blackholed = false;
    bool mobile = true;
    bool closing = false;
    std::uint16_t keep_alive_s = 0;
    std::int64_t opened_ms = 0;
    std::int64_t connected_ms = 0;
    std::int64_t deadline_ms = 0;  // CONNECT timeout before login, keep-alive expiry after
    std::uint64_t packets = 0;
    std::string remote;
    shared_name app;  // one copy per distinct value (names_): most sessions share both
    std::string user;
    std::string device;
    shared_name platform;
    // Messages: what this session has not acknowledged (packet id -> messageUID), the
    // offline sync in progress, and the client's send rate window.
    bool takes_messages = false;  // CONNECT said imock-messages=1
    struct delivery {
      std::string uid;
      bool counted = true;  // false for a fault's duplicate: its PUBACK moves no package
    };
    // Deliveries and a sync in progress: on the heap only while there are some (an idle
    // session holds a null pointer, not an empty hash map; memory per connection).
    struct in_progress {
      std::unordered_map<std::uint16_t, delivery> in_flight;
      // A `reorder` fault's message, until the next one. On the heap: an action holds a
      // whole mqtt::packet (over 1 KB), and nearly every session never has one.
      std::unique_ptr<action> held_back;
      bool syncing = false;
      std::size_t package_unacked = 0;  // messages of the current package not yet acknowledged
      [[nodiscard]] bool idle() const noexcept {
        return in_flight.empty() && !held_back && !syncing && package_unacked == 0;
      }
    };
    std::unique_ptr<in_progress> work;
    in_progress& busy() {
      if (!work) work = std::make_unique<in_progress>();
      return *work;
    }
    void settle() noexcept {
      if (work && work->idle()) work.reset();
    }
    [[nodiscard]] bool syncing() const noexcept { return work && work->syncing; }
    std::int64_t sync_due_ms = 0;  // a `sync` delay fault: the sync starts then (0: not held)
    // Subscriptions and message counters: on the heap from the first SUBSCRIBE or
    // message on (an idle session holds a null pointer; memory per connection).
    struct traffic {
      std::vector<std::string> subscriptions;
      std::uint64_t deliveries = 0;  // messages sent to this session (a delivery fault's nth)
      std::int64_t send_window_ms = 0;
      std::uint32_t sends_in_window = 0;
      std::uint16_t last_packet_id = 0;
    };
    std::unique_ptr<traffic> more;
    traffic& used() {
      if (!more) more = std::make_unique<traffic>();
      return *more;
    }
    [[nodiscard]] std::uint64_t deliveries() const noexcept { return more ? more->deliveries : 0; }
  };

  /// Every deadline and held sync is set through these, so that tick()'s hints stay
  /// lower bounds of what can be due.
  void set_deadline(session& s, std::int64_t at_ms) noexcept;
  void hold_sync(session& s, std::int64_t until_ms) noexcept;

  actions handle_connect(session& s, mqtt::connect&& c, std::int64_t now_ms);
  actions handle_connect_checked(session& s, const mqtt::connect& c, std::int64_t now_ms);
  actions refuse(session& s, rc::code why, std::string_view detail, std::int64_t now_ms);
  actions accept(session& s, const mqtt::connect& c, std::int64_t now_ms);
  action disconnect_action(const session& s, std::uint8_t reason, rc::code why,
                           std::string_view text);
  void mark_closing(session& s);
  void add_to_user_index(const session& s);
  void remove_from_user_index(const session& s);
  bool matches(const session& s, const session_filter& f) const;
  void emit(event_kind kind, const session& s, int code, std::string detail, std::int64_t now_ms);
  actions apply_fault(session& s, const fault_rule& r, std::int64_t now_ms);
  actions route_publish(const session& from, const mqtt::publish& p);
  // Messages (hub_messages.cpp).
  actions handle_send(session& s, const mqtt::publish& p, std::int64_t now_ms);
  actions handle_message_ack(session& s, std::uint16_t packet_id, std::int64_t now_ms);
  actions start_sync(session& s, std::int64_t now_ms);
  actions send_package(session& s, std::int64_t now_ms);
  actions deliver(session& s, stored_message& m, std::size_t left, bool has_package,
                  std::int64_t now_ms);
  std::uint16_t next_packet_id(session& s);
  actions release_held(session& s);
  actions arrive(stored_message m, std::int64_t now_ms);
  actions flush(session& s, std::int64_t now_ms);
  std::vector<session*> receivers(std::string_view app, std::string_view user);
  void expire_messages(std::int64_t now_ms);
  void emit_message(event_kind kind, const stored_message& m, std::string detail,
                    std::int64_t now_ms);

  // The user and device indexes: a 64-bit hash of (app, name) to the logged-in sessions
  // with it. Lookups check the names in the session records, so a collision costs a
  // comparison, never a wrong answer; the keys hold no strings (memory per connection).
  using name_index = std::unordered_multimap<std::uint64_t, session_id>;
  /// The logged-in sessions of `app` whose `field` (&session::user or &session::device)
  /// is `name`, oldest session first.
  std::vector<session_id> indexed(const name_index& index, std::string session::*field,
                                  std::string_view app, std::string_view name) const;

  const server_config config_;
  directory dir_;
  fault_set faults_;
  event_log events_;
  hub_counters counters_;
  // tick() visits the sessions only from these (server) times on: no deadline and no
  // held sync is earlier. Lowered whenever one is set; recomputed by each full visit.
  static constexpr std::int64_t k_no_hint = std::numeric_limits<std::int64_t>::max();
  std::int64_t deadline_hint_ms_ = k_no_hint;
  std::int64_t sync_hint_ms_ = k_no_hint;
  name_pool names_;  // before sessions_: their app and platform handles point into it
  std::unordered_map<session_id, session> sessions_;
  mailbox mailbox_;
  std::uint64_t uid_seed_ = 1;
  std::uint64_t uids_assigned_ = 0;
  name_index by_user_;    // (app, user) -> its logged-in sessions
  name_index by_device_;  // (app, client id) -> the logged-in session using it
  std::size_t open_by_transport_[k_transport_count] = {};
  std::size_t connected_ = 0;
  session_id next_id_ = 1;
  std::uint64_t assigned_ids_ = 0;
  bool blackhole_new_ = false;
  // Connect rate limit: the current one-second window and its count.
  std::int64_t rate_window_ms_ = 0;
  std::uint32_t rate_count_ = 0;
};

}  // namespace imock::server
