// The hub's one-to-one messages, sans-IO (docs/protocol.md §9): every test feeds
// packets and server API publishes with an explicit time and asserts on the packets
// the hub answers with.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "imock/protocol/messages.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

namespace imock::server {
namespace {

namespace msg = imock::messages;

constexpr std::int64_t k_t0 = 1'700'000'000'000;
const std::string k_app = "app";
const std::string k_secret = "secret";

server_config config_with(const std::function<void(messages_config&)>& adjust = {}) {
  server_config c;
  c.apps.push_back({.key = k_app, .secret = k_secret, .policy = login_policy::multi_device});
  if (adjust) adjust(c.messages);
  return c;
}

std::string prop(const mqtt::properties& p, std::string_view key) {
  const auto* v = p.find_user_property(key);
  return v == nullptr ? "<absent>" : *v;
}

// A hub and the packets it sent to each session.
class Messages : public ::testing::Test {
 protected:
  void start(const server_config& c) { hub_.emplace(c, 1, k_t0); }
  hub& h() { return *hub_; }

  session_id login(const std::string& user, const std::string& device, bool takes = true) {
    const auto id = h().open(transport::tcp, "127.0.0.1:5000", now_);
    mqtt::connect c;
    c.client_id = device;
    c.keep_alive = 600;
    c.username = k_app;
    c.password = *token::issue(k_app, user, k_secret, now_);
    if (takes) c.props.user_properties.emplace_back(std::string(msg::k_capability), "1");
    take(h().on_packet(id, std::move(c), now_));
    return id;
  }

  void take(actions out) {
    for (auto& a : out) {
      if (a.send) sent_[a.session].push_back(std::move(*a.send));
      if (a.close) closed_.push_back(a.session);
    }
  }

  // The packets sent to `id` since the last call, CONNACK and the rest.
  std::vector<mqtt::packet> drain(session_id id) {
    auto out = std::move(sent_[id]);
    sent_[id].clear();
    return out;
  }
  // The message PUBLISHes among them.
  std::vector<mqtt::publish> messages_to(session_id id) {
    std::vector<mqtt::publish> out;
    for (auto& p : drain(id)) {
      if (auto* pub = std::get_if<mqtt::publish>(&p); pub && pub->topic == msg::k_message_topic) {
        out.push_back(*pub);
      }
    }
    return out;
  }
  bool got_sync_done(session_id id) {
    for (auto& p : drain(id)) {
      if (auto* pub = std::get_if<mqtt::publish>(&p); pub && pub->topic == msg::k_sync_done_topic) {
        return true;
      }
    }
    return false;
  }

  std::vector<recipient_uid> publish(const std::string& from, std::vector<std::string> to,
                                     const std::string& content, bool status = false) {
    std::vector<recipient_uid> uids;
    take(h().publish({.app = k_app,
                      .from = from,
                      .to = std::move(to),
                      .object_name = "RC:TxtMsg",
                      .content = content,
                      .status = status},
                     now_, uids));
    return uids;
  }

  void ack(session_id id, const mqtt::publish& p) {
    take(h().on_packet(id, mqtt::puback{.packet_id = p.packet_id}, now_));
  }

  mqtt::publish send_packet(const std::string& to, std::string content, std::uint16_t packet_id,
                            const std::string& client_id = "c-1") {
    mqtt::publish p{.qos = 1, .topic = std::string(msg::k_send_topic), .packet_id = packet_id};
    p.payload = std::move(content);
    p.props.user_properties = {{std::string(msg::k_to), to},
                               {std::string(msg::k_object_name), "RC:TxtMsg"},
                               {std::string(msg::k_client_msg_id), client_id}};
    return p;
  }

  mqtt::puback send(session_id id, mqtt::publish p) {
    take(h().on_packet(id, std::move(p), now_));
    for (auto& q : drain(id)) {
      if (auto* a = std::get_if<mqtt::puback>(&q)) return *a;
    }
    ADD_FAILURE() << "no PUBACK";
    return {};
  }

