// The reference SDK's connection state machine (SPEC.md §1-§5), sans-IO.
//
// Events come in with the time they happen at (`now_ms`, any monotonic
// millisecond clock; the machine never reads one); the machine appends the
// actions they cause to `out`, as plain data: open or close the transport, send
// a packet, start or cancel a timer, open the local database, and the app's
// callbacks (dbOpened, success, error, status listener) in the order the app
// must see them. No threads, no sleeps, no callbacks stored inside: the Asio
// driver, the CLI, the harness and imock-storm all feed the same machine.
//
// Life of one connect() call (the default schedule, timeLimit 0):
//
//   connect(token)         -> open_database{user id}          (no network yet)
//   database_opened(ok)    -> db_opened{0}, status Connecting, open_transport{1},
//                             start_timer{ack}
//   transport_up           -> send CONNECT, start_timer{ack}
//   CONNACK 0              -> cancel_timer{ack}, status Connected, success{user id}
//                             (cancel_timer{time_limit} first), start_timer{heartbeat}
//   heartbeat timer        -> send PINGREQ (no PINGRESP by the next one: 30013)
//   drop (30011, 30013...) -> close_transport, status Suspend, start_timer{reconnect}
//   reconnect timer        -> status Connecting, open_transport{n}; its CONNECT carries
//                             imock-reconnect=1; after CONNACK 0 only status Connected
//   kick (DISCONNECT 31010)-> close_transport, status 6 (cause 31010); stopped
//   disconnect()/logout()  -> send DISCONNECT, close_transport, status SignOut; stopped
//
// Decisions where SPEC.md is silent (each has a test in connection_test.cpp):
//  - Checks of connect(), in order: 33001 not initialised; 33003 empty token or
//    over 256 bytes; 34001 a connect() call is active (connecting, connected,
//    waiting, offline); 33002 the token's payload cannot be read or its user id
//    cannot name a database (token::peek fails, or the id is not 1..64 bytes of
//    letters, digits, + = - _). 33001, 33003 and 34001 give only error{}; 33002
//    gives db_opened{33002} then error{33002}. None of them touches an active call.
//  - The database is opened by the driver: the machine emits open_database and
//    waits for database_opened(); no network action happens before it. A failure
//    gives db_opened{33002}, error{33002}.
//  - success and error are one-shot per connect() call: exactly one of them, or
//    neither when the app disconnects first. After success, terminal codes (kick
//    31010, 31023 on a reconnect, 31020 token expired on a reconnect, 31009 block)
//    reach the app through the status listener only; status_changed carries the
//    code that caused it (`cause`), so the app still sees "status 6 and 31010".
//  - Before success, a terminal code gives status (the code table's leads_to, when
//    it differs from the current status) and then error{code}.
//  - The status listener reports changes only: a status equal to the current one
//    is not reported again. The status before any connect() is Unconnected (11).
//  - A recoverable failure reports the code table's status (Suspend for all but
//    30002 NetworkUnavailable and 31028 ProxyUnavailable); the next attempt
//    reports Connecting again. So the app sees Connecting/Suspend pairs.
//  - Schedule: the first attempt of a connect() call is immediate. Every later
//    attempt waits the next step: schedule_ms[0..n-1], then schedule_tail_ms
//    forever. A successful CONNACK resets the step to 0, so the first reconnect
//    after a drop waits schedule_ms[0] (50 ms).
//  - "Restart the schedule from its first step" (network back, network change,
//    foreground while waiting) = the next attempt is schedule_ms[0] after the
//    event (not immediate: it absorbs flapping and spreads a storm), and the
//    step after it is schedule_ms[1]. A restart never delays an attempt already
//    due sooner.
//  - Network: only network_changed(false) pauses (a 30002 from the transport is
//    an ordinary recoverable failure). While offline there is no attempt and no
//    reconnect timer, however long. connect() while offline opens the database,
//    reports NetworkUnavailable and waits. Offline time counts towards timeLimit.
//    network_changed(true) while connecting or connected changes nothing.
//  - timeLimit > 0: a timer at connect() + timeLimit s; when it fires before the
//    first success: close, status Timeout (14), error{34006}, stopped. An event
//    delivered at the same millisecond before the timer wins. After the first
//    success the limit no longer applies. timeLimit <= 0: no limit.
//  - Attempt timeout (`connect_ack_timeout_ms`): armed at open_transport; if the
//    transport is not up by then: 30010. Re-armed at transport_up; if no CONNACK
//    by then: 31000. Both recoverable.
//  - Heartbeat: PINGREQ every keep-alive interval while connected (the CONNACK's
//    server keep alive wins over options.heartbeat_s; 0 = no heartbeat). A PINGREQ
//    still unanswered when the next interval ends gives 30013. Only PINGRESP
//    answers it.
//  - Server DISCONNECT: the rc-code user property when it names a documented
//    non-zero code, else rc::code_for_mqtt_reason(reason, false) (0x8D keep-alive
//    timeout -> 30011). CONNACK likewise with in_connack = true. A second CONNACK
//    is a protocol error: DISCONNECT 0x82, then 30011.
//  - disconnect() and logout() are the same on the wire (DISCONNECT 0x00, only
//    when connected) and both give SignOut (12) without error; push on/off is
//    outside the connection layer. Without an active call they do nothing.
//  - Calls before init (SPEC.md §1: "any call before init fails with 33001"):
//    connect() answers error{33001}; disconnect(), logout() and
//    set_reconnect_kick() return 33001 and change nothing. network_changed() and
//    foreground() are the OS reporting state, not app calls: taken at any time.
//  - init() may be repeated while no connect() call is active (34001 otherwise);
//    bad options give 33003 and leave the machine as it was.
//  - Navigation (options.navigation not empty; SPEC.md §7, docs/client.md "Navigation"):
//    an attempt with no fresh server list first asks the navigation hosts, in order,
//    within the same attempt: navigate{host 1}; a failure (or no answer within
//    navigation_timeout_ms: 30005) moves on to the next host at once, whatever the
//    code. A list makes the attempt go on to its first server (store_servers first).
//    When every host failed, the attempt fails with the last host's code: status
//    Suspend with that cause, never the error callback, and the schedule goes on.
//  - The list is used while now < expires_at_ms (an expired one is never used, not even
//    while navigation is down: the attempt asks navigation and fails with its code).
//    Attempts take its servers in turn, staying on one that worked; when every server
//    of the list has refused at the TCP level in a row (32061, or 30010: no TCP
//    connection in time), the list is dropped (store_servers{} ) and the next attempt
//    asks navigation again. The time limit counts navigation time too.
//  - The list belongs to the user: connect() with another user's token drops it; the
//    driver hands back the stored one with database_opened().
//
// Driver contract:
//  - Execute actions in order. start_timer replaces the pending timer of the same
//    id; timers must not fire early (an early or stale firing is ignored).
//  - open_transport{attempt, server}: connect to `server`, or when it is empty to one
//    of the driver's URLs (attempt is 1-based within the connect() call, e.g. to
//    rotate through them), then report transport_up, or transport_failed(code)
//    (32061 refused, 30010 not connected, 32054 reset).
//  - navigate{url, token}: POST /navi.json there, then report navigation_answered
//    (client/navigation.hpp reads the HTTP answer into a navigation_result). A
//    close_transport abandons a request in flight; so does the next navigate.
//  - store_servers{list}: keep it in the user's database; pass it to database_opened.
//  - Report an attempt (to listeners, traces) at attempt_begun(action).
//  - After close_transport, report nothing more about that transport. Events that
//    arrive when the machine expects none are ignored.
//  - Report every whole packet with packet_received; a decode error or a peer
//    close as transport_closed (or transport_failed(32054) on reset).
//  - Events run one at a time (the client's one event loop); callbacks are run by the driver.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imock/protocol/codes.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/transport.hpp"

