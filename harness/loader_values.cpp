// The reader's building blocks: errors, maps (unknown and missing keys), scalars
// (strings, numbers, durations, codes, statuses) and references to clients and apps.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "imock/harness/loader_reader.hpp"
#include "imock/protocol/messages.hpp"
#include "imock/protocol/codes.hpp"
#include "imock/server/event_log.hpp"

namespace imock::harness::detail {
namespace {

constexpr std::int64_t k_ms_per_s = 1000;

}  // namespace

// --- errors ---

source_mark reader::mark(const YAML::Mark& m) const {
  if (m.is_null()) {
    return source_mark{file_, 1, 1};
  }
  return source_mark{file_, m.line + 1, m.column + 1};
}

void reader::error(const YAML::Mark& m, std::string message) {
  errors_.push_back(load_error{mark(m), std::move(message)});
}

void reader::error_at(const entry& e, std::string message) {
  error(yaml_read::mark_of(e), std::move(message));
}

// --- maps ---

// Unknown and duplicate keys are reported and left out; the rest is returned.
// `context` completes "unknown key 'x' ...": "in connect", "at the top level".
std::vector<entry> reader::read_map(const YAML::Node& map, std::string_view context,
                                    key_list known) {
  std::vector<yaml_read::problem> problems;
  std::vector<std::string> unknown;
  auto entries = yaml_read::read_map(map, context, known, problems, &unknown);
  for (auto& name : unknown) {
    unknown_keys_[{map.Mark().line, map.Mark().column}].push_back(std::move(name));
  }
  for (auto& p : problems) {
    error(p.mark, std::move(p.message));
  }
  return entries;
}

// Whether the map at `where` had an unknown key that looks like a misspelt `name`: its
// "unknown key" error already says what is wrong, a "missing key" error would repeat it.
bool reader::misspelt(const YAML::Mark& where, std::string_view name) const {
  const auto it = unknown_keys_.find({where.line, where.column});
  return it != unknown_keys_.end() &&
         std::any_of(it->second.begin(), it->second.end(),
                     [&](const std::string& key) { return close_to(key, name); });
}

const entry* reader::required(const std::vector<entry>& entries, const YAML::Mark& where,
                              std::string_view what, std::string_view name) {
  if (const auto* e = find(entries, name)) {
    return e;
  }
  if (misspelt(where, name)) {
    return nullptr;
  }
  error(where, std::string(what) + " is missing required key '" + std::string(name) + "'");
  return nullptr;
}

// --- scalars ---

const std::string* reader::scalar(const entry& e, std::string_view expected) {
  if (!e.value.IsScalar()) {
    error_at(e, yaml_read::wrong_kind(e, expected));
    return nullptr;
  }
  return &e.value.Scalar();
}

std::optional<std::string> reader::read_string(const entry& e) {
  return take(e, yaml_read::read_string(e));
}

std::optional<std::string> reader::read_non_empty(const entry& e) {
  return take(e, yaml_read::read_non_empty(e));
}

std::optional<bool> reader::read_bool(const entry& e) { return take(e, yaml_read::read_bool(e)); }

std::optional<std::uint64_t> reader::read_unsigned(const entry& e, std::uint64_t min,
                                                   std::uint64_t max) {
  return take(e, yaml_read::read_unsigned(e, min, max));
}

std::optional<double> reader::read_number(const entry& e, double min_exclusive, double max,
                                          std::string_view range) {
  const auto* s = scalar(e, "a number " + std::string(range));
  if (s == nullptr) {
    return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc{} || end != s->data() + s->size() || !std::isfinite(v) ||
      v <= min_exclusive || v > max) {
    error_at(e, "bad number '" + *s + "' for " + e.name + " (expected " + std::string(range) + ")");
    return std::nullopt;
  }
  return v;
}

std::optional<double> reader::read_speed(const entry& e) {
  return read_number(e, 0, std::numeric_limits<double>::max(), "greater than 0, e.g. 20 or 0.5");
}

std::optional<std::int64_t> reader::read_duration(const entry& e) {
  return take(e, yaml_read::read_duration(e));
}

std::optional<std::int64_t> reader::read_positive_duration(const entry& e) {
  return take(e, yaml_read::read_positive_duration(e));
}

std::optional<std::int64_t> reader::read_heartbeat(const entry& e) {
  return take(e, yaml_read::read_keep_alive(e, "e.g. 30s, 2m"));
}

// The SDK's timeLimit: whole seconds; 0 or a negative number keeps trying.
std::optional<std::int64_t> reader::read_time_limit(const entry& e) {
  constexpr std::string_view k_expected =
      "whole seconds, e.g. 10s, 1m; 0 or a negative number such as -1 keeps trying";
  const auto* s = scalar(e, "a duration (" + std::string(k_expected) + ")");
  if (s == nullptr) {
    return std::nullopt;
  }
  const bool negative = !s->empty() && s->front() == '-';
  const auto ms = parse_duration_ms(std::string_view(*s).substr(negative ? 1 : 0));
  if (!ms || *ms % k_ms_per_s != 0 ||
      *ms / k_ms_per_s > static_cast<std::int64_t>(std::numeric_limits<int>::max())) {
    error_at(e, "bad duration '" + *s + "' for " + e.name + " (expected " +
                    std::string(k_expected) + ")");
    return std::nullopt;
  }
  return negative ? -*ms : *ms;
}

std::optional<int> reader::read_code(const entry& e, bool allow_zero) {
  const auto* s = scalar(e, "a documented code (e.g. 31004, see docs/codes.md)");
  if (s == nullptr) {
    return std::nullopt;
  }
  const auto v = parse_unsigned(*s);
  if (!v || *v > k_max_int) {
    error_at(e, "bad code '" + *s + "' for " + e.name +
                    " (expected a documented code, e.g. 31004, see docs/codes.md)");
    return std::nullopt;
  }
  const int code = static_cast<int>(*v);
  if (rc::find(code) == nullptr && !messages::is_send_code(code)) {
    error_at(e, std::to_string(code) + " is not a documented code (see docs/codes.md)");
    return std::nullopt;
  }
  if (code == 0 && !allow_zero) {
    error_at(e, "0 is not an error code (expected a documented non-zero code for " + e.name +
                    ", see docs/codes.md)");
    return std::nullopt;
  }
  return code;
}

std::optional<int> reader::read_status(const entry& e) {
  const auto* s = scalar(e, "a documented status (e.g. 0, 10, see docs/codes.md)");
  if (s == nullptr) {
    return std::nullopt;
  }
  const auto v = parse_unsigned(*s);
  if (!v || *v > k_max_int) {
    error_at(e, "bad status '" + *s + "' for " + e.name +
                    " (expected a documented status number, e.g. 0 or 10, see docs/codes.md)");
    return std::nullopt;
  }
  const int status = static_cast<int>(*v);
  if (rc::find_status(status) == nullptr) {
    error_at(e, std::to_string(status) + " is not a documented status (see docs/codes.md)");
    return std::nullopt;
  }
  return status;
}

// A server event kind an expectation can see: the runner leaves start, accept and
// api out of the trace as noise, so waiting for them could never pass.
std::optional<std::string> reader::read_event_kind(const entry& e) {
  const auto v = read_enum(e, server::k_event_kind_names.rows);
  if (!v) return std::nullopt;
  if (server::left_out_of_traces(*v)) {
    error_at(e, "server: " + std::string(server::k_event_kind_names.of(*v)) +
                    " is left out of traces, so no expectation can see it");
    return std::nullopt;
  }
  return std::string(server::k_event_kind_names.of(*v));
}

// A non-empty list of durations > 0.
std::optional<std::vector<std::int64_t>> reader::read_duration_list(const entry& e,
                                                                    std::string_view example) {
  if (!e.value.IsSequence() || e.value.size() == 0) {
    error_at(e, "expected a non-empty list of durations for " + e.name + " (e.g. " +
                    std::string(example) + "), got " +
                    (e.value.IsSequence() ? std::string("an empty list") : describe(e.value)));
    return std::nullopt;
  }
  std::vector<std::int64_t> out;
  bool ok = true;
  for (const auto& item : e.value) {
    const auto ms = read_positive_duration(entry{e.name, item, item});
    ok = ok && ms.has_value();
    out.push_back(ms.value_or(0));
  }
  return ok ? std::optional(std::move(out)) : std::nullopt;
}

// --- references to clients and apps ---

std::optional<std::string> reader::client_name(const entry& e) {
  const auto* s = scalar(e, "a client name");
  if (s == nullptr) {
    return std::nullopt;
  }
  // Without a readable clients section every name would be "unknown": one error
  // (the section's) is enough.
  if (clients_known_ && !clients_.contains(*s)) {
    error_at(e, "unknown client '" + *s + "' (declared: " +
                    (client_order_.empty() ? std::string("none") : join(client_order_)) + ")");
    return std::nullopt;
  }
  return *s;
}

// The spec of a declared client, or nullptr (undeclared, or the section had errors).
const client_spec* reader::spec_of(const std::string& name) const {
  const auto it = clients_.find(name);
  return it != clients_.end() ? &it->second : nullptr;
}

// `may_be_unknown`: a client may use an app key the server does not know (that
// is how a scenario gets 31002); actions on the server need a configured app.
std::optional<std::string> reader::app_name(const entry& e, bool may_be_unknown) {
  const auto* s = scalar(e, "an app key");
  if (s == nullptr) {
    return std::nullopt;
  }
  if (apps_known_ && !may_be_unknown && !contains_app(*s)) {
    error_at(e, "unknown app '" + *s + "' (" +
                    (app_keys_.empty() ? std::string("the server section has no apps")
                                       : "the server section has: " + join(app_keys_)) +
                    ")");
    return std::nullopt;
  }
  return *s;
}

bool reader::contains_app(const std::string& key) const {
  return std::find(app_keys_.begin(), app_keys_.end(), key) != app_keys_.end();
}

std::string reader::first_app() const {
  return app_keys_.empty() ? std::string() : app_keys_.front();
}

}  // namespace imock::harness::detail
