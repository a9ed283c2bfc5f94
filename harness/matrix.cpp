#include "imock/harness/matrix.hpp"

#include <array>
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <type_traits>

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

namespace {

// The message path's behaviours and what in a scenario checks each. A scenario covers
// one only by a check (an expectation, inbox or history), or by a fault or call whose
// effect a check of the same scenario then sees, as the codes above.
constexpr std::array<message_behaviour, 16> k_behaviours = {{
    {"offline delivery", "a `message` expected with `offline: true`"},
    {"packages: left and hasPackage", "a `message` expected with `left` or `has_package`"},
    {"sync completed", "a `sync_completed` expected (or its absence: once per connect)"},
    {"whole inbox, exactly once", "an `inbox` step"},
    {"history in the local database", "a `history` step"},
    {"history across a relaunch", "a `relaunch`, then a `history` step"},
    {"duplicate delivery dropped", "a `duplicate` delivery fault, then an `inbox` step"},
    {"reordered delivery", "a `reorder` delivery fault, then an `inbox` step"},
    {"lost ack, resend, no duplicate", "a `drop_ack` send fault, a `resend`, an `inbox` step"},
    {"drop or kick mid-delivery", "a `drop` or `kick` delivery fault, then an `inbox` step"},
    {"held offline sync", "a sync fault (`on: sync`), then a check"},
    {"retention expiry", "a `message_expired` server event expected"},
    {"server API publish", "a `send` with `via: api`"},
    {"system messages", "a `send` with `via: system`"},
    {"status messages not stored", "a `send` with `via: status`, then an `inbox` step"},
    {"server API limits", "a `send` through the server API that expects 1005 or 1008"},
}};

}  // namespace

std::vector<message_behaviour> message_behaviours() {
  return {k_behaviours.begin(), k_behaviours.end()};
}

std::vector<std::string> message_behaviours_covered(const scenario& s) {
  bool inbox = false, history = false, relaunch = false, resend = false;
  std::set<std::string> faults;  // "delivery:duplicate", "send:drop_ack", "sync:..."
  std::set<std::string> via;     // api, system, status
  std::set<std::string> out;
  const auto fault_of = [](const std::string& body) {
    boost::system::error_code ec;
    const auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) return std::string();
    return json_fields::string_or(v.as_object(), "on") + ":" +
           json_fields::string_or(v.as_object(), "action");
  };
  const auto client_events = [&](const client_event_match& m) {
    if (m.event == "message" && m.offline == true) out.insert("offline delivery");
    if (m.event == "message" && (m.left || m.has_package)) out.insert("packages: left and hasPackage");
    if (m.event == "sync_completed") out.insert("sync completed");
  };
  const auto server_events = [&](const server_event_match& m) {
    if (m.kind == "message_expired") out.insert("retention expiry");
  };
  for (const auto& st : s.steps) {
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, expect_step>) {
            for (const auto& m : b.client_events) client_events(m);
            for (const auto& m : b.server_events) server_events(m);
          } else if constexpr (std::is_same_v<T, absent_step> || std::is_same_v<T, count_step>) {
            if (b.client_event) client_events(*b.client_event);
            if (b.server_event) server_events(*b.server_event);
          } else if constexpr (std::is_same_v<T, inbox_step>) {
            inbox = true;
          } else if constexpr (std::is_same_v<T, history_step>) {
            history = true;
            if (relaunch) out.insert("history across a relaunch");
          } else if constexpr (std::is_same_v<T, client_action>) {
            relaunch = relaunch || b.what == client_action::kind::relaunch;
            resend = resend || b.what == client_action::kind::resend;
          } else if constexpr (std::is_same_v<T, server_action>) {
            if (b.path == "/admin/faults") faults.insert(fault_of(b.json_body));
          } else if constexpr (std::is_same_v<T, api_action>) {
            if (b.path == "/message/private/publish.json") via.insert("api");
            if (b.path == "/message/system/publish.json") via.insert("system");
            if (b.path == "/statusmessage/private/publish.json") via.insert("status");
            const bool publish = b.path.find("publish.json") != std::string::npos;
            if (publish && (b.expect_code == 1005 || b.expect_code == 1008)) {
              out.insert("server API limits");
            }
          }
        },
        st.body);
  }
  if (inbox) out.insert("whole inbox, exactly once");
  if (history) out.insert("history in the local database");
  if (inbox && faults.contains("delivery:duplicate")) out.insert("duplicate delivery dropped");
  if (inbox && faults.contains("delivery:reorder")) out.insert("reordered delivery");
  if (inbox && resend && faults.contains("send:drop_ack")) {
    out.insert("lost ack, resend, no duplicate");
  }
  if (inbox && (faults.contains("delivery:drop") || faults.contains("delivery:kick"))) {
    out.insert("drop or kick mid-delivery");
  }
  if (std::any_of(faults.begin(), faults.end(),
                  [](const std::string& f) { return f.starts_with("sync:"); })) {
    out.insert("held offline sync");
  }
  if (via.contains("api")) out.insert("server API publish");
  if (via.contains("system")) out.insert("system messages");
  if (inbox && via.contains("status")) out.insert("status messages not stored");
  return {out.begin(), out.end()};
}

std::vector<std::string> uncovered_message_behaviours(const std::vector<scenario>& scenarios) {
  std::set<std::string> covered;
  for (const auto& s : scenarios) {
    for (auto& b : message_behaviours_covered(s)) covered.insert(std::move(b));
  }
  std::vector<std::string> out;
  for (const auto& b : k_behaviours) {
    if (!covered.contains(std::string(b.name))) out.emplace_back(b.name);
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
  // The message path (SPEC.md §8): its codes and its behaviours.
  std::map<std::string, std::vector<const scenario*>> by_behaviour;
  std::map<int, std::vector<const scenario*>> by_send_code;  // send_error expectations only
  for (const auto& sc : scenarios) {
    for (const auto& b : message_behaviours_covered(sc)) by_behaviour[b].push_back(&sc);
    std::set<int> codes;
    for (const auto& st : sc.steps) {
      if (const auto* x = std::get_if<expect_step>(&st.body)) {
        for (const auto& m : x->client_events) {
          if (m.event == "send_error" && m.code) codes.insert(*m.code);
        }
      }
    }
    for (int c : codes) by_send_code[c].push_back(&sc);
  }
  md += "\n## Messages\n\nThe codes of a send (SPEC.md §8.2) and the behaviours of the message "
        "path\n(SPEC.md §8, docs/protocol.md §9), with the scenarios that check each. 20109 (a "
        "send into a\nsystem conversation) is not required: the reference SDK sends to private "
        "conversations only.\n\n| code | meaning | scenarios |\n|---|---|---|\n";
  constexpr std::array<std::pair<int, std::string_view>, 5> k_send_codes = {{
      {20109, "a send into a system conversation"},
      {20604, "the client sends too often"},
      {30002, "a send while not connected"},
      {30003, "no acknowledgement in time"},
      {30016, "content over 128 KB"},
  }};
  for (const auto& [code, meaning] : k_send_codes) {
    md += "| " + std::to_string(code) + " | " + std::string(meaning) + " | " +
          cell(by_send_code[code]) + " |\n";
  }
  md += "\n| behaviour | checked by | scenarios |\n|---|---|---|\n";
  for (const auto& b : k_behaviours) {
    md += "| " + std::string(b.name) + " | " + std::string(b.what) + " | " +
          cell(by_behaviour[std::string(b.name)]) + " |\n";
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
