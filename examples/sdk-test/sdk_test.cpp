// What a team's SDK test looks like with imock: start the mock on port 0, point the
// client at it, make the server do something hard (a kick), check what the app saw.
#include <gtest/gtest.h>

#include <imock/client/sdk.hpp>
#include <imock/protocol/token.hpp>
#include <imock/server/server.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace rc = imock::rc;

// Statuses the app's listener saw, with a bounded wait for the next one.
class statuses {
 public:
  void add(rc::status s) {
    std::lock_guard lock(mu_);
    seen_.push_back(s);
    cv_.notify_all();
  }
  bool wait_for(rc::status s, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] {
      for (auto x : seen_) if (x == s) return true;
      return false;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<rc::status> seen_;
};

class SdkAgainstImock : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = imock::server::default_config();  // the demo app key and secret
    config.listen.mqtt = "127.0.0.1:0";
    config.listen.http = "127.0.0.1:0";
    server_ = std::make_unique<imock::server::server>(imock::server::server_options{.config = config});
    bound_ = server_->start();
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    server_->stop(1000);
    thread_.join();
  }

  std::unique_ptr<imock::server::server> server_;
  imock::server::bound_addresses bound_;
  std::thread thread_;
};

TEST_F(SdkAgainstImock, KickedByTheServerTheAppSeesTheDocumentedStatus) {
  const auto dir = std::filesystem::temp_directory_path() / "imock-sdk-test";
  std::filesystem::create_directories(dir);
  imock::client::client app;
  ASSERT_EQ(app.init("imock-demo-key", {.urls = {"mqtt://" + bound_.mqtt}, .data_dir = dir}),
            rc::code::ok);
  statuses seen;
  app.set_connection_status_listener([&](rc::status s, rc::code) { seen.add(s); });

  const auto token = imock::token::issue("imock-demo-key", "alice", "imock-demo-secret",
                                         server_->now_ms());
  ASSERT_TRUE(token);
  app.connect(*token, 10, nullptr, nullptr, nullptr);
  ASSERT_TRUE(seen.wait_for(rc::status::connected));

  // The admin API, in-process: kick alice as another device's login would.
  const auto r = server_->request(
      {.method = "POST", .path = "/admin/kick", .body = R"({"user":"alice","code":31010})"});
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_TRUE(seen.wait_for(rc::status::kicked_offline_by_other_client));
  std::filesystem::remove_all(dir);
}

}  // namespace