namespace imock::client {

/// How reconnect delays are randomised. none: the schedule exactly.
/// full: uniform in [0, step]. decorrelated: uniform in [schedule_ms[0], 3 x the
/// previous delay], at most schedule_tail_ms (the steps themselves are then unused).
enum class jitter_kind : std::uint8_t { none, full, decorrelated };

/// What init() takes. Immutable once given; many machines may share one.
struct options {
  std::string app_key;                   // CONNECT user name; 1..32 bytes
  std::string device_id;                 // CONNECT client id; 0..64 bytes (empty: server assigns)
  std::string platform = "ios";          // imock-platform user property (empty: not sent)
  std::string sdk = "imock-client/0.1";  // imock-sdk user property (empty: not sent)
  int heartbeat_s = 30;                  // CONNECT keep alive; 0..65535, 0 = no heartbeat
  std::vector<std::int64_t> schedule_ms = {50, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000};
  std::int64_t schedule_tail_ms = 64'000;  // every wait after the schedule; > 0
  jitter_kind jitter = jitter_kind::none;
  std::uint64_t jitter_seed = 0;                 // mixed with init()'s per-machine seed
  bool reconnect_kick = false;                   // initial setReconnectKickEnable value
  std::int64_t connect_ack_timeout_ms = 10'000;  // > 0; see "Attempt timeout"
  /// Send no imock-* user properties in CONNECT (a plain MQTT 5 client, for other
  /// brokers; imock-storm --plain). The server then cannot tell a reconnect.
  bool plain = false;
  /// Say imock-messages=1 in CONNECT (docs/protocol.md §9): the server then delivers
  /// messages, syncs and sends its marker, which the driver hands to client/messaging.
  /// Off unless the driver runs that machine (a client that takes messages must
  /// acknowledge them).
  bool messages = false;
  /// Navigation servers (SPEC.md §7, docs/protocol.md §8), asked in this order before a
  /// connect; empty: no navigation, the driver's own URLs (open_transport::server empty).
  std::vector<std::string> navigation;
  /// How long one navigation request may take before it counts as failed (30005).
  std::int64_t navigation_timeout_ms = 5'000;
  /// The transports this client takes from a navigation answer, in the answer's order;
  /// empty: any.
  std::vector<transport> navigation_transports;
};

/// The connection servers navigation named, and until when (the machine's clock) the
/// machine may use them without asking again. Kept in the user's local database.
struct server_list {
  std::vector<std::string> servers;  // URLs (docs/protocol.md §1), in the order to try
  std::int64_t expires_at_ms = 0;
  [[nodiscard]] bool fresh(std::int64_t now_ms) const noexcept {
    return !servers.empty() && now_ms < expires_at_ms;
  }
  friend bool operator==(const server_list&, const server_list&) = default;
};

/// What a navigation request came to (client/navigation.hpp reads an HTTP answer into
/// one): ok with the servers and their lifetime, or the navigation code (30004-30009).
struct navigation_result {
  rc::code code = rc::code::ok;
  std::vector<std::string> servers;
  std::int64_t lifetime_ms = 0;
  friend bool operator==(const navigation_result&, const navigation_result&) = default;
};

/// The machine's timers: at most one of each is pending.
enum class timer_id : std::uint8_t { reconnect, time_limit, heartbeat, ack };
inline constexpr std::size_t k_timer_count = 4;

/// Where a connect() call is. idle: no call active (never called, or stopped).
enum class phase : std::uint8_t { idle, opening_database, connecting, connected, waiting, offline };

// --- actions -----------------------------------------------------------------

/// Open the transport for attempt number `attempt` (1-based within the connect() call),
/// to `server` (a URL navigation gave), or to one of the driver's own URLs when empty.
struct open_transport {
  std::uint32_t attempt = 0;
  std::string server;
  /// This attempt began with a navigate (which the driver reported as its start).
  bool navigated = false;
  friend bool operator==(const open_transport&, const open_transport&) = default;
};
/// Ask navigation server `url` (POST /navi.json, docs/protocol.md §8) for the connection
/// servers, with `token`; answer with navigation_answered(). Begins attempt `attempt`
/// unless an earlier host of the same attempt was asked (host > 1).
struct navigate {
  std::uint32_t attempt = 0;
  std::uint32_t host = 1;  // 1-based index into options::navigation
  std::string url;
  std::string token;
  friend bool operator==(const navigate&, const navigate&) = default;
};
/// Keep `list` in the user's local database (an empty list: forget the stored one);
/// give it back with database_opened() on the next connect().
struct store_servers {
  server_list list;
  friend bool operator==(const store_servers&, const store_servers&) = default;
};
/// Encode and write `packet` on the open transport.
struct send {
  mqtt::packet packet;
  friend bool operator==(const send&, const send&) = default;
};
/// Close the transport (after writing what was sent before).
struct close_transport {
  friend bool operator==(const close_transport&, const close_transport&) = default;
};
/// Call timer_fired(id) at `at_ms`; replaces a pending timer with the same id.
struct start_timer {
  timer_id id = timer_id::reconnect;
  std::int64_t at_ms = 0;
  friend bool operator==(const start_timer&, const start_timer&) = default;
};
/// Forget the pending timer `id`.
struct cancel_timer {
  timer_id id = timer_id::reconnect;
  friend bool operator==(const cancel_timer&, const cancel_timer&) = default;
};
/// Open the local message database of `user_id`; answer with database_opened().
struct open_database {
  std::string user_id;
  friend bool operator==(const open_database&, const open_database&) = default;
};
/// Callback dbOpened(code): 0 ok, 33002 DATABASE_ERROR.
struct db_opened {
  rc::code code = rc::code::ok;
  friend bool operator==(const db_opened&, const db_opened&) = default;
};
/// Callback success(userId).
struct success {
  std::string user_id;
  friend bool operator==(const success&, const success&) = default;
};
/// Callback error(code): the connect() call is over.
struct error {
  rc::code code = rc::code::ok;
  friend bool operator==(const error&, const error&) = default;
};
/// Status listener: the status is now `value`, because of `cause` (ok when none).
struct status_changed {
  rc::status value = rc::status::unconnected;
  rc::code cause = rc::code::ok;
  friend bool operator==(const status_changed&, const status_changed&) = default;
};

using action = std::variant<open_transport, send, close_transport, start_timer, cancel_timer,
                            open_database, db_opened, success, error, status_changed, navigate,
                            store_servers>;
using actions = std::vector<action>;

/// The attempt number `a` begins, if it begins one: a navigate to the first host, or an
/// open_transport not preceded by navigation. What drivers report as "an attempt".
std::optional<std::uint32_t> attempt_begun(const action& a) noexcept;

/// One line for traces and test failures: "status 13 Suspend (cause 32061)".
std::string to_string(const action& a);
std::ostream& operator<<(std::ostream& os, const action& a);
std::string_view to_string(timer_id id) noexcept;
std::string_view to_string(phase p) noexcept;

/// Android's number for an iOS status (SPEC.md §3); nullopt when Android has none.
inline std::optional<int> android_status(rc::status s) noexcept { return rc::to_android(s); }

/// Checks options as init() does: ok or 33003.
rc::code validate(const options& o) noexcept;

/// One client's connection: a few hundred bytes, no threads, no heap besides the
/// token and user id strings (options are shared).
class connection {
 public:
  connection() = default;

