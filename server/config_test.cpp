#include "imock/server/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace imock::server {
namespace {

namespace fs = std::filesystem;

// The whole error line, or a marker when the text parsed: assertions compare one string.
std::string error_of(std::string_view yaml) {
  config_error error;
  if (parse_config(yaml, "x.yaml", error)) {
    return "(parsed without error)";
  }
  return error.to_string();
}

server_config parse_ok(std::string_view yaml) {
  config_error error;
  auto config = parse_config(yaml, "x.yaml", error);
  EXPECT_TRUE(config.has_value()) << error.to_string();
  return config.value_or(server_config{});
}

// Field by field, so a failure names the field rather than dumping two structs.
void expect_same(const server_config& got, const server_config& want) {
  ASSERT_EQ(got.apps.size(), want.apps.size());
  for (std::size_t i = 0; i < got.apps.size(); ++i) {
    SCOPED_TRACE("app " + std::to_string(i));
    EXPECT_EQ(got.apps[i].key, want.apps[i].key);
    EXPECT_EQ(got.apps[i].secret, want.apps[i].secret);
    EXPECT_EQ(to_string(got.apps[i].state), to_string(want.apps[i].state));
    EXPECT_EQ(got.apps[i].token_lifetime_ms, want.apps[i].token_lifetime_ms);
    EXPECT_EQ(to_string(got.apps[i].policy), to_string(want.apps[i].policy));
    EXPECT_EQ(static_cast<int>(got.apps[i].revoked_token_code),
              static_cast<int>(want.apps[i].revoked_token_code));
    EXPECT_EQ(got.apps[i].max_users, want.apps[i].max_users);
  }
  ASSERT_EQ(got.users.size(), want.users.size());
  for (std::size_t i = 0; i < got.users.size(); ++i) {
    SCOPED_TRACE("user " + std::to_string(i));
    EXPECT_EQ(got.users[i].app_key, want.users[i].app_key);
    EXPECT_EQ(got.users[i].user_id, want.users[i].user_id);
    EXPECT_EQ(got.users[i].name, want.users[i].name);
    EXPECT_EQ(got.users[i].portrait_uri, want.users[i].portrait_uri);
    EXPECT_EQ(got.users[i].blocked_until_ms, want.users[i].blocked_until_ms);
  }
  const auto& gl = got.limits;
  const auto& wl = want.limits;
  EXPECT_EQ(gl.max_connections, wl.max_connections);
  EXPECT_EQ(gl.max_packet_size, wl.max_packet_size);
  EXPECT_EQ(gl.connect_timeout_ms, wl.connect_timeout_ms);
  EXPECT_EQ(gl.keep_alive_min_s, wl.keep_alive_min_s);
  EXPECT_EQ(gl.keep_alive_max_s, wl.keep_alive_max_s);
  EXPECT_EQ(gl.outbound_queue_bytes, wl.outbound_queue_bytes);
  EXPECT_EQ(gl.event_log_capacity, wl.event_log_capacity);
  EXPECT_EQ(gl.api_rate_limit_per_s, wl.api_rate_limit_per_s);
  EXPECT_EQ(gl.connect_rate_limit_per_s, wl.connect_rate_limit_per_s);
  EXPECT_EQ(gl.signature_window_ms, wl.signature_window_ms);
  EXPECT_EQ(gl.replay_protection, wl.replay_protection);
  const auto& gn = got.listen;
  const auto& wn = want.listen;
  EXPECT_EQ(gn.mqtt, wn.mqtt);
  EXPECT_EQ(gn.http, wn.http);
  EXPECT_EQ(gn.mqtts, wn.mqtts);
  EXPECT_EQ(gn.https, wn.https);
  EXPECT_EQ(gn.tls_cert, wn.tls_cert);
  EXPECT_EQ(gn.tls_key, wn.tls_key);
  EXPECT_EQ(gn.tls_self_signed, wn.tls_self_signed);
  EXPECT_EQ(gn.accept_queues, wn.accept_queues);
  EXPECT_EQ(gn.navigation, wn.navigation);
  EXPECT_EQ(got.navigation.servers, want.navigation.servers);
  EXPECT_EQ(got.navigation.cache_lifetime_ms, want.navigation.cache_lifetime_ms);
  const auto& gm = got.messages;
  const auto& wm = want.messages;
  EXPECT_EQ(gm.retention_ms, wm.retention_ms);
  EXPECT_EQ(gm.max_stored_per_user, wm.max_stored_per_user);
  EXPECT_EQ(gm.package_size, wm.package_size);
  EXPECT_EQ(gm.multi_device_sync, wm.multi_device_sync);
  EXPECT_EQ(gm.client_send_rate_per_s, wm.client_send_rate_per_s);
  EXPECT_EQ(gm.api_recipients_per_min, wm.api_recipients_per_min);
  EXPECT_EQ(gm.max_content_bytes, wm.max_content_bytes);
  // Catches a field added to a struct (and to operator==) but not to this list.
  EXPECT_TRUE(got == want);
}

// A folder of its own per test (and per process, for parallel ctest runs), removed after.
class scratch_dir {
 public:
  scratch_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("imock-config-test-" + std::to_string(::getpid()) + "-" +
                                         info->test_suite_name() + "-" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  [[nodiscard]] const fs::path& path() const { return path_; }

  fs::path write(const fs::path& relative, std::string_view text) const {
    auto file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  fs::path path_;
};

// --- what parses -------------------------------------------------------------------------

TEST(ConfigParse, FullSchemaFillsEveryField) {
  const auto config = parse_ok(R"(
apps:
  - key: app-one
    secret: s1
    state: blocked
    token_lifetime: 1.5h
    login_policy: multi_device
    revoked_token_code: 31004
    max_users: 100
  - key: app_two
    secret: s2
    state: deleted
users:
  - app: app-one
    id: alice
    name: Alice
    portrait_uri: https://example.com/a.png
    blocked_for: 10m
  - app: app_two
    id: bob+=_-1
limits:
  max_connections: 100
  max_packet_size: 128
  connect_timeout: 250ms
  keep_alive_min: 10s
  keep_alive_max: 2m
  outbound_queue: 1MiB
  event_log: 5000
  api_rate_limit: 50
  connect_rate_limit: 7
  signature_window: 30
  replay_protection: false
listen:
  mqtt: 0.0.0.0:0
  http: "[::1]:8080"
  mqtts: localhost:18831
  https: 127.0.0.1:443
  tls_cert: /etc/imock/cert.pem
  tls_key: /etc/imock/key.pem
  navigation: [127.0.0.1:0, "[::1]:18090"]
navigation:
  servers: [mqtt://10.0.0.2:1883, "wss://im.example.com/mqtt"]
  cache_lifetime: 10m
messages:
  retention: 36h
  max_stored_per_user: 50
  package_size: 20
  multi_device_sync: true
  client_send_rate_per_s: 0
  api_recipients_per_min: 120
  max_content_bytes: 4KiB
)");
  server_config want;
  app_config one;
  one.key = "app-one";
  one.secret = "s1";
  one.state = app_state::blocked;
  one.token_lifetime_ms = std::int64_t{90} * 60 * 1000;
  one.policy = login_policy::multi_device;
  one.revoked_token_code = rc::code::conn_token_incorrect;
  one.max_users = 100;
  app_config two;
  two.key = "app_two";
  two.secret = "s2";
  two.state = app_state::deleted;
  want.apps = {one, two};
  want.users = {
      user_config{"app-one", "alice", "Alice", "https://example.com/a.png",
                  std::int64_t{10} * 60 * 1000},
      user_config{"app_two", "bob+=_-1", "", "", 0},
  };
  want.limits.max_connections = 100;
  want.limits.max_packet_size = 128;
  want.limits.connect_timeout_ms = 250;
  want.limits.keep_alive_min_s = 10;
  want.limits.keep_alive_max_s = 120;
  want.limits.outbound_queue_bytes = std::size_t{1024} * 1024;
  want.limits.event_log_capacity = 5000;
  want.limits.api_rate_limit_per_s = 50;
  want.limits.connect_rate_limit_per_s = 7;
  want.limits.signature_window_ms = 30'000;
  want.limits.replay_protection = false;
  want.listen.mqtt = "0.0.0.0:0";
  want.listen.http = "[::1]:8080";
  want.listen.mqtts = "localhost:18831";
  want.listen.https = "127.0.0.1:443";
  want.listen.tls_cert = fs::path("/etc/imock/cert.pem");
  want.listen.tls_key = fs::path("/etc/imock/key.pem");
  want.listen.navigation = {"127.0.0.1:0", "[::1]:18090"};
  want.navigation.servers = {{"mqtt://10.0.0.2:1883", "wss://im.example.com/mqtt"}};
  want.navigation.cache_lifetime_ms = 600'000;
  want.messages.retention_ms = std::int64_t{36} * 60 * 60 * 1000;
  want.messages.max_stored_per_user = 50;
  want.messages.package_size = 20;
  want.messages.multi_device_sync = true;
  want.messages.client_send_rate_per_s = 0;
  want.messages.api_recipients_per_min = 120;
  want.messages.max_content_bytes = 4096;
  expect_same(config, want);
}

TEST(ConfigParse, NavigationDefaultsToTheOwnListenersForTwoHours) {
  const auto c = parse_ok("");
  EXPECT_FALSE(c.navigation.servers.has_value());
  EXPECT_EQ(c.navigation.cache_lifetime_ms, 2 * 60 * 60 * 1000);
  EXPECT_TRUE(c.listen.navigation.empty());
}

TEST(ConfigParse, NavigationTakesAnEmptyListAndALifetimeOfZero) {
  const auto c = parse_ok("navigation:\n  servers: []\n  cache_lifetime: 0\n");
  ASSERT_TRUE(c.navigation.servers.has_value());
  EXPECT_TRUE(c.navigation.servers->empty()) << "no node: every answer lists none (30007)";
  EXPECT_EQ(c.navigation.cache_lifetime_ms, 0);
}

TEST(ConfigParse, EmptyDocumentIsTheDefaultConfig) {
  expect_same(parse_ok(""), default_config());
  expect_same(parse_ok("# only a comment\n"), default_config());
}

TEST(ConfigParse, AbsentKeysKeepTheirDefaults) {
  const auto config = parse_ok(R"(
limits:
  max_connections: 7
listen:
  http: 127.0.0.1:0
)");
  auto want = default_config();  // the demo app stays: `apps` is absent
  want.limits.max_connections = 7;
  want.listen.http = "127.0.0.1:0";
  expect_same(config, want);
}

TEST(ConfigParse, AppFieldsDefaultWhenOnlyKeyAndSecretAreGiven) {
  const auto config = parse_ok("apps:\n  - key: k\n    secret: s\n");
  server_config want;
  app_config app;
  app.key = "k";
  app.secret = "s";
  want.apps.push_back(app);
  expect_same(config, want);
  EXPECT_EQ(config.apps[0].revoked_token_code, rc::code::conn_token_expire);
}

TEST(ConfigParse, EmptyAppListMeansNoApps) { EXPECT_TRUE(parse_ok("apps: []\n").apps.empty()); }

TEST(ConfigParse, SectionWithEverythingCommentedOutCountsAsAbsent) {
  expect_same(parse_ok("apps:\nusers:\nlimits:\n  # max_connections: 5\nlisten:\n"),
              default_config());
}

TEST(ConfigParse, ByteSizesTakeBKiBAndMiB) {
  EXPECT_EQ(parse_ok("limits: {outbound_queue: 4096}").limits.outbound_queue_bytes, 4096U);
  EXPECT_EQ(parse_ok("limits: {outbound_queue: 10B}").limits.outbound_queue_bytes, 10U);
  EXPECT_EQ(parse_ok("limits: {outbound_queue: 3KiB}").limits.outbound_queue_bytes, 3072U);
  EXPECT_EQ(parse_ok("limits: {outbound_queue: 2MiB}").limits.outbound_queue_bytes,
            2U * 1024 * 1024);
}

TEST(ConfigParse, SelfSignedTlsNeedsNoCertificateFiles) {
  const auto config = parse_ok("listen:\n  mqtts: 127.0.0.1:0\n  tls_self_signed: true\n");
  EXPECT_EQ(config.listen.mqtts, "127.0.0.1:0");
  EXPECT_TRUE(config.listen.tls_self_signed);
  EXPECT_FALSE(config.listen.tls_cert.has_value());
}

TEST(ConfigParse, AcceptQueuesAreOneToSixtyFour) {
  EXPECT_EQ(parse_ok("listen: {accept_queues: 1}").listen.accept_queues, 1U);
  EXPECT_EQ(parse_ok("listen: {accept_queues: 64}").listen.accept_queues, 64U);
  EXPECT_EQ(parse_ok("listen: {}").listen.accept_queues, 4U);
  EXPECT_EQ(error_of("listen:\n  accept_queues: 0\n"),
            "x.yaml:2:18: bad integer '0' for accept_queues (expected 1..64)");
  EXPECT_EQ(error_of("listen:\n  accept_queues: 65\n"),
            "x.yaml:2:18: bad integer '65' for accept_queues (expected 1..64)");
}

TEST(ConfigParse, EventLogKeepsOneHundredToTenMillionEvents) {
  EXPECT_EQ(parse_ok("limits: {}").limits.event_log_capacity, 100'000U);
  EXPECT_EQ(parse_ok("limits: {event_log: 100}").limits.event_log_capacity, 100U);
  EXPECT_EQ(parse_ok("limits: {event_log: 10000000}").limits.event_log_capacity, 10'000'000U);
  EXPECT_EQ(error_of("limits:\n  event_log: 99\n"),
            "x.yaml:2:14: bad integer '99' for event_log (expected 100..10000000)");
}

TEST(ConfigDefault, YamlTextParsesToTheDefaultConfig) {
  config_error error;
  const auto config = parse_config(default_config_yaml(), "default", error);
  ASSERT_TRUE(config) << error.to_string();
  expect_same(*config, default_config());
}

TEST(ConfigDefault, HasTheDemoAppAndNoUsers) {
  const auto config = default_config();
  ASSERT_EQ(config.apps.size(), 1U);
  const auto& app = config.apps[0];
  EXPECT_EQ(app.key, "imock-demo-key");
  EXPECT_EQ(app.secret, "imock-demo-secret");
  EXPECT_EQ(app.state, app_state::active);
  EXPECT_EQ(app.token_lifetime_ms, 0);
  EXPECT_EQ(app.policy, login_policy::single_mobile_device);
  EXPECT_EQ(app.revoked_token_code, rc::code::conn_token_expire);
  EXPECT_TRUE(config.users.empty());
  EXPECT_EQ(config.find_app("imock-demo-key"), &config.apps[0]);
  EXPECT_EQ(config.find_app("imock-demo"), nullptr);
}

TEST(ConfigDefault, EnumNamesAreTheConfigSpellings) {
  EXPECT_EQ(to_string(app_state::active), "active");
  EXPECT_EQ(to_string(app_state::blocked), "blocked");
  EXPECT_EQ(to_string(app_state::deleted), "deleted");
  EXPECT_EQ(to_string(login_policy::single_mobile_device), "single_mobile_device");
  EXPECT_EQ(to_string(login_policy::multi_device), "multi_device");
}

// docs/server-config.md quotes the default config; this keeps the quote current.
TEST(ConfigDefault, DocsQuoteTheDefaultConfig) {
  const auto doc = fs::path(__FILE__).parent_path().parent_path() / "docs" / "server-config.md";
  std::ifstream in(doc);
  if (!in) {
    GTEST_SKIP() << "no " << doc << " next to the sources";
  }
  std::ostringstream text;
  text << in.rdbuf();
  const auto block = "```yaml\n" + std::string(default_config_yaml()) + "```\n";
  EXPECT_NE(text.str().find(block), std::string::npos)
      << doc << " should quote default_config_yaml() verbatim in a ```yaml block";
}

// --- errors: each names file:line:column and what was expected ----------------------------

TEST(ConfigErrors, UnknownTopLevelKeyNamesItsPosition) {
  EXPECT_EQ(error_of("limits:\n  max_connections: 10\nlistne:\n  mqtt: 127.0.0.1:1\n"),
            "x.yaml:3:1: unknown key 'listne' at the top level "
            "(expected one of: apps, users, limits, listen, navigation, messages)");
}

TEST(ConfigErrors, UnknownAppKeyListsTheAppKeys) {
  EXPECT_EQ(error_of("apps:\n  - key: k1\n    secrte: s\n"),
            "x.yaml:3:5: unknown key 'secrte' in app (expected one of: key, secret, state, "
            "token_lifetime, login_policy, revoked_token_code, max_users)");
}

TEST(ConfigErrors, UnknownLimitsKeyListsTheLimits) {
  EXPECT_EQ(error_of("limits:\n  max_connections: 10\n  keepalive_max: 60s\n"),
            "x.yaml:3:3: unknown key 'keepalive_max' in limits (expected one of: "
            "max_connections, max_packet_size, connect_timeout, keep_alive_min, keep_alive_max, "
            "outbound_queue, event_log, api_rate_limit, connect_rate_limit, signature_window, "
            "replay_protection)");
}

TEST(ConfigErrors, UnknownUserAndListenKeysAreRefused) {
  EXPECT_EQ(error_of("users:\n  - app: imock-demo-key\n    id: a\n    nick: A\n"),
            "x.yaml:4:5: unknown key 'nick' in user "
            "(expected one of: app, id, name, portrait_uri, blocked_for)");
  EXPECT_EQ(error_of("listen:\n  ws: 127.0.0.1:1\n"),
            "x.yaml:2:3: unknown key 'ws' in listen (expected one of: mqtt, http, mqtts, https, "
            "tls_cert, tls_key, tls_self_signed, accept_queues, admin_token, navigation)");
}

TEST(ConfigErrors, UnknownNavigationKeyListsTheNavigationKeys) {
  EXPECT_EQ(error_of("navigation:\n  cache: 1h\n"),
            "x.yaml:2:3: unknown key 'cache' in navigation "
            "(expected one of: servers, cache_lifetime)");
  EXPECT_EQ(error_of("navigation: [mqtt://a:1]\n"),
            "x.yaml:1:13: expected a map of navigation settings, got a list");
}

TEST(ConfigErrors, NavigationServerThatIsNoServerUrlIsRefusedWhereItIs) {
  EXPECT_EQ(error_of("navigation:\n  servers:\n    - mqtt://a:1\n    - http://b:80\n"),
            "x.yaml:4:7: bad server URL 'http://b:80': scheme must be mqtt, mqtts, ws or wss in "
            "servers (expected e.g. mqtt://10.0.0.2:1883, mqtts://im.example.com:8883, "
            "ws://10.0.0.2:8080/mqtt)");
  EXPECT_EQ(error_of("navigation:\n  servers: mqtt://a:1\n"),
            "x.yaml:2:12: expected a list of server URLs for servers, got 'mqtt://a:1'");
  EXPECT_EQ(error_of("navigation:\n  servers: [[mqtt://a:1]]\n"),
            "x.yaml:2:13: expected a server URL (e.g. mqtt://10.0.0.2:1883, "
            "mqtts://im.example.com:8883, ws://10.0.0.2:8080/mqtt) for servers, got a list");
}

TEST(ConfigErrors, NavigationCacheLifetimeIsWholeSeconds) {
  EXPECT_EQ(error_of("navigation:\n  cache_lifetime: 1500ms\n"),
            "x.yaml:2:19: bad duration '1500ms' for cache_lifetime (expected whole seconds, e.g. "
            "0, 90s, 10m, 2h)");
  EXPECT_NE(error_of("navigation:\n  cache_lifetime: 1.5s\n"), "(parsed without error)");
  EXPECT_EQ(parse_ok("navigation:\n  cache_lifetime: 1.5m\n").navigation.cache_lifetime_ms, 90'000);
}

TEST(ConfigErrors, NavigationListenAddressesAreAddresses) {
  EXPECT_EQ(error_of("listen:\n  navigation: [127.0.0.1:0, nowhere]\n"),
            "x.yaml:2:29: bad address 'nowhere' for navigation: no port "
            "(expected HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:18830 or [::1]:18830)");
  EXPECT_EQ(error_of("listen:\n  navigation: 127.0.0.1:0\n"),
            "x.yaml:2:15: expected a list of addresses for navigation, got '127.0.0.1:0'");
}

TEST(ConfigFile, AdminTokenIsReadAndMayNotBeEmpty) {
  EXPECT_EQ(parse_ok("listen:\n  http: 0.0.0.0:1\n  admin_token: s3cret\n").listen.admin_token,
            "s3cret");
  EXPECT_TRUE(parse_ok("listen:\n  http: 127.0.0.1:1\n").listen.admin_token.empty());
  EXPECT_NE(error_of("listen:\n  admin_token: \"\"\n").find("x.yaml:2:16"), std::string::npos)
      << error_of("listen:\n  admin_token: \"\"\n");
}

TEST(ConfigErrors, RepeatedKeyInAMapIsRefused) {
  EXPECT_EQ(error_of("limits:\n  max_connections: 1\n  max_connections: 2\n"),
            "x.yaml:3:3: duplicate key 'max_connections' in limits (first at line 2)");
}

TEST(ConfigErrors, StringWhereIntegerIsExpected) {
  EXPECT_EQ(error_of("limits:\n  max_connections: lots\n"),
            "x.yaml:2:20: bad integer 'lots' for max_connections (expected 1..4294967295)");
  EXPECT_EQ(error_of("limits:\n  max_connections: [1]\n"),
            "x.yaml:2:20: expected an integer 1..4294967295 for max_connections, got a list");
  EXPECT_EQ(error_of("limits:\n  max_connections: -5\n"),
            "x.yaml:2:20: bad integer '-5' for max_connections (expected 1..4294967295)");
}

TEST(ConfigErrors, IntegerOutOfRangeGivesTheRange) {
  EXPECT_EQ(error_of("limits:\n  max_packet_size: 127\n"),
            "x.yaml:2:20: bad integer '127' for max_packet_size (expected 128..268435455)");
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\n    max_users: 4294967296\n"),
            "x.yaml:4:16: bad integer '4294967296' for max_users (expected 0..4294967295)");
}

TEST(ConfigErrors, ValueLeftEmptyPointsAtItsKey) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret:\n    state: active\n"),
            "x.yaml:3:5: expected a non-empty string for secret, got nothing");
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: ''\n"),
            "x.yaml:3:13: empty secret (expected a non-empty string)");
}

TEST(ConfigErrors, WrongSectionTypeSaysWhatWasFound) {
  EXPECT_EQ(error_of("# apps\napps:\n  key: k\n"),
            "x.yaml:3:3: expected a list of apps, got a map");
  EXPECT_EQ(error_of("limits: [1, 2]\n"), "x.yaml:1:9: expected a map of limits, got a list");
  EXPECT_EQ(error_of("- apps\n"),
            "x.yaml:1:1: expected a map with keys apps, users, limits, listen, navigation, "
            "messages at the top level, got a list");
  EXPECT_EQ(error_of("apps:\n  - imock\n"),
            "x.yaml:2:5: expected an app (a map with keys key, secret, state, token_lifetime, "
            "login_policy, revoked_token_code, max_users), got 'imock'");
}

TEST(ConfigErrors, BadDurationQuotesItAndGivesExamples) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\n    token_lifetime: 10 parsecs\n"),
            "x.yaml:4:21: bad duration '10 parsecs' for token_lifetime "
            "(expected e.g. 250ms, 1.5s, 2m, 1h, 7d)");
  EXPECT_EQ(error_of("limits:\n  connect_timeout: 0\n"),
            "x.yaml:2:20: bad duration '0' for connect_timeout "
            "(expected more than 0, e.g. 250ms, 1.5s, 2m, 1h, 7d)");
}

