// imock-harness serve end to end: the harness plays a scenario's server side, and
// imock-client, started by the test from what serve printed, plays "your app".
#include <gtest/gtest.h>

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
