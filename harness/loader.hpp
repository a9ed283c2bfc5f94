// Reads scenario files (docs/scenarios.md) into the model of scenario.hpp. Every
// error names file:line:column and what was expected.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/harness/scenario.hpp"

namespace imock::harness {

struct load_error {
  source_mark where;
  std::string message;
  [[nodiscard]] std::string to_string() const { return where.to_string() + ": " + message; }
};

/// Parses YAML text; `file` names it in errors. nullopt when there is any error;
/// `errors` then holds them all (at least one), in file order.
std::optional<scenario> parse_scenario(std::string_view yaml, const std::string& file,
                                       std::vector<load_error>& errors);

/// Reads and parses a file.
std::optional<scenario> load_scenario(const std::filesystem::path& file,
                                      std::vector<load_error>& errors);

/// The scenario files under `paths` (files as given, folders searched for *.yaml and
/// *.yml recursively), sorted.
std::vector<std::filesystem::path> scenario_files(const std::vector<std::filesystem::path>& paths);

/// The documented reconnect intervals: 50, 250, 500, 1000, 2000, 4000, 8000, 16000,
/// 32000 ms, then 64000 ms forever; the first `count` of them.
std::vector<std::int64_t> documented_intervals(std::size_t count);

}  // namespace imock::harness
