#include "imock/server/mailbox.hpp"

#include <gtest/gtest.h>

#include <set>

namespace imock::server {
namespace {

stored_message msg(std::string uid, std::string to, std::int64_t sent_ms) {
  stored_message m;
  m.uid = std::move(uid);
  m.app = "app";
  m.from = "sender";
  m.to = std::move(to);
  m.content = "{\"content\":\"" + m.uid + "\"}";
  m.sent_ms = sent_ms;
  return m;
}

std::vector<std::string> uids(const std::vector<stored_message*>& v) {
  std::vector<std::string> out;
  for (const auto* m : v) out.push_back(m->uid);
  return out;
}

using strings = std::vector<std::string>;

TEST(Mailbox, PendingKeepsArrivalOrderPerUserAndHonoursTheLimit) {
  mailbox box(100, false);
  box.add(msg("a", "bob", 1));
  box.add(msg("x", "carol", 2));
  box.add(msg("b", "bob", 3));
  box.add(msg("c", "bob", 4));
  EXPECT_EQ(uids(box.pending("app", "bob", "phone", 7, 10)), (strings{"a", "b", "c"}));
  EXPECT_EQ(uids(box.pending("app", "bob", "phone", 7, 2)), (strings{"a", "b"}));
  EXPECT_EQ(uids(box.pending("app", "carol", "phone", 7, 10)), (strings{"x"}));
  EXPECT_TRUE(box.pending("other-app", "bob", "phone", 7, 10).empty());
  EXPECT_EQ(box.pending_count("app", "bob", "phone", 7), 3U);
  EXPECT_EQ(box.size(), 4U);
}

TEST(Mailbox, AMessageOnItsWayIsNotPendingUntilItsSessionGoes) {
  mailbox box(100, false);
  box.add(msg("a", "bob", 1));
  box.add(msg("b", "bob", 2));
  box.pending("app", "bob", "phone", 7, 1).front()->in_flight.push_back(7);
  EXPECT_EQ(uids(box.pending("app", "bob", "tablet", 8, 10)), (strings{"b"}));
  EXPECT_EQ(box.pending_count("app", "bob", "tablet", 8), 1U);
  box.release("app", "bob", 7);
  EXPECT_EQ(uids(box.pending("app", "bob", "tablet", 8, 10)), (strings{"a", "b"}));
}

TEST(Mailbox, WithoutMultiDeviceSyncTheFirstAcknowledgementTakesItForEveryone) {
  mailbox box(100, false);
  box.add(msg("a", "bob", 1));
  box.pending("app", "bob", "phone", 7, 1).front()->in_flight.push_back(7);
  EXPECT_TRUE(box.taken("app", "bob", "a", "phone", 7));
  EXPECT_FALSE(box.taken("app", "bob", "a", "phone", 7)) << "acknowledged twice";
  EXPECT_TRUE(box.pending("app", "bob", "tablet", 8, 10).empty());
  EXPECT_EQ(box.size(), 0U);
}

TEST(Mailbox, WithMultiDeviceSyncEachDeviceTakesItsOwnCopy) {
  mailbox box(100, true);
  box.add(msg("a", "bob", 1));
  auto* m = box.pending("app", "bob", "phone", 7, 1).front();
  m->in_flight.push_back(7);
  EXPECT_TRUE(box.pending("app", "bob", "phone", 7, 10).empty()) << "on its way to the phone";
  // On its way to the phone, still owed to the tablet.
  EXPECT_EQ(uids(box.pending("app", "bob", "tablet", 8, 10)), (strings{"a"}));
  EXPECT_TRUE(box.taken("app", "bob", "a", "phone", 7));
  EXPECT_TRUE(box.pending("app", "bob", "phone", 7, 10).empty());
  EXPECT_EQ(uids(box.pending("app", "bob", "tablet", 8, 10)), (strings{"a"}));
  EXPECT_TRUE(box.taken("app", "bob", "a", "tablet", 8));
  EXPECT_TRUE(box.pending("app", "bob", "tablet", 8, 10).empty());
  EXPECT_EQ(box.size(), 1U) << "kept until it expires, for a device that logs in later";
  EXPECT_EQ(uids(box.pending("app", "bob", "laptop", 9, 10)), (strings{"a"}));
}

TEST(Mailbox, PastTheBoundTheOldestIsDroppedAndReturned) {
  mailbox box(2, false);
  EXPECT_FALSE(box.add(msg("a", "bob", 1)));
  EXPECT_FALSE(box.add(msg("b", "bob", 2)));
  const auto dropped = box.add(msg("c", "bob", 3));
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->uid, "a");
  EXPECT_EQ(uids(box.pending("app", "bob", "phone", 7, 10)), (strings{"b", "c"}));
  EXPECT_FALSE(box.add(msg("z", "carol", 4))) << "the bound is per user";
  EXPECT_EQ(box.size_of("app", "bob"), 2U);
}

TEST(Mailbox, ExpireRemovesWhatArrivedBeforeTheCutoffOldestFirst) {
  mailbox box(100, false);
  box.add(msg("a", "bob", 10));
  box.add(msg("x", "carol", 15));
  box.add(msg("b", "bob", 20));
  EXPECT_EQ(box.oldest_ms(), 10);
  const auto gone = box.expire(20);  // 20 itself stays
  ASSERT_EQ(gone.size(), 2U);
  EXPECT_EQ(gone[0].uid, "a");
  EXPECT_EQ(gone[1].uid, "x");
  EXPECT_EQ(uids(box.pending("app", "bob", "phone", 7, 10)), (strings{"b"}));
  EXPECT_EQ(box.oldest_ms(), 20);
  EXPECT_EQ(box.size(), 1U);
  (void)box.expire(21);
  EXPECT_FALSE(box.oldest_ms());
}

TEST(MessageUid, HasTheVendorsShapeAndDiffersPerCounterAndSeed) {
  const auto uid = message_uid(1, 0);
  ASSERT_EQ(uid.size(), 19U);
  for (std::size_t i = 0; i < uid.size(); ++i) {
    if (i % 5 == 4) {
      EXPECT_EQ(uid[i], '-') << uid;
    } else {
      EXPECT_TRUE((uid[i] >= '0' && uid[i] <= '9') || (uid[i] >= 'A' && uid[i] <= 'Z')) << uid;
    }
  }
  std::set<std::string> seen;
  for (std::uint64_t n = 0; n < 10'000; ++n) seen.insert(message_uid(1, n));
  EXPECT_EQ(seen.size(), 10'000U);
  EXPECT_NE(message_uid(1, 5), message_uid(2, 5));
  EXPECT_EQ(message_uid(3, 9), message_uid(3, 9));
}

}  // namespace
}  // namespace imock::server