TEST(ConfigErrors, BadAppStateListsTheStates) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\n    state: paused\n"),
            "x.yaml:4:12: bad value 'paused' for state (expected one of: active, blocked, "
            "deleted)");
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\n    login_policy: any\n"),
            "x.yaml:4:19: bad value 'any' for login_policy "
            "(expected one of: single_mobile_device, multi_device)");
}

TEST(ConfigErrors, BadBooleanAcceptsOnlyTrueOrFalse) {
  EXPECT_EQ(error_of("limits:\n  replay_protection: yes\n"),
            "x.yaml:2:22: bad boolean 'yes' for replay_protection (expected true or false)");
}

TEST(ConfigErrors, AppWithoutSecretNamesTheAppsLine) {
  EXPECT_EQ(error_of("apps:\n  - key: good\n    secret: s\n  - key: lonely\n    state: active\n"),
            "x.yaml:4:5: app 'lonely' is missing required key 'secret'");
  EXPECT_EQ(error_of("apps:\n  - secret: s\n"), "x.yaml:2:5: app is missing required key 'key'");
}

TEST(ConfigErrors, BadAppKeyIsRefused) {
  EXPECT_EQ(error_of("apps:\n  - key: my.app\n    secret: s\n"),
            "x.yaml:2:10: bad app key 'my.app' (expected 1..32 bytes of A-Z a-z 0-9 _ -)");
  EXPECT_EQ(error_of("apps:\n  - key: " + std::string(33, 'k') + "\n    secret: s\n"),
            "x.yaml:2:10: bad app key '" + std::string(33, 'k') +
                "' (expected 1..32 bytes of A-Z a-z 0-9 _ -)");
}

