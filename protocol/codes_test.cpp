#include "imock/protocol/codes.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "imock/protocol/mqtt.hpp"

namespace imock::rc {
namespace {

TEST(Codes, EveryDocumentedTerminalCodeIsInTheTable) {
  // SPEC.md §2, terminal table.
  for (int value : {31002, 31004, 31005, 31008, 31009, 31010, 31020, 31023, 31024, 31025, 31027,
                    31029, 33001, 33002, 33003, 34001, 34006}) {
    const auto* row = find(value);
    ASSERT_NE(row, nullptr) << value;
    EXPECT_TRUE(row->terminal) << value;
  }
}

TEST(Codes, EveryDocumentedRecoverableCodeIsInTheTable) {
  for (int value : {30002, 30004, 30005, 30006, 30007, 30008, 30009, 30010, 30011, 30013, 30015,
                    31000, 31001, 31003, 31006, 31028, 32054, 32061}) {
    const auto* row = find(value);
    ASSERT_NE(row, nullptr) << value;
    EXPECT_FALSE(row->terminal) << value;
  }
}

TEST(Codes, NamesAreUniqueAndLookupsAgree) {
  std::set<std::string_view> names;
  for (const auto& row : all_codes()) {
    EXPECT_TRUE(names.insert(row.name).second) << row.name;
    EXPECT_EQ(find(static_cast<int>(row.value)), &row);
    EXPECT_EQ(name(row.value), row.name);
    EXPECT_FALSE(row.description.empty()) << row.name;
  }
  EXPECT_EQ(find(31003 + 1000000), nullptr);
  EXPECT_EQ(find(31011), nullptr);
  EXPECT_EQ(name(static_cast<code>(12345)), "UNKNOWN");
}

TEST(Codes, ServerCodesTravelWithAReasonCodeAndClientCodesDoNot) {
  for (const auto& row : all_codes()) {
    if (row.from == origin::server) {
      ASSERT_TRUE(row.connack_reason.has_value()) << row.name;
      ASSERT_TRUE(row.disconnect_reason.has_value()) << row.name;
      EXPECT_GE(*row.connack_reason, 0x80) << row.name;
      EXPECT_GE(*row.disconnect_reason, 0x80) << row.name;
    } else {
      EXPECT_FALSE(row.connack_reason.has_value()) << row.name;
      EXPECT_FALSE(row.disconnect_reason.has_value()) << row.name;
    }
  }
}

// MQTT 5 allows only some reason codes in each packet; a client library may refuse (or
// crash on) a DISCONNECT with a CONNACK-only code such as 0x8A Banned.
TEST(Codes, EveryReasonCodeIsLegalInThePacketThatCarriesIt) {
  for (const auto& row : all_codes()) {
    if (row.connack_reason) {
      EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::connack, *row.connack_reason))
          << row.name << " CONNACK " << static_cast<int>(*row.connack_reason);
    }
    if (row.disconnect_reason) {
      EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::disconnect, *row.disconnect_reason))
          << row.name << " DISCONNECT " << static_cast<int>(*row.disconnect_reason);
    }
  }
  EXPECT_FALSE(mqtt::reason_allowed(mqtt::packet_type::disconnect, 0x8A));  // Banned
  EXPECT_FALSE(mqtt::reason_allowed(mqtt::packet_type::disconnect, 0x86));
  EXPECT_FALSE(mqtt::reason_allowed(mqtt::packet_type::connack, 0x8E));  // session taken over
  EXPECT_FALSE(mqtt::reason_allowed(mqtt::packet_type::connack, 0x98));
  EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::disconnect, 0x98));
  EXPECT_TRUE(mqtt::reason_allowed(mqtt::packet_type::connack, 0x8A));
}

