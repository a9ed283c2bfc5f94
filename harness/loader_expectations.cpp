// The expectations: expect, absent and count (a client's events or the server's log),
// and the schedule and status checks.
#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "imock/harness/loader_reader.hpp"

namespace imock::harness::detail {
namespace {

constexpr std::int64_t k_default_within_ms = 5'000;
constexpr std::int64_t k_default_tolerance_ms = 300;
constexpr std::size_t k_max_documented_count = 1'000;  // a schedule of 1000 gaps is ~18 h

// The calls whose returned code a `returned` expectation checks (docs/scenarios.md).
constexpr std::array<std::string_view, 3> k_returning_calls = {"disconnect", "logout",
                                                               "reconnect_kick"};

// What an expect / absent / count step looks for.
struct event_target {
  std::string client;  // empty: the server's log
  std::vector<client_event_match> client_events;
  std::optional<server_event_match> server_event;
};

// The keys of one client event, and of one server event.
constexpr std::array<std::string_view, 10> k_client_events = {
    "status",  "error",   "success", "db_opened",  "attempt",
    "returned", "message", "sent",   "send_error", "sync_completed"};
// What a message event may say besides its text ("sequence" stays last: read_sequence
// takes the others).
constexpr std::array<std::string_view, 4> k_message_keys = {"from", "offline", "left",
                                                            "has_package"};
constexpr std::array<std::string_view, 16> k_client_event_keys = {
    "status",     "code",           "error", "success", "db_opened", "attempt",
    "returned",   "message",        "sent",  "send_error", "sync_completed",
    "from",       "offline",        "left",  "has_package", "sequence"};
constexpr std::array<std::string_view, 6> k_server_event_keys = {"server", "code",   "user",
                                                                 "device", "client", "detail"};

}  // namespace

// --- expectations ---

std::optional<step_body> reader::read_expectation(const kind_info& kind, const entry& e) {
  const std::string what(kind.name);
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for " + what + " (e.g. " + what +
                    ": {client: alice, status: 0} or " + what +
                    ": {server: connect, code: 31004}), got " + describe(e.value));
    return std::nullopt;
  }
  bool server_form = false;
  for (const auto& kv : e.value) {
    server_form = server_form || (kv.first.IsScalar() && kv.first.Scalar() == "server");
  }
  std::vector<std::string_view> known;
  if (server_form) {
    known.assign(k_server_event_keys.begin(), k_server_event_keys.end());
  } else {
    known.emplace_back("client");
    for (const auto k : k_client_event_keys) {
      if (k != "sequence" || kind.fam == family::expect) {
        known.push_back(k);
      }
    }
  }
  switch (kind.fam) {
    case family::expect:
      known.insert(known.end(), {"within", "not_before"});
      break;
    case family::absent:
      known.emplace_back("for");
      break;
    default:
      known.insert(known.end(), {"equals", "at_least", "at_most", "within"});
      break;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in " + what, known);
  event_target target;
  if (server_form) {
    target.server_event = read_server_event(params);
  } else {
    if (const auto* c = required_with(params, e.value.Mark(), what,
                                      "client: NAME for a client's events, or server: KIND for "
                                      "the server's log",
                                      "client")) {
      target.client = client_name(*c).value_or("");
    }
    read_client_events(params, e.value.Mark(), what, kind.fam == family::expect,
                       target.client_events);
  }
  step_body body;
  if (kind.fam == family::expect) {
    expect_step x;
    x.client = target.client;
    x.client_events = std::move(target.client_events);
    if (target.server_event) {
      x.server_events.push_back(*target.server_event);
    }
    x.within_ms = k_default_within_ms;
    if (const auto* p = find(params, "within")) {
      x.within_ms = read_duration(*p).value_or(0);
    }
    if (const auto* p = find(params, "not_before")) {
      x.not_before_ms = read_duration(*p).value_or(0);
      if (x.not_before_ms > x.within_ms) {
        error_at(*p, "not_before " + std::to_string(x.not_before_ms) +
                         " ms is after the end of the window (within " +
                         std::to_string(x.within_ms) + " ms)");
      }
    }
    body = std::move(x);
  } else if (kind.fam == family::absent) {
    absent_step x;
    x.client = target.client;
    if (!target.client_events.empty()) {
      x.client_event = target.client_events.front();
    }
    x.server_event = target.server_event;
    if (const auto* p = required(params, e.value.Mark(), what, "for")) {
      x.for_ms = read_positive_duration(*p).value_or(0);
    }
    body = std::move(x);
  } else {
    count_step x;
    x.client = target.client;
    if (!target.client_events.empty()) {
      x.client_event = target.client_events.front();
    }
    x.server_event = target.server_event;
    read_bounds(params, e.value.Mark(), x);
    if (const auto* p = required(params, e.value.Mark(), what, "within")) {
      x.within_ms = read_positive_duration(*p).value_or(0);
    }
    body = std::move(x);
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return body;
}

// `required` with what was expected in the message.
const entry* reader::required_with(const std::vector<entry>& entries, const YAML::Mark& where,
                                   const std::string& what, std::string_view expected,
                                   std::string_view name) {
  if (const auto* e = find(entries, name)) {
    return e;
  }
  if (misspelt(where, name)) {
    return nullptr;
  }
  error(where, what + " is missing required key '" + std::string(name) + "' (expected " +
                   std::string(expected) + ")");
  return nullptr;
}

std::optional<server_event_match> reader::read_server_event(const std::vector<entry>& params) {
  server_event_match m;
  if (const auto* p = find(params, "server")) {
    if (const auto kind = read_event_kind(*p)) {
      m.kind = *kind;
    }
  }
  if (const auto* p = find(params, "code")) {
    m.code = read_code(*p, true);  // 0: a connect that was accepted
  }
  const auto* client = find(params, "client");
  const auto* user = find(params, "user");
  const auto* device = find(params, "device");
  if (client != nullptr) {
    for (const auto* other : {user, device}) {
      if (other != nullptr) {
        error(other->key.Mark(),
              "client: sets user and device already (expected either client or user/device)");
      }
    }
    if (const auto n = client_name(*client)) {
      if (const auto* spec = spec_of(*n)) {
        m.user = spec->user;
        m.device = spec->device;
      }
    }
  } else {
    if (user != nullptr) {
      m.user = read_non_empty(*user);
    }
    if (device != nullptr) {
      m.device = read_non_empty(*device);
    }
  }
  if (const auto* p = find(params, "detail")) {
    m.detail_contains = read_non_empty(*p);
  }
  return m;
}

// Exactly one event (or, for expect, one `sequence` of them) among the keys.
void reader::read_client_events(const std::vector<entry>& params, const YAML::Mark& where,
                                const std::string& what, bool sequence_allowed,
                                std::vector<client_event_match>& out) {
  const auto* sequence = find(params, "sequence");
  if (sequence != nullptr) {
    for (const auto k : k_client_events) {
      if (const auto* other = find(params, k)) {
        error(other->key.Mark(), "'" + other->name +
                                     "' next to sequence (expected the events "
                                     "inside the sequence: sequence: [{" +
                                     other->name + ": ...}])");
      }
    }
    if (const auto* code = find(params, "code")) {
      error(code->key.Mark(),
            "'code' next to sequence (expected it inside the sequence, "
            "next to its status)");
    }
    read_sequence(*sequence, out);
    return;
  }
  if (auto m = read_client_event(params, where, what, sequence_allowed)) {
    out.push_back(std::move(*m));
  }
}

void reader::read_sequence(const entry& e, std::vector<client_event_match>& out) {
  if (!e.value.IsSequence() || e.value.size() == 0) {
    error_at(e,
             "expected a non-empty list of events for sequence (e.g. sequence: [{status: "
             "10}, {status: 0}]), got " +
                 (e.value.IsSequence() ? std::string("an empty list") : describe(e.value)));
    return;
  }
  std::vector<std::string_view> known(k_client_event_keys.begin(), k_client_event_keys.end() - 1);
  for (const auto& item : e.value) {
    if (!item.IsMap()) {
      error(item.IsNull() ? e.value.Mark() : item.Mark(),
            "expected an event in sequence (e.g. {status: 10}), got " + describe(item));
      continue;
    }
    const auto params = read_map(item, "in a sequence event", known);
    if (auto m = read_client_event(params, item.Mark(), "a sequence event", false)) {
      out.push_back(std::move(*m));
    }
  }
}

std::optional<client_event_match> reader::read_client_event(const std::vector<entry>& params,
                                                            const YAML::Mark& where,
                                                            const std::string& what,
                                                            bool sequence_allowed) {
  const entry* event = nullptr;
  for (const auto& param : params) {  // in file order: the second one is the error
    const auto* p = &param;
    if (!contains(k_client_events, p->name)) {
      continue;
    }
    if (event == nullptr) {
      event = p;
    } else {
      error(p->key.Mark(),
            "'" + event->name + "' and '" + p->name + "' in one " +
                (what == "a sequence event" ? "sequence event" : what) + " (expected one event" +
                (sequence_allowed ? "; use sequence: [...] for several in order" : "") + ")");
    }
  }
  const auto* code = find(params, "code");
  if (event == nullptr) {
    const bool typo = std::any_of(k_client_events.begin(), k_client_events.end(),
                                  [&](std::string_view k) { return misspelt(where, k); }) ||
                      misspelt(where, "sequence");
    if (typo) {
      return std::nullopt;
    }
    error(where, what + " needs an event (expected one of: " + join(k_client_events) +
                     (sequence_allowed ? ", sequence" : "") + ")");
    return std::nullopt;
  }
  client_event_match m;
  m.event = event->name;
  if (code != nullptr && event->name != "status" && event->name != "returned") {
    const bool has_code = event->name == "error" || event->name == "db_opened";
    error(code->key.Mark(),
          "code goes with status (the cause of a status change)" +
              (has_code ? "; the code of " + event->name + " is its value, e.g. " + event->name +
                              (event->name == "error" ? ": 31004" : ": 0")
                        : std::string()));
  }
  if (event->name == "status") {
    m.status = read_status(*event);
    if (code != nullptr) {
      m.code = read_code(*code, false);
    }
  } else if (event->name == "error") {
    // error: true is any error (absent: {client: a, error: true} = no error at all).
    if (!(event->value.IsScalar() && event->value.Scalar() == "true")) {
      m.code = read_code(*event, false);
    }
  } else if (event->name == "db_opened") {
    m.code = read_code(*event, true);
  } else if (event->name == "returned") {
    if (const auto call = read_choice(*event, k_returning_calls)) m.call = std::string(*call);
    if (code != nullptr) m.code = read_code(*code, true);
  } else if (event->name == "success") {
    if (const auto* s = scalar(*event, "true or a user id")) {
      if (*s == "false" || s->empty()) {
        error_at(*event, "bad value '" + *s +
                             "' for success (expected true, or the user id, e.g. success: alice)");
      } else if (*s != "true") {
        m.user = *s;
      }
    }
  } else if (event->name == "message" || event->name == "sent") {
    // true: any message; else its text.
    if (const auto* s = scalar(*event, "true or the message's text")) {
      if (*s == "false" || s->empty()) {
        error_at(*event, "bad value '" + *s + "' for " + event->name +
                             " (expected true, or the message's text, e.g. " + event->name +
                             ": hello)");
      } else if (*s != "true") {
        m.text = *s;
      }
    }
  } else if (event->name == "send_error") {
    if (!(event->value.IsScalar() && event->value.Scalar() == "true")) {
      m.code = read_code(*event, false);
    }
  } else {
    if (const auto v = read_bool(*event); v && !*v) {
      error_at(*event, event->name + ": false is not an event (expected " + event->name +
                           ": true)");
    }
  }
  for (const auto key : k_message_keys) {
    const auto* p = find(params, key);
    if (p == nullptr) continue;
    if (event->name != "message") {
      error(p->key.Mark(), "'" + p->name + "' goes with message (what the receive listener " +
                               "was told), not with " + event->name);
    } else if (key == "from") {
      m.from = user_of(*p);
    } else if (key == "left") {
      if (const auto v = read_unsigned(*p, 0, k_max_int)) m.left = static_cast<int>(*v);
    } else if (key == "offline") {
      m.offline = read_bool(*p);
    } else {
      m.has_package = read_bool(*p);
    }
  }
  return m;
}

void reader::read_bounds(const std::vector<entry>& params, const YAML::Mark& where, count_step& x) {
  const auto* equals = find(params, "equals");
  const auto* at_least = find(params, "at_least");
  const auto* at_most = find(params, "at_most");
  const auto bound = [&](const entry* p) -> std::optional<int> {
    if (p == nullptr) {
      return std::nullopt;
    }
    const auto v = read_unsigned(*p, 0, k_max_int);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  };
  x.equals = bound(equals);
  x.at_least = bound(at_least);
  x.at_most = bound(at_most);
  if (equals == nullptr && at_least == nullptr && at_most == nullptr) {
    error(where, "count needs equals, at_least or at_most");
  }
  if (equals != nullptr && (at_least != nullptr || at_most != nullptr)) {
    error(equals->key.Mark(), "equals goes alone (expected equals, or at_least and/or at_most)");
  }
  if (x.at_least && x.at_most && *x.at_least > *x.at_most) {
    error(at_least->value.Mark(), "at_least " + std::to_string(*x.at_least) +
                                      " is greater than at_most " + std::to_string(*x.at_most));
  }
}

// --- schedule and status ---

std::optional<step_body> reader::read_schedule(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e,
             "expected a map for schedule (e.g. schedule: {client: alice, intervals: "
             "documented, count: 5}), got " +
                 describe(e.value));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in schedule", k_p_schedule);
  schedule_step x;
  if (const auto* c = required(params, e.value.Mark(), "schedule", "client")) {
    x.client = client_name(*c).value_or("");
    // server: KIND measures the gaps between the server's events about this client
    // (its pings, say) instead of the client's connect attempts.
    if (const auto* k = find(params, "server")) {
      if (const auto kind = read_event_kind(*k)) {
        server_event_match m{.kind = std::string(*kind)};
        if (const auto* spec = spec_of(x.client)) {
          m.user = spec->user;
          m.device = spec->device;
        }
        x.server_event = std::move(m);
      }
    }
  }
  const auto* count = find(params, "count");
  if (const auto* p = required(params, e.value.Mark(), "schedule", "intervals")) {
    if (p->value.IsScalar() && p->value.Scalar() == "documented") {
      if (count == nullptr) {
        error(p->key.Mark(),
              "intervals: documented needs count (how many gaps to check, "
              "e.g. count: 5)");
      } else if (const auto n = read_unsigned(*count, 1, k_max_documented_count)) {
        x.intervals_ms = documented_intervals(*n);
      }
    } else if (p->value.IsSequence()) {
      if (auto list = read_duration_list(*p, "intervals: [50ms, 250ms]")) {
        x.intervals_ms = std::move(*list);
      }
      if (count != nullptr) {
        error(count->key.Mark(),
              "count goes with intervals: documented (a list of intervals "
              "gives its own count)");
      }
    } else {
      error_at(*p, "expected documented or a list of durations for intervals, got " +
                       describe(p->value));
    }
  }
  x.tolerance_ms = k_default_tolerance_ms;
  if (const auto* p = find(params, "tolerance")) {
    x.tolerance_ms = read_duration(*p).value_or(0);
  }
  if (const auto* p = find(params, "within")) {
    x.within_ms = read_positive_duration(*p).value_or(0);
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return x;
}

std::optional<step_body> reader::read_status_step(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for status (e.g. status: {client: alice, is: 0}), got " +
                    describe(e.value));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in status", k_p_status);
  status_step x;
  if (const auto* c = required(params, e.value.Mark(), "status", "client")) {
    x.client = client_name(*c).value_or("");
  }
  if (const auto* p = required(params, e.value.Mark(), "status", "is")) {
    x.status = read_status(*p).value_or(0);
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return x;
}

}  // namespace imock::harness::detail
