// Comparing secrets (the admin token) without leaking, through the time taken, how
// many leading bytes matched.
#pragma once

#include <cstddef>
#include <string_view>

namespace imock {

/// a == b, in a time that depends on the lengths only. (A length mismatch still walks
/// the longer string, so that the time does not tell where the difference is either.)
[[nodiscard]] inline bool equal_in_constant_time(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  // volatile: the compiler may not turn the loop back into an early exit.
  const volatile unsigned char result = diff;
  return result == 0;
}

}  // namespace imock
