// imock-server beyond the happy path: timeouts under scaled time, faults on the
// wire, listeners going away, HTTP edge cases, and the real process (flags, ready
// file, SIGTERM). The real process is found next to this test binary.
#include "imock/server/server.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "imock/base/process.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/local_server.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace imock::server {
namespace {

using namespace std::chrono_literals;
using testing::connect_packet;
using testing::verdict_of;
using testing::wire_client;

// A program of imock's, its stdout a pipe, its stderr in `err_file`.
std::unique_ptr<child_process> spawn(const std::filesystem::path& program,
                                     std::vector<std::string> args, const std::string& err_file) {
  args.insert(args.begin(), program.string());
  return child_process::spawn(args, {.err = spawn_options::stream::file, .err_file = err_file});
}

constexpr std::string_view k_app = "proc-app";
constexpr std::string_view k_secret = "proc-secret";

// A server whose time runs `speed` times faster, on its own thread.
class running_server {
 public:
  explicit running_server(double speed = 1.0, limits_config limits = {},
                          const std::function<void(server_config&)>& adjust = {}) {
    server_config c;
    c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
    c.limits = limits;
    c.limits.replay_protection = false;  // scaled time drifts from the signer's clock
    c = on_ephemeral_ports(std::move(c), /*tls=*/false);
    if (adjust) adjust(c);
    srv_ = std::make_unique<local_server>(server_options{.config = c, .speed = speed});
    bound = srv_->bound();
  }
  std::unique_ptr<wire_client> open() {
    std::string error;
    auto c = wire_client::open(transport::tcp, bound, &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }
  std::unique_ptr<wire_client> login(std::string_view user, std::uint16_t keep_alive = 30) {
    auto c = open();
    if (!c) return nullptr;
    c->send(connect_packet(k_app, *token::issue(k_app, user, k_secret, srv_->get().now_ms()), "dev",
                           false, false, "ios", keep_alive));
    const auto v = verdict_of(c->receive());
    EXPECT_EQ(v.reason, 0) << v.to_string();
    return c;
  }
  testing::http_result admin(std::string_view path, const boost::json::object& body = {}) {
    return testing::http_request(bound.http, "POST", path, boost::json::serialize(body));
  }
  server& srv() { return srv_->get(); }

  bound_addresses bound;

 private:
  std::unique_ptr<local_server> srv_;
};

TEST(ServerTimeouts, SilentSessionIsDisconnectedWithKeepAliveTimeout) {
  // Keep alive 5 s x 1.5 = 7.5 s of server time = 75 ms of wall time at speed 100.
  running_server s(100.0);
  auto c = s.login("silent", 5);
  ASSERT_TRUE(c);
  const auto v = verdict_of(c->receive(5s));
  EXPECT_EQ(v.packet, "DISCONNECT") << v.to_string();
  EXPECT_EQ(v.reason, 0x8D) << v.to_string();
  EXPECT_TRUE(c->wait_closed());
}

TEST(ServerTimeouts, ConnectionWithoutConnectIsClosedWithoutAReply) {
  running_server s(100.0);  // CONNECT timeout 10 s = 100 ms
  auto c = s.open();
  ASSERT_TRUE(c);
  const auto p = c->receive(5s);
  EXPECT_FALSE(p.has_value()) << verdict_of(p).to_string();
  EXPECT_TRUE(c->closed());
}

TEST(ServerTimeouts, DelayedConnackArrivesAfterTheDelay) {
  running_server s(1.0);
  ASSERT_EQ(s.admin("/admin/delay", {{"ms", 300}, {"count", 1}}).status, 200);
  auto c = s.open();
  ASSERT_TRUE(c);
  const auto t0 = std::chrono::steady_clock::now();
  c->send(connect_packet(k_app, *token::issue(k_app, "late", k_secret, s.srv().now_ms()), "d"));
  EXPECT_FALSE(c->receive(100ms).has_value()) << "CONNACK came before the delay";
  const auto v = verdict_of(c->receive(5s));
  EXPECT_EQ(v.reason, 0) << v.to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST(ServerListeners, StopAcceptingRefusesConnectionsAndResumeAcceptsAgain) {
  running_server s;
  auto online = s.login("stays");
  ASSERT_TRUE(online);
  ASSERT_EQ(s.admin("/admin/stop-accepting").status, 200);
  std::string error;
  EXPECT_EQ(wire_client::open(transport::tcp, s.bound, &error), nullptr);
  EXPECT_NE(error.find("refused"), std::string::npos) << error;
  online->send(mqtt::pingreq{});
  EXPECT_TRUE(online->receive() == mqtt::packet(mqtt::pingresp{})) << "open sessions stay";
  ASSERT_EQ(s.admin("/admin/resume-accepting").status, 200);
  EXPECT_TRUE(s.login("again"));
}

// Sockets listening on 127.0.0.1:`port`, from /proc/net/tcp (state 0A = LISTEN).
int listening_sockets(std::uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  int count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (local == want && state == "0A") ++count;
  }
  return count;
}

std::uint16_t port_of(const std::string& host_port) {
  return static_cast<std::uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
}

TEST(ServerListeners, EachMqttPortListensOnAcceptQueuesSocketsAndAllOfThemServe) {
  server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  c.listen.mqtt = "127.0.0.1:0";
  c.listen.http = "127.0.0.1:0";
  c.listen.accept_queues = 3;
  server srv(server_options{.config = c});
  const auto bound = srv.start();
  std::thread loop([&] { srv.run(); });
  const auto port = port_of(bound.mqtt);
  EXPECT_EQ(listening_sockets(port), 3);
  EXPECT_EQ(listening_sockets(port_of(bound.http)), 1) << "the HTTP port has one queue";
  // The kernel spreads connections over the queues by address and port: enough
  // clients reach every queue, and every one of them must be served.
  std::vector<std::unique_ptr<wire_client>> clients;
  for (int i = 0; i < 60; ++i) {
    std::string error;
    auto cl = wire_client::open(transport::tcp, bound, &error);
    ASSERT_NE(cl, nullptr) << error;
    const auto user = "q" + std::to_string(i);
    cl->send(connect_packet(k_app, *token::issue(k_app, user, k_secret, srv.now_ms()), user));
    const auto v = verdict_of(cl->receive());
    EXPECT_EQ(v.reason, 0) << "client " << i << ": " << v.to_string();
    clients.push_back(std::move(cl));
  }
  // Stop and resume accepting closes and reopens every queue on the same port.
  ASSERT_EQ(testing::http_request(bound.http, "POST", "/admin/stop-accepting", "{}").status, 200);
  EXPECT_EQ(listening_sockets(port), 0);
  ASSERT_EQ(testing::http_request(bound.http, "POST", "/admin/resume-accepting", "{}").status, 200);
  EXPECT_EQ(listening_sockets(port), 3);
  srv.stop(1000);
  loop.join();
}

TEST(ServerListeners, RestartDisconnectsEveryoneWith0x8BAndComesBack) {
  running_server s;
  auto c = s.login("restarted");
  ASSERT_TRUE(c);
  ASSERT_EQ(s.admin("/admin/restart", {{"down_ms", 0}}).status, 200);
  const auto v = verdict_of(c->receive());
  EXPECT_EQ(v.packet, "DISCONNECT");
  EXPECT_EQ(v.reason, 0x8B);
  EXPECT_EQ(v.rc, 31003);
  EXPECT_TRUE(s.login("restarted"));
}

TEST(ServerFaults, DropAfterConnackFaultClosesRightAfterTheConnack) {
  running_server s;
  ASSERT_EQ(
      s.admin("/admin/faults", {{"on", "connack"}, {"action", "drop"}, {"send_disconnect", false}})
          .status,
      200);
  auto c = s.login("dropped");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->wait_closed());
}

TEST(ServerFaults, NthPacketFaultKicksOnThatPacket) {
  running_server s;
  ASSERT_EQ(s.admin("/admin/faults", {{"on", "packet"}, {"nth", 3}, {"action", "kick"}}).status,
            200);
  auto c = s.login("third");  // CONNECT is packet 1
  ASSERT_TRUE(c);
  c->send(mqtt::pingreq{});  // packet 2
  EXPECT_TRUE(c->receive() == mqtt::packet(mqtt::pingresp{}));
  c->send(mqtt::pingreq{});  // packet 3
  const auto v = verdict_of(c->receive());
  EXPECT_EQ(v.packet, "DISCONNECT");
  EXPECT_EQ(v.rc, 31010);
}

TEST(ServerFaults, BadFaultRuleIsABadRequestThatSaysWhy) {
  running_server s;
  const auto r = s.admin("/admin/faults", {{"on", "connect"}, {"action", "explode"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("'action': 'explode' is not an action (expected one of: refuse, delay, drop, blackhole, kick, duplicate, reorder, drop_ack)"), std::string::npos) << r.body;
  const auto r2 = s.admin("/admin/refuse", {{"code", 12345}});
  EXPECT_EQ(r2.status, 400);
  EXPECT_NE(r2.body.find("not a documented code"), std::string::npos) << r2.body;
}

TEST(ServerHttp, MetricsAndHealthzAnswer) {
  running_server s;
  auto c = s.login("metered");
  ASSERT_TRUE(c);
  const auto m = testing::http_request(s.bound.http, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("imock_connections{transport=\"tcp\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("imock_connects_total{code=\"0\"} 1"), std::string::npos) << m.body;
  const auto h = testing::http_request(s.bound.http, "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.body.find("\"ok\""), std::string::npos);
}

TEST(ServerHttp, AdminTokenLocksTheAdminApiOnlyAndLongPollsToo) {
  server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  c.listen.mqtt = "127.0.0.1:0";
  c.listen.http = "127.0.0.1:0";
  c.listen.admin_token = "t0ken-for-tests";
  server srv(server_options{.config = c});
  const auto bound = srv.start();
  std::thread t([&] { srv.run(); });
  const net::http_headers good{{"Authorization", "Bearer t0ken-for-tests"}};
  const net::http_headers bad{{"Authorization", "Bearer t0ken-for-test"}};

  const auto none = testing::http_request(bound.http, "GET", "/admin/status");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("Authorization: Bearer TOKEN"), std::string::npos) << none.body;
  EXPECT_EQ(testing::http_request(bound.http, "GET", "/admin/status", {}, {}, bad).status, 401);
  EXPECT_EQ(testing::http_request(bound.http, "POST", "/admin/shutdown", "{}").status, 401);
  // A long poll without the token is refused at once, not after its wait.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::http_request(bound.http, "GET", "/admin/events?since=99&wait_ms=20000").status,
            401);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);

