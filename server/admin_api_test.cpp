// The admin API on its own, sans-IO: requests go to endpoints (the object the HTTP
// port and the simulation both use), what it asks of the I/O layer is recorded.
#include "imock/server/admin_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "imock/server/endpoints.hpp"

namespace imock::server {
namespace {

namespace json = boost::json;

constexpr std::int64_t k_now = 1'700'000'000'000;

// What the admin API asked of the I/O layer.
class recording_control final : public server_control {
 public:
  void apply(actions&& todo) override { applied += todo.size(); }
  void set_accept_mode(accept_mode m) override { mode = m; }
  [[nodiscard]] bool accepting() const override { return mode == accept_mode::accept; }
  void resume_accepting_after(std::int64_t after_ms) override { resume_after.push_back(after_ms); }
  void request_shutdown() override { ++shutdowns; }

  std::size_t applied = 0;
  accept_mode mode = accept_mode::accept;
  std::vector<std::int64_t> resume_after;
  int shutdowns = 0;
};

api_request get(std::string path) { return {.method = "GET", .path = std::move(path)}; }
api_request post(std::string path, std::string body = "{}") {
  return {.method = "POST",
          .path = std::move(path),
          .content_type = "application/json",
          .body = std::move(body)};
}

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() : hub_(config(), 1, k_now), endpoints_(hub_, control_) {}

  static server_config config() {
    server_config c;
    c.apps = {{.key = "app", .secret = "secret"}};
    return c;
  }

  api_response call(const api_request& r) { return endpoints_.handle(r, k_now); }
  json::object ok(const api_request& r) {
    const auto res = call(r);
    EXPECT_EQ(res.http_status, 200) << r.path << ": " << res.body;
    auto v = json::parse(res.body);
    return v.is_object() ? v.as_object() : json::object{};
  }
  // The error message of a refused request, with its status checked.
  std::string refused(const api_request& r, int status) {
    const auto res = call(r);
    EXPECT_EQ(res.http_status, status) << r.path << ": " << res.body;
    const auto v = json::parse(res.body).as_object();
    EXPECT_EQ(v.at("code").to_number<int>(), status);
    return std::string(v.at("error").as_string());
  }

  hub hub_;
  recording_control control_;
  endpoints endpoints_;
};

TEST_F(AdminApiTest, StatusShowsTheServerAndTheAcceptMode) {
  auto s = ok(get("/admin/status"));
  EXPECT_EQ(s.at("now_ms").to_number<std::int64_t>(), k_now);
  EXPECT_TRUE(s.at("accepting").as_bool());
  EXPECT_EQ(s.at("sessions").to_number<int>(), 0);

  ok(post("/admin/stop-accepting"));
  EXPECT_EQ(control_.mode, server_control::accept_mode::refuse);
  EXPECT_FALSE(ok(get("/admin/status")).at("accepting").as_bool());
  ok(post("/admin/stop-accepting", R"({"silent":true})"));
  EXPECT_EQ(control_.mode, server_control::accept_mode::drop_syn);
  ok(post("/admin/resume-accepting"));
  EXPECT_EQ(control_.mode, server_control::accept_mode::accept);
}

TEST_F(AdminApiTest, FaultRulesAreArmedListedAndRemoved) {
  const auto id = ok(post("/admin/faults", R"({"on":"connect","action":"refuse","code":31004})"))
                      .at("id")
                      .to_number<std::uint64_t>();
  const auto listed = ok(get("/admin/faults")).at("faults").as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].as_object().at("action").as_string(), "refuse");
  ok(post("/admin/faults/remove", "{\"id\":" + std::to_string(id) + "}"));
  EXPECT_TRUE(ok(get("/admin/faults")).at("faults").as_array().empty());
}

TEST_F(AdminApiTest, EveryCallIsInTheEventLog) {
  ok(post("/admin/kick", R"({"user":"nobody"})"));
  const auto events = ok(get("/admin/events?since=0")).at("events").as_array();
  ASSERT_FALSE(events.empty());
  const auto& last = events.back().as_object();
  EXPECT_EQ(last.at("kind").as_string(), "admin");
  EXPECT_NE(std::string(last.at("detail").as_string()).find("kick (0 sessions)"),
            std::string::npos)
      << last.at("detail");
}

