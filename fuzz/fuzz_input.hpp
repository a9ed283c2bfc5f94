// What the fuzz targets share: a reader that splits one input into the pieces a target
// needs (a choice byte, a length-prefixed string, the rest), and the check that traps.
// Taking past the end gives zeros and empty strings, so every input is a valid layout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace imock::fuzz {

/// A target's own check: a failure is a finding, as a crash is (libFuzzer and
/// replay_main.cpp both stop on the trap).
inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

class input {
 public:
  input(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}

  [[nodiscard]] bool empty() const noexcept { return pos_ >= bytes_.size(); }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }

  std::uint8_t byte() noexcept {
    return empty() ? 0 : static_cast<std::uint8_t>(bytes_[pos_++]);
  }
  /// One of `n` choices (n > 0).
  std::size_t pick(std::size_t n) noexcept { return byte() % n; }
  std::uint16_t u16() noexcept {
    const auto hi = byte();
    return static_cast<std::uint16_t>(hi << 8 | byte());
  }
  /// A string of up to 255 bytes: a length byte, then that many bytes (fewer at the end).
  std::string_view short_string() noexcept { return take(byte()); }
  /// Up to the next '\n' (not included), or to the end.
  std::string_view line() noexcept {
    const auto end = bytes_.find('\n', pos_);
    const auto piece = take((end == std::string_view::npos ? bytes_.size() : end) - pos_);
    if (!empty()) ++pos_;
    return piece;
  }
  std::string_view rest() noexcept { return take(remaining()); }
  std::string_view take(std::size_t n) noexcept {
    n = std::min(n, remaining());
    const auto piece = bytes_.substr(pos_, n);
    pos_ += n;
    return piece;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace imock::fuzz
