// Navigation on its own, sans-IO (docs/protocol.md §8): every answer of POST
// /navi.json, every navigation fault (docs/admin-api.md, "Navigation") with the exact
// status and body a client reads its code from, and the event each request logs.
#include "imock/server/navigation.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "imock/protocol/api_request.hpp"
#include "imock/protocol/token.hpp"

namespace imock::server {
namespace {

namespace json = boost::json;

constexpr std::int64_t k_now = 1'700'000'000'000;
constexpr std::string_view k_app = "app";
constexpr std::string_view k_secret = "secret";

const std::vector<std::string> k_own = {"mqtt://127.0.0.1:18830", "ws://127.0.0.1:18080/mqtt"};
const std::vector<std::string> k_dead = {"mqtt://127.0.0.1:40001", "ws://127.0.0.1:40001/mqtt"};

// A navigation request as the reference SDK sends it (client/navigation.cpp).
api_request navi(std::string_view app_key, std::string body,
                 std::vector<std::pair<std::string, std::string>> more_headers = {}) {
  api_request r{.method = "POST",
                .path = std::string(k_navigation_path),
                .content_type = "application/x-www-form-urlencoded",
                .body = std::move(body)};
  if (!app_key.empty()) r.headers.emplace_back("app-key", std::string(app_key));
  for (auto& h : more_headers) r.headers.push_back(std::move(h));
  return r;
}

std::string form(std::string_view token, std::string_view device = "phone",
                 std::string_view platform = "ios") {
  std::string body = "token=" + form_escape(token);
  if (!device.empty()) body += "&device=" + form_escape(device);
  if (!platform.empty()) body += "&platform=" + form_escape(platform);
  return body;
}

server_config test_config() {
  server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)},
            {.key = "other", .secret = "s"},
            {.key = "gone", .secret = "s", .state = app_state::deleted},
            {.key = "stopped", .secret = "s", .state = app_state::blocked}};
  return c;
}

class NavigationTest : public ::testing::Test {
 protected:
  NavigationTest() : NavigationTest(test_config()) {}
  explicit NavigationTest(server_config c)
      : config_(std::move(c)), dir_(config_, k_now), nav_(dir_, faults_, config_.navigation) {
    nav_.set_connection_servers(k_own);
    nav_.set_dead_servers(k_dead);
  }

  std::string token(std::string_view user = "alice", std::string_view app = k_app) {
    return *token::issue(app, user, k_secret, k_now);
  }
  navigation_answer ask(const api_request& r) { return nav_.handle(r, k_now); }
  navigation_answer ask_ok(std::string_view app = k_app) { return ask(navi(app, form(token()))); }
  void arm(navigation_fault fail, std::uint32_t count = 0, std::string app = {}) {
    faults_.set_navigation({.fail = fail, .count = count, .app = std::move(app)});
  }

  static json::object body_of(const navigation_answer& a) {
    auto v = json::parse(a.response.body);
    return v.is_object() ? v.as_object() : json::object{};
  }

  server_config config_;
  directory dir_;
  fault_set faults_;
  navigation nav_;
};

TEST_F(NavigationTest, AnswersTheServersAndTheCacheLifetime) {
  const auto a = ask_ok();
  EXPECT_EQ(a.response.http_status, 200);
  EXPECT_EQ(a.response.body,
            R"({"code":200,"servers":["mqtt://127.0.0.1:18830","ws://127.0.0.1:18080/mqtt"],)"
            R"("cacheSeconds":7200})");
}

TEST_F(NavigationTest, LogsTheRequestWithAppUserDeviceAndPlatform) {
  const auto a = ask_ok();
  EXPECT_EQ(a.logged.kind, event_kind::navigation);
  EXPECT_EQ(a.logged.t_ms, k_now);
  EXPECT_EQ(a.logged.app, k_app);
  EXPECT_EQ(a.logged.user, "alice") << "read from the token without verifying it";
  EXPECT_EQ(a.logged.device, "phone");
  EXPECT_EQ(a.logged.code, 0);
  EXPECT_EQ(a.logged.detail, "ok 2 servers cache 7200s platform=ios");
}

