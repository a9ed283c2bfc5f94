// Reading YAML input files with yaml-cpp: map entries that keep their marks, scalar
// values checked against what was expected, and the messages that say what is wrong.
// Shared by the server config (server/config.cpp: the first problem ends parsing) and
// the scenario loader (harness/loader*.cpp: problems are collected), so that both word
// their errors alike. Nothing here decides where a problem goes: each reader does.
#pragma once

#include <yaml-cpp/yaml.h>

#include "imock/base/parse.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imock::yaml_read {

using key_list = std::span<const std::string_view>;

/// One key of a YAML map, with the nodes kept for their marks.
struct entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

/// What is wrong with the input, and where.
struct problem {
  YAML::Mark mark;
  std::string message;
};

/// A value read from an entry, or (value empty) what is wrong with it, to be reported at
/// mark_of(entry).
template <class T>
struct result {
  std::optional<T> value;
  std::string error;
};

/// The entry called `name`, or nullptr.
const entry* find(const std::vector<entry>& entries, std::string_view name) noexcept;

/// Where a problem with `e` is reported: its value, or its key when the value is null.
YAML::Mark mark_of(const entry& e);

/// The one YAML document of `text`, as YAML::Load gives it. `second_document` gets the
/// mark of a second document's first node when there is one (a scenario or config file
/// holds one; an empty one after a trailing `---` is no second). Throws YAML::Exception
/// as YAML::Load does, and a YAML::ParserException where yaml-cpp's own LoadAll would
/// never return (a ',' where a document starts: its parser makes no progress there).
YAML::Node load_document(std::string_view text, std::optional<YAML::Mark>& second_document);

/// What a node is, for "got ..." in messages: 'text' (a scalar), a list, a map, nothing.
std::string describe(const YAML::Node& node);

/// "a, b, c".
std::string join(key_list items);

using imock::parse_unsigned;  // base/parse.hpp

/// The entries of the map `map` whose keys are in `known`, in file order. A key that is
/// not a scalar, unknown or repeated is left out and adds a problem to `problems` (in file
/// order); an unknown key's name is also added to `unknown` when given. `context`
/// completes "unknown key 'x' ...": "in limits", "at the top level".
std::vector<entry> read_map(const YAML::Node& map, std::string_view context, key_list known,
                            std::vector<problem>& problems,
                            std::vector<std::string>* unknown = nullptr);

/// "expected EXPECTED for NAME, got WHAT-IT-IS": the message for a value of the wrong kind.
std::string wrong_kind(const entry& e, std::string_view expected);

/// Any scalar.
result<std::string> read_string(const entry& e);
/// A scalar other than "".
result<std::string> read_non_empty(const entry& e);
/// true or false (YAML 1.2's spellings only).
result<bool> read_bool(const entry& e);
/// An integer in [min, max], in plain decimal digits.
result<std::uint64_t> read_unsigned(const entry& e, std::uint64_t min, std::uint64_t max);
/// A duration in milliseconds (parse_duration_ms: 250ms, 1.5s, 2m, 1h, 7d).
result<std::int64_t> read_duration(const entry& e);
/// A duration of more than 0 ms.
result<std::int64_t> read_positive_duration(const entry& e);
/// An MQTT keep alive in milliseconds: whole seconds, at most 65535 s. `examples`
/// ends the message of a bad one: "e.g. 5s, 10m".
result<std::int64_t> read_keep_alive(const entry& e, std::string_view examples);

/// One of the names in `table`, as its value. `hint` is added to the list of names in
/// the message of a bad one.
template <class T, std::size_t N>
result<T> read_enum(const entry& e, const std::array<std::pair<std::string_view, T>, N>& table,
                    std::string_view hint = {}) {
  std::string names;
  for (const auto& named : table) {
    names += (names.empty() ? "" : ", ") + std::string(named.first);
  }
  if (!e.value.IsScalar()) {
    return {std::nullopt, wrong_kind(e, "one of: " + names)};
  }
  const auto& text = e.value.Scalar();
  for (const auto& [name, value] : table) {
    if (name == text) {
      return {value, {}};
    }
  }
  return {std::nullopt, "bad value '" + text + "' for " + e.name + " (expected one of: " + names +
                            std::string(hint) + ")"};
}

/// The most read_file() takes: config and scenario files are kilobytes; a file past
/// this is a mistake (a log, a binary, /dev/zero) and gets an error, not minutes of parsing.
inline constexpr std::size_t k_max_file_bytes = std::size_t{4} * 1024 * 1024;

/// The whole of `file`, or (value empty) "cannot open the WHAT: REASON", "cannot read
/// the WHAT: REASON" or "the WHAT is larger than 4 MiB ..."; `what` is e.g. "config
/// file". Reads at most `max_bytes` + 1 bytes, whatever the file is.
result<std::string> read_file(const std::filesystem::path& file, std::string_view what,
                              std::size_t max_bytes = k_max_file_bytes);

/// "YAML syntax error: ..." or "YAML error: ...": the message of an exception of
/// yaml-cpp's (its mark, when not null, says where).
std::string exception_message(const YAML::Exception& e);

}  // namespace imock::yaml_read
