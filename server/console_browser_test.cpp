// The console (server/console/, docs/console.md) in a real browser: headless Chromium
// driven over the DevTools protocol, imock-server and imock-client as real processes.
// A tester's path through it: the page loads, the app's session shows, Kick makes the
// app report status 6 with 31010, a recording of a drop downloads as a scenario that
// loads; with an admin token, the page asks for it. The screenshots in docs/ are the
// ones taken here (IMOCK_UPDATE_DOCS=1 writes them to docs/images/).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "imock/base/process.hpp"
#include "imock/server/testing/headless_browser.hpp"

namespace imock::server {
namespace {

using namespace std::chrono_literals;
using testing::headless_browser;

const std::filesystem::path k_bin = std::filesystem::canonical("/proc/self/exe").parent_path();
const std::filesystem::path k_source = IMOCK_SOURCE_DIR;
const std::filesystem::path k_client = IMOCK_CLIENT_BIN;
const std::filesystem::path k_harness = IMOCK_HARNESS_BIN;

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One imock-server on ephemeral loopback ports, with a scratch folder.
class ConsoleBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("imock-console-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    browser_.reset();
    clients_.clear();
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void start_server(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{(k_bin / "imock-server").string(), "--listen-mqtt", "127.0.0.1:0",
                                  "--listen-http", "127.0.0.1:0", "--ready-file",
                                  (dir_ / "ready.json").string(), "--console-file",
                                  (k_source / "docs/conformance.md").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = child_process::spawn(argv, {.err = spawn_options::stream::file, .err_file = dir_ / "server.err"});
    ASSERT_TRUE(server_);
    ASSERT_TRUE(server_->wait_output("listening", 10s)) << slurp(dir_ / "server.err");
    const auto ready = boost::json::parse(slurp(dir_ / "ready.json")).as_object();
    mqtt_ = std::string(ready.at("mqtt").as_string());
    http_ = std::string(ready.at("http").as_string());
  }

  // imock-client as the app: user `user` on `device`, its output kept for the test.
  child_process& start_client(const std::string& user, const std::string& device,
                              const std::string& url_scheme = "mqtt") {
    const auto url = url_scheme == "ws" ? "ws://" + http_ + "/mqtt" : "mqtt://" + mqtt_;
    auto c = child_process::spawn({k_client.string(), "--url", url, "--app-key", "imock-demo-key",
                                   "--user", user, "--app-secret", "imock-demo-secret", "--api",
                                   "http://" + http_, "--device", device},
                                  {.err = spawn_options::stream::as_out});
    EXPECT_TRUE(c) << "imock-client";
    clients_.push_back(std::move(c));
    return *clients_.back();
  }

  void open_browser() {
    std::string why;
    browser_ = headless_browser::launch(&why);
    ASSERT_TRUE(browser_) << why;
  }

  // Fails the test with what the page logged.
  void must(bool ok, const std::string& why) {
    std::string logged;
    for (const auto& line : browser_->console()) logged += "\n  page: " + line;
    ASSERT_TRUE(ok) << why << logged;
  }
  void wait(const std::string& js, std::chrono::milliseconds timeout = 10s) {
    std::string why;
    must(browser_->wait_for(js, timeout, &why), why);
  }
  void click(const std::string& selector) {
    std::string why;
    must(browser_->click(selector, &why), why);
  }

  // A screenshot for the docs: always in the scratch folder, and in docs/images/ with
  // IMOCK_UPDATE_DOCS=1.
  void screenshot(const std::string& name) {
    std::string why;
    must(browser_->screenshot(dir_ / name, &why), why);
    if (const char* u = std::getenv("IMOCK_UPDATE_DOCS"); u != nullptr && std::string(u) == "1") {
      std::filesystem::create_directories(k_source / "docs/images");
      std::filesystem::copy_file(dir_ / name, k_source / "docs/images" / name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

  static std::string row(const std::string& user) {
    return "#sessions tbody tr[data-user=\"" + user + "\"]";
  }

  std::filesystem::path dir_;
  std::unique_ptr<child_process> server_;
  std::vector<std::unique_ptr<child_process>> clients_;
  std::unique_ptr<headless_browser> browser_;
  std::string mqtt_, http_;
};

TEST_F(ConsoleBrowser, KickWithOneClickAndKeepARecordedDropAsAScenario) {
  start_server();
  auto& alice = start_client("alice", "phone");
  ASSERT_TRUE(alice.wait_output("status 0 Connected", 10s)) << alice.output();
  open_browser();
  std::string why;
  must(browser_->navigate("http://" + http_ + "/console", &why), why);
  wait("document.body.dataset.ready === 'true'");
  // The session imock-client opened, with what the server knows of it.
  wait("document.querySelector('" + row("alice") + "[data-device=\"phone\"]')");
  wait("document.querySelector('#events li[data-kind=\"connect\"][data-user=\"alice\"]')");
  wait("document.querySelector('#apps').textContent.includes('imock-demo-key')");
  wait("!document.body.textContent.includes('imock-demo-secret')", 1s);
  wait("document.querySelector('#files').textContent.includes('conformance.md')");

  // Kick, code 31010: the app reports status 6 with it.
  must(browser_->set_value(row("alice") + " select[data-role=\"kick-code\"]", "31010", &why), why);
  click(row("alice") + " button[data-action=\"kick\"]");
  ASSERT_TRUE(alice.wait_output("status 6 KickedOfflineByOtherClient (31010", 10s)) << alice.output();
  wait("document.querySelector('#status').dataset.ok === 'true'");
  wait("document.querySelector('#events li[data-kind=\"kick\"][data-user=\"alice\"]')");

  // Record a drop of a second app, stop, download the scenario.
  auto& bob = start_client("bob", "tablet", "ws");
  ASSERT_TRUE(bob.wait_output("status 0 Connected", 10s)) << bob.output();
  wait("document.querySelector('" + row("bob") + "[data-connected=\"true\"]')");
  screenshot("console.png");
  click("#record");
  wait("document.querySelector('#record').textContent.includes('Stop')");
  const auto connects_before = browser_->evaluate(
      "document.querySelectorAll('#events li[data-kind=\"connect\"][data-user=\"bob\"]').length");
  ASSERT_TRUE(connects_before);
  must(browser_->set_value(row("bob") + " select[data-role=\"drop-how\"]", "silent", &why), why);
  const auto bob_before_drop = bob.output().size();
  click(row("bob") + " button[data-action=\"drop\"]");
  ASSERT_TRUE(bob.wait_output("status 0 Connected", 10s, bob_before_drop))
      << "bob reconnects after the drop: " << bob.output();
  wait("document.querySelectorAll('#events li[data-kind=\"connect\"][data-user=\"bob\"]').length > " +
       boost::json::serialize(*connects_before));
  click("#record");
  wait("document.querySelector('#record').textContent.includes('Record') && "
       "!document.querySelector('#record').textContent.includes('Stop')");
  const auto downloads = dir_ / "downloads";
  std::filesystem::create_directories(downloads);
  must(browser_->allow_downloads(downloads, &why), why);
  must(browser_->set_value("#scenario-name", "bob-dropped", &why), why);
  wait("(document.querySelector('#download-scenario').getAttribute('href') || '').startsWith('blob:') && "
       "document.querySelector('#download-scenario').getAttribute('download') === 'bob-dropped.yaml'");
  click("#download-scenario");
  const auto file = downloads / "bob-dropped.yaml";
  for (int i = 0; i < 200 && !std::filesystem::exists(file); ++i) {
    std::this_thread::sleep_for(50ms);  // the browser writes the download itself
  }
  ASSERT_TRUE(std::filesystem::exists(file)) << "no download in " << downloads;
  const auto yaml = slurp(file);
  EXPECT_NE(yaml.find("name: bob-dropped\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - drop: {client: tablet}\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - expect: {server: connect, client: tablet, code: 0, within: "), std::string::npos)
      << yaml;
  auto check = child_process::spawn({k_harness.string(), "check", file.string()},
                                    {.err = spawn_options::stream::as_out});
  ASSERT_TRUE(check);
  EXPECT_EQ(check->wait_exit(20s), 0) << check->read_all(1s) << yaml;
}

TEST_F(ConsoleBrowser, WithAnAdminTokenThePageAsksForItAndUsesIt) {
  start_server({"--admin-token", "s3cret-token"});
  auto& carol = start_client("carol", "laptop");
  ASSERT_TRUE(carol.wait_output("status 0 Connected", 10s)) << carol.output();
  open_browser();
  std::string why;
  must(browser_->navigate("http://" + http_ + "/console", &why), why);
  wait("document.body.dataset.ready === 'true'");
  wait("document.querySelector('#token') && document.querySelector('#token').offsetParent !== null");
  EXPECT_FALSE(browser_->evaluate("!!document.querySelector('" + row("carol") + "')")->as_bool())
      << "no session is shown without the token";
  must(browser_->set_value("#token", "s3cret-token", &why), why);
  click("#token-use");
  wait("document.querySelector('" + row("carol") + "')");
  // The address may carry it too, in a new tab that has none kept: the page uses it
  // and takes it out of the address bar.
  ASSERT_TRUE(browser_->evaluate("sessionStorage.clear(), true"));
  must(browser_->navigate("about:blank", &why), why);
  must(browser_->navigate("http://" + http_ + "/console#token=s3cret-token", &why), why);
  wait("document.body.dataset.ready === 'true'");
  wait("document.querySelector('" + row("carol") + "') && location.hash === '' && "
       "document.querySelector('#token-bar').hidden");
}

}  // namespace
}  // namespace imock::server