  int events_of(event_kind k) const {
    int n = 0;
    for (const auto& e : hub_->events().since(0)) n += e.kind == k ? 1 : 0;
    return n;
  }

  std::optional<hub> hub_;
  std::int64_t now_ = k_t0;
  std::map<session_id, std::vector<mqtt::packet>> sent_;
  std::vector<session_id> closed_;
};

TEST_F(Messages, StoredForAnOfflineUserAndSyncedInOrderInPackagesAfterConnect) {
  start(config_with([](messages_config& m) { m.package_size = 2; }));
  std::vector<std::string> uids;
  for (int i = 0; i < 5; ++i) uids.push_back(publish("alice", {"bob"}, "m" + std::to_string(i))[0].uid);
  EXPECT_EQ(events_of(event_kind::message_stored), 5);

  const auto bob = login("bob", "phone");
  std::vector<std::string> got;
  // Packages of 2, 2, 1: left counts down inside each, hasPackage until the last.
  const std::vector<std::vector<std::string>> expected_left = {{"1", "0"}, {"1", "0"}, {"0"}};
  const std::vector<std::string> expected_has = {"1", "1", "0"};
  for (std::size_t package = 0; package < 3; ++package) {
    const auto batch = messages_to(bob);
    ASSERT_EQ(batch.size(), expected_left[package].size()) << "package " << package;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(batch[i].qos, 1);
      EXPECT_EQ(prop(batch[i].props, msg::k_left), expected_left[package][i]);
      EXPECT_EQ(prop(batch[i].props, msg::k_has_package), expected_has[package]);
      EXPECT_EQ(prop(batch[i].props, msg::k_offline), "1");
      EXPECT_EQ(prop(batch[i].props, msg::k_from), "alice");
      got.push_back(prop(batch[i].props, msg::k_message_uid));
    }
    // The next package only once this one is acknowledged.
    for (std::size_t i = 0; i + 1 < batch.size(); ++i) ack(bob, batch[i]);
    EXPECT_TRUE(messages_to(bob).empty());
    ack(bob, batch.back());
  }
  EXPECT_EQ(got, uids);
  EXPECT_TRUE(got_sync_done(bob));
  EXPECT_EQ(h().stored_messages(), 0U);
  EXPECT_EQ(events_of(event_kind::message_delivered), 5);
}

TEST_F(Messages, NothingStoredGivesTheSyncMarkerRightAfterConnack) {
  start(config_with());
  const auto bob = login("bob", "phone");
  const auto packets = drain(bob);
  ASSERT_EQ(packets.size(), 2U);
  EXPECT_TRUE(std::holds_alternative<mqtt::connack>(packets[0]));
  const auto* done = std::get_if<mqtt::publish>(&packets[1]);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->topic, msg::k_sync_done_topic);
  EXPECT_EQ(done->qos, 0);
}

TEST_F(Messages, AClientThatDoesNotTakeMessagesGetsNoneAndTheyWait) {
  start(config_with());
  const auto plain = login("bob", "mqtt-tool", /*takes=*/false);
  (void)publish("alice", {"bob"}, "hi");
  const auto packets = drain(plain);
  ASSERT_EQ(packets.size(), 1U) << "the CONNACK only";
  EXPECT_TRUE(std::holds_alternative<mqtt::connack>(packets[0]));
  EXPECT_EQ(events_of(event_kind::message_stored), 1) << "no device that takes messages";
  const auto phone = login("bob", "phone");
  EXPECT_EQ(messages_to(phone).size(), 1U);
}

