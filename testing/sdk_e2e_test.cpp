// The reference SDK end to end against a real imock-server, on every transport
// (its callbacks recorded by imock::testing's recorder):
// the codes only a server can cause, kicks, reconnect-kick, drops and recovery,
// time limits, heartbeat starvation, and which thread runs the callbacks.
#include "imock/client/sdk.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "imock/protocol/token.hpp"
#include "imock/server/local_server.hpp"
#include "imock/server/testing/wire_client.hpp"
#include "imock/testing/fixture.hpp"

namespace imock::client {
namespace {

using namespace std::chrono_literals;
using server::transport;

constexpr std::string_view k_app = "sdk-app";
constexpr std::string_view k_secret = "sdk-secret";
constexpr std::string_view k_blocked_app = "sdk-blocked";
constexpr double k_speed = 20.0;  // server and client time run 20x: 64 s cost 3.2 s

using imock::testing::recorder;

using imock::testing::status_line;

class SdkE2e : public ::testing::TestWithParam<transport> {
 protected:
  static void SetUpTestSuite() {
    server::server_config c;
    c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)},
              {.key = std::string(k_blocked_app),
               .secret = std::string(k_secret),
               .state = server::app_state::blocked}};
    c.limits.replay_protection = false;  // server time runs fast; signatures use wall time
    c.listen = {.mqtt = "127.0.0.1:0",
                .http = "127.0.0.1:0",
                .mqtts = "127.0.0.1:0",
                .https = "127.0.0.1:0",
                .tls_self_signed = true};
    srv_ = std::make_unique<server::local_server>(
        server::server_options{.config = c, .speed = k_speed});
    rt_ = std::make_unique<runtime>(runtime_options{.speed = k_speed});
    data_dir_ = std::filesystem::temp_directory_path() / ("imock-sdk-" + std::to_string(getpid()));
  }
  static void TearDownTestSuite() {
    rt_.reset();
    srv_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::string url() const { return srv_->url(GetParam()); }

  // A user id unique to this test and transport.
  std::string user(std::string_view tag) const {
    std::string name =
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
        std::string(tag);
    for (auto& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return name.substr(name.size() > 60 ? name.size() - 60 : 0);
  }

  std::string token_for(std::string_view user_id, std::string_view app = k_app) const {
    return *token::issue(app, user_id, k_secret, srv_->get().now_ms());
  }

  struct sdk {
    std::unique_ptr<client> c;
    std::shared_ptr<recorder> rec = std::make_shared<recorder>();
  };

  sdk make(std::string_view device, bool reconnect_kick = false, std::string_view app = k_app,
           std::uint16_t heartbeat_s = 30) {
    sdk s{std::make_unique<client>(*rt_)};
    sdk_options o{.urls = {url()},
                  .tls_verify = false,
                  .data_dir = data_dir_,
                  .device_id = std::string(device),
                  .heartbeat_s = heartbeat_s,
                  .reconnect_kick = reconnect_kick};
    EXPECT_EQ(s.c->init(std::string(app), o), rc::code::ok);
    s.c->set_connection_status_listener(
        [rec = s.rec](rc::status st, rc::code cause) { rec->add(status_line(st, cause)); });
    return s;
  }

  static void connect(sdk& s, const std::string& token, int time_limit_s = 0) {
    auto rec = s.rec;
    s.c->connect(
        token, time_limit_s,
        [rec](rc::code c) { rec->add("db_opened " + std::to_string(static_cast<int>(c))); },
        [rec](const std::string& u) { rec->add("success " + u); },
        [rec](rc::code c) { rec->add("error " + std::to_string(static_cast<int>(c))); });
  }

  static server::testing::http_result admin(std::string_view path,
                                            const boost::json::object& body) {
    return server::testing::http_request(srv_->bound().http, "POST", path, boost::json::serialize(body));
  }

  static std::unique_ptr<server::local_server> srv_;
  static std::unique_ptr<runtime> rt_;
  static std::filesystem::path data_dir_;
};

std::unique_ptr<server::local_server> SdkE2e::srv_;
std::unique_ptr<runtime> SdkE2e::rt_;
std::filesystem::path SdkE2e::data_dir_;

TEST_P(SdkE2e, ConnectReportsDbOpenedConnectingConnectedSuccessInOrderOnTheCallbackThread) {
  const auto u = user("u");
  auto s = make("phone");
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  const auto entries = s.rec->entries();
  std::vector<std::string> seen;
  seen.reserve(entries.size());
  for (const auto& e : entries) seen.push_back(e.line);
  EXPECT_EQ(seen,
            (std::vector<std::string>{"db_opened 0", "status 10 0", "status 0 0", "success " + u}));
  for (const auto& e : entries) {
    EXPECT_NE(e.thread, std::this_thread::get_id()) << "a callback ran on the caller's thread";
    EXPECT_EQ(e.thread, entries.front().thread) << "callbacks run on one callback thread";
  }
  EXPECT_TRUE(std::filesystem::exists(data_dir_ / std::string(k_app) / u / "imock.db"));
  EXPECT_EQ(s.c->current_status(), rc::status::connected);
}

// Navigation (docs/client.md): the list is kept in the user's database, so a client
// started later for the same user connects without asking, even while navigation is
// down; another user has no list and gets the navigation code, as a recoverable cause.
TEST_P(SdkE2e, TheNavigationListIsKeptInTheUsersDatabaseAndReusedByTheNextClient) {
  const auto u = user("u");
  const auto make_navigating = [&](std::string_view device) {
    sdk s{std::make_unique<client>(*rt_)};
    sdk_options o{.tls_verify = false,
                  .data_dir = data_dir_,
                  .device_id = std::string(device),
                  .navigation = {"http://" + srv_->bound().http},
                  .navigation_transports = {GetParam()}};
    EXPECT_EQ(s.c->init(std::string(k_app), o), rc::code::ok);
    s.c->set_connection_status_listener(
        [rec = s.rec](rc::status st, rc::code cause) { rec->add(status_line(st, cause)); });
    return s;
  };
  {
    auto first = make_navigating("phone");
    connect(first, token_for(u));
    ASSERT_TRUE(first.rec->wait_for("success " + u));
    ASSERT_TRUE(first.c->disconnect() == rc::code::ok);
    ASSERT_TRUE(first.rec->wait_for("status 12 0"));
  }
  ASSERT_EQ(admin("/admin/navigation", {{"fail", "server"}}).status, 200);
  auto second = make_navigating("phone");
  connect(second, token_for(u));
  EXPECT_TRUE(second.rec->wait_for("success " + u)) << "the stored list, not navigation";
  auto stranger = make_navigating("tablet");
  connect(stranger, token_for(user("other")));
  EXPECT_TRUE(stranger.rec->wait_for("status 13 30009"));
  EXPECT_TRUE(stranger.rec->absent_for("error 30009", 200ms));
  ASSERT_EQ(admin("/admin/navigation", {{"fail", "none"}}).status, 200);
  EXPECT_TRUE(stranger.rec->wait_for("success " + user("other")));
}

// --- messages (docs/client.md "Messages") -------------------------------------------

TEST_P(SdkE2e, AMessageGoesAttachedSentReceivedOnceAndStaysInBothHistories) {
  const auto a = user("alice");
  const auto b = user("bob");
  auto alice = make("a-phone");
  auto bob = make("b-phone");
  bob.c->set_receive_listener([rec = bob.rec](const message& m, int left, bool offline, bool more) {
    rec->add("received " + m.sender + " " + m.content + " left=" + std::to_string(left) +
             " offline=" + (offline ? "1" : "0") + " more=" + (more ? "1" : "0"));
  });
  bob.c->set_offline_sync_listener([rec = bob.rec] { rec->add("sync completed"); });
  connect(alice, token_for(a));
  connect(bob, token_for(b));
  ASSERT_TRUE(alice.rec->wait_for("success " + a));
  ASSERT_TRUE(bob.rec->wait_for("sync completed"));

  std::int64_t attached_id = -1;
  ASSERT_EQ(alice.c->send_message(
                b, "RC:TxtMsg", R"({"content":"hi"})", "",
                [rec = alice.rec, &attached_id](const message& m) {
                  attached_id = m.id;
                  rec->add("attached " + std::to_string(m.sent_status));
                },
                [rec = alice.rec](std::int64_t id) { rec->add("sent " + std::to_string(id)); },
                [rec = alice.rec](int code, std::int64_t) {
                  rec->add("send error " + std::to_string(code));
                }),
            rc::code::ok);
  ASSERT_TRUE(alice.rec->wait_for("attached 10"));
  ASSERT_TRUE(alice.rec->wait_for("sent " + std::to_string(attached_id)));
  ASSERT_TRUE(bob.rec->wait_for("received " + a + R"( {"content":"hi"} left=0 offline=0 more=0)"));
  EXPECT_TRUE(bob.rec->count_stays("received " + a + R"( {"content":"hi"} left=0 offline=0 more=0)",
                                   1, 200ms));

  const auto sent = alice.c->history(b);
  ASSERT_EQ(sent.size(), 1U);
  EXPECT_EQ(sent[0].sent_status, 30);
  EXPECT_EQ(sent[0].direction, 1);
  EXPECT_FALSE(sent[0].uid.empty());
  // The app restarts: a new client on the same database has the conversation.
  bob.c.reset();
  auto bob_again = make("b-phone");
  connect(bob_again, token_for(b));
  ASSERT_TRUE(bob_again.rec->wait_for("success " + b));
  const auto kept = bob_again.c->history(a);
  ASSERT_EQ(kept.size(), 1U);
  EXPECT_EQ(kept[0].uid, sent[0].uid);
  EXPECT_EQ(kept[0].direction, 2);
  EXPECT_EQ(kept[0].content, R"({"content":"hi"})");
}

TEST_P(SdkE2e, AMessageForAnOfflineUserComesWithOfflineSetThenTheSyncCompletes) {
  const auto a = user("alice");
  const auto b = user("bob");
  auto alice = make("a-phone");
  connect(alice, token_for(a));
  ASSERT_TRUE(alice.rec->wait_for("success " + a));
  ASSERT_EQ(alice.c->send_message(b, "RC:TxtMsg", "while away", "", {},
                                  [rec = alice.rec](std::int64_t) { rec->add("sent"); }, {}),
            rc::code::ok);
  ASSERT_TRUE(alice.rec->wait_for("sent"));
  auto bob = make("b-phone");
  bob.c->set_receive_listener([rec = bob.rec](const message& m, int, bool offline, bool) {
    rec->add("received " + m.content + (offline ? " offline" : ""));
  });
  bob.c->set_offline_sync_listener([rec = bob.rec] { rec->add("sync completed"); });
  connect(bob, token_for(b));
  ASSERT_TRUE(bob.rec->wait_for("received while away offline"));
  ASSERT_TRUE(bob.rec->wait_for("sync completed"));
  const auto entries = bob.rec->entries();
  const auto at = [&](const std::string& line) {
    return std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.line == line; });
  };
  EXPECT_LT(at("received while away offline"), at("sync completed"));
}

