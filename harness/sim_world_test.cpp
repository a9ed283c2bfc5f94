// The simulated world: deterministic, exact, and checked by the same steps as the
// real one.
#include "imock/harness/sim_world.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "imock/harness/loader.hpp"
#include "imock/harness/runner.hpp"

namespace imock::harness {
namespace {

scenario parse(std::string_view yaml) {
  std::vector<load_error> errors;
  auto s = parse_scenario(yaml, "sim.yaml", errors);
  EXPECT_TRUE(s.has_value()) << (errors.empty() ? "" : errors.front().to_string());
  return s ? *s : scenario{};
}

// Two clients, a kick, a drop, refusals and a probabilistic fault: a lot for the
// event order to get wrong if anything in the run were not deterministic.
const std::string k_busy = R"(name: busy
description: two devices, a kick, a restart and random refusals
clients:
  phone: {user: alice}
  tablet: {user: alice, platform: android}
  bob:
steps:
  - connect: phone
  - connect: bob
  - expect: {client: phone, success: alice}
  - refuse: {count: 0, probability: 0.5, user: bob}
  - drop: {user: bob}
  - connect: tablet
  - expect: {client: phone, status: 6, code: 31010}
  - restart: {down: 3s}
  - wait: 2m
)";

TEST(SimWorld, TheSameFileAndSeedGiveAByteIdenticalTrace) {
  const auto s = parse(k_busy);
  const auto a = run_simulated(s);
  const auto b = run_simulated(s);
  ASSERT_TRUE(a.passed) << render_failure(a);
  EXPECT_GT(a.trace.size(), 40u);
  EXPECT_EQ(trace_jsonl(a.trace), trace_jsonl(b.trace));
}

TEST(SimWorld, AnotherSeedChangesWhatTheProbabilisticFaultDoes) {
  auto s = parse(k_busy);
  const auto a = trace_jsonl(run_simulated(s).trace);
  s.seed = 99;
  EXPECT_NE(trace_jsonl(run_simulated(s).trace), a);
}

// The inbox assertion says what is wrong: the server duplicates a delivery, and a
// scenario that expects the copy to be shown fails naming what it lacks; one expecting
// another order says so; a lost message is named.
TEST(SimWorld, AWrongInboxSaysWhatIsLostDuplicatedOrOutOfOrder) {
  const std::string head = R"(name: inbox
description: d
clients:
  alice:
  bob:
steps:
  - connect: alice
  - connect: bob
  - expect: {client: bob, sync_completed: true}
  - send: {client: alice, to: bob, text: m1}
  - send: {client: alice, to: bob, text: m2}
)";
  const auto good = run_simulated(parse(head + "  - inbox: {client: bob, messages: [m1, m2]}\n"));
  EXPECT_TRUE(good.passed) << render_failure(good);
  const auto lost = run_simulated(parse(head + "  - inbox: {client: bob, messages: [m1, m2, m3]}\n"));
  ASSERT_FALSE(lost.passed);
  EXPECT_NE(lost.failure.find("it is [m1, m2]\n  lost: [m3]"), std::string::npos) << lost.failure;
  const auto twice = run_simulated(parse(head + "  - inbox: {client: bob, messages: [m1, m1, m2]}\n"));
  ASSERT_FALSE(twice.passed);
  EXPECT_NE(twice.failure.find("lost: [m1]"), std::string::npos) << twice.failure;
  const auto order = run_simulated(parse(head + "  - inbox: {client: bob, messages: [m2, m1]}\n"));
  ASSERT_FALSE(order.passed);
  EXPECT_NE(order.failure.find("every message is there, in another order"), std::string::npos)
      << order.failure;
  const auto extra = run_simulated(parse(head + "  - inbox: {client: bob, messages: [m1]}\n"));
  ASSERT_FALSE(extra.passed);
  EXPECT_NE(extra.failure.find("not expected: [m2]"), std::string::npos) << extra.failure;
}

std::string schedule_scenario(const std::string& intervals) {
  return R"(name: exact
description: the documented schedule, to the millisecond
clients:
  alice:
steps:
  - stop_accepting: {}
  - connect: alice
  - schedule: {client: alice, intervals: )" +
         intervals + R"(, tolerance: 0ms}
)";
}

TEST(SimWorld, TheDocumentedScheduleHoldsWithToleranceZero) {
  const auto r = run_simulated(parse(schedule_scenario("documented, count: 11")));
  EXPECT_TRUE(r.passed) << render_failure(r);
}

