// From a recording to a scenario (server/recording.hpp, `imock-harness record`), on
// recordings made with imock-client (harness/testdata/recordings/): the scenario is
// the committed one, byte for byte, loads, and passes in simulation against the
// reference SDK, as it passed for the app that was recorded.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "imock/harness/loader.hpp"
#include "imock/harness/runner.hpp"
#include "imock/server/recording.hpp"

namespace imock::harness {
namespace {

const std::filesystem::path k_dir = std::filesystem::path(IMOCK_SOURCE_DIR) / "harness/testdata/recordings";

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string convert(const std::string& stem) {
  const auto v = boost::json::parse(slurp(k_dir / (stem + ".recording.json")));
  std::string why;
  auto yaml = server::scenario_from_recording(v.as_object(), {.name = stem + "-recorded"}, &why);
  EXPECT_FALSE(yaml.empty()) << why;
  return yaml;
}

class Recordings : public ::testing::TestWithParam<std::string> {};

// console-kick: kicked with 31010, it stays off. mixed: refusals and a drop, a second
// client over WebSocket kicked by session, a block and an unblock, server API calls.
// online-at-start: Record pressed with two apps online; one dropped by session (it
// reconnects), the other kicked by user.
TEST_P(Recordings, BecomeTheCommittedScenarioWhichLoadsAndPasses) {
  const auto yaml = convert(GetParam());
  EXPECT_EQ(yaml, slurp(k_dir / (GetParam() + ".yaml")))
      << "regenerate with: imock-harness record " << GetParam() << ".recording.json --name "
      << GetParam() << "-recorded -o " << GetParam() << ".yaml\n"
      << yaml;
  EXPECT_EQ(convert(GetParam()), yaml) << "deterministic";
  std::vector<load_error> errors;
  const auto s = parse_scenario(yaml, GetParam() + ".yaml", errors);
  ASSERT_TRUE(s) << (errors.empty() ? "" : errors.front().to_string());
  const auto r = run_simulated(*s);
  EXPECT_TRUE(r.passed) << render_failure(r);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Recordings, ::testing::Values("console-kick", "mixed", "online-at-start"));

TEST(Recording, WhatIsNotARecordingIsSaidSo) {
  std::string why;
  EXPECT_EQ(server::scenario_from_recording(boost::json::object{{"calls", 1}}, {}, &why), "");
  EXPECT_NE(why.find("not an imock recording"), std::string::npos) << why;
}

// Quoting: names and ids that YAML would read as something else stay strings.
TEST(Recording, OddUserAndDeviceNamesStayStrings) {
  auto v = boost::json::parse(slurp(k_dir / "console-kick.recording.json")).as_object();
  for (auto& e : v.at("events").as_array()) {
    auto& o = e.as_object();
    if (const auto* u = o.if_contains("user"); u && *u == "alice") o["user"] = "true";
    if (const auto* d = o.if_contains("device"); d && *d == "phone") o["device"] = "all: \"x\"\n";
  }
  std::string why;
  const auto yaml = server::scenario_from_recording(v, {.name = "odd"}, &why);
  EXPECT_NE(yaml.find(R"(all-x: {user: "true", device: "all: \"x\"\x0a"})"), std::string::npos)
      << yaml;
  std::vector<load_error> errors;
  EXPECT_TRUE(parse_scenario(yaml, "odd.yaml", errors))
      << (errors.empty() ? "" : errors.front().to_string()) << yaml;
}

}  // namespace
}  // namespace imock::harness