TEST_P(SdkE2e, ASendWhileNotConnectedFailsWith30002) {
  auto alice = make("a-phone");
  ASSERT_EQ(alice.c->send_message(
                "anyone", "RC:TxtMsg", "x", "", {}, {},
                [rec = alice.rec](int code, std::int64_t) { rec->add("send error " + std::to_string(code)); }),
            rc::code::ok);
  EXPECT_TRUE(alice.rec->wait_for("send error 30002"));
}

TEST_P(SdkE2e, TamperedTokenGivesError31004AndStops) {
  auto s = make("phone");
  auto t = token_for(user("u"));
  t[t.size() - 3] = t[t.size() - 3] == 'A' ? 'B' : 'A';
  connect(s, t);
  EXPECT_TRUE(s.rec->wait_for("error 31004"));
  EXPECT_TRUE(s.rec->wait_for("status 15 31004"));
  EXPECT_TRUE(s.rec->count_stays("status 10 0", 1, 300ms)) << "no second attempt after 31004";
}

TEST_P(SdkE2e, BlockedAppGivesError31008) {
  auto s = make("phone", false, k_blocked_app);
  connect(s, token_for(user("u"), k_blocked_app));
  EXPECT_TRUE(s.rec->wait_for("error 31008"));
}

TEST_P(SdkE2e, UnknownAppKeyGivesError31002) {
  auto s = make("phone", false, "sdk-nobody");
  connect(s, *token::issue("sdk-nobody", user("u"), k_secret, srv_->get().now_ms()));
  EXPECT_TRUE(s.rec->wait_for("error 31002"));
}