  EXPECT_EQ(testing::http_request(bound.http, "GET", "/admin/status", {}, {}, good).status, 200);
  EXPECT_EQ(testing::http_request(bound.http, "GET", "/metrics").status, 200);
  EXPECT_EQ(testing::http_request(bound.http, "GET", "/healthz").status, 200);
  // The server API keeps its own signatures: a signed call needs no admin token.
  const auto api = testing::server_api_call(bound.http, k_app, k_secret, "/user/getToken.json",
                                            "userId=alice&name=Alice&portraitUri=");
  EXPECT_EQ(api.status, 200) << api.body;
  srv.stop(1000);
  t.join();
}

TEST(ServerHttp, EventLogShowsTheConnectAndLongPollWaitsForTheNext) {
  running_server s;
  auto c = s.login("logged");
  ASSERT_TRUE(c);
  const auto all = testing::http_request(s.bound.http, "GET", "/admin/events?format=text");
  EXPECT_NE(all.body.find("connect #1 proc-app/logged/dev tcp ok"), std::string::npos) << all.body;
  const auto last = [&] {
    const auto status =
        boost::json::parse(testing::http_request(s.bound.http, "GET", "/admin/status").body);
    return status.at("last_event").to_number<std::int64_t>();
  };
  // Nothing new: the long poll answers after its wait with no events.
  const auto before = last();
  const auto empty = testing::http_request(
      s.bound.http, "GET", "/admin/events?since=" + std::to_string(before) + "&wait_ms=100");
  EXPECT_NE(empty.body.find("\"events\":[]"), std::string::npos) << empty.body;
  // Something new: it answers with it (at once or when it happens).
  c->send(mqtt::disconnect{});
  const auto polled = testing::http_request(
      s.bound.http, "GET", "/admin/events?since=" + std::to_string(before) + "&wait_ms=4000");
  EXPECT_NE(polled.body.find("\"kind\":\"disconnect\""), std::string::npos) << polled.body;
}

