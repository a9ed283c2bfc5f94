#include "imock/server/faults.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// fault_set on its own: which events a rule fires on, how it uses up its `times`,
// and how triggers and actions are named. The hub's use of the rules is in hub_test.cpp.

namespace imock::server {
namespace {

fault_rule rule(fault_trigger on = fault_trigger::connect,
                fault_action what = fault_action::refuse) {
  fault_rule r;
  r.on = on;
  r.action = what;
  return r;
}

fault_event connect_event(std::string_view user = "alice", std::string_view device = "phone",
                          std::string_view app = "app") {
  return {.on = fault_trigger::connect, .app = app, .user = user, .device = device};
}

fault_event packet_event(std::uint64_t count, std::string_view device = "phone") {
  return {.on = fault_trigger::packet,
          .app = "app",
          .user = "alice",
          .device = device,
          .packet_count = count};
}

// Feeds `n` identical events and draws the outcome: 'x' fired, '.' did not.
std::string outcomes(fault_set& set, const fault_event& e, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += set.match(e) ? 'x' : '.';
  return out;
}

TEST(FaultSetTest, EmptySetMatchesNothing) {
  fault_set set;
  EXPECT_FALSE(set.match(connect_event()));
  EXPECT_FALSE(set.any_for(fault_trigger::connect));
}

TEST(FaultSetTest, DefaultRuleFiresOnceThenIsRemoved) {
  fault_set set;
  set.add(rule());  // times = 1
  EXPECT_EQ(outcomes(set, connect_event(), 3), "x..");
  EXPECT_TRUE(set.rules().empty());
}

TEST(FaultSetTest, AddAssignsIncreasingIdsAndResetsBookKeeping) {
  fault_set set;
  auto r = rule();
  r.id = 99;
  r.matched = 5;
  r.fired = 5;
  const auto first = set.add(r);
  const auto second = set.add(r);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
  EXPECT_EQ(set.rules().at(0).matched, 0u);
  EXPECT_EQ(set.rules().at(0).fired, 0u);
}

TEST(FaultSetTest, FiredRuleCopyCarriesItsIdParametersAndCounters) {
  fault_set set;
  auto r = rule(fault_trigger::connect, fault_action::delay);
  r.delay_ms = 1'234;
  r.code = rc::code::conn_user_blocked;
  const auto id = set.add(r);
  const auto fired = set.match(connect_event());
  ASSERT_TRUE(fired.has_value());
  EXPECT_EQ(fired->id, id);
  EXPECT_EQ(fired->action, fault_action::delay);
  EXPECT_EQ(fired->delay_ms, 1'234);
  EXPECT_EQ(fired->code, rc::code::conn_user_blocked);
  EXPECT_EQ(fired->matched, 1u);
  EXPECT_EQ(fired->fired, 1u);
}

TEST(FaultSetTest, NthFiresOnlyOnTheNthMatchingEventThenIsRemoved) {
  fault_set set;
  auto r = rule();
  r.nth = 3;
  r.times = 0;  // nth alone means once
  set.add(r);
  EXPECT_EQ(outcomes(set, connect_event(), 6), "..x...");
  EXPECT_TRUE(set.rules().empty());
}

TEST(FaultSetTest, NthCountsOnlyEventsThatPassTheFilters) {
  fault_set set;
  auto r = rule();
  r.nth = 2;
  r.user = "bob";
  set.add(r);
  EXPECT_FALSE(set.match(connect_event("bob")));
  EXPECT_FALSE(set.match(connect_event("alice")));
  EXPECT_FALSE(set.match(connect_event("alice")));
  EXPECT_TRUE(set.match(connect_event("bob")));
}

TEST(FaultSetTest, EveryNthFiresOnMultiplesOfN) {
  fault_set set;
  auto r = rule();
  r.every = 3;
  r.times = 0;
  set.add(r);
  EXPECT_EQ(outcomes(set, connect_event(), 9), "..x..x..x");
  EXPECT_EQ(set.rules().at(0).matched, 9u);
  EXPECT_EQ(set.rules().at(0).fired, 3u);
}

TEST(FaultSetTest, EveryOneOrZeroFiresOnEachEvent) {
  for (const std::uint32_t every : {0u, 1u}) {
    fault_set set;
    auto r = rule();
    r.every = every;
    r.times = 0;
    set.add(r);
    EXPECT_EQ(outcomes(set, connect_event(), 4), "xxxx") << "every = " << every;
  }
}

TEST(FaultSetTest, TimesLimitsFiringsAndRemovesTheRuleWhenUsedUp) {
  fault_set set;
  auto r = rule();
  r.times = 2;
  r.every = 2;
  set.add(r);
  EXPECT_EQ(outcomes(set, connect_event(), 4), ".x.x");
  EXPECT_TRUE(set.rules().empty());
  EXPECT_EQ(outcomes(set, connect_event(), 4), "....");
}

TEST(FaultSetTest, TimesZeroIsUnlimited) {
  fault_set set;
  auto r = rule();
  r.times = 0;
  set.add(r);
  EXPECT_EQ(outcomes(set, connect_event(), 50), std::string(50, 'x'));
  ASSERT_EQ(set.rules().size(), 1u);
  EXPECT_EQ(set.rules()[0].fired, 50u);
}

TEST(FaultSetTest, FiltersByAppUserAndDevice) {
  fault_set set;
  auto r = rule();
  r.app = "app";
  r.user = "alice";
  r.device = "phone";
  r.times = 0;
  set.add(r);
  EXPECT_FALSE(set.match(connect_event("alice", "phone", "other-app")));
  EXPECT_FALSE(set.match(connect_event("bob", "phone", "app")));
  EXPECT_FALSE(set.match(connect_event("alice", "tablet", "app")));
  EXPECT_TRUE(set.match(connect_event("alice", "phone", "app")));
  EXPECT_EQ(set.rules()[0].matched, 1u) << "filtered-out events do not count";
}

TEST(FaultSetTest, RuleFiresOnlyOnItsTrigger) {
  fault_set set;
  auto r = rule(fault_trigger::connack);
  r.times = 0;
  set.add(r);
  EXPECT_TRUE(set.any_for(fault_trigger::connack));
  EXPECT_FALSE(set.any_for(fault_trigger::connect));
  EXPECT_FALSE(set.any_for(fault_trigger::packet));
  EXPECT_FALSE(set.match(connect_event()));
  EXPECT_FALSE(set.match(packet_event(1)));
  EXPECT_TRUE(set.match({.on = fault_trigger::connack, .app = "app", .user = "u", .device = "d"}));
}

TEST(FaultSetTest, PacketNthIsThePacketCountOfEachSession) {
  fault_set set;
  auto r = rule(fault_trigger::packet, fault_action::drop);
  r.nth = 2;
  r.times = 2;
  set.add(r);
  // Session "a" sends packets 1, 2, 3; session "b" its packets 1, 2.
  EXPECT_FALSE(set.match(packet_event(1, "a")));
  EXPECT_FALSE(set.match(packet_event(1, "b")));
  EXPECT_TRUE(set.match(packet_event(2, "a")));
  EXPECT_FALSE(set.match(packet_event(3, "a")));
  EXPECT_EQ(set.rules().size(), 1u) << "one firing left";
  EXPECT_TRUE(set.match(packet_event(2, "b")));
  EXPECT_TRUE(set.rules().empty());
}

TEST(FaultSetTest, FirstMatchingRuleWins) {
  fault_set set;
  auto first = rule();
  first.code = rc::code::conn_server_unavailable;
  first.times = 0;
  auto second = rule();
  second.code = rc::code::conn_user_blocked;
  second.times = 0;
  set.add(first);
  set.add(second);
  const auto fired = set.match(connect_event());
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->code, rc::code::conn_server_unavailable);
  EXPECT_EQ(set.rules()[1].matched, 0u) << "later rules are not consulted";
}

TEST(FaultSetTest, LaterRuleFiresWhenAnEarlierOneDoesNot) {
  fault_set set;
  auto picky = rule();
  picky.user = "bob";
  auto any = rule();
  any.code = rc::code::conn_user_blocked;
  set.add(picky);
  set.add(any);
  const auto fired = set.match(connect_event("alice"));
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->code, rc::code::conn_user_blocked);
}

TEST(FaultSetTest, RemoveAndClearDropRules) {
  fault_set set;
  const auto a = set.add(rule());
  const auto b = set.add(rule(fault_trigger::packet));
  EXPECT_TRUE(set.remove(a));
  EXPECT_FALSE(set.remove(a)) << "already gone";
  EXPECT_FALSE(set.remove(12345));
  ASSERT_EQ(set.rules().size(), 1u);
  EXPECT_EQ(set.rules()[0].id, b);
  set.clear();
  EXPECT_TRUE(set.rules().empty());
  EXPECT_FALSE(set.any_for(fault_trigger::packet));
}

std::string probability_run(std::uint64_t seed, double p, int n) {
  fault_set set(seed);
  auto r = rule();
  r.probability = p;
  r.times = 0;
  set.add(r);
  return outcomes(set, connect_event(), n);
}

TEST(FaultSetTest, ProbabilityIsDeterministicForTheSameSeed) {
  const auto first = probability_run(7, 0.3, 200);
  EXPECT_EQ(probability_run(7, 0.3, 200), first);
  const auto fired = std::count(first.begin(), first.end(), 'x');
  EXPECT_GT(fired, 20) << first;  // 0.3 x 200 = 60 expected; loose bounds
  EXPECT_LT(fired, 120) << first;
  EXPECT_NE(probability_run(8, 0.3, 200), first) << "another seed, another sequence";
}

TEST(FaultSetTest, ReseedRestartsTheSequence) {
  fault_set set(7);
  auto r = rule();
  r.probability = 0.5;
  r.times = 0;
  set.add(r);
  const auto first = outcomes(set, connect_event(), 64);
  set.reseed(7);
  EXPECT_EQ(outcomes(set, connect_event(), 64), first);
}

TEST(FaultSetTest, ProbabilityZeroNeverFiresAndOneAlwaysFires) {
  EXPECT_EQ(probability_run(1, 0.0, 100), std::string(100, '.'));
  EXPECT_EQ(probability_run(1, 1.0, 100), std::string(100, 'x'));
}

TEST(FaultSetTest, TriggersAndActionsRoundTripThroughTheirNames) {
  for (const auto t : {fault_trigger::connect, fault_trigger::connack, fault_trigger::packet}) {
    EXPECT_EQ(k_fault_trigger_names.parse(to_string(t)), t) << to_string(t);
  }
  for (const auto a : {fault_action::refuse, fault_action::delay, fault_action::drop,
                       fault_action::blackhole, fault_action::kick}) {
    EXPECT_EQ(k_fault_action_names.parse(to_string(a)), a) << to_string(a);
  }
  EXPECT_EQ(to_string(fault_trigger::connack), "connack");
  EXPECT_EQ(to_string(fault_action::blackhole), "blackhole");
}

TEST(FaultSetTest, UnknownNamesDoNotParse) {
  EXPECT_FALSE(k_fault_trigger_names.parse("disconnect"));
  EXPECT_FALSE(k_fault_trigger_names.parse(""));
  EXPECT_FALSE(k_fault_trigger_names.parse("Connect")) << "names are lower case";
  EXPECT_FALSE(k_fault_action_names.parse("close"));
  EXPECT_FALSE(k_fault_action_names.parse(""));
}

}  // namespace
}  // namespace imock::server
