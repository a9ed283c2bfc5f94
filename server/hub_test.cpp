#include "imock/server/hub.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "imock/protocol/token.hpp"

// The hub is sans-IO: every test feeds it packets with an explicit now_ms and
// asserts on the actions it answers with. Time only moves when a test says so.

namespace imock::server {
namespace {

constexpr std::int64_t k_t0 = 1'700'000'000'000;  // 2023-11-14 22:13:20 UTC

// The fixture's apps (see test_config()).
const std::string k_app = "app-single";   // active, single mobile device
const std::string k_multi = "app-multi";  // active, multi device
const std::string k_blocked_app = "app-blocked";
const std::string k_deleted_app = "app-deleted";
const std::string k_strict = "app-strict";  // revoked tokens give 31004, not 31020
const std::string k_short = "app-short";    // tokens live one minute
// An app whose key with a user's name hashes like k_multi's with another name (index_key).
const std::string k_colliding = k_multi + '\x1f' + "x";
constexpr std::int64_t k_short_lifetime_ms = 60'000;
// A user of k_app banned for the first minute of the test.
const std::string k_banned = "banned";
constexpr std::int64_t k_ban_end_ms = k_t0 + 60'000;

// MQTT 5 reason codes the tests expect, by name.
constexpr std::uint8_t k_success = 0x00;
constexpr std::uint8_t k_unspecified_error = 0x80;
constexpr std::uint8_t k_malformed = 0x81;
constexpr std::uint8_t k_protocol_error = 0x82;
constexpr std::uint8_t k_unsupported_version = 0x84;
constexpr std::uint8_t k_client_id_not_valid = 0x85;
constexpr std::uint8_t k_bad_user_name_or_password = 0x86;
constexpr std::uint8_t k_not_authorized = 0x87;
constexpr std::uint8_t k_server_unavailable = 0x88;
constexpr std::uint8_t k_banned_reason = 0x8A;          // CONNACK only
constexpr std::uint8_t k_administrative_action = 0x98;  // its DISCONNECT counterpart
constexpr std::uint8_t k_shutting_down = 0x8B;
constexpr std::uint8_t k_keep_alive_timeout = 0x8D;
constexpr std::uint8_t k_session_taken_over = 0x8E;
constexpr std::uint8_t k_packet_too_large = 0x95;
constexpr std::uint8_t k_quota_exceeded = 0x97;
constexpr std::uint8_t k_connection_rate_exceeded = 0x9F;

constexpr bool k_close = true;
constexpr bool k_stay_open = false;

app_config make_app(std::string key, app_state state = app_state::active,
                    login_policy policy = login_policy::single_mobile_device) {
  app_config app;
  app.secret = "secret-of-" + key;
  app.key = std::move(key);
  app.state = state;
  app.policy = policy;
  return app;
}

server_config test_config() {
  server_config config;
  config.apps.push_back(make_app(k_app));
  config.apps.push_back(make_app(k_multi, app_state::active, login_policy::multi_device));
  config.apps.push_back(make_app(k_blocked_app, app_state::blocked));
  config.apps.push_back(make_app(k_deleted_app, app_state::deleted));
  auto strict = make_app(k_strict);
  strict.revoked_token_code = rc::code::conn_token_incorrect;
  config.apps.push_back(strict);
  auto short_lived = make_app(k_short);
  short_lived.token_lifetime_ms = k_short_lifetime_ms;
  config.apps.push_back(short_lived);
  config.apps.push_back(make_app(k_colliding, app_state::active, login_policy::multi_device));
  config.users.push_back({.app_key = k_app, .user_id = k_banned, .blocked_until_ms = k_ban_end_ms});
  return config;  // default limits: keep alive 5..600 s, CONNECT timeout 10 s
}

// What a client puts in CONNECT besides app key, token and client id.
struct connect_opts {
  bool reconnect = false;         // imock-reconnect
  bool reconnect_kick = false;    // imock-reconnect-kick
  std::string platform = "ios";   // imock-platform ("" = property absent)
  std::uint16_t keep_alive = 30;  // seconds
};

mqtt::packet connect_packet(std::optional<std::string> app, std::optional<std::string> token,
                            std::string device, const connect_opts& o = {}) {
  mqtt::connect c;
  c.client_id = std::move(device);
  c.clean_start = true;
  c.keep_alive = o.keep_alive;
  c.username = std::move(app);
  c.password = std::move(token);
  if (o.reconnect) c.props.user_properties.emplace_back("imock-reconnect", "1");
  c.props.user_properties.emplace_back("imock-reconnect-kick", o.reconnect_kick ? "1" : "0");
  if (!o.platform.empty()) c.props.user_properties.emplace_back("imock-platform", o.platform);
  return c;
}

mqtt::packet publish_packet(std::string topic, std::uint8_t qos, std::uint16_t packet_id,
                            std::string payload = "hello") {
  mqtt::publish p;
  p.topic = std::move(topic);
  p.qos = qos;
  p.packet_id = packet_id;
  p.payload = std::move(payload);
  return p;
}

mqtt::packet subscribe_packet(std::uint16_t packet_id,
                              const std::vector<std::pair<std::string, std::uint8_t>>& filters) {
  mqtt::subscribe s;
  s.packet_id = packet_id;
  for (const auto& [filter, qos] : filters) {
    s.subscriptions.push_back({.topic_filter = filter, .options = qos});
  }
  return s;
}

mqtt::packet unsubscribe_packet(std::uint16_t packet_id, std::vector<std::string> filters) {
  mqtt::unsubscribe u;
  u.packet_id = packet_id;
  u.topic_filters = std::move(filters);
  return u;
}

std::string hex(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v));
  return buf;
}

std::string hex_list(const std::vector<std::uint8_t>& reasons) {
  std::string out = "[";
  for (std::size_t i = 0; i < reasons.size(); ++i) out += (i ? " " : "") + hex(reasons[i]);
  return out + "]";
}

// One action in a compact form the assertions compare against:
// "CONNACK 0x86 rc-code=31004 close", "PUBACK 0x10", "close", "CONNACK 0x00 +2500ms".
std::string summary(const action& a) {
  std::string out;
  if (a.send) {
    out = std::string(mqtt::type_name(mqtt::type_of(*a.send)));
    std::visit(
        [&](const auto& p) {
          using T = std::decay_t<decltype(p)>;
          if constexpr (std::is_same_v<T, mqtt::connack> || std::is_same_v<T, mqtt::disconnect> ||
                        std::is_same_v<T, mqtt::puback>) {
            out += " " + hex(p.reason);
          } else if constexpr (std::is_same_v<T, mqtt::suback> ||
                               std::is_same_v<T, mqtt::unsuback>) {
            out += " " + hex_list(p.reasons);
          } else if constexpr (std::is_same_v<T, mqtt::publish>) {
            out += " " + p.topic;
          }
          if constexpr (requires { p.props; }) {
            if (const auto* rc = p.props.find_user_property("rc-code")) out += " rc-code=" + *rc;
          }
        },
        *a.send);
  }
  if (a.close) out += out.empty() ? "close" : " close";
  if (a.delay_ms != 0) out += " +" + std::to_string(a.delay_ms) + "ms";
  return out;
}

// The actions for `id`, in order, joined with "; " ("" when there are none).
std::string summary(const actions& out, session_id id) {
  std::string text;
  for (const auto& a : out) {
    if (a.session != id) continue;
    if (!text.empty()) text += "; ";
    text += summary(a);
  }
  return text;
}

std::string summary(const actions& out) {
  std::string text = "[";
  for (const auto& a : out) {
    if (text.size() > 1) text += ", ";
    text += "#" + std::to_string(a.session) + " " + summary(a);
  }
  return text + "]";
}

std::string expected_packet(std::string_view type, std::uint8_t reason, std::optional<int> rc_code,
                            bool close) {
  std::string text = std::string(type) + " " + hex(reason);
  if (rc_code) text += " rc-code=" + std::to_string(*rc_code);
  if (close) text += " close";
  return text;
}

// The actions for session `id` are exactly `want` (summary() form).
::testing::AssertionResult sends(const actions& out, session_id id, const std::string& want) {
  const auto got = summary(out, id);
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected session #" << id << " to get [" << want << "], it got [" << got
         << "]; all actions: " << summary(out);
}

// The only action for `id` is a CONNACK with `reason`, `rc-code` (absent when nullopt)
// and the close flag.
::testing::AssertionResult got_connack(const actions& out, session_id id, std::uint8_t reason,
                                       std::optional<int> rc_code, bool close) {
  return sends(out, id, expected_packet("CONNACK", reason, rc_code, close));
}

// The only action for `id` is a DISCONNECT with `reason` and `rc-code`, then close.
::testing::AssertionResult got_disconnect(const actions& out, session_id id, std::uint8_t reason,
                                          std::optional<int> rc_code) {
  return sends(out, id, expected_packet("DISCONNECT", reason, rc_code, k_close));
}

// A refusal: CONNACK with the documented code's reason and rc-code, then close.
::testing::AssertionResult refused(const actions& out, session_id id, std::uint8_t reason,
                                   rc::code why) {
  return got_connack(out, id, reason, static_cast<int>(why), k_close);
}

::testing::AssertionResult accepted(const actions& out, session_id id) {
  return got_connack(out, id, k_success, std::nullopt, k_stay_open);
}

::testing::AssertionResult nothing_for(const actions& out, session_id id) {
  return sends(out, id, "");
}

