// libFuzzer target for the signed server API (docs/server-api.md, server/server_api.cpp),
// driven through endpoints (server/endpoints.hpp), the object the HTTP port and the
// simulation hand their requests to, on a real hub. The fuzzer cannot compute SHA1, so
// the target signs a request itself when the input asks: only then do the form decoder
// and the endpoints behind authentication see the fuzzer's bytes.
//
// Input layout (the seeds in corpus/server_api/ follow it):
//   byte 0  the config: bit 0 replay protection off; bit 1 api_rate_limit 3 per s;
//           bit 2 max_users 4; bit 3 api_recipients_per_min 5; bit 4 token lifetime 1 min
//   then up to 8 requests, each:
//   byte    route: bits 0-3 the path: 0..8 an endpoint, 9 an endpoint (next byte) with
//           "?" and a short string, 10..15 a raw path (short string); bits 4-5 the
//           method: 0..2 POST, 3 a short string; bits 6-7 the content type: 0 the form
//           type, 1 the form type with a charset, 2 none, 3 a short string
//   byte    auth: bits 0-1: 0, 1 signed by the target, ms timestamp; 2 signed, seconds
//           timestamp; 3 the fuzzer's own four headers (short strings: app key, nonce,
//           timestamp, signature). bit 2: RC- header names; bit 3: upper-case hex;
//           bit 4: reuse the previous request's nonce; bit 5: a timestamp just outside
//           the signature window; bit 6: the content type as a header, not the field;
//           bit 7: extra headers follow (a count byte 0..3, then name and value as
//           short strings; names lower-cased as the HTTP layer does)
//   byte    time step before the request: bit 7 set: (b & 0x7f) minutes, else b * 10 ms
//   2 bytes the body's length (mod 4096), then the body.
//   The short strings a request takes come in the order of these fields: path, method,
//   content type, auth headers, extra headers.
//
// Checked for every answer: its HTTP status is one docs/server-api.md documents, but not
// 500 or 504 (the sans-IO core neither fails inside nor times out); the body is a JSON
// object with an integer "code"; 200 travels with HTTP 200, an error code with
// http_status(code) and a non-empty errorMessage.
// Differential: form_fields::parse agrees with a reference decoder written here from the
// doc's rules on every body. A request the target signed with a fresh nonce and a
// timestamp of now is never refused for its authentication; one with a stale timestamp
// or a replayed nonce always is (replay protection on). A getToken that answers 200 gives
// a token that verifies for the form's one userId; a publish that answers 200 lists one
// unique uid per distinct recipient, in the order given. At the end, GET /admin/events
// answers JSON with one `api` event per request the server API handled.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/endpoints.hpp"

namespace {

namespace json = boost::json;
namespace server = imock::server;
using imock::fuzz::check;
using server::api_code;

constexpr std::int64_t k_start_ms = 1'700'000'000'000;
constexpr std::int64_t k_window_ms = 5 * 60 * 1000;  // limits_config's default
constexpr std::int64_t k_lifetime_ms = 60'000;
constexpr std::string_view k_key = "fuzz-app";
constexpr std::string_view k_secret = "fuzz-secret";
constexpr std::size_t k_max_requests = 8;
constexpr std::size_t k_max_body = 4096;

constexpr std::string_view k_paths[] = {
    "/user/getToken.json",          "/user/token/expire.json",
    "/user/block.json",             "/user/unblock.json",
    "/user/block/query.json",       "/user/checkOnline.json",
    "/message/private/publish.json", "/message/system/publish.json",
    "/statusmessage/private/publish.json",
};
constexpr std::size_t k_get_token = 0;
constexpr std::size_t k_check_online = 5;
constexpr std::size_t k_private_publish = 6;
constexpr std::size_t k_status_publish = 8;
constexpr std::size_t k_no_endpoint = std::size(k_paths);  // a raw path that names none
constexpr std::size_t k_route_with_query = k_no_endpoint;  // route 9: an endpoint and "?..."

// The error codes a request gets only once past authentication (steps 13-15 of the
// table in docs/server-api.md): its nonce is remembered then. 1008 is left out: the
// request limit (step 12) refuses before the nonce is kept.
bool past_authentication(int code) {
  return code == 200 || code == 1002 || code == 1003 || code == 1005 || code == 2007;
}

bool is_auth_refusal(int code) { return code == 1001 || code == 1004 || code == 1006; }

bool documented_status(int s) {
  return s == 200 || s == 400 || s == 401 || s == 403 || s == 404 || s == 405 || s == 429;
}

bool documented_code(int c) {
  for (const int known : {200, 404, 405, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1008, 1050, 2007}) {
    if (c == known) return true;
  }
  return false;
}

// The form rules of docs/server-api.md, written again without the decoder's code: '+'
// is a space, %XX a byte (a bad or short escape fails the body), "key" alone has the
// value "", empty segments are skipped.
using fields = std::vector<std::pair<std::string, std::string>>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> reference_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] != '%') {
      out += s[i];
    } else if (s.size() - i < 3 || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) {
      return std::nullopt;
    } else {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    }
  }
  return out;
}

