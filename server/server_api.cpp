#include "imock/server/server_api.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>

#include <boost/json.hpp>

#include "imock/base/utf8.hpp"
#include "imock/protocol/messages.hpp"
#include "imock/protocol/token.hpp"

namespace imock::server {

namespace detail {

struct api_reply {
  api_code code = api_code::ok;
  std::string message;         // errorMessage when code != ok
  boost::json::object fields;  // what follows "code":200 in a success
};

}  // namespace detail

namespace {

using detail::api_reply;

constexpr std::size_t k_max_nonce_size = 18;
constexpr std::size_t k_max_name_chars = 64;  // code points, not bytes
constexpr std::size_t k_max_portrait_uri_size = 1024;
constexpr std::size_t k_max_user_ids = 20;
constexpr std::int64_t k_max_block_minutes = 43'200;  // 30 days
constexpr std::int64_t k_ms_per_minute = 60'000;
// Smaller timestamps are seconds: 10^11 ms is March 1973, 10^11 s is the year 5138,
// so no real clock of either unit falls on the wrong side.
constexpr std::int64_t k_seconds_timestamp_limit = 100'000'000'000;
constexpr std::int64_t k_default_page_size = 50;
constexpr std::int64_t k_max_page_size = 200;
// 9999-12-31 23:59:59.999 UTC: blockEndTime keeps four digits of year.
constexpr std::int64_t k_max_formatted_ms = 253'402'300'799'999;
constexpr std::size_t k_max_logged_size = 64;
constexpr std::int64_t k_int64_max = std::numeric_limits<std::int64_t>::max();

enum class endpoint {
  get_token,
  token_expire,
  block,
  unblock,
  block_query,
  check_online,
  private_publish,
  system_publish,
  status_publish,
};

struct route {
  std::string_view path;
  endpoint which;
  std::string_view log_name;
  bool needs_body;  // false: every parameter has a default, an empty body is a request
};

constexpr std::array<route, 9> k_routes{{
    {"/user/getToken.json", endpoint::get_token, "getToken", true},
    {"/user/token/expire.json", endpoint::token_expire, "token/expire", true},
    {"/user/block.json", endpoint::block, "block", true},
    {"/user/unblock.json", endpoint::unblock, "unblock", true},
    {"/user/block/query.json", endpoint::block_query, "block/query", false},
    {"/user/checkOnline.json", endpoint::check_online, "checkOnline", true},
    {"/message/private/publish.json", endpoint::private_publish, "message/private/publish", true},
    {"/message/system/publish.json", endpoint::system_publish, "message/system/publish", true},
    {"/statusmessage/private/publish.json", endpoint::status_publish,
     "statusmessage/private/publish", true},
}};

const route* find_route(std::string_view path) noexcept {
  for (const auto& r : k_routes) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

api_reply fail(api_code code, std::string message) {
  return api_reply{code, std::move(message), {}};
}

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

// Digits only: no sign, no spaces, no exponent, fits in int64.
std::optional<std::int64_t> parse_non_negative(std::string_view text) noexcept {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::uint64_t distance(std::int64_t a, std::int64_t b) noexcept {
  // Unsigned wrap-around gives the exact distance even across the int64 range.
  return a > b ? static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b)
               : static_cast<std::uint64_t>(b) - static_cast<std::uint64_t>(a);
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  if (b > 0 && a > k_int64_max - b) return k_int64_max;
  return a + b;
}

// Same length is not secret (always 40 hex digits); the digits are compared in
// constant time, after lower-casing because some SDKs send upper-case hex.
bool signature_matches(std::string_view expected, std::string_view given) {
  if (given.size() != expected.size()) return false;
  std::string lowered(given);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ascii_lower);
  return CRYPTO_memcmp(expected.data(), lowered.data(), expected.size()) == 0;
}

// The media type may carry parameters (`; charset=UTF-8`); any charset is taken as
// UTF-8, which is what every SDK sends.
bool is_form_content_type(std::string_view content_type) noexcept {
  auto media = content_type.substr(0, content_type.find(';'));
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!media.empty() && blank(media.front())) media.remove_prefix(1);
  while (!media.empty() && blank(media.back())) media.remove_suffix(1);
  return iequals(media, "application/x-www-form-urlencoded");
}

using form = form_fields;  // protocol/api_request.hpp

// "YYYY-MM-DD HH:MM:SS" in UTC, truncated to the second.
std::string format_utc(std::int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{std::clamp<std::int64_t>(ms, 0, k_max_formatted_ms)}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{floor<seconds>(t - day)};
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02u %02d:%02d:%02d",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buffer.data();
}

// ---- parameters -------------------------------------------------------------------
// Each check returns an api_reply whose code is ok when the parameter is fine.

// A single-valued parameter: absent leaves `out` empty; given twice is ambiguous.
api_reply single(const form& f, std::string_view key, std::optional<std::string_view>& out) {
  const auto values = f.all(key);
  if (values.size() > 1) return fail(api_code::bad_parameter, std::string(key) + " given twice");
  if (values.size() == 1) out = values.front();
  return {};
}

// `key`: the parameter's name in errors (fromUserId, toUserId: the same rule).
api_reply check_user_id(std::string_view user_id, std::string_view key = "userId") {
  const std::string name(key);
  if (user_id.empty()) return fail(api_code::bad_parameter, name + " is empty");
  if (user_id.size() > token::k_max_user_id_size) {
    return fail(api_code::parameter_too_long, name + " is longer than 64 bytes");
  }
  if (!token::valid_user_id(user_id)) {
    return fail(api_code::bad_parameter, name + " may hold only letters, digits and + = - _");
  }
  return {};
}

api_reply one_user_id(const form& f, std::string_view& out) {
  std::optional<std::string_view> value;
  if (auto r = single(f, "userId", value); r.code != api_code::ok) return r;
  if (!value) return fail(api_code::bad_parameter, "userId is required");
  out = *value;
  return check_user_id(out);
}

// userId repeated 1..20 times; duplicates collapse so a user is acted on once.
api_reply user_id_list(const form& f, std::vector<std::string_view>& out) {
  const auto values = f.all("userId");
  if (values.empty()) return fail(api_code::bad_parameter, "userId is required");
  if (values.size() > k_max_user_ids) {
    return fail(api_code::bad_parameter, "at most 20 userId values per request");
  }
  out.clear();
  for (const auto id : values) {
    if (auto r = check_user_id(id); r.code != api_code::ok) return r;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return {};
}

// An integer in [min, max]; absent leaves `out` empty. `expected` says the range in errors.
api_reply integer(const form& f, std::string_view key, std::int64_t min, std::int64_t max,
                  std::string_view expected, std::optional<std::int64_t>& out) {
  std::optional<std::string_view> text;
  if (auto r = single(f, key, text); r.code != api_code::ok) return r;
  if (!text) return {};
  const auto value = parse_non_negative(*text);
  if (!value || *value < min || *value > max) {
    return fail(api_code::bad_parameter, std::string(key) + " must be " + std::string(expected));
  }
  out = value;
  return {};
}

std::string joined(const std::vector<std::string_view>& ids) {
  std::string out;
  for (const auto id : ids) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out;
}

// ---- endpoints --------------------------------------------------------------------

api_reply get_token(directory& dir, app_record& app, const form& f, std::int64_t now_ms,
                    std::string& log) {
  std::string_view user_id;
  if (auto r = one_user_id(f, user_id); r.code != api_code::ok) return r;
  log += " user=";
  log += user_id;
  std::optional<std::string_view> name;
  if (auto r = single(f, "name", name); r.code != api_code::ok) return r;
  if (name) {
    const auto chars = utf8_length(*name);
    if (!chars) return fail(api_code::bad_parameter, "name is not UTF-8");
    if (*chars > k_max_name_chars) {
      return fail(api_code::parameter_too_long, "name is longer than 64 characters");
    }
  }
  std::optional<std::string_view> portrait_uri;
  if (auto r = single(f, "portraitUri", portrait_uri); r.code != api_code::ok) return r;
  if (portrait_uri && portrait_uri->size() > k_max_portrait_uri_size) {
    return fail(api_code::parameter_too_long, "portraitUri is longer than 1024 bytes");
  }

  const bool is_new = app.users.find(user_id) == app.users.end();
  if (is_new && app.config.max_users > 0 && app.users.size() >= app.config.max_users) {
    return fail(api_code::user_limit_reached, "the app has reached its limit of " +
                                                  std::to_string(app.config.max_users) + " users");
  }
  // Issue before registering: a refusal leaves the directory as it was.
  auto issued = token::issue(app.config.key, user_id, app.config.secret, now_ms,
                             app.config.token_lifetime_ms);
  if (!issued) return fail(api_code::internal_error, "cannot issue a token for this app");
  auto& user = dir.ensure_user(app, user_id);
  if (name) user.name = *name;
  if (portrait_uri) user.portrait_uri = *portrait_uri;

  api_reply reply;
  reply.fields["userId"] = user_id;
  reply.fields["token"] = *issued;
  return reply;
}

api_reply token_expire(directory& dir, app_record& app, const form& f, std::string& log) {
  std::vector<std::string_view> users;
  if (auto r = user_id_list(f, users); r.code != api_code::ok) return r;
  std::optional<std::int64_t> time;
  if (auto r = integer(f, "time", 0, k_int64_max, "an integer (ms since the epoch)", time);
      r.code != api_code::ok) {
    return r;
  }
  if (!time) return fail(api_code::bad_parameter, "time is required");
  log += " users=" + joined(users) + " time=" + std::to_string(*time);
  // A user without a record gets one: a token minted for them elsewhere is revoked too.
  for (const auto id : users) dir.ensure_user(app, id).revoked_before_ms = *time;
  return {};
}

api_reply block(directory& dir, app_record& app, const api_hooks& hooks, const form& f,
                std::int64_t now_ms, std::string& log) {
  std::vector<std::string_view> users;
  if (auto r = user_id_list(f, users); r.code != api_code::ok) return r;
  std::optional<std::int64_t> minute;
  if (auto r = integer(f, "minute", 1, k_max_block_minutes, "an integer from 1 to 43200", minute);
      r.code != api_code::ok) {
    return r;
  }
  if (!minute) return fail(api_code::bad_parameter, "minute is required");
  log += " users=" + joined(users) + " minute=" + std::to_string(*minute);
  const auto until = saturating_add(now_ms, *minute * k_ms_per_minute);
  // All records first, then the disconnects: a device that reconnects from inside the
  // hook already finds its user blocked.
  for (const auto id : users) dir.ensure_user(app, id).blocked_until_ms = until;
  if (hooks.disconnect_user) {
    for (const auto id : users)
      hooks.disconnect_user(app.config.key, id, rc::code::conn_user_blocked);
  }
  return {};
}

api_reply unblock(app_record& app, const form& f, std::string& log) {
  std::vector<std::string_view> users;
  if (auto r = user_id_list(f, users); r.code != api_code::ok) return r;
  log += " users=" + joined(users);
  for (const auto id : users) {
    if (const auto it = app.users.find(id); it != app.users.end()) it->second.blocked_until_ms = 0;
  }
  return {};
}

api_reply block_query(const app_record& app, const form& f, std::int64_t now_ms, std::string& log) {
  std::optional<std::int64_t> page;
  if (auto r = integer(f, "page", 1, k_int64_max, "a positive integer", page);
      r.code != api_code::ok) {
    return r;
  }
  std::optional<std::int64_t> size;
  if (auto r = integer(f, "size", 1, k_max_page_size, "an integer from 1 to 200", size);
      r.code != api_code::ok) {
    return r;
  }
  const auto page_number = static_cast<std::uint64_t>(page.value_or(1));
  const auto page_size = static_cast<std::uint64_t>(size.value_or(k_default_page_size));
  log += " page=" + std::to_string(page_number) + " size=" + std::to_string(page_size);

  std::uint64_t total = 0;
  for (const auto& [id, user] : app.users) total += user.blocked(now_ms) ? 1 : 0;
  // (page - 1) * size may overflow for absurd pages; such a page is past the end anyway.
  const bool past_end = page_number - 1 > total / page_size;
  const std::uint64_t skip = past_end ? total : (page_number - 1) * page_size;

  boost::json::array listed;
  std::uint64_t index = 0;
  for (const auto& [id, user] : app.users) {
    if (!user.blocked(now_ms)) continue;
    if (index++ < skip) continue;
    if (listed.size() >= page_size) break;
    boost::json::object entry;
    entry["userId"] = id;
    entry["blockEndTime"] = format_utc(user.blocked_until_ms);
    listed.emplace_back(std::move(entry));
  }
  api_reply reply;
  reply.fields["total"] = total;
  reply.fields["users"] = std::move(listed);
  return reply;
}

api_reply check_online(const app_record& app, const api_hooks& hooks, const form& f,
                       std::string& log) {
  std::string_view user_id;
  if (auto r = one_user_id(f, user_id); r.code != api_code::ok) return r;
  const bool online = hooks.is_online && hooks.is_online(app.config.key, user_id);
  log += " user=";
  log += user_id;
  log += online ? " online" : " offline";
  api_reply reply;
  reply.fields["status"] = online ? "1" : "0";  // a string, as the real service sends it
  return reply;
}

// ---- messages (SPEC.md §8.1) -------------------------------------------------------

using rate_table = std::unordered_map<std::string, std::pair<std::int64_t, std::uint32_t>>;



// What sets the three publish endpoints apart.
struct publish_rules {
  messages::conversation type;
  std::size_t max_recipients;
  bool status;        // a status message: online devices only, no pushContent, no uids
  bool answers_uids;  // the answer lists messageUIDs
};

constexpr publish_rules k_private_rules{messages::conversation::private_chat,
                                        messages::k_max_recipients, false, true};
constexpr publish_rules k_system_rules{messages::conversation::system,
                                       messages::k_max_system_recipients, false, true};
constexpr publish_rules k_status_rules{messages::conversation::private_chat,
                                       messages::k_max_recipients, true, false};

// A single-valued parameter that must be present and non-empty.
api_reply required_text(const form& f, std::string_view key, std::string_view& out) {
  std::optional<std::string_view> value;
  if (auto r = single(f, key, value); r.code != api_code::ok) return r;
  if (!value) return fail(api_code::bad_parameter, std::string(key) + " is required");
  if (value->empty()) return fail(api_code::bad_parameter, std::string(key) + " is empty");
  out = *value;
  return {};
}

// toUserId repeated 1..`max` times (counted as given); duplicates collapse so a user gets
// one copy, in the order first given.
api_reply recipient_list(const form& f, std::size_t max, std::vector<std::string_view>& out) {
  const auto values = f.all("toUserId");
  if (values.empty()) return fail(api_code::bad_parameter, "toUserId is required");
  if (values.size() > max) {
    return fail(api_code::bad_parameter,
                "at most " + std::to_string(max) + " toUserId values per request");
  }
  out.clear();
  for (const auto id : values) {
    if (auto r = check_user_id(id, "toUserId"); r.code != api_code::ok) return r;
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return {};
}

// /message/private/publish.json, /message/system/publish.json and
// /statusmessage/private/publish.json. The optional flags of SPEC.md §8.1 (pushData,
// pushExt, count, verifyBlacklist, isPersisted, ...) are not read: accepted and ignored
// like any unknown parameter. isIncludeSender is read: 1 is refused.
api_reply publish(const app_record& app, const api_hooks& hooks, const messages_config& config,
                  rate_table& rate, const form& f, const publish_rules& rules, std::int64_t now_ms,
                  std::string& log) {
  std::optional<std::string_view> from;
  if (auto r = single(f, "fromUserId", from); r.code != api_code::ok) return r;
  if (!from) return fail(api_code::bad_parameter, "fromUserId is required");
  if (auto r = check_user_id(*from, "fromUserId"); r.code != api_code::ok) return r;

  std::vector<std::string_view> to;
  if (auto r = recipient_list(f, rules.max_recipients, to); r.code != api_code::ok) return r;

  std::string_view object_name;
  if (auto r = required_text(f, "objectName", object_name); r.code != api_code::ok) return r;
  const auto object_chars = utf8_length(object_name);
  if (!object_chars) return fail(api_code::bad_parameter, "objectName is not UTF-8");
  // 1002, not 1005: what the vendor's server SDKs report for it (SPEC.md §8.1).
  if (*object_chars > messages::k_max_object_name) {
    return fail(
        api_code::bad_parameter,
        "objectName is longer than " + std::to_string(messages::k_max_object_name) + " characters");
  }

  std::string_view content;
  if (auto r = required_text(f, "content", content); r.code != api_code::ok) return r;
  if (content.size() > config.max_content_bytes) {
    return fail(api_code::parameter_too_long,
                "content is longer than " + std::to_string(config.max_content_bytes) + " bytes");
  }

  std::optional<std::string_view> push_content;
  if (!rules.status) {
    if (auto r = single(f, "pushContent", push_content); r.code != api_code::ok) return r;
  }

  std::optional<std::int64_t> include_sender;
  if (auto r = integer(f, "isIncludeSender", 0, 1, "0 or 1", include_sender);
      r.code != api_code::ok) {
    return r;
  }
  if (include_sender == 1) {
    return fail(api_code::bad_parameter,
                "isIncludeSender=1: imock does not deliver to the sender yet");
  }

  log += " from=";
  log += *from;
  log += " to=" + std::to_string(to.size()) + " objectName=" + printable(object_name);

  // Fixed windows aligned to whole minutes of the server clock, like the request limit.
  const auto limit = config.api_recipients_per_min;
  const auto minute = now_ms / k_ms_per_minute;
  const auto window_key = std::string(app.config.key);
  if (limit > 0) {
    auto& [window, taken] = rate[window_key];
    if (window != minute) {
      window = minute;
      taken = 0;
    }
    if (std::uint64_t{taken} + to.size() > limit) {
      return fail(api_code::rate_limited, "more than " + std::to_string(limit) +
                                              " message recipients in one minute (" +
                                              std::to_string(taken) + " taken, this call has " +
                                              std::to_string(to.size()) + ")");
    }
  }
  if (!hooks.publish) return fail(api_code::internal_error, "this server delivers no messages");

  publish_request request;
  request.app = app.config.key;
  request.from = *from;
  request.to.assign(to.begin(), to.end());
  request.type = rules.type;
  request.object_name = object_name;
  request.content = content;
  if (push_content) request.push_content = *push_content;
  request.status = rules.status;
  const auto uids = hooks.publish(request);
  if (limit > 0) {
    // Looked up again: the hook ran in between. Counted only once published.
    auto& [window, taken] = rate[window_key];
    if (window != minute) {
      window = minute;
      taken = 0;
    }
    taken += static_cast<std::uint32_t>(to.size());
  }
  if (uids.size() != to.size()) {
    return fail(api_code::internal_error, "the message store answered " +
                                              std::to_string(uids.size()) + " uids for " +
                                              std::to_string(to.size()) + " recipients");
  }

  api_reply reply;
  if (rules.answers_uids) {
    boost::json::array listed;
    for (const auto& [user, uid] : uids) {
      boost::json::object entry;
      entry["userId"] = user;
      entry["messageUID"] = uid;
      listed.emplace_back(std::move(entry));
    }
    reply.fields["messageUIDs"] = std::move(listed);
  }
  return reply;
}

api_response to_response(const api_reply& reply) {
  boost::json::object body;
  body["code"] = static_cast<int>(reply.code);
  if (reply.code == api_code::ok) {
    for (const auto& field : reply.fields) body[field.key()] = field.value();
  } else {
    body["errorMessage"] = reply.message;
  }
  return api_response{http_status(reply.code), boost::json::serialize(body)};
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, k_max_logged_size)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (text.size() > k_max_logged_size) out += "...";
  return out;
}

std::optional<std::string_view> api_request::header(std::string_view name,
                                                    std::string_view alternative) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  if (alternative.empty()) return std::nullopt;
  return header(alternative);
}

int http_status(api_code code) noexcept {
  switch (code) {
    case api_code::ok:
      return 200;
    case api_code::not_found:
      return 404;
    case api_code::method_not_allowed:
      return 405;
    case api_code::bad_parameter:
    case api_code::no_post_data:
    case api_code::parameter_too_long:
      return 400;
    case api_code::secret_mismatch:
    case api_code::bad_signature:
    case api_code::app_blocked_or_deleted:
      return 401;
    case api_code::user_limit_reached:
      return 403;
    case api_code::rate_limited:
      return 429;
    case api_code::internal_timeout:
      return 504;
    case api_code::internal_error:
      break;
  }
  return 500;
}

api_response api_error(api_code code, std::string_view message) {
  return to_response(fail(code, std::string(message)));
}

server_api::server_api(directory& dir, const limits_config& limits, const messages_config& messages,
                       api_hooks hooks)
    : dir_(dir), limits_(limits), messages_(messages), hooks_(std::move(hooks)) {}

bool server_api::handles(std::string_view path) noexcept { return find_route(path) != nullptr; }

api_response server_api::handle(const api_request& request, std::int64_t now_ms) {
  std::string log_detail;
  api_reply reply;
  try {
    forget_expired_nonces(now_ms);
    reply = process(request, now_ms, log_detail);
  } catch (const std::exception& e) {
    reply = fail(api_code::internal_error, std::string("internal error: ") + e.what());
  } catch (...) {
    reply = fail(api_code::internal_error, "internal error");
  }
  try {
    auto response = to_response(reply);
    if (hooks_.log_call) {
      log_detail += " -> " + std::to_string(static_cast<int>(reply.code));
      if (reply.code != api_code::ok) log_detail += " (" + reply.message + ")";
      try {
        hooks_.log_call(log_detail);
      } catch (...) {
        // A failing log sink must not change what the app server is told.
      }
    }
    return response;
  } catch (...) {
    return api_response{500, R"({"code":1000,"errorMessage":"internal error"})"};
  }
}

api_reply server_api::process(const api_request& request, std::int64_t now_ms,
                              std::string& log_detail) {
  const route* r = find_route(request.path);
  log_detail = r != nullptr ? std::string(r->log_name) : printable(request.path);
  if (r == nullptr) return fail(api_code::not_found, "no such endpoint");
  if (request.method != "POST") {
    return fail(api_code::method_not_allowed, "use POST for the server API");
  }
  if (const auto key = request.header("app-key", "rc-app-key")) {
    log_detail += " app=" + printable(*key);
  }

  app_record* app = nullptr;
  if (auto auth = authenticate(request, now_ms, app); auth.code != api_code::ok) return auth;

  // curl -X POST with no data sends no Content-Type: fine when there is nothing to read.
  std::string_view content_type = request.content_type;
  if (content_type.empty()) content_type = request.header("content-type").value_or("");
  if ((!content_type.empty() || !request.body.empty()) && !is_form_content_type(content_type)) {
    return fail(api_code::bad_parameter, "Content-Type must be application/x-www-form-urlencoded");
  }
  if (request.body.empty() && r->needs_body) return fail(api_code::no_post_data, "no POST data");
  const auto fields = form::parse(request.body);
  if (!fields) return fail(api_code::bad_parameter, "malformed form body: bad %-escape");

  switch (r->which) {
    case endpoint::get_token:
      return get_token(dir_, *app, *fields, now_ms, log_detail);
    case endpoint::token_expire:
      return token_expire(dir_, *app, *fields, log_detail);
    case endpoint::block:
      return block(dir_, *app, hooks_, *fields, now_ms, log_detail);
    case endpoint::unblock:
      return unblock(*app, *fields, log_detail);
    case endpoint::block_query:
      return block_query(*app, *fields, now_ms, log_detail);
    case endpoint::check_online:
      return check_online(*app, hooks_, *fields, log_detail);
    case endpoint::private_publish:
      return publish(*app, hooks_, messages_, recipients_, *fields, k_private_rules, now_ms, log_detail);
    case endpoint::system_publish:
      return publish(*app, hooks_, messages_, recipients_, *fields, k_system_rules, now_ms, log_detail);
    case endpoint::status_publish:
      return publish(*app, hooks_, messages_, recipients_, *fields, k_status_rules, now_ms, log_detail);
  }
  return fail(api_code::internal_error, "unrouted endpoint");
}

api_reply server_api::authenticate(const api_request& request, std::int64_t now_ms,
                                   app_record*& app) {
  const auto key = request.header("app-key", "rc-app-key");
  if (!key || key->empty()) return fail(api_code::bad_parameter, "missing App-Key header");
  app_record* found = dir_.find_app(*key);
  if (found == nullptr) return fail(api_code::secret_mismatch, "unknown app key");

  const auto nonce = request.header("nonce", "rc-nonce");
  const auto timestamp = request.header("timestamp", "rc-timestamp");
  const auto signature = request.header("signature", "rc-signature");
  if (!nonce || nonce->empty()) return fail(api_code::bad_signature, "missing Nonce header");
  if (!timestamp || timestamp->empty()) {
    return fail(api_code::bad_signature, "missing Timestamp header");
  }
  if (!signature || signature->empty()) {
    return fail(api_code::bad_signature, "missing Signature header");
  }
  if (nonce->size() > k_max_nonce_size) {
    return fail(api_code::bad_signature, "Nonce is longer than 18 characters");
  }
  const auto stamp = parse_non_negative(*timestamp);
  if (!stamp) return fail(api_code::bad_signature, "Timestamp is not an integer");
  if (!signature_matches(api_signature(found->config.secret, *nonce, *timestamp), *signature)) {
    return fail(api_code::bad_signature, "signature mismatch");
  }

  const std::int64_t stamp_ms = *stamp < k_seconds_timestamp_limit ? *stamp * 1000 : *stamp;
  const auto window = limits_.signature_window_ms;
  std::string nonce_key;
  if (limits_.replay_protection) {
    if (distance(now_ms, stamp_ms) >
        static_cast<std::uint64_t>(std::max<std::int64_t>(window, 0))) {
      return fail(api_code::bad_signature, "stale Timestamp: more than " + std::to_string(window) +
                                               " ms away from the server's clock");
    }
    // Length-prefixed so no (app key, nonce) pair can spell another.
    nonce_key = std::to_string(found->config.key.size()) + ':' + found->config.key;
    nonce_key += *nonce;
    const auto seen = nonces_.find(nonce_key);
    if (seen != nonces_.end() && seen->second >= now_ms) {
      return fail(api_code::bad_signature, "nonce replayed inside the signature window");
    }
  }

  if (found->config.state != app_state::active) {
    return fail(api_code::app_blocked_or_deleted,
                "app is " + std::string(k_app_state_names.of(found->config.state)));
  }

  // Counted after authentication, so strangers cannot spend an app's quota.
  if (limits_.api_rate_limit_per_s > 0) {
    auto& [second, count] = rate_[found->config.key];
    const auto now_second = now_ms / 1000;
    if (second != now_second) {
      second = now_second;
      count = 0;
    }
    if (count >= limits_.api_rate_limit_per_s) {
      return fail(
          api_code::rate_limited,
          "more than " + std::to_string(limits_.api_rate_limit_per_s) + " requests in one second");
    }
    ++count;
  }

  // Remembered only once the request is let through: a refused request may be retried
  // with the same nonce. Kept until the request's own timestamp leaves the window;
  // after that a replay is refused as stale.
  if (limits_.replay_protection) {
    const auto forget_after = saturating_add(stamp_ms, window);
    nonces_[nonce_key] = forget_after;
    const auto at = std::upper_bound(
        nonce_order_.begin(), nonce_order_.end(), forget_after,
        [](std::int64_t t, const std::pair<std::int64_t, std::string>& e) { return t < e.first; });
    nonce_order_.emplace(at, forget_after, std::move(nonce_key));
  }
  app = found;
  return {};
}

void server_api::forget_expired_nonces(std::int64_t now_ms) {
  while (!nonce_order_.empty() && nonce_order_.front().first < now_ms) {
    auto& [forget_after, key] = nonce_order_.front();
    // The map may hold a later sighting of the same nonce (clock set back): keep that one.
    if (const auto it = nonces_.find(key); it != nonces_.end() && it->second == forget_after) {
      nonces_.erase(it);
    }
    nonce_order_.pop_front();
  }
}

}  // namespace imock::server
