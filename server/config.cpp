#include "imock/server/config.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <limits>
#include <span>
#include <system_error>
#include <utility>

#include "imock/base/parse.hpp"
#include "imock/base/yaml_read.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/token.hpp"

namespace imock::server {



const app_config* server_config::find_app(std::string_view key) const noexcept {
  for (const auto& app : apps) {
    if (app.key == key) {
      return &app;
    }
  }
  return nullptr;
}

namespace {

using yaml_read::describe;
using yaml_read::entry;
using yaml_read::find;
using yaml_read::join;
using yaml_read::parse_unsigned;

constexpr std::int64_t k_ms_per_s = 1000;
constexpr std::string_view k_address_examples = "e.g. 127.0.0.1:18830 or [::1]:18830";
constexpr std::string_view k_byte_size_examples = "e.g. 262144, 256KiB, 1MiB";
constexpr std::uint64_t k_min_packet_size = 128;
constexpr std::uint64_t k_max_packet_size = 268'435'455;  // MQTT's variable byte integer limit
constexpr std::uint64_t k_max_u32 = std::numeric_limits<std::uint32_t>::max();

constexpr std::array<std::string_view, 6> k_top_keys = {"apps",   "users",      "limits",
                                                        "listen", "navigation", "messages"};
constexpr std::array<std::string_view, 7> k_app_keys = {
    "key", "secret", "state", "token_lifetime", "login_policy", "revoked_token_code", "max_users"};
constexpr std::array<std::string_view, 5> k_user_keys = {"app", "id", "name", "portrait_uri",
                                                         "blocked_for"};
constexpr std::array<std::string_view, 11> k_limits_keys = {
    "max_connections",    "max_packet_size",  "connect_timeout",  "keep_alive_min",
    "keep_alive_max",     "outbound_queue",   "event_log",        "api_rate_limit",
    "connect_rate_limit", "signature_window", "replay_protection"};
constexpr std::array<std::string_view, 10> k_listen_keys = {
    "mqtt",          "http",        "mqtts",     "https", "tls_cert", "tls_key", "tls_self_signed",
    "accept_queues", "admin_token", "navigation"};
constexpr std::array<std::string_view, 2> k_navigation_keys = {"servers", "cache_lifetime"};
constexpr std::array<std::string_view, 7> k_messages_keys = {
    "retention",         "max_stored_per_user",    "package_size",
    "multi_device_sync", "client_send_rate_per_s", "api_recipients_per_min",
    "max_content_bytes"};
// docs/server-config.md, "messages": SPEC.md §8.5 keeps a message 1 to 7 days, §8.3 sends
// at most 200 per offline-sync package.
constexpr std::int64_t k_min_retention_ms = k_ms_per_s;
constexpr std::int64_t k_max_retention_ms = std::int64_t{7} * 24 * 60 * 60 * k_ms_per_s;
constexpr std::uint64_t k_max_stored_per_user = 1'000'000;
constexpr std::uint64_t k_max_package_size = 200;
constexpr std::uint64_t k_max_client_send_rate_per_s = 100'000;
constexpr std::uint64_t k_max_api_recipients_per_min = 10'000'000;
constexpr std::uint64_t k_max_content_bytes = std::uint64_t{1024} * 1024;
constexpr std::string_view k_retention_examples = "e.g. 30s, 12h, 7d";
constexpr std::string_view k_content_size_examples = "e.g. 131072, 128KiB, 1MiB";
constexpr std::string_view k_server_url_examples =
    "e.g. mqtt://10.0.0.2:1883, mqtts://im.example.com:8883, ws://10.0.0.2:8080/mqtt";

constexpr auto& k_app_states = k_app_state_names.rows;
constexpr auto& k_login_policies = k_login_policy_names.rows;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool valid_app_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > token::k_max_app_key_size) {
    return false;
  }
  for (const char c : key) {
    if (!is_alnum(c) && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

// What is wrong with a listen address, or nullopt when it is HOST:PORT / [IPV6]:PORT.
// Only the shape is checked: a host name is resolved when the server binds.
std::optional<std::string> address_problem(std::string_view address) {
  std::string_view host;
  std::string_view rest;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos) {
      return "no closing ']'";
    }
    host = address.substr(1, close - 1);
    rest = address.substr(close + 1);
    for (const char c : host) {
      if (!is_alnum(c) && c != ':' && c != '.' && c != '%' && c != '_' && c != '-') {
        return "bad character in the IPv6 address";
      }
    }
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return "no port";
    }
    host = address.substr(0, colon);
    rest = address.substr(colon);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address goes in brackets";
    }
    for (const char c : host) {
      if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
        return "bad character in the host";
      }
    }
  }
  if (host.empty()) {
    return "no host";
  }
  if (rest.empty() || rest == ":") {
    return "no port";
  }
  if (rest.front() != ':') {
    return "expected ':' after ']'";
  }
  const auto port_text = rest.substr(1);
  const auto port = parse_unsigned(port_text);
  if (!port) {
    return "port '" + std::string(port_text) + "' is not a number";
  }
  if (*port > 65'535) {
    return "port " + std::string(port_text) + " is out of range";
  }
  return std::nullopt;
}