const mqtt::connack* find_connack(const actions& out, session_id id) {
  for (const auto& a : out) {
    if (a.session == id && a.send) {
      if (const auto* c = std::get_if<mqtt::connack>(&*a.send)) return c;
    }
  }
  return nullptr;
}

const mqtt::publish* find_publish(const actions& out, session_id id) {
  for (const auto& a : out) {
    if (a.session == id && a.send) {
      if (const auto* p = std::get_if<mqtt::publish>(&*a.send)) return p;
    }
  }
  return nullptr;
}

std::string user_property(const mqtt::properties& props, std::string_view key) {
  const auto* v = props.find_user_property(key);
  return v != nullptr ? *v : "<absent>";
}

class HubTest : public ::testing::Test {
 protected:
  HubTest() { restart(test_config()); }

  void restart(const server_config& config, std::uint64_t fault_seed = 1) {
    hub_.emplace(config, fault_seed);
  }

  hub& h() { return *hub_; }

  std::string secret_of(const std::string& app) {
    const auto* a = h().config().find_app(app);
    return a != nullptr ? a->secret : "no-such-secret";
  }

  // A token for `user` of `app`, issued at `issued_ms` with the app's lifetime.
  std::string token_for(const std::string& app, const std::string& user,
                        std::int64_t issued_ms = k_t0) {
    const auto* a = h().config().find_app(app);
    auto t =
        token::issue(app, user, secret_of(app), issued_ms, a != nullptr ? a->token_lifetime_ms : 0);
    EXPECT_TRUE(t.has_value()) << "cannot issue a token for " << app << "/" << user;
    return t.value_or("");
  }

  session_id open(std::int64_t now_ms = k_t0, transport via = transport::tcp) {
    return h().open(via, "192.0.2.1:40000", now_ms);
  }

  actions send(session_id id, mqtt::packet p, std::int64_t now_ms = k_t0) {
    return h().on_packet(id, std::move(p), now_ms);
  }

  // Opens a session and sends CONNECT for `user` on `device`.
  session_id try_login(const std::string& app, const std::string& user, const std::string& device,
                       actions& out, const connect_opts& o = {}, std::int64_t now_ms = k_t0) {
    const auto id = open(now_ms);
    out = send(id, connect_packet(app, token_for(app, user), device, o), now_ms);
    return id;
  }

  // As try_login, and the login must succeed with nothing else happening.
  session_id login(const std::string& app, const std::string& user, const std::string& device,
                   const connect_opts& o = {}, std::int64_t now_ms = k_t0) {
    actions out;
    const auto id = try_login(app, user, device, out, o, now_ms);
    EXPECT_TRUE(sends(out, id, "CONNACK 0x00"))
        << "login of " << app << "/" << user << "/" << device;
    EXPECT_EQ(out.size(), 1u) << summary(out);
    return id;
  }

  // Sends a CONNECT for `app` with `token` on a fresh session; returns its actions.
  actions connect_with(session_id& id, std::optional<std::string> app,
                       std::optional<std::string> token, std::string device = "phone",
                       std::int64_t now_ms = k_t0) {
    id = open(now_ms);
    return send(id, connect_packet(std::move(app), std::move(token), std::move(device)), now_ms);
  }

  std::vector<event> events_of(std::string_view kind) const {
    std::vector<event> out;
    for (auto& e : hub_->events().since(0)) {
      if (k_event_kind_names.of(e.kind) == kind) out.push_back(std::move(e));
    }
    return out;
  }

  std::uint64_t connects_with(int code) const {
    const auto& m = hub_->counters().connects_by_code;
    const auto it = m.find(code);
    return it == m.end() ? 0 : it->second;
  }

  bool is_connected(session_id id) {
    const auto v = h().sessions({.session = id});
    return v.size() == 1 && v.front().connected;
  }

 private:
  std::optional<hub> hub_;
};

// --- successful CONNECT ------------------------------------------------------

TEST_F(HubTest, ValidTokenGetsConnackZeroWithUserIdAndMaximumPacketSize) {
  const auto id = open();
  const auto out = send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone-a"));

  ASSERT_TRUE(accepted(out, id));
  const auto* ack = find_connack(out, id);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(user_property(ack->props, "user-id"), "alice");
  EXPECT_EQ(user_property(ack->props, "rc-code"), "<absent>");
  EXPECT_EQ(ack->props.maximum_packet_size.value_or(0), 262'144u);
  EXPECT_FALSE(ack->props.server_keep_alive.has_value()) << "30 s is inside 5..600 s";
  EXPECT_FALSE(ack->props.assigned_client_identifier.has_value());
  EXPECT_TRUE(h().is_online(k_app, "alice"));
  EXPECT_EQ(h().connected_count(), 1u);
}

TEST_F(HubTest, KeepAliveZeroIsRaisedToTheMinimumAndAnnounced) {
  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out, {.keep_alive = 0});
  ASSERT_TRUE(accepted(out, id));
  EXPECT_EQ(find_connack(out, id)->props.server_keep_alive.value_or(0), 5);
  EXPECT_EQ(h().sessions({.session = id}).at(0).keep_alive_s, 5);
}

TEST_F(HubTest, KeepAliveAboveTheMaximumIsClampedAndAnnounced) {
  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out, {.keep_alive = 1000});
  ASSERT_TRUE(accepted(out, id));
  EXPECT_EQ(find_connack(out, id)->props.server_keep_alive.value_or(0), 600);
}

TEST_F(HubTest, EmptyClientIdGetsAnAssignedIdentifier) {
  actions out;
  const auto first = try_login(k_multi, "alice", "", out);
  ASSERT_TRUE(accepted(out, first));
  const auto assigned = find_connack(out, first)->props.assigned_client_identifier;
  ASSERT_TRUE(assigned.has_value());
  EXPECT_FALSE(assigned->empty());
  EXPECT_EQ(h().sessions({.session = first}).at(0).device, *assigned);

  const auto second = try_login(k_multi, "alice", "", out);
  ASSERT_TRUE(accepted(out, second)) << "a second assigned id must not replace the first";
  EXPECT_NE(find_connack(out, second)->props.assigned_client_identifier.value_or(""), *assigned);
  EXPECT_TRUE(is_connected(first));
}

TEST_F(HubTest, SuccessfulConnectIsCountedAndLoggedWithCodeZero) {
  const auto id = h().open(transport::ws, "192.0.2.7:5555", k_t0);
  ASSERT_TRUE(accepted(send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone-a",
                                               {.platform = "android"})),
                       id));

  EXPECT_EQ(h().counters().accepted[static_cast<std::size_t>(transport::ws)], 1u);
  EXPECT_EQ(h().count_by_transport(transport::ws), 1u);
  EXPECT_EQ(connects_with(0), 1u);
  const auto connects = events_of("connect");
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].code, 0);
  EXPECT_EQ(connects[0].session, id);
  EXPECT_EQ(connects[0].app, k_app);
  EXPECT_EQ(connects[0].user, "alice");
  EXPECT_EQ(connects[0].device, "phone-a");
  EXPECT_EQ(connects[0].transport, "ws");
  EXPECT_EQ(events_of("accept").size(), 1u);

  const auto view = h().sessions({.app = k_app});
  ASSERT_EQ(view.size(), 1u);
  EXPECT_EQ(view[0].platform, "android");
  EXPECT_EQ(view[0].remote, "192.0.2.7:5555");
  EXPECT_EQ(view[0].via, transport::ws);
  EXPECT_EQ(view[0].connected_ms, k_t0);
}

// --- refused CONNECT ---------------------------------------------------------

TEST_F(HubTest, UnknownAppKeyIsRefusedWith31002) {
  session_id id = 0;
  const auto out = connect_with(id, "no-such-app", token_for(k_app, "alice"));
  EXPECT_TRUE(refused(out, id, k_client_id_not_valid, rc::code::conn_id_reject));
}

TEST_F(HubTest, MissingUserNameIsRefusedWith31002) {
  session_id id = 0;
  const auto out = connect_with(id, std::nullopt, token_for(k_app, "alice"));
  EXPECT_TRUE(refused(out, id, k_client_id_not_valid, rc::code::conn_id_reject));
}

TEST_F(HubTest, BlockedAppIsRefusedWith31008) {
  session_id id = 0;
  const auto out = connect_with(id, k_blocked_app, token_for(k_blocked_app, "alice"));
  EXPECT_TRUE(refused(out, id, k_not_authorized, rc::code::conn_app_blocked_or_deleted));
}

TEST_F(HubTest, DeletedAppIsRefusedWith31008) {
  session_id id = 0;
  const auto out = connect_with(id, k_deleted_app, token_for(k_deleted_app, "alice"));
  EXPECT_TRUE(refused(out, id, k_not_authorized, rc::code::conn_app_blocked_or_deleted));
}

TEST_F(HubTest, MalformedTokenIsRefusedWith31004) {
  session_id id = 0;
  const auto out = connect_with(id, k_app, "not-a-token");
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
}

TEST_F(HubTest, RefusalCarriesTheCodeNameAsReasonString) {
  session_id id = 0;
  const auto out = connect_with(id, k_app, "not-a-token");
  const auto* ack = find_connack(out, id);
  ASSERT_NE(ack, nullptr) << summary(out);
  EXPECT_EQ(ack->props.reason_string.value_or("<absent>"), "RC_CONN_TOKEN_INCORRECT");
  EXPECT_FALSE(ack->props.maximum_packet_size.has_value()) << "only a successful CONNACK has it";
}

