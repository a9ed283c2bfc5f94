#include "imock/server/directory.hpp"

namespace imock::server {

directory::directory(const server_config& config, std::int64_t start_ms) {
  for (const auto& app : config.apps) {
    upsert_app(app);
  }
  for (const auto& user : config.users) {
    if (auto* app = find_app(user.app_key)) {
      auto& rec = ensure_user(*app, user.user_id);
      rec.name = user.name;
      rec.portrait_uri = user.portrait_uri;
      // In the config it is a duration (blocked_for); here a point in server time.
      rec.blocked_until_ms = user.blocked_until_ms > 0 ? start_ms + user.blocked_until_ms : 0;
    }
  }
}

app_record* directory::find_app(std::string_view key) noexcept {
  const auto it = apps_.find(std::string(key));
  return it == apps_.end() ? nullptr : &it->second;
}

const app_record* directory::find_app(std::string_view key) const noexcept {
  const auto it = apps_.find(std::string(key));
  return it == apps_.end() ? nullptr : &it->second;
}

user_record* directory::find_user(std::string_view app_key, std::string_view user_id) noexcept {
  auto* app = find_app(app_key);
  if (app == nullptr) {
    return nullptr;
  }
  const auto it = app->users.find(user_id);
  return it == app->users.end() ? nullptr : &it->second;
}

user_record& directory::ensure_user(app_record& app, std::string_view user_id) {
  auto it = app.users.find(user_id);
  if (it == app.users.end()) {
    it = app.users.emplace(std::string(user_id), user_record{}).first;
  }
  return it->second;
}

app_record& directory::upsert_app(const app_config& config) {
  auto& rec = apps_[config.key];
  rec.config = config;
  return rec;
}

}  // namespace imock::server
