// Text from outside checked or made UTF-8: what JSON answers and the event log can
// carry of a client's bytes. (The MQTT decoder has its own, stricter check: MQTT also
// forbids U+0000, protocol/mqtt.cpp.)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imock {

/// The number of code points in `text`; nullopt when it is not well-formed UTF-8
/// (overlong forms, surrogates and values past U+10FFFF included).
[[nodiscard]] std::optional<std::size_t> utf8_length(std::string_view text) noexcept;

/// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing
/// above U+10FFFF).
[[nodiscard]] bool is_utf8(std::string_view text) noexcept;

/// `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by
/// '?'.
[[nodiscard]] std::string as_utf8(std::string_view text);

}  // namespace imock