TEST_P(SdkE2e, ExpiredTokenGivesError31020) {
  auto s = make("phone");
  connect(s, *token::issue(k_app, user("u"), k_secret, srv_->get().now_ms() - 10'000, 1'000));
  EXPECT_TRUE(s.rec->wait_for("error 31020"));
}

TEST_P(SdkE2e, BlockedUserGivesError31009AndBlockWhileOnlineGivesStatus16) {
  const auto u = user("u");
  auto s = make("phone");
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  ASSERT_EQ(admin("/admin/users/block", {{"app", k_app}, {"user", u}, {"minutes", 5}}).status, 200);
  EXPECT_TRUE(s.rec->wait_for("status 16 31009"));
  auto again = make("phone");
  connect(again, token_for(u));
  EXPECT_TRUE(again.rec->wait_for("error 31009"));
}

TEST_P(SdkE2e, LoginOnAnotherDeviceKicksWithStatus6And31010) {
  const auto u = user("u");
  auto a = make("phone-a");
  connect(a, token_for(u));
  ASSERT_TRUE(a.rec->wait_for("success " + u));
  auto b = make("phone-b");
  connect(b, token_for(u));
  ASSERT_TRUE(b.rec->wait_for("success " + u));
  EXPECT_TRUE(a.rec->wait_for("status 6 31010"));
  EXPECT_TRUE(a.rec->count_stays("status 10 0", 1, 500ms)) << "a kicked client must not reconnect";
}

