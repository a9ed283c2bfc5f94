#include "imock/server/endpoints.hpp"

#include <string>

namespace imock::server {

endpoints::endpoints(hub& h, server_control& control)
    : hub_(h),
      control_(control),
      api_(h.dir(), h.config().limits, h.config().messages, hooks()),
      admin_(h, control),
      navigation_(h.dir(), h.faults(), h.config().navigation) {}

api_hooks endpoints::hooks() {
  return {
      .is_online = [this](std::string_view app,
                          std::string_view user) { return hub_.is_online(app, user); },
      // Called while a request is handled, so "now" is the request's time: the hub's
      // latest event time is not enough (a block disconnects at the request's time).
      .disconnect_user =
          [this](std::string_view app, std::string_view user, rc::code why) {
            control_.apply(hub_.disconnect_user(app, user, why, now_ms_));
          },
      .log_call =
          [this](std::string_view detail) {
            hub_.log(event_kind::api, std::string(detail), now_ms_);
          },
      .publish =
          [this](const publish_request& r) {
            std::vector<recipient_uid> uids;
            control_.apply(hub_.publish(r, now_ms_, uids));
            return uids;
          },
  };
}

bool endpoints::handles(std::string_view path) noexcept {
  path = path.substr(0, path.find('?'));
  return server_api::handles(path) || admin_api::handles(path) || navigation::handles(path);
}

api_response endpoints::handle(const api_request& r, std::int64_t now_ms) {
  now_ms_ = now_ms;
  const std::string_view path = std::string_view(r.path).substr(0, r.path.find('?'));
  if (server_api::handles(path)) {
    api_request stripped = r;
    stripped.path = std::string(path);
    return api_.handle(stripped, now_ms);
  }
  if (admin_api::handles(path)) return admin_.handle(r, now_ms);
  if (navigation::handles(path)) {
    auto answer = navigation_.handle(r, now_ms);
    hub_.events().add(std::move(answer.logged));
    return std::move(answer.response);
  }
  return {404, R"j({"code":404,"error":"not found (see docs/server-api.md, docs/admin-api.md)"})j"};
}

}  // namespace imock::server
