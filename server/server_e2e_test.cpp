// imock-server end to end: a real server on ephemeral loopback ports, real
// sockets on all four transports, every documented code observed on the wire.
#include "imock/server/local_server.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace imock::server {
namespace {

using namespace std::chrono_literals;
using testing::connect_packet;
using testing::verdict_of;
using testing::wire_client;

constexpr std::string_view k_app = "e2e-app";
constexpr std::string_view k_secret = "e2e-secret";
constexpr std::string_view k_multi = "e2e-multi";
constexpr std::string_view k_blocked = "e2e-blocked";
constexpr std::string_view k_short = "e2e-short";  // tokens live 1 s (server time)

server_config test_config() {
  server_config c;
  c.apps = {
      {.key = std::string(k_app), .secret = std::string(k_secret)},
      {.key = std::string(k_multi),
       .secret = std::string(k_secret),
       .policy = login_policy::multi_device},
      {.key = std::string(k_blocked), .secret = std::string(k_secret), .state = app_state::blocked},
      {.key = std::string(k_short), .secret = std::string(k_secret), .token_lifetime_ms = 1000},
  };
  c.limits.max_packet_size = 4096;
  return on_ephemeral_ports(std::move(c), /*tls=*/true);
}

// One server per test suite run on its own thread; each test uses fresh user ids.
class ServerE2e : public ::testing::TestWithParam<transport> {
 protected:
  static void SetUpTestSuite() {
    srv_ = std::make_unique<local_server>(server_options{.config = test_config()});
    bound_ = srv_->bound();
  }
  static void TearDownTestSuite() {
    srv_.reset();
  }

  // A user id unique to this test and transport.
  std::string user(std::string_view tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->name()) + "-" + std::string(tag);
    for (auto& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    return name.substr(name.size() > 60 ? name.size() - 60 : 0);
  }

  std::string token_for(std::string_view user_id, std::string_view app = k_app,
                        std::int64_t lifetime_ms = 0) {
    return *token::issue(app, user_id, k_secret, srv_->get().now_ms(), lifetime_ms);
  }

  std::unique_ptr<wire_client> open() {
    std::string error;
    auto c = wire_client::open(GetParam(), bound_, &error);
    EXPECT_NE(c, nullptr) << error;
    return c;
  }

  // A client that takes messages (imock-messages=1), logged in, past its offline sync
  // (nothing stored: the sync-completed marker right after CONNACK).
  std::unique_ptr<wire_client> messaging_login(const std::string& user_id,
                                               const std::string& device) {
    auto c = open();
    if (!c) return nullptr;
    auto connect = connect_packet(k_app, token_for(user_id), device);
    connect.props.user_properties.emplace_back("imock-messages", "1");
    c->send(connect);
    const auto v = verdict_of(c->receive());
    EXPECT_EQ(v.reason, 0) << v.to_string();
    const auto done = c->receive();
    const auto* marker = done ? std::get_if<mqtt::publish>(&*done) : nullptr;
    EXPECT_TRUE(marker != nullptr && marker->topic == "imock/sync/done")
        << verdict_of(done).to_string();
    return c;
  }

  // Connects and returns the client when CONNACK 0 came back.
  std::unique_ptr<wire_client> login(std::string_view user_id, std::string_view device,
                                     bool reconnect = false, bool kick = false,
                                     std::string_view app = k_app) {
    auto c = open();
    if (!c) return nullptr;
    c->send(connect_packet(app, token_for(user_id, app), device, reconnect, kick));
    const auto v = verdict_of(c->receive());
    EXPECT_EQ(v.packet, "CONNACK") << v.to_string();
    EXPECT_EQ(v.reason, 0) << v.to_string();
    return c;
  }

  // Sends `c` and expects a CONNACK with `reason` and rc-code `rc`, then a close.
  ::testing::AssertionResult refused(const mqtt::connect& c, int reason, int rc) {
    auto client = open();
    if (!client) return ::testing::AssertionFailure() << "could not open";
    client->send(c);
    const auto v = verdict_of(client->receive());
    if (v.packet != "CONNACK" || v.reason != reason || v.rc != rc) {
      return ::testing::AssertionFailure() << "expected CONNACK reason=" << reason
                                           << " rc-code=" << rc << ", got " << v.to_string();
    }
    if (!client->wait_closed()) return ::testing::AssertionFailure() << "not closed after refusal";
    return ::testing::AssertionSuccess();
  }

