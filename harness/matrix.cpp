#include "imock/harness/matrix.hpp"

#include <array>
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "imock/base/json_fields.hpp"
#include "imock/protocol/codes.hpp"

namespace imock::harness {

namespace {
// The documented codes nothing in imock can cause; every other one needs a scenario.
constexpr std::array<int, 1> k_unproducible = {
    31028,  // proxy unavailable: imock has no proxy for the SDK to go through
};
}  // namespace

std::vector<int> producible_codes() {
  std::vector<int> out;
  for (const auto& row : rc::all_codes()) {
    const int v = static_cast<int>(row.value);
    if (std::find(k_unproducible.begin(), k_unproducible.end(), v) == k_unproducible.end()) {
      out.push_back(v);
    }
  }
  return out;
}

std::vector<int> uncovered_codes(const std::vector<scenario>& scenarios) {
  std::set<int> covered;
  for (const auto& s : scenarios) {
    for (int c : codes_covered(s)) covered.insert(c);
  }
  std::vector<int> out;
  for (int c : producible_codes()) {
    if (!covered.contains(c)) out.push_back(c);
  }
  return out;
}

std::vector<mutant_result> parse_mutant_results(std::string_view jsonl,
                                                std::vector<std::string>& errors) {
  namespace json = boost::json;
  std::vector<mutant_result> out;
  int line_no = 0;
  while (!jsonl.empty()) {
    const auto nl = jsonl.find('\n');
    const auto line = jsonl.substr(0, nl);
    jsonl = nl == std::string_view::npos ? std::string_view() : jsonl.substr(nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto bad = [&](const std::string& why) {
      errors.push_back(std::to_string(line_no) + ": " + why);
    };
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      bad("not a JSON object");
      continue;
    }
    const auto& o = v.as_object();
    const auto text = [&](const char* key) { return json_fields::string_or(o, key); };
    mutant_result m{.name = text("mutant"), .area = text("area"), .bug = text("bug")};
    const auto* killers = o.if_contains("killed_by");
    if (m.name.empty() || killers == nullptr || !killers->is_array()) {
      bad("expected {\"mutant\": NAME, ..., \"killed_by\": [SCENARIO, ...]}");
      continue;
    }
    for (const auto& k : killers->as_array()) {
      if (k.is_string()) m.killed_by.emplace_back(k.as_string());
    }
    out.push_back(std::move(m));
  }
  return out;
}

namespace {

std::string render_mutants(const std::vector<mutant_result>& mutants) {
  const auto killed = std::count_if(mutants.begin(), mutants.end(),
                                    [](const auto& m) { return !m.killed_by.empty(); });
  const auto total = static_cast<long>(mutants.size());
  std::string md =
      "\n## Mutation score\n\n"
      "Each mutant is a realistic SDK bug planted in a copy of the reference client\n"
      "(`mutants/catalogue.yaml`); the simulated suite runs against each, and the\n"
      "scenarios that fail kill it. A survivor is a behaviour no scenario pins down.\n"
      "Written by `scripts/mutants --out FILE` and `imock-harness matrix --mutants FILE`\n"
      "(`./run.sh` does both).\n\n";
  md += "**" + std::to_string(killed) + " of " + std::to_string(total) + " mutants killed (" +
        std::to_string(total > 0 ? 100 * killed / total : 0) + "%).**\n\n";
  md += "| mutant | area | the bug | killed by |\n|---|---|---|---|\n";
  for (const auto& m : mutants) {
    std::string by;
    for (const auto& k : m.killed_by) by += (by.empty() ? "`" : ", `") + k + "`";
    md += "| `" + m.name + "` | " + m.area + " | " + m.bug + " | " +
          (by.empty() ? std::string("**SURVIVED**") : by) + " |\n";
  }
  return md;
}

}  // namespace

std::string render_matrix(const std::vector<scenario>& scenarios,
                          const std::vector<scenario_result>& results,
                          const std::vector<mutant_result>& mutants) {
  std::map<std::string, const scenario_result*> by_name;
  for (const auto& r : results) by_name[r.name] = &r;
  std::map<int, std::vector<const scenario*>> by_code;
  std::map<int, std::vector<const scenario*>> by_status;
  for (const auto& s : scenarios) {
    for (int c : codes_covered(s)) by_code[c].push_back(&s);
    for (int st : statuses_covered(s)) by_status[st].push_back(&s);
  }
  const auto cell = [&](const std::vector<const scenario*>& list) {
    if (list.empty()) return std::string("**none**");
    std::string out;
    for (const auto* s : list) {
      if (!out.empty()) out += ", ";
      out += "`" + s->name + "`";
      if (const auto it = by_name.find(s->name); it != by_name.end()) {
        out += it->second->passed ? " pass" : " **FAIL**";
      }
    }
    return out;
  };
  const std::set<int> required = [] {
    const auto v = producible_codes();
    return std::set<int>(v.begin(), v.end());
  }();

  std::string md =
      "# Conformance matrix\n\n"
      "Every documented code and status (docs/codes.md), the scenarios in `scenarios/` whose\n"
      "expectations cover it, and their result in the run that wrote this page.\n"
      "Generated by `imock-harness matrix scenarios/ --run --out docs/conformance.md`;\n"
      "`./run.sh` prints it. A code is *required* when imock can produce it (all but\n"
      "31028: imock has no proxy); a test fails when a required code has no scenario.\n\n";
  md += results.empty()
            ? "Results: not run.\n\n"
            : "Results: " +
                  std::to_string(std::count_if(results.begin(), results.end(),
                                               [](const auto& r) { return r.passed; })) +
                  " of " + std::to_string(results.size()) + " scenarios passed.\n\n";
  md += "## Codes\n\n| code | name | kind | required | scenarios |\n|---|---|---|---|---|\n";
  for (const auto& row : rc::all_codes()) {
    const int v = static_cast<int>(row.value);
    md += "| " + std::to_string(v) + " | " + std::string(row.name) + " | " +
          (row.terminal ? "terminal" : "recoverable") + " | " +
          (required.contains(v) ? "yes" : "no") + " | " + cell(by_code[v]) + " |\n";
  }
  md += "\n## Statuses\n\n| status | name | scenarios |\n|---|---|---|\n";
  for (const auto& row : rc::all_statuses()) {
    const int v = static_cast<int>(row.value);
    md += "| " + std::to_string(v) + " | " + std::string(row.name) + " | " + cell(by_status[v]) +
          " |\n";
  }
  if (!results.empty()) {
    // No timings: the page is committed, and a run that changes no result should
    // leave it as it was (./run.sh prints each scenario's time on the console).
    md += "\n## Scenarios\n\n| scenario | tags | result |\n|---|---|---|\n";
    for (const auto& s : scenarios) {
      std::string tags;
      for (const auto& t : s.tags) tags += (tags.empty() ? "" : ", ") + t;
      const auto it = by_name.find(s.name);
      md += "| `" + s.name + "` | " + tags + " | " +
            (it == by_name.end() ? "not run" : (it->second->passed ? "pass" : "**FAIL**")) + " |\n";
    }
  }
  if (!mutants.empty()) md += render_mutants(mutants);
  return md;
}

}  // namespace imock::harness