  /// SDK init(appKey, ...). ok; 33003 for bad options; 34001 while a call is active.
  /// `seed` decorrelates the jitter of machines sharing one options object.
  rc::code init(std::shared_ptr<const options> opts, std::uint64_t seed = 0);
  rc::code init(options opts, std::uint64_t seed = 0);

  /// SDK connect(token, timeLimit, dbOpened, success, error). time_limit_s <= 0: no limit.
  void connect(std::string_view token, int time_limit_s, std::int64_t now_ms, actions& out);
  /// The driver's answer to open_database: ok, or why the database did not open; with
  /// the server list stored in that database (store_servers), if any.
  void database_opened(rc::code result, std::int64_t now_ms, actions& out);
  void database_opened(rc::code result, server_list stored, std::int64_t now_ms, actions& out);
  /// The answer to navigate (the current request; others are ignored).
  void navigation_answered(const navigation_result& r, std::int64_t now_ms, actions& out);
  /// SDK disconnect (push stays on): leave the reconnect loop, status SignOut.
  /// Returns 33001 before init (and does nothing), else ok.
  rc::code disconnect(std::int64_t now_ms, actions& out);
  /// SDK logout (no push): as disconnect.
  rc::code logout(std::int64_t now_ms, actions& out);
  /// SDK setReconnectKickEnable; used by the next CONNECT. 33001 before init.
  rc::code set_reconnect_kick(bool on) noexcept {
    if (!initialized()) return rc::code::client_not_init;
    reconnect_kick_ = on;
    return rc::code::ok;
  }