  static ::testing::AssertionResult disconnected(wire_client& c, int reason, int rc) {
    const auto v = verdict_of(c.receive());
    if (v.packet != "DISCONNECT" || v.reason != reason || v.rc != rc) {
      return ::testing::AssertionFailure() << "expected DISCONNECT reason=" << reason
                                           << " rc-code=" << rc << ", got " << v.to_string();
    }
    if (!c.wait_closed()) return ::testing::AssertionFailure() << "not closed after DISCONNECT";
    return ::testing::AssertionSuccess();
  }

  static testing::http_result admin(std::string_view path, const boost::json::object& body) {
    return testing::http_request(bound_.http, "POST", path, boost::json::serialize(body));
  }

  static std::unique_ptr<local_server> srv_;
  static bound_addresses bound_;
};

std::unique_ptr<local_server> ServerE2e::srv_;
bound_addresses ServerE2e::bound_;

TEST_P(ServerE2e, ValidTokenGetsConnackZeroWithTheUserId) {
  const auto u = user("u");
  auto c = open();
  ASSERT_TRUE(c);
  c->send(connect_packet(k_app, token_for(u), "phone"));
  const auto p = c->receive();
  ASSERT_TRUE(p && std::holds_alternative<mqtt::connack>(*p)) << verdict_of(p).to_string();
  const auto& ack = std::get<mqtt::connack>(*p);
  EXPECT_EQ(ack.reason, 0);
  ASSERT_NE(ack.props.find_user_property("user-id"), nullptr);
  EXPECT_EQ(*ack.props.find_user_property("user-id"), u);
  EXPECT_EQ(ack.props.maximum_packet_size, 4096u);
  c->send(mqtt::pingreq{});
  EXPECT_TRUE(c->receive() == mqtt::packet(mqtt::pingresp{}));
}

// --- one-to-one messages (docs/protocol.md §9) ---------------------------------------

TEST_P(ServerE2e, AMessageSentByOneClientReachesTheOtherWithItsUid) {
  const auto alice_id = user("alice");
  const auto bob_id = user("bob");
  auto alice = messaging_login(alice_id, "a-phone");
  auto bob = messaging_login(bob_id, "b-phone");
  ASSERT_TRUE(alice && bob);
  mqtt::publish send{.qos = 1, .topic = "imock/send", .packet_id = 11};
  send.payload = R"({"content":"hello over )" + std::string(to_string(GetParam())) + R"("})";
  send.props.user_properties = {{"to", bob_id}, {"objectName", "RC:TxtMsg"}, {"clientMsgId", "9"}};
  ASSERT_TRUE(alice->send(send));
  const auto ack = alice->receive();
  ASSERT_TRUE(ack && std::holds_alternative<mqtt::puback>(*ack)) << verdict_of(ack).to_string();
  const auto& puback = std::get<mqtt::puback>(*ack);
  EXPECT_EQ(puback.packet_id, 11);
  EXPECT_EQ(puback.reason, 0);
  const auto* uid = puback.props.find_user_property("messageUId");
  ASSERT_NE(uid, nullptr);

  const auto got = bob->receive();
  ASSERT_TRUE(got && std::holds_alternative<mqtt::publish>(*got)) << verdict_of(got).to_string();
  const auto& message = std::get<mqtt::publish>(*got);
  EXPECT_EQ(message.topic, "imock/msg");
  EXPECT_EQ(message.qos, 1);
  EXPECT_EQ(message.payload, send.payload);
  ASSERT_NE(message.props.find_user_property("messageUId"), nullptr);
  EXPECT_EQ(*message.props.find_user_property("messageUId"), *uid);
  EXPECT_EQ(*message.props.find_user_property("from"), alice_id);
  ASSERT_TRUE(bob->send(mqtt::puback{.packet_id = message.packet_id}));
  // Taken: a reconnect of bob's syncs nothing.
  bob.reset();
  auto again = open();
  ASSERT_TRUE(again);
  auto c = connect_packet(k_app, token_for(bob_id), "b-phone");
  c.props.user_properties.emplace_back("imock-messages", "1");
  again->send(c);
  EXPECT_EQ(verdict_of(again->receive()).packet, "CONNACK");
  const auto done = again->receive();
  ASSERT_TRUE(done && std::holds_alternative<mqtt::publish>(*done));
  EXPECT_EQ(std::get<mqtt::publish>(*done).topic, "imock/sync/done");
}

TEST_P(ServerE2e, AServerApiMessageForAnOfflineUserArrivesAfterItsConnectThenTheMarker) {
  const auto bob_id = user("bob");
  const auto r = testing::server_api_call(
      bound_.http, k_app, k_secret, "/message/private/publish.json",
      "fromUserId=system-bot&toUserId=" + bob_id +
          "&objectName=RC%3ATxtMsg&content=%7B%22content%22%3A%22while+you+were+away%22%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto answer = boost::json::parse(r.body).as_object();
  const auto& uids = answer.at("messageUIDs").as_array();
  ASSERT_EQ(uids.size(), 1U) << r.body;
  EXPECT_EQ(uids[0].at("userId").as_string(), bob_id);
  const std::string uid(uids[0].at("messageUID").as_string());

  auto bob = open();
  ASSERT_TRUE(bob);
  auto c = connect_packet(k_app, token_for(bob_id), "b-phone");
  c.props.user_properties.emplace_back("imock-messages", "1");
  bob->send(c);
  EXPECT_EQ(verdict_of(bob->receive()).reason, 0);
  const auto got = bob->receive();
  ASSERT_TRUE(got && std::holds_alternative<mqtt::publish>(*got)) << verdict_of(got).to_string();
  const auto& m = std::get<mqtt::publish>(*got);
  EXPECT_EQ(m.payload, R"({"content":"while you were away"})");
  EXPECT_EQ(*m.props.find_user_property("messageUId"), uid);
  EXPECT_EQ(*m.props.find_user_property("offline"), "1");
  EXPECT_EQ(*m.props.find_user_property("left"), "0");
  EXPECT_EQ(*m.props.find_user_property("hasPackage"), "0");
  ASSERT_TRUE(bob->send(mqtt::puback{.packet_id = m.packet_id}));
  const auto done = bob->receive();
  ASSERT_TRUE(done && std::holds_alternative<mqtt::publish>(*done)) << verdict_of(done).to_string();
  EXPECT_EQ(std::get<mqtt::publish>(*done).topic, "imock/sync/done");
}

TEST_P(ServerE2e, UnknownAppKeyIs31002) {
  EXPECT_TRUE(refused(connect_packet("no-such-app", token_for(user("u")), "d"), 0x85, 31002));
}

TEST_P(ServerE2e, BlockedAppIs31008) {
  EXPECT_TRUE(
      refused(connect_packet(k_blocked, token_for(user("u"), k_blocked), "d"), 0x87, 31008));
}

TEST_P(ServerE2e, TamperedTokenIs31004) {
  auto t = token_for(user("u"));
  t[t.size() / 2] = t[t.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_TRUE(refused(connect_packet(k_app, t, "d"), 0x86, 31004));
}

TEST_P(ServerE2e, TokenOfAnotherAppIs31004) {
  EXPECT_TRUE(refused(connect_packet(k_app, token_for(user("u"), k_multi), "d"), 0x86, 31004));
}

TEST_P(ServerE2e, ExpiredTokenIs31020) {
  const auto u = user("u");
  const auto t = *token::issue(k_app, u, k_secret, srv_->get().now_ms() - 10'000, 5'000);
  EXPECT_TRUE(refused(connect_packet(k_app, t, "d"), 0x86, 31020));
}

TEST_P(ServerE2e, TokenRevokedThroughTheServerApiIs31020AndOpenConnectionsStay) {
  const auto u = user("u");
  const auto old_token = token_for(u);
  auto online = login(u, "phone");
  ASSERT_TRUE(online);
  const auto r =
      testing::server_api_call(bound_.http, k_app, k_secret, "/user/token/expire.json",
                               "userId=" + u + "&time=" + std::to_string(srv_->get().now_ms() + 1));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(refused(connect_packet(k_app, old_token, "tablet"), 0x86, 31020));
  online->send(mqtt::pingreq{});
  EXPECT_TRUE(online->receive() == mqtt::packet(mqtt::pingresp{})) << "the open connection stays";
}

TEST_P(ServerE2e, UserBlockedThroughTheServerApiIsDisconnectedAtOnceAndRefused31009) {
  const auto u = user("u");
  auto online = login(u, "phone");
  ASSERT_TRUE(online);
  const auto r = testing::server_api_call(bound_.http, k_app, k_secret, "/user/block.json",
                                          "userId=" + u + "&minute=10");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(disconnected(*online, 0x98, 31009));  // 0x8A Banned is CONNACK-only
  EXPECT_TRUE(refused(connect_packet(k_app, token_for(u), "phone"), 0x8A, 31009));
  ASSERT_EQ(
      testing::server_api_call(bound_.http, k_app, k_secret, "/user/unblock.json", "userId=" + u)
          .status,
      200);
  EXPECT_TRUE(login(u, "phone"));
}

TEST_P(ServerE2e, LoginOnAnotherDeviceKicksTheFirstWith31010) {
  const auto u = user("u");
  auto a = login(u, "phone-a");
  ASSERT_TRUE(a);
  auto b = login(u, "phone-b");
  ASSERT_TRUE(b);
  EXPECT_TRUE(disconnected(*a, 0x8E, 31010));
}

TEST_P(ServerE2e, ReconnectWithReconnectKickOnIsRefused31023AndTheOtherDeviceStays) {
  const auto u = user("u");
  auto b = login(u, "phone-b");
  ASSERT_TRUE(b);
  EXPECT_TRUE(refused(connect_packet(k_app, token_for(u), "phone-a", /*reconnect=*/true,
                                     /*reconnect_kick=*/true),
                      0x87, 31023));
  b->send(mqtt::pingreq{});
  EXPECT_TRUE(b->receive() == mqtt::packet(mqtt::pingresp{})) << "device B stays online";
}

TEST_P(ServerE2e, ReconnectWithReconnectKickOffSucceedsAndKicksTheOtherDevice) {
  const auto u = user("u");
  auto b = login(u, "phone-b");
  ASSERT_TRUE(b);
  auto a = login(u, "phone-a", /*reconnect=*/true, /*kick=*/false);
  ASSERT_TRUE(a);
  EXPECT_TRUE(disconnected(*b, 0x8E, 31010));
}

TEST_P(ServerE2e, MultiDevicePolicyKeepsBothDevices) {
  const auto u = user("u");
  auto a = login(u, "phone-a", false, false, k_multi);
  auto b = login(u, "phone-b", false, false, k_multi);
  ASSERT_TRUE(a && b);
  a->send(mqtt::pingreq{});
  EXPECT_TRUE(a->receive() == mqtt::packet(mqtt::pingresp{}));
}

TEST_P(ServerE2e, AdminKickDisconnectsWith31010) {
  const auto u = user("u");
  auto a = login(u, "phone");
  ASSERT_TRUE(a);
  const auto r = admin("/admin/kick", {{"app", k_app}, {"user", u}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(disconnected(*a, 0x8E, 31010));
}

TEST_P(ServerE2e, MalformedPacketGetsDisconnect0x81ThenClose) {
  auto a = login(user("u"), "phone");
  ASSERT_TRUE(a);
  // PINGREQ with a body: remaining length must be 0.
  a->send_bytes(std::string("\xC0\x01\x00", 3));
  EXPECT_TRUE(disconnected(*a, 0x81, 0));
}

TEST_P(ServerE2e, OversizePacketGetsDisconnect0x95BeforeItsBodyArrives) {
  auto a = login(user("u"), "phone");
  ASSERT_TRUE(a);
  // PUBLISH header announcing 1,000,000 bytes; the body never comes.
  a->send_bytes(std::string("\x30\xC0\x84\x3D", 4));
  EXPECT_TRUE(disconnected(*a, 0x95, 0));
}

TEST_P(ServerE2e, PacketBeforeConnectIsAProtocolError) {
  auto c = open();
  ASSERT_TRUE(c);
  c->send(mqtt::pingreq{});
  EXPECT_TRUE(disconnected(*c, 0x82, 0));
}

TEST_P(ServerE2e, RefuseNextConnectFaultGivesTheCodeOnceThenConnectsNormally) {
  const auto u = user("u");
  const auto r = admin("/admin/refuse", {{"user", u}, {"count", 1}, {"code", 31003}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(refused(connect_packet(k_app, token_for(u), "phone"), 0x88, 31003));
  EXPECT_TRUE(login(u, "phone"));
}

TEST_P(ServerE2e, DropWithoutDisconnectJustCloses) {
  const auto u = user("u");
  auto a = login(u, "phone");
  ASSERT_TRUE(a);
  ASSERT_EQ(admin("/admin/drop", {{"user", u}, {"disconnect", false}}).status, 200);
  const auto p = a->receive();
  EXPECT_FALSE(p.has_value()) << verdict_of(p).to_string();
  EXPECT_TRUE(a->closed());
}

TEST_P(ServerE2e, BlackholedSessionGetsNoPingresp) {
  const auto u = user("u");
  auto a = login(u, "phone");
  ASSERT_TRUE(a);
  ASSERT_EQ(admin("/admin/blackhole", {{"user", u}, {"include_new", false}}).status, 200);
  a->send(mqtt::pingreq{});
  EXPECT_FALSE(a->receive(300ms).has_value()) << "blackholed: nothing is answered";
  EXPECT_FALSE(a->closed()) << "blackholed: the connection stays open";
  ASSERT_EQ(admin("/admin/release", {{"user", u}, {"include_new", false}}).status, 200);
  a->send(mqtt::pingreq{});
  EXPECT_TRUE(a->receive() == mqtt::packet(mqtt::pingresp{}));
}

INSTANTIATE_TEST_SUITE_P(AllTransports, ServerE2e,
                         ::testing::Values(transport::tcp, transport::tls, transport::ws,
                                           transport::wss),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace imock::server
