// Numbers and durations as people write them in config and scenario files: plain
// decimal digits; "250ms", "1.5s", "2m", "1h", "7d", or a bare number of seconds
// (docs/server-config.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace imock {

/// Plain decimal digits only: YAML's other spellings (0x10, 1e3, +5, 19_000) are more
/// likely typos than intent in a hand-written file. nullopt when not, or on overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view s) noexcept;

/// Milliseconds; nullopt when malformed or negative, when not a whole number of
/// milliseconds ("0.5ms": refused rather than rounded to 0, which would mean
/// "permanent"), or when it overflows int64 milliseconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

}  // namespace imock
