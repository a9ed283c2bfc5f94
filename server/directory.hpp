// The server's runtime view of apps and users: states, blocks, token revocations.
// Plain data, single-threaded (the server runs one event loop); no I/O, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "imock/server/config.hpp"

namespace imock::server {

struct user_record {
  std::string name;
  std::string portrait_uri;
  std::int64_t blocked_until_ms = 0;   // blocked while now < blocked_until_ms
  std::int64_t revoked_before_ms = 0;  // tokens issued before this are revoked
  [[nodiscard]] bool blocked(std::int64_t now_ms) const noexcept {
    return now_ms < blocked_until_ms;
  }
};

struct app_record {
  app_config config;
  // std::map: block/query pages through users in a stable order.
  std::map<std::string, user_record, std::less<>> users;
};

class directory {
 public:
  directory() = default;
  /// `start_ms`: server time at start; users' blocked_for in the config counts from it.
  explicit directory(const server_config& config, std::int64_t start_ms = 0);

  [[nodiscard]] app_record* find_app(std::string_view key) noexcept;
  [[nodiscard]] const app_record* find_app(std::string_view key) const noexcept;
  [[nodiscard]] user_record* find_user(std::string_view app_key, std::string_view user_id) noexcept;

  /// The user's record, created (unblocked, nothing revoked) when missing.
  user_record& ensure_user(app_record& app, std::string_view user_id);

  /// Adds or replaces an app (admin API, scenarios). Existing users of a replaced app stay.
  app_record& upsert_app(const app_config& config);

  [[nodiscard]] const std::unordered_map<std::string, app_record>& apps() const noexcept {
    return apps_;
  }

 private:
  std::unordered_map<std::string, app_record> apps_;
};

}  // namespace imock::server