// "262144", "512B", "256KiB", "1MiB". Whole bytes only; 0 when malformed (0 is also
// refused as a size, so one sentinel serves both).
std::size_t parse_byte_size(std::string_view text) noexcept {
  std::size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    ++digits;
  }
  const auto unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB") {
    scale = 1024;
  } else if (unit == "MiB") {
    scale = std::uint64_t{1024} * 1024;
  } else {
    return 0;
  }
  const auto n = parse_unsigned(text.substr(0, digits));
  if (!n || *n > std::numeric_limits<std::size_t>::max() / scale) {
    return 0;
  }
  return static_cast<std::size_t>(*n * scale);
}

// The first error ends parsing; unwinding to the public entry point is the shortest
// way out of the nested readers. Never escapes this file.
struct parse_failure {
  config_error error;
};

class parser {
 public:
  parser(std::string_view source, std::filesystem::path base_dir)
      : source_(source.empty() ? std::string_view("config") : source),
        base_dir_(std::move(base_dir)) {}

  server_config parse(const YAML::Node& root) const {
    server_config out = default_config();
    // An empty document (or an empty `server:` section) is the default config.
    if (!root.IsDefined() || root.IsNull()) {
      return out;
    }
    if (!root.IsMap()) {
      fail(root.Mark(), "expected a map with keys " + join(k_top_keys) + " at the top level, got " +
                            describe(root));
    }
    const auto entries = read_map(root, "at the top level", k_top_keys);
    // Apps before users whatever the file's order: users name apps.
    if (const auto* e = present(entries, "apps")) {
      read_apps(*e, out);
    }
    if (const auto* e = present(entries, "users")) {
      read_users(*e, out);
    }
    if (const auto* e = present(entries, "limits")) {
      read_limits(*e, out.limits);
    }
    if (const auto* e = present(entries, "listen")) {
      read_listen(*e, out.listen);
    }
    if (const auto* e = present(entries, "navigation")) {
      read_navigation(*e, out.navigation);
    }
    if (const auto* e = present(entries, "messages")) {
      read_messages(*e, out.messages);
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const YAML::Mark& mark, std::string message) const {
    throw parse_failure{config_error{where(mark), std::move(message)}};
  }

  [[nodiscard]] std::string where(const YAML::Mark& mark) const {
    if (mark.is_null()) {
      return std::string(source_);
    }
    return std::string(source_) + ":" + std::to_string(mark.line + 1) + ":" +
           std::to_string(mark.column + 1);
  }

  [[noreturn]] void fail_at(const entry& e, std::string message) const {
    fail(yaml_read::mark_of(e), std::move(message));
  }

  // The value read, or the end of parsing with what is wrong with it.
  template <class T>
  T take(const entry& e, yaml_read::result<T> r) const {
    if (!r.value) {
      fail_at(e, std::move(r.error));
    }
    return std::move(*r.value);
  }

  // A section key with nothing after it (`limits:` with every line commented out)
  // counts as absent rather than as an error.
  static const entry* present(const std::vector<entry>& entries, std::string_view name) noexcept {
    const auto* e = find(entries, name);
    return e != nullptr && !e->value.IsNull() ? e : nullptr;
  }

  // `context` completes "unknown key 'x' ...": "in limits", "at the top level".
  std::vector<entry> read_map(const YAML::Node& map, std::string_view context,
                              yaml_read::key_list known) const {
    std::vector<yaml_read::problem> problems;
    auto entries = yaml_read::read_map(map, context, known, problems);
    if (!problems.empty()) {
      fail(problems.front().mark, std::move(problems.front().message));
    }
    return entries;
  }

  const std::string& scalar(const entry& e, std::string_view expected) const {
    if (!e.value.IsScalar()) {
      fail_at(e, yaml_read::wrong_kind(e, expected));
    }
    return e.value.Scalar();
  }

  [[nodiscard]] std::string read_string(const entry& e) const {
    return take(e, yaml_read::read_string(e));
  }

  [[nodiscard]] std::string read_non_empty(const entry& e) const {
    return take(e, yaml_read::read_non_empty(e));
  }

  [[nodiscard]] std::uint64_t read_unsigned(const entry& e, std::uint64_t min,
                                            std::uint64_t max) const {
    return take(e, yaml_read::read_unsigned(e, min, max));
  }

  [[nodiscard]] bool read_bool(const entry& e) const { return take(e, yaml_read::read_bool(e)); }

  [[nodiscard]] std::int64_t read_duration(const entry& e) const {
    return take(e, yaml_read::read_duration(e));
  }

  [[nodiscard]] std::int64_t read_positive_duration(const entry& e) const {
    return take(e, yaml_read::read_positive_duration(e));
  }

  [[nodiscard]] std::uint16_t read_keep_alive(const entry& e) const {
    const auto ms = take(e, yaml_read::read_keep_alive(e, "e.g. 5s, 10m"));
    return static_cast<std::uint16_t>(ms / k_ms_per_s);
  }

  template <class Enum, std::size_t N>
  Enum read_enum(const entry& e,
                 const std::array<std::pair<std::string_view, Enum>, N>& table) const {
    return take(e, yaml_read::read_enum(e, table));
  }

  [[nodiscard]] std::string read_address(const entry& e) const {
    const auto expected = "HOST:PORT with PORT 0..65535, " + std::string(k_address_examples);
    auto text = scalar(e, expected);
    if (const auto problem = address_problem(text)) {
      fail_at(e, "bad address '" + text + "' for " + e.name + ": " + *problem + " (expected " +
                     expected + ")");
    }
    return text;
  }

  [[nodiscard]] std::filesystem::path read_path(const entry& e) const {
    std::filesystem::path p = read_non_empty(e);
    if (p.is_absolute() || base_dir_.empty()) {
      return p;
    }
    return (base_dir_ / p).lexically_normal();
  }

  // Fails when `node` (an item of the list `list`) is not a map; returns its entries.
  std::vector<entry> read_item(const YAML::Node& list, const YAML::Node& node, std::size_t index,
                               std::string_view what,
                               std::span<const std::string_view> known) const {
    if (node.IsNull()) {
      // A null item carries the next token's mark; the list's is the better pointer.
      fail(list.Mark(), "item " + std::to_string(index + 1) + " of the " + std::string(what) +
                            " list is empty (expected a map with keys " + join(known) + ")");
    }
    if (!node.IsMap()) {
      fail(node.Mark(), "expected a" + std::string(what == "app" ? "n " : " ") + std::string(what) +
                            " (a map with keys " + join(known) + "), got " + describe(node));
    }
    return read_map(node, "in " + std::string(what), known);
  }

  const entry& required(const std::vector<entry>& entries, const YAML::Node& map,
                        std::string_view what, std::string_view name,
                        std::string_view id_key) const {
    if (const auto* e = find(entries, name)) {
      return *e;
    }
    std::string who(what);
    if (const auto* id = find(entries, id_key); id != nullptr && id->value.IsScalar()) {
      who += " '" + id->value.Scalar() + "'";
    }
    fail(map.Mark(), who + " is missing required key '" + std::string(name) + "'");
  }

  void read_apps(const entry& section, server_config& out) const {
    if (!section.value.IsSequence()) {
      fail_at(section, "expected a list of apps, got " + describe(section.value));
    }
    out.apps.clear();
    std::vector<YAML::Mark> key_marks;
    std::size_t index = 0;
    for (const auto& node : section.value) {
      const auto entries = read_item(section.value, node, index++, "app", k_app_keys);
      app_config app;
      const auto& key = required(entries, node, "app", "key", "key");
      app.key = scalar(key, "an app key");
      if (!valid_app_key(app.key)) {
        fail_at(key, "bad app key '" + app.key + "' (expected 1..32 bytes of A-Z a-z 0-9 _ -)");
      }
      for (std::size_t i = 0; i < out.apps.size(); ++i) {
        if (out.apps[i].key == app.key) {
          fail_at(key, "duplicate app key '" + app.key + "' (first at line " +
                           std::to_string(key_marks[i].line + 1) + ")");
        }
      }
      app.secret = read_non_empty(required(entries, node, "app", "secret", "key"));
      if (const auto* e = find(entries, "state")) {
        app.state = read_enum(*e, k_app_states);
      }
      if (const auto* e = find(entries, "token_lifetime")) {
        app.token_lifetime_ms = read_duration(*e);
      }
      if (const auto* e = find(entries, "login_policy")) {
        app.policy = read_enum(*e, k_login_policies);
      }
      if (const auto* e = find(entries, "revoked_token_code")) {
        // SPEC.md §6 leaves open which of the two the real service sends; nothing else
        // is a plausible answer to a revoked token.
        const auto& text = scalar(*e, "31020 or 31004");
        if (text == "31020") {
          app.revoked_token_code = rc::code::conn_token_expire;
        } else if (text == "31004") {
          app.revoked_token_code = rc::code::conn_token_incorrect;
        } else {
          fail_at(*e, "bad value '" + text + "' for revoked_token_code (expected 31020 or 31004)");
        }
      }
      if (const auto* e = find(entries, "max_users")) {
        app.max_users = static_cast<std::uint32_t>(read_unsigned(*e, 0, k_max_u32));
      }
      key_marks.push_back(key.value.Mark());
      out.apps.push_back(std::move(app));
    }
  }

  void read_users(const entry& section, server_config& out) const {
    if (!section.value.IsSequence()) {
      fail_at(section, "expected a list of users, got " + describe(section.value));
    }
    out.users.clear();
    std::vector<YAML::Mark> id_marks;
    std::size_t index = 0;
    for (const auto& node : section.value) {
      const auto entries = read_item(section.value, node, index++, "user", k_user_keys);
      user_config user;
      const auto& id = required(entries, node, "user", "id", "id");
      user.user_id = scalar(id, "a user id");
      if (!token::valid_user_id(user.user_id)) {
        fail_at(id,
                "bad user id '" + user.user_id + "' (expected 1..64 bytes of A-Z a-z 0-9 + = - _)");
      }
      const auto& app = required(entries, node, "user", "app", "id");
      user.app_key = scalar(app, "an app key");
      if (out.find_app(user.app_key) == nullptr) {
        std::vector<std::string_view> keys;
        for (const auto& a : out.apps) {
          keys.push_back(a.key);
        }
        fail_at(app, "user '" + user.user_id + "' names unknown app '" + user.app_key +
                         "' (expected one of the apps: " + join(keys) + ")");
      }
      for (std::size_t i = 0; i < out.users.size(); ++i) {
        if (out.users[i].app_key == user.app_key && out.users[i].user_id == user.user_id) {
          fail_at(id, "duplicate user '" + user.user_id + "' in app '" + user.app_key +
                          "' (first at line " + std::to_string(id_marks[i].line + 1) + ")");
        }
      }
      if (const auto* e = find(entries, "name")) {
        user.name = read_string(*e);
      }
      if (const auto* e = find(entries, "portrait_uri")) {
        user.portrait_uri = read_string(*e);
      }
      if (const auto* e = find(entries, "blocked_for")) {
        user.blocked_until_ms = read_duration(*e);
      }
      id_marks.push_back(id.value.Mark());
      out.users.push_back(std::move(user));
    }
  }

  void read_limits(const entry& section, limits_config& out) const {
    if (!section.value.IsMap()) {
      fail_at(section, "expected a map of limits, got " + describe(section.value));
    }
    const auto entries = read_map(section.value, "in limits", k_limits_keys);
    if (const auto* e = find(entries, "max_connections")) {
      out.max_connections = static_cast<std::uint32_t>(read_unsigned(*e, 1, k_max_u32));
    }
    if (const auto* e = find(entries, "max_packet_size")) {
      out.max_packet_size =
          static_cast<std::uint32_t>(read_unsigned(*e, k_min_packet_size, k_max_packet_size));
    }
    if (const auto* e = find(entries, "connect_timeout")) {
      out.connect_timeout_ms = read_positive_duration(*e);
    }
    const auto* min = find(entries, "keep_alive_min");
    const auto* max = find(entries, "keep_alive_max");
    if (min != nullptr) {
      out.keep_alive_min_s = read_keep_alive(*min);
    }
    if (max != nullptr) {
      out.keep_alive_max_s = read_keep_alive(*max);
    }
    if (out.keep_alive_min_s > out.keep_alive_max_s) {
      // Point at whichever of the two the file set (min when both: it is the one that
      // reads wrong next to the other).
      fail_at(min != nullptr ? *min : *max,
              "keep_alive_min " + std::to_string(out.keep_alive_min_s) + "s" +
                  (min == nullptr ? " (the default)" : "") + " is greater than keep_alive_max " +
                  std::to_string(out.keep_alive_max_s) + "s" +
                  (max == nullptr ? " (the default)" : "") + " (expected min <= max)");
    }
    if (const auto* e = find(entries, "outbound_queue")) {
      const auto& text = scalar(*e, "a byte size (" + std::string(k_byte_size_examples) + ")");
      out.outbound_queue_bytes = parse_byte_size(text);
      if (out.outbound_queue_bytes == 0) {
        fail_at(*e, "bad byte size '" + text +
                        "' for outbound_queue (expected more than 0 bytes, with an optional "
                        "B, KiB or MiB suffix, " +
                        std::string(k_byte_size_examples) + ")");
      }
    }
    if (const auto* e = find(entries, "event_log")) {
      out.event_log_capacity = static_cast<std::size_t>(read_unsigned(*e, 100, 10'000'000));
    }
    if (const auto* e = find(entries, "api_rate_limit")) {
      out.api_rate_limit_per_s = static_cast<std::uint32_t>(read_unsigned(*e, 0, k_max_u32));
    }
    if (const auto* e = find(entries, "connect_rate_limit")) {
      out.connect_rate_limit_per_s = static_cast<std::uint32_t>(read_unsigned(*e, 0, k_max_u32));
    }
    if (const auto* e = find(entries, "signature_window")) {
      out.signature_window_ms = read_positive_duration(*e);
    }
    if (const auto* e = find(entries, "replay_protection")) {
      out.replay_protection = read_bool(*e);
    }
  }

  void read_listen(const entry& section, listen_config& out) const {
    if (!section.value.IsMap()) {
      fail_at(section, "expected a map of listen addresses, got " + describe(section.value));
    }
    const auto entries = read_map(section.value, "in listen", k_listen_keys);
    if (const auto* e = find(entries, "mqtt")) {
      out.mqtt = read_address(*e);
    }
    if (const auto* e = find(entries, "http")) {
      out.http = read_address(*e);
    }
    const auto* mqtts = find(entries, "mqtts");
    if (mqtts != nullptr) {
      out.mqtts = read_address(*mqtts);
    }
    const auto* https = find(entries, "https");
    if (https != nullptr) {
      out.https = read_address(*https);
    }
    const auto* cert = find(entries, "tls_cert");
    if (cert != nullptr) {
      out.tls_cert = read_path(*cert);
    }
    const auto* key = find(entries, "tls_key");
    if (key != nullptr) {
      out.tls_key = read_path(*key);
    }
    const auto* self_signed = find(entries, "tls_self_signed");
    if (self_signed != nullptr) {
      out.tls_self_signed = read_bool(*self_signed);
    }
    if (const auto* e = find(entries, "accept_queues")) {
      out.accept_queues = static_cast<std::uint32_t>(read_unsigned(*e, 1, k_max_accept_queues));
    }
    if (const auto* e = find(entries, "admin_token")) {
      out.admin_token = read_non_empty(*e);
    }
    if (const auto* e = find(entries, "navigation")) {
      out.navigation.clear();
      for (const auto& item : items(*e, "a list of addresses")) {
        out.navigation.push_back(read_address(item));
      }
    }
    // Caught here rather than at bind time, where the message could not name the line.
    if ((cert == nullptr) != (key == nullptr)) {
      const auto& given = cert != nullptr ? *cert : *key;
      fail(given.key.Mark(), "tls_cert and tls_key go together (expected both or neither)");
    }
    if (cert != nullptr && out.tls_self_signed) {
      fail(self_signed->key.Mark(),
           "tls_self_signed: true conflicts with tls_cert and tls_key (expected one or the "
           "other)");
    }
    const bool has_tls = cert != nullptr || out.tls_self_signed;
    if (!has_tls && (mqtts != nullptr || https != nullptr)) {
      fail((mqtts != nullptr ? mqtts : https)->key.Mark(),
           "a TLS listener needs a certificate (expected tls_cert and tls_key, or "
           "tls_self_signed: true)");
    }
  }

  void read_navigation(const entry& section, navigation_config& out) const {
    if (!section.value.IsMap()) {
      fail_at(section, "expected a map of navigation settings, got " + describe(section.value));
    }
    const auto entries = read_map(section.value, "in navigation", k_navigation_keys);
    if (const auto* e = find(entries, "servers")) {
      std::vector<std::string> urls;
      for (const auto& item : items(*e, "a list of server URLs")) {
        const auto& text =
            scalar(item, "a server URL (" + std::string(k_server_url_examples) + ")");
        std::string why;
        if (!net::parse_server_url(text, &why)) {
          fail_at(item, why + " in servers (expected " + std::string(k_server_url_examples) + ")");
        }
        urls.push_back(text);
      }
      out.servers = std::move(urls);
    }
    if (const auto* e = find(entries, "cache_lifetime")) {
      out.cache_lifetime_ms = read_duration(*e);
      // The answer says it in whole seconds (cacheSeconds): refuse what it cannot say.
      if (out.cache_lifetime_ms % k_ms_per_s != 0) {
        fail_at(*e, "bad duration '" + e->value.Scalar() +
                        "' for cache_lifetime (expected whole seconds, e.g. 0, 90s, 10m, 2h)");
      }
    }
  }

  void read_messages(const entry& section, messages_config& out) const {
    if (!section.value.IsMap()) {
      fail_at(section, "expected a map of message settings, got " + describe(section.value));
    }
    const auto entries = read_map(section.value, "in messages", k_messages_keys);
    if (const auto* e = find(entries, "retention")) {
      // Not read_duration: its message for a malformed duration would not give the range.
      const std::string examples(k_retention_examples);
      const auto& text = scalar(*e, "a duration 1s..7d (" + examples + ")");
      const auto ms = parse_duration_ms(text);
      if (!ms || *ms < k_min_retention_ms || *ms > k_max_retention_ms) {
        fail_at(*e,
                "bad duration '" + text + "' for retention (expected 1s..7d, " + examples + ")");
      }
      out.retention_ms = *ms;
    }
    if (const auto* e = find(entries, "max_stored_per_user")) {
      out.max_stored_per_user =
          static_cast<std::uint32_t>(read_unsigned(*e, 1, k_max_stored_per_user));
    }
    if (const auto* e = find(entries, "package_size")) {
      out.package_size = static_cast<std::uint32_t>(read_unsigned(*e, 1, k_max_package_size));
    }
    if (const auto* e = find(entries, "multi_device_sync")) {
      out.multi_device_sync = read_bool(*e);
    }
    if (const auto* e = find(entries, "client_send_rate_per_s")) {
      out.client_send_rate_per_s =
          static_cast<std::uint32_t>(read_unsigned(*e, 0, k_max_client_send_rate_per_s));
    }
    if (const auto* e = find(entries, "api_recipients_per_min")) {
      out.api_recipients_per_min =
          static_cast<std::uint32_t>(read_unsigned(*e, 0, k_max_api_recipients_per_min));
    }
    if (const auto* e = find(entries, "max_content_bytes")) {
      const auto range = "1.." + std::to_string(k_max_content_bytes) + " bytes";
      const auto& text =
          scalar(*e, "a byte size " + range + " (" + std::string(k_content_size_examples) + ")");
      // parse_byte_size gives 0 for a malformed size: below the range like a real 0.
      const auto bytes = parse_byte_size(text);
      if (bytes == 0 || bytes > k_max_content_bytes) {
        fail_at(*e, "bad byte size '" + text + "' for max_content_bytes (expected " + range +
                        ", with an optional B, KiB or MiB suffix, " +
                        std::string(k_content_size_examples) + ")");
      }
      out.max_content_bytes = static_cast<std::uint32_t>(bytes);
    }
  }

  // The items of the list `e`, each an entry named like the list (for messages) whose
  // value is the item. Fails when `e` is not a list.
  std::vector<entry> items(const entry& e, std::string_view expected) const {
    if (!e.value.IsSequence()) {
      fail_at(
          e, "expected " + std::string(expected) + " for " + e.name + ", got " + describe(e.value));
    }
    std::vector<entry> out;
    for (const auto& node : e.value) out.push_back(entry{e.name, e.key, node});
    return out;
  }

  std::string_view source_;
  std::filesystem::path base_dir_;
};

std::filesystem::path current_dir() {
  std::error_code ec;
  auto dir = std::filesystem::current_path(ec);
  return ec ? std::filesystem::path() : dir;
}

// The one place that turns every failure into a config_error: nothing may escape the
// public functions (start-up code reports the error and exits).
template <class Parse>
std::optional<server_config> guarded(std::string_view source, config_error& error, Parse&& parse) {
  const std::string name(source.empty() ? std::string_view("config") : source);
  try {
    return std::forward<Parse>(parse)();
  } catch (const parse_failure& f) {
    error = f.error;
  } catch (const YAML::Exception& e) {
    std::string where = name;
    if (!e.mark.is_null()) {
      where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    }
    error = config_error{where, yaml_read::exception_message(e)};
  } catch (const std::exception& e) {
    error = config_error{name, e.what()};
  }
  return std::nullopt;
}

// The file's one document: a second one is an error, not silently ignored.
YAML::Node config_root(std::string_view text, const std::string& name) {
  std::optional<YAML::Mark> second;
  auto root = yaml_read::load_document(text, second);
  if (second) {
    throw parse_failure{config_error{
        name + ":" + std::to_string(second->line + 1) + ":" + std::to_string(second->column + 1),
        "a second YAML document (expected one config per file)"}};
  }
  return root;
}

}  // namespace

