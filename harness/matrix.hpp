// The conformance matrix (docs/conformance.md): every documented code and status,
// the scenarios whose expectations cover it, and their results.
#pragma once

#include <string>
#include <vector>

#include "harness/runner.hpp"
#include "harness/scenario.hpp"

namespace imock::harness {

/// The codes a client or server of imock can produce: every code whose origin is
/// the server or the client (docs/codes.md). Navigation and other network-only codes
/// (30004-30010, 31028, ...) are not required; they are listed when covered.
std::vector<int> producible_codes();

/// Producible codes that no scenario expects.
std::vector<int> uncovered_codes(const std::vector<scenario>& scenarios);

/// Markdown. `results` may be empty (not run) or hold one result per scenario.
std::string render_matrix(const std::vector<scenario>& scenarios,
                          const std::vector<scenario_result>& results);

}  // namespace imock::harness
