// imock-harness serve end to end: the harness plays a scenario's server side, and
// imock-client, started by the test from what serve printed, plays "your app".
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "imock/base/process.hpp"

namespace imock {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path k_harness = IMOCK_HARNESS_BIN;
const std::filesystem::path k_client = IMOCK_CLIENT_BIN;
const std::filesystem::path k_source = IMOCK_SOURCE_DIR;

std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("imock-serve-" + std::to_string(getpid()) + "-" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The text after `label` up to the end of its line.
std::string after(const std::string& text, const std::string& label, std::size_t from = 0) {
  const auto at = text.find(label, from);
  if (at == std::string::npos) return {};
  const auto start = at + label.size();
  return text.substr(start, text.find('\n', start) - start);
}

TEST(Serve, ChecksAClientRunElsewhereAndSkipsWhatOnlyTheClientSees) {
  const auto dir = scratch("field-drop");
  auto serve = child_process::spawn(
      {k_harness.string(), "serve", (k_source / "harness/testdata/field-drop.yaml").string(),
       "--listen-mqtt", "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--client-wait", "20s",
       "--ready-file", (dir / "ready.json").string()},
      {.err = spawn_options::stream::file, .err_file = dir / "err"});
  ASSERT_TRUE(serve);
  ASSERT_TRUE(serve->wait_output("now: connect your client 'alice'", 10s))
      << serve->output() << slurp(dir / "err");
  const auto& said = serve->output();
  const std::string url = "mqtt://" + after(said, "  mqtt   mqtt://");
  const std::string token = after(said, ", token ", said.find("client 'alice'"));
  ASSERT_FALSE(token.empty()) << said;
  EXPECT_NE(slurp(dir / "ready.json").find("\"mqtt\""), std::string::npos) << "--ready-file";
  auto app = child_process::spawn({k_client.string(), "--url", url, "--app-key", "imock-demo-key",
                                   "--token", token, "--device", "phone"},
                                  {.out = spawn_options::stream::null,
                                   .err = spawn_options::stream::file,
                                   .err_file = dir / "client.err"});
  ASSERT_TRUE(app);
  EXPECT_EQ(serve->wait_exit(60s), 0) << serve->read_all(1s) << slurp(dir / "err");
  const auto& output = serve->read_all(1s);
  EXPECT_NE(output.find("PASS field-drop"), std::string::npos) << output;
  EXPECT_NE(output.find("(skipped, client-side: alice status 0"), std::string::npos) << output;
  std::filesystem::remove_all(dir);
}

TEST(Serve, AnAppThatNeverComesFailsTheConnectStepWithAClearMessage) {
  const auto dir = scratch("no-app");
  std::ofstream(dir / "s.yaml") << "name: lonely\ndescription: nobody connects\nclients:\n"
                                   "  alice:\nsteps:\n  - connect: alice\n";
  auto serve = child_process::spawn(
      {k_harness.string(), "serve", (dir / "s.yaml").string(), "--listen-mqtt", "127.0.0.1:0",
       "--listen-http", "127.0.0.1:0", "--client-wait", "2s", "--speed", "20"},
      {.err = spawn_options::stream::file, .err_file = dir / "err"});
  ASSERT_TRUE(serve);
  EXPECT_EQ(serve->wait_exit(30s), 1) << slurp(dir / "err");
  const auto& output = serve->read_all(1s);
  EXPECT_NE(output.find("your client 'alice' did not connect within 2.000 s"), std::string::npos)
      << output;
  std::filesystem::remove_all(dir);
}

// One `serve` run of `scenario` with `app` (an imock-client build) as client `name` on
// device `device`: the exit status and what serve printed.
struct served {
  std::optional<int> status;
  std::string output;
};

served serve_once(const std::filesystem::path& dir, const std::filesystem::path& scenario,
                  const std::filesystem::path& app, const std::string& name,
                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{k_harness.string(), "serve", scenario.string(), "--listen-mqtt",
                                "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--client-wait",
                                "20s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto serve = child_process::spawn(
      argv, {.err = spawn_options::stream::file, .err_file = dir / (name + ".serve.err")});
  if (!serve) return {std::nullopt, "cannot start imock-harness"};
  if (!serve->wait_output("now: connect your client '" + name + "'", 10s)) {
    return {std::nullopt, serve->output() + slurp(dir / (name + ".serve.err"))};
  }
  const auto& said = serve->output();
  const std::string url = "mqtt://" + after(said, "  mqtt   mqtt://");
  const std::string token = after(said, ", token ", said.find("client '" + name + "'"));
  auto client = child_process::spawn(
      {app.string(), "--url", url, "--app-key", "imock-demo-key", "--token", token, "--device",
       "phone"},
      {.out = spawn_options::stream::null, .err = spawn_options::stream::null});
  if (!client) return {std::nullopt, "cannot start " + app.string()};
  served out;
  out.status = serve->wait_exit(60s);
  out.output = serve->read_all(1s);
  return out;
}

// The console's Record, end to end without the browser: a scenario played with
// imock-client as the app and recorded (serve --record), made a scenario (imock-harness
// record), which passes when played again with imock-client and fails with an app that
// has kick-reconnects' bug (it reconnects after a kick).
TEST(Serve, ARecordedRunBecomesAScenarioThatPassesForTheSameAppAndFailsForABuggyOne) {
  const auto dir = scratch("record");
  const auto recording = dir / "kick.recording.json";
  const auto first = serve_once(dir, k_source / "harness/testdata/console-kick.yaml", k_client,
                                "alice", {"--record", recording.string()});
  ASSERT_EQ(first.status, 0) << first.output;
  const auto rec = boost::json::parse(slurp(recording)).as_object();
  EXPECT_EQ(rec.at("format"), "imock-recording");
  ASSERT_EQ(rec.at("calls").as_array().size(), 1u) << "the kick";
  EXPECT_EQ(rec.at("calls").as_array()[0].at("path"), "/admin/kick");

  const auto scenario = dir / "kick-recorded.yaml";
  auto convert = child_process::spawn({k_harness.string(), "record", recording.string(), "-o",
                                       scenario.string(), "--name", "kick-recorded"},
                                      {.err = spawn_options::stream::as_out});
  ASSERT_TRUE(convert);
  ASSERT_EQ(convert->wait_exit(10s), 0) << convert->read_all(1s);
  const auto yaml = slurp(scenario);
  EXPECT_NE(yaml.find("  - kick: {user: alice, code: 31010}\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - absent: {server: connect, for: "), std::string::npos) << yaml;

  const auto again = serve_once(dir, scenario, k_client, "phone");
  EXPECT_EQ(again.status, 0) << yaml << again.output;
  EXPECT_NE(again.output.find("PASS kick-recorded"), std::string::npos) << again.output;
#ifdef IMOCK_CLIENT_MUTANT_BIN
  const auto buggy = serve_once(dir, scenario, IMOCK_CLIENT_MUTANT_BIN, "phone");
  EXPECT_EQ(buggy.status, 1) << buggy.output;
  EXPECT_NE(buggy.output.find("absent"), std::string::npos) << buggy.output;
#endif
  std::filesystem::remove_all(dir);
}

TEST(Serve, BadArgumentsAreRefused) {
  auto missing = child_process::spawn({k_harness.string(), "serve", "/no/such/file.yaml"},
                                      {.err = spawn_options::stream::as_out});
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->wait_exit(10s), 0);
  EXPECT_NE(missing->read_all(1s).find("/no/such/file.yaml"), std::string::npos)
      << missing->output();
  auto bad_wait = child_process::spawn(
      {k_harness.string(), "serve", (k_source / "harness/testdata/field-drop.yaml").string(),
       "--client-wait", "soon"},
      {.err = spawn_options::stream::as_out});
  ASSERT_TRUE(bad_wait);
  EXPECT_EQ(bad_wait->wait_exit(10s), 2);
  EXPECT_NE(bad_wait->read_all(1s).find("--client-wait: bad duration 'soon'"), std::string::npos)
      << bad_wait->output();
}

}  // namespace
}  // namespace imock