TEST_P(SdkE2e, ReconnectKickOnRefusesTheReconnectWith31023AndTheOtherDeviceStays) {
  const auto u = user("u");
  auto a = make("phone-a", /*reconnect_kick=*/true);
  connect(a, token_for(u));
  ASSERT_TRUE(a.rec->wait_for("success " + u));
  // Hold A's reconnects off (recoverable refusals) until B is online.
  ASSERT_EQ(admin("/admin/refuse", {{"device", "phone-a"}, {"count", 3}, {"code", 31003}}).status,
            200);
  ASSERT_EQ(admin("/admin/drop", {{"device", "phone-a"}, {"user", u}}).status, 200);
  ASSERT_TRUE(a.rec->wait_for("status 13 31003"));
  auto b = make("phone-b");
  connect(b, token_for(u));
  ASSERT_TRUE(b.rec->wait_for("success " + u));
  EXPECT_TRUE(a.rec->wait_for("status 6 31023", 20s));
  EXPECT_TRUE(b.rec->absent_for("status 6 31010", 500ms)) << "B stays online";
}

TEST_P(SdkE2e, ReconnectKickOffReconnectsAndKicksTheOtherDevice) {
  const auto u = user("u");
  auto a = make("phone-a", /*reconnect_kick=*/false);
  connect(a, token_for(u));
  ASSERT_TRUE(a.rec->wait_for("success " + u));
  ASSERT_EQ(admin("/admin/refuse", {{"device", "phone-a"}, {"count", 3}, {"code", 31003}}).status,
            200);
  ASSERT_EQ(admin("/admin/drop", {{"device", "phone-a"}, {"user", u}}).status, 200);
  ASSERT_TRUE(a.rec->wait_for("status 13 31003"));
  auto b = make("phone-b");
  connect(b, token_for(u));
  ASSERT_TRUE(b.rec->wait_for("success " + u));
  EXPECT_TRUE(b.rec->wait_for("status 6 31010", 20s));
  EXPECT_TRUE(a.rec->wait_count("status 0 0", 2)) << "A is connected again";
}

