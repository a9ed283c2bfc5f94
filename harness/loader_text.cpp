// The loader's small text helpers (name validators, close_to: is an unknown key a
// misspelling?, join, contains) and the one-line rendering of a step (step.text).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "imock/harness/loader_reader.hpp"

namespace imock::harness::detail {

// --- small helpers ---

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'z'); }

}  // namespace

// [a-z0-9][a-z0-9-]* (scenario names), [a-z0-9-]+ (tags), [a-z0-9_-]+ (client names).
bool valid_scenario_name(std::string_view s) noexcept {
  return !s.empty() && is_lower_alnum(s.front()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}
bool valid_tag(std::string_view s) noexcept {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}
bool valid_client_name(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || c == '-' || c == '_';
  });
}

// At most two single-byte edits apart (Levenshtein): 'descripton', 'sequencce'.
bool close_to(std::string_view a, std::string_view b) {
  constexpr std::size_t k_max_edits = 2;
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > k_max_edits) {
    return false;
  }
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()] <= k_max_edits;
}

std::string join(const std::vector<std::string>& items) {
  std::vector<std::string_view> views(items.begin(), items.end());
  return join(key_list(views));
}

bool contains(key_list keys, std::string_view key) noexcept {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// --- the one-line rendering of a step (step.text) ---

namespace {

bool needs_quotes(std::string_view s) noexcept {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') {
    return true;
  }
  return s.find_first_of(",[]{}:#\"'\\&*!|>%@`") != std::string_view::npos ||
         std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string double_quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\x%02x", static_cast<unsigned>(c));
          out += buf.data();
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

// Flow style, one line: `{client: alice, token: expired}`. A scalar written in quotes
// (yaml-cpp tags it "!") stays quoted, so `token_text: "31004"` reads as written.
std::string render(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return node.Tag() == "!" || needs_quotes(node.Scalar()) ? double_quoted(node.Scalar())
                                                              : node.Scalar();
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : node) {
        out += (out.size() > 1 ? ", " : "") + render(item);
      }
      return out + "]";
    }
    case YAML::NodeType::Map: {
      std::string out = "{";
      for (const auto& kv : node) {
        out += (out.size() > 1 ? ", " : "") + render(kv.first) + ": " + render(kv.second);
      }
      return out + "}";
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

}  // namespace imock::harness::detail