  /// Reachability changed. false pauses everything; true restarts the schedule.
  void network_changed(bool available, std::int64_t now_ms, actions& out);
  /// The app came to the foreground: restarts the schedule while waiting.
  void foreground(std::int64_t now_ms, actions& out);

  /// The transport asked for by open_transport is ready: the machine sends CONNECT.
  void transport_up(std::int64_t now_ms, actions& out);
  /// The transport could not be opened or broke (32061, 30010, 32054, ...).
  void transport_failed(rc::code why, std::int64_t now_ms, actions& out);
  /// The peer closed the transport: 30011.
  void transport_closed(std::int64_t now_ms, actions& out);
  /// A whole packet arrived. CONNACK, DISCONNECT, PINGRESP matter; others are ignored.
  void packet_received(const mqtt::packet& p, std::int64_t now_ms, actions& out);
  /// Timer `id` (from start_timer) is due.
  void timer_fired(timer_id id, std::int64_t now_ms, actions& out);

  /// The status the listener last reported (Unconnected before any).
  [[nodiscard]] rc::status current_status() const noexcept { return status_; }
  [[nodiscard]] phase current_phase() const noexcept { return phase_; }
  [[nodiscard]] bool initialized() const noexcept { return options_ != nullptr; }
  /// Attempts made by the current (or last) connect() call.
  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempt_; }
  /// The user id read from the token of the current (or last) connect() call.
  [[nodiscard]] const std::string& user_id() const noexcept { return user_id_; }
  [[nodiscard]] bool reconnect_kick() const noexcept { return reconnect_kick_; }
  [[nodiscard]] bool network_available() const noexcept { return network_available_; }
  /// The keep alive in force (seconds) while connected.
  [[nodiscard]] std::uint16_t keep_alive_s() const noexcept { return keep_alive_s_; }
  /// The server list in use (navigation only; empty before any).
  [[nodiscard]] const server_list& servers() const noexcept { return servers_; }
  /// When timer `id` is due, nullopt when it is not pending.
  [[nodiscard]] std::optional<std::int64_t> deadline(timer_id id) const noexcept;

