#include "imock/harness/scenario.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <type_traits>

namespace imock::harness {

std::string_view to_string(token_kind t) noexcept {
  switch (t) {
    case token_kind::fresh:
      return "fresh";
    case token_kind::api:
      return "api";
    case token_kind::expired:
      return "expired";
    case token_kind::tampered:
      return "tampered";
    case token_kind::other_app:
      return "other_app";
    case token_kind::unreadable:
      return "unreadable";
    case token_kind::empty:
      return "empty";
    case token_kind::literal:
      return "literal";
    case token_kind::previous:
      return "previous";
  }
  return "?";
}

std::string message_text(std::string_view content) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(content, ec);
  if (!ec && v.is_object()) {
    if (const auto* t = v.as_object().if_contains("content"); t != nullptr && t->is_string()) {
      return std::string(t->as_string());
    }
  }
  return std::string(content);
}

std::string text_content(std::string_view text, std::size_t size) {
  boost::json::object o{{"content", text}};
  auto out = boost::json::serialize(o);
  // {"content":"...","extra":"xxx"}: the padding is 11 bytes plus its own length.
  constexpr std::size_t k_extra_overhead = 11;
  if (size > out.size() + k_extra_overhead) {
    o["extra"] = std::string(size - out.size() - k_extra_overhead, 'x');
    out = boost::json::serialize(o);
  }
  return out;
}

namespace {

// Coverage counts what a scenario *checks*, not what it provokes: a `refuse` action
// with code 31003 proves nothing until an expectation sees the client react to it.
// Absent and count steps are checks too (an absent 31010 is a statement about 31010).
// Code 0 (success, an accepted connect, a database that opened) is not a code the
// conformance matrix tracks.
void add_code(std::set<int>& out, const std::optional<int>& code) {
  if (code && *code != 0) {
    out.insert(*code);
  }
}

void add(std::set<int>& codes, std::set<int>& statuses, const client_event_match& m) {
  add_code(codes, m.code);
  if (m.status) {
    statuses.insert(*m.status);
  }
}

void add(std::set<int>& codes, std::set<int>& /*statuses*/, const server_event_match& m) {
  add_code(codes, m.code);
}

void collect(const scenario& s, std::set<int>& codes, std::set<int>& statuses) {
  for (const auto& st : s.steps) {
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, expect_step>) {
            for (const auto& m : body.client_events) {
              add(codes, statuses, m);
            }
            for (const auto& m : body.server_events) {
              add(codes, statuses, m);
            }
          } else if constexpr (std::is_same_v<T, count_step>) {
            // Only a count that needs the event at least once shows it happens;
            // `absent` and `at_most` show only that it does not (too often).
            if (body.equals.value_or(0) >= 1 || body.at_least.value_or(0) >= 1) {
              if (body.client_event) {
                add(codes, statuses, *body.client_event);
              }
              if (body.server_event) {
                add(codes, statuses, *body.server_event);
              }
            }
          } else if constexpr (std::is_same_v<T, status_step>) {
            statuses.insert(body.status);
          }
        },
        st.body);
  }
}

}  // namespace

std::vector<int> codes_covered(const scenario& s) {
  std::set<int> codes;
  std::set<int> statuses;
  collect(s, codes, statuses);
  return {codes.begin(), codes.end()};
}

std::vector<int> statuses_covered(const scenario& s) {
  std::set<int> codes;
  std::set<int> statuses;
  collect(s, codes, statuses);
  return {statuses.begin(), statuses.end()};
}

}  // namespace imock::harness
