#include "imock/base/yaml_read.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace imock::yaml_read {
namespace {

constexpr std::array<std::string_view, 2> k_known = {"a", "b"};

std::vector<entry> entries_of(const std::string& yaml, std::vector<problem>& problems,
                              std::vector<std::string>* unknown = nullptr) {
  return read_map(YAML::Load(yaml), "in test", k_known, problems, unknown);
}

TEST(YamlRead, ParseUnsignedTakesPlainDecimalDigitsOnly) {
  EXPECT_EQ(parse_unsigned("0"), 0u);
  EXPECT_EQ(parse_unsigned("18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(parse_unsigned("18446744073709551616"), std::nullopt);  // overflows
  for (const auto* typo : {"", "0x10", "1e3", "+5", "-1", "19_000", " 1"}) {
    EXPECT_EQ(parse_unsigned(typo), std::nullopt) << typo;
  }
}

TEST(YamlRead, LoadDocumentGivesTheFirstDocumentAndWhereASecondStarts) {
  std::optional<YAML::Mark> second;
  EXPECT_EQ(load_document("a: 1\n", second)["a"].as<int>(), 1);
  EXPECT_FALSE(second);
  EXPECT_EQ(load_document("a: 1\n---\n", second)["a"].as<int>(), 1);  // empty: no second
  EXPECT_FALSE(second);
  load_document("a: 1\n---\n# note\nb: 2\n", second);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->line, 3);  // 0-based: "b: 2" is line 4
  load_document("[a]\nb: 1\n", second);  // no marker, and still two documents
  ASSERT_TRUE(second);
  EXPECT_EQ(second->line, 1);
}

TEST(YamlRead, LoadDocumentRefusesWhatWouldHangYamlCppsLoadAll) {
  // YAML::LoadAll never returns on these: its parser makes no progress at the ','.
  for (const char* text : {",name: x\n", "a: 1\n---\n,b\n", "[a]\n,b: 1\n"}) {
    std::optional<YAML::Mark> second;
    try {
      load_document(text, second);
      ADD_FAILURE() << "no error for: " << text;
    } catch (const YAML::ParserException& e) {
      EXPECT_NE(std::string(e.what()).find("unexpected ','"), std::string::npos) << e.what();
    }
  }
}

TEST(YamlRead, DescribeSaysWhatANodeIs) {
  EXPECT_EQ(describe(YAML::Load("x")), "'x'");
  EXPECT_EQ(describe(YAML::Load("[1]")), "a list");
  EXPECT_EQ(describe(YAML::Load("{a: 1}")), "a map");
  EXPECT_EQ(describe(YAML::Load("~")), "nothing");
}

TEST(YamlRead, ReadMapLeavesOutUnknownAndDuplicateKeysAndReportsThemInFileOrder) {
  std::vector<problem> problems;
  std::vector<std::string> unknown;
  const auto entries = entries_of("a: 1\nc: 2\na: 3\nb: 4\n", problems, &unknown);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "a");
  EXPECT_EQ(entries[0].value.Scalar(), "1");
  EXPECT_EQ(entries[1].name, "b");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].mark.line, 1);
  EXPECT_EQ(problems[0].message, "unknown key 'c' in test (expected one of: a, b)");
  EXPECT_EQ(problems[1].mark.line, 2);
  EXPECT_EQ(problems[1].message, "duplicate key 'a' in test (first at line 1)");
  EXPECT_EQ(unknown, std::vector<std::string>{"c"});
}

TEST(YamlRead, ANullValueIsReportedAtItsKey) {
  std::vector<problem> problems;
  const auto entries = entries_of("a:\nb: x\n", problems);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(mark_of(entries[0]).line, 0);
  EXPECT_EQ(read_non_empty(entries[0]).error, "expected a non-empty string for a, got nothing");
  EXPECT_EQ(read_bool(entries[1]).error, "bad boolean 'x' for b (expected true or false)");
}

TEST(YamlRead, ValuesAreReadOrSayWhatIsWrong) {
  std::vector<problem> problems;
  const auto entries = entries_of("a: 90s\nb: 1.5s\n", problems);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(read_duration(entries[0]).value, 90'000);
  EXPECT_EQ(read_keep_alive(entries[0], "e.g. 5s").value, 90'000);
  EXPECT_EQ(read_keep_alive(entries[1], "e.g. 5s").error,
            "bad duration '1.5s' for b (expected whole seconds, at most 65535s, e.g. 5s)");
  EXPECT_EQ(read_unsigned(entries[0], 0, 10).error, "bad integer '90s' for a (expected 0..10)");
}

TEST(YamlRead, AMissingFileSaysItCannotBeOpened) {
  const auto r = read_file("/nonexistent/imock.yaml", "test file");
  EXPECT_FALSE(r.value);
  EXPECT_EQ(r.error, "cannot open the test file: No such file or directory");
}

}  // namespace
}  // namespace imock::yaml_read