TEST_F(NavigationTest, RcAppKeyHeaderNamesTheAppToo) {
  auto r = navi("", form(token()), {{"rc-app-key", std::string(k_app)}});
  EXPECT_EQ(ask(r).response.http_status, 200);
}

TEST_F(NavigationTest, MissingAppKeyIs403With30008) {
  const auto a = ask(navi("", form(token())));
  EXPECT_EQ(a.response.http_status, 403);
  EXPECT_EQ(body_of(a).at("code").to_number<int>(), 30008);
  EXPECT_EQ(body_of(a).at("errorMessage").as_string(), "missing App-Key header");
  EXPECT_EQ(a.logged.code, 30008);
}

TEST_F(NavigationTest, UnknownAppKeyIs403With30008) {
  const auto a = ask(navi("no-such-app", form(token())));
  EXPECT_EQ(a.response.http_status, 403);
  EXPECT_EQ(a.response.body, R"({"code":30008,"errorMessage":"unknown app key"})");
  EXPECT_EQ(a.logged.app, "no-such-app");
  EXPECT_EQ(a.logged.code, 30008);
  EXPECT_EQ(a.logged.detail, "unknown app key platform=ios");
}

TEST_F(NavigationTest, MissingTokenIs400With30006) {
  const auto a = ask(navi(k_app, "device=phone"));
  EXPECT_EQ(a.response.http_status, 400);
  EXPECT_EQ(a.response.body, R"({"code":30006,"errorMessage":"token is required"})");
  EXPECT_EQ(a.logged.code, 30006);
  EXPECT_EQ(a.logged.device, "phone");
}

TEST_F(NavigationTest, BadEscapeOrRepeatedFieldIs400) {
  EXPECT_EQ(ask(navi(k_app, "token=%zz")).response.http_status, 400);
  const auto twice = ask(navi(k_app, form(token()) + "&token=x"));
  EXPECT_EQ(twice.response.http_status, 400);
  EXPECT_EQ(body_of(twice).at("code").to_number<int>(), 30006);
}

TEST_F(NavigationTest, OtherMethodsGet405) {
  auto r = navi(k_app, form(token()));
  r.method = "GET";
  const auto a = ask(r);
  EXPECT_EQ(a.response.http_status, 405);
  EXPECT_EQ(body_of(a).at("code").to_number<int>(), 405);
  EXPECT_EQ(a.logged.code, 30006) << "any status but 200 and the documented ones: 30006";
  EXPECT_EQ(a.logged.detail, "method GET platform=ios");
}

TEST_F(NavigationTest, BlockedAndDeletedAppsStillGetTheirList) {
  EXPECT_EQ(ask(navi("gone", form(token("bob", "gone")))).response.http_status, 200);
  EXPECT_EQ(ask(navi("stopped", form(token("bob", "stopped")))).response.http_status, 200);
}

TEST_F(NavigationTest, AnUnreadableTokenIsAnsweredAndLogsNoUser) {
  const auto a = ask(navi(k_app, form("not-a-token")));
  EXPECT_EQ(a.response.http_status, 200) << "the CONNECT checks the token, not navigation";
  EXPECT_EQ(a.logged.user, "");
}

TEST_F(NavigationTest, DeviceAndPlatformAreOptional) {
  const auto a = ask(navi(k_app, form(token(), "", "")));
  EXPECT_EQ(a.response.http_status, 200);
  EXPECT_EQ(a.logged.device, "");
  EXPECT_EQ(a.logged.detail, "ok 2 servers cache 7200s");
}

TEST_F(NavigationTest, HandlesOnlyItsPath) {
  EXPECT_TRUE(navigation::handles("/navi.json"));
  EXPECT_FALSE(navigation::handles("/navi"));
  EXPECT_FALSE(navigation::handles("/user/getToken.json"));
}

