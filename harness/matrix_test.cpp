// The conformance matrix from scenarios parsed here, with made-up results: which
// codes count as covered, how results show, and that a rerun with the same results
// renders the same page (it is committed as docs/conformance.md).
#include "imock/harness/matrix.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "imock/harness/loader.hpp"
#include "imock/protocol/codes.hpp"

namespace imock::harness {
namespace {

scenario parse(std::string_view yaml) {
  std::vector<load_error> errors;
  auto s = parse_scenario(yaml, "m.yaml", errors);
  EXPECT_TRUE(s.has_value()) << (errors.empty() ? "" : errors.front().to_string());
  return s ? *s : scenario{};
}

const std::string k_blocked = R"(name: blocked
description: a blocked user is refused with 31009
tags: [terminal, block]
server:
  apps:
    - {key: k, secret: s}
  users:
    - {app: k, id: alice, blocked_for: 1h}
clients:
  alice:
steps:
  - connect: alice
  - expect: {client: alice, sequence: [{status: 16, code: 31009}, {error: 31009}], within: 2s}
)";

const std::string k_unknown_app = R"(name: unknown-app
description: an unknown app key is refused with 31002
tags: [terminal, app]
clients:
  alice: {app: no-such-app}
steps:
  - connect: alice
  - expect: {client: alice, error: 31002, within: 2s}
)";

// The line of the Markdown table that starts with `| <first> |`.
std::string row(const std::string& md, const std::string& first) {
  const auto at = md.find("\n| " + first + " |");
  if (at == std::string::npos) return {};
  return md.substr(at + 1, md.find('\n', at + 1) - at - 1);
}

TEST(Matrix, CodesPointAtTheScenariosThatExpectThemWithTheirResults) {
  const std::vector<scenario> scenarios = {parse(k_blocked), parse(k_unknown_app)};
  const std::vector<scenario_result> results = {{.name = "blocked", .passed = true},
                                                {.name = "unknown-app", .passed = false}};
  const auto md = render_matrix(scenarios, results);
  EXPECT_NE(md.find("Results: 1 of 2 scenarios passed."), std::string::npos) << md;
  EXPECT_NE(row(md, "31009").find("`blocked` pass"), std::string::npos) << row(md, "31009");
  EXPECT_NE(row(md, "31009").find("| yes |"), std::string::npos) << "31009 is producible";
  EXPECT_NE(row(md, "31002").find("`unknown-app` **FAIL**"), std::string::npos) << row(md, "31002");
  EXPECT_NE(row(md, "31004").find("**none**"), std::string::npos) << row(md, "31004");
  EXPECT_NE(row(md, "16").find("`blocked` pass"), std::string::npos) << row(md, "16");
  EXPECT_EQ(row(md, "`blocked`"), "| `blocked` | terminal, block | pass |");
  EXPECT_EQ(row(md, "`unknown-app`"), "| `unknown-app` | terminal, app | **FAIL** |");
}

TEST(Matrix, NotRunSaysSoAndTimingsNeverChangeThePage) {
  const std::vector<scenario> scenarios = {parse(k_blocked), parse(k_unknown_app)};
  EXPECT_NE(render_matrix(scenarios, {}).find("Results: not run."), std::string::npos);
  std::vector<scenario_result> fast = {{.name = "blocked", .passed = true, .wall_seconds = 0.1},
                                       {.name = "unknown-app", .passed = true}};
  auto slow = fast;
  slow[0].wall_seconds = 9.9;
  EXPECT_EQ(render_matrix(scenarios, fast), render_matrix(scenarios, slow));
}

TEST(Matrix, UncoveredLists31009UntilAScenarioExpectsIt) {
  const auto without = uncovered_codes({parse(k_unknown_app)});
  EXPECT_NE(std::find(without.begin(), without.end(), 31009), without.end());
  EXPECT_EQ(std::find(without.begin(), without.end(), 31002), without.end());
  const auto with = uncovered_codes({parse(k_unknown_app), parse(k_blocked)});
  EXPECT_EQ(std::find(with.begin(), with.end(), 31009), with.end());
  // Navigation and socket codes are required too; only 31028 (no proxy) is not.
  const auto producible = producible_codes();
  for (int c : {30002, 30004, 30005, 30006, 30007, 30008, 30009, 30010, 32054, 32061}) {
    EXPECT_NE(std::find(producible.begin(), producible.end(), c), producible.end()) << c;
  }
  EXPECT_EQ(std::find(producible.begin(), producible.end(), 31028), producible.end());
  EXPECT_EQ(producible.size(), rc::all_codes().size() - 1);
}