TEST_F(Messages, AClientSendIsAcknowledgedWithItsUidAndReachesTheOnlineRecipient) {
  start(config_with());
  const auto alice = login("alice", "a-phone");
  const auto bob = login("bob", "b-phone");
  (void)drain(alice);
  (void)drain(bob);
  now_ += 1234;
  const auto ack = send(alice, send_packet("bob", R"({"content":"hi"})", 7, "local-42"));
  EXPECT_EQ(ack.packet_id, 7);
  EXPECT_EQ(ack.reason, 0);
  const auto uid = prop(ack.props, msg::k_message_uid);
  EXPECT_EQ(uid.size(), 19U);
  EXPECT_EQ(prop(ack.props, msg::k_sent_time), std::to_string(now_));

  const auto got = messages_to(bob);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].payload, R"({"content":"hi"})");
  EXPECT_EQ(prop(got[0].props, msg::k_message_uid), uid);
  EXPECT_EQ(prop(got[0].props, msg::k_from), "alice");
  EXPECT_EQ(prop(got[0].props, msg::k_client_msg_id), "local-42");
  EXPECT_EQ(prop(got[0].props, msg::k_offline), "0");
  EXPECT_EQ(prop(got[0].props, msg::k_left), "0");
  EXPECT_EQ(prop(got[0].props, msg::k_has_package), "0");
  EXPECT_EQ(prop(got[0].props, msg::k_sent_time), std::to_string(now_));
  EXPECT_EQ(prop(got[0].props, msg::k_conversation_type), "1");
}

TEST_F(Messages, AnUnacknowledgedMessageIsDeliveredAgainAfterTheReconnect) {
  start(config_with());
  const auto bob = login("bob", "phone");
  (void)drain(bob);
  const auto uid = publish("alice", {"bob"}, "once")[0].uid;
  ASSERT_EQ(messages_to(bob).size(), 1U);
  h().on_closed(bob, "network", now_);  // gone before its PUBACK
  EXPECT_EQ(h().stored_messages(), 1U);

  const auto again = login("bob", "phone");
  const auto got = messages_to(again);
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(prop(got[0].props, msg::k_message_uid), uid);
  EXPECT_EQ(events_of(event_kind::message_redelivered), 1);
  ack(again, got[0]);
  EXPECT_TRUE(got_sync_done(again));
  EXPECT_EQ(h().stored_messages(), 0U);
}

TEST_F(Messages, WithoutMultiDeviceSyncOnlyTheLastConnectedDeviceTakesIt) {
  start(config_with());
  const auto phone = login("bob", "phone");
  now_ += 10;
  const auto desktop = login("bob", "desktop");
  (void)drain(phone);
  (void)drain(desktop);
  (void)publish("alice", {"bob"}, "one");
  EXPECT_TRUE(messages_to(phone).empty());
  const auto got = messages_to(desktop);
  ASSERT_EQ(got.size(), 1U);
  ack(desktop, got[0]);
  h().on_closed(phone, "gone", now_);
  const auto phone_again = login("bob", "phone");
  EXPECT_TRUE(messages_to(phone_again).empty()) << "taken by the desktop";
}

TEST_F(Messages, WithMultiDeviceSyncEveryDeviceGetsItAndALaterOneToo) {
  start(config_with([](messages_config& m) { m.multi_device_sync = true; }));
  const auto phone = login("bob", "phone");
  const auto desktop = login("bob", "desktop");
  (void)drain(phone);
  (void)drain(desktop);
  (void)publish("alice", {"bob"}, "all");
  const auto p = messages_to(phone);
  const auto d = messages_to(desktop);
  ASSERT_EQ(p.size(), 1U);
  ASSERT_EQ(d.size(), 1U);
  ack(phone, p[0]);
  ack(desktop, d[0]);
  const auto tablet = login("bob", "tablet");
  EXPECT_EQ(messages_to(tablet).size(), 1U) << "a newly logged-in device gets it too";
}

TEST_F(Messages, WithMultiDeviceSyncAnUnacknowledgedMessageIsNotSentAgainByTheNextOne) {
  start(config_with([](messages_config& m) { m.multi_device_sync = true; }));
  const auto phone = login("bob", "phone");
  (void)drain(phone);
  (void)publish("alice", {"bob"}, "first");
  (void)publish("alice", {"bob"}, "second");  // the first not acknowledged yet
  const auto got = messages_to(phone);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].payload, "first");
  EXPECT_EQ(got[1].payload, "second");
}

