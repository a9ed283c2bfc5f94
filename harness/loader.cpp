// The public entry points of the scenario loader (loader.hpp) and the top-level walk
// of a scenario document: its keys, the server section and the tags. The rest of the
// reader is in loader_*.cpp (see loader_reader.hpp).
#include "imock/harness/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <exception>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "imock/base/yaml_read.hpp"
#include "imock/harness/loader_reader.hpp"
#include "imock/server/config.hpp"

namespace imock::harness::detail {
namespace {

constexpr std::array<std::string_view, 8> k_top_keys = {"name",  "description", "tags",    "seed",
                                                        "speed", "server",      "clients", "steps"};
// The server config's top-level keys a scenario may use (docs/server-config.md);
// `listen` is refused: the harness binds its own ephemeral ports.
constexpr std::array<std::string_view, 5> k_server_keys = {"apps", "users", "limits", "navigation",
                                                          "messages"};

}  // namespace

std::optional<scenario> reader::read(const YAML::Node& root) {
  if (!root.IsMap()) {
    error(root.Mark(), "expected a map with keys " + join(k_top_keys) + " at the top level, got " +
                           describe(root));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto entries = read_map(root, "at the top level", k_top_keys);
  scenario s;
  s.file = file_;
  // The server first, whatever the file's order: clients default to its first app.
  s.server = server::default_config();
  if (const auto* e = find(entries, "server")) {
    read_server(*e, s);
  }
  for (const auto& app : s.server.apps) {
    app_keys_.push_back(app.key);
  }

  if (const auto* e = required(entries, root.Mark(), "the scenario", "name")) {
    if (const auto* text = scalar(*e, "a scenario name")) {
      if (valid_scenario_name(*text)) {
        s.name = *text;
      } else {
        error_at(*e, "bad name '" + *text +
                         "' (expected a-z, 0-9 and '-', starting with a letter or digit, "
                         "e.g. kick-by-login-elsewhere)");
      }
    }
  }
  if (const auto* e = required(entries, root.Mark(), "the scenario", "description")) {
    if (auto text = read_non_empty(*e)) {
      s.description = std::move(*text);
    }
  }
  if (const auto* e = find(entries, "tags")) {
    read_tags(*e, s);
  }
  if (const auto* e = find(entries, "seed")) {
    if (const auto v = read_unsigned(*e, 0, std::numeric_limits<std::uint64_t>::max())) {
      s.seed = *v;
    }
  }
  if (const auto* e = find(entries, "speed")) {
    s.speed = read_speed(*e);
  }
  if (const auto* e = required(entries, root.Mark(), "the scenario", "clients")) {
    read_clients(*e, s);
  }
  if (const auto* e = required(entries, root.Mark(), "the scenario", "steps")) {
    read_steps(*e, s);
  }
  if (errors_.size() != before) {
    return std::nullopt;
  }
  return s;
}

// --- top-level sections ---

void reader::read_server(const entry& e, scenario& s) {
  if (e.value.IsNull()) {
    return;  // `server:` with nothing after it: the default config, as for the server
  }
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for server (the server config: " + join(k_server_keys) +
                    "; docs/server-config.md), got " + describe(e.value));
    apps_known_ = false;
    return;
  }
  // Keys the scenario schema refuses are reported here (with the scenario's wording)
  // and removed, so the server's parser can still check the rest.
  std::vector<YAML::Node> refused;
  for (const auto& kv : e.value) {
    if (!kv.first.IsScalar()) {
      continue;  // the server's parser reports it
    }
    const auto& name = kv.first.Scalar();
    if (name == "listen") {
      error(kv.first.Mark(),
            "listen is not allowed in a scenario's server section: the harness binds its "
            "own ephemeral ports (remove it)");
      refused.push_back(kv.first);
    } else if (const YAML::Node nav = kv.second;
               name == "navigation" && nav.IsMap() && nav["servers"]) {
      // The list would have to name the harness's ephemeral ports, and the simulation
      // has no ports at all: the server lists its own listeners.
      error(nav["servers"].Mark(),
            "navigation.servers is not allowed in a scenario's server section: the harness "
            "binds its own ports (set the clients' navigation instead; cache_lifetime is fine)");
      refused.push_back(kv.first);
    } else if (!contains(k_server_keys, name)) {
      error(kv.first.Mark(),
            "unknown key '" + name + "' in server (expected one of: " + join(k_server_keys) + ")");
      refused.push_back(kv.first);
    }
  }
  YAML::Node section = e.value;
  for (const auto& key : refused) {
    section.remove(key);
  }
  server::config_error cerr;
  auto config = server::parse_config_node(section, file_, base_dir_, cerr);
  if (!config) {
    errors_.push_back(load_error{mark_of(cerr.where), cerr.message});
    apps_known_ = false;
    return;
  }
  s.server = std::move(*config);
}

// config_error's "file:line:column" back into a mark.
source_mark reader::mark_of(const std::string& where) const {
  const std::string prefix = file_ + ":";
  if (where.starts_with(prefix)) {
    const std::string_view rest = std::string_view(where).substr(prefix.size());
    const auto colon = rest.find(':');
    const auto line = parse_unsigned(rest.substr(0, colon));
    const auto column =
        colon == std::string_view::npos ? std::nullopt : parse_unsigned(rest.substr(colon + 1));
    if (line && column && *line <= k_max_int && *column <= k_max_int) {
      return source_mark{file_, static_cast<int>(*line), static_cast<int>(*column)};
    }
  }
  return source_mark{file_, 1, 1};
}

void reader::read_tags(const entry& e, scenario& s) {
  if (!e.value.IsSequence()) {
    error_at(e, "expected a list of tags for tags (e.g. tags: [kick, terminal]), got " +
                    describe(e.value));
    return;
  }
  for (const auto& item : e.value) {
    if (!item.IsScalar()) {
      error(item.Mark(), "expected a tag (a-z, 0-9 and '-') in tags, got " + describe(item));
    } else if (!valid_tag(item.Scalar())) {
      error(item.Mark(), "bad tag '" + item.Scalar() + "' (expected a-z, 0-9 and '-', e.g. kick)");
    } else {
      s.tags.push_back(item.Scalar());
    }
  }
}

}  // namespace imock::harness::detail

