#include "imock/mutants/catalogue.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace imock::mutants {
namespace {

const std::filesystem::path k_root = IMOCK_SOURCE_DIR;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<mutant> catalogue() {
  std::vector<std::string> errors;
  auto all = load_catalogue(k_root / "mutants/catalogue.yaml", errors);
  EXPECT_TRUE(all.has_value()) << (errors.empty() ? "" : errors.front());
  return all.value_or(std::vector<mutant>{});
}

TEST(MutantCatalogue, HasAtLeastThirtyMutantsInEveryArea) {
  const auto all = catalogue();
  EXPECT_GE(all.size(), 30u);
  std::set<std::string> areas;
  for (const auto& m : all) areas.insert(m.area);
  for (const char* want :
       {"schedule", "time-limit", "codes", "callbacks", "sign-out", "heartbeat", "identity",
        "navigation", "messages"}) {
    EXPECT_TRUE(areas.contains(want)) << want;
  }
}

TEST(MutantCatalogue, EveryMutantChangesItsFileInExactlyTheWrittenPlaces) {
  for (const auto& m : catalogue()) {
    const auto source = read(k_root / m.file);
    ASSERT_FALSE(source.empty()) << m.name << ": " << m.file;
    std::string error;
    const auto mutated = apply(m, source, error);
    ASSERT_TRUE(mutated.has_value()) << error;
    EXPECT_NE(*mutated, source) << m.name;
  }
}

TEST(MutantCatalogue, FindsTextWhateverItsIndentation) {
  const mutant m{.name = "x", .edits = {{.find = "a =\n   b;", .replace = "a = c;"}}};
  std::string error;
  EXPECT_EQ(apply(m, "int f() {\n  a = b;\n}\n", error).value_or(error),
            "int f() {\n  a = c;\n}\n");
}

TEST(MutantCatalogue, RefusesTextFoundTwiceOrNotAtAll) {
  const mutant twice{.name = "twice", .edits = {{.find = "x();", .replace = "y();", .line = 7}}};
  std::string error;
  EXPECT_FALSE(apply(twice, "x(); x();", error).has_value());
  EXPECT_EQ(error,
            "mutant twice (catalogue line 7): the text to find is in the source more "
            "than once; make it longer");
  EXPECT_FALSE(apply(twice, "z();", error).has_value());
  EXPECT_NE(error.find("not in the source any more"), std::string::npos);
}

TEST(MutantCatalogue, AFileIsOneTheSimulatedHarnessLinks) {
  EXPECT_TRUE(valid_file("client/connection.cpp"));
  EXPECT_TRUE(valid_file("server/hub_messages.cpp"));
  EXPECT_FALSE(valid_file("client/../harness/steps.cpp"));
  EXPECT_FALSE(valid_file("/work/client/inbox.cpp"));
  EXPECT_FALSE(valid_file("harness/steps.cpp"));
  EXPECT_FALSE(valid_file("client/inbox.hpp"));
  EXPECT_FALSE(valid_file("client/.cpp"));
  const auto file = std::filesystem::temp_directory_path() / "imock-bad-file-catalogue.yaml";
  std::ofstream(file) << "mutants:\n  - name: m\n    area: x\n    bug: y\n    file: ../x.cpp\n"
                         "    edits: [{find: a, replace: b}]\n";
  std::vector<std::string> errors;
  EXPECT_FALSE(load_catalogue(file, errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(":5:11: bad file '../x.cpp' for mutant 'm' (expected client/NAME.cpp "
                           "or server/NAME.cpp"),
            std::string::npos)
      << errors[0];
  std::filesystem::remove(file);
}

TEST(MutantCatalogue, ABadEntryIsReportedWithItsLine) {
  const auto file = std::filesystem::temp_directory_path() / "imock-bad-catalogue.yaml";
  std::ofstream(file) << "mutants:\n  - name: Bad_Name\n    area: x\n    bug: y\n    edits: []\n";
  std::vector<std::string> errors;
  EXPECT_FALSE(load_catalogue(file, errors).has_value());
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find(":2:11: bad name 'Bad_Name'"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find(":2:5: 'edits' (a non-empty list) is required"), std::string::npos)
      << errors[1];
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace imock::mutants