TEST_F(Messages, SendsBeyondTheRateAreRefusedWith20604UntilTheNextSecond) {
  start(config_with([](messages_config& m) { m.client_send_rate_per_s = 2; }));
  const auto alice = login("alice", "phone");
  (void)drain(alice);
  EXPECT_EQ(send(alice, send_packet("bob", "1", 1)).reason, 0);
  EXPECT_EQ(send(alice, send_packet("bob", "2", 2)).reason, 0);
  const auto third = send(alice, send_packet("bob", "3", 3));
  EXPECT_EQ(third.reason, 0x97);
  EXPECT_EQ(prop(third.props, msg::k_rc_code), "20604");
  now_ += 1000;
  EXPECT_EQ(send(alice, send_packet("bob", "4", 4)).reason, 0);
  EXPECT_EQ(h().stored_messages(), 3U) << "the refused one was not stored";
}

TEST_F(Messages, BadSendsAreRefusedWithTheirCodes) {
  start(config_with([](messages_config& m) { m.max_content_bytes = 10; }));
  const auto alice = login("alice", "phone");
  (void)drain(alice);
  const auto big = send(alice, send_packet("bob", std::string(11, 'x'), 1));
  EXPECT_EQ(big.reason, 0x99);
  EXPECT_EQ(prop(big.props, msg::k_rc_code), "30016");
  EXPECT_EQ(send(alice, send_packet("bob", std::string(10, 'x'), 2)).reason, 0) << "at the limit";

  auto system = send_packet("bob", "x", 3);
  system.props.user_properties.emplace_back(std::string(msg::k_conversation_type), "6");
  EXPECT_EQ(prop(send(alice, system).props, msg::k_rc_code), "20109");

  auto no_to = send_packet("", "x", 4);
  EXPECT_EQ(prop(send(alice, no_to).props, msg::k_rc_code), "33003");
  auto long_name = send_packet("bob", "x", 5);
  long_name.props.user_properties[1].second = std::string(33, 'n');
  EXPECT_EQ(prop(send(alice, long_name).props, msg::k_rc_code), "33003");
  EXPECT_EQ(h().stored_messages(), 1U);
}

TEST_F(Messages, ImocksOwnTopicsTakeNoOtherPublishOrSubscription) {
  start(config_with());
  const auto c = login("alice", "phone");
  (void)drain(c);
  mqtt::publish p{.qos = 1, .topic = "imock/msg", .packet_id = 9};
  take(h().on_packet(c, std::move(p), now_));
  const auto packets = drain(c);
  ASSERT_EQ(packets.size(), 1U);
  EXPECT_EQ(std::get<mqtt::puback>(packets[0]).reason, 0x90);
  mqtt::subscribe sub{.packet_id = 3, .subscriptions = {{.topic_filter = "imock/#"}}};
  take(h().on_packet(c, std::move(sub), now_));
  EXPECT_EQ(std::get<mqtt::suback>(drain(c).at(0)).reasons, std::vector<std::uint8_t>{0x87});
}