TEST(Codes, ReasonCodeMapsBackToTheCodeForEveryUnambiguousRow) {
  // A client that gets a reason code without rc-code still lands on a code of
  // the same kind (terminal or recoverable).
  for (const auto& row : all_codes()) {
    if (row.connack_reason) {
      EXPECT_EQ(info(code_for_mqtt_reason(*row.connack_reason, true)).terminal, row.terminal)
          << row.name;
    }
    if (row.disconnect_reason) {
      EXPECT_EQ(info(code_for_mqtt_reason(*row.disconnect_reason, false)).terminal, row.terminal)
          << row.name;
    }
  }
  EXPECT_EQ(code_for_mqtt_reason(0x8E, false), code::disconn_kick);
  EXPECT_EQ(code_for_mqtt_reason(0x8B, false), code::conn_server_unavailable);
  EXPECT_EQ(code_for_mqtt_reason(0x81, false), code::socket_disconnected);
  EXPECT_EQ(code_for_mqtt_reason(0x00, true), code::ok);
}

TEST(Codes, KickAndTimeoutLeadToTheDocumentedStatuses) {
  EXPECT_EQ(info(code::disconn_kick).leads_to, status::kicked_offline_by_other_client);
  EXPECT_EQ(info(code::connect_timeout).leads_to, status::timeout);
  EXPECT_EQ(info(code::conn_token_incorrect).leads_to, status::token_incorrect);
  EXPECT_EQ(info(code::conn_user_blocked).leads_to, status::disconn_exception);
  EXPECT_EQ(info(code::conn_user_abandon).leads_to, status::user_abandon);
  EXPECT_FALSE(info(code::connection_exist).leads_to.has_value());
}

TEST(Codes, ErrorCodeCategoryCarriesTheDocumentedNumber) {
  const std::error_code ec = code::conn_token_expire;
  EXPECT_EQ(ec.value(), 31020);
  EXPECT_STREQ(ec.category().name(), "imock.rc");
  EXPECT_NE(ec.message().find("RC_CONN_TOKEN_EXPIRE"), std::string::npos);
  EXPECT_NE(std::error_code(99999, rc_category()).message().find("unknown"), std::string::npos);
}

TEST(Statuses, AndroidMappingIsTheDocumentedOne) {
  // SPEC.md §3: -1 NetworkUnavailable, 0 Connected, 1 Connecting, 2 Unconnected,
  // 3 Kicked, 4 TokenIncorrect, 6 UserBlocked, 12 SignOut, 13 Suspend, 14 Timeout.
  EXPECT_EQ(to_android(status::network_unavailable), -1);
  EXPECT_EQ(to_android(status::connected), 0);
  EXPECT_EQ(to_android(status::connecting), 1);
  EXPECT_EQ(to_android(status::unconnected), 2);
  EXPECT_EQ(to_android(status::kicked_offline_by_other_client), 3);
  EXPECT_EQ(to_android(status::token_incorrect), 4);
  EXPECT_EQ(to_android(status::disconn_exception), 6);
  EXPECT_EQ(to_android(status::sign_out), 12);
  EXPECT_EQ(to_android(status::suspend), 13);
  EXPECT_EQ(to_android(status::timeout), 14);
  EXPECT_EQ(to_android(status::user_abandon), std::nullopt);
  for (const auto& row : all_statuses()) {
    if (row.android) {
      EXPECT_EQ(from_android(*row.android), row.value) << row.name;
    }
  }
  EXPECT_EQ(from_android(5), std::nullopt);
}

TEST(Statuses, TheOnesTheAppMustHandleAreMarked) {
  std::set<int> must;
  for (const auto& row : all_statuses()) {
    if (row.app_must_handle) {
      must.insert(static_cast<int>(row.value));
    }
  }
  EXPECT_EQ(must, (std::set<int>{6, 14, 15, 16, 17, 19}));
}

TEST(Statuses, EveryCodeLeadsToAKnownStatus) {
  for (const auto& row : all_codes()) {
    if (row.leads_to) {
      EXPECT_NE(find_status(static_cast<int>(*row.leads_to)), nullptr) << row.name;
    }
  }
}

}  // namespace
}  // namespace imock::rc
