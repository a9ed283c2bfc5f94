// The conformance matrix (docs/conformance.md): every documented code and status,
// the scenarios whose expectations cover it, and their results.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "imock/harness/runner.hpp"
#include "imock/harness/scenario.hpp"

namespace imock::harness {

/// The codes a client or server of imock can produce: every code whose origin is
/// the server or the client (docs/codes.md). Navigation and other network-only codes
/// (30004-30010, 31028, ...) are not required; they are listed when covered.
std::vector<int> producible_codes();

/// Producible codes that no scenario expects.
std::vector<int> uncovered_codes(const std::vector<scenario>& scenarios);

/// One behaviour of the message path (SPEC.md §8) the matrix's messages section tracks.
struct message_behaviour {
  std::string_view name;  // "offline delivery"
  std::string_view what;  // how a scenario shows it
};
/// Every tracked behaviour, in the matrix's order; each needs a scenario.
std::vector<message_behaviour> message_behaviours();
/// The behaviours `s` checks (by name).
std::vector<std::string> message_behaviours_covered(const scenario& s);
/// Behaviours that no scenario checks.
std::vector<std::string> uncovered_message_behaviours(const std::vector<scenario>& scenarios);

/// One mutant's result as scripts/mutants writes it (one JSON object per line):
/// the mutant, its area, the bug in one sentence, and the scenarios that failed
/// against it (empty: it survived).
struct mutant_result {
  std::string name;
  std::string area;
  std::string bug;
  std::vector<std::string> killed_by;
};

/// Parses scripts/mutants --out output. Lines that are not such objects are errors,
/// "LINE: what is wrong", in `errors`; the others are still returned.
std::vector<mutant_result> parse_mutant_results(std::string_view jsonl,
                                                std::vector<std::string>& errors);

/// Markdown. `results` may be empty (not run) or hold one result per scenario;
/// `mutants`, when not empty, adds the mutation score and what killed each mutant.
std::string render_matrix(const std::vector<scenario>& scenarios,
                          const std::vector<scenario_result>& results,
                          const std::vector<mutant_result>& mutants = {});

}  // namespace imock::harness