TEST(ServerHttp, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  running_server s;
  EXPECT_EQ(testing::http_request(s.bound.http, "GET", "/nope").status, 404);
  EXPECT_EQ(testing::http_request(s.bound.http, "POST", "/admin/kick", "{not json").status, 400);
  EXPECT_EQ(testing::http_request(s.bound.http, "GET", "/admin/kick").status, 405);
  EXPECT_EQ(testing::http_request(s.bound.http, "POST", "/user/getToken.json", "userId=a",
                                  "application/x-www-form-urlencoded")
                .status,
            400);
  // A WebSocket upgrade without the mqtt subprotocol is refused.
  std::string error;
  EXPECT_EQ(wire_client::open(transport::ws, s.bound, &error, ""), nullptr);
  EXPECT_TRUE(s.login("still-serving"));
}

TEST(ServerHttp, WebSocketGarbageBeforeConnectGetsConnack0x81) {
  running_server s;
  auto c = wire_client::open(transport::ws, s.bound);
  ASSERT_TRUE(c);
  c->send_bytes(std::string("\x00\x00", 2));  // packet type 0 is malformed
  const auto v = verdict_of(c->receive());
  EXPECT_EQ(v.packet, "CONNACK") << v.to_string();
  EXPECT_EQ(v.reason, 0x81) << v.to_string();
}