TEST(ConfigErrors, DuplicateAppKeyPointsAtTheSecond) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: a\n  - key: k\n    secret: b\n"),
            "x.yaml:4:10: duplicate app key 'k' (first at line 2)");
}

TEST(ConfigErrors, UserNamingUnknownAppIsRefused) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\nusers:\n  - app: nope\n    id: alice\n"),
            "x.yaml:5:10: user 'alice' names unknown app 'nope' (expected one of the apps: k)");
}

TEST(ConfigParse, UsersAreCheckedAgainstAppsWhateverTheOrder) {
  const auto config = parse_ok("users:\n  - app: k\n    id: a\napps:\n  - key: k\n    secret: s\n");
  ASSERT_EQ(config.users.size(), 1U);
  EXPECT_EQ(config.users[0].app_key, "k");
}

TEST(ConfigErrors, InvalidUserIdIsRefused) {
  EXPECT_EQ(error_of("users:\n  - app: imock-demo-key\n    id: al ice\n"),
            "x.yaml:3:9: bad user id 'al ice' (expected 1..64 bytes of A-Z a-z 0-9 + = - _)");
  EXPECT_EQ(error_of("users:\n  - app: imock-demo-key\n"),
            "x.yaml:2:5: user is missing required key 'id'");
}

TEST(ConfigErrors, DuplicateUserInOneAppIsRefused) {
  EXPECT_EQ(error_of("users:\n  - app: imock-demo-key\n    id: a\n"
                     "  - app: imock-demo-key\n    id: a\n"),
            "x.yaml:5:9: duplicate user 'a' in app 'imock-demo-key' (first at line 3)");
}

