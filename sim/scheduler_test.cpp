#include "imock/sim/scheduler.hpp"

#include <gtest/gtest.h>

#include <string>

namespace imock::sim {
namespace {

TEST(Scheduler, RunsEventsInTimeOrderAndSameTimeInSchedulingOrder) {
  scheduler s(1000);
  std::string log;
  s.at(1010, [&] { log += "c"; });
  s.at(1005, [&] { log += "a"; });
  s.at(1005, [&] { log += "b"; });
  s.at(900, [&] { log += "0"; });  // the past means now
  EXPECT_FALSE(s.run_until(2000, {}));
  EXPECT_EQ(log, "0abc");
  EXPECT_EQ(s.now(), 2000);
}

TEST(Scheduler, StopsWhenThePredicateHoldsAndKeepsTheRest) {
  scheduler s(0);
  int n = 0;
  for (int t = 10; t <= 50; t += 10) s.at(t, [&] { ++n; });
  EXPECT_TRUE(s.run_until(100, [&] { return n == 2; }));
  EXPECT_EQ(s.now(), 20);  // time stops at the event that satisfied it
  EXPECT_EQ(s.pending(), 3u);
  EXPECT_FALSE(s.run_until(35, {}));
  EXPECT_EQ(n, 3);
  EXPECT_EQ(s.now(), 35);
}

TEST(Scheduler, EventsScheduledByEventsRunInTheSameCall) {
  scheduler s(0);
  std::string log;
  s.at(5, [&] {
    log += "a";
    s.after(0, [&] { log += "b"; });
    s.after(10, [&] { log += "c"; });
  });
  s.run_until(15, {});
  EXPECT_EQ(log, "abc");
}

TEST(Scheduler, AnEventLoopThatLetsNoTimePassIsReportedNotRunForever) {
  scheduler s(0);
  s.max_events_at_once = 1000;
  std::function<void()> again = [&] { s.after(0, again); };
  s.at(1, again);
  EXPECT_THROW(s.run_until(10, {}), scheduler::no_progress);
}

}  // namespace
}  // namespace imock::sim