// --- faults ---------------------------------------------------------------------

struct fault_case {
  navigation_fault fail;
  int http_status;   // 0: no answer
  std::string body;  // exact; "" for none
  int code;          // the code the client derives, as logged
};

class NavigationFaultTest : public NavigationTest,
                            public ::testing::WithParamInterface<fault_case> {};

TEST_P(NavigationFaultTest, AnswersAsDocumentedAndLogsTheClientsCode) {
  const auto& c = GetParam();
  arm(c.fail);
  const auto a = ask_ok();
  EXPECT_EQ(a.response.http_status, c.http_status);
  EXPECT_EQ(a.response.body, c.body);
  EXPECT_EQ(a.logged.kind, event_kind::navigation);
  EXPECT_EQ(a.logged.code, c.code);
  EXPECT_EQ(a.logged.detail, "fault " + std::string(to_string(c.fail)) + " platform=ios");
  EXPECT_EQ(a.logged.user, "alice");
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, NavigationFaultTest,
    ::testing::Values(
        fault_case{navigation_fault::resource, 200, R"({"code":200,"cacheSeconds":7200})", 30004},
        fault_case{navigation_fault::request, 0, "", 30005},
        fault_case{navigation_fault::response, 200, "<html>imock navigation fault</html>", 30006},
        fault_case{navigation_fault::node, 200, R"({"code":200,"servers":[],"cacheSeconds":7200})",
                   30007},
        fault_case{navigation_fault::app_key, 403,
                   R"j({"code":30008,"errorMessage":"app key refused (navigation fault)"})j",
                   30008},
        fault_case{navigation_fault::server, 500,
                   R"j({"code":30009,"errorMessage":"server error (navigation fault)"})j", 30009},
        fault_case{
            navigation_fault::dead, 200,
            R"({"code":200,"servers":["mqtt://127.0.0.1:40001","ws://127.0.0.1:40001/mqtt"],)"
            R"("cacheSeconds":7200})",
            32061}),
    [](const auto& info) { return std::string(to_string(info.param.fail)); });

TEST_F(NavigationTest, AFaultWithACountAnswersThatManyRequestsThenClears) {
  arm(navigation_fault::server, 2);
  EXPECT_EQ(ask_ok().response.http_status, 500);
  EXPECT_EQ(faults_.navigation().count, 1u);
  EXPECT_EQ(faults_.navigation().fired, 1u);
  EXPECT_EQ(ask_ok().response.http_status, 500);
  EXPECT_EQ(faults_.navigation().fail, navigation_fault::none) << "used up: cleared";
  EXPECT_EQ(ask_ok().response.http_status, 200);
}

TEST_F(NavigationTest, CountZeroLastsUntilCleared) {
  arm(navigation_fault::node);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(body_of(ask_ok()).at("servers").as_array().size(), 0u);
  arm(navigation_fault::none);
  EXPECT_EQ(body_of(ask_ok()).at("servers").as_array().size(), 2u);
}

TEST_F(NavigationTest, ClearingTheFaultsClearsTheNavigationFault) {
  arm(navigation_fault::response);
  faults_.clear();
  EXPECT_EQ(ask_ok().response.http_status, 200);
}

TEST_F(NavigationTest, AnAppFilterSparesOtherAppsAndTheirRequestsDoNotCount) {
  arm(navigation_fault::server, 1, "other");
  EXPECT_EQ(ask_ok().response.http_status, 200);
  EXPECT_EQ(faults_.navigation().count, 1u) << "a request of another app uses nothing up";
  EXPECT_EQ(ask(navi("other", form(token("bob", "other")))).response.http_status, 500);
  EXPECT_EQ(ask(navi("other", form(token("bob", "other")))).response.http_status, 200);
}