TEST_F(HubTest, TokenSignedWithAnotherSecretIsRefusedWith31004) {
  session_id id = 0;
  const auto forged = token::issue(k_app, "alice", "guessed-secret", k_t0);
  ASSERT_TRUE(forged.has_value());
  const auto out = connect_with(id, k_app, *forged);
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
}

TEST_F(HubTest, TokenOfAnotherAppIsRefusedWith31004) {
  session_id id = 0;
  const auto out = connect_with(id, k_app, token_for(k_multi, "alice"));
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
}

TEST_F(HubTest, MissingOrEmptyPasswordIsRefusedWith31004) {
  session_id id = 0;
  auto out = connect_with(id, k_app, std::nullopt);
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
  out = connect_with(id, k_app, "");
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
}

TEST_F(HubTest, ExpiredTokenIsRefusedWith31020AndAcceptedUntilTheLastMillisecond) {
  const auto token = token_for(k_short, "alice", k_t0);  // expires at k_t0 + 60 s
  session_id id = 0;
  auto out = connect_with(id, k_short, token, "phone", k_t0 + k_short_lifetime_ms - 1);
  EXPECT_TRUE(accepted(out, id));
  h().on_closed(id, "test", k_t0 + k_short_lifetime_ms - 1);

  out = connect_with(id, k_short, token, "phone", k_t0 + k_short_lifetime_ms);
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_expire));
}

TEST_F(HubTest, RevokedTokenIsRefusedWith31020ByDefault) {
  const auto old_token = token_for(k_app, "alice", k_t0);
  h().dir().ensure_user(*h().dir().find_app(k_app), "alice").revoked_before_ms = k_t0 + 1;

  session_id id = 0;
  auto out = connect_with(id, k_app, old_token, "phone", k_t0 + 10);
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_expire));

  out = connect_with(id, k_app, token_for(k_app, "alice", k_t0 + 1), "phone", k_t0 + 10);
  EXPECT_TRUE(accepted(out, id)) << "a token issued at the revocation time still works";
}

TEST_F(HubTest, RevokedTokenIsRefusedWith31004WhenTheAppSaysSo) {
  const auto old_token = token_for(k_strict, "alice", k_t0);
  h().dir().ensure_user(*h().dir().find_app(k_strict), "alice").revoked_before_ms = k_t0 + 1;

  session_id id = 0;
  const auto out = connect_with(id, k_strict, old_token, "phone", k_t0 + 10);
  EXPECT_TRUE(refused(out, id, k_bad_user_name_or_password, rc::code::conn_token_incorrect));
}

TEST_F(HubTest, BlockedUserIsRefusedWith31009UntilTheBlockEnds) {
  const auto token = token_for(k_app, k_banned);
  session_id id = 0;
  auto out = connect_with(id, k_app, token, "phone", k_t0);
  EXPECT_TRUE(refused(out, id, k_banned_reason, rc::code::conn_user_blocked));
  out = connect_with(id, k_app, token, "phone", k_ban_end_ms - 1);
  EXPECT_TRUE(refused(out, id, k_banned_reason, rc::code::conn_user_blocked));

  out = connect_with(id, k_app, token, "phone", k_ban_end_ms);
  EXPECT_TRUE(accepted(out, id));
}

TEST_F(HubTest, ClientIdOver64BytesIsRefusedWith31002) {
  session_id id = 0;
  auto out = connect_with(id, k_app, token_for(k_app, "alice"), std::string(65, 'd'));
  EXPECT_TRUE(refused(out, id, k_client_id_not_valid, rc::code::conn_id_reject));

  out = connect_with(id, k_app, token_for(k_app, "alice"), std::string(64, 'd'));
  EXPECT_TRUE(accepted(out, id)) << "64 bytes is the limit, not over it";
}

TEST_F(HubTest, ConnectsOverTheRateLimitAreRefusedWith30015UntilTheNextSecond) {
  auto config = test_config();
  config.limits.connect_rate_limit_per_s = 2;
  restart(config);

  actions out;
  const auto a = try_login(k_multi, "alice", "d1", out, {}, k_t0);
  EXPECT_TRUE(accepted(out, a));
  const auto b = try_login(k_multi, "alice", "d2", out, {}, k_t0 + 500);
  EXPECT_TRUE(accepted(out, b));
  const auto c = try_login(k_multi, "alice", "d3", out, {}, k_t0 + 999);
  EXPECT_TRUE(refused(out, c, k_connection_rate_exceeded, rc::code::connect_too_frequently));

  const auto d = try_login(k_multi, "alice", "d4", out, {}, k_t0 + 1000);
  EXPECT_TRUE(accepted(out, d));
}

TEST_F(HubTest, ConnectsBeyondMaxConnectionsAreRefusedWith31024) {
  auto config = test_config();
  config.limits.max_connections = 2;
  restart(config);

  const auto a = login(k_multi, "alice", "d1");
  login(k_multi, "bob", "d2");
  actions out;
  const auto c = try_login(k_multi, "carol", "d3", out);
  EXPECT_TRUE(refused(out, c, k_quota_exceeded, rc::code::concurrent_limit_error));

  h().on_closed(a, "peer closed", k_t0 + 1);
  const auto d = try_login(k_multi, "carol", "d3", out, {}, k_t0 + 1);
  EXPECT_TRUE(accepted(out, d)) << "a closed connection frees its slot";
}

TEST_F(HubTest, RefusalIsCountedByCodeLoggedAndLeavesNobodyOnline) {
  session_id id = 0;
  connect_with(id, k_app, token_for(k_multi, "alice"));

  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_EQ(h().connected_count(), 0u);
  EXPECT_EQ(connects_with(31004), 1u);
  EXPECT_EQ(connects_with(0), 0u);
  const auto connects = events_of("connect");
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].code, 31004);
  EXPECT_EQ(connects[0].session, id);
  // The session is closing: what it sends next is read and ignored.
  EXPECT_TRUE(send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone")).empty());
  EXPECT_TRUE(h().sessions({.session = id}).empty());
}

// --- protocol errors ---------------------------------------------------------

TEST_F(HubTest, PacketBeforeConnectGetsDisconnect0x82AndClose) {
  const auto id = open();
  const auto out = send(id, mqtt::pingreq{});
  EXPECT_TRUE(got_disconnect(out, id, k_protocol_error, std::nullopt));
  EXPECT_EQ(h().counters().protocol_errors, 1u);
  EXPECT_TRUE(send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone")).empty())
      << "a CONNECT after the protocol error comes too late";
}

TEST_F(HubTest, SecondConnectGetsDisconnect0x82AndEndsTheLogin) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out = send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone-a"));
  EXPECT_TRUE(got_disconnect(out, id, k_protocol_error, std::nullopt));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, ServerOnlyPacketFromAClientGetsDisconnect0x82) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out = send(id, mqtt::pingresp{});
  EXPECT_TRUE(got_disconnect(out, id, k_protocol_error, std::nullopt));
}

TEST_F(HubTest, DecodeErrorBeforeConnectIsAnsweredWithConnackOfThatReason) {
  const auto id = open();
  const auto out = h().on_decode_error(
      id, mqtt::make_error_code(mqtt::reason_code::malformed_packet), "bad remaining length", k_t0);
  EXPECT_TRUE(got_connack(out, id, k_malformed, std::nullopt, k_close));
  EXPECT_EQ(find_connack(out, id)->props.reason_string.value_or(""), "bad remaining length");
  EXPECT_EQ(h().counters().protocol_errors, 1u);
}

TEST_F(HubTest, UnsupportedProtocolVersionGetsConnack0x84With31001) {
  const auto id = open();
  const auto out = h().on_decode_error(
      id, mqtt::make_error_code(mqtt::reason_code::unsupported_protocol_version), "level 4", k_t0);
  EXPECT_TRUE(got_connack(out, id, k_unsupported_version, 31001, k_close));
  EXPECT_EQ(connects_with(31001), 1u);
}

TEST_F(HubTest, DecodeErrorAfterConnackGetsDisconnectWithThatReason) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out = h().on_decode_error(
      id, mqtt::make_error_code(mqtt::reason_code::packet_too_large), "70000 bytes", k_t0 + 5);
  EXPECT_TRUE(got_disconnect(out, id, k_packet_too_large, std::nullopt));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_TRUE(h().on_decode_error(id, mqtt::make_error_code(mqtt::reason_code::malformed_packet),
                                  "again", k_t0 + 6)
                  .empty())
      << "one answer per connection";
}

// --- login policy (SPEC.md §4) -------------------------------------------------

TEST_F(HubTest, FreshLoginOnAnotherDeviceKicksTheOnlineOneWith31010) {
  const auto a = login(k_app, "alice", "phone-a");
  actions out;
  const auto b = try_login(k_app, "alice", "phone-b", out);

  EXPECT_TRUE(got_disconnect(out, a, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, b));
  EXPECT_EQ(h().counters().kicks, 1u);
  const auto kicks = events_of("kick");
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0].session, a);
  EXPECT_EQ(kicks[0].code, 31010);
  const auto online = h().sessions({.app = k_app, .user = "alice"});
  ASSERT_EQ(online.size(), 1u);
  EXPECT_EQ(online[0].id, b);
  EXPECT_TRUE(send(a, mqtt::pingreq{}).empty()) << "the kicked session is closing";
}