// Coverage means the scenario shows the code happening: `absent` and a count that
// allows zero only show that it does not.
TEST(Matrix, OnlyPositiveExpectationsCoverACode) {
  const auto covered = [](const std::string& step) {
    const auto s = parse("name: c\ndescription: d\nclients:\n  alice:\nsteps:\n" + step);
    return codes_covered(s);
  };
  EXPECT_EQ(covered("  - absent: {client: alice, status: 6, code: 31010, for: 1s}\n"),
            std::vector<int>{});
  EXPECT_EQ(covered("  - count: {client: alice, error: 31004, at_most: 1, within: 1s}\n"),
            std::vector<int>{});
  EXPECT_EQ(covered("  - count: {client: alice, error: 31004, equals: 0, within: 1s}\n"),
            std::vector<int>{});
  EXPECT_EQ(covered("  - count: {client: alice, error: 31004, at_least: 1, within: 1s}\n"),
            std::vector<int>{31004});
  EXPECT_EQ(covered("  - count: {client: alice, error: 31004, equals: 2, within: 1s}\n"),
            std::vector<int>{31004});
  EXPECT_EQ(covered("  - expect: {client: alice, status: 6, code: 31010}\n"),
            std::vector<int>{31010});
}

}  // namespace
}  // namespace imock::harness

namespace imock::harness {
namespace {

TEST(MutationScore, ResultsParseAndRenderWithTheKillersAndTheSurvivors) {
  std::vector<std::string> errors;
  const auto mutants = parse_mutant_results(
      R"({"mutant":"kick-reconnects","area":"codes","bug":"Reconnects after 31010.","killed_by":["admin-kick-31010","kick-by-login-elsewhere-31010"],"scenarios":58}
{"mutant":"pong-never-checked","area":"heartbeat","bug":"Never checks the PINGRESP.","killed_by":[]}

not json
{"area":"x","killed_by":[]}
)",
      errors);
  ASSERT_EQ(mutants.size(), 2u);
  EXPECT_EQ(mutants[0].killed_by.size(), 2u);
  EXPECT_TRUE(mutants[1].killed_by.empty());
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "4: not a JSON object",
                        "5: expected {\"mutant\": NAME, ..., \"killed_by\": [SCENARIO, ...]}"}));
  const auto md = render_matrix({}, {}, mutants);
  EXPECT_NE(md.find("**1 of 2 mutants killed (50%).**"), std::string::npos) << md;
  EXPECT_NE(md.find("| `kick-reconnects` | codes | Reconnects after 31010. | "
                    "`admin-kick-31010`, `kick-by-login-elsewhere-31010` |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `pong-never-checked` | heartbeat | Never checks the PINGRESP. | "
                    "**SURVIVED** |"),
            std::string::npos)
      << md;
  EXPECT_EQ(render_matrix({}, {}).find("Mutation score"), std::string::npos);
}

}  // namespace
}  // namespace imock::harness

namespace imock::harness {
namespace {

// A behaviour of the message path counts only with the check that shows it: a duplicate
// fault alone proves nothing until an inbox step looks.
TEST(MatrixMessages, ABehaviourCountsWithItsCheckAndTheSectionListsIt) {
  const std::string head = R"(name: dup
description: d
clients:
  alice:
  bob:
steps:
  - fault: {on: delivery, user: bob, action: duplicate}
  - send: {client: alice, to: bob, text: m1}
  - expect: {client: alice, send_error: 30003}
)";
  const auto without = message_behaviours_covered(parse(head));
  EXPECT_EQ(std::count(without.begin(), without.end(), "duplicate delivery dropped"), 0);
  const auto with = parse(head + "  - inbox: {client: bob, messages: [m1]}\n");
  const auto covered = message_behaviours_covered(with);
  EXPECT_EQ(std::count(covered.begin(), covered.end(), "duplicate delivery dropped"), 1);
  EXPECT_EQ(std::count(covered.begin(), covered.end(), "whole inbox, exactly once"), 1);
  const auto missing = uncovered_message_behaviours({with});
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "duplicate delivery dropped"), 0);
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "retention expiry"), 1);
  EXPECT_EQ(missing.size() + 2, message_behaviours().size());
  const auto md = render_matrix({with}, {});
  EXPECT_NE(md.find("| 30003 | no acknowledgement in time | `dup` |"), std::string::npos) << md;
  EXPECT_NE(md.find("| duplicate delivery dropped | a `duplicate` delivery fault, then an "
                    "`inbox` step | `dup` |"),
            std::string::npos);
  EXPECT_NE(md.find("| retention expiry | a `message_expired` server event expected | **none** |"),
            std::string::npos);
}

}  // namespace
}  // namespace imock::harness
