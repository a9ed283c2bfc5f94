#include "imock/base/parse.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace imock {
namespace {

constexpr std::int64_t k_ms_per_s = 1000;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view s) noexcept {
  if (s.empty() || !std::all_of(s.begin(), s.end(), is_digit)) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> parse_duration_ms(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && is_digit(text[i])) {
    ++i;
  }
  const auto whole_text = text.substr(0, i);
  std::string_view fraction_text;
  if (i < text.size() && text[i] == '.') {
    const std::size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) {
      ++i;
    }
    fraction_text = text.substr(start, i - start);
    if (fraction_text.empty()) {
      return std::nullopt;
    }
  }
  const auto unit = text.substr(i);
  std::int64_t unit_ms = 0;
  if (unit.empty() || unit == "s") {
    unit_ms = k_ms_per_s;
  } else if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "m") {
    unit_ms = 60 * k_ms_per_s;
  } else if (unit == "h") {
    unit_ms = 3600 * k_ms_per_s;
  } else if (unit == "d") {
    unit_ms = 86'400 * k_ms_per_s;
  } else {
    return std::nullopt;
  }

  const auto whole = parse_unsigned(whole_text);
  constexpr auto k_max = std::numeric_limits<std::int64_t>::max();
  if (!whole || *whole > static_cast<std::uint64_t>(k_max / unit_ms)) {
    return std::nullopt;
  }
  std::int64_t ms = static_cast<std::int64_t>(*whole) * unit_ms;

  // Exact decimal arithmetic, so "0.3h" is 1080000 and not 1079999.
  while (!fraction_text.empty() && fraction_text.back() == '0') {
    fraction_text.remove_suffix(1);
  }
  if (fraction_text.empty()) {
    return ms;
  }
  // Past 10 significant fraction digits no unit (at most 2^10 * 5^5 * 27 ms) gives whole
  // milliseconds; the bound also keeps fraction * unit_ms inside int64.
  if (fraction_text.size() > 10) {
    return std::nullopt;
  }
  std::int64_t scale = 1;
  for (std::size_t d = 0; d < fraction_text.size(); ++d) {
    scale *= 10;
  }
  const auto numerator = static_cast<std::int64_t>(*parse_unsigned(fraction_text)) * unit_ms;
  if (numerator % scale != 0 || numerator / scale > k_max - ms) {
    return std::nullopt;
  }
  return ms + numerator / scale;
}

}  // namespace imock