TEST_F(HubTest, ReconnectWithReconnectKickWhileAnotherDeviceIsOnlineIsRefusedWith31023) {
  const auto a = login(k_app, "alice", "phone-a");
  actions out;
  const auto b =
      try_login(k_app, "alice", "phone-b", out, {.reconnect = true, .reconnect_kick = true});

  EXPECT_TRUE(refused(out, b, k_not_authorized, rc::code::conn_other_device_login));
  EXPECT_TRUE(nothing_for(out, a)) << "the online device stays";
  EXPECT_TRUE(is_connected(a));
  EXPECT_EQ(h().counters().kicks, 0u);
  EXPECT_TRUE(sends(send(a, mqtt::pingreq{}), a, "PINGRESP"));
}

TEST_F(HubTest, ReconnectWithReconnectKickOffKicksTheOtherDevice) {
  const auto a = login(k_app, "alice", "phone-a");
  actions out;
  const auto b =
      try_login(k_app, "alice", "phone-b", out, {.reconnect = true, .reconnect_kick = false});
  EXPECT_TRUE(got_disconnect(out, a, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, b));
}

TEST_F(HubTest, FreshLoginWithReconnectKickOnStillKicksTheOtherDevice) {
  // Reconnect kick only concerns reconnects; a fresh login always wins.
  const auto a = login(k_app, "alice", "phone-a");
  actions out;
  const auto b =
      try_login(k_app, "alice", "phone-b", out, {.reconnect = false, .reconnect_kick = true});
  EXPECT_TRUE(got_disconnect(out, a, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, b));
}

TEST_F(HubTest, WebOrDesktopLoginDoesNotKickAMobileDeviceNorTheReverse) {
  const auto phone = login(k_app, "alice", "phone-a", {.platform = "ios"});
  actions out;
  const auto web = try_login(k_app, "alice", "browser", out, {.platform = "web"});
  EXPECT_TRUE(accepted(out, web));
  EXPECT_TRUE(nothing_for(out, phone));

  const auto desktop = try_login(k_app, "alice", "laptop", out, {.platform = "desktop"});
  EXPECT_TRUE(accepted(out, desktop));
  EXPECT_TRUE(nothing_for(out, phone));

  const auto other_phone = try_login(k_app, "alice", "phone-b", out, {.platform = "android"});
  EXPECT_TRUE(accepted(out, other_phone));
  EXPECT_TRUE(got_disconnect(out, phone, k_session_taken_over, 31010));
  EXPECT_TRUE(nothing_for(out, web));
  EXPECT_TRUE(nothing_for(out, desktop));
  EXPECT_EQ(h().sessions({.app = k_app, .user = "alice"}).size(), 3u);
}

TEST_F(HubTest, MultiDeviceAppNeverKicksAnotherDevice) {
  const auto a = login(k_multi, "alice", "phone-a");
  actions out;
  const auto b = try_login(k_multi, "alice", "phone-b", out);
  EXPECT_TRUE(accepted(out, b));
  EXPECT_TRUE(nothing_for(out, a));

  const auto c =
      try_login(k_multi, "alice", "phone-c", out, {.reconnect = true, .reconnect_kick = true});
  EXPECT_TRUE(accepted(out, c));
  EXPECT_TRUE(nothing_for(out, a));
  EXPECT_TRUE(nothing_for(out, b));
  EXPECT_EQ(h().counters().kicks, 0u);
}

TEST_F(HubTest, SameClientIdReplacesTheOldSessionUnderSingleDevicePolicy) {
  const auto old = login(k_app, "alice", "phone-a");
  actions out;
  const auto fresh = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(got_disconnect(out, old, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, fresh));
}

TEST_F(HubTest, SameClientIdReplacesTheOldSessionUnderMultiDevicePolicy) {
  const auto old = login(k_multi, "alice", "phone-a");
  actions out;
  const auto fresh = try_login(k_multi, "alice", "phone-a", out);
  EXPECT_TRUE(got_disconnect(out, old, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, fresh));
  EXPECT_EQ(h().sessions({.app = k_multi}).size(), 1u);
}

TEST_F(HubTest, ReconnectOfTheSameDeviceWithReconnectKickReplacesItsStaleSession) {
  // The device's old link is half-open; its own reconnect is not "another device".
  const auto old = login(k_app, "alice", "phone-a");
  actions out;
  const auto fresh =
      try_login(k_app, "alice", "phone-a", out, {.reconnect = true, .reconnect_kick = true});
  EXPECT_TRUE(got_disconnect(out, old, k_session_taken_over, 31010));
  EXPECT_TRUE(accepted(out, fresh));
}

TEST_F(HubTest, ReconnectWithReconnectKickSucceedsOnceTheOtherDeviceHasClosed) {
  const auto a = login(k_app, "alice", "phone-a");
  h().on_closed(a, "peer closed", k_t0 + 100);
  actions out;
  const auto b = try_login(k_app, "alice", "phone-b", out,
                           {.reconnect = true, .reconnect_kick = true}, k_t0 + 200);
  EXPECT_TRUE(accepted(out, b));
  EXPECT_EQ(out.size(), 1u) << summary(out);
}

TEST_F(HubTest, LoginOfAnotherUserKicksNobody) {
  const auto alice = login(k_app, "alice", "phone-a");
  actions out;
  const auto bob = try_login(k_app, "bob", "phone-b", out);
  EXPECT_TRUE(accepted(out, bob));
  EXPECT_TRUE(nothing_for(out, alice));
}

// --- admin and server API ------------------------------------------------------

TEST_F(HubTest, ClosedSessionLeavesTheTransportCountButNotTheAcceptedCounter) {
  const auto a = h().open(transport::wss, "192.0.2.1:1", k_t0);
  h().open(transport::wss, "192.0.2.1:2", k_t0);
  EXPECT_EQ(h().count_by_transport(transport::wss), 2u);
  h().on_closed(a, "peer closed", k_t0 + 1);
  h().on_closed(a, "closed twice", k_t0 + 2);  // ignored
  EXPECT_EQ(h().count_by_transport(transport::wss), 1u);
  EXPECT_EQ(h().counters().accepted[static_cast<std::size_t>(transport::wss)], 2u);
  EXPECT_EQ(h().session_count(), 1u);
}

TEST_F(HubTest, IsOnlineFollowsLoginAndClose) {
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  const auto id = login(k_app, "alice", "phone-a");
  EXPECT_TRUE(h().is_online(k_app, "alice"));
  EXPECT_FALSE(h().is_online(k_multi, "alice")) << "online is per app";
  h().on_closed(id, "peer closed", k_t0 + 1);
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_EQ(h().session_count(), 0u);
  EXPECT_EQ(events_of("closed").size(), 1u);
}

// The user and device indexes are keyed by a hash of app and name: two pairs with the
// same key are still different. App "app-multi" + 0x1f + "x" with name "y", and app
// "app-multi" with name "x" + 0x1f + "y", hash alike (the separator is 0x1f); a
// lookup that trusted the hash would take one for the other.
TEST_F(HubTest, ALookupComparesNamesNotJustTheirIndexKey) {
  const std::string split = std::string("x") + '\x1f' + "y";
  ASSERT_EQ(hub::index_key(k_colliding, "y"), hub::index_key(k_multi, split));
  const auto phone = login(k_multi, "alice", split);  // device "x" 0x1f "y"
  login(k_colliding, "y", "y");                        // user "y" on device "y"
  EXPECT_TRUE(is_connected(phone)) << "another app's device \"y\" took over the session";
  EXPECT_TRUE(h().is_online(k_colliding, "y"));
  EXPECT_FALSE(h().is_online(k_multi, split));
}

TEST_F(HubTest, DisconnectUserSends0x98With31009ToEveryDeviceOfThatUser) {
  const auto a = login(k_multi, "alice", "phone");
  const auto b = login(k_multi, "alice", "tablet");
  const auto bob = login(k_multi, "bob", "phone-b");

  const auto out = h().disconnect_user(k_multi, "alice", rc::code::conn_user_blocked, k_t0 + 1);
  EXPECT_TRUE(got_disconnect(out, a, k_administrative_action, 31009));
  EXPECT_TRUE(got_disconnect(out, b, k_administrative_action, 31009));
  EXPECT_TRUE(nothing_for(out, bob));
  EXPECT_FALSE(h().is_online(k_multi, "alice"));
  EXPECT_TRUE(h().is_online(k_multi, "bob"));
}

TEST_F(HubTest, KickWithAFilterHitsOnlyMatchingSessions) {
  const auto phone = login(k_multi, "alice", "phone");
  const auto tablet = login(k_multi, "alice", "tablet");
  const auto bob_tablet = login(k_multi, "bob", "tablet-b");
  const auto unconnected = open();

  auto out = h().kick({.app = k_multi, .user = "alice", .device = "tablet"}, rc::code::disconn_kick,
                      "test", k_t0 + 1);
  EXPECT_TRUE(got_disconnect(out, tablet, k_session_taken_over, 31010));
  EXPECT_EQ(out.size(), 1u) << summary(out);
  EXPECT_TRUE(is_connected(phone));
  EXPECT_TRUE(is_connected(bob_tablet));

  out = h().kick({.session = bob_tablet}, rc::code::disconn_kick, "test", k_t0 + 2);
  EXPECT_TRUE(got_disconnect(out, bob_tablet, k_session_taken_over, 31010));
  EXPECT_EQ(out.size(), 1u) << summary(out);
  EXPECT_TRUE(nothing_for(out, unconnected)) << "kick is for logged-in sessions";
  EXPECT_EQ(h().counters().kicks, 2u);
}