TEST_F(Messages, PastTheRetentionAStoredMessageExpires) {
  start(config_with([](messages_config& m) { m.retention_ms = 60'000; }));
  (void)publish("alice", {"bob"}, "late");
  ASSERT_EQ(h().next_deadline(), k_t0 + 60'001);
  now_ += 60'000;
  take(h().tick(now_));
  EXPECT_EQ(h().stored_messages(), 1U) << "exactly the retention: kept";
  now_ += 1;
  take(h().tick(now_));
  EXPECT_EQ(h().stored_messages(), 0U);
  EXPECT_EQ(events_of(event_kind::message_expired), 1);
  const auto bob = login("bob", "phone");
  EXPECT_TRUE(messages_to(bob).empty());
}

TEST_F(Messages, AUserHoldsAtMostMaxStoredAndTheOldestGoes) {
  start(config_with([](messages_config& m) { m.max_stored_per_user = 2; }));
  const auto first = publish("alice", {"bob"}, "1")[0].uid;
  (void)publish("alice", {"bob"}, "2");
  (void)publish("alice", {"bob"}, "3");
  EXPECT_EQ(events_of(event_kind::message_dropped), 1);
  const auto bob = login("bob", "phone");
  const auto got = messages_to(bob);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].payload, "2");
  EXPECT_NE(prop(got[0].props, msg::k_message_uid), first);
}

TEST_F(Messages, AStatusMessageReachesOnlyDevicesOnlineNowAndIsNeverStored) {
  start(config_with());
  const auto bob = login("bob", "phone");
  (void)drain(bob);
  (void)publish("alice", {"bob", "carol"}, "typing", /*status=*/true);
  const auto packets = drain(bob);
  ASSERT_EQ(packets.size(), 1U);
  const auto& p = std::get<mqtt::publish>(packets[0]);
  EXPECT_EQ(p.topic, msg::k_status_topic);
  EXPECT_EQ(p.qos, 0);
  EXPECT_EQ(h().stored_messages(), 0U);
  const auto carol = login("carol", "phone");
  EXPECT_TRUE(messages_to(carol).empty());
}

TEST_F(Messages, AMessageArrivingDuringTheSyncComesInItsOrderNotBeforeThePackage) {
  start(config_with([](messages_config& m) { m.package_size = 1; }));
  (void)publish("alice", {"bob"}, "old");
  const auto bob = login("bob", "phone");
  const auto first = messages_to(bob);
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(prop(first[0].props, msg::k_has_package), "0");
  (void)publish("alice", {"bob"}, "new");  // while the sync waits for the ack
  EXPECT_TRUE(messages_to(bob).empty()) << "not interleaved with the sync";
  ack(bob, first[0]);
  const auto second = messages_to(bob);
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].payload, "new");
  EXPECT_EQ(prop(second[0].props, msg::k_offline), "0");
  ack(bob, second[0]);
  EXPECT_TRUE(got_sync_done(bob));
}

// --- message faults (docs/admin-api.md, "Faults") ------------------------------------

fault_rule message_fault(fault_trigger on, fault_action action) {
  return {.on = on, .action = action};
}

TEST_F(Messages, ADuplicateFaultSendsTheSameMessageTwiceAndTheSyncStillEndsOnce) {
  start(config_with());
  (void)publish("alice", {"bob"}, "twice");
  h().faults().add(message_fault(fault_trigger::delivery, fault_action::duplicate));
  const auto bob = login("bob", "phone");
  const auto got = messages_to(bob);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(prop(got[0].props, msg::k_message_uid), prop(got[1].props, msg::k_message_uid));
  EXPECT_NE(got[0].packet_id, got[1].packet_id);
  ack(bob, got[1]);  // the copy's PUBACK moves nothing
  EXPECT_FALSE(got_sync_done(bob));
  ack(bob, got[0]);
  EXPECT_TRUE(got_sync_done(bob));
}

TEST_F(Messages, AReorderFaultLetsTheNextMessageOvertake) {
  start(config_with());
  (void)publish("alice", {"bob"}, "first");
  (void)publish("alice", {"bob"}, "second");
  (void)publish("alice", {"bob"}, "third");
  auto rule = message_fault(fault_trigger::delivery, fault_action::reorder);
  rule.nth = 1;
  h().faults().add(rule);
  const auto bob = login("bob", "phone");
  const auto got = messages_to(bob);
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[0].payload, "second");
  EXPECT_EQ(got[1].payload, "first");
  EXPECT_EQ(got[2].payload, "third");
}

