// An enum's names, written once: name <-> value both ways, and the list for messages
// ("expected one of: tcp, tls, ws, wss"). Each enum that travels as text (in config
// and scenario files, JSON, the event log) keeps one table beside its definition, and
// every reader and writer uses it.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace imock {

template <class E, std::size_t N>
struct names {
  std::array<std::pair<std::string_view, E>, N> rows;

  /// The name of `value` ("" for a value not in the table).
  [[nodiscard]] constexpr std::string_view of(E value) const noexcept {
    for (const auto& [name, v] : rows) {
      if (v == value) return name;
    }
    return {};
  }
  [[nodiscard]] constexpr std::optional<E> parse(std::string_view name) const noexcept {
    for (const auto& [n, v] : rows) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
  /// "a, b, c" (or with another separator).
  [[nodiscard]] std::string list(std::string_view separator = ", ") const {
    std::string out;
    for (const auto& [name, v] : rows) {
      if (!out.empty()) out += separator;
      out += name;
    }
    return out;
  }
};

}  // namespace imock