TEST_F(HubTest, DropWithDisconnectSendsTheReasonAndCloses) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out =
      h().drop({.user = "alice"}, hub::drop_how::with_disconnect, k_unspecified_error, k_t0 + 1);
  EXPECT_TRUE(got_disconnect(out, id, k_unspecified_error, std::nullopt));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, DropWithoutDisconnectOnlyCloses) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out =
      h().drop({.user = "alice"}, hub::drop_how::silently, k_unspecified_error, k_t0 + 1);
  EXPECT_TRUE(sends(out, id, "close"));
}

// Actions hold their packet out of line: a drop-all of N sessions makes N actions
// that send nothing, and with the packet in place each was 1.2 KB (a CONNECT's size).
static_assert(sizeof(action) <= 64, "an action holds its packet out of line");

// A copied action has a packet of its own (the sim and delayed actions copy them).
TEST(PacketSlot, ACopyOwnsItsOwnPacket) {
  action a{.session = 7, .send = mqtt::pingresp{}};
  action b = a;
  ASSERT_TRUE(b.send);
  EXPECT_NE(&*a.send, &*b.send);
  *b.send = mqtt::disconnect{};
  EXPECT_TRUE(std::holds_alternative<mqtt::pingresp>(*a.send));
  EXPECT_TRUE(std::holds_alternative<mqtt::disconnect>(*b.send));
  action c;
  EXPECT_FALSE(c.send);
  c = b;
  EXPECT_TRUE(std::holds_alternative<mqtt::disconnect>(*c.send));
  action d = std::move(c);
  EXPECT_TRUE(d.send);
}

TEST_F(HubTest, DropWithAResetClosesAtOnceWithTheResetFlag) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out = h().drop({.user = "alice"}, hub::drop_how::reset, k_unspecified_error, k_t0 + 1);
  ASSERT_EQ(out.size(), 1u) << summary(out);
  EXPECT_EQ(out.front().session, id);
  EXPECT_TRUE(out.front().close);
  EXPECT_TRUE(out.front().reset);
  EXPECT_FALSE(out.front().send.has_value());
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, DropOfASessionWithoutLoginOnlyClosesEvenWithDisconnect) {
  const auto id = open();
  const auto out =
      h().drop({.session = id}, hub::drop_how::with_disconnect, k_unspecified_error, k_t0 + 1);
  EXPECT_TRUE(sends(out, id, "close"));
}

TEST_F(HubTest, ShutdownSends0x8BWith31003ToLoggedInSessionsAndClosesTheRest) {
  const auto a = login(k_app, "alice", "phone-a");
  const auto b = login(k_multi, "bob", "phone-b");
  const auto unconnected = open();

  const auto out = h().shutdown(k_t0 + 1);
  EXPECT_TRUE(got_disconnect(out, a, k_shutting_down, 31003));
  EXPECT_TRUE(got_disconnect(out, b, k_shutting_down, 31003));
  EXPECT_TRUE(sends(out, unconnected, "close"));
  EXPECT_EQ(out.size(), 3u) << summary(out);
  EXPECT_EQ(h().connected_count(), 0u);
  EXPECT_EQ(events_of("shutdown").size(), 1u);
}

TEST_F(HubTest, SlowReaderIsCountedAndLeavesTheOnlineList) {
  const auto id = login(k_app, "alice", "phone-a");
  h().on_slow_reader(id, k_t0 + 1);
  EXPECT_EQ(h().counters().slow_reader_drops, 1u);
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_TRUE(send(id, mqtt::pingreq{}, k_t0 + 2).empty());
}

// --- keep alive and CONNECT timeout -----------------------------------------------

