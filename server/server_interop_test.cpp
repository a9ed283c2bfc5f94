// Interop: MQTT 5 clients nobody here wrote (Debian's mosquitto_sub and
// mosquitto_pub) against imock-server, with tokens from the signed server API.
#include "imock/server/local_server.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "imock/net/address.hpp"
#include "imock/base/process.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace imock::server {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_app = "interop-app";
constexpr std::string_view k_secret = "interop-secret";

class ServerInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    server_config c;
    c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
    srv_ = std::make_unique<local_server>(
        server_options{.config = on_ephemeral_ports(std::move(c), /*tls=*/false)});
    bound_ = srv_->bound();
    port_ = std::to_string(net::parse_host_port(bound_.mqtt)->port);
  }
  void TearDown() override { srv_.reset(); }

  std::string fetch_token(std::string_view user) {
    const auto r = testing::server_api_call(bound_.http, k_app, k_secret, "/user/getToken.json",
                                            "userId=" + std::string(user));
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(boost::json::parse(r.body).at("token").as_string());
  }

  std::unique_ptr<child_process> mosquitto(const char* program, std::vector<std::string> args) {
    // stdbuf: mosquitto's stdio is block-buffered into a pipe; we read it line by line.
    std::vector<std::string> all{"stdbuf", "-oL", program, "-h",     "127.0.0.1", "-p",
                                 port_,    "-V",  "mqttv5", "-d"};
    all.insert(all.end(), args.begin(), args.end());
    auto c = child_process::spawn(all, {});
    if (!c) ADD_FAILURE() << program << " could not start: run scripts/install-deps";
    return c;
  }

  std::unique_ptr<local_server> srv_;
  bound_addresses bound_;
  std::string port_;
};

TEST_F(ServerInterop, MosquittoClientsConnectWithAServerApiTokenAndExchangeAMessage) {
  const auto token = fetch_token("bob");
  auto sub = mosquitto("mosquitto_sub", {"-i", "bob-phone", "-u", std::string(k_app), "-P", token,
                                         "-t", "chat/#", "-C", "1", "-W", "20"});
  ASSERT_TRUE(sub);
  ASSERT_TRUE(sub->wait_output("Subscribed", 10s)) << sub->output();
  // A web client of the same user: the single-mobile-device policy leaves it alone.
  auto pub =
      mosquitto("mosquitto_pub", {"-i", "bob-web", "-u", std::string(k_app), "-P", token, "-t",
                                  "chat/1", "-m", "hello from mosquitto", "-q", "1", "--property",
                                  "connect", "user-property", "imock-platform", "web"});
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->wait_exit(10s), 0) << pub->read_all(1s);
  EXPECT_TRUE(sub->wait_output("hello from mosquitto", 10s)) << sub->output();
  EXPECT_EQ(sub->wait_exit(10s), 0) << sub->output();
}

TEST_F(ServerInterop, TamperedTokenIsRefusedWithBadUserNameOrPassword) {
  auto token = fetch_token("eve");
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';
  auto sub = mosquitto("mosquitto_sub", {"-i", "eve-phone", "-u", std::string(k_app), "-P", token,
                                         "-t", "x", "-W", "10"});
  ASSERT_TRUE(sub);
  EXPECT_TRUE(sub->wait_output("received CONNACK (134)", 10s)) << sub->output();  // 0x86
  EXPECT_NE(sub->wait_exit(10s), 0);
}

TEST_F(ServerInterop, AdminKickDisconnectsAMosquittoClient) {
  const auto token = fetch_token("carol");
  auto sub = mosquitto("mosquitto_sub", {"-i", "carol-phone", "-u", std::string(k_app), "-P", token,
                                         "-t", "x", "-W", "20"});
  ASSERT_TRUE(sub);
  ASSERT_TRUE(sub->wait_output("Subscribed", 10s)) << sub->output();
  const auto r = testing::http_request(bound_.http, "POST", "/admin/kick", R"({"user":"carol"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(sub->wait_output("DISCONNECT (142)", 10s)) << sub->output();  // 0x8E
  EXPECT_EQ(sub->wait_exit(10s), 0);
}

}  // namespace
}  // namespace imock::server
