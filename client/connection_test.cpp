#include "imock/client/connection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "imock/protocol/token.hpp"

namespace imock::client {

// GoogleTest prints each alternative of `action` with this (found by ADL).
template <class T>
requires(std::is_constructible_v<action, const T&> &&
         !std::is_same_v<T, action>) void PrintTo(const T& x, std::ostream* os) {
  *os << to_string(action{x});
}

namespace {

constexpr std::int64_t k_t0 = 1'700'000'000'000;  // the fake clock's start (ms)
constexpr std::int64_t k_s = 1000;
constexpr std::int64_t k_min = 60 * k_s;
constexpr std::string_view k_app_key = "demo-key";
constexpr std::string_view k_secret = "demo-secret";

std::string make_token(std::string_view user_id) {
  return *token::issue(k_app_key, user_id, k_secret, k_t0);
}

options default_options() {
  options o;
  o.app_key = std::string(k_app_key);
  o.device_id = "device-1";
  return o;
}

// CONNACK as imock-server sends it: the table's reason code plus rc-code.
mqtt::connack refusal(rc::code c) {
  mqtt::connack ack{.reason = rc::info(c).connack_reason.value_or(0x80)};
  ack.props.user_properties.emplace_back("rc-code", std::to_string(static_cast<int>(c)));
  return ack;
}

mqtt::connack accepted() {
  mqtt::connack ack;
  ack.props.user_properties.emplace_back("user-id", "alice");
  return ack;
}

mqtt::disconnect server_disconnect(std::uint8_t reason, std::optional<rc::code> c = {}) {
  mqtt::disconnect d{.reason = reason};
  if (c) d.props.user_properties.emplace_back("rc-code", std::to_string(static_cast<int>(*c)));
  return d;
}

const std::string* property(const mqtt::connect& c, std::string_view key) {
  return c.props.find_user_property(key);
}

// What the fake server does with each attempt.
enum class server_mode {
  manual,     // nothing: the test answers by hand
  down,       // open_transport -> transport_failed(32061)
  accepting,  // transport up, CONNECT -> CONNACK 0
  refusing,   // transport up, CONNECT -> `refusal_`
  silent,     // transport up, CONNECT -> no answer
};

struct logged {
  std::int64_t at;
  action what;
};

// A fake world around one machine: a fake clock, a fake driver that keeps the
// timers the machine asks for, a fake server, and the log of every action.
class world {
 public:
  explicit world(const options& o = default_options(), std::uint64_t seed = 0) {
    EXPECT_EQ(conn.init(o, seed), rc::code::ok);
  }

  connection conn;
  std::int64_t now = k_t0;
  server_mode server = server_mode::manual;
  mqtt::connack refusal_ack;
  bool auto_database = true;
  bool answer_pings = true;
  std::vector<logged> log;
  std::map<timer_id, std::int64_t> timers;  // as a driver would keep them

  // Runs one event at `now`, then the fake world's reactions to its actions.
  template <class F>
  void run(F&& event) {
    actions out;
    event(out);
    for (const auto& a : out) {
      log.push_back({now, a});
      if (const auto* t = std::get_if<start_timer>(&a)) {
        timers[t->id] = t->at_ms;
      } else if (const auto* c = std::get_if<cancel_timer>(&a)) {
        timers.erase(c->id);
      }
    }
    for (const auto& a : out) react(a);
  }

  void connect(std::string_view tok, int time_limit_s = 0) {
    run([&](actions& out) { conn.connect(tok, time_limit_s, now, out); });
  }
  void connect_alice(int time_limit_s = 0) { connect(make_token("alice"), time_limit_s); }
  void up() {
    run([&](actions& out) { conn.transport_up(now, out); });
  }
  void receive(const mqtt::packet& p) {
    run([&](actions& out) { conn.packet_received(p, now, out); });
  }
  void transport_failed(rc::code c) {
    run([&](actions& out) { conn.transport_failed(c, now, out); });
  }
  void drop() {
    run([&](actions& out) { conn.transport_closed(now, out); });
  }
  void network(bool available) {
    run([&](actions& out) { conn.network_changed(available, now, out); });
  }
  void foreground() {
    run([&](actions& out) { conn.foreground(now, out); });
  }
  void disconnect() {
    run([&](actions& out) { conn.disconnect(now, out); });
  }
  void logout() {
    run([&](actions& out) { conn.logout(now, out); });
  }

  // Moves the fake clock to `t`, firing every timer due on the way, in order.
  void advance_to(std::int64_t t) {
    for (;;) {
      const auto next = std::min_element(timers.begin(), timers.end(),
                                         [](auto& a, auto& b) { return a.second < b.second; });
      if (next == timers.end() || next->second > t) break;
      const timer_id id = next->first;
      now = std::max(now, next->second);
      timers.erase(next);
      run([&](actions& out) { conn.timer_fired(id, now, out); });
    }
    now = std::max(now, t);
  }
  void advance(std::int64_t ms) { advance_to(now + ms); }

  // --- reading the log ---
  std::size_t mark() const { return log.size(); }

  template <class T>
  std::vector<T> all_of(std::size_t from = 0) const {
    std::vector<T> v;
    for (std::size_t i = from; i < log.size(); ++i) {
      if (const auto* x = std::get_if<T>(&log[i].what)) v.push_back(*x);
    }
    return v;
  }
  // When actions of type T happened, relative to k_t0.
  template <class T>
  std::vector<std::int64_t> times_of(std::size_t from = 0) const {
    std::vector<std::int64_t> v;
    for (std::size_t i = from; i < log.size(); ++i) {
      if (std::holds_alternative<T>(log[i].what)) v.push_back(log[i].at - k_t0);
    }
    return v;
  }
  std::vector<action> since(std::size_t from) const {
    std::vector<action> v;
    for (std::size_t i = from; i < log.size(); ++i) v.push_back(log[i].what);
    return v;
  }
  // What the app sees: dbOpened, success, error and the status listener.
  std::vector<action> callbacks(std::size_t from = 0) const {
    std::vector<action> v;
    for (std::size_t i = from; i < log.size(); ++i) {
      const auto& a = log[i].what;
      if (std::holds_alternative<db_opened>(a) || std::holds_alternative<success>(a) ||
          std::holds_alternative<error>(a) || std::holds_alternative<status_changed>(a)) {
        v.push_back(a);
      }
    }
    return v;
  }
  std::vector<mqtt::connect> connects(std::size_t from = 0) const {
    std::vector<mqtt::connect> v;
    for (const auto& s : all_of<send>(from)) {
      if (const auto* c = std::get_if<mqtt::connect>(&s.packet)) v.push_back(*c);
    }
    return v;
  }
  std::vector<std::int64_t> pingreq_times() const {
    std::vector<std::int64_t> v;
    for (const auto& e : log) {
      const auto* s = std::get_if<send>(&e.what);
      if (s != nullptr && std::holds_alternative<mqtt::pingreq>(s->packet)) {
        v.push_back(e.at - k_t0);
      }
    }
    return v;
  }
  // Waits between a reconnect being scheduled and its due time.
  std::vector<std::int64_t> reconnect_waits(std::size_t from = 0) const {
    std::vector<std::int64_t> v;
    for (std::size_t i = from; i < log.size(); ++i) {
      const auto* t = std::get_if<start_timer>(&log[i].what);
      if (t != nullptr && t->id == timer_id::reconnect) v.push_back(t->at_ms - log[i].at);
    }
    return v;
  }
  std::size_t opens() const { return all_of<open_transport>().size(); }