bool is_loopback_address(std::string_view host_port) noexcept {
  std::string_view host = host_port.substr(0, host_port.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::optional<std::string> admin_token_problem(const listen_config& listen) {
  if (!listen.admin_token.empty()) return std::nullopt;
  for (const auto* address : {&listen.http, listen.https ? &*listen.https : nullptr}) {
    if (address != nullptr && !is_loopback_address(*address)) {
      return "the HTTP listener " + *address +
             " is not on loopback, so the admin API needs a token: set --admin-token, " +
             k_admin_token_env + " or listen.admin_token (docs/admin-api.md, \"Access\")";
    }
  }
  return std::nullopt;
}

server_config default_config() {
  server_config config;
  app_config demo;
  demo.key = "imock-demo-key";
  demo.secret = "imock-demo-secret";
  config.apps.push_back(std::move(demo));
  return config;
}

std::string_view default_config_yaml() noexcept {
  // Kept in step with default_config() by config_test (ParsesToDefaultConfig) and with
  // docs/server-config.md by config_test (DocsShowTheDefaultConfig).
  static constexpr std::string_view k_yaml =
      R"(# imock-server configuration. Every key is optional; an absent key keeps the
# value shown here. Reference: docs/server-config.md.
# Durations: 250ms, 1.5s, 2m, 1h, 7d, or a bare number of seconds.

apps:
  - key: imock-demo-key              # 1..32 of A-Z a-z 0-9 _ -
    secret: imock-demo-secret
    state: active                    # active | blocked | deleted
    token_lifetime: 0                # 0: tokens never expire
    login_policy: single_mobile_device   # or multi_device
    revoked_token_code: 31020        # what a token revoked by token/expire gives: 31020 or 31004
    max_users: 0                     # 0: unlimited; getToken beyond it gives 2007

# Users registered at start, e.g.
#   - app: imock-demo-key
#     id: alice
#     name: Alice
#     portrait_uri: https://example.com/alice.png
#     blocked_for: 10m               # blocked from server start for this long
users: []

limits:
  max_connections: 19000
  max_packet_size: 262144            # 128..268435455 bytes
  connect_timeout: 10s               # no CONNECT by then: close
  keep_alive_min: 5s                 # client keep-alive is clamped to [min, max]
  keep_alive_max: 600s               # whole seconds, at most 65535s
  outbound_queue: 1MiB               # per connection; a slower reader is disconnected
  event_log: 100000                  # events kept for /admin/events (100..10000000)
  api_rate_limit: 0                  # server API requests per app per second; 0: off
  connect_rate_limit: 0              # CONNECTs per second; 0: off (30015 beyond)
  signature_window: 5m               # API timestamps further from now are refused
  replay_protection: true            # refuse a nonce seen again inside the window

listen:
  mqtt: 127.0.0.1:18830
  http: 127.0.0.1:18080
  # TLS listeners need tls_cert and tls_key (relative to this file), or tls_self_signed.
  # mqtts: 127.0.0.1:18831
  # https: 127.0.0.1:18443
  # tls_cert: certs/server.pem
  # tls_key: certs/server.key
  tls_self_signed: false
  accept_queues: 4                   # listen queues per MQTT port (SO_REUSEPORT)
  # The admin API's bearer token; needed when http or https is not on loopback.
  # IMOCK_ADMIN_TOKEN or --admin-token set it too (and win over this file).
  # admin_token: a-long-random-string
  navigation: []                     # more addresses that answer only /navi.json, e.g. [127.0.0.1:18090]

# What POST /navi.json on the http port (and listen.navigation) answers.
navigation:
  # servers: [mqtt://10.0.0.2:1883, ws://10.0.0.2:18080/mqtt]   # default: this server's listeners
  cache_lifetime: 2h                 # cacheSeconds: how long a client may reuse the list; 0: not at all

# One-to-one messages (docs/protocol.md §9).
messages:
  retention: 7d                      # 1s..7d; a message still not taken then: message_expired
  max_stored_per_user: 10000         # 1..1000000; one more drops the user's oldest (message_dropped)
  package_size: 200                  # 1..200 messages per offline-sync package
  multi_device_sync: false           # false: a message one online device took skips the others
  client_send_rate_per_s: 5          # 0..100000 sends per client per second; 0: off (20604 beyond)
  api_recipients_per_min: 6000       # 0..10000000 server API recipients per app per minute; 0: off (1008 beyond)
  max_content_bytes: 128KiB          # 1B..1MiB; larger: 30016 (client send), 1005 (server API)
)";
  return k_yaml;
}

std::optional<server_config> parse_config(std::string_view yaml_text, std::string_view source_name,
                                          config_error& error) {
  return guarded(source_name, error, [&] {
    const auto root = config_root(yaml_text, std::string(source_name.empty() ? "config" : source_name));
    return parser(source_name, current_dir()).parse(root);
  });
}

std::optional<server_config> load_config(const std::filesystem::path& file, config_error& error) {
  const std::string name = file.string();
  auto text = yaml_read::read_file(file, "config file");
  if (!text.value) {
    error = config_error{name, std::move(text.error)};
    return std::nullopt;
  }
  return guarded(name, error, [&] {
    std::error_code ec;
    auto absolute = std::filesystem::absolute(file, ec);
    const auto base_dir = ec ? file.parent_path() : absolute.parent_path();
    const auto root = config_root(*text.value, name);
    return parser(name, base_dir).parse(root);
  });
}

std::optional<server_config> parse_config_node(const YAML::Node& node, std::string_view source_name,
                                               config_error& error) {
  return guarded(source_name, error,
                 [&] { return parser(source_name, current_dir()).parse(node); });
}

std::optional<server_config> parse_config_node(const YAML::Node& node, std::string_view source_name,
                                               const std::filesystem::path& base_dir,
                                               config_error& error) {
  return guarded(source_name, error, [&] { return parser(source_name, base_dir).parse(node); });
}

}  // namespace imock::server