TEST(ServerHttp, WebSocketUpgradeWithAKeyThatIsNot16BytesOfBase64Is400) {
  running_server s;
  const auto upgrade = [&](std::string_view key) {
    return testing::http_request(s.bound.http, "GET", "/mqtt", "", "",
                                 {{"Upgrade", "websocket"},
                                  {"Connection", "Upgrade"},
                                  {"Sec-WebSocket-Version", "13"},
                                  {"Sec-WebSocket-Protocol", "mqtt"},
                                  {"Sec-WebSocket-Key", std::string(key)}});
  };
  for (const char* bad : {"c2hvcnQ=", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j*Q==",
                          "dGhlIHNhbXBsZSBub25jZQ=", ""}) {
    const auto r = upgrade(bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.what();
    EXPECT_NE(r.body.find("Sec-WebSocket-Key"), std::string::npos) << r.body;
  }
  // The RFC's own example key is taken (101; the HTTP client reads no further).
  EXPECT_NE(upgrade("dGhlIHNhbXBsZSBub25jZQ==").status, 400);
  EXPECT_TRUE(s.login("still-serving"));
}

// The slow reader: server_exhaustion_test.cpp.

// --- navigation (docs/protocol.md §8) ------------------------------------------

// POST /navi.json at `host_port` as an SDK sends it.
testing::http_result navigate(const std::string& host_port, std::string_view app_key = k_app,
                              std::string_view user = "navigator") {
  const auto token = *token::issue(app_key, user, k_secret, 0);
  return testing::http_request(
      host_port, "POST", "/navi.json", "token=" + form_escape(token) + "&device=phone&platform=ios",
      "application/x-www-form-urlencoded", {{"App-Key", std::string(app_key)}});
}

std::vector<std::string> servers_of(const testing::http_result& r) {
  std::vector<std::string> out;
  const auto v = boost::json::parse(r.body);
  for (const auto& url : v.as_object().at("servers").as_array()) {
    out.emplace_back(url.as_string());
  }
  return out;
}

TEST(ServerNavigation, ListsTheBoundListenersAndTheirUrlsConnect) {
  running_server s;
  const auto r = navigate(s.bound.http);
  ASSERT_EQ(r.status, 200) << r.what();
  EXPECT_EQ(servers_of(r),
            (std::vector<std::string>{"mqtt://" + s.bound.mqtt, "ws://" + s.bound.http + "/mqtt"}));
  EXPECT_EQ(boost::json::parse(r.body).as_object().at("cacheSeconds"), 7200);
  // The listed MQTT URL is where a client logs in.
  const auto url = net::parse_server_url(servers_of(r).front());
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host + ":" + std::to_string(url->port), s.bound.mqtt);
  EXPECT_TRUE(s.login("navigated"));
  const auto events =
      boost::json::parse(testing::http_request(s.bound.http, "GET", "/admin/events?since=0").body);
  bool logged = false;
  for (const auto& e : events.as_object().at("events").as_array()) {
    const auto& o = e.as_object();
    logged = logged || (o.at("kind") == "navigation" && o.contains("user") &&
                        o.at("user") == "navigator" && o.at("device") == "phone");
  }
  EXPECT_TRUE(logged) << events;
}

