// The steps list: one step (its kind, the "indent it" hints, step.text), the
// dispatch on the step kind (read_body), and the client steps (init, connect, ...).
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "imock/harness/loader_reader.hpp"

namespace imock::harness::detail {
namespace {

// `literal` is not among them: a literal token is written `token_text: "..."`.
constexpr std::array<std::pair<std::string_view, token_kind>, 8> k_token_kinds = {{
    {"fresh", token_kind::fresh},
    {"api", token_kind::api},
    {"expired", token_kind::expired},
    {"tampered", token_kind::tampered},
    {"other_app", token_kind::other_app},
    {"unreadable", token_kind::unreadable},
    {"empty", token_kind::empty},
    {"previous", token_kind::previous},
}};

const kind_info* find_kind(std::string_view name) noexcept {
  for (const auto& k : k_kinds) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

// "init, connect, ...": every step kind, for the messages that list them.
std::string kind_names() {
  std::vector<std::string_view> names;
  names.reserve(k_kinds.size());
  for (const auto& info : k_kinds) {
    names.push_back(info.name);
  }
  return join(key_list(names));
}

}  // namespace

// --- steps ---

void reader::read_steps(const entry& e, scenario& s) {
  if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
    error_at(e, "steps is empty (expected a list of at least one step)");
    return;
  }
  if (!e.value.IsSequence()) {
    error_at(e, "expected a list of steps for steps, got " + describe(e.value));
    return;
  }
  std::size_t index = 0;
  std::optional<YAML::Mark> previous;
  for (const auto& node : e.value) {
    if (auto st = read_step(e.value, node, index++, previous)) {
      s.steps.push_back(std::move(*st));
    }
    previous = node.Mark();
  }
}

std::optional<step> reader::read_step(const YAML::Node& list, const YAML::Node& node,
                                      std::size_t index,
                                      const std::optional<YAML::Mark>& previous) {
  if (node.IsNull()) {
    // A null item carries the next token's mark (the next step's line); the list's
    // is the better pointer, with the line of the step before it.
    error(list.Mark(),
          "step " + std::to_string(index + 1) + " is empty (a '-' with nothing after it" +
              (previous ? ", after the step at line " + std::to_string(previous->line + 1) : "") +
              "; expected a map with one kind, e.g. connect: alice)");
    return std::nullopt;
  }
  if (!node.IsMap()) {
    std::string message =
        "expected a step (a map with one kind, e.g. connect: alice), got " + describe(node);
    if (node.IsScalar() && find_kind(node.Scalar()) != nullptr) {
      message += " (write " + node.Scalar() + ": ... with a colon)";
    }
    error(node.Mark(), message);
    return std::nullopt;
  }
  const auto before = errors_.size();
  const kind_info* kind = nullptr;
  std::optional<entry> kind_entry;
  std::vector<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      error(kv.first.Mark(), "expected a step kind, got " + describe(kv.first));
      continue;
    }
    const std::string& name = kv.first.Scalar();
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      error(kv.first.Mark(), "duplicate key '" + name + "' in a step");
      continue;
    }
    seen.push_back(name);
    if (name == "note") {
      continue;  // free text for the reader of the file
    }
    const auto* k = find_kind(name);
    if (kind == nullptr && k != nullptr) {
      kind = k;
      kind_entry = entry{name, kv.first, kv.second};
    } else if (kind != nullptr && contains(kind->params, name)) {
      // The classic slip: `- connect: alice` then `  token: expired` on the next line.
      error(kv.first.Mark(), "key '" + name + "' next to " + std::string(kind->name) +
                                 ": a step's parameters go inside its map (" +
                                 std::string(kind->name) + ": {..., " + name + ": ...})");
    } else if (kind != nullptr && k != nullptr) {
      error(kv.first.Mark(), "a step has one kind: '" + name + "' follows '" +
                                 std::string(kind->name) +
                                 "' in the same step (start a new step with '- ')");
    } else {
      error(kv.first.Mark(),
            "unknown step kind '" + name + "' (expected one of: " + kind_names() + ")");
    }
  }
  if (kind == nullptr) {
    if (errors_.size() == before) {
      error(node.Mark(), "step has no kind (expected one of: " + kind_names() + ")");
    }
    return std::nullopt;
  }
  auto body = read_body(*kind, *kind_entry);
  if (!body || errors_.size() != before) {
    return std::nullopt;
  }
  step st;
  st.body = std::move(*body);
  st.text = std::string(kind->name) +
            (kind_entry->value.IsNull() ? std::string() : ": " + render(kind_entry->value));
  st.where = mark(node.Mark());
  return st;
}

