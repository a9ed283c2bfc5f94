// libFuzzer target for the server's YAML config (server/config.hpp, docs/server-config.md):
// parse_config() on any text, as `imock-server --config FILE` reads it.
//
// Input layout: the whole input is the file's text.
// Checks, for any text:
//   - no crash and no exception (a bad file is an error, never a throw);
//   - an error says where as "fuzz.yaml:LINE:COLUMN", inside the text (LINE at most one
//     past its last line), and says what is wrong;
//   - the same text gives the same answer twice (no hidden state);
//   - parse_config_node() on the text's node (what a scenario's `server:` section
//     goes through) agrees with parse_config() on the text: a config from the text is
//     the same from the node, and what the node refuses the text refuses;
//   - a config that loads has distinct app keys, each found by find_app().
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "imock/base/parse.hpp"
#include "imock/fuzz/fuzz_input.hpp"
#include "imock/server/config.hpp"

namespace {

using imock::fuzz::check;
namespace server = imock::server;

constexpr std::string_view k_file = "fuzz.yaml";

// "fuzz.yaml:L:C" with 1 <= L <= lines + 1 and C >= 1.
void check_where(std::string_view where, std::string_view text) {
  check(where.substr(0, k_file.size() + 1) == "fuzz.yaml:");
  const auto rest = where.substr(k_file.size() + 1);
  const auto colon = rest.find(':');
  check(colon != std::string_view::npos);
  const auto line = imock::parse_unsigned(rest.substr(0, colon));
  const auto column = imock::parse_unsigned(rest.substr(colon + 1));
  check(line.has_value() && column.has_value() && *line >= 1 && *column >= 1);
  const auto lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  check(*line <= lines + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  server::config_error error;
  const auto config = server::parse_config(text, k_file, error);
  if (!config) {
    check(!error.message.empty());
    check_where(error.where, text);
  }
  server::config_error again_error;
  const auto again = server::parse_config(text, k_file, again_error);
  check(again == config && again_error.where == error.where && again_error.message == error.message);

  YAML::Node node;
  bool loaded = true;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception&) {
    loaded = false;
  }
  if (loaded) {
    server::config_error node_error;
    const auto from_node = server::parse_config_node(node, k_file, node_error);
    // The text's first document read as a node gives the same config; what the node
    // refuses, the text refuses. (The text may refuse more: a second document.)
    if (config) check(from_node == config);
    if (!from_node) check(!config);
  } else {
    check(!config);  // text yaml-cpp cannot read is never a config
  }

  if (config) {
    std::set<std::string> keys;
    for (const auto& app : config->apps) {
      check(keys.insert(app.key).second);
      check(config->find_app(app.key) == &app);
    }
  }
  return 0;
}