TEST_F(HubTest, SilenceForOneAndAHalfKeepAlivesGetsDisconnect0x8D) {
  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 10});  // deadline +15 s
  EXPECT_TRUE(h().tick(k_t0 + 14'999).empty());

  const auto out = h().tick(k_t0 + 15'000);
  EXPECT_TRUE(got_disconnect(out, id, k_keep_alive_timeout, std::nullopt));
  EXPECT_EQ(h().counters().keep_alive_timeouts, 1u);
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_TRUE(h().tick(k_t0 + 30'000).empty()) << "one timeout per session";
}

TEST_F(HubTest, PingreqGetsPingresp) {
  const auto id = login(k_app, "alice", "phone-a");
  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 1), id, "PINGRESP"));
}

TEST_F(HubTest, PingreqJustBeforeTheDeadlinePushesIt) {
  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 10});
  ASSERT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 14'999), id, "PINGRESP"));
  EXPECT_TRUE(h().tick(k_t0 + 15'000).empty());
  EXPECT_TRUE(h().tick(k_t0 + 14'999 + 14'999).empty());
  EXPECT_TRUE(
      got_disconnect(h().tick(k_t0 + 14'999 + 15'000), id, k_keep_alive_timeout, std::nullopt));
}

TEST_F(HubTest, ClampedKeepAliveSetsTheDeadline) {
  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 0});  // raised to 5 s
  EXPECT_TRUE(h().tick(k_t0 + 7'499).empty());
  EXPECT_TRUE(got_disconnect(h().tick(k_t0 + 7'500), id, k_keep_alive_timeout, std::nullopt));
}

TEST_F(HubTest, KeepAliveZeroAllowedByTheConfigMeansNoKeepAliveCheck) {
  auto config = test_config();
  config.limits.keep_alive_min_s = 0;
  restart(config);
  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out, {.keep_alive = 0});
  ASSERT_TRUE(accepted(out, id));
  EXPECT_FALSE(find_connack(out, id)->props.server_keep_alive.has_value()) << "not changed";
  EXPECT_TRUE(h().tick(k_t0).empty());
  EXPECT_TRUE(h().tick(k_t0 + 86'400'000).empty()) << "MQTT: keep alive 0 turns it off";

  h().blackhole({.session = id}, true, false, k_t0 + 1);
  h().blackhole({.session = id}, false, false, k_t0 + 2);
  EXPECT_TRUE(h().tick(k_t0 + 86'400'000).empty()) << "nor does a blackhole release";
}

TEST_F(HubTest, ASweepThatFoundNothingDueStillSeesAnEarlierDeadlineSetAfterIt) {
  // The sweep skips the sessions until the earliest deadline it knows of. Deadlines set
  // after a sweep that are earlier than that one must still be met: a new connection's
  // CONNECT timeout, a ping that shortens a deadline a delayed CONNACK had pushed, a
  // blackhole's release.
  const auto slow = login(k_app, "alice", "phone-a", {.keep_alive = 600});  // +900 s
  EXPECT_TRUE(h().tick(k_t0 + 1'000).empty());  // a sweep: next deadline at +900 s
  const auto quiet = open(k_t0 + 2'000);        // CONNECT timeout at +12 s
  EXPECT_TRUE(h().tick(k_t0 + 11'999).empty());
  EXPECT_TRUE(sends(h().tick(k_t0 + 12'000), quiet, "close"));

  const auto held = login(k_app, "bob", "phone-b", {.keep_alive = 10});  // +15 s from k_t0
  h().blackhole({.session = held}, true, false, k_t0 + 13'000);
  EXPECT_TRUE(h().tick(k_t0 + 20'000).empty()) << "blackholed: no keep-alive check";
  h().blackhole({.session = held}, false, false, k_t0 + 21'000);  // deadline +15 s from now
  EXPECT_TRUE(h().tick(k_t0 + 35'999).empty());
  EXPECT_TRUE(got_disconnect(h().tick(k_t0 + 36'000), held, k_keep_alive_timeout, std::nullopt));
  EXPECT_TRUE(h().is_online(k_app, "alice")) << slow;
}

TEST_F(HubTest, ConnectTimeoutClosesASessionThatNeverSentConnectWithoutReply) {
  const auto id = open(k_t0);
  EXPECT_TRUE(h().tick(k_t0 + 9'999).empty());
  const auto out = h().tick(k_t0 + 10'000);
  EXPECT_TRUE(sends(out, id, "close"));
  EXPECT_EQ(h().counters().connect_timeouts, 1u);
  EXPECT_EQ(events_of("timeout").size(), 1u);
}

TEST_F(HubTest, ConnectInTimeCancelsTheConnectTimeout) {
  const auto id = open(k_t0);
  ASSERT_TRUE(accepted(
      send(id, connect_packet(k_app, token_for(k_app, "alice"), "phone-a", {.keep_alive = 600}),
           k_t0 + 9'999),
      id));
  EXPECT_TRUE(h().tick(k_t0 + 10'000).empty());
}

TEST_F(HubTest, BlackholedSessionIgnoresPacketsAndNeverTimesOut) {
  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 10});
  h().blackhole({.user = "alice"}, true, false, k_t0 + 1);

  EXPECT_TRUE(send(id, mqtt::pingreq{}, k_t0 + 2).empty()) << "no PINGRESP";
  EXPECT_TRUE(send(id, publish_packet("t", 1, 1), k_t0 + 3).empty()) << "no PUBACK";
  EXPECT_EQ(h().counters().packets_in, 3u) << "packets are still read";
  EXPECT_TRUE(h().tick(k_t0 + 3'600'000).empty());
  const auto view = h().sessions({.session = id});
  ASSERT_EQ(view.size(), 1u);
  EXPECT_TRUE(view[0].blackholed);
  EXPECT_TRUE(view[0].connected);
}

TEST_F(HubTest, ReleasingABlackholeRestoresTheKeepAliveDeadline) {
  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 10});
  h().blackhole({.session = id}, true, false, k_t0 + 1);
  const std::int64_t release = k_t0 + 3'600'000;
  h().blackhole({.session = id}, false, false, release);

  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, release), id, "PINGRESP"));
  EXPECT_TRUE(h().tick(release + 14'999).empty());
  EXPECT_TRUE(got_disconnect(h().tick(release + 15'000), id, k_keep_alive_timeout, std::nullopt));
}

TEST_F(HubTest, BlackholeWithIncludeNewCatchesSessionsOpenedAfterwards) {
  const auto before = login(k_app, "alice", "phone-a");
  h().blackhole({.user = "nobody"}, true, true, k_t0 + 1);
  EXPECT_TRUE(sends(send(before, mqtt::pingreq{}, k_t0 + 2), before, "PINGRESP"))
      << "the filter matched no existing session";

  const auto later = open(k_t0 + 2);
  EXPECT_TRUE(
      send(later, connect_packet(k_app, token_for(k_app, "bob"), "phone-b"), k_t0 + 3).empty())
      << "no CONNACK";
  EXPECT_TRUE(nothing_for(h().tick(k_t0 + 3'600'000), later)) << "no CONNECT timeout either";
  EXPECT_TRUE(h().sessions({.session = later}).at(0).blackholed);

  // Release with include_new: the caught session gets a fresh CONNECT timeout and
  // new sessions are answered again.
  h().blackhole({}, false, true, k_t0 + 3'600'000);
  EXPECT_TRUE(sends(h().tick(k_t0 + 3'610'000), later, "close"));
  const auto fresh = open(k_t0 + 3'610'000);
  EXPECT_TRUE(accepted(
      send(fresh, connect_packet(k_app, token_for(k_app, "bob"), "phone-b"), k_t0 + 3'610'000),
      fresh));
}

// --- PUBLISH / SUBSCRIBE -------------------------------------------------------

TEST_F(HubTest, Qos1PublishWithoutSubscriberGetsPuback0x10) {
  const auto id = login(k_multi, "alice", "phone");
  EXPECT_TRUE(sends(send(id, publish_packet("chat/1", 1, 7)), id, "PUBACK 0x10"));
}

TEST_F(HubTest, Qos0PublishGetsNoAnswer) {
  const auto id = login(k_multi, "alice", "phone");
  EXPECT_TRUE(send(id, publish_packet("chat/1", 0, 0)).empty());
}

TEST_F(HubTest, SubscribeGrantsQosCappedAtOne) {
  const auto id = login(k_multi, "alice", "phone");
  const auto out = send(id, subscribe_packet(3, {{"a/b", 0}, {"c/+", 1}, {"d/#", 2}}));
  EXPECT_TRUE(sends(out, id, "SUBACK [0x00 0x01 0x01]"));
  const auto& ack = std::get<mqtt::suback>(*out.at(0).send);
  EXPECT_EQ(ack.packet_id, 3);
}

TEST_F(HubTest, SubscribeWithAnInvalidFilterGets0x8FForThatFilter) {
  const auto id = login(k_multi, "alice", "phone");
  const auto out =
      send(id, subscribe_packet(4, {{"a/b#", 1}, {"a+/b", 1}, {"ok/+", 1}, {"#/a", 1}, {"", 1}}));
  EXPECT_TRUE(sends(out, id, "SUBACK [0x8F 0x8F 0x01 0x8F 0x8F]"));
}

TEST_F(HubTest, Qos1PublishRoutedToAMatchingSubscriberGetsPuback0) {
  const auto sub = login(k_multi, "bob", "phone-b");
  ASSERT_TRUE(sends(send(sub, subscribe_packet(1, {{"chat/+/room", 1}})), sub, "SUBACK [0x01]"));
  const auto other = login(k_multi, "carol", "phone-c");
  ASSERT_TRUE(sends(send(other, subscribe_packet(1, {{"news", 1}})), other, "SUBACK [0x01]"));
  const auto pub = login(k_multi, "alice", "phone-a");

  mqtt::publish p;
  p.topic = "chat/42/room";
  p.qos = 1;
  p.packet_id = 9;
  p.payload = "hi bob";
  p.props.user_properties.emplace_back("k", "v");
  const auto out = send(pub, std::move(p));

  EXPECT_TRUE(sends(out, pub, "PUBACK 0x00"));
  EXPECT_TRUE(sends(out, sub, "PUBLISH chat/42/room"));
  EXPECT_TRUE(nothing_for(out, other));
  const auto* copy = find_publish(out, sub);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->payload, "hi bob");
  EXPECT_EQ(user_property(copy->props, "k"), "v");
  EXPECT_EQ(copy->qos, 0);
}

TEST_F(HubTest, PlusAndHashWildcardsMatchAsMqttSays) {
  const auto plus = login(k_multi, "bob", "b");
  ASSERT_TRUE(sends(send(plus, subscribe_packet(1, {{"a/+", 0}})), plus, "SUBACK [0x00]"));
  const auto hash = login(k_multi, "carol", "c");
  ASSERT_TRUE(sends(send(hash, subscribe_packet(1, {{"a/#", 0}})), hash, "SUBACK [0x00]"));
  const auto pub = login(k_multi, "alice", "a");

  auto out = send(pub, publish_packet("a/x", 0, 0));
  EXPECT_TRUE(sends(out, plus, "PUBLISH a/x"));
  EXPECT_TRUE(sends(out, hash, "PUBLISH a/x"));

  out = send(pub, publish_packet("a/x/y", 0, 0));
  EXPECT_TRUE(nothing_for(out, plus)) << "+ is one level";
  EXPECT_TRUE(sends(out, hash, "PUBLISH a/x/y"));

  out = send(pub, publish_packet("a", 0, 0));
  EXPECT_TRUE(nothing_for(out, plus));
  EXPECT_TRUE(sends(out, hash, "PUBLISH a")) << "a/# also matches its parent level";

  out = send(pub, publish_packet("b/x", 1, 2));
  EXPECT_TRUE(sends(out, pub, "PUBACK 0x10"));
  EXPECT_EQ(out.size(), 1u) << summary(out);
}

TEST_F(HubTest, PublishIsNotRoutedToSubscribersOfAnotherApp) {
  const auto sub = login(k_multi, "bob", "phone-b");
  ASSERT_TRUE(sends(send(sub, subscribe_packet(1, {{"#", 1}})), sub, "SUBACK [0x01]"));
  const auto pub = login(k_app, "alice", "phone-a");
  const auto out = send(pub, publish_packet("chat/1", 1, 5));
  EXPECT_TRUE(sends(out, pub, "PUBACK 0x10"));
  EXPECT_TRUE(nothing_for(out, sub));
}

TEST_F(HubTest, UnsubscribeGivesZeroForAFilterItHadAnd0x11OtherwiseAndStopsRouting) {
  const auto sub = login(k_multi, "bob", "phone-b");
  ASSERT_TRUE(sends(send(sub, subscribe_packet(1, {{"chat/#", 1}})), sub, "SUBACK [0x01]"));
  const auto out = send(sub, unsubscribe_packet(2, {"chat/#", "never/subscribed"}));
  EXPECT_TRUE(sends(out, sub, "UNSUBACK [0x00 0x11]"));

  const auto pub = login(k_multi, "alice", "phone-a");
  const auto routed = send(pub, publish_packet("chat/1", 1, 5));
  EXPECT_TRUE(sends(routed, pub, "PUBACK 0x10"));
  EXPECT_TRUE(nothing_for(routed, sub));
}

TEST_F(HubTest, DisconnectFromTheClientClosesTheSession) {
  const auto id = login(k_app, "alice", "phone-a");
  const auto out = send(id, mqtt::disconnect{});
  EXPECT_TRUE(sends(out, id, "close"));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_EQ(events_of("disconnect").size(), 1u);
}

// --- faults -----------------------------------------------------------------------

fault_rule connect_rule(fault_action what = fault_action::refuse) {
  fault_rule r;
  r.on = fault_trigger::connect;
  r.action = what;
  return r;
}

TEST_F(HubTest, FaultRefuseNextTwoRefusesExactlyTwoThenConnectsNormally) {
  auto r = connect_rule();
  r.code = rc::code::conn_server_unavailable;
  r.times = 2;
  h().faults().add(r);

  actions out;
  const auto a = try_login(k_multi, "alice", "d1", out);
  EXPECT_TRUE(refused(out, a, k_server_unavailable, rc::code::conn_server_unavailable));
  const auto b = try_login(k_multi, "alice", "d2", out);
  EXPECT_TRUE(refused(out, b, k_server_unavailable, rc::code::conn_server_unavailable));
  const auto c = try_login(k_multi, "alice", "d3", out);
  EXPECT_TRUE(accepted(out, c));
  EXPECT_TRUE(h().faults().rules().empty()) << "a used-up rule is removed";
  EXPECT_EQ(h().counters().faults_fired, 2u);
}

TEST_F(HubTest, FaultEveryThirdConnectIsRefused) {
  auto r = connect_rule();
  r.every = 3;
  r.times = 0;
  r.code = rc::code::concurrent_limit_error;
  h().faults().add(r);

  std::string pattern;
  for (int i = 0; i < 7; ++i) {
    actions out;
    const auto id = try_login(k_multi, "alice", "d" + std::to_string(i), out);
    pattern += accepted(out, id)                                                      ? '.'
               : refused(out, id, k_quota_exceeded, rc::code::concurrent_limit_error) ? 'x'
                                                                                      : '?';
  }
  EXPECT_EQ(pattern, "..x..x.");
}

TEST_F(HubTest, FaultWithProbabilityIsDeterministicForAFixedSeed) {
  auto run = [&](std::uint64_t seed) {
    restart(test_config(), seed);
    auto r = connect_rule();
    r.probability = 0.5;
    r.times = 0;
    h().faults().add(r);
    std::string pattern;
    for (int i = 0; i < 32; ++i) {
      actions out;
      const auto id = try_login(k_multi, "alice", "d" + std::to_string(i), out);
      pattern += accepted(out, id) ? '.' : 'x';
    }
    return pattern;
  };
  const auto first = run(42);
  EXPECT_EQ(run(42), first);
  EXPECT_NE(first.find('x'), std::string::npos) << first;
  EXPECT_NE(first.find('.'), std::string::npos) << first;
}

TEST_F(HubTest, FaultDelayAddsDelayToTheConnack) {
  auto r = connect_rule(fault_action::delay);
  r.delay_ms = 2'500;
  h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(sends(out, id, "CONNACK 0x00 +2500ms"));
  EXPECT_EQ(h().counters().faults_fired, 1u);
  EXPECT_EQ(events_of("fault").size(), 1u);
}

TEST_F(HubTest, FaultDelayLongerThanKeepAliveStartsTheKeepAliveAtTheConnack) {
  // The client cannot ping before it has its CONNACK: the server must not time it
  // out (DISCONNECT before CONNACK) while the CONNACK is held back.
  auto r = connect_rule(fault_action::delay);
  r.delay_ms = 20'000;
  h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out, {.keep_alive = 10});
  ASSERT_TRUE(sends(out, id, "CONNACK 0x00 +20000ms"));
  EXPECT_TRUE(h().tick(k_t0 + 15'000).empty());
  EXPECT_TRUE(h().tick(k_t0 + 20'000 + 14'999).empty());
  EXPECT_TRUE(
      got_disconnect(h().tick(k_t0 + 20'000 + 15'000), id, k_keep_alive_timeout, std::nullopt));
}

TEST_F(HubTest, FaultDropOnConnackSendsConnackThenCloses) {
  fault_rule r;
  r.on = fault_trigger::connack;
  r.action = fault_action::drop;
  r.send_disconnect = false;
  h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(sends(out, id, "CONNACK 0x00; close"));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, FaultDropOnConnackWithDisconnectSendsConnackThenDisconnect) {
  fault_rule r;
  r.on = fault_trigger::connack;
  r.action = fault_action::drop;
  r.send_disconnect = true;
  h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(sends(out, id, "CONNACK 0x00; DISCONNECT 0x80 close"));
}

TEST_F(HubTest, FaultBlackholeOnConnectSendsNoConnackAndNeverTimesOut) {
  h().faults().add(connect_rule(fault_action::blackhole));
  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(out.empty()) << summary(out);
  EXPECT_TRUE(h().tick(k_t0 + 3'600'000).empty());
  const auto view = h().sessions({.session = id});
  ASSERT_EQ(view.size(), 1u);
  EXPECT_TRUE(view[0].blackholed);
  EXPECT_FALSE(view[0].connected);
}

TEST_F(HubTest, FaultOnTheNthPacketDropsTheSession) {
  fault_rule r;
  r.on = fault_trigger::packet;
  r.action = fault_action::drop;
  r.nth = 3;  // docs/admin-api.md: CONNECT is packet 1
  r.send_disconnect = false;
  h().faults().add(r);

  const auto id = login(k_app, "alice", "phone-a");
  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 1), id, "PINGRESP"));  // packet 2
  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 2), id, "close"));     // packet 3
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, FaultOnTheNthPacketKicksWithItsCode) {
  fault_rule r;
  r.on = fault_trigger::packet;
  r.action = fault_action::kick;
  r.nth = 2;  // the first packet after CONNECT
  r.code = rc::code::disconn_kick;
  h().faults().add(r);

  const auto id = login(k_app, "alice", "phone-a");
  EXPECT_TRUE(got_disconnect(send(id, mqtt::pingreq{}, k_t0 + 1), id, k_session_taken_over, 31010));
  EXPECT_EQ(h().counters().kicks, 1u);
  EXPECT_FALSE(h().is_online(k_app, "alice"));
}

TEST_F(HubTest, FaultPacketCountIncludesTheConnectSoNthOneNeverFires) {
  // As docs/admin-api.md says; the CONNECT is answered before packet rules are asked.
  fault_rule r;
  r.on = fault_trigger::packet;
  r.action = fault_action::drop;
  r.nth = 1;
  h().faults().add(r);

  const auto id = login(k_app, "alice", "phone-a");
  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 1), id, "PINGRESP"));
  EXPECT_EQ(h().faults().rules().size(), 1u);
}

TEST_F(HubTest, FaultKickOnConnackSendsConnackThenDisconnect31010) {
  fault_rule r;
  r.on = fault_trigger::connack;
  r.action = fault_action::kick;
  r.code = rc::code::disconn_kick;
  h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  EXPECT_TRUE(sends(out, id, "CONNACK 0x00; DISCONNECT 0x8E rc-code=31010 close"));
  EXPECT_FALSE(h().is_online(k_app, "alice"));
  EXPECT_EQ(h().counters().kicks, 1u);
}

TEST_F(HubTest, FaultBlackholeOnTheNthPacketSilencesTheSessionFromThen) {
  fault_rule r;
  r.on = fault_trigger::packet;
  r.action = fault_action::blackhole;
  r.nth = 3;  // CONNECT is packet 1
  h().faults().add(r);

  const auto id = login(k_app, "alice", "phone-a", {.keep_alive = 10});
  EXPECT_TRUE(sends(send(id, mqtt::pingreq{}, k_t0 + 1), id, "PINGRESP"));
  EXPECT_TRUE(send(id, mqtt::pingreq{}, k_t0 + 2).empty());
  EXPECT_TRUE(send(id, mqtt::pingreq{}, k_t0 + 3).empty());
  EXPECT_TRUE(h().tick(k_t0 + 3'600'000).empty());
  EXPECT_TRUE(h().is_online(k_app, "alice")) << "the TCP connection stays";
}

TEST_F(HubTest, FaultFiltersByUserAndDevice) {
  auto by_user = connect_rule();
  by_user.user = "bob";
  by_user.times = 0;
  h().faults().add(by_user);
  auto by_device = connect_rule();
  by_device.device = "cursed-phone";
  by_device.code = rc::code::conn_user_blocked;
  by_device.times = 0;
  h().faults().add(by_device);

  actions out;
  auto id = try_login(k_multi, "alice", "phone-a", out);
  EXPECT_TRUE(accepted(out, id));
  id = try_login(k_multi, "bob", "phone-b", out);
  EXPECT_TRUE(refused(out, id, k_server_unavailable, rc::code::conn_server_unavailable));
  id = try_login(k_multi, "alice", "cursed-phone", out);
  EXPECT_TRUE(refused(out, id, k_banned_reason, rc::code::conn_user_blocked));
}

TEST_F(HubTest, FaultWithTimesZeroFiresEveryTime) {
  auto r = connect_rule();
  r.times = 0;
  h().faults().add(r);
  for (int i = 0; i < 5; ++i) {
    actions out;
    const auto id = try_login(k_multi, "alice", "d" + std::to_string(i), out);
    EXPECT_TRUE(refused(out, id, k_server_unavailable, rc::code::conn_server_unavailable))
        << "attempt " << i;
  }
  EXPECT_EQ(h().faults().rules().size(), 1u);
  EXPECT_EQ(h().counters().faults_fired, 5u);
}

TEST_F(HubTest, FiredFaultIsLoggedAndCounted) {
  auto r = connect_rule();
  r.code = rc::code::conn_server_unavailable;
  const auto rule_id = h().faults().add(r);

  actions out;
  const auto id = try_login(k_app, "alice", "phone-a", out);
  ASSERT_TRUE(refused(out, id, k_server_unavailable, rc::code::conn_server_unavailable));
  EXPECT_EQ(h().counters().faults_fired, 1u);
  EXPECT_EQ(connects_with(31003), 1u);
  const auto faults = events_of("fault");
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].session, id);
  EXPECT_EQ(faults[0].code, 31003);
  EXPECT_NE(faults[0].detail.find("rule " + std::to_string(rule_id)), std::string::npos)
      << faults[0].detail;
}

// --- event log -------------------------------------------------------------------

event make_event(event_kind kind, std::int64_t t_ms = 0) {
  event e;
  e.kind = kind;
  e.t_ms = t_ms;
  return e;
}

std::vector<std::uint64_t> seqs(const std::vector<event>& events) {
  std::vector<std::uint64_t> out;
  out.reserve(events.size());
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

TEST(EventLogTest, SinceReturnsOnlyLaterEventsInOrder) {
  event_log log;
  EXPECT_EQ(log.add(make_event(event_kind::admin)), 1u);
  EXPECT_EQ(log.add(make_event(event_kind::kick)), 2u);
  EXPECT_EQ(log.add(make_event(event_kind::drop)), 3u);

  EXPECT_EQ(seqs(log.since(0)), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(seqs(log.since(1)), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_TRUE(log.since(3).empty());
  EXPECT_TRUE(log.since(99).empty());
  EXPECT_EQ(seqs(log.since(0, 2)), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(log.since(1).at(0).kind, event_kind::kick);
  EXPECT_EQ(log.last_seq(), 3u);
}

TEST(EventLogTest, BoundedLogDropsTheOldestAndKeepsSequenceNumbers) {
  event_log log(3);
  for (const auto k : {event_kind::admin, event_kind::kick, event_kind::drop, event_kind::ping,
                       event_kind::fault}) {
    log.add(make_event(k));
  }
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.last_seq(), 5u);
  EXPECT_EQ(seqs(log.since(0)), (std::vector<std::uint64_t>{3, 4, 5}))
      << "a reader sees the gap 1..2";
  EXPECT_EQ(seqs(log.since(3)), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(log.since(0).at(0).kind, event_kind::drop);
}

TEST(EventLogTest, ListenerSeesEachEventWithItsSequenceNumber) {
  event_log log;
  std::vector<std::uint64_t> heard;
  log.add_listener([&](const event& e) { heard.push_back(e.seq); });
  log.add(make_event(event_kind::admin));
  log.add(make_event(event_kind::kick));
  EXPECT_EQ(heard, (std::vector<std::uint64_t>{1, 2}));
}

event full_event() {
  event e;
  e.seq = 12;
  e.t_ms = 12'345;
  e.kind = event_kind::connect;
  e.session = 7;
  e.app = "app";
  e.user = "alice";
  e.device = "phone";
  e.transport = "tcp";
  e.code = 31004;
  e.detail = "refused RC_CONN_TOKEN_INCORRECT: token refused";
  return e;
}

TEST(EventLogTest, KeptEventsComeBackWithEveryField) {
  event_log log;
  auto e = full_event();
  e.detail += std::string(300, 'x');  // past any small-string buffer
  log.add(e);
  auto bare = make_event(event_kind::shutdown, 1'000);  // no strings, no transport
  bare.code = -1;
  log.add(bare);
  for (const auto t : {transport::tls, transport::ws, transport::wss}) {
    auto with = make_event(event_kind::accept);
    with.transport = to_string(t);
    log.add(with);
  }
  const auto kept = log.since(0);
  ASSERT_EQ(kept.size(), 5u);
  EXPECT_EQ(kept[0].seq, 1u);
  EXPECT_EQ(kept[0].t_ms, e.t_ms);
  EXPECT_EQ(kept[0].kind, e.kind);
  EXPECT_EQ(kept[0].session, e.session);
  EXPECT_EQ(kept[0].app, e.app);
  EXPECT_EQ(kept[0].user, e.user);
  EXPECT_EQ(kept[0].device, e.device);
  EXPECT_EQ(kept[0].transport, "tcp");
  EXPECT_EQ(kept[0].code, e.code);
  EXPECT_EQ(kept[0].detail, e.detail);
  EXPECT_EQ(kept[1].kind, event_kind::shutdown);
  EXPECT_EQ(kept[1].code, -1);
  EXPECT_TRUE(kept[1].app.empty() && kept[1].user.empty() && kept[1].device.empty() &&
              kept[1].detail.empty() && kept[1].transport.empty());
  EXPECT_EQ(kept[2].transport, "tls");
  EXPECT_EQ(kept[3].transport, "ws");
  EXPECT_EQ(kept[4].transport, "wss");
}

TEST(EventLogTest, BytesCountTheKeptRecordsAndTheirTextOnly) {
  event_log log(2);
  EXPECT_EQ(log.bytes(), 0u);
  auto e = make_event(event_kind::connect);
  e.app = "app";
  e.user = "alice";
  e.device = "phone";
  e.detail = "ok";
  log.add(e);
  const auto one = log.bytes();
  EXPECT_GT(one, 15u);  // the 15 bytes of text and a record
  EXPECT_LE(one, 15u + 64u) << "a compact record, not an event with four strings";
  log.add(e);
  EXPECT_EQ(log.bytes(), 2 * one);
  log.add(e);  // the first goes
  EXPECT_EQ(log.bytes(), 2 * one);
  e.detail = "a longer detail";
  log.add(e);
  EXPECT_EQ(log.bytes(), 2 * one + 13);
}

// The text lives in 64 KiB blocks that go as the events do: a full log that keeps
// turning over holds a bounded number of them, and a text longer than a block gets
// one of its own, which goes with its event.
TEST(EventLogTest, TextBlocksGoWithTheirEvents) {
  event_log log(100);
  auto e = make_event(event_kind::connect);
  e.app = "imock-demo-key";
  e.device = "dev-0-12345";
  e.detail = "accepted, single device";
  for (int i = 0; i < 100'000; ++i) {
    e.user = "user-0-" + std::to_string(i);
    log.add(e);
  }
  EXPECT_LE(log.text_block_bytes(), 2u * 64 * 1024) << "blocks of dropped events were kept";
  const auto kept = log.since(0);
  ASSERT_EQ(kept.size(), 100u);
  EXPECT_EQ(kept.front().user, "user-0-99900");
  EXPECT_EQ(kept.back().user, "user-0-99999");
  EXPECT_EQ(kept.back().detail, e.detail);

  auto big = e;
  big.detail.assign(200'000, 'd');  // longer than a block
  log.add(big);
  EXPECT_GE(log.text_block_bytes(), 200'000u);
  EXPECT_EQ(log.since(log.last_seq() - 1).at(0).detail, big.detail);
  for (int i = 0; i < 200; ++i) log.add(e);  // the long one is dropped
  EXPECT_LE(log.text_block_bytes(), 2u * 64 * 1024) << "the long text's block was kept";
  EXPECT_EQ(log.since(0).back().detail, e.detail);
}

TEST(EventLogTest, ToTextCarriesTheFields) {
  EXPECT_EQ(to_text(full_event()),
            "12.345 connect #7 app/alice/phone tcp code=31004 "
            "refused RC_CONN_TOKEN_INCORRECT: token refused");
  EXPECT_EQ(to_text(make_event(event_kind::shutdown, 1'000)), "1.000 shutdown");
}

TEST(EventLogTest, ToJsonCarriesTheFields) {
  const auto v = boost::json::parse(to_json(full_event()));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("seq").to_number<std::uint64_t>(), 12u);
  EXPECT_EQ(o.at("t_ms").to_number<std::int64_t>(), 12'345);
  EXPECT_EQ(o.at("kind").as_string(), "connect");
  EXPECT_EQ(o.at("session").to_number<std::uint64_t>(), 7u);
  EXPECT_EQ(o.at("app").as_string(), "app");
  EXPECT_EQ(o.at("user").as_string(), "alice");
  EXPECT_EQ(o.at("device").as_string(), "phone");
  EXPECT_EQ(o.at("transport").as_string(), "tcp");
  EXPECT_EQ(o.at("code").to_number<int>(), 31004);
  EXPECT_EQ(o.at("detail").as_string(), "refused RC_CONN_TOKEN_INCORRECT: token refused");
}

TEST_F(HubTest, EventLogTellsASessionsStoryInOrder) {
  const auto id = login(k_app, "alice", "phone-a");
  h().on_closed(id, "peer closed", k_t0 + 5);
  std::vector<std::string> kinds;
  for (const auto& e : h().events().since(0)) {
    if (e.session == id) kinds.emplace_back(k_event_kind_names.of(e.kind));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"accept", "connect", "closed"}));
  EXPECT_EQ(h().events().since(0).back().t_ms, k_t0 + 5);
}

}  // namespace
}  // namespace imock::server

namespace imock::server {
namespace {

// Every code the server can send, as a kick of a connected session (DISCONNECT) and as a
// refused connect (CONNACK): the reason code must be legal in that packet (MQTT 5
// §3.2.2.2, §3.14.2.1), or a strict client library rejects the packet.
TEST_F(HubTest, EveryServerCodeTravelsWithAReasonCodeLegalInItsPacket) {
  int walked = 0;
  for (const auto& row : rc::all_codes()) {
    if (row.from != rc::origin::server) continue;
    ++walked;
    const std::string device = "walk-" + std::to_string(static_cast<int>(row.value));
    const auto id = login(k_multi, "walker", device);
    const auto kicked = h().kick({.session = id}, row.value, "walk", k_t0 + 1);
    ASSERT_EQ(kicked.size(), 1u) << row.name;
    const auto* d = std::get_if<mqtt::disconnect>(&*kicked.front().send);
    ASSERT_NE(d, nullptr) << row.name;
    EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::disconnect, d->reason))
        << row.name << " in DISCONNECT: " << static_cast<int>(d->reason);

    h().faults().add({.on = fault_trigger::connect,
                      .action = fault_action::refuse,
                      .device = device,
                      .code = row.value});
    session_id refused_id = 0;
    const auto out = connect_with(refused_id, k_multi, token_for(k_multi, "walker"), device);
    ASSERT_FALSE(out.empty()) << row.name;
    const auto* ack = std::get_if<mqtt::connack>(&*out.front().send);
    ASSERT_NE(ack, nullptr) << row.name;
    EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::connack, ack->reason))
        << row.name << " in CONNACK: " << static_cast<int>(ack->reason);
  }
  EXPECT_GE(walked, 15);
}

}  // namespace
}  // namespace imock::server