namespace imock::harness {
namespace {

namespace fs = std::filesystem;
using detail::join;
using detail::k_top_keys;
using detail::reader;

fs::path folder_of(const std::string& file) {
  std::error_code ec;
  const fs::path p = file.empty() ? fs::path(".") : fs::path(file);
  auto absolute = fs::absolute(p, ec);
  if (ec) {
    return p.parent_path();
  }
  return absolute.lexically_normal().parent_path();
}

bool before_in_file(const load_error& a, const load_error& b) noexcept {
  return a.where.line != b.where.line ? a.where.line < b.where.line
                                      : a.where.column < b.where.column;
}

}  // namespace

std::optional<scenario> parse_scenario(std::string_view yaml, const std::string& file,
                                       std::vector<load_error>& errors) {
  std::vector<load_error> found;
  std::optional<scenario> out;
  try {
    std::optional<YAML::Mark> second;
    const auto doc = yaml_read::load_document(yaml, second);
    if (doc.IsNull()) {
      found.push_back(load_error{
          source_mark{file, 1, 1},
          "the file is empty (expected a scenario: a map with keys " + join(k_top_keys) + ")"});
    } else {
      // A trailing `---` with nothing after it is an empty document: harmless.
      if (second) {
        found.push_back(load_error{source_mark{file, second->line + 1, second->column + 1},
                                   "a second YAML document (expected one scenario per file)"});
      }
      out = reader(file, folder_of(file), found).read(doc);
    }
  } catch (const YAML::Exception& e) {
    found.clear();
    found.push_back(load_error{e.mark.is_null()
                                   ? source_mark{file, 1, 1}
                                   : source_mark{file, e.mark.line + 1, e.mark.column + 1},
                               yaml_read::exception_message(e)});
  } catch (const std::exception& e) {
    found.push_back(load_error{source_mark{file, 1, 1},
                               std::string("internal error while loading: ") + e.what()});
  } catch (...) {
    found.push_back(load_error{source_mark{file, 1, 1}, "internal error while loading"});
  }
  if (found.empty() && !out) {
    found.push_back(load_error{source_mark{file, 1, 1}, "could not load the scenario"});
  }
  if (!found.empty()) {
    std::stable_sort(found.begin(), found.end(), before_in_file);
    errors.insert(errors.end(), found.begin(), found.end());
    return std::nullopt;
  }
  return out;
}

std::optional<scenario> load_scenario(const std::filesystem::path& file,
                                      std::vector<load_error>& errors) {
  const std::string name = file.string();
  std::string text;
  // A file-level problem has no line: it points at the file's start.
  const source_mark start{name, 1, 1};
  try {
    auto read = yaml_read::read_file(file, "scenario file");
    if (!read.value) {
      errors.push_back(load_error{start, std::move(read.error)});
      return std::nullopt;
    }
    text = std::move(*read.value);
  } catch (const std::exception& e) {
    errors.push_back(load_error{start, std::string("cannot read the scenario file: ") + e.what()});
    return std::nullopt;
  }
  return parse_scenario(text, name, errors);
}

std::vector<std::filesystem::path> scenario_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      // A file as given, whatever its name; one that does not exist stays in the list
      // so that loading it says so rather than the run silently shrinking.
      out.push_back(p);
      continue;
    }
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      const auto ext = it->path().extension();
      if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file(type_ec)) {
        out.push_back(it->path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::int64_t> documented_intervals(std::size_t count) {
  // SPEC.md §4: 0.05 s, 0.25, 0.5, 1, 2, 4, 8, 16, 32 s, then every 64 s.
  static constexpr std::array<std::int64_t, 9> k_steps = {50,   250,  500,   1000, 2000,
                                                          4000, 8000, 16000, 32000};
  constexpr std::int64_t k_tail = 64'000;
  std::vector<std::int64_t> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(i < k_steps.size() ? k_steps[i] : k_tail);
  }
  return out;
}

}  // namespace imock::harness
