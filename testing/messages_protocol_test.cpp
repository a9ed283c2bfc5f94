// The SDK's message machine (client/messaging) against the server's hub
// (server/hub), packet for packet and without sockets: both sides of
// docs/protocol.md §9 must agree on every topic and user property.
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "imock/client/messaging.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

namespace imock {
namespace {

constexpr std::int64_t k_t0 = 1'700'000'000'000;

// A hub with two SDK message machines on it; packets carried by hand.
class MessagesProtocol : public ::testing::Test {
 protected:
  MessagesProtocol() {
    server::server_config c;
    c.apps.push_back({.key = "app", .secret = "secret"});
    hub_.emplace(c, 1, k_t0);
  }

  struct device {
    server::session_id session = 0;
    client::messaging machine;
    std::vector<client::incoming_message> inbox;
    std::vector<client::message_sent> sent;
    std::vector<client::send_failed> failed;
    int syncs = 0;
  };

  device& login(const std::string& user) {
    auto& d = devices_[user];
    d.session = hub_->open(transport::tcp, "127.0.0.1:1", now_);
    mqtt::connect c;
    c.client_id = user + "-phone";
    c.keep_alive = 600;
    c.username = "app";
    c.password = *token::issue("app", user, "secret", now_);
    c.props.user_properties.emplace_back(std::string(messages::k_capability), "1");
    to_clients(hub_->on_packet(d.session, std::move(c), now_));
    return d;
  }

  // Server actions to the devices; what the devices answer goes back to the server.
  void to_clients(server::actions out) {
    for (auto& a : out) {
      if (!a.send) continue;
      for (auto& [user, d] : devices_) {
        if (d.session != a.session) continue;
        client::message_actions reply;
        d.machine.packet_received(*a.send, now_, reply);
        run(d, std::move(reply));
      }
    }
  }
  void run(device& d, client::message_actions todo) {
    for (auto& a : todo) {
      if (auto* p = std::get_if<client::message_packet>(&a)) {
        to_clients(hub_->on_packet(d.session, std::move(p->packet), now_));
      } else if (auto* r = std::get_if<client::message_received>(&a)) {
        d.inbox.push_back(r->message);
      } else if (auto* s = std::get_if<client::message_sent>(&a)) {
        d.sent.push_back(*s);
      } else if (auto* f = std::get_if<client::send_failed>(&a)) {
        d.failed.push_back(*f);
      } else if (std::holds_alternative<client::sync_completed>(a)) {
        ++d.syncs;
      }
    }
  }
  void send(device& from, const std::string& to, const std::string& content, std::int64_t id) {
    client::message_actions out;
    from.machine.send_message({.local_id = id, .to = to, .content = content}, true, now_, out);
    run(from, std::move(out));
  }

  std::optional<server::hub> hub_;
  std::map<std::string, device> devices_;
  std::int64_t now_ = k_t0;
};

TEST_F(MessagesProtocol, ASendIsAcknowledgedDeliveredAndTakenAcrossBothMachines) {
  auto& alice = login("alice");
  auto& bob = login("bob");
  EXPECT_EQ(alice.syncs, 1);
  EXPECT_EQ(bob.syncs, 1);
  send(alice, "bob", R"({"content":"hi"})", 42);
  ASSERT_EQ(alice.sent.size(), 1U);
  EXPECT_EQ(alice.sent[0].local_id, 42);
  EXPECT_EQ(alice.sent[0].sent_ms, now_);
  ASSERT_EQ(bob.inbox.size(), 1U);
  const auto& m = bob.inbox[0];
  EXPECT_EQ(m.uid, alice.sent[0].uid);
  EXPECT_EQ(m.from, "alice");
  EXPECT_EQ(m.object_name, "RC:TxtMsg");
  EXPECT_EQ(m.content, R"({"content":"hi"})");
  EXPECT_EQ(m.client_msg_id, "42");
  EXPECT_EQ(m.sent_ms, now_);
  EXPECT_FALSE(m.offline);
  EXPECT_EQ(hub_->stored_messages(), 0U) << "bob's machine acknowledged it";
}

TEST_F(MessagesProtocol, AnOfflineSyncArrivesInOrderWithLeftAndHasPackageThenTheMarkerOnce) {
  server::server_config c;
  c.apps.push_back({.key = "app", .secret = "secret"});
  c.messages.package_size = 2;
  hub_.emplace(c, 1, k_t0);
  auto& alice = login("alice");
  for (int i = 0; i < 3; ++i) send(alice, "bob", "m" + std::to_string(i), i + 1);
  ASSERT_EQ(alice.sent.size(), 3U);
  auto& bob = login("bob");
  ASSERT_EQ(bob.inbox.size(), 3U);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(bob.inbox[i].content, "m" + std::to_string(i));
    EXPECT_TRUE(bob.inbox[i].offline);
  }
  EXPECT_EQ(bob.inbox[0].left, 1U);
  EXPECT_TRUE(bob.inbox[0].has_package);
  EXPECT_EQ(bob.inbox[1].left, 0U);
  EXPECT_EQ(bob.inbox[2].left, 0U);
  EXPECT_FALSE(bob.inbox[2].has_package);
  EXPECT_EQ(bob.syncs, 1) << "once, after the last package";
}

TEST_F(MessagesProtocol, TheServersRefusalReachesTheSendersErrorCallbackWithItsCode) {
  server::server_config c;
  c.apps.push_back({.key = "app", .secret = "secret"});
  c.messages.client_send_rate_per_s = 1;
  hub_.emplace(c, 1, k_t0);
  auto& alice = login("alice");
  send(alice, "bob", "one", 1);
  send(alice, "bob", "two", 2);
  ASSERT_EQ(alice.failed.size(), 1U);
  EXPECT_EQ(alice.failed[0].local_id, 2);
  EXPECT_EQ(alice.failed[0].code, 20604);
}

}  // namespace
}  // namespace imock
