// The app's side of the message path: what is stored, what is shown, what is dropped.
#include "imock/client/inbox.hpp"

#include <gtest/gtest.h>

namespace imock::client {
namespace {

incoming_message from_alice(std::string uid, std::string content, std::string client_msg_id = "") {
  return {.uid = std::move(uid),
          .from = "alice",
          .object_name = "RC:TxtMsg",
          .content = std::move(content),
          .client_msg_id = std::move(client_msg_id),
          .sent_ms = 1000};
}

TEST(Inbox, StoresThenShowsAndDropsARepeatOfTheSameUid) {
  memory_store db;
  inbox box(&db);
  const auto first = box.receive(from_alice("U1", "hi"), 5);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, 1);
  EXPECT_EQ(first->direction, 2);
  EXPECT_EQ(first->received_ms, 5);
  EXPECT_FALSE(box.receive(from_alice("U1", "hi"), 6)) << "the same messageUId";
  EXPECT_EQ(db.size(), 1u);
}

TEST(Inbox, AResendUnderANewUidIsDroppedByTheSendersIdAndContent) {
  memory_store db;
  inbox box(&db);
  ASSERT_TRUE(box.receive(from_alice("U1", "hi", "7"), 0));
  EXPECT_FALSE(box.receive(from_alice("U2", "hi", "7"), 0)) << "row 7 resent";
  EXPECT_TRUE(box.receive(from_alice("U3", "hi", "8"), 0)) << "a new message with the same text";
}

TEST(Inbox, TheDatabaseRemembersWhatANewInboxDoesNot) {
  memory_store db;
  {
    inbox before_restart(&db);
    ASSERT_TRUE(before_restart.receive(from_alice("U1", "hi"), 0));
  }
  inbox after_restart(&db);
  EXPECT_FALSE(after_restart.receive(from_alice("U1", "hi"), 0));
  ASSERT_EQ(after_restart.history("alice", 10).size(), 1u);
  inbox no_database;
  ASSERT_TRUE(no_database.receive(from_alice("U1", "hi"), 0));
  EXPECT_FALSE(no_database.receive(from_alice("U1", "hi"), 0)) << "in memory, while it lives";
  EXPECT_TRUE(no_database.history("alice", 10).empty());
}

TEST(Inbox, AStatusMessageIsShownEveryTimeAndNeverStored) {
  memory_store db;
  inbox box(&db);
  auto typing = from_alice("S1", "typing");
  typing.status = true;
  EXPECT_TRUE(box.receive(typing, 0));
  EXPECT_TRUE(box.receive(typing, 1));
  EXPECT_EQ(db.size(), 0u);
}

TEST(Inbox, SentRowsAreKeptForResendAndTheirOutcomeIsRecorded) {
  memory_store db;
  inbox box(&db);
  const auto row = box.attach({.to = "bob", .content = "x"}, "alice", 10);
  EXPECT_EQ(row.sent_status, 10);
  box.sent(row.id, "U9", 20);
  const auto kept = box.sent_row(row.id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->uid, "U9");
  EXPECT_EQ(kept->sent_status, 30);
  EXPECT_EQ(kept->sent_ms, 20);
  ASSERT_TRUE(box.receive(from_alice("U1", "in"), 0));
  EXPECT_FALSE(box.sent_row(2)) << "a received row is not one to resend";
  EXPECT_FALSE(box.sent_row(99));
  const auto history = box.history("bob", 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].content, "x");
}

}  // namespace
}  // namespace imock::client