TEST(ConfigErrors, RevokedTokenCode31005IsRefused) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n    secret: s\n    revoked_token_code: 31005\n"),
            "x.yaml:4:25: bad value '31005' for revoked_token_code (expected 31020 or 31004)");
}

TEST(ConfigErrors, KeepAliveMinAboveMaxIsRefused) {
  EXPECT_EQ(error_of("limits:\n  keep_alive_min: 700s\n  keep_alive_max: 600s\n"),
            "x.yaml:2:19: keep_alive_min 700s is greater than keep_alive_max 600s "
            "(expected min <= max)");
  // Against the default minimum, the file's line is the maximum's.
  EXPECT_EQ(error_of("limits:\n  keep_alive_max: 3s\n"),
            "x.yaml:2:19: keep_alive_min 5s (the default) is greater than keep_alive_max 3s "
            "(expected min <= max)");
}

TEST(ConfigErrors, KeepAliveMustBeWholeSecondsUpTo65535) {
  EXPECT_EQ(error_of("limits:\n  keep_alive_max: 1500ms\n"),
            "x.yaml:2:19: bad duration '1500ms' for keep_alive_max "
            "(expected whole seconds, at most 65535s, e.g. 5s, 10m)");
  EXPECT_EQ(error_of("limits:\n  keep_alive_max: 65536\n"),
            "x.yaml:2:19: bad duration '65536' for keep_alive_max "
            "(expected whole seconds, at most 65535s, e.g. 5s, 10m)");
  EXPECT_EQ(parse_ok("limits:\n  keep_alive_max: 65535s\n").limits.keep_alive_max_s, 65'535);
}

TEST(ConfigErrors, ListenAddressWithoutPortIsRefused) {
  EXPECT_EQ(error_of("listen:\n  mqtt: 127.0.0.1\n"),
            "x.yaml:2:9: bad address '127.0.0.1' for mqtt: no port "
            "(expected HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:18830 or [::1]:18830)");
  EXPECT_EQ(error_of("listen:\n  mqtt: '127.0.0.1:'\n"),
            "x.yaml:2:9: bad address '127.0.0.1:' for mqtt: no port "
            "(expected HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:18830 or [::1]:18830)");
}

TEST(ConfigErrors, ListenPortAbove65535IsRefused) {
  EXPECT_EQ(error_of("listen:\n  http: 127.0.0.1:70000\n"),
            "x.yaml:2:9: bad address '127.0.0.1:70000' for http: port 70000 is out of range "
            "(expected HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:18830 or [::1]:18830)");
}

TEST(ConfigErrors, Ipv6ListenAddressNeedsBrackets) {
  EXPECT_EQ(error_of("listen:\n  http: '::1:80'\n"),
            "x.yaml:2:9: bad address '::1:80' for http: an IPv6 address goes in brackets "
            "(expected HOST:PORT with PORT 0..65535, e.g. 127.0.0.1:18830 or [::1]:18830)");
  EXPECT_EQ(parse_ok("listen:\n  http: '[::]:0'\n").listen.http, "[::]:0");
}

TEST(ConfigErrors, TlsListenerWithoutCertificateIsRefused) {
  EXPECT_EQ(error_of("listen:\n  mqtts: 127.0.0.1:18831\n"),
            "x.yaml:2:3: a TLS listener needs a certificate (expected tls_cert and tls_key, or "
            "tls_self_signed: true)");
  EXPECT_EQ(error_of("listen:\n  tls_cert: c.pem\n"),
            "x.yaml:2:3: tls_cert and tls_key go together (expected both or neither)");
}

TEST(ConfigErrors, YamlSyntaxErrorGivesTheParsersPosition) {
  EXPECT_EQ(error_of("apps:\n  - key: k\n   secret: s\n"),
            "x.yaml:3:4: YAML syntax error: end of sequence not found");
  // An unquoted IPv6 address reads as a YAML list, hence the quotes in the docs.
  EXPECT_EQ(error_of("listen:\n  http: [::1]:8080\n"),
            "x.yaml:2:14: YAML syntax error: end of map not found");
}

TEST(ConfigErrors, HostileInputGivesAnErrorNotAnException) {
  // yaml-cpp's depth guard throws; parse_config must turn it into an error.
  config_error error;
  EXPECT_FALSE(parse_config(std::string(100'000, '['), "deep.yaml", error));
  EXPECT_EQ(error.where.rfind("deep.yaml", 0), 0U) << error.to_string();
  EXPECT_FALSE(parse_config("? [a]\n: 1\n", "x.yaml", error));
  EXPECT_EQ(error.to_string(), "x.yaml:1:3: expected a key name at the top level, got a list");
  EXPECT_FALSE(parse_config("just text", "x.yaml", error));
  EXPECT_EQ(error.to_string(),
            "x.yaml:1:1: expected a map with keys apps, users, limits, listen, navigation, "
            "messages at the top level, got 'just text'");
}

// --- messages ----------------------------------------------------------------------------

// "messages:\n  KEY: VALUE\n": the value starts at line 2, column KEY's length + 5.
std::string messages_error(std::string_view key, std::string_view value) {
  return error_of("messages:\n  " + std::string(key) + ": " + std::string(value) + "\n");
}

messages_config messages_ok(std::string_view key, std::string_view value) {
  return parse_ok("messages:\n  " + std::string(key) + ": " + std::string(value) + "\n").messages;
}

TEST(ConfigMessages, DefaultsAreTheSpecsValues) {
  const auto m = default_config().messages;
  EXPECT_EQ(m.retention_ms, std::int64_t{7} * 24 * 60 * 60 * 1000);
  EXPECT_EQ(m.max_stored_per_user, 10'000U);
  EXPECT_EQ(m.package_size, 200U);
  EXPECT_FALSE(m.multi_device_sync);
  EXPECT_EQ(m.client_send_rate_per_s, 5U);
  EXPECT_EQ(m.api_recipients_per_min, 6'000U);
  EXPECT_EQ(m.max_content_bytes, 131'072U);
}

TEST(ConfigMessages, EachKeyIsReadAndTheOthersKeepTheirDefaults) {
  struct one_key {
    std::string_view key;
    std::string_view value;
    void (*set)(messages_config&);
  };
  const one_key cases[] = {
      {"retention", "2d", [](messages_config& m) { m.retention_ms = 2 * 86'400'000; }},
      {"max_stored_per_user", "3", [](messages_config& m) { m.max_stored_per_user = 3; }},
      {"package_size", "50", [](messages_config& m) { m.package_size = 50; }},
      {"multi_device_sync", "true", [](messages_config& m) { m.multi_device_sync = true; }},
      {"client_send_rate_per_s", "0", [](messages_config& m) { m.client_send_rate_per_s = 0; }},
      {"api_recipients_per_min", "0", [](messages_config& m) { m.api_recipients_per_min = 0; }},
      {"max_content_bytes", "1000", [](messages_config& m) { m.max_content_bytes = 1000; }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.key) + ": " + std::string(c.value));
    auto want = default_config();  // the demo app and every other section stay
    c.set(want.messages);
    expect_same(parse_ok("messages:\n  " + std::string(c.key) + ": " + std::string(c.value) + "\n"),
                want);
  }
}

TEST(ConfigMessages, AbsentOrEmptySectionIsTheDefault) {
  EXPECT_TRUE(parse_ok("limits:\n  max_connections: 7\n").messages == default_config().messages);
  expect_same(parse_ok("messages:\n"), default_config());
  expect_same(parse_ok("messages:\n  # retention: 1d\n"), default_config());
  expect_same(parse_ok("messages: {}\n"), default_config());
}

TEST(ConfigMessages, RetentionIsOneSecondToSevenDays) {
  EXPECT_EQ(messages_ok("retention", "1s").retention_ms, 1'000);
  EXPECT_EQ(messages_ok("retention", "1000ms").retention_ms, 1'000);
  EXPECT_EQ(messages_ok("retention", "1").retention_ms, 1'000) << "a bare number is seconds";
  EXPECT_EQ(messages_ok("retention", "1.5m").retention_ms, 90'000);
  EXPECT_EQ(messages_ok("retention", "7d").retention_ms, 604'800'000);
  EXPECT_EQ(messages_ok("retention", "168h").retention_ms, 604'800'000);
  EXPECT_EQ(messages_error("retention", "999ms"),
            "x.yaml:2:14: bad duration '999ms' for retention (expected 1s..7d, e.g. 30s, 12h, 7d)");
  EXPECT_EQ(messages_error("retention", "604800001ms"),
            "x.yaml:2:14: bad duration '604800001ms' for retention "
            "(expected 1s..7d, e.g. 30s, 12h, 7d)");
  EXPECT_EQ(messages_error("retention", "8d"),
            "x.yaml:2:14: bad duration '8d' for retention (expected 1s..7d, e.g. 30s, 12h, 7d)");
  EXPECT_EQ(messages_error("retention", "0"),
            "x.yaml:2:14: bad duration '0' for retention (expected 1s..7d, e.g. 30s, 12h, 7d)");
  EXPECT_EQ(messages_error("retention", "a week"),
            "x.yaml:2:14: bad duration 'a week' for retention "
            "(expected 1s..7d, e.g. 30s, 12h, 7d)");
  EXPECT_EQ(
      messages_error("retention", "[7d]"),
      "x.yaml:2:14: expected a duration 1s..7d (e.g. 30s, 12h, 7d) for retention, got a list");
}

TEST(ConfigMessages, MaxStoredPerUserIsOneToAMillion) {
  EXPECT_EQ(messages_ok("max_stored_per_user", "1").max_stored_per_user, 1U);
  EXPECT_EQ(messages_ok("max_stored_per_user", "1000000").max_stored_per_user, 1'000'000U);
  EXPECT_EQ(messages_error("max_stored_per_user", "0"),
            "x.yaml:2:24: bad integer '0' for max_stored_per_user (expected 1..1000000)");
  EXPECT_EQ(messages_error("max_stored_per_user", "1000001"),
            "x.yaml:2:24: bad integer '1000001' for max_stored_per_user (expected 1..1000000)");
  EXPECT_EQ(messages_error("max_stored_per_user", "many"),
            "x.yaml:2:24: bad integer 'many' for max_stored_per_user (expected 1..1000000)");
}

TEST(ConfigMessages, PackageSizeIsOneToTwoHundred) {
  EXPECT_EQ(messages_ok("package_size", "1").package_size, 1U);
  EXPECT_EQ(messages_ok("package_size", "200").package_size, 200U);
  EXPECT_EQ(messages_error("package_size", "0"),
            "x.yaml:2:17: bad integer '0' for package_size (expected 1..200)");
  EXPECT_EQ(messages_error("package_size", "201"),
            "x.yaml:2:17: bad integer '201' for package_size (expected 1..200)");
  EXPECT_EQ(messages_error("package_size", "{n: 1}"),
            "x.yaml:2:17: expected an integer 1..200 for package_size, got a map");
}

TEST(ConfigMessages, MultiDeviceSyncIsTrueOrFalse) {
  EXPECT_TRUE(messages_ok("multi_device_sync", "true").multi_device_sync);
  EXPECT_FALSE(messages_ok("multi_device_sync", "false").multi_device_sync);
  EXPECT_EQ(messages_error("multi_device_sync", "on"),
            "x.yaml:2:22: bad boolean 'on' for multi_device_sync (expected true or false)");
  EXPECT_EQ(messages_error("multi_device_sync", "[true]"),
            "x.yaml:2:22: expected true or false for multi_device_sync, got a list");
}

TEST(ConfigMessages, ClientSendRateIsZeroToOneHundredThousand) {
  EXPECT_EQ(messages_ok("client_send_rate_per_s", "0").client_send_rate_per_s, 0U);
  EXPECT_EQ(messages_ok("client_send_rate_per_s", "100000").client_send_rate_per_s, 100'000U);
  EXPECT_EQ(messages_error("client_send_rate_per_s", "100001"),
            "x.yaml:2:27: bad integer '100001' for client_send_rate_per_s (expected 0..100000)");
  EXPECT_EQ(messages_error("client_send_rate_per_s", "-1"),
            "x.yaml:2:27: bad integer '-1' for client_send_rate_per_s (expected 0..100000)");
  EXPECT_EQ(messages_error("client_send_rate_per_s", "5.5"),
            "x.yaml:2:27: bad integer '5.5' for client_send_rate_per_s (expected 0..100000)");
}

TEST(ConfigMessages, ApiRecipientsPerMinuteIsZeroToTenMillion) {
  EXPECT_EQ(messages_ok("api_recipients_per_min", "0").api_recipients_per_min, 0U);
  EXPECT_EQ(messages_ok("api_recipients_per_min", "10000000").api_recipients_per_min, 10'000'000U);
  EXPECT_EQ(messages_error("api_recipients_per_min", "10000001"),
            "x.yaml:2:27: bad integer '10000001' for api_recipients_per_min "
            "(expected 0..10000000)");
  EXPECT_EQ(messages_error("api_recipients_per_min", "-1"),
            "x.yaml:2:27: bad integer '-1' for api_recipients_per_min (expected 0..10000000)");
}

TEST(ConfigMessages, MaxContentBytesIsOneByteToOneMebibyte) {
  EXPECT_EQ(messages_ok("max_content_bytes", "1").max_content_bytes, 1U);
  EXPECT_EQ(messages_ok("max_content_bytes", "1B").max_content_bytes, 1U);
  EXPECT_EQ(messages_ok("max_content_bytes", "128KiB").max_content_bytes, 131'072U);
  EXPECT_EQ(messages_ok("max_content_bytes", "1048576").max_content_bytes, 1'048'576U);
  EXPECT_EQ(messages_ok("max_content_bytes", "1MiB").max_content_bytes, 1'048'576U);
  EXPECT_EQ(messages_error("max_content_bytes", "0"),
            "x.yaml:2:22: bad byte size '0' for max_content_bytes (expected 1..1048576 bytes, "
            "with an optional B, KiB or MiB suffix, e.g. 131072, 128KiB, 1MiB)");
  EXPECT_EQ(messages_error("max_content_bytes", "1048577"),
            "x.yaml:2:22: bad byte size '1048577' for max_content_bytes (expected 1..1048576 "
            "bytes, with an optional B, KiB or MiB suffix, e.g. 131072, 128KiB, 1MiB)");
  EXPECT_EQ(messages_error("max_content_bytes", "1025KiB"),
            "x.yaml:2:22: bad byte size '1025KiB' for max_content_bytes (expected 1..1048576 "
            "bytes, with an optional B, KiB or MiB suffix, e.g. 131072, 128KiB, 1MiB)");
  EXPECT_EQ(messages_error("max_content_bytes", "128KB"),
            "x.yaml:2:22: bad byte size '128KB' for max_content_bytes (expected 1..1048576 "
            "bytes, with an optional B, KiB or MiB suffix, e.g. 131072, 128KiB, 1MiB)");
  EXPECT_EQ(messages_error("max_content_bytes", "[1]"),
            "x.yaml:2:22: expected a byte size 1..1048576 bytes (e.g. 131072, 128KiB, 1MiB) for "
            "max_content_bytes, got a list");
}

TEST(ConfigMessages, UnknownKeyListsTheMessagesKeys) {
  EXPECT_EQ(error_of("messages:\n  package_size: 10\n  retension: 1d\n"),
            "x.yaml:3:3: unknown key 'retension' in messages (expected one of: retention, "
            "max_stored_per_user, package_size, multi_device_sync, client_send_rate_per_s, "
            "api_recipients_per_min, max_content_bytes)");
  EXPECT_EQ(error_of("messages:\n  package_size: 10\n  package_size: 20\n"),
            "x.yaml:3:3: duplicate key 'package_size' in messages (first at line 2)");
}

TEST(ConfigMessages, WrongSectionTypeOrEmptyValueIsRefused) {
  EXPECT_EQ(error_of("messages: [retention]\n"),
            "x.yaml:1:11: expected a map of message settings, got a list");
  EXPECT_EQ(error_of("messages: 7d\n"),
            "x.yaml:1:11: expected a map of message settings, got '7d'");
  EXPECT_EQ(error_of("messages:\n  package_size:\n  retention: 1d\n"),
            "x.yaml:2:3: expected an integer 1..200 for package_size, got nothing");
}

TEST(ConfigMessages, DefaultYamlHasALiveMessagesSection) {
  // The round trip (ConfigDefault.YamlTextParsesToTheDefaultConfig) would pass with the
  // section left out; an edited copy of the text shows it is there and read.
  std::string yaml(default_config_yaml());
  const std::string_view line = "  package_size: 200 ";
  const auto at = yaml.find(line);
  ASSERT_NE(at, std::string::npos) << yaml;
  yaml.replace(at, line.size(), "  package_size: 7   ");
  auto want = default_config();
  want.messages.package_size = 7;
  expect_same(parse_ok(yaml), want);
}

TEST(ConfigMessages, ScenarioSectionReportsPositionsInTheScenarioFile) {
  const auto scenario = YAML::Load(
      "name: demo\nserver:\n  messages:\n    multi_device_sync: true\n"
      "    package_size: 201\n");
  config_error error;
  EXPECT_FALSE(parse_config_node(scenario["server"], "s.yaml", error));
  EXPECT_EQ(error.to_string(), "s.yaml:5:19: bad integer '201' for package_size (expected 1..200)");
  const auto ok = YAML::Load("server:\n  messages: {multi_device_sync: true, retention: 1h}\n");
  const auto config = parse_config_node(ok["server"], "s.yaml", error);
  ASSERT_TRUE(config) << error.to_string();
  EXPECT_TRUE(config->messages.multi_device_sync);
  EXPECT_EQ(config->messages.retention_ms, 3'600'000);
  EXPECT_EQ(config->messages.package_size, 200U);
}

// --- files and scenario sections ---------------------------------------------------------

TEST(ConfigFile, MissingFileNamesThePathAndTheReason) {
  const scratch_dir dir;
  const auto file = dir.path() / "absent.yaml";
  config_error error;
  EXPECT_FALSE(load_config(file, error));
  EXPECT_EQ(error.where, file.string());
  EXPECT_EQ(error.message, "cannot open the config file: No such file or directory");
}

TEST(ConfigFile, DirectoryIsNotAConfigFile) {
  const scratch_dir dir;
  config_error error;
  EXPECT_FALSE(load_config(dir.path(), error));
  EXPECT_EQ(error.where, dir.path().string());
  EXPECT_EQ(error.message, "cannot read the config file: Is a directory");
}

TEST(ConfigFile, ErrorsNameTheFilesPath) {
  const scratch_dir dir;
  const auto file = dir.write("bad.yaml", "limits:\n  max_connections: lots\n");
  config_error error;
  EXPECT_FALSE(load_config(file, error));
  EXPECT_EQ(error.to_string(), file.string() +
                                   ":2:20: bad integer 'lots' for max_connections "
                                   "(expected 1..4294967295)");
}

TEST(ConfigFile, RelativeTlsPathsResolveAgainstTheFilesFolder) {
  const scratch_dir dir;
  const auto file = dir.write("conf/server.yaml",
                              "listen:\n"
                              "  mqtts: 127.0.0.1:0\n"
                              "  tls_cert: certs/server.pem\n"
                              "  tls_key: ../keys/server.key\n");
  config_error error;
  const auto config = load_config(file, error);
  ASSERT_TRUE(config) << error.to_string();
  EXPECT_EQ(config->listen.tls_cert, dir.path() / "conf" / "certs" / "server.pem");
  EXPECT_EQ(config->listen.tls_key, dir.path() / "keys" / "server.key");
}

TEST(ConfigFile, AbsoluteTlsPathsAreKept) {
  const scratch_dir dir;
  const auto file =
      dir.write("server.yaml", "listen:\n  tls_cert: /srv/c.pem\n  tls_key: /srv/k.pem\n");
  config_error error;
  const auto config = load_config(file, error);
  ASSERT_TRUE(config) << error.to_string();
  EXPECT_EQ(config->listen.tls_cert, fs::path("/srv/c.pem"));
  EXPECT_EQ(config->listen.tls_key, fs::path("/srv/k.pem"));
}

TEST(ConfigFile, TextTlsPathsResolveAgainstTheCurrentFolder) {
  const auto config = parse_ok("listen:\n  tls_cert: c.pem\n  tls_key: k.pem\n");
  EXPECT_EQ(config.listen.tls_cert, fs::current_path() / "c.pem");
  EXPECT_EQ(config.listen.tls_key, fs::current_path() / "k.pem");
}

TEST(ConfigFile, ScenarioSectionReportsPositionsInTheScenarioFile) {
  const auto scenario = YAML::Load("name: demo\nserver:\n  limits:\n    bogus: 1\n");
  config_error error;
  EXPECT_FALSE(parse_config_node(scenario["server"], "s.yaml", error));
  EXPECT_EQ(error.to_string(),
            "s.yaml:4:5: unknown key 'bogus' in limits (expected one of: max_connections, "
            "max_packet_size, connect_timeout, keep_alive_min, keep_alive_max, outbound_queue, "
            "event_log, api_rate_limit, connect_rate_limit, signature_window, replay_protection)");
}

TEST(ConfigFile, ScenarioSectionResolvesTlsPathsAgainstTheGivenFolder) {
  const auto scenario = YAML::Load("server:\n  listen:\n    tls_cert: c.pem\n    tls_key: k.pem\n");
  config_error error;
  const auto config = parse_config_node(scenario["server"], "s.yaml", "/scenarios/tls", error);
  ASSERT_TRUE(config) << error.to_string();
  EXPECT_EQ(config->listen.tls_cert, fs::path("/scenarios/tls/c.pem"));
}

TEST(ConfigFile, AbsentScenarioSectionIsTheDefaultConfig) {
  const auto scenario = YAML::Load("name: demo\n");
  config_error error;
  const auto config = parse_config_node(scenario["server"], "s.yaml", error);
  ASSERT_TRUE(config) << error.to_string();
  expect_same(*config, default_config());
}

// --- durations ---------------------------------------------------------------------------


}  // namespace
}  // namespace imock::server