TEST_P(SdkE2e, DropIsRecoveredWithoutASecondSuccess) {
  const auto u = user("u");
  auto s = make("phone");
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  ASSERT_EQ(admin("/admin/drop", {{"user", u}}).status, 200);
  ASSERT_TRUE(s.rec->wait_for("status 13 30011"));
  EXPECT_TRUE(s.rec->wait_count("status 0 0", 2)) << "connected again after the drop";
  int successes = 0;
  for (const auto& e : s.rec->entries()) successes += e.line.starts_with("success") ? 1 : 0;
  EXPECT_EQ(successes, 1);
}

TEST_P(SdkE2e, TimeLimitReachedWhileTheServerRefusesGives34006) {
  auto s = make("phone");
  ASSERT_EQ(admin("/admin/refuse",
                  {{"device", "phone"}, {"user", user("u")}, {"count", 0}, {"code", 31003}})
                .status,
            200);
  connect(s, token_for(user("u")), /*time_limit_s=*/3);  // 3 s at 20x: 150 ms
  EXPECT_TRUE(s.rec->wait_for("error 34006"));
  EXPECT_TRUE(s.rec->wait_for("status 14 34006"));
  ASSERT_EQ(admin("/admin/faults/clear", {}).status, 200);
}

TEST_P(SdkE2e, BlackholeStarvesTheHeartbeatAndTheClientReconnects) {
  const auto u = user("u");
  auto s = make("phone", false, k_app, /*heartbeat_s=*/5);
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  ASSERT_EQ(admin("/admin/blackhole", {{"user", u}, {"include_new", false}}).status, 200);
  // PINGREQ at 5 s, no PINGRESP by 10 s: 30013 (0.5 s of wall time at 20x).
  EXPECT_TRUE(s.rec->wait_for("status 13 30013"));
  EXPECT_TRUE(s.rec->wait_count("status 0 0", 2)) << "reconnected after the heartbeat timeout";
}

TEST_P(SdkE2e, DisconnectSignsOutAndStaysOut) {
  const auto u = user("u");
  auto s = make("phone");
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  s.c->disconnect();
  EXPECT_TRUE(s.rec->wait_for("status 12 0"));
  EXPECT_TRUE(s.rec->count_stays("status 10 0", 1, 500ms)) << "no reconnect after disconnect";
  EXPECT_EQ(s.c->current_status(), rc::status::sign_out);
}

TEST_P(SdkE2e, SecondConnectGives34001ToItsOwnErrorCallback) {
  const auto u = user("u");
  auto s = make("phone");
  connect(s, token_for(u));
  ASSERT_TRUE(s.rec->wait_for("success " + u));
  connect(s, token_for(u));
  EXPECT_TRUE(s.rec->wait_for("error 34001"));
  EXPECT_EQ(s.c->current_status(), rc::status::connected);
}

INSTANTIATE_TEST_SUITE_P(AllTransports, SdkE2e,
                         ::testing::Values(transport::tcp, transport::tls, transport::ws,
                                           transport::wss),
                         [](const auto& info) {
                           return std::string(imock::to_string(info.param));
                         });

TEST(Sdk, ConnectBeforeInitGives33001OnTheCallbackThread) {
  runtime rt;
  client c(rt);
  recorder rec;
  c.connect("whatever", 0, nullptr, nullptr,
            [&](rc::code code) { rec.add("error " + std::to_string(static_cast<int>(code))); });
  EXPECT_TRUE(rec.wait_for("error 33001"));
  EXPECT_NE(rec.entries().front().thread, std::this_thread::get_id());
}

