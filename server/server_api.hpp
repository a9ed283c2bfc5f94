// The signed server API an app server calls (SPEC.md §6): sans-IO. The HTTP layer
// turns a request into an api_request, calls handle(), and writes the api_response.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "imock/protocol/api_request.hpp"
#include "imock/protocol/codes.hpp"
#include "imock/server/config.hpp"
#include "imock/server/directory.hpp"
#include "imock/server/mailbox.hpp"

namespace imock::server {

namespace detail {
struct api_reply;  // an endpoint's outcome before it becomes JSON (server_api.cpp)
}  // namespace detail

struct api_request {
  std::string method;  // "POST"
  std::string path;    // "/user/getToken.json" (no query string)
  std::string content_type;
  /// Header names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // application/x-www-form-urlencoded

  /// The first header called `name` (lower-case), else the first called `alternative`
  /// when one is given: the official SDKs disagree on the spelling, some send
  /// `RC-App-Key` and friends.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name,
                                                       std::string_view alternative = {}) const;
};

struct api_response {
  /// 0: give no answer at all, close the connection (navigation's `request` fault:
  /// docs/admin-api.md, "Navigation"). The HTTP layer writes nothing then; an
  /// in-process caller (server::request, the simulation) sees the 0 as "no answer".
  int http_status = 200;
  std::string body;  // JSON (a fault may answer other text on purpose)
  /// Empty: JSON when the body starts with '{', else text (the HTTP layer's guess).
  std::string content_type;
};

/// Result codes of the server API (SPEC.md §6), plus imock's own 404 and 405 for
/// requests that name no endpoint or do not POST (docs/server-api.md).
enum class api_code : int {
  ok = 200,
  not_found = 404,
  method_not_allowed = 405,
  internal_error = 1000,
  secret_mismatch = 1001,  // unknown app key
  bad_parameter = 1002,
  no_post_data = 1003,
  bad_signature = 1004,  // also missing auth headers, stale timestamp, replayed nonce
  parameter_too_long = 1005,
  app_blocked_or_deleted = 1006,
  rate_limited = 1008,
  internal_timeout = 1050,  // for the HTTP layer; the sans-IO core never times out
  user_limit_reached = 2007,
};

/// A client's text (a header, a path, a form field) as it goes into the event log:
/// one short line, at most 64 bytes and "...", control characters as '?'.
[[nodiscard]] std::string printable(std::string_view text);

/// The HTTP status a code travels with (1004 -> 401, 1008 -> 429, ...).
[[nodiscard]] int http_status(api_code code) noexcept;

/// `{"code":N,"errorMessage":"..."}` with the code's HTTP status: the one error shape,
/// also for errors the HTTP layer raises itself (body too large, timeout).
[[nodiscard]] api_response api_error(api_code code, std::string_view message);

/// What the server API needs from the connection side.
struct api_hooks {
  /// True when the user has at least one connected device.
  std::function<bool(std::string_view app_key, std::string_view user_id)> is_online;
  /// Disconnect every device of the user now, with this code (block: 31009).
  std::function<void(std::string_view app_key, std::string_view user_id, rc::code why)>
      disconnect_user;
  /// A line for the server's event log ("getToken app=... user=...").
  std::function<void(std::string_view detail)> log_call;  // an `api` event
  /// Stores and delivers a message (docs/protocol.md §9): the uid of each recipient's
  /// copy, in the order of `to`.
  std::function<std::vector<recipient_uid>(const publish_request&)> publish;
};

/// Handles the endpoints of SPEC.md §6:
///   /user/getToken.json, /user/token/expire.json, /user/block.json,
///   /user/unblock.json, /user/block/query.json, /user/checkOnline.json
/// and the message endpoints of SPEC.md §8.1, which hand the message to hooks.publish:
///   /message/private/publish.json (private_chat, toUserId 1..1000, answers messageUIDs),
///   /message/system/publish.json (system, toUserId 1..100, answers messageUIDs),
///   /statusmessage/private/publish.json (status = true, toUserId 1..1000, answers code 200).
/// Their optional flags (pushData, count, isPersisted, ...) are accepted and ignored;
/// isIncludeSender=1 is refused with 1002. Besides the per-second request limit, the
/// three share messages.api_recipients_per_min: recipients per app per fixed one-minute
/// window (now_ms / 60000); a call that would go past it gets 1008 and publishes nothing.
/// Authentication: App-Key, Nonce, Timestamp, Signature headers (or RC-App-Key, ...),
/// Signature = hex SHA1(secret + nonce + timestamp). Timestamp in ms or s.
/// Replay protection (limits.replay_protection): timestamp outside
/// limits.signature_window_ms of now, or a nonce already seen inside the window,
/// gives 1004 / HTTP 401.
class server_api {
 public:
  server_api(directory& dir, const limits_config& limits, const messages_config& messages,
             api_hooks hooks);

  /// True when `path` is one of the server API's endpoints.
  [[nodiscard]] static bool handles(std::string_view path) noexcept;

  api_response handle(const api_request& request, std::int64_t now_ms);

  /// Number of nonces remembered for replay protection (bounded by the window).
  [[nodiscard]] std::size_t remembered_nonces() const noexcept { return nonce_order_.size(); }

 private:
  directory& dir_;
  const limits_config& limits_;
  const messages_config& messages_;
  api_hooks hooks_;
  // Replay protection: (app key, nonce) -> the time after which it is forgotten (its
  // timestamp + the window: a replay later than that is stale anyway), and the same
  // pairs ordered by that time for expiry.
  std::unordered_map<std::string, std::int64_t> nonces_;
  std::deque<std::pair<std::int64_t, std::string>> nonce_order_;
  // Rate limit: per app key, the current one-second window and its count.
  std::unordered_map<std::string, std::pair<std::int64_t, std::uint32_t>> rate_;
  // Message recipients (messages.api_recipients_per_min): per app key, the current
  // one-minute window and the recipients taken in it.
  std::unordered_map<std::string, std::pair<std::int64_t, std::uint32_t>> recipients_;

  /// Routes, authenticates and runs one request; appends what it did to `log_detail`.
  detail::api_reply process(const api_request& request, std::int64_t now_ms,
                            std::string& log_detail);
  /// Checks the auth headers, replay window, app state and rate limit; sets `app` on success.
  detail::api_reply authenticate(const api_request& request, std::int64_t now_ms, app_record*& app);
  void forget_expired_nonces(std::int64_t now_ms);
};

using imock::api_signature;  // protocol/api_request.hpp

}  // namespace imock::server