TEST(SimWorld, OneMillisecondOffFailsWithToleranceZero) {
  const auto r = run_simulated(parse(schedule_scenario("[50ms, 250ms, 501ms, 1s]")));
  ASSERT_FALSE(r.passed);
  EXPECT_NE(r.failure.find("gap 3: expected 0.501 s, got 0.500 s"), std::string::npos) << r.failure;
}

TEST(SimWorld, AMissedExpectationFailsAtItsWindowInScenarioTime) {
  const auto r = run_simulated(parse(R"(name: late
description: success never comes while the server refuses
clients:
  alice:
steps:
  - stop_accepting: {}
  - connect: alice
  - expect: {client: alice, success: true, within: 90s}
)"));
  ASSERT_FALSE(r.passed);
  ASSERT_FALSE(r.trace.empty());
  // The run ends at the window's end: 90 s of scenario time, in no wall time at all.
  EXPECT_EQ(r.trace.back().t_ms <= 90'000, true);
  EXPECT_LT(r.wall_seconds, 1.0);
}

}  // namespace
}  // namespace imock::harness

// --- a client program in virtual time ---------------------------------------------

namespace imock::harness {
namespace {

const std::string k_program = std::string(IMOCK_CLIENT_BIN) + " --harness";

std::vector<scenario> suite() {
  std::vector<scenario> out;
  for (const auto& f : scenario_files({std::filesystem::path(IMOCK_SOURCE_DIR) / "scenarios"})) {
    std::vector<load_error> errors;
    auto loaded = load_scenario(f, errors);
    EXPECT_TRUE(loaded.has_value()) << f;
    if (loaded) out.push_back(std::move(*loaded));
  }
  return out;
}

// The driver protocol in virtual time is a faithful channel: imock-client --harness,
// a separate process whose clock and links are the harness's, leaves exactly the
// trace of the in-process machine, scenario by scenario.
TEST(SimProgram, TheReferenceClientThroughTheDriverProtocolGivesTheInProcessTrace) {
  const auto scenarios = suite();
  ASSERT_GE(scenarios.size(), 50u);
  for (const auto& s : scenarios) {
    const auto in_process = run_simulated(s);
    const auto program = run_simulated(s, k_program);
    EXPECT_TRUE(program.passed) << render_failure(program);
    EXPECT_EQ(trace_jsonl(program.trace), trace_jsonl(in_process.trace)) << s.name;
  }
}

// A program that does not answer in virtual time fails the scenario at once and the
// trace says why, instead of hanging the harness.
TEST(SimProgram, AProgramThatStopsAnsweringIsReportedAndTheRunEnds) {
  const auto s = parse(R"(name: silent
description: the program exits after its ready line
clients:
  alice:
steps:
  - connect: alice
  - expect: {client: alice, success: true, within: 5s}
)");
  const auto r = run_simulated(s, R"(echo '{"event":"ready"}'; read -r line)");
  ASSERT_FALSE(r.passed);
  bool said = false;
  for (const auto& e : r.trace) {
    said = said || (e.kind == "trace" &&
                    e.detail.find("exited while answering 'init'") != std::string::npos);
  }
  EXPECT_TRUE(said) << trace_jsonl(r.trace);
  EXPECT_LT(r.wall_seconds, 5.0);
}

// A program that exits before its ready line is said to have ended, not to have been
// waited for (the harness does not sit out the ready wait for it).
TEST(SimProgram, AProgramThatExitsBeforeItsReadyLineIsSaidToHaveEnded) {
  const auto s = parse(R"(name: gone
description: the program exits at once
clients:
  alice:
steps:
  - connect: alice
  - expect: {client: alice, success: true, within: 5s}
)");
  const auto r = run_simulated(s, "exit 3");
  ASSERT_FALSE(r.passed);
  bool ended = false, waited = false;
  for (const auto& e : r.trace) {
    ended = ended ||
            e.detail.find("output ended before a {\"event\":\"ready\"} line") != std::string::npos;
    waited = waited || e.detail.find("line within") != std::string::npos;
  }
  EXPECT_TRUE(ended) << trace_jsonl(r.trace);
  EXPECT_FALSE(waited) << trace_jsonl(r.trace);
}

}  // namespace
}  // namespace imock::harness