 private:
  void react(const action& a) {
    if (std::holds_alternative<open_database>(a)) {
      if (auto_database) run([&](actions& out) { conn.database_opened(rc::code::ok, now, out); });
    } else if (std::holds_alternative<open_transport>(a)) {
      switch (server) {
        case server_mode::manual:
          break;
        case server_mode::down:
          transport_failed(rc::code::connection_refused);
          break;
        case server_mode::accepting:
        case server_mode::refusing:
        case server_mode::silent:
          up();
          break;
      }
    } else if (const auto* s = std::get_if<send>(&a)) {
      if (std::holds_alternative<mqtt::connect>(s->packet)) {
        if (server == server_mode::accepting) receive(accepted());
        if (server == server_mode::refusing) receive(refusal_ack);
      } else if (std::holds_alternative<mqtt::pingreq>(s->packet) && answer_pings) {
        receive(mqtt::pingresp{});
      }
    }
  }
};

class ConnectionFixture : public ::testing::Test, public world {};

using ConnectionApi = ConnectionFixture;
using ConnectionSchedule = ConnectionFixture;
using ConnectionNetwork = ConnectionFixture;
using ConnectionTimeLimit = ConnectionFixture;
using ConnectionCodes = ConnectionFixture;
using ConnectionKick = ConnectionFixture;
using ConnectionHeartbeat = ConnectionFixture;
using ConnectionAckTimeout = ConnectionFixture;
using ConnectionSignOut = ConnectionFixture;

status_changed st(rc::status s, rc::code cause = rc::code::ok) { return {s, cause}; }

// The default schedule as seen by a client whose every attempt is refused at
// once: the attempt times relative to connect().
const std::vector<std::int64_t> k_attempt_times = {
    0, 50, 300, 800, 1'800, 3'800, 7'800, 15'800, 31'800, 63'800, 127'800, 191'800, 255'800};

// =====================================================================================
// SPEC.md §1: the API
// =====================================================================================

TEST_F(ConnectionApi, ConnectBeforeInitGives33001AndNoStatus) {
  connection fresh;
  actions out;
  fresh.connect(make_token("alice"), 0, k_t0, out);
  EXPECT_EQ(out, actions{error{rc::code::client_not_init}});
  EXPECT_EQ(fresh.current_status(), rc::status::unconnected);
  EXPECT_EQ(fresh.current_phase(), phase::idle);
}

TEST_F(ConnectionApi, CallsBeforeInitAnswer33001AndDoNothing) {
  connection fresh;
  actions out;
  EXPECT_EQ(fresh.disconnect(k_t0, out), rc::code::client_not_init);
  EXPECT_EQ(fresh.logout(k_t0, out), rc::code::client_not_init);
  EXPECT_EQ(fresh.set_reconnect_kick(true), rc::code::client_not_init);
  EXPECT_FALSE(fresh.reconnect_kick());
  fresh.foreground(k_t0, out);
  fresh.transport_up(k_t0, out);
  fresh.timer_fired(timer_id::reconnect, k_t0, out);
  EXPECT_TRUE(out.empty());
}

TEST_F(ConnectionApi, InitRefusesBadOptionsWith33003AndStaysUninitialised) {
  std::vector<options> bad(7, default_options());
  bad[0].app_key = "";
  bad[1].app_key = std::string(33, 'k');
  bad[2].heartbeat_s = -1;
  bad[3].heartbeat_s = 65'536;
  bad[4].schedule_ms = {50, -1};
  bad[5].schedule_tail_ms = 0;
  bad[6].connect_ack_timeout_ms = 0;
  for (const auto& o : bad) {
    connection c;
    EXPECT_EQ(c.init(o), rc::code::invalid_parameter);
    EXPECT_FALSE(c.initialized());
    actions out;
    c.connect(make_token("alice"), 0, k_t0, out);
    EXPECT_EQ(out, actions{error{rc::code::client_not_init}});
  }
  connection c;
  EXPECT_EQ(c.init(std::shared_ptr<const options>()), rc::code::invalid_parameter);
}

TEST_F(ConnectionApi, InitWhileACallIsActiveGives34001) {
  connect_alice();
  EXPECT_EQ(conn.init(default_options()), rc::code::connection_exist);
  disconnect();
  EXPECT_EQ(conn.init(default_options()), rc::code::ok);
}

TEST_F(ConnectionApi, EmptyTokenGives33003) {
  connect("");
  EXPECT_EQ(since(0), actions{error{rc::code::invalid_parameter}});
  EXPECT_EQ(conn.current_phase(), phase::idle);
}

TEST_F(ConnectionApi, TokenOver256BytesGives33003) {
  connect(std::string(257, 'a'));
  EXPECT_EQ(since(0), actions{error{rc::code::invalid_parameter}});
  // 256 bytes is a legal size: it fails later, because no user id can be read.
  const auto m = mark();
  connect(std::string(256, 'a'));
  EXPECT_EQ(since(m),
            (actions{db_opened{rc::code::database_error}, error{rc::code::database_error}}));
}

TEST_F(ConnectionApi, UnreadableTokenGives33002WithoutTouchingTheNetwork) {
  connect("not-a-token");
  // The status does not change: it was Unconnected, which is what 33002 leads to.
  EXPECT_EQ(since(0),
            (actions{db_opened{rc::code::database_error}, error{rc::code::database_error}}));
  EXPECT_EQ(opens(), 0U);
  EXPECT_EQ(conn.current_phase(), phase::idle);
}

// base64url without padding, written here so the test can forge payloads.
std::string b64url(const std::vector<std::uint8_t>& in) {
  static constexpr std::string_view k_abc =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const auto b : in) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k_abc[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += k_abc[(acc << (6 - bits)) & 0x3f];
  return out;
}

TEST_F(ConnectionApi, TokenWhoseUserIdCannotNameADatabaseGives33002) {
  std::vector<std::uint8_t> payload = {1};                         // version
  payload.insert(payload.end(), 24, 0);                            // issued, expires, nonce
  payload.push_back(static_cast<std::uint8_t>(k_app_key.size()));  // app key length
  payload.insert(payload.end(), k_app_key.begin(), k_app_key.end());
  const std::string_view bad_user = "../etc";  // '/' and '.' are not allowed
  payload.push_back(static_cast<std::uint8_t>(bad_user.size()));
  payload.insert(payload.end(), bad_user.begin(), bad_user.end());
  const std::string forged = b64url(payload) + "." + b64url(std::vector<std::uint8_t>(32, 0));
  connect(forged);
  EXPECT_EQ(since(0),
            (actions{db_opened{rc::code::database_error}, error{rc::code::database_error}}));
  EXPECT_TRUE(all_of<open_database>().empty());
}

TEST_F(ConnectionApi, DatabaseOpenFailureGives33002AndNoNetwork) {
  auto_database = false;
  connect_alice();
  EXPECT_EQ(since(0), actions{open_database{"alice"}});
  const auto m = mark();
  run([&](actions& out) { conn.database_opened(rc::code::database_error, now, out); });
  EXPECT_EQ(since(m),
            (actions{db_opened{rc::code::database_error}, error{rc::code::database_error}}));
  EXPECT_EQ(opens(), 0U);
}

TEST_F(ConnectionApi, DatabaseOpensBeforeAnyNetworkAction) {
  auto_database = false;
  connect_alice();
  EXPECT_EQ(since(0), actions{open_database{"alice"}});  // nothing else until it is open
  const auto m = mark();
  run([&](actions& out) { conn.database_opened(rc::code::ok, now, out); });
  EXPECT_EQ(since(m), (actions{db_opened{rc::code::ok}, st(rc::status::connecting),
                               open_transport{1}, start_timer{timer_id::ack, k_t0 + 10 * k_s}}));
}

TEST_F(ConnectionApi, CallbackOrderIsDbOpenedConnectingConnectedSuccess) {
  server = server_mode::accepting;
  connect_alice();
  EXPECT_EQ(callbacks(), (actions{db_opened{rc::code::ok}, st(rc::status::connecting),
                                  st(rc::status::connected), success{"alice"}}));
  EXPECT_EQ(conn.current_status(), rc::status::connected);
  EXPECT_EQ(conn.user_id(), "alice");
}

TEST_F(ConnectionApi, FirstAttemptIsImmediateAndFullActionSequence) {
  server = server_mode::manual;
  connect_alice();
  up();
  receive(accepted());
  EXPECT_EQ(since(0),
            (actions{open_database{"alice"}, db_opened{rc::code::ok}, st(rc::status::connecting),
                     open_transport{1}, start_timer{timer_id::ack, k_t0 + 10 * k_s},
                     send{connects().at(0)}, start_timer{timer_id::ack, k_t0 + 10 * k_s},
                     cancel_timer{timer_id::ack}, st(rc::status::connected), success{"alice"},
                     start_timer{timer_id::heartbeat, k_t0 + 30 * k_s}}));
}

TEST_F(ConnectionApi, ConnectCarriesDeviceAppKeyTokenKeepAliveAndProperties) {
  server = server_mode::manual;
  const std::string tok = make_token("alice");
  connect(tok);
  up();
  mqtt::connect want{.client_id = "device-1",
                     .clean_start = true,
                     .keep_alive = 30,
                     .username = std::string(k_app_key),
                     .password = tok};
  want.props.user_properties = {
      {"imock-reconnect-kick", "0"}, {"imock-platform", "ios"}, {"imock-sdk", "imock-client/0.1"}};
  ASSERT_EQ(connects().size(), 1U);
  EXPECT_EQ(connects()[0], want);
  EXPECT_EQ(property(connects()[0], "imock-reconnect"), nullptr);  // a fresh login
}

TEST(ConnectionMessages, AClientThatTakesMessagesSaysSoInConnectAndOthersDoNot) {
  options o = default_options();
  o.messages = true;
  world with(o);
  with.connect_alice();
  with.up();
  ASSERT_EQ(with.connects().size(), 1U);
  ASSERT_NE(property(with.connects()[0], "imock-messages"), nullptr);
  EXPECT_EQ(*property(with.connects()[0], "imock-messages"), "1");
  world without;
  without.connect_alice();
  without.up();
  ASSERT_EQ(without.connects().size(), 1U);
  EXPECT_EQ(property(without.connects()[0], "imock-messages"), nullptr);
}

TEST_F(ConnectionApi, SecondConnectWhileConnectingGives34001AndTheFirstContinues) {
  connect_alice();
  const auto m = mark();
  connect(make_token("bob"));
  EXPECT_EQ(since(m), actions{error{rc::code::connection_exist}});
  up();
  receive(accepted());
  EXPECT_EQ(all_of<success>(), std::vector<success>{success{"alice"}});
  EXPECT_EQ(conn.current_status(), rc::status::connected);
  EXPECT_EQ(connects().size(), 1U);
}

TEST_F(ConnectionApi, ConnectWhileConnectedWaitingOrOfflineGives34001) {
  server = server_mode::accepting;
  connect_alice();
  auto m = mark();
  connect_alice();
  EXPECT_EQ(since(m), actions{error{rc::code::connection_exist}});
  server = server_mode::down;
  drop();
  ASSERT_EQ(conn.current_phase(), phase::waiting);
  m = mark();
  connect_alice();
  EXPECT_EQ(since(m), actions{error{rc::code::connection_exist}});
  network(false);
  m = mark();
  connect_alice();
  EXPECT_EQ(since(m), actions{error{rc::code::connection_exist}});
  EXPECT_EQ(conn.current_status(), rc::status::network_unavailable);
}

TEST_F(ConnectionApi, AndroidNumberingIsAMapping) {
  EXPECT_EQ(android_status(rc::status::network_unavailable), -1);
  EXPECT_EQ(android_status(rc::status::connected), 0);
  EXPECT_EQ(android_status(rc::status::connecting), 1);
  EXPECT_EQ(android_status(rc::status::unconnected), 2);
  EXPECT_EQ(android_status(rc::status::kicked_offline_by_other_client), 3);
  EXPECT_EQ(android_status(rc::status::token_incorrect), 4);
  EXPECT_EQ(android_status(rc::status::disconn_exception), 6);
  EXPECT_EQ(android_status(rc::status::sign_out), 12);
  EXPECT_EQ(android_status(rc::status::suspend), 13);
  EXPECT_EQ(android_status(rc::status::timeout), 14);
}

TEST_F(ConnectionApi, StatusStartsUnconnected) {
  EXPECT_EQ(connection().current_status(), rc::status::unconnected);
}

TEST_F(ConnectionApi, MachineIsSmall) {
  std::cout << "sizeof(imock::client::connection) = " << sizeof(connection) << " bytes\n";
  RecordProperty("sizeof_connection", static_cast<int>(sizeof(connection)));
  EXPECT_LE(sizeof(connection), 256U);
}

TEST_F(ConnectionApi, ActionsPrintReadably) {
  EXPECT_EQ(to_string(action{st(rc::status::suspend, rc::code::connection_refused)}),
            "status 13 Suspend (cause 32061 RC_CONNECTION_REFUSED)");
  EXPECT_EQ(to_string(action{start_timer{timer_id::heartbeat, 5}}), "start_timer heartbeat at 5");
  EXPECT_EQ(to_string(action{error{rc::code::connect_timeout}}), "error 34006 RC_CONNECT_TIMEOUT");
}

// =====================================================================================
// SPEC.md §4: the reconnect schedule
// =====================================================================================

TEST_F(ConnectionSchedule, ReconnectTimesFollowTheScheduleThenEvery64s) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 256 * k_s);
  EXPECT_EQ(times_of<open_transport>(), k_attempt_times);
  EXPECT_EQ(reconnect_waits(),
            (std::vector<std::int64_t>{50, 250, 500, 1'000, 2'000, 4'000, 8'000, 16'000, 32'000,
                                       64'000, 64'000, 64'000, 64'000}));
  // Attempts are numbered within the call.
  EXPECT_EQ(all_of<open_transport>().back().attempt, 13U);
  // Recoverable: the app sees status changes only.
  EXPECT_TRUE(all_of<error>().empty());
  EXPECT_EQ(all_of<status_changed>().at(1), st(rc::status::suspend, rc::code::connection_refused));
}

TEST_F(ConnectionSchedule, EachFailureShowsSuspendThenConnecting) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 300);
  EXPECT_EQ(
      callbacks(),
      (actions{db_opened{rc::code::ok}, st(rc::status::connecting),
               st(rc::status::suspend, rc::code::connection_refused), st(rc::status::connecting),
               st(rc::status::suspend, rc::code::connection_refused), st(rc::status::connecting),
               st(rc::status::suspend, rc::code::connection_refused)}));
}

