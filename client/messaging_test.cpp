// The SDK's message machine, sans-IO: every test feeds events with an explicit time
// and asserts on the actions.
#include "imock/client/messaging.hpp"

#include <gtest/gtest.h>

namespace imock::client {
namespace {

namespace msg = imock::messages;

template <typename T>
std::vector<T> all_of(const message_actions& out) {
  std::vector<T> v;
  for (const auto& a : out) {
    if (const auto* x = std::get_if<T>(&a)) v.push_back(*x);
  }
  return v;
}

std::string prop(const mqtt::properties& p, std::string_view key) {
  const auto* v = p.find_user_property(key);
  return v == nullptr ? "<absent>" : *v;
}

outgoing_message hello(std::int64_t local_id) {
  return {.local_id = local_id, .to = "bob", .content = R"({"content":"hi"})"};
}

mqtt::puback accepted(std::uint16_t packet_id, std::string uid, std::int64_t sent_ms) {
  mqtt::puback a{.packet_id = packet_id};
  a.props.user_properties = {{"messageUId", std::move(uid)}, {"sentTime", std::to_string(sent_ms)}};
  return a;
}

TEST(Messaging, ASendGoesOutAsQos1OnImockSendWithItsRecipientAndLocalId) {
  messaging m;
  message_actions out;
  m.send_message(hello(42), true, 1000, out);
  const auto packets = all_of<message_packet>(out);
  ASSERT_EQ(packets.size(), 1U);
  const auto& p = std::get<mqtt::publish>(packets[0].packet);
  EXPECT_EQ(p.topic, "imock/send");
  EXPECT_EQ(p.qos, 1);
  EXPECT_NE(p.packet_id, 0);
  EXPECT_EQ(p.payload, R"({"content":"hi"})");
  EXPECT_EQ(prop(p.props, "to"), "bob");
  EXPECT_EQ(prop(p.props, "objectName"), "RC:TxtMsg");
  EXPECT_EQ(prop(p.props, "clientMsgId"), "42");
  EXPECT_EQ(all_of<message_timer>(out), std::vector<message_timer>{{11'000}});
}

TEST(Messaging, APubackWithAUidIsSuccessWithTheServersTime) {
  messaging m;
  message_actions out;
  m.send_message(hello(42), true, 1000, out);
  const auto id = std::get<mqtt::publish>(all_of<message_packet>(out)[0].packet).packet_id;
  out.clear();
  EXPECT_TRUE(m.packet_received(accepted(id, "AAAA-BBBB-CCCC-DDDD", 1234), 1100, out));
  EXPECT_EQ(all_of<message_sent>(out),
            (std::vector<message_sent>{{42, "AAAA-BBBB-CCCC-DDDD", 1234}}));
  EXPECT_EQ(all_of<message_timer>(out), std::vector<message_timer>{{std::nullopt}});
  EXPECT_EQ(m.waiting(), 0U);
  out.clear();
  EXPECT_FALSE(m.packet_received(accepted(id, "again", 1), 1200, out)) << "acknowledged once";
  EXPECT_TRUE(out.empty());
}

TEST(Messaging, ARefusalGivesTheServersCode) {
  messaging m;
  message_actions out;
  m.send_message(hello(7), true, 0, out);
  const auto id = std::get<mqtt::publish>(all_of<message_packet>(out)[0].packet).packet_id;
  out.clear();
  mqtt::puback refused{.packet_id = id, .reason = 0x97};
  refused.props.user_properties = {{"rc-code", "20604"}};
  EXPECT_TRUE(m.packet_received(refused, 10, out));
  EXPECT_EQ(all_of<send_failed>(out), (std::vector<send_failed>{{7, 20604}}));
}

TEST(Messaging, NoPubackInTimeIs30003AndOnlyForTheLateOne) {
  messaging m(5000);
  message_actions out;
  m.send_message(hello(1), true, 0, out);
  m.send_message(hello(2), true, 3000, out);
  out.clear();
  m.timer_fired(4999, out);
  EXPECT_TRUE(all_of<send_failed>(out).empty()) << "not due yet";
  out.clear();
  m.timer_fired(5000, out);
  EXPECT_EQ(all_of<send_failed>(out), (std::vector<send_failed>{{1, 30003}}));
  EXPECT_EQ(all_of<message_timer>(out), std::vector<message_timer>{{8000}});
  EXPECT_EQ(m.waiting(), 1U);
}

TEST(Messaging, NotConnectedFailsAtOnceWith30002AndSendsNothing) {
  messaging m;
  message_actions out;
  m.send_message(hello(3), false, 0, out);
  EXPECT_EQ(out, (message_actions{send_failed{3, 30002}}));
}

TEST(Messaging, ContentOverTheLimitIs30016BeforeAnythingIsSent) {
  messaging m(10'000, 8);
  message_actions out;
  auto big = hello(4);
  big.content = std::string(9, 'x');
  m.send_message(big, true, 0, out);
  EXPECT_EQ(out, (message_actions{send_failed{4, 30016}}));
  out.clear();
  big.content = std::string(8, 'x');
  m.send_message(big, true, 0, out);
  EXPECT_EQ(all_of<message_packet>(out).size(), 1U) << "at the limit";
}

TEST(Messaging, ALostLinkFailsEveryWaitingSendWith30003) {
  messaging m;
  message_actions out;
  m.send_message(hello(1), true, 0, out);
  m.send_message(hello(2), true, 0, out);
  out.clear();
  m.link_lost(10, out);
  EXPECT_EQ(all_of<send_failed>(out), (std::vector<send_failed>{{1, 30003}, {2, 30003}}));
  EXPECT_EQ(m.waiting(), 0U);
}

TEST(Messaging, ADeliveryIsReportedWithItsFieldsThenAcknowledged) {
  messaging m;
  mqtt::publish p{.qos = 1, .topic = "imock/msg", .packet_id = 9};
  p.payload = R"({"content":"yo"})";
  p.props.user_properties = {{"messageUId", "U-1"},   {"from", "alice"},   {"conversationType", "1"},
                             {"objectName", "RC:TxtMsg"}, {"sentTime", "555"}, {"offline", "1"},
                             {"left", "3"},           {"hasPackage", "1"}, {"clientMsgId", "77"}};
  message_actions out;
  ASSERT_TRUE(m.packet_received(p, 0, out));
  ASSERT_EQ(out.size(), 2U);
  const auto& got = std::get<message_received>(out[0]).message;
  EXPECT_EQ(got, (incoming_message{.uid = "U-1",
                                   .from = "alice",
                                   .object_name = "RC:TxtMsg",
                                   .content = R"({"content":"yo"})",
                                   .client_msg_id = "77",
                                   .sent_ms = 555,
                                   .offline = true,
                                   .left = 3,
                                   .has_package = true}));
  // The acknowledgement after the report: stored before acknowledged.
  EXPECT_EQ(std::get<message_packet>(out[1]).packet, mqtt::packet(mqtt::puback{.packet_id = 9}));
}

TEST(Messaging, TheSyncMarkerIsSyncCompletedAndOtherTopicsAreNotMine) {
  messaging m;
  message_actions out;
  EXPECT_TRUE(m.packet_received(mqtt::publish{.topic = "imock/sync/done"}, 0, out));
  EXPECT_EQ(out, (message_actions{sync_completed{}}));
  out.clear();
  EXPECT_FALSE(m.packet_received(mqtt::publish{.topic = "news/today"}, 0, out));
  EXPECT_FALSE(m.packet_received(mqtt::pingresp{}, 0, out));
  EXPECT_TRUE(out.empty());
}

TEST(Messaging, DuplicatesAreTheSameUidOrTheSendersResend) {
  const incoming_message first{.uid = "U-1", .from = "alice", .object_name = "RC:TxtMsg",
                               .content = "hi", .client_msg_id = "5", .sent_ms = 1000};
  auto redelivered = first;
  EXPECT_TRUE(is_duplicate(redelivered, first));
  auto resend = first;
  resend.uid = "U-2";
  resend.sent_ms = 9000;
  EXPECT_TRUE(is_duplicate(resend, first)) << "a new uid, the same row of the sender";
  auto next_row = resend;
  next_row.client_msg_id = "6";
  EXPECT_FALSE(is_duplicate(next_row, first)) << "the same words sent again on purpose";
  auto other_words = resend;
  other_words.content = "hi!";
  EXPECT_FALSE(is_duplicate(other_words, first));
  auto other_sender = resend;
  other_sender.from = "carol";
  EXPECT_FALSE(is_duplicate(other_sender, first));
  // Without client ids (server API messages): by content within the window.
  auto api_first = first;
  api_first.client_msg_id.clear();
  auto api_again = api_first;
  api_again.uid = "U-3";
  api_again.sent_ms = first.sent_ms + 120'000;
  EXPECT_TRUE(is_duplicate(api_again, api_first));
  api_again.sent_ms += 1;
  EXPECT_FALSE(is_duplicate(api_again, api_first));
}

}  // namespace
}  // namespace imock::client
