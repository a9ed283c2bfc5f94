// The connection machine on a caller's clock and network: timers are reported, not
// armed, and fire only when the caller advances time; links are the caller's.
#include "imock/client/virtual_host.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "imock/protocol/token.hpp"

namespace imock::client {
namespace {

constexpr std::int64_t k_t0 = 1'767'225'600'000;

struct recording_network final : link_network {
  std::vector<std::string> log;
  std::uint64_t next = 1;
  std::uint64_t open(const std::string& server) override {
    log.push_back("open " + std::to_string(next) + (server.empty() ? "" : " " + server));
    return next++;
  }
  std::uint64_t navigate(const navigation_request& r) override {
    log.push_back("navigate " + std::to_string(next) + " " + r.url + " " + r.app_key);
    return next++;
  }
  void send(std::uint64_t link, std::string bytes) override {
    log.push_back("send " + std::to_string(link) + " " + std::to_string(bytes.size()) + " bytes");
  }
  void close(std::uint64_t link) override { log.push_back("close " + std::to_string(link)); }
};

class VirtualHost : public ::testing::Test {
 protected:
  VirtualHost() {
    auto o = std::make_shared<options>();
    o->app_key = "app";
    o->device_id = "phone";
    EXPECT_EQ(host_.init(o, 0), rc::code::ok);
    host_.set_observer([this](const action& a, std::int64_t now) {
      if (std::holds_alternative<status_changed>(a) || std::holds_alternative<open_transport>(a)) {
        seen_.push_back(std::to_string(now - k_t0) + " " + to_string(a));
      }
    });
  }
  std::string token() { return token::issue("app", "alice", "secret", k_t0, 0).value(); }

  recording_network net_;
  virtual_host host_{net_};
  std::vector<std::string> seen_;
};

TEST_F(VirtualHost, NothingHappensUntilTheCallerAdvancesTimeToTheNextTimer) {
  host_.connect(token(), 0, k_t0);
  ASSERT_EQ(net_.log, (std::vector<std::string>{"open 1"}));
  host_.link_refused(1, k_t0);  // 32061: the first retry waits 50 ms
  ASSERT_EQ(host_.next_timer(), k_t0 + 50);
  host_.advance(k_t0 + 49);
  EXPECT_EQ(net_.log.size(), 1u);  // not early
  host_.advance(k_t0 + 50);
  EXPECT_EQ(net_.log.back(), "open 2");
  host_.link_up(2, k_t0 + 50);
  EXPECT_TRUE(net_.log.back().starts_with("send 2 ")) << net_.log.back();  // CONNECT
}

TEST_F(VirtualHost, EventsOfAnOldLinkAreIgnored) {
  host_.connect(token(), 0, k_t0);
  host_.link_refused(1, k_t0);
  host_.advance(k_t0 + 50);  // link 2
  const auto before = seen_.size();
  host_.link_up(1, k_t0 + 60);  // stale
  host_.link_closed(1, k_t0 + 60);
  EXPECT_EQ(seen_.size(), before);
  EXPECT_EQ(host_.machine().current_phase(), phase::connecting);
}

TEST_F(VirtualHost, OneAdvanceFiresEveryTimerDueByThenInOrder) {
  host_.connect(token(), 0, k_t0);
  host_.link_refused(1, k_t0);  // retry at +50
  // Jump far ahead: the retry at +50 opens link 2, whose attempt times out (30010)
  // at +50 + 10 s, which schedules the next retry at +10.05 s + 250 ms.
  host_.advance(k_t0 + 10'300);
  EXPECT_EQ(net_.log, (std::vector<std::string>{"open 1", "open 2", "close 2", "open 3"}));
  EXPECT_EQ(host_.machine().attempts(), 3u);
}

TEST_F(VirtualHost, NoTimerAfterSignOut) {
  host_.connect(token(), 0, k_t0);
  host_.link_refused(1, k_t0);
  EXPECT_TRUE(host_.next_timer().has_value());
  EXPECT_EQ(host_.disconnect(k_t0 + 1), rc::code::ok);
  EXPECT_EQ(host_.next_timer(), std::nullopt);
}

}  // namespace
}  // namespace imock::client