TEST_F(ConnectionSchedule, ScheduleRestartsFromTheFirstStepAfterASuccess) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 1'000);  // attempts at 0, 50, 300, 800 failed; next at 1800
  server = server_mode::accepting;
  advance_to(k_t0 + 1'800);
  ASSERT_EQ(conn.current_status(), rc::status::connected);
  advance_to(k_t0 + 5'000);
  server = server_mode::down;
  const auto m = mark();
  drop();
  advance_to(k_t0 + 6'000);
  EXPECT_EQ(times_of<open_transport>(m), (std::vector<std::int64_t>{5'050, 5'300, 5'800}));
}

TEST_F(ConnectionSchedule, DropAfterSuccessReconnectsAfter50msAsAReconnect) {
  server = server_mode::accepting;
  connect_alice();
  advance(10 * k_s);
  const auto m = mark();
  drop();
  EXPECT_EQ(since(m), (actions{cancel_timer{timer_id::heartbeat},
                               st(rc::status::suspend, rc::code::socket_disconnected),
                               start_timer{timer_id::reconnect, k_t0 + 10 * k_s + 50}}));
  advance(50);
  EXPECT_EQ(times_of<open_transport>(m), std::vector<std::int64_t>{10'050});
  ASSERT_EQ(connects(m).size(), 1U);
  ASSERT_NE(property(connects(m)[0], "imock-reconnect"), nullptr);
  EXPECT_EQ(*property(connects(m)[0], "imock-reconnect"), "1");
  // After a reconnect only the status changes: success belongs to the first one.
  EXPECT_EQ(callbacks(m), (actions{st(rc::status::suspend, rc::code::socket_disconnected),
                                   st(rc::status::connecting), st(rc::status::connected)}));
  EXPECT_EQ(all_of<success>().size(), 1U);
}

TEST_F(ConnectionSchedule, RetriesBeforeTheFirstSuccessAreNotMarkedAsReconnects) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 100);
  server = server_mode::silent;
  advance_to(k_t0 + 300);
  ASSERT_EQ(connects().size(), 1U);
  EXPECT_EQ(property(connects()[0], "imock-reconnect"), nullptr);
}

TEST_F(ConnectionSchedule, ForegroundWhileWaitingRestartsTheSchedule) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 70 * k_s);  // last attempt at 63.8 s; the next is due at 127.8 s
  const auto m = mark();
  foreground();
  advance_to(k_t0 + 71 * k_s);
  EXPECT_EQ(times_of<open_transport>(m), (std::vector<std::int64_t>{70'050, 70'300, 70'800}));
}

TEST_F(ConnectionSchedule, ForegroundWhileConnectedOrConnectingDoesNothing) {
  connect_alice();  // manual server: the attempt hangs
  auto m = mark();
  foreground();
  EXPECT_TRUE(since(m).empty());
  up();
  receive(accepted());
  m = mark();
  foreground();
  EXPECT_TRUE(since(m).empty());
}

TEST_F(ConnectionSchedule, RestartNeverDelaysAnAttemptDueSooner) {
  server = server_mode::down;
  connect_alice();  // failed at once; the next attempt is due at 50 ms
  advance_to(k_t0 + 20);
  const auto m = mark();
  foreground();  // 20 + 50 = 70 > 50: keep 50
  EXPECT_TRUE(since(m).empty());
  advance_to(k_t0 + 100);
  EXPECT_EQ(times_of<open_transport>(m), std::vector<std::int64_t>{50});
}

TEST_F(ConnectionSchedule, CustomScheduleAndTail) {
  options o = default_options();
  o.schedule_ms = {0, 5'000};
  o.schedule_tail_ms = 5'000;  // e.g. Web: a fixed 5 s
  world w(o);
  w.server = server_mode::down;
  w.connect_alice();
  w.advance_to(k_t0 + 20 * k_s);
  EXPECT_EQ(w.times_of<open_transport>(),
            (std::vector<std::int64_t>{0, 0, 5'000, 10'000, 15'000, 20'000}));
}

std::vector<std::int64_t> waits_with(jitter_kind j, std::uint64_t seed) {
  options o = default_options();
  o.jitter = j;
  o.jitter_seed = 7;
  world w(o, seed);
  w.server = server_mode::down;
  w.connect_alice();
  w.advance_to(k_t0 + 20 * k_min);
  return w.reconnect_waits();
}

TEST_F(ConnectionSchedule, FullJitterStaysWithinEachStep) {
  const auto waits = waits_with(jitter_kind::full, 1);
  const std::vector<std::int64_t> steps = {50,    250,   500,    1'000, 2'000,
                                           4'000, 8'000, 16'000, 32'000};
  ASSERT_GT(waits.size(), steps.size() + 3);
  for (std::size_t i = 0; i < waits.size(); ++i) {
    EXPECT_GE(waits[i], 0);
    EXPECT_LE(waits[i], i < steps.size() ? steps[i] : 64'000) << "wait " << i;
  }
}

TEST_F(ConnectionSchedule, DecorrelatedJitterStaysBetweenFirstStepAndTail) {
  const auto waits = waits_with(jitter_kind::decorrelated, 1);
  ASSERT_GT(waits.size(), 10U);
  EXPECT_EQ(waits[0], 50);  // [50, 50]: no previous delay yet
  for (const auto w : waits) {
    EXPECT_GE(w, 50);
    EXPECT_LE(w, 64'000);
  }
}

TEST_F(ConnectionSchedule, JitterIsReproducibleAndSeedsDecorrelateMachines) {
  EXPECT_EQ(waits_with(jitter_kind::full, 1), waits_with(jitter_kind::full, 1));
  EXPECT_NE(waits_with(jitter_kind::full, 1), waits_with(jitter_kind::full, 2));
  EXPECT_NE(waits_with(jitter_kind::decorrelated, 1), waits_with(jitter_kind::decorrelated, 2));
}

// =====================================================================================
// SPEC.md §4: network reachability
// =====================================================================================

TEST_F(ConnectionNetwork, NetworkLossWhileConnectedClosesAndReportsNetworkUnavailable) {
  server = server_mode::accepting;
  connect_alice();
  advance(5 * k_s);
  const auto m = mark();
  network(false);
  EXPECT_EQ(since(m),
            (actions{close_transport{}, cancel_timer{timer_id::heartbeat},
                     st(rc::status::network_unavailable, rc::code::network_unavailable)}));
  EXPECT_EQ(conn.current_phase(), phase::offline);
}

TEST_F(ConnectionNetwork, NoAttemptWhileOfflineHoweverLong) {
  server = server_mode::accepting;
  connect_alice();
  network(false);
  const auto before = opens();
  advance(60 * k_min);
  EXPECT_EQ(opens(), before);
  EXPECT_TRUE(timers.empty());
  foreground();  // the foreground does not override reachability
  advance(k_min);
  EXPECT_EQ(opens(), before);
}

TEST_F(ConnectionNetwork, NetworkBackRestartsTheScheduleFromTheFirstStep) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 70 * k_s);  // deep in the schedule: 64 s waits
  network(false);
  EXPECT_EQ(timers.count(timer_id::reconnect), 0U);  // paused
  advance_to(k_t0 + 10 * k_min);
  const auto m = mark();
  network(true);
  advance_to(k_t0 + 10 * k_min + 1'000);
  EXPECT_EQ(times_of<open_transport>(m),
            (std::vector<std::int64_t>{10 * k_min + 50, 10 * k_min + 300, 10 * k_min + 800}));
}

TEST_F(ConnectionNetwork, NetworkBackAfterADropReconnectsAsAReconnect) {
  server = server_mode::accepting;
  connect_alice();
  network(false);
  advance(k_min);
  const auto m = mark();
  network(true);
  EXPECT_TRUE(callbacks(m).empty());  // nothing until the attempt starts
  advance(50);
  EXPECT_EQ(callbacks(m), (actions{st(rc::status::connecting), st(rc::status::connected)}));
  ASSERT_EQ(connects(m).size(), 1U);
  EXPECT_NE(property(connects(m)[0], "imock-reconnect"), nullptr);
}

TEST_F(ConnectionNetwork, NetworkChangeWhileWaitingRestartsTheSchedule) {
  server = server_mode::down;
  connect_alice();
  advance_to(k_t0 + 70 * k_s);
  const auto m = mark();
  network(true);  // e.g. Wi-Fi to cellular: still available, but changed
  advance_to(k_t0 + 71 * k_s);
  EXPECT_EQ(times_of<open_transport>(m), (std::vector<std::int64_t>{70'050, 70'300, 70'800}));
}

TEST_F(ConnectionNetwork, NetworkLossDuringAnAttemptClosesItsTransport) {
  connect_alice();  // manual server: the transport is being opened
  up();
  const auto m = mark();
  network(false);
  EXPECT_EQ(since(m),
            (actions{close_transport{}, cancel_timer{timer_id::ack},
                     st(rc::status::network_unavailable, rc::code::network_unavailable)}));
  // The closed transport's late news is ignored.
  const auto m2 = mark();
  receive(accepted());
  drop();
  EXPECT_TRUE(since(m2).empty());
}

TEST_F(ConnectionNetwork, ConnectWhileOfflineOpensTheDatabaseAndWaitsForTheNetwork) {
  server = server_mode::accepting;
  network(false);
  EXPECT_TRUE(log.empty());  // no call yet: only remembered
  connect_alice();
  EXPECT_EQ(callbacks(), (actions{db_opened{rc::code::ok}, st(rc::status::network_unavailable,
                                                              rc::code::network_unavailable)}));
  advance(10 * k_min);
  EXPECT_EQ(opens(), 0U);
  network(true);
  advance(50);
  EXPECT_EQ(times_of<open_transport>(), std::vector<std::int64_t>{10 * k_min + 50});
  EXPECT_EQ(all_of<success>().size(), 1U);
  ASSERT_EQ(connects().size(), 1U);
  EXPECT_EQ(property(connects()[0], "imock-reconnect"), nullptr);  // still the first login
}

TEST_F(ConnectionNetwork, NetworkBackWhileConnectedDoesNothing) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  network(true);
  EXPECT_TRUE(since(m).empty());
}

// =====================================================================================
// SPEC.md §1: timeLimit
// =====================================================================================

TEST_F(ConnectionTimeLimit, FiresExactlyAtTheLimitThenNothingMore) {
  server = server_mode::down;
  connect_alice(5);
  EXPECT_EQ(all_of<start_timer>().at(0), (start_timer{timer_id::time_limit, k_t0 + 5 * k_s}));
  advance_to(k_t0 + 5 * k_s - 1);
  EXPECT_TRUE(all_of<error>().empty());
  const auto m = mark();
  advance_to(k_t0 + 5 * k_s);
  EXPECT_EQ(since(m), (actions{cancel_timer{timer_id::reconnect},
                               st(rc::status::timeout, rc::code::connect_timeout),
                               error{rc::code::connect_timeout}}));
  const auto before = opens();
  advance(10 * k_min);
  EXPECT_EQ(opens(), before);
  EXPECT_EQ(conn.current_status(), rc::status::timeout);
}

TEST_F(ConnectionTimeLimit, FiringDuringAnAttemptClosesTheTransport) {
  connect_alice(3);  // manual server: the attempt never completes... until it is up
  advance(2 * k_s);
  up();
  const auto m = mark();
  advance_to(k_t0 + 3 * k_s);
  EXPECT_EQ(since(m), (actions{close_transport{}, cancel_timer{timer_id::ack},
                               st(rc::status::timeout, rc::code::connect_timeout),
                               error{rc::code::connect_timeout}}));
  const auto m2 = mark();
  receive(accepted());  // too late: the transport is closed
  EXPECT_TRUE(since(m2).empty());
}

TEST_F(ConnectionTimeLimit, SuccessOneMillisecondBeforeTheLimitWins) {
  connect_alice(5);
  advance_to(k_t0 + 5 * k_s - 1);
  up();
  receive(accepted());
  EXPECT_EQ(all_of<cancel_timer>().back(), cancel_timer{timer_id::time_limit});
  advance(10 * k_min);
  EXPECT_EQ(all_of<success>().size(), 1U);
  EXPECT_TRUE(all_of<error>().empty());
  // A late firing of the cancelled timer changes nothing either.
  const auto m = mark();
  run([&](actions& out) { conn.timer_fired(timer_id::time_limit, now, out); });
  EXPECT_TRUE(since(m).empty());
}

TEST_F(ConnectionTimeLimit, EarlyTimerFiringIsIgnored) {
  server = server_mode::down;
  connect_alice(5);
  const auto m = mark();
  run([&](actions& out) { conn.timer_fired(timer_id::time_limit, k_t0 + 4'999, out); });
  EXPECT_TRUE(since(m).empty());
}

class ConnectionNoTimeLimit : public ConnectionFixture,
                              public ::testing::WithParamInterface<int> {};

TEST_P(ConnectionNoTimeLimit, RetriesForeverThroughATenMinuteOutage) {
  server = server_mode::down;
  connect_alice(GetParam());
  EXPECT_TRUE(all_of<start_timer>().empty() ||
              all_of<start_timer>().front().id != timer_id::time_limit);
  advance_to(k_t0 + 10 * k_min);
  EXPECT_TRUE(all_of<error>().empty());
  EXPECT_EQ(times_of<open_transport>().back(), 575'800);  // 255.8 s + 5 x 64 s
  server = server_mode::accepting;
  advance_to(k_t0 + 639'800);
  EXPECT_EQ(all_of<success>(), std::vector<success>{success{"alice"}});
}

INSTANTIATE_TEST_SUITE_P(ZeroAndNegative, ConnectionNoTimeLimit, ::testing::Values(0, -1),
                         [](const auto& info) {
                           return info.param == 0 ? std::string("Zero") : std::string("Negative");
                         });

TEST_F(ConnectionTimeLimit, OfflineTimeCountsTowardsTheLimit) {
  network(false);
  connect_alice(3);
  advance_to(k_t0 + 3 * k_s);
  EXPECT_EQ(all_of<error>(), std::vector<error>{error{rc::code::connect_timeout}});
  EXPECT_EQ(conn.current_status(), rc::status::timeout);
}

TEST_F(ConnectionTimeLimit, LimitNoLongerAppliesAfterTheFirstSuccess) {
  server = server_mode::accepting;
  connect_alice(5);
  server = server_mode::down;
  advance(k_s);
  drop();
  advance(10 * k_min);
  EXPECT_TRUE(all_of<error>().empty());
  EXPECT_NE(conn.current_status(), rc::status::timeout);
  EXPECT_GT(opens(), 10U);
}

TEST_F(ConnectionTimeLimit, LimitCoversOpeningTheDatabase) {
  auto_database = false;
  connect_alice(1);
  advance(k_s);
  EXPECT_EQ(callbacks(), (actions{st(rc::status::timeout, rc::code::connect_timeout),
                                  error{rc::code::connect_timeout}}));
  const auto m = mark();
  run([&](actions& out) { conn.database_opened(rc::code::ok, now, out); });  // too late
  EXPECT_TRUE(since(m).empty());
}

// =====================================================================================
// SPEC.md §2: codes
// =====================================================================================

class ConnectionTerminalCode : public ConnectionFixture,
                               public ::testing::WithParamInterface<rc::code> {};

TEST_P(ConnectionTerminalCode, RefusalEndsTheCallWithTheTableStatusAndError) {
  const rc::code c = GetParam();
  const auto& row = rc::info(c);
  ASSERT_TRUE(row.terminal);
  ASSERT_TRUE(row.leads_to.has_value());
  server = server_mode::refusing;
  refusal_ack = refusal(c);
  connect_alice(30);
  EXPECT_EQ(callbacks(), (actions{db_opened{rc::code::ok}, st(rc::status::connecting),
                                  st(*row.leads_to, c), error{c}}));
  EXPECT_EQ(all_of<close_transport>().size(), 1U);
  EXPECT_TRUE(timers.empty());  // every timer cancelled, the time limit too
  advance(10 * k_min);
  network(false);
  network(true);
  foreground();
  advance(10 * k_min);
  EXPECT_EQ(opens(), 1U);
  EXPECT_EQ(all_of<error>().size(), 1U);
  EXPECT_EQ(conn.current_phase(), phase::idle);
}

TEST_P(ConnectionTerminalCode, RefusalOfAReconnectReportsTheStatusOnlyAndStops) {
  const rc::code c = GetParam();
  server = server_mode::accepting;
  connect_alice();
  server = server_mode::refusing;
  refusal_ack = refusal(c);
  const auto m = mark();
  drop();
  advance(10 * k_min);
  EXPECT_EQ(callbacks(m), (actions{st(rc::status::suspend, rc::code::socket_disconnected),
                                   st(rc::status::connecting), st(*rc::info(c).leads_to, c)}));
  EXPECT_EQ(opens(), 2U);
  EXPECT_TRUE(all_of<error>().empty());  // the call already succeeded
}

INSTANTIATE_TEST_SUITE_P(
    Spec2, ConnectionTerminalCode,
    ::testing::Values(rc::code::conn_id_reject, rc::code::conn_token_incorrect,
                      rc::code::conn_not_authorized, rc::code::conn_app_blocked_or_deleted,
                      rc::code::conn_user_blocked, rc::code::conn_token_expire,
                      rc::code::conn_other_device_login, rc::code::concurrent_limit_error,
                      rc::code::conn_cluster_error, rc::code::conn_disposable_token_used,
                      rc::code::conn_user_abandon),
    [](const auto& info) { return "Code" + std::to_string(static_cast<int>(info.param)); });

class ConnectionRecoverableCode : public ConnectionFixture,
                                  public ::testing::WithParamInterface<rc::code> {};

TEST_P(ConnectionRecoverableCode, RefusalReportsSuspendAndRetriesOnTheSchedule) {
  const rc::code c = GetParam();
  server = server_mode::refusing;
  refusal_ack = refusal(c);
  connect_alice();
  advance_to(k_t0 + 1'000);
  EXPECT_EQ(times_of<open_transport>(), (std::vector<std::int64_t>{0, 50, 300, 800}));
  EXPECT_EQ(all_of<status_changed>().at(1), st(rc::status::suspend, c));
  EXPECT_TRUE(all_of<error>().empty());
  server = server_mode::accepting;
  advance_to(k_t0 + 1'800);
  EXPECT_EQ(all_of<success>().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(
    Spec2, ConnectionRecoverableCode,
    ::testing::Values(rc::code::connect_too_frequently, rc::code::conn_proto_version_error,
                      rc::code::conn_server_unavailable, rc::code::conn_redirected),
    [](const auto& info) { return "Code" + std::to_string(static_cast<int>(info.param)); });

class ConnectionTransportFailure : public ConnectionFixture,
                                   public ::testing::WithParamInterface<rc::code> {};

TEST_P(ConnectionTransportFailure, IsRecoverable) {
  const rc::code c = GetParam();
  connect_alice();
  transport_failed(c);
  EXPECT_EQ(all_of<status_changed>().back(), st(rc::info(c).leads_to.value(), c));
  advance(50);
  EXPECT_EQ(times_of<open_transport>(), (std::vector<std::int64_t>{0, 50}));
  EXPECT_TRUE(all_of<error>().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Spec2, ConnectionTransportFailure,
    ::testing::Values(rc::code::network_unavailable, rc::code::navi_request_error,
                      rc::code::socket_not_connected, rc::code::socket_disconnected,
                      rc::code::connection_reset, rc::code::connection_refused,
                      rc::code::proxy_unavailable),
    [](const auto& info) { return "Code" + std::to_string(static_cast<int>(info.param)); });

TEST_F(ConnectionCodes, ReasonCodeWithoutRcCodeMapsThroughTheTable) {
  server = server_mode::refusing;
  refusal_ack = mqtt::connack{.reason = 0x86};  // another broker: no rc-code
  connect_alice();
  EXPECT_EQ(all_of<error>(), std::vector<error>{error{rc::code::conn_token_incorrect}});
  EXPECT_EQ(conn.current_status(), rc::status::token_incorrect);
}

TEST_F(ConnectionCodes, UnknownReasonCodeInConnackIsServerUnavailableAndRetried) {
  server = server_mode::refusing;
  refusal_ack = mqtt::connack{.reason = 0x80};  // unspecified error
  connect_alice();
  EXPECT_EQ(all_of<status_changed>().back(),
            st(rc::status::suspend, rc::code::conn_server_unavailable));
  EXPECT_TRUE(all_of<error>().empty());
}

TEST_F(ConnectionCodes, UnusableRcCodeFallsBackToTheReasonCode) {
  for (const std::string bad : {"12345", "abc", "0", "", "310041"}) {
    world w;
    w.server = server_mode::refusing;
    w.refusal_ack = mqtt::connack{.reason = 0x87};
    w.refusal_ack.props.user_properties.emplace_back("rc-code", bad);
    w.connect_alice();
    EXPECT_EQ(w.all_of<error>(), std::vector<error>{error{rc::code::conn_not_authorized}}) << bad;
  }
}

TEST_F(ConnectionCodes, RcCodeWinsOverTheReasonCode) {
  server = server_mode::refusing;
  refusal_ack = refusal(rc::code::conn_token_expire);  // 0x86, which alone would say 31004
  connect_alice();
  EXPECT_EQ(all_of<error>(), std::vector<error>{error{rc::code::conn_token_expire}});
}

TEST_F(ConnectionCodes, DisconnectBeforeConnackIsARefusal) {
  connect_alice();
  up();
  receive(server_disconnect(0x8A, rc::code::conn_user_blocked));
  EXPECT_EQ(callbacks().back(), action{error{rc::code::conn_user_blocked}});
  EXPECT_EQ(conn.current_status(), rc::status::disconn_exception);
}

TEST_F(ConnectionCodes, SecondConnackIsAProtocolErrorAndReconnects) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  receive(accepted());
  EXPECT_EQ(all_of<send>(m).at(0), send{mqtt::disconnect{.reason = 0x82}});
  EXPECT_EQ(all_of<status_changed>(m).at(0),
            st(rc::status::suspend, rc::code::socket_disconnected));
  advance(50);
  EXPECT_EQ(opens(), 2U);
}

TEST_F(ConnectionCodes, OtherPacketsAreLeftToTheDriver) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  receive(mqtt::publish{.topic = "t", .payload = "x"});
  receive(mqtt::suback{.packet_id = 1, .reasons = {0}});
  EXPECT_TRUE(since(m).empty());
}

// =====================================================================================
// SPEC.md §4: kicks and reconnect kick
// =====================================================================================

TEST_F(ConnectionKick, KickAfterSuccessGivesStatus6With31010AndStops) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  receive(server_disconnect(0x8E, rc::code::disconn_kick));
  EXPECT_EQ(since(m),
            (actions{close_transport{}, cancel_timer{timer_id::heartbeat},
                     st(rc::status::kicked_offline_by_other_client, rc::code::disconn_kick)}));
  advance(10 * k_min);
  foreground();
  network(true);
  advance(10 * k_min);
  EXPECT_EQ(opens(), 1U);
  EXPECT_TRUE(all_of<error>().empty());  // success was this call's answer
  EXPECT_EQ(conn.current_status(), rc::status::kicked_offline_by_other_client);
}

TEST_F(ConnectionKick, KickFromAnotherBrokerWithoutRcCodeIs31010) {
  server = server_mode::accepting;
  connect_alice();
  receive(server_disconnect(0x8E));  // session taken over
  EXPECT_EQ(all_of<status_changed>().back(),
            st(rc::status::kicked_offline_by_other_client, rc::code::disconn_kick));
}

TEST_F(ConnectionKick, BlockWhileOnlineGivesStatus16AndStops) {
  server = server_mode::accepting;
  connect_alice();
  receive(server_disconnect(0x8A, rc::code::conn_user_blocked));
  EXPECT_EQ(all_of<status_changed>().back(),
            st(rc::status::disconn_exception, rc::code::conn_user_blocked));
  advance(10 * k_min);
  EXPECT_EQ(opens(), 1U);
}

TEST_F(ConnectionKick, ServerShutdownReconnects) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  receive(server_disconnect(0x8B, rc::code::conn_server_unavailable));
  EXPECT_EQ(all_of<status_changed>(m).at(0),
            st(rc::status::suspend, rc::code::conn_server_unavailable));
  advance(50);
  EXPECT_EQ(times_of<open_transport>(m), std::vector<std::int64_t>{50});
  EXPECT_EQ(conn.current_status(), rc::status::connected);
}

TEST_F(ConnectionKick, ServerKeepAliveTimeoutWithoutRcCodeIs30011AndReconnects) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  receive(server_disconnect(0x8D));
  EXPECT_EQ(all_of<status_changed>(m).at(0),
            st(rc::status::suspend, rc::code::socket_disconnected));
  advance(50);
  EXPECT_EQ(conn.current_status(), rc::status::connected);
}

TEST_F(ConnectionKick, ReconnectKickSettingIsCarriedInEveryConnect) {
  server = server_mode::accepting;
  connect_alice();
  EXPECT_EQ(*property(connects().at(0), "imock-reconnect-kick"), "0");
  conn.set_reconnect_kick(true);  // any time; used by the next CONNECT
  drop();
  advance(50);
  ASSERT_EQ(connects().size(), 2U);
  EXPECT_EQ(*property(connects()[1], "imock-reconnect-kick"), "1");
  EXPECT_EQ(*property(connects()[1], "imock-reconnect"), "1");

  options o = default_options();
  o.reconnect_kick = true;
  world w(o);
  w.server = server_mode::accepting;
  w.connect_alice();
  EXPECT_EQ(*property(w.connects().at(0), "imock-reconnect-kick"), "1");
}

TEST_F(ConnectionKick, ReconnectRefusedWith31023StopsWithStatus6) {
  // SPEC.md §4: A drops, B logs in; A reconnects with reconnect kick on and is refused.
  conn.set_reconnect_kick(true);
  server = server_mode::accepting;
  connect_alice();
  server = server_mode::refusing;
  refusal_ack = refusal(rc::code::conn_other_device_login);
  drop();
  advance(50);
  const auto last = connects().back();
  EXPECT_EQ(*property(last, "imock-reconnect"), "1");
  EXPECT_EQ(*property(last, "imock-reconnect-kick"), "1");
  EXPECT_EQ(all_of<status_changed>().back(),
            st(rc::status::kicked_offline_by_other_client, rc::code::conn_other_device_login));
  advance(10 * k_min);
  EXPECT_EQ(opens(), 2U);
}

// =====================================================================================
// docs/protocol.md §5: heartbeat
// =====================================================================================

TEST_F(ConnectionHeartbeat, PingreqAtEveryInterval) {
  server = server_mode::accepting;
  connect_alice();
  advance_to(k_t0 + 95 * k_s);
  EXPECT_EQ(pingreq_times(), (std::vector<std::int64_t>{30'000, 60'000, 90'000}));
  EXPECT_EQ(conn.current_status(), rc::status::connected);
  EXPECT_EQ(opens(), 1U);
}

TEST_F(ConnectionHeartbeat, MissingPingrespGives30013AndReconnectsAsAReconnect) {
  server = server_mode::accepting;
  answer_pings = false;
  connect_alice();
  advance_to(k_t0 + 60 * k_s - 1);
  EXPECT_EQ(pingreq_times(), std::vector<std::int64_t>{30'000});
  EXPECT_EQ(conn.current_status(), rc::status::connected);
  const auto m = mark();
  advance_to(k_t0 + 60 * k_s);
  EXPECT_EQ(since(m), (actions{close_transport{}, st(rc::status::suspend, rc::code::ping_send_fail),
                               start_timer{timer_id::reconnect, k_t0 + 60'050}}));
  advance_to(k_t0 + 60'050);
  EXPECT_EQ(times_of<open_transport>(m), std::vector<std::int64_t>{60'050});
  EXPECT_EQ(*property(connects(m).at(0), "imock-reconnect"), "1");
  EXPECT_EQ(conn.current_status(), rc::status::connected);
}

TEST_F(ConnectionHeartbeat, ServerKeepAliveOverridesTheHeartbeat) {
  connect_alice();
  up();
  mqtt::connack ack = accepted();
  ack.props.server_keep_alive = 10;
  receive(ack);
  EXPECT_EQ(conn.keep_alive_s(), 10);
  answer_pings = true;
  advance_to(k_t0 + 25 * k_s);
  EXPECT_EQ(pingreq_times(), (std::vector<std::int64_t>{10'000, 20'000}));
}

TEST_F(ConnectionHeartbeat, PongArrivingLateButBeforeTheNextIntervalIsInTime) {
  connect_alice();
  up();
  receive(accepted());
  answer_pings = false;
  advance_to(k_t0 + 59 * k_s);
  receive(mqtt::pingresp{});
  advance_to(k_t0 + 61 * k_s);
  EXPECT_EQ(pingreq_times(), (std::vector<std::int64_t>{30'000, 60'000}));
  EXPECT_EQ(conn.current_status(), rc::status::connected);
}

TEST_F(ConnectionHeartbeat, HeartbeatZeroSendsNoPings) {
  options o = default_options();
  o.heartbeat_s = 0;
  world w(o);
  w.server = server_mode::accepting;
  w.connect_alice();
  EXPECT_EQ(w.connects().at(0).keep_alive, 0);
  w.advance(10 * k_min);
  EXPECT_TRUE(w.pingreq_times().empty());
  EXPECT_TRUE(w.timers.empty());
}

// =====================================================================================
// Attempt and CONNACK timeouts
// =====================================================================================

TEST_F(ConnectionAckTimeout, MissingConnackGives31000AndReconnects) {
  server = server_mode::silent;
  connect_alice();
  advance_to(k_t0 + 10 * k_s - 1);
  EXPECT_EQ(conn.current_status(), rc::status::connecting);
  const auto m = mark();
  advance_to(k_t0 + 10 * k_s);
  EXPECT_EQ(since(m),
            (actions{close_transport{}, st(rc::status::suspend, rc::code::conn_ack_timeout),
                     start_timer{timer_id::reconnect, k_t0 + 10'050}}));
  advance_to(k_t0 + 10'050);
  EXPECT_EQ(times_of<open_transport>(), (std::vector<std::int64_t>{0, 10'050}));
}

TEST_F(ConnectionAckTimeout, TransportThatNeverComesUpGives30010) {
  connect_alice();  // manual server: no transport_up
  advance_to(k_t0 + 10 * k_s);
  EXPECT_EQ(all_of<status_changed>().back(),
            st(rc::status::suspend, rc::code::socket_not_connected));
  EXPECT_EQ(all_of<close_transport>().size(), 1U);
}

TEST_F(ConnectionAckTimeout, ConnackTimeoutCountsFromTransportUp) {
  connect_alice();
  advance_to(k_t0 + 9 * k_s);
  up();
  advance_to(k_t0 + 19 * k_s - 1);
  EXPECT_EQ(conn.current_status(), rc::status::connecting);
  advance_to(k_t0 + 19 * k_s);
  EXPECT_EQ(all_of<status_changed>().back(), st(rc::status::suspend, rc::code::conn_ack_timeout));
}

// =====================================================================================
// SPEC.md §5: disconnect and logout
// =====================================================================================

TEST_F(ConnectionSignOut, DisconnectWhileConnectedSendsDisconnectAndSignsOut) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  disconnect();
  EXPECT_EQ(since(m), (actions{send{mqtt::disconnect{}}, close_transport{},
                               cancel_timer{timer_id::heartbeat}, st(rc::status::sign_out)}));
  advance(10 * k_min);
  EXPECT_EQ(opens(), 1U);
  EXPECT_TRUE(all_of<error>().empty());
}

TEST_F(ConnectionSignOut, LogoutWhileConnectedSendsDisconnectAndSignsOut) {
  server = server_mode::accepting;
  connect_alice();
  const auto m = mark();
  logout();
  EXPECT_EQ(since(m), (actions{send{mqtt::disconnect{}}, close_transport{},
                               cancel_timer{timer_id::heartbeat}, st(rc::status::sign_out)}));
  advance(10 * k_min);
  EXPECT_EQ(opens(), 1U);
}

TEST_F(ConnectionSignOut, DisconnectWhileWaitingLeavesTheLoopEvenIfOldTimersFire) {
  server = server_mode::down;
  connect_alice(30);
  advance_to(k_t0 + 100);
  const auto m = mark();
  disconnect();
  EXPECT_EQ(since(m), (actions{cancel_timer{timer_id::reconnect},
                               cancel_timer{timer_id::time_limit}, st(rc::status::sign_out)}));
  // A driver that lost the race with the cancel fires anyway: nothing happens.
  const auto m2 = mark();
  for (const auto id :
       {timer_id::reconnect, timer_id::time_limit, timer_id::heartbeat, timer_id::ack}) {
    run([&](actions& out) { conn.timer_fired(id, k_t0 + 10 * k_min, out); });
  }
  foreground();
  network(false);
  network(true);
  EXPECT_TRUE(since(m2).empty());
}

TEST_F(ConnectionSignOut, DisconnectWhileConnectingClosesWithoutADisconnectPacket) {
  connect_alice();
  up();
  const auto m = mark();
  logout();
  EXPECT_EQ(since(m),
            (actions{close_transport{}, cancel_timer{timer_id::ack}, st(rc::status::sign_out)}));
  const auto m2 = mark();
  receive(accepted());
  EXPECT_TRUE(since(m2).empty());
}

TEST_F(ConnectionSignOut, DisconnectWhileOpeningTheDatabase) {
  auto_database = false;
  connect_alice();
  disconnect();
  const auto m = mark();
  run([&](actions& out) { conn.database_opened(rc::code::ok, now, out); });
  EXPECT_TRUE(since(m).empty());
  EXPECT_EQ(conn.current_status(), rc::status::sign_out);
}

TEST_F(ConnectionSignOut, DisconnectWithoutACallDoesNothing) {
  disconnect();
  logout();
  EXPECT_TRUE(log.empty());
}

TEST_F(ConnectionSignOut, ConnectAfterDisconnectIsANewCall) {
  server = server_mode::accepting;
  connect_alice();
  drop();
  advance(50);  // reconnected once
  disconnect();
  const auto m = mark();
  connect(make_token("bob"));
  EXPECT_EQ(callbacks(m), (actions{db_opened{rc::code::ok}, st(rc::status::connecting),
                                   st(rc::status::connected), success{"bob"}}));
  EXPECT_EQ(all_of<open_transport>(m), std::vector<open_transport>{open_transport{1}});
  EXPECT_EQ(property(connects(m).at(0), "imock-reconnect"), nullptr);  // a fresh login
}

TEST_F(ConnectionSignOut, ConnectAfterATerminalErrorIsANewCall) {
  server = server_mode::refusing;
  refusal_ack = refusal(rc::code::conn_token_incorrect);
  connect_alice();
  server = server_mode::accepting;
  const auto m = mark();
  connect_alice();  // with a new token, as SPEC.md §1 advises
  EXPECT_EQ(all_of<success>(m).size(), 1U);
}

}  // namespace
}  // namespace imock::client
