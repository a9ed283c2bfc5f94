// docs/codes.md and the code table of docs/protocol.md are generated from the
// code table in protocol/codes.cpp; these tests fail when they drift apart.
// To regenerate after changing the table:
//   IMOCK_UPDATE_DOCS=1 build/release/protocol/protocol_test --gtest_filter='Docs*'
#include "imock/protocol/codes.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace imock::rc {
namespace {

std::string hex_byte(std::uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v);
  return buf;
}

std::string origin_name(origin o) {
  switch (o) {
    case origin::server:
      return "server";
    case origin::client:
      return "client";
    case origin::network:
      return "network";
  }
  return "?";
}

std::string status_cell(const std::optional<status>& s) {
  if (!s) {
    return "unchanged";
  }
  return std::to_string(static_cast<int>(*s)) + " " + std::string(name(*s));
}

std::string render_codes_md() {
  std::ostringstream out;
  out << "# Codes and statuses\n\n"
         "Generated from the code table in `protocol/codes.cpp` by `protocol/docs_test.cpp`;\n"
         "do not edit by hand. Regenerate with\n"
         "`IMOCK_UPDATE_DOCS=1 build/release/protocol/protocol_test --gtest_filter='Docs*'`.\n\n"
         "*Terminal* codes go to the connect error callback and the SDK stops; *recoverable*\n"
         "ones only change the status while the SDK reconnects on its schedule. *From* says\n"
         "who causes the code: the server (it travels as a reason code plus the `rc-code`\n"
         "user property, see `docs/protocol.md` §4), the client SDK itself, or the network.\n\n"
         "## Codes\n\n"
         "| code | name | kind | status it leads to | from | CONNACK | DISCONNECT | description |\n"
         "|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : all_codes()) {
    out << "| " << static_cast<int>(row.value) << " | " << row.name << " | "
        << (row.terminal ? "terminal" : "recoverable") << " | " << status_cell(row.leads_to)
        << " | " << origin_name(row.from) << " | "
        << (row.connack_reason ? hex_byte(*row.connack_reason) : std::string("-")) << " | "
        << (row.disconnect_reason ? hex_byte(*row.disconnect_reason) : std::string("-")) << " | "
        << row.description << " |\n";
  }
  out << "\n## Connection statuses (iOS numbering)\n\n"
         "| status | name | Android | app must handle | SDK stops | description |\n"
         "|---|---|---|---|---|---|\n";
  for (const auto& row : all_statuses()) {
    out << "| " << static_cast<int>(row.value) << " | " << row.name << " | "
        << (row.android ? std::to_string(*row.android) : std::string("-")) << " | "
        << (row.app_must_handle ? "yes" : "no") << " | " << (row.terminal ? "yes" : "no") << " | "
        << row.description << " |\n";
  }
  return out.str();
}

std::string render_wire_table() {
  std::ostringstream out;
  out << "| rc-code | name | in CONNACK (refused) | in DISCONNECT (session ended) |\n"
         "|---|---|---|---|\n";
  for (const auto& row : all_codes()) {
    if (!row.connack_reason) {
      continue;
    }
    out << "| " << static_cast<int>(row.value) << " | " << row.name << " | "
        << hex_byte(*row.connack_reason) << " | " << hex_byte(*row.disconnect_reason) << " |\n";
  }
  return out.str();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

bool update_requested() {
  const char* v = std::getenv("IMOCK_UPDATE_DOCS");
  return v != nullptr && std::string(v) == "1";
}

const std::string k_docs = std::string(IMOCK_SOURCE_DIR) + "/docs/";

TEST(Docs, CodesMdIsGeneratedFromTheCodeTable) {
  const std::string path = k_docs + "codes.md";
  const std::string want = render_codes_md();
  if (update_requested()) {
    write_file(path, want);
  }
  EXPECT_EQ(read_file(path), want)
      << "docs/codes.md is out of date; regenerate: IMOCK_UPDATE_DOCS=1 protocol_test "
         "--gtest_filter='Docs*'";
}

TEST(Docs, ProtocolMdWireTableMatchesTheCodeTable) {
  const std::string path = k_docs + "protocol.md";
  std::string text = read_file(path);
  const std::string begin = "<!-- codes-on-the-wire:begin -->\n";
  const std::string end = "<!-- codes-on-the-wire:end -->";
  const auto b = text.find(begin);
  const auto e = text.find(end);
  ASSERT_NE(b, std::string::npos) << "marker missing in docs/protocol.md";
  ASSERT_NE(e, std::string::npos) << "marker missing in docs/protocol.md";
  ASSERT_LT(b, e);
  const std::string want = render_wire_table();
  if (update_requested()) {
    text.replace(b + begin.size(), e - b - begin.size(), want);
    write_file(path, text);
  }
  EXPECT_EQ(text.substr(b + begin.size(), e - b - begin.size()), want)
      << "docs/protocol.md §4 table is out of date; regenerate: IMOCK_UPDATE_DOCS=1 "
         "protocol_test --gtest_filter='Docs*'";
}

TEST(Docs, ProtocolMdDescribesEveryTransportAndThePropertiesTheSdkSends) {
  const std::string text = read_file(k_docs + "protocol.md");
  for (const char* needle :
       {"mqtt://", "mqtts://", "ws://", "wss://", "`/mqtt`", "`rc-code`", "`imock-reconnect`",
        "`imock-reconnect-kick`", "`user-id`", "HMAC-SHA256", "0x95", "0x81", "0x82"}) {
    EXPECT_NE(text.find(needle), std::string::npos) << needle;
  }
}

}  // namespace
}  // namespace imock::rc