std::optional<step_body> reader::read_body(const kind_info& kind, const entry& e) {
  switch (kind.fam) {
    case family::client:
      return read_client_action(kind, e);
    case family::server:
      return read_server_action(kind, e);
    case family::api:
      return read_api(e);
    case family::wait:
      if (const auto ms = read_duration(e)) {
        return wait_action{*ms};
      }
      return std::nullopt;
    case family::expect:
    case family::absent:
    case family::count:
      return read_expectation(kind, e);
    case family::schedule:
      return read_schedule(e);
    case family::status:
      return read_status_step(e);
    case family::send:
      return read_send(e);
    case family::inbox:
      return read_inbox(e);
    case family::history:
      return read_history(e);
  }
  return std::nullopt;
}

// --- client steps ---

// The value of a step that names a client: `NAME`, or a map with `client: NAME`.
// Returns the map's entries (empty for the short form) and the client, or nullopt.
std::optional<std::pair<std::vector<entry>, std::string>> reader::client_and_params(
    const kind_info& kind, const entry& e, std::string_view example) {
  const std::string what(kind.name);
  if (e.value.IsScalar()) {
    auto name = client_name(entry{"client", e.value, e.value});
    if (!name) {
      return std::nullopt;
    }
    return std::pair{std::vector<entry>{}, std::move(*name)};
  }
  if (!e.value.IsMap()) {
    error_at(e, "expected a client name or a map for " + what + " (e.g. " + std::string(example) +
                    "), got " + describe(e.value));
    return std::nullopt;
  }
  auto params = read_map(e.value, "in " + what, kind.params);
  const auto* c = required(params, e.value.Mark(), what, "client");
  if (c == nullptr) {
    return std::nullopt;
  }
  auto name = client_name(*c);
  if (!name) {
    return std::nullopt;
  }
  return std::pair{std::move(params), std::move(*name)};
}

std::optional<step_body> reader::read_client_action(const kind_info& kind, const entry& e) {
  static const std::map<std::string_view, client_action::kind> k_what = {
      {"init", client_action::kind::init},
      {"connect", client_action::kind::connect},
      {"disconnect", client_action::kind::disconnect},
      {"logout", client_action::kind::logout},
      {"network_down", client_action::kind::network_down},
      {"network_up", client_action::kind::network_up},
      {"foreground", client_action::kind::foreground},
      {"reconnect_kick", client_action::kind::set_reconnect_kick},
      {"resend", client_action::kind::resend},
      {"relaunch", client_action::kind::relaunch},
  };
  const std::string example = kind.name == "connect" ? "connect: {client: alice, token: expired}"
                              : kind.name == "reconnect_kick"
                                  ? "reconnect_kick: {client: alice, on: true}"
                                  : std::string(kind.name) + ": alice";
  auto parsed = client_and_params(kind, e, example);
  if (!parsed) {
    return std::nullopt;
  }
  auto& [params, client] = *parsed;
  client_action a;
  a.what = k_what.at(kind.name);
  a.client = client;
  const auto before = errors_.size();
  if (a.what == client_action::kind::connect) {
    const auto* token = find(params, "token");
    const auto* text = find(params, "token_text");
    if (token != nullptr) {
      if (const auto v =
              read_enum(*token, k_token_kinds, "; a literal token is token_text: \"...\"")) {
        a.token = *v;
      }
    }
    if (text != nullptr) {
      if (token != nullptr) {
        error(text->key.Mark(),
              "token and token_text both say which token to use (expected "
              "one: token_text is a literal token)");
      } else if (auto v = read_string(*text)) {
        a.token = token_kind::literal;
        a.token_text = std::move(*v);
      }
    }
    if (const auto* t = find(params, "time_limit")) {
      a.time_limit_ms = read_time_limit(*t);
    }
    if (const auto* i = find(params, "init")) {
      a.init_first = read_bool(*i).value_or(true);
    }
  } else if (a.what == client_action::kind::set_reconnect_kick) {
    const auto* on =
        required(params, e.value.IsMap() ? e.value.Mark() : e.key.Mark(), "reconnect_kick", "on");
    if (on != nullptr) {
      a.on = read_bool(*on).value_or(false);
    }
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return a;
}

}  // namespace imock::harness::detail