std::optional<fields> reference_form(std::string_view body) {
  fields out;
  std::size_t start = 0;
  while (start <= body.size()) {
    const auto end = std::min(body.find('&', start), body.size());
    const auto segment = body.substr(start, end - start);
    start = end + 1;
    if (segment.empty()) continue;
    const auto eq = segment.find('=');
    auto key = reference_decode(segment.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : reference_decode(segment.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::vector<std::string> values_of(const fields& f, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& [k, v] : f) {
    if (k == key) out.push_back(v);
  }
  return out;
}

// form_fields::parse and the reference agree: both refuse, or both give the same values
// in the same order for the keys the endpoints read and the body's first few others.
constexpr std::string_view k_read_keys[] = {"userId", "name", "portraitUri", "time", "minute",
                                            "page", "size", "fromUserId", "toUserId",
                                            "objectName", "content", "pushContent",
                                            "isIncludeSender"};
constexpr std::size_t k_other_keys_checked = 8;

void check_values(const imock::form_fields& decoded, const fields& expected, std::string_view key) {
  const auto got = decoded.all(key);
  const auto want = values_of(expected, key);
  check(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) check(got[i] == want[i]);
}

void check_form_decoder(std::string_view body, const std::optional<fields>& expected) {
  const auto decoded = imock::form_fields::parse(body);
  check(decoded.has_value() == expected.has_value());
  if (!decoded) return;
  for (const auto key : k_read_keys) check_values(*decoded, *expected, key);
  for (std::size_t i = 0; i < expected->size() && i < k_other_keys_checked; ++i) {
    check_values(*decoded, *expected, (*expected)[i].first);
  }
}

server::server_config config_from(std::uint8_t bits) {
  server::server_config c;
  server::app_config app;
  app.key = std::string(k_key);
  app.secret = std::string(k_secret);
  if (bits & 4) app.max_users = 4;
  if (bits & 16) app.token_lifetime_ms = k_lifetime_ms;
  c.apps = {app};
  c.limits.replay_protection = (bits & 1) == 0;
  if (bits & 2) c.limits.api_rate_limit_per_s = 3;
  if (bits & 8) c.messages.api_recipients_per_min = 5;
  return c;
}

// The server API only: the admin API and navigation have their own target.
class no_control final : public server::server_control {
 public:
  void apply(server::actions&& todo) override { applied += todo.size(); }
  void set_accept_mode(accept_mode) override {}
  [[nodiscard]] bool accepting() const override { return true; }
  void resume_accepting_after(std::int64_t) override {}
  void request_shutdown() override {}
  std::size_t applied = 0;
};

struct sent {
  std::size_t endpoint = k_no_endpoint;  // index into k_paths
  bool own_signature = false;         // signed by the target (auth modes 0..2)
  bool fresh = false;                 // ... with a new nonce and a timestamp of now
  bool stale = false;                 // ... with a timestamp outside the window
  bool replayed = false;              // ... with a nonce the server still remembers
  std::string nonce;
  std::int64_t stamp_ms = 0;          // the timestamp as the server reads it
  std::optional<fields> form;         // the reference decoding of the body
};

// What the server remembers of the last nonce the target signed with.
struct nonce_memory {
  enum class kept : std::uint8_t { no, yes, unknown };
  std::string nonce;
  kept state = kept::no;
  std::int64_t forget_after = 0;  // its timestamp + the window
};

class api_run {
 public:
  explicit api_run(std::uint8_t config_bits)
      : config_(config_from(config_bits)),
        hub_(config_, 1, k_start_ms),
        endpoints_(hub_, control_) {}

  void run(imock::fuzz::input& in) {
    for (std::size_t i = 0; i < k_max_requests && !in.empty(); ++i) one(in);
    check_event_log();
  }

 private:
  void one(imock::fuzz::input& in) {
    server::api_request r;
    sent s;
    const std::uint8_t route = in.byte();
    const std::uint8_t auth = in.byte();
    const std::uint8_t step = in.byte();
    now_ += (step & 0x80) ? std::int64_t{step & 0x7f} * 60'000 : std::int64_t{step} * 10;

    read_path(route & 0x0f, in, r, s);
    r.method = ((route >> 4) & 3) == 3 ? std::string(in.short_string()) : "POST";
    const auto content_type = read_content_type(route >> 6, in);
    add_auth(r, s, auth, in);
    if (auth & 0x40) {
      r.headers.emplace_back("content-type", content_type);
    } else {
      r.content_type = content_type;
    }
    if (auth & 0x80) add_extra_headers(r, s, (auth & 4) != 0, in);
    r.body = std::string(in.take(in.u16() % k_max_body));
    s.form = reference_form(r.body);
    check_form_decoder(r.body, s.form);

    const auto answer = endpoints_.handle(r, now_);
    if (s.endpoint != k_no_endpoint) ++api_requests_;
    check_answer(r, s, answer);
  }

  static void read_path(std::size_t which, imock::fuzz::input& in, server::api_request& r,
                        sent& s) {
    if (which < k_route_with_query) {
      s.endpoint = which;
      r.path = std::string(k_paths[which]);
      return;
    }
    if (which == k_route_with_query) {
      s.endpoint = in.pick(std::size(k_paths));
      r.path = std::string(k_paths[s.endpoint]) + "?" + std::string(in.short_string());
      return;
    }
    r.path = std::string(in.short_string());
    const auto bare = std::string_view(r.path).substr(0, r.path.find('?'));
    for (std::size_t e = 0; e < std::size(k_paths); ++e) {
      if (k_paths[e] == bare) s.endpoint = e;
    }
    // Raw paths stay away from the admin API and navigation: admin_api_fuzz has those.
    if (s.endpoint == k_no_endpoint && server::endpoints::handles(r.path)) r.path.insert(0, "/x");
  }

  static std::string read_content_type(unsigned choice, imock::fuzz::input& in) {
    switch (choice) {
      case 0: return "application/x-www-form-urlencoded";
      case 1: return "Application/X-WWW-Form-Urlencoded; charset=UTF-8";
      case 2: return "";
      default: return std::string(in.short_string());
    }
  }

  // Header names lower-cased, as the HTTP layer hands them over.
  static void add_extra_headers(server::api_request& r, sent& s, bool rc_spelling,
                                imock::fuzz::input& in) {
    for (std::size_t n = in.pick(4); n > 0; --n) {
      std::string name(in.short_string());
      for (char& c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      if (rc_spelling && shadows_auth(name)) s.own_signature = false;
      r.headers.emplace_back(std::move(name), std::string(in.short_string()));
    }
  }

  void add_auth(server::api_request& r, sent& s, std::uint8_t auth, imock::fuzz::input& in) {
    const std::string prefix = (auth & 4) ? "rc-" : "";
    std::string key(k_key);
    std::string timestamp;
    std::string signature;
    const unsigned mode = auth & 3;
    if (mode == 3) {
      key = std::string(in.short_string());
      s.nonce = std::string(in.short_string());
      timestamp = std::string(in.short_string());
      signature = std::string(in.short_string());
    } else {
      const bool reuse = (auth & 0x10) != 0 && !last_.nonce.empty();
      s.nonce = reuse ? last_.nonce : "n" + std::to_string(++nonces_);
      s.stale = (auth & 0x20) != 0;
      // A whole second outside the window, so that it is outside in either unit.
      const std::int64_t stamp = s.stale ? now_ - k_window_ms - 1000 : now_;
      timestamp = std::to_string(mode == 2 ? stamp / 1000 : stamp);
      s.stamp_ms = mode == 2 ? stamp / 1000 * 1000 : stamp;
      signature = imock::api_signature(k_secret, s.nonce, timestamp);
      if (auth & 8) {
        for (char& c : signature) {
          if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
        }
      }
      s.own_signature = true;
      s.fresh = !s.stale && !reuse;
      s.replayed = reuse && last_.state == nonce_memory::kept::yes && last_.forget_after >= now_;
      if (reuse && last_.state == nonce_memory::kept::unknown) s.own_signature = false;
    }
    r.headers.emplace_back(prefix + "app-key", key);
    r.headers.emplace_back(prefix + "nonce", s.nonce);
    r.headers.emplace_back(prefix + "timestamp", timestamp);
    r.headers.emplace_back(prefix + "signature", signature);
  }

  // An extra header with a plain name wins over the target's RC- one (docs/server-api.md,
  // "Authentication"): the target no longer knows what the server checks.
  static bool shadows_auth(std::string_view name) {
    return name == "app-key" || name == "nonce" || name == "timestamp" || name == "signature";
  }

  void check_answer(const server::api_request& r, const sent& s, const server::api_response& a) {
    check(documented_status(a.http_status));
    boost::system::error_code ec;
    const auto v = json::parse(a.body, ec);
    check(!ec && v.is_object());
    const auto& body = v.as_object();
    const auto* code_value = body.if_contains("code");
    check(code_value != nullptr && code_value->is_int64());
    const auto code = static_cast<int>(code_value->as_int64());
    const bool routed = s.endpoint != k_no_endpoint;
    if (!routed) {
      check(code == 404 && a.http_status == 404);
      return;
    }
    check(documented_code(code));
    check(code != static_cast<int>(api_code::internal_error) &&
          code != static_cast<int>(api_code::internal_timeout));
    if (code == 200) {
      check(a.http_status == 200);
    } else {
      check(a.http_status == server::http_status(static_cast<api_code>(code)));
      const auto* message = body.if_contains("errorMessage");
      check(message != nullptr && message->is_string() && !message->as_string().empty());
    }
    if (r.method != "POST") {
      check(code == 405);
      return;
    }
    check(code != 404 && code != 405);
    check_authentication(s, code);
    if (code == 200) check_success(s, body);
  }

  void check_authentication(const sent& s, int code) {
    if (!s.own_signature) return;
    const bool protect = config_.limits.replay_protection;
    if (s.fresh) check(!is_auth_refusal(code));
    if (s.stale) check(protect ? code == 1004 : !is_auth_refusal(code));
    if (s.replayed && protect) check(code == 1004);
    if (!protect) return;
    // The server keeps a nonce once its request passed authentication; 1008 may come
    // from before (the request limit) or after (the recipient limit) that point.
    const bool rate_limits = config_.limits.api_rate_limit_per_s > 0;
    if (past_authentication(code) || (code == 1008 && !rate_limits)) {
      last_ = {s.nonce, nonce_memory::kept::yes, s.stamp_ms + k_window_ms};
    } else if (code == 1008) {
      last_ = {s.nonce, nonce_memory::kept::unknown, 0};
    } else if (s.nonce != last_.nonce) {
      last_ = {s.nonce, nonce_memory::kept::no, 0};
    }  // a refused reuse leaves what the server kept as it was
  }

  void check_success(const sent& s, const json::object& body) {
    check(s.form.has_value());
    if (s.endpoint == k_get_token) check_token(*s.form, body);
    if (s.endpoint == k_check_online) {
      // No device ever connects in this target.
      const auto* status = body.if_contains("status");
      check(status != nullptr && status->is_string() && status->as_string() == "0");
    }
    if (s.endpoint >= k_private_publish && s.endpoint <= k_status_publish) check_uids(s, body);
  }

  void check_token(const fields& form, const json::object& body) {
    const auto ids = values_of(form, "userId");
    check(ids.size() == 1);
    const auto* user = body.if_contains("userId");
    const auto* token = body.if_contains("token");
    check(user != nullptr && user->is_string() && user->as_string() == ids.front());
    check(token != nullptr && token->is_string());
    const auto text = std::string_view(token->as_string());
    const auto result = imock::token::verify(text, k_key, k_secret, {.now_ms = now_});
    check(result.ok() && result.token_claims.has_value());
    const auto& claims = *result.token_claims;
    check(claims.user_id == ids.front() && claims.app_key == k_key && claims.issued_at_ms == now_);
    const auto lifetime = config_.apps.front().token_lifetime_ms;
    check(claims.expires_at_ms == (lifetime > 0 ? now_ + lifetime : 0));
    check(!imock::token::verify(text, k_key, "another-secret", {.now_ms = now_}).ok());
  }

  void check_uids(const sent& s, const json::object& body) {
    const auto* listed = body.if_contains("messageUIDs");
    if (s.endpoint == k_status_publish) {
      check(listed == nullptr);
      return;
    }
    std::vector<std::string> distinct;
    for (auto& id : values_of(*s.form, "toUserId")) {
      if (std::find(distinct.begin(), distinct.end(), id) == distinct.end()) distinct.push_back(id);
    }
    check(listed != nullptr && listed->is_array() && listed->as_array().size() == distinct.size());
    for (std::size_t i = 0; i < distinct.size(); ++i) {
      const auto& entry = listed->as_array()[i];
      check(entry.is_object());
      const auto* user = entry.as_object().if_contains("userId");
      const auto* uid = entry.as_object().if_contains("messageUID");
      check(user != nullptr && user->is_string() && user->as_string() == distinct[i]);
      check(uid != nullptr && uid->is_string() && !uid->as_string().empty());
      check(uids_.insert(std::string(uid->as_string())).second);  // unique per server run
    }
  }

  // Every server API request, answered or refused, wrote one `api` event (docs/server-api.md,
  // "Event log"), with the client's text in it: the admin API still reads them all as JSON.
  void check_event_log() {
    const auto answer = endpoints_.handle({.method = "GET", .path = "/admin/events?since=0"}, now_);
    check(answer.http_status == 200);
    boost::system::error_code ec;
    const auto v = json::parse(answer.body, ec);
    check(!ec && v.is_object() && v.as_object().contains("events"));
    std::size_t api_events = 0;
    for (const auto& e : v.as_object().at("events").as_array()) {
      api_events += e.as_object().at("kind").as_string() == "api" ? 1 : 0;
    }
    check(api_events == api_requests_);
  }

  const server::server_config config_;
  server::hub hub_;
  no_control control_;
  server::endpoints endpoints_;
  std::int64_t now_ = k_start_ms;
  std::uint64_t nonces_ = 0;
  nonce_memory last_;
  std::set<std::string> uids_;
  std::size_t api_requests_ = 0;  // requests that reached the server API
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  imock::fuzz::input in(data, size);
  api_run s(in.byte());
  s.run(in);
  return 0;
}