TEST_F(Messages, AReorderFaultHoldsALiveMessageUntilTheNextOneHasGone) {
  start(config_with());
  const auto bob = login("bob", "phone");
  ASSERT_TRUE(got_sync_done(bob));
  auto rule = message_fault(fault_trigger::delivery, fault_action::reorder);
  rule.times = 1;
  h().faults().add(rule);
  (void)publish("alice", {"bob"}, "first");
  EXPECT_TRUE(messages_to(bob).empty()) << "held back, however long the next one takes";
  (void)publish("alice", {"bob"}, "second");
  const auto got = messages_to(bob);
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].payload, "second");
  EXPECT_EQ(got[1].payload, "first");
}

TEST_F(Messages, ADelayFaultHoldsTheDeliveryAndAHeldSyncStartsWhenDue) {
  start(config_with());
  (void)publish("alice", {"bob"}, "late");
  auto hold = message_fault(fault_trigger::sync, fault_action::delay);
  hold.delay_ms = 5000;
  h().faults().add(hold);
  auto slow = message_fault(fault_trigger::delivery, fault_action::delay);
  slow.delay_ms = 700;
  h().faults().add(slow);
  const auto bob = h().open(transport::tcp, "127.0.0.1:5000", now_);
  mqtt::connect c;
  c.client_id = "phone";
  c.keep_alive = 600;
  c.username = k_app;
  c.password = *token::issue(k_app, "bob", k_secret, now_);
  c.props.user_properties.emplace_back(std::string(msg::k_capability), "1");
  const auto at_connect = h().on_packet(bob, std::move(c), now_);
  ASSERT_EQ(at_connect.size(), 1U) << "the CONNACK, and the sync held";
  EXPECT_EQ(h().next_deadline(), now_ + 5000);
  EXPECT_TRUE(h().tick(now_ + 4999).empty());
  const auto due = h().tick(now_ + 5000);
  ASSERT_EQ(due.size(), 1U);
  EXPECT_EQ(std::get<mqtt::publish>(*due[0].send).payload, "late");
  EXPECT_EQ(due[0].delay_ms, 700);
}

TEST_F(Messages, ADropOnTheSecondDeliveryEndsTheSyncMidwayAndTheRestComesNextTime) {
  start(config_with());
  for (const char* text : {"a", "b", "c"}) (void)publish("alice", {"bob"}, text);
  auto drop = message_fault(fault_trigger::delivery, fault_action::drop);
  drop.nth = 2;
  drop.send_disconnect = false;
  h().faults().add(drop);
  const auto bob = login("bob", "phone");
  const auto first = messages_to(bob);
  ASSERT_EQ(first.size(), 1U) << "the connection went at the second";
  EXPECT_EQ(first[0].payload, "a");
  EXPECT_NE(std::find(closed_.begin(), closed_.end(), bob), closed_.end());
  h().on_closed(bob, "fault", now_);
  const auto again = login("bob", "phone");
  const auto got = messages_to(again);
  ASSERT_EQ(got.size(), 3U) << "a was never acknowledged";
  EXPECT_EQ(got[0].payload, "a");
  EXPECT_EQ(got[2].payload, "c");
}

TEST_F(Messages, ADropAckFaultTakesTheMessageWithoutAPuback) {
  start(config_with());
  const auto alice = login("alice", "a-phone");
  const auto bob = login("bob", "b-phone");
  (void)drain(alice);
  (void)drain(bob);
  h().faults().add(message_fault(fault_trigger::send, fault_action::drop_ack));
  take(h().on_packet(alice, send_packet("bob", "hi", 5), now_));
  EXPECT_TRUE(drain(alice).empty()) << "no PUBACK";
  EXPECT_EQ(messages_to(bob).size(), 1U) << "but taken and delivered";
  // The sender's resend is a new message (SPEC.md §8.5): a second uid, same content.
  const auto resend = send(alice, send_packet("bob", "hi", 6));
  EXPECT_EQ(resend.reason, 0);
  const auto second = messages_to(bob);
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].payload, "hi");
}

}  // namespace
}  // namespace imock::server
