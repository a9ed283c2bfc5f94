// The mutant catalogue (mutants/catalogue.yaml): realistic SDK bugs, each a small
// named edit of one source file the simulated harness links: client/connection.cpp
// (the connection state machine every driver of the reference SDK runs) by default,
// or another of the reference SDK's or the server's (`file`). A mutant is compiled into its own program (never
// into the SDK) and the simulated suite runs against it: a mutant the suite passes
// ("survives") is a behaviour no scenario pins down.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imock::mutants {

/// The file a mutant edits when it names none.
inline constexpr std::string_view k_default_file = "client/connection.cpp";

/// Whether `path` may be a mutant's file: client/NAME.cpp or server/NAME.cpp, relative,
/// no "..": a file of the reference SDK or the server that the simulated harness links.
bool valid_file(std::string_view path);

/// Replace the one place of the source that reads `find` (whitespace may differ)
/// with `replace`.
struct edit {
  std::string find;
  std::string replace;
  int line = 0;  // where the edit is written in the catalogue
};

struct mutant {
  std::string name;  // [a-z0-9-]+, unique
  std::string area;  // schedule, time-limit, codes, callbacks, sign-out, heartbeat, identity
  std::string bug;   // one sentence: what a real SDK gets wrong
  std::string file = std::string(k_default_file);  // the source it edits, from the root
  std::vector<edit> edits;
  int line = 0;
};

/// Every mutant of the file, or nullopt with "file:line:col: message" errors.
std::optional<std::vector<mutant>> load_catalogue(const std::filesystem::path& file,
                                                  std::vector<std::string>& errors);

/// `source` with the mutant's edits made, or nullopt and `error` when an edit does not
/// find exactly one place (the source changed under it: update the catalogue).
std::optional<std::string> apply(const mutant& m, std::string source, std::string& error);

const mutant* find(const std::vector<mutant>& all, std::string_view name);

}  // namespace imock::mutants