TEST_F(NavigationTest, ArmingAnotherFaultReplacesTheFirst) {
  arm(navigation_fault::server);
  arm(navigation_fault::app_key, 1);
  EXPECT_EQ(ask_ok().response.http_status, 403);
  EXPECT_EQ(ask_ok().response.http_status, 200);
}

TEST_F(NavigationTest, AFaultAnswersBeforeTheAppKeyIsChecked) {
  arm(navigation_fault::request);
  const auto a = ask(navi("no-such-app", form(token())));
  EXPECT_EQ(a.response.http_status, 0);
  EXPECT_EQ(a.logged.code, 30005);
}

TEST_F(NavigationTest, AFaultDoesNotTakeAWrongMethod) {
  arm(navigation_fault::server, 1);
  auto r = navi(k_app, form(token()));
  r.method = "PUT";
  EXPECT_EQ(ask(r).response.http_status, 405);
  EXPECT_EQ(faults_.navigation().count, 1u);
}

// --- the list ----------------------------------------------------------------------

TEST_F(NavigationTest, WildcardHostsBecomeTheHostTheClientReached) {
  nav_.set_connection_servers({"mqtt://0.0.0.0:1883", "ws://[::]:8080/mqtt", "mqtt://10.1.1.1:1"});
  const auto a = ask(navi(k_app, form(token()), {{"host", "192.168.1.20:8080"}}));
  EXPECT_EQ(body_of(a).at("servers"),
            (json::array{"mqtt://192.168.1.20:1883", "ws://192.168.1.20:8080/mqtt",
                         "mqtt://10.1.1.1:1"}));
  const auto v6 = ask(navi(k_app, form(token()), {{"host", "[fd00::1]"}}));
  EXPECT_EQ(body_of(v6).at("servers").as_array().at(0), "mqtt://[fd00::1]:1883");
}

TEST_F(NavigationTest, AHostHeaderThatIsNoHostLeavesTheListAlone) {
  nav_.set_connection_servers({"mqtt://0.0.0.0:1883"});
  const auto a = ask(navi(k_app, form(token()), {{"host", "evil/path:80"}}));
  EXPECT_EQ(body_of(a).at("servers"), (json::array{"mqtt://0.0.0.0:1883"}));
}

class NavigationConfiguredTest : public NavigationTest {
 protected:
  static server_config with_navigation() {
    auto c = test_config();
    c.navigation.servers = {{"mqtts://im.example.com:8883"}};
    c.navigation.cache_lifetime_ms = 0;
    return c;
  }
  NavigationConfiguredTest() : NavigationTest(with_navigation()) {}
};

TEST_F(NavigationConfiguredTest, ConfiguredServersAndLifetimeAreAnswered) {
  const auto a = ask_ok();
  EXPECT_EQ(a.response.body,
            R"({"code":200,"servers":["mqtts://im.example.com:8883"],"cacheSeconds":0})");
  EXPECT_EQ(a.logged.detail, "ok 1 server cache 0s platform=ios");
  EXPECT_EQ(nav_.servers(), (std::vector<std::string>{"mqtts://im.example.com:8883"}));
}

// --- the form body (protocol/api_request.hpp), as navigation reads it ---------------

TEST(FormFields, DecodesWhatFormEscapeWrites) {
  const std::string value = "a b+c&d=e%f/\xe4\xbd\xa0";
  const auto f = form_fields::parse("k=" + form_escape(value) + "&k=2&&empty=&bare");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->all("k"), (std::vector<std::string_view>{value, "2"}));
  EXPECT_EQ(f->all("empty"), (std::vector<std::string_view>{""}));
  EXPECT_EQ(f->all("bare"), (std::vector<std::string_view>{""}));
  EXPECT_TRUE(f->all("none").empty());
  EXPECT_EQ(form_fields::parse("a=1+2")->all("a"), (std::vector<std::string_view>{"1 2"}));
  EXPECT_FALSE(form_fields::parse("a=%4"));
  EXPECT_FALSE(form_fields::parse("a=%g0"));
}

}  // namespace
}  // namespace imock::server
