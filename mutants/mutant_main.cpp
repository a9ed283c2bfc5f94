// The program of one mutant (imock-mutant-NAME): the simulated harness linked with a
// mutated client/connection.cpp. It runs every scenario it is given and says which
// ones fail: they "kill" the mutant. Exit status 0 when killed, 1 when it survived
// (a ctest test per mutant passes when the suite catches the bug), 2 on bad usage.
//   imock-mutant-NAME [--catalogue FILE] [--json-out FILE] SCENARIO-PATHS...
// --json-out also writes the result as one JSON object (name, area, bug, killed_by)
// for `imock-harness matrix --mutants`.
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "imock/harness/loader.hpp"
#include "imock/harness/runner.hpp"
#include "imock/mutants/catalogue.hpp"

namespace imock::mutants {
extern const char* const k_mutant_name;  // defined in the mutated connection.cpp
}  // namespace imock::mutants

int main(int argc, char** argv) {
  using namespace imock;
  std::vector<std::filesystem::path> paths;
  std::string catalogue;
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else if (a == "--catalogue" && i + 1 < argc) {
      catalogue = argv[++i];
    } else if (a.starts_with("-")) {
      std::fprintf(stderr, "usage: %s [--catalogue FILE] [--json-out FILE] SCENARIO-PATHS...\n", argv[0]);
      return 2;
    } else {
      paths.emplace_back(a);
    }
  }
  const std::string name = mutants::k_mutant_name;
  std::string area, bug;
  if (!catalogue.empty()) {
    std::vector<std::string> errors;
    if (const auto all = mutants::load_catalogue(catalogue, errors)) {
      if (const auto* m = mutants::find(*all, name)) {
        area = m->area;
        bug = m->bug;
      }
    }
  }
  const auto files = harness::scenario_files(paths);
  if (files.empty()) {
    std::fprintf(stderr, "%s: no scenario files found\n", argv[0]);
    return 2;
  }
  std::vector<std::string> killed_by;
  std::string first_failure;
  for (const auto& f : files) {
    std::vector<harness::load_error> errors;
    const auto s = harness::load_scenario(f, errors);
    if (!s) {
      std::fprintf(stderr, "%s\n", errors.front().to_string().c_str());
      return 2;
    }
    const auto r = harness::run_simulated(*s);
    if (!r.passed) {
      killed_by.push_back(r.name);
      if (first_failure.empty()) first_failure = r.failed_step + "\n" + r.failure;
    }
  }
  if (!json_out.empty()) {
    boost::json::array killers;
    for (const auto& k : killed_by) killers.emplace_back(k);
    std::ofstream out(json_out, std::ios::trunc);
    out << boost::json::serialize(boost::json::object{{"mutant", name},
                                                      {"area", area},
                                                      {"bug", bug},
                                                      {"killed_by", killers},
                                                      {"scenarios", files.size()}})
        << "\n";
    if (!out) {
      std::fprintf(stderr, "%s: cannot write %s\n", argv[0], json_out.c_str());
      return 2;
    }
  }
  if (killed_by.empty()) {
    std::printf("SURVIVED %s: all %zu scenarios pass%s%s\n", name.c_str(), files.size(),
                bug.empty() ? "" : "\n  the bug: ", bug.c_str());
  } else {
    std::string list;
    for (const auto& k : killed_by) list += (list.empty() ? "" : ", ") + k;
    std::printf("killed   %s by %zu of %zu: %s\n  first: %s\n", name.c_str(), killed_by.size(),
                files.size(), list.c_str(), first_failure.c_str());
  }
  return killed_by.empty() ? 1 : 0;
}