TEST(ServerNavigation, EveryTransportIsListedInItsOrder) {
  running_server s(1.0, {}, [](server_config& c) {
    c.listen.mqtts = "127.0.0.1:0";
    c.listen.https = "127.0.0.1:0";
    c.listen.tls_self_signed = true;
  });
  const auto r = navigate(s.bound.http);
  ASSERT_EQ(r.status, 200) << r.what();
  EXPECT_EQ(servers_of(r),
            (std::vector<std::string>{"mqtt://" + s.bound.mqtt, "mqtts://" + *s.bound.mqtts,
                                      "ws://" + s.bound.http + "/mqtt",
                                      "wss://" + *s.bound.https + "/mqtt"}));
}

TEST(ServerNavigation, ConfiguredServersAreListedInstead) {
  running_server s(1.0, {}, [](server_config& c) {
    c.navigation.servers = {{"mqtt://10.0.0.2:1883"}};
    c.navigation.cache_lifetime_ms = 600'000;
  });
  const auto r = navigate(s.bound.http);
  EXPECT_EQ(r.body, R"({"code":200,"servers":["mqtt://10.0.0.2:1883"],"cacheSeconds":600})");
}

TEST(ServerNavigation, RequestFaultClosesTheConnectionWithoutAnAnswer) {
  running_server s;
  ASSERT_EQ(s.admin("/admin/navigation", {{"fail", "request"}, {"count", 1}}).status, 200);
  const auto r = navigate(s.bound.http);
  EXPECT_EQ(r.status, 0) << r.what();
  EXPECT_FALSE(r.ok()) << "no answer at all";
  EXPECT_EQ(navigate(s.bound.http).status, 200) << "the count is used up";
}

TEST(ServerNavigation, ResponseAndServerFaultsReachTheWire) {
  running_server s;
  ASSERT_EQ(s.admin("/admin/navigation", {{"fail", "response"}, {"count", 1}}).status, 200);
  const auto html = navigate(s.bound.http);
  EXPECT_EQ(html.status, 200);
  EXPECT_EQ(html.body, "<html>imock navigation fault</html>");
  ASSERT_EQ(s.admin("/admin/navigation", {{"fail", "server"}, {"count", 1}}).status, 200);
  const auto error = navigate(s.bound.http);
  EXPECT_EQ(error.status, 500);
  EXPECT_NE(error.body.find(R"("code":30009)"), std::string::npos) << error.body;
}

TEST(ServerNavigation, DeadFaultListsServersThatRefuseEveryConnect) {
  running_server s;
  ASSERT_EQ(s.admin("/admin/navigation", {{"fail", "dead"}}).status, 200);
  const auto r = navigate(s.bound.http);
  ASSERT_EQ(r.status, 200) << r.what();
  const auto dead = servers_of(r);
  ASSERT_EQ(dead.size(), 2u) << r.body;
  for (const auto& text : dead) {
    const auto url = net::parse_server_url(text);
    ASSERT_TRUE(url) << text;
    EXPECT_NE(url->host + ":" + std::to_string(url->port), s.bound.mqtt);
    const auto at = url->host + ":" + std::to_string(url->port);
    std::string error;
    EXPECT_EQ(wire_client::open(url->via, bound_addresses{.mqtt = at, .http = at}, &error), nullptr)
        << text;
    EXPECT_NE(error.find("refused"), std::string::npos) << text << ": " << error;
  }
  // Asking again gives the same dead list; clearing gives the live one.
  EXPECT_EQ(servers_of(navigate(s.bound.http)), dead);
  ASSERT_EQ(s.admin("/admin/faults/clear").status, 200);
  EXPECT_EQ(servers_of(navigate(s.bound.http)).front(), "mqtt://" + s.bound.mqtt);
}

TEST(ServerNavigation, NavigationListenersAnswerOnlyNavigationAndHealth) {
  running_server s(1.0, {}, [](server_config& c) {
    c.listen.navigation = {"127.0.0.1:0", "127.0.0.1:0"};
  });
  ASSERT_EQ(s.bound.navigation.size(), 2u);
  EXPECT_NE(s.bound.navigation[0], s.bound.navigation[1]);
  for (const auto& at : s.bound.navigation) {
    const auto r = navigate(at);
    ASSERT_EQ(r.status, 200) << at << ": " << r.what();
    EXPECT_EQ(servers_of(r).front(), "mqtt://" + s.bound.mqtt) << "the same server's list";
    EXPECT_EQ(testing::http_request(at, "GET", "/healthz").status, 200);
    EXPECT_EQ(testing::http_request(at, "GET", "/admin/status").status, 404);
    EXPECT_EQ(testing::http_request(at, "POST", "/admin/shutdown", "{}").status, 404);
    EXPECT_EQ(testing::http_request(at, "GET", "/metrics").status, 404);
  }
  EXPECT_EQ(navigate(s.bound.navigation[0], "no-such-app").status, 403);
}

// --- the real process ---------------------------------------------------------

std::filesystem::path server_binary() {
  return std::filesystem::canonical("/proc/self/exe").parent_path() / "imock-server";
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::filesystem::path scratch(std::string_view name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("imock-proc-" + std::to_string(getpid()) + "-" + std::string(name));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ServerProcess, SigtermSendsDisconnect0x8BAndExitsZero) {
  const auto dir = scratch("sigterm");
  auto proc = spawn(server_binary(),
                    {"--listen-mqtt", "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--ready-file",
                     (dir / "ready.json").string()},
                    (dir / "err").string());
  ASSERT_TRUE(proc);
  // The ready file is written before the banner is printed.
  ASSERT_TRUE(proc->wait_output("listening", 10s)) << slurp(dir / "err");
  const auto ready = boost::json::parse(slurp(dir / "ready.json")).as_object();
  bound_addresses bound{.mqtt = std::string(ready.at("mqtt").as_string()),
                        .http = std::string(ready.at("http").as_string())};
  auto c = wire_client::open(transport::tcp, bound);
  ASSERT_TRUE(c);
  c->send(connect_packet("imock-demo-key",
                         *token::issue("imock-demo-key", "alice", "imock-demo-secret",
                                       std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()),
                         "phone"));
  ASSERT_EQ(verdict_of(c->receive()).reason, 0);
  ASSERT_TRUE(proc->wait_output("imock-demo-secret", 10s)) << "the demo app is printed at start";
  proc->signal(SIGTERM);
  const auto v = verdict_of(c->receive());
  EXPECT_EQ(v.packet, "DISCONNECT") << v.to_string();
  EXPECT_EQ(v.reason, 0x8B);
  EXPECT_EQ(proc->wait_exit(10s), 0) << slurp(dir / "err");
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, ReadyFileListsTheNavigationListeners) {
  const auto dir = scratch("navigation");
  std::ofstream(dir / "navi.yaml") << "listen:\n  mqtt: 127.0.0.1:0\n  http: 127.0.0.1:0\n"
                                      "  navigation: [127.0.0.1:0]\n"
                                      "navigation:\n  cache_lifetime: 10m\n";
  auto proc = spawn(
      server_binary(),
      {"--config", (dir / "navi.yaml").string(), "--ready-file", (dir / "ready.json").string()},
      (dir / "err").string());
  ASSERT_TRUE(proc);
  ASSERT_TRUE(proc->wait_output("listening", 10s)) << slurp(dir / "err");
  const auto ready = boost::json::parse(slurp(dir / "ready.json")).as_object();
  ASSERT_TRUE(ready.contains("navigation")) << ready;
  const auto& navigation = ready.at("navigation").as_array();
  ASSERT_EQ(navigation.size(), 1u);
  const std::string at(navigation[0].as_string());
  const auto token = *token::issue("imock-demo-key", "alice", "imock-demo-secret", 0);
  const auto r =
      testing::http_request(at, "POST", "/navi.json", "token=" + form_escape(token),
                            "application/x-www-form-urlencoded", {{"App-Key", "imock-demo-key"}});
  EXPECT_EQ(r.status, 200) << r.what();
  EXPECT_NE(r.body.find(R"("cacheSeconds":600)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("mqtt://" + std::string(ready.at("mqtt").as_string())), std::string::npos)
      << r.body;
  EXPECT_TRUE(proc->wait_output("navigation only", 10s)) << "the banner shows it";
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_exit(10s), 0) << slurp(dir / "err");
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, BadFlagsAndBadConfigExitNonZeroWithAClearMessage) {
  const auto dir = scratch("badflags");
  const auto err = (dir / "err").string();
  {
    auto proc = spawn(server_binary(), {"--listen-mqtt", "127.0.0.1"}, err);
    EXPECT_EQ(proc->wait_exit(10s), 1);
    EXPECT_NE(slurp(err).find("--listen-mqtt"), std::string::npos) << slurp(err);
  }
  {
    auto proc = spawn(server_binary(), {"--no-such-flag"}, err);
    EXPECT_NE(proc->wait_exit(10s), 0);
  }
  {
    std::ofstream(dir / "bad.yaml") << "apps:\n  - key: k\n    secrte: s\n";
    auto proc = spawn(server_binary(), {"--config", (dir / "bad.yaml").string()}, err);
    EXPECT_EQ(proc->wait_exit(10s), 2);
    EXPECT_NE(slurp(err).find("bad.yaml:3:5"), std::string::npos) << slurp(err);
  }
  {
    // Off loopback, the admin API needs a token: refuse to start without one.
    auto proc = spawn(server_binary(),
                      {"--listen-mqtt", "127.0.0.1:0", "--listen-http", "0.0.0.0:0"}, err);
    EXPECT_EQ(proc->wait_exit(10s), 2);
    EXPECT_NE(slurp(err).find("0.0.0.0:0 is not on loopback"), std::string::npos) << slurp(err);
  }
  {
    // ... and start with one, from the environment (the Docker image's way).
    auto proc = child_process::spawn(
        {"/usr/bin/env", "IMOCK_ADMIN_TOKEN=from-env", server_binary().string(), "--listen-mqtt",
         "127.0.0.1:0", "--listen-http", "0.0.0.0:0"},
        {.err = spawn_options::stream::file, .err_file = err});
    ASSERT_TRUE(proc);
    EXPECT_TRUE(proc->wait_output("needs 'Authorization: Bearer TOKEN'", 10s)) << slurp(err);
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_exit(10s), 0) << slurp(err);
  }
  {
    // The port is taken: say which address could not be bound.
    running_server other;
    auto proc = spawn(server_binary(),
                      {"--listen-mqtt", other.bound.mqtt, "--listen-http", "127.0.0.1:0"}, err);
    EXPECT_EQ(proc->wait_exit(10s), 1);
    EXPECT_NE(slurp(err).find(other.bound.mqtt), std::string::npos) << slurp(err);
  }
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, OutOfFileDescriptorsBacksOffAndRecovers) {
  // The server gets 32 descriptors; 40 clients exhaust them. It must neither crash
  // nor spin on accept, and must serve again once clients leave.
  const auto dir = scratch("emfile");
  auto proc = spawn("prlimit",
                    {"--nofile=32:32", server_binary().string(), "--listen-mqtt", "127.0.0.1:0",
                     "--listen-http", "127.0.0.1:0", "--ready-file", (dir / "ready.json").string()},
                    (dir / "err").string());
  ASSERT_TRUE(proc);
  ASSERT_TRUE(proc->wait_output("listening", 10s)) << slurp(dir / "err");
  const auto ready = boost::json::parse(slurp(dir / "ready.json")).as_object();
  bound_addresses bound{.mqtt = std::string(ready.at("mqtt").as_string()),
                        .http = std::string(ready.at("http").as_string())};
  std::vector<std::unique_ptr<wire_client>> hogs;
  for (int i = 0; i < 40; ++i) {
    if (auto c = wire_client::open(transport::tcp, bound)) hogs.push_back(std::move(c));
  }
  // The kernel completes handshakes into the backlog even when accept fails, so all
  // 40 "connect"; the server holds what it can and backs off on the rest.
  const auto cpu = [&] {
    std::ifstream stat("/proc/" + std::to_string(proc->pid()) + "/stat");
    std::string skip;
    long utime = 0, stime = 0;
    for (int i = 0; i < 13; ++i) stat >> skip;
    stat >> utime >> stime;
    return utime + stime;  // clock ticks
  };
  const long before = cpu();
  // Let the server sit out of descriptors for a while (a bounded wait on a reply that
  // cannot come: the last hog's CONNECT is stuck in the backlog).
  hogs.back()->send(mqtt::pingreq{});
  (void)hogs.back()->receive(500ms);
  const long used = cpu() - before;
  EXPECT_LT(used, 25) << "server used " << used << " ticks of CPU in 0.5 s out of descriptors";
  hogs.clear();
  // Descriptors come back; the server serves again.
  std::unique_ptr<wire_client> c;
  for (int attempt = 0; attempt < 50 && !c; ++attempt) {
    c = wire_client::open(transport::tcp, bound);
    if (!c) continue;
    c->send(connect_packet("imock-demo-key",
                           *token::issue("imock-demo-key", "back", "imock-demo-secret",
                                         std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()),
                           "phone"));
    const auto v = verdict_of(c->receive(2s));
    if (v.reason != 0) c.reset();
  }
  EXPECT_TRUE(c) << "the server did not recover after descriptors were freed";
  const auto m = testing::http_request(bound.http, "GET", "/metrics");
  EXPECT_EQ(m.body.find("imock_accept_backoffs_total 0"), std::string::npos) << m.body;
  proc->signal(SIGTERM);
  EXPECT_EQ(proc->wait_exit(10s), 0) << slurp(dir / "err");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace imock::server