 private:
  void start_attempt(std::int64_t now_ms, actions& out);
  void fail(rc::code why, std::int64_t now_ms, actions& out);
  void stop(std::optional<rc::status> st, rc::code why, bool report_error, actions& out);
  void sign_out(actions& out);
  void go_offline(actions& out);
  void end_transport(actions& out);
  void schedule_next(std::int64_t now_ms, actions& out);
  void restart_schedule(std::int64_t now_ms, actions& out);
  void on_connack(const mqtt::connack& ack, std::int64_t now_ms, actions& out);
  void ask_navigation(std::int64_t now_ms, actions& out);
  void navigation_failed(rc::code why, std::int64_t now_ms, actions& out);
  void open_server(bool navigated, std::int64_t now_ms, actions& out);
  void note_refusal(rc::code why, actions& out);
  [[nodiscard]] std::int64_t next_delay_ms();
  [[nodiscard]] mqtt::connect make_connect() const;
  void set_status(rc::status st, rc::code cause, actions& out);
  void arm(timer_id id, std::int64_t at_ms, actions& out);
  void disarm(timer_id id, actions& out);
  [[nodiscard]] bool armed(timer_id id) const noexcept {
    return deadlines_[static_cast<std::size_t>(id)] != k_unarmed;
  }

  static constexpr std::int64_t k_unarmed = INT64_MIN;

  std::shared_ptr<const options> options_;
  std::string token_;
  std::string user_id_;
  std::array<std::int64_t, k_timer_count> deadlines_{k_unarmed, k_unarmed, k_unarmed, k_unarmed};
  std::int64_t last_delay_ms_ = 0;  // for decorrelated jitter
  std::uint64_t rng_ = 0;
  std::uint32_t attempt_ = 0;
  std::uint32_t step_ = 0;  // index of the next schedule step
  server_list servers_;                // navigation's answer in use
  std::uint32_t nav_host_ = 0;         // 0-based host being asked (while navigating_)
  std::uint32_t server_index_ = 0;     // servers_.servers[server_index_ % size] is next
  std::uint32_t refused_in_row_ = 0;   // navigated servers refused at the TCP level
  rc::status status_ = rc::status::unconnected;
  std::uint16_t keep_alive_s_ = 0;
  phase phase_ = phase::idle;
  bool network_available_ = true;
  bool reconnect_kick_ = false;
  bool succeeded_ = false;         // this connect() call has had a CONNACK 0
  bool transport_open_ = false;    // open_transport issued, not failed, not closed
  bool transport_up_ = false;      // ... and transport_up received (CONNECT sent)
  bool ping_outstanding_ = false;  // a PINGREQ awaits its PINGRESP
  bool navigating_ = false;        // the attempt waits for navigation_answered
};

}  // namespace imock::client