TEST_F(AdminApiTest, AppStateChangesAndUnknownAppsAreNamed) {
  ok(post("/admin/apps/state", R"({"app":"app","state":"blocked"})"));
  EXPECT_EQ(hub_.dir().find_app("app")->config.state, app_state::blocked);
  EXPECT_NE(refused(post("/admin/apps/state", R"({"app":"app","state":"sleepy"})"), 400)
                .find("'state': 'sleepy' is not an app state (expected one of: active, blocked, deleted)"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/users/block", R"({"app":"nope","user":"u","minutes":1})"), 400)
                .find("unknown app 'nope'"),
            std::string::npos);
}

TEST_F(AdminApiTest, BadInputGets400SayingWhyAndChangesNothing) {
  EXPECT_NE(refused(post("/admin/kick", "{not json"), 400).find("body is not JSON"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/kick", "[1]"), 400).find("must be a JSON object"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/kick", R"({"code":12345})"), 400)
                .find("12345 is not a documented code"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/faults", R"({"on":"later","action":"kick"})"), 400)
                .find("'on': 'later' is not a trigger (expected one of: connect, connack, packet, delivery, send, sync)"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/users/block", R"({"app":"app"})"), 400)
                .find("'user' is required"),
            std::string::npos);
  EXPECT_TRUE(hub_.faults().rules().empty());
  EXPECT_EQ(control_.applied, 0u);
}

TEST_F(AdminApiTest, UnknownPathsAre404AndTheWrongMethodIs405) {
  EXPECT_NE(refused(get("/admin/nothing-here"), 404).find("no admin endpoint /admin/nothing-here"),
            std::string::npos);
  EXPECT_NE(refused(get("/admin/kick"), 405).find("takes POST"), std::string::npos);
  EXPECT_NE(refused(post("/admin/status"), 405).find("takes GET"), std::string::npos);
}

TEST_F(AdminApiTest, RestartAndShutdownGoToTheIoLayer) {
  ok(post("/admin/restart", R"({"down_ms":1500})"));
  EXPECT_EQ(control_.resume_after, (std::vector<std::int64_t>{1500}));
  ok(post("/admin/shutdown"));
  EXPECT_EQ(control_.shutdowns, 1);
}

// --- navigation (docs/admin-api.md, "Navigation") ------------------------------

api_request navi(std::string app_key = "app") {
  return {.method = "POST",
          .path = "/navi.json",
          .content_type = "application/x-www-form-urlencoded",
          .headers = {{"app-key", std::move(app_key)}},
          .body = "token=t&device=d"};
}

TEST_F(AdminApiTest, NavigationFaultIsArmedShownAndLoggedAndNoneClearsIt) {
  const auto armed = ok(post("/admin/navigation", R"({"fail":"server","count":2,"app":"app"})"));
  EXPECT_EQ(armed, (json::object{{"code", 200}}));
  EXPECT_EQ(ok(get("/admin/navigation")),
            (json::object{
                {"fail", "server"}, {"count", 2}, {"app", "app"}, {"fired", 0}, {"code", 200}}));
  EXPECT_EQ(hub_.events().since(0).back().detail,
            "navigation fault server armed (2 requests, app app)");

  EXPECT_EQ(call(navi()).http_status, 500);
  EXPECT_EQ(ok(get("/admin/navigation")).at("count").to_number<int>(), 1);

  ok(post("/admin/navigation", R"({"fail":"none"})"));
  EXPECT_EQ(ok(get("/admin/navigation")).at("fail").as_string(), "none");
  EXPECT_EQ(hub_.events().since(0).back().detail, "navigation faults cleared");
  EXPECT_EQ(call(navi()).http_status, 200);
}

TEST_F(AdminApiTest, NavigationFaultWithoutCountLastsUntilCleared) {
  ok(post("/admin/navigation", R"({"fail":"node"})"));
  EXPECT_EQ(ok(get("/admin/navigation")).at("count").to_number<int>(), 0);
  EXPECT_EQ(hub_.events().since(0).back().detail, "navigation fault node armed (until cleared)");
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(call(navi()).body.find(R"("servers":[])"), std::string::npos);
  ok(post("/admin/faults/clear"));
  EXPECT_EQ(ok(get("/admin/navigation")).at("fail").as_string(), "none");
}

TEST_F(AdminApiTest, NavigationFaultNeedsAKnownFailAndACountOfZeroOrMore) {
  EXPECT_EQ(refused(post("/admin/navigation", R"({"fail":"slow"})"), 400),
            "'fail': 'slow' is not a navigation fault (expected one of: resource, request, "
            "response, node, app_key, server, dead, none)");
  EXPECT_EQ(refused(post("/admin/navigation", "{}"), 400),
            "'fail' is required (expected one of: resource, request, response, node, app_key, "
            "server, dead, none)");
  EXPECT_NE(refused(post("/admin/navigation", R"({"fail":"dead","count":-1})"), 400)
                .find("'count' must be 0"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/navigation", R"({"fail":"dead","count":"many"})"), 400)
                .find("'count' must be an integer"),
            std::string::npos);
  EXPECT_NE(refused(post("/admin/navigation", R"({"fail":"dead","app":[1]})"), 400)
                .find("'app' must be a string"),
            std::string::npos);
  EXPECT_EQ(hub_.faults().navigation().fail, navigation_fault::none) << "nothing was armed";
}

TEST_F(AdminApiTest, NavigationIsRoutedAndLogged) {
  EXPECT_TRUE(endpoints::handles("/navi.json"));
  EXPECT_TRUE(endpoints::handles("/navi.json?x=1"));
  const auto res = call(navi());
  EXPECT_EQ(res.http_status, 200) << res.body;
  const auto last = hub_.events().since(0).back();
  EXPECT_EQ(last.kind, event_kind::navigation);
  EXPECT_EQ(last.app, "app");
  EXPECT_EQ(last.device, "d");
  EXPECT_EQ(call(navi("nope")).http_status, 403);
  EXPECT_EQ(hub_.events().since(0).back().code, 30008);
}

// --- access ---------------------------------------------------------------------

api_request with_auth(std::string value) {
  auto r = get("/admin/status");
  r.headers.emplace_back("authorization", std::move(value));
  return r;
}

std::string refusal(const std::optional<api_response>& r) {
  if (!r) return "(let in)";
  EXPECT_EQ(r->http_status, 401);
  return std::string(json::parse(r->body).as_object().at("error").as_string());
}

TEST(AdminAccess, NoTokenSetLetsEveryoneIn) {
  EXPECT_FALSE(admin_access("", get("/admin/status")));
  EXPECT_FALSE(admin_access("", with_auth("Bearer anything")));
}

TEST(AdminAccess, WithATokenOnlyTheBearerOfItGetsIn) {
  const std::string token = "tok-3f9a";
  EXPECT_FALSE(admin_access(token, with_auth("Bearer tok-3f9a")));
  EXPECT_FALSE(admin_access(token, with_auth("bearer tok-3f9a"))) << "the scheme is case-blind";

  EXPECT_NE(refusal(admin_access(token, get("/admin/status"))).find("Authorization: Bearer TOKEN"),
            std::string::npos);
  EXPECT_NE(refusal(admin_access(token, with_auth("Bearer tok-3f9b"))).find("wrong admin token"),
            std::string::npos);
  EXPECT_NE(refusal(admin_access(token, with_auth("Bearer tok-3f9"))).find("wrong admin token"),
            std::string::npos);
  EXPECT_NE(refusal(admin_access(token, with_auth("Bearer "))).find("must be 'Bearer TOKEN'"),
            std::string::npos);
  EXPECT_NE(refusal(admin_access(token, with_auth("Basic dG9rLTNmOWE="))).find("must be 'Bearer"),
            std::string::npos);
  EXPECT_NE(refusal(admin_access(token, with_auth("tok-3f9a"))).find("must be 'Bearer"),
            std::string::npos);
}

TEST(AdminAccess, TheTokenIsRequiredOffLoopback) {
  listen_config l;
  EXPECT_FALSE(admin_token_problem(l)) << "the defaults are on loopback";
  l.http = "0.0.0.0:18080";
  const auto why = admin_token_problem(l);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("0.0.0.0:18080 is not on loopback"), std::string::npos) << *why;
  EXPECT_NE(why->find("IMOCK_ADMIN_TOKEN"), std::string::npos) << *why;
  l.admin_token = "t";
  EXPECT_FALSE(admin_token_problem(l));

  listen_config tls;
  tls.https = "192.0.2.7:18443";
  EXPECT_TRUE(admin_token_problem(tls)) << "HTTPS carries the admin API too";

  EXPECT_TRUE(is_loopback_address("127.0.0.1:0"));
  EXPECT_TRUE(is_loopback_address("127.3.4.5:80"));
  EXPECT_TRUE(is_loopback_address("localhost:80"));
  EXPECT_TRUE(is_loopback_address("[::1]:80"));
  EXPECT_FALSE(is_loopback_address("[::]:80"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1:80"));
  EXPECT_FALSE(is_loopback_address(":80"));
}

// Recording (docs/console.md): what was done between a start and a stop, with what it
// carried and how it was answered, and the events of that span.
TEST_F(AdminApiTest, ARecordingKeepsTheCallsAndEventsBetweenStartAndStop) {
  EXPECT_NE(refused(post("/admin/record/stop"), 409).find("no recording is running"),
            std::string::npos);
  EXPECT_NE(refused(get("/admin/record/last"), 404).find("no recording yet"), std::string::npos);
  EXPECT_EQ(refused(get("/admin/record/start"), 405), "/admin/record/start takes POST");
  ok(post("/admin/kick", R"({"user":"before"})"));  // not in the recording

  EXPECT_TRUE(ok(post("/admin/record/start")).at("recording").as_bool());
  ok(post("/admin/kick", R"({"user":"alice","code":31010})"));
  refused(post("/admin/users/block", R"({"app":"nope","user":"alice","duration_ms":1000})"), 400);
  call({.method = "POST",
        .path = "/user/getToken.json",
        .content_type = "application/x-www-form-urlencoded",
        .headers = {{"app-key", "app"}},
        .body = "userId=alice&name=Alice&userId=al2"});
  ok(get("/admin/sessions"));  // reads are not actions
  const auto running = ok(get("/admin/record"));
  EXPECT_TRUE(running.at("recording").as_bool());
  EXPECT_EQ(running.at("actions").to_number<int>(), 3);

  const auto stopped = ok(post("/admin/record/stop"));
  EXPECT_EQ(stopped.at("actions").to_number<int>(), 3);
  const auto rec = ok(get("/admin/record/last"));
  EXPECT_EQ(rec.at("format"), "imock-recording");
  EXPECT_EQ(rec.at("started_ms").to_number<std::int64_t>(), k_now);
  EXPECT_EQ(rec.at("events_lost").to_number<int>(), 0);
  const auto& calls = rec.at("calls").as_array();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].at("path"), "/admin/kick");
  EXPECT_EQ(calls[0].at("params").at("user"), "alice");
  EXPECT_EQ(calls[0].at("params").at("code"), 31010);
  EXPECT_EQ(calls[0].at("status"), 200);
  EXPECT_EQ(calls[1].at("status"), 400) << "a refused action is kept, with its answer";
  EXPECT_EQ(calls[2].at("via"), "api");
  EXPECT_EQ(calls[2].at("app"), "app");
  EXPECT_EQ(calls[2].at("params").at("userId"), (json::array{"alice", "al2"}));
  EXPECT_NE(calls[2].at("code"), 200) << "unsigned: refused, and its code kept";
  // The events of the span: the kick's admin event, the API call's, not the earlier kick.
  std::string details;
  for (const auto& e : rec.at("events").as_array()) details += std::string(e.at("detail").as_string()) + "|";
  EXPECT_NE(details.find("recording started"), std::string::npos) << details;
  EXPECT_NE(details.find("getToken app=app -> 1004"), std::string::npos) << details;
  EXPECT_EQ(std::count(details.begin(), details.end(), '|'),
            static_cast<long>(rec.at("events").as_array().size()));
  EXPECT_EQ(details.find("kick (0 sessions)|recording started"), std::string::npos)
      << "the kick before the start is not in it: " << details;

  const auto status = ok(get("/admin/record"));
  EXPECT_FALSE(status.at("recording").as_bool());
  EXPECT_TRUE(status.at("finished").as_bool());

  const auto yaml = call(get("/admin/record/scenario?name=field-42"));
  EXPECT_EQ(yaml.http_status, 200);
  EXPECT_EQ(yaml.content_type, "application/yaml; charset=utf-8");
  EXPECT_NE(yaml.body.find("name: field-42\n"), std::string::npos) << yaml.body;
  EXPECT_NE(yaml.body.find("  - kick: {user: alice, code: 31010}\n"), std::string::npos) << yaml.body;
  EXPECT_NE(yaml.body.find("/admin/users/block was refused (400): not replayed"), std::string::npos)
      << yaml.body;
}

TEST(AdminRecording, SaysHowManyOfItsEventsTheLogHadDropped) {
  server_config c;
  c.apps = {{.key = "app", .secret = "secret"}};
  c.limits.event_log_capacity = 100;
  hub h(c, 1, k_now);
  recording_control control;
  endpoints e(h, control);
  e.handle(post("/admin/record/start"), k_now);
  for (int i = 0; i < 150; ++i) e.handle(post("/admin/users/unblock", R"({"app":"app","user":"u"})"), k_now);
  e.handle(post("/admin/record/stop"), k_now);
  const auto rec = json::parse(e.handle(get("/admin/record/last"), k_now).body).as_object();
  EXPECT_EQ(rec.at("calls").as_array().size(), 150u);
  EXPECT_EQ(rec.at("events").as_array().size(), 100u);
  EXPECT_EQ(rec.at("events_lost").to_number<int>(), 52) << "start, 150 unblocks, stop: 152 events";
  EXPECT_NE(e.handle(get("/admin/record/scenario"), k_now).body.find("had dropped 52 events"),
            std::string::npos);
}

TEST_F(AdminApiTest, AppsShowKeysStatesAndBlocksButNeverSecrets) {
  ok(post("/admin/users/block", R"({"app":"app","user":"bob","duration_ms":60000})"));
  const auto res = call(get("/admin/apps"));
  EXPECT_EQ(res.body.find("secret"), std::string::npos) << res.body;
  const auto apps = json::parse(res.body).at("apps").as_array();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].at("key"), "app");
  EXPECT_EQ(apps[0].at("state"), "active");
  EXPECT_EQ(apps[0].at("blocked"), (json::array{"bob"}));
}

TEST_F(AdminApiTest, ConsoleFilesAreListedAndServedByName) {
  EXPECT_TRUE(ok(get("/admin/files")).at("files").as_array().empty());
  endpoints_.set_console_files({{"conformance.md", "text/markdown; charset=utf-8", "# matrix\n"},
                                {"storm chart.svg", "image/svg+xml", "<svg/>"}});
  const auto list = ok(get("/admin/files")).at("files").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("size"), 9);
  EXPECT_EQ(call(get("/admin/files/storm%20chart.svg")).body, "<svg/>") << "%XX decoded";
  const auto file = call(get("/admin/files/conformance.md"));
  EXPECT_EQ(file.body, "# matrix\n");
  EXPECT_EQ(file.content_type, "text/markdown; charset=utf-8");
  EXPECT_NE(refused(get("/admin/files/../etc/passwd"), 404).find("no console file"), std::string::npos);
  EXPECT_EQ(refused(post("/admin/files"), 405), "/admin/files takes GET");
}

}  // namespace
}  // namespace imock::server