// Regression: rearm() kept a cancelled deadline as "armed", so a new deadline at that
// same millisecond was never armed and the client hung in Connecting for good. Client
// time runs 1000x slower than the wall clock here, so connect, disconnect and connect
// again fall into one client millisecond and arm the same CONNACK deadline twice.
TEST(Sdk, ATimerCancelledAndArmedAgainAtTheSameMillisecondStillFires) {
  // A listener that completes TCP handshakes (the kernel does) but never answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  runtime rt(runtime_options{.speed = 0.001});
  client c(rt);
  ASSERT_EQ(c.init("app", {.urls = {"mqtt://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))},
                           .connect_ack_timeout_ms = 1}),
            rc::code::ok);
  recorder rec;
  c.set_connection_status_listener(
      [&](rc::status st, rc::code cause) { rec.add(status_line(st, cause)); });
  const auto token = *token::issue("app", "alice", "secret", rt.now_ms());
  c.connect(token, 0, nullptr, nullptr, nullptr);  // CONNACK deadline: t0 + 1 ms
  EXPECT_EQ(c.disconnect(), rc::code::ok);         // every timer cancelled
  c.connect(token, 0, nullptr, nullptr, nullptr);  // the same deadline again
  // One client millisecond is one second here; the deadline must still fire (31000,
  // or 30010 if the handshake had not completed by then).
  EXPECT_TRUE(rec.wait_for("status 13 31000", 10s) || rec.wait_for("status 13 30010", 1ms))
      << rec.dump();
  ::close(fd);
}

TEST(Sdk, InitRefusesBadUrlsWith33003) {
  runtime rt;
  client c(rt);
  EXPECT_EQ(c.init("app", {.urls = {"http://x"}}), rc::code::invalid_parameter);
  EXPECT_EQ(c.init("app", {.urls = {}}), rc::code::invalid_parameter);
  EXPECT_EQ(c.init("", {.urls = {"mqtt://127.0.0.1:1"}}), rc::code::invalid_parameter);
  EXPECT_EQ(c.init("app", {.urls = {"mqtt://127.0.0.1:1"}}), rc::code::ok);
}

TEST(Sdk, RefusedConnectionIsRecoverableAndRetriedUntilTheServerAppears) {
  // Nothing listens on the port at first: 32061, Suspend, retries on the schedule.
  runtime rt({.speed = k_speed});
  server::server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  c.listen.mqtt = "127.0.0.1:0";
  c.listen.http = "127.0.0.1:0";
  auto srv =
      std::make_unique<server::server>(server::server_options{.config = c, .speed = k_speed});
  const auto bound = srv->start();
  std::thread th([&] { srv->run(); });
  // Stop accepting: the port is closed, connections are refused.
  ASSERT_EQ(server::testing::http_request(bound.http, "POST", "/admin/stop-accepting", "{}").status,
            200);
  client cl(rt);
  ASSERT_EQ(cl.init(std::string(k_app), {.urls = {"mqtt://" + bound.mqtt}}), rc::code::ok);
  recorder rec;
  cl.set_connection_status_listener(
      [&](rc::status st, rc::code cause) { rec.add(status_line(st, cause)); });
  cl.connect(
      *token::issue(k_app, "patient", k_secret, srv->now_ms()), 0, nullptr,
      [&](const std::string& u) { rec.add("success " + u); }, nullptr);
  EXPECT_TRUE(rec.wait_for("status 13 32061"));
  ASSERT_EQ(
      server::testing::http_request(bound.http, "POST", "/admin/resume-accepting", "{}").status,
      200);
  EXPECT_TRUE(rec.wait_for("success patient", 20s));
  srv->stop(1000);
  th.join();
}

}  // namespace
}  // namespace imock::client
