#include "imock/server/server_api.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "imock/protocol/token.hpp"

namespace imock::server {
namespace {

constexpr std::int64_t k_now = 1'700'000'000'000;   // 2023-11-14 22:13:20 UTC
constexpr std::int64_t k_window = 5LL * 60 * 1000;  // limits_config's default
const std::string k_key = "app-key-1";
const std::string k_secret = "app-secret-1";
const std::string k_form = "application/x-www-form-urlencoded";

struct disconnect_call {
  std::string app_key;
  std::string user_id;
  rc::code why;
};

class ServerApiTest : public ::testing::Test {
 protected:
  ServerApiTest() { add_app(k_key, k_secret); }

  app_record& add_app(const std::string& key, const std::string& secret) {
    app_config app;
    app.key = key;
    app.secret = secret;
    return dir_.upsert_app(app);
  }

  api_hooks hooks() {
    api_hooks h;
    h.is_online = [this](std::string_view app, std::string_view user) {
      if (throw_from_is_online_) throw std::runtime_error("hook failed");
      return app == k_key && online_.count(std::string(user)) > 0;
    };
    h.disconnect_user = [this](std::string_view app, std::string_view user, rc::code why) {
      disconnects_.push_back({std::string(app), std::string(user), why});
    };
    h.log_call = [this](std::string_view detail) { log_.push_back("api: " + std::string(detail)); };
    // Records the request; each recipient's copy gets "UID-1", "UID-2", ... in order.
    h.publish = [this](const publish_request& request) {
      published_.push_back(request);
      std::vector<recipient_uid> uids;
      for (const auto& user : request.to) uids.push_back({user, "UID-" + std::to_string(++uids_)});
      return uids;
    };
    return h;
  }

  std::string fresh_nonce() { return "n" + std::to_string(++nonce_counter_); }

  // A POST signed for `key`/`secret` with a fresh nonce and `timestamp` as sent.
  api_request signed_post(const std::string& path, const std::string& body,
                          const std::string& timestamp, const std::string& key = k_key,
                          const std::string& secret = k_secret) {
    const auto nonce = fresh_nonce();
    api_request r;
    r.method = "POST";
    r.path = path;
    r.content_type = k_form;
    r.headers = {{"app-key", key},
                 {"nonce", nonce},
                 {"timestamp", timestamp},
                 {"signature", api_signature(secret, nonce, timestamp)}};
    r.body = body;
    return r;
  }

  api_response post(const std::string& path, const std::string& body, std::int64_t now = k_now) {
    return api_.handle(signed_post(path, body, std::to_string(now)), now);
  }

  static void set_header(api_request& r, const std::string& name, const std::string& value) {
    for (auto& [k, v] : r.headers) {
      if (k == name) {
        v = value;
        return;
      }
    }
    r.headers.emplace_back(name, value);
  }

  static void drop_header(api_request& r, const std::string& name) {
    std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
  }

  static boost::json::object json(const api_response& r) {
    return boost::json::parse(r.body).as_object();
  }

  // The documented error shape with this HTTP status and code.
  static ::testing::AssertionResult is_error(const api_response& r, int http, int code) {
    const auto body = json(r);
    if (r.http_status == http && body.size() == 2 && body.contains("errorMessage") &&
        body.at("errorMessage").is_string() && body.at("code").as_int64() == code) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "expected HTTP " << http << " code " << code
                                         << ", got HTTP " << r.http_status << " " << r.body;
  }

  static ::testing::AssertionResult is_ok(const api_response& r) {
    if (r.http_status == 200 && json(r).at("code").as_int64() == 200) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "expected 200, got HTTP " << r.http_status << " " << r.body;
  }

  static std::string error_message(const api_response& r) {
    return std::string(json(r).at("errorMessage").as_string());
  }

  static std::string user_ids(int count) {
    std::string body;
    for (int i = 0; i < count; ++i)
      body += (i ? "&" : "") + std::string("userId=u") + std::to_string(i);
    return body;
  }

  directory dir_;
  limits_config limits_;
  messages_config messages_;
  std::vector<disconnect_call> disconnects_;
  std::set<std::string> online_;
  std::vector<std::string> log_;
  std::vector<publish_request> published_;
  int uids_ = 0;
  bool throw_from_is_online_ = false;
  int nonce_counter_ = 0;
  server_api api_{dir_, limits_, messages_, hooks()};
};

// ---- authentication ------------------------------------------------------------------

using ServerApiAuth = ServerApiTest;

TEST_F(ServerApiAuth, SignatureIsLowerHexSha1OfSecretNonceTimestamp) {
  // printf '%s' 'imock-demo-secret143141408710653491' | sha1sum
  EXPECT_EQ(api_signature("imock-demo-secret", "14314", "1408710653491"),
            "11bd7f9bf3f7e6ff7a1ebd364958e3f50c324ee5");
}

TEST_F(ServerApiAuth, AcceptsPlainHeaderNames) {
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1")));
}

TEST_F(ServerApiAuth, AcceptsRcPrefixedHeaderNames) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  for (auto& [name, value] : r.headers) name.insert(0, "rc-");
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
}

TEST_F(ServerApiAuth, AcceptsTimestampInMillisecondsOrSeconds) {
  EXPECT_TRUE(is_ok(api_.handle(
      signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now)), k_now)));
  EXPECT_TRUE(is_ok(api_.handle(
      signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now / 1000)), k_now)));
  // Seconds are converted, not compared raw: a second-timestamp 10 minutes off is stale.
  const auto stale =
      signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now / 1000 - 600));
  EXPECT_TRUE(is_error(api_.handle(stale, k_now), 401, 1004));
}

TEST_F(ServerApiAuth, AcceptsUpperCaseSignature) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  for (auto& [name, value] : r.headers) {
    if (name == "signature") {
      for (auto& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
}

TEST_F(ServerApiAuth, BadSignatureIs1004With401) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now), k_key,
                       "wrong-secret");
  EXPECT_TRUE(is_error(api_.handle(r, k_now), 401, 1004));
  auto truncated = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  set_header(truncated, "signature", api_signature(k_secret, "x", "1").substr(0, 39));
  EXPECT_TRUE(is_error(api_.handle(truncated, k_now), 401, 1004));
}

TEST_F(ServerApiAuth, SignatureCoversTheTimestampAsSent) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  set_header(r, "timestamp", std::to_string(k_now + 1));
  EXPECT_TRUE(is_error(api_.handle(r, k_now), 401, 1004));
}

TEST_F(ServerApiAuth, MissingAppKeyIs1002AndOtherMissingHeadersAre1004) {
  auto no_key = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  drop_header(no_key, "app-key");
  EXPECT_TRUE(is_error(api_.handle(no_key, k_now), 400, 1002));
  for (const std::string name : {"nonce", "timestamp", "signature"}) {
    auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
    drop_header(r, name);
    EXPECT_TRUE(is_error(api_.handle(r, k_now), 401, 1004)) << name;
  }
}

TEST_F(ServerApiAuth, NonceLongerThan18CharactersIs1004) {
  const auto with_nonce = [&](const std::string& nonce) {
    auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
    set_header(r, "nonce", nonce);
    set_header(r, "signature", api_signature(k_secret, nonce, std::to_string(k_now)));
    return api_.handle(r, k_now);
  };
  EXPECT_TRUE(is_ok(with_nonce(std::string(18, 'a'))));
  const auto refused = with_nonce(std::string(19, 'b'));
  EXPECT_TRUE(is_error(refused, 401, 1004));
  EXPECT_NE(error_message(refused).find("Nonce"), std::string::npos);
}

TEST_F(ServerApiAuth, NonNumericTimestampIs1004) {
  for (const std::string stamp : {"abc", "-1700000000000", "1.7e12", " 1700000000000"}) {
    EXPECT_TRUE(is_error(
        api_.handle(signed_post("/user/checkOnline.json", "userId=u1", stamp), k_now), 401, 1004))
        << stamp;
  }
}

TEST_F(ServerApiAuth, UnknownAppKeyIs1001) {
  auto r =
      signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now), "nope", k_secret);
  EXPECT_TRUE(is_error(api_.handle(r, k_now), 401, 1001));
}

TEST_F(ServerApiAuth, BlockedOrDeletedAppIs1006) {
  dir_.find_app(k_key)->config.state = app_state::blocked;
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1"), 401, 1006));
  dir_.find_app(k_key)->config.state = app_state::deleted;
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1"), 401, 1006));
  dir_.find_app(k_key)->config.state = app_state::active;
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1")));
}

// ---- replay protection ---------------------------------------------------------------

using ServerApiReplay = ServerApiTest;

TEST_F(ServerApiReplay, TimestampOutsideTheWindowIsStale) {
  const auto at = [&](std::int64_t stamp) {
    return api_.handle(signed_post("/user/checkOnline.json", "userId=u1", std::to_string(stamp)),
                       k_now);
  };
  EXPECT_TRUE(is_ok(at(k_now - k_window)));
  EXPECT_TRUE(is_ok(at(k_now + k_window)));
  const auto past = at(k_now - k_window - 1);
  EXPECT_TRUE(is_error(past, 401, 1004));
  EXPECT_NE(error_message(past).find("stale"), std::string::npos);
  EXPECT_TRUE(is_error(at(k_now + k_window + 1), 401, 1004));
}

TEST_F(ServerApiReplay, NonceSeenInsideTheWindowIsRefused) {
  const auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
  const auto replay = api_.handle(r, k_now + 1000);
  EXPECT_TRUE(is_error(replay, 401, 1004));
  EXPECT_NE(error_message(replay).find("replayed"), std::string::npos);
}

TEST_F(ServerApiReplay, NoncesAreRememberedPerAppKey) {
  add_app("app-key-2", "app-secret-2");
  auto first = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  EXPECT_TRUE(is_ok(api_.handle(first, k_now)));
  auto other = first;
  set_header(other, "app-key", "app-key-2");
  const auto nonce = std::find_if(first.headers.begin(), first.headers.end(), [](const auto& h) {
                       return h.first == "nonce";
                     })->second;
  set_header(other, "signature", api_signature("app-secret-2", nonce, std::to_string(k_now)));
  EXPECT_TRUE(is_ok(api_.handle(other, k_now)));
}

TEST_F(ServerApiReplay, RefusedRequestDoesNotSpendItsNonce) {
  auto bad = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  const auto good_signature = bad.headers.back().second;
  set_header(bad, "signature", std::string(40, '0'));
  EXPECT_TRUE(is_error(api_.handle(bad, k_now), 401, 1004));
  EXPECT_EQ(api_.remembered_nonces(), 0u);
  set_header(bad, "signature", good_signature);
  EXPECT_TRUE(is_ok(api_.handle(bad, k_now)));
}

TEST_F(ServerApiReplay, ProtectionOffAcceptsStaleTimestampAndReplayedNonce) {
  limits_.replay_protection = false;
  const auto old =
      signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now - 86'400'000));
  EXPECT_TRUE(is_ok(api_.handle(old, k_now)));
  EXPECT_TRUE(is_ok(api_.handle(old, k_now)));
  EXPECT_EQ(api_.remembered_nonces(), 0u);
}

TEST_F(ServerApiReplay, NonceIsForgottenOnceItsTimestampLeavesTheWindow) {
  const auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
  EXPECT_EQ(api_.remembered_nonces(), 1u);
  // Still inside the window: remembered, and the replay is refused.
  EXPECT_TRUE(is_error(api_.handle(r, k_now + k_window), 401, 1004));
  EXPECT_EQ(api_.remembered_nonces(), 1u);
  // One ms later the first nonce is gone; only the new request's nonce is kept.
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + k_window + 1)));
  EXPECT_EQ(api_.remembered_nonces(), 1u);
  // A replay now fails as stale, not as a replayed nonce.
  const auto late = api_.handle(r, k_now + k_window + 1);
  EXPECT_TRUE(is_error(late, 401, 1004));
  EXPECT_NE(error_message(late).find("stale"), std::string::npos);
}

TEST_F(ServerApiReplay, RememberedNoncesStayBoundedByTheWindow) {
  limits_.signature_window_ms = 10'000;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + i * 1000LL)));
    // Requests one second apart, a 10 s window: at most 11 timestamps are still live.
    ASSERT_LE(api_.remembered_nonces(), 11u);
  }
}

// ---- request shape -------------------------------------------------------------------

using ServerApiRequest = ServerApiTest;

TEST_F(ServerApiRequest, HandlesExactlyTheNineEndpoints) {
  for (const char* path :
       {"/user/getToken.json", "/user/token/expire.json", "/user/block.json", "/user/unblock.json",
        "/user/block/query.json", "/user/checkOnline.json", "/message/private/publish.json",
        "/message/system/publish.json", "/statusmessage/private/publish.json"}) {
    EXPECT_TRUE(server_api::handles(path)) << path;
  }
  EXPECT_FALSE(server_api::handles("/user/getToken"));
  EXPECT_FALSE(server_api::handles("/user/kick.json"));
  EXPECT_FALSE(server_api::handles("/message/group/publish.json"));
  EXPECT_FALSE(server_api::handles(""));
}

TEST_F(ServerApiRequest, UnknownPathIs404) {
  const auto r = post("/user/kick.json", "userId=u1");
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(json(r).at("code").as_int64(), 404);
}

TEST_F(ServerApiRequest, NonPostIs405) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  r.method = "GET";
  const auto response = api_.handle(r, k_now);
  EXPECT_EQ(response.http_status, 405);
  EXPECT_EQ(json(response).at("code").as_int64(), 405);
}

TEST_F(ServerApiRequest, WrongContentTypeIs1002) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  r.content_type = "application/json";
  EXPECT_TRUE(is_error(api_.handle(r, k_now), 400, 1002));
  auto none = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  none.content_type.clear();
  EXPECT_TRUE(is_error(api_.handle(none, k_now), 400, 1002));
}

TEST_F(ServerApiRequest, ContentTypeMayCarryCharset) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  r.content_type = "Application/X-WWW-Form-Urlencoded; charset=UTF-8";
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
}

TEST_F(ServerApiRequest, ContentTypeHeaderIsReadWhenTheFieldIsEmpty) {
  auto r = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now));
  r.content_type.clear();
  r.headers.emplace_back("content-type", k_form);
  EXPECT_TRUE(is_ok(api_.handle(r, k_now)));
}

TEST_F(ServerApiRequest, EmptyBodyIs1003WhenTheEndpointNeedsParameters) {
  EXPECT_TRUE(is_error(post("/user/getToken.json", ""), 400, 1003));
  auto query = signed_post("/user/block/query.json", "", std::to_string(k_now));
  query.content_type.clear();  // curl -X POST without data sends none
  EXPECT_TRUE(is_ok(api_.handle(query, k_now)));
}

TEST_F(ServerApiRequest, MalformedPercentEscapeIs1002) {
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u%2"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u%zz"), 400, 1002));
}

TEST_F(ServerApiRequest, EachRequestIsLogged) {
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=u1")));
  EXPECT_TRUE(is_error(post("/user/block.json", "userId=u1&minute=0"), 400, 1002));
  ASSERT_EQ(log_.size(), 2u);
  EXPECT_EQ(log_[0], "api: getToken app=app-key-1 user=u1 -> 200");
  EXPECT_EQ(log_[1].rfind("api: block app=app-key-1 -> 1002 (minute must be", 0), 0u) << log_[1];
}

TEST_F(ServerApiRequest, ExceptionFromAHookIs1000) {
  throw_from_is_online_ = true;
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1"), 500, 1000));
}

TEST_F(ServerApiRequest, WorksWithoutHooks) {
  server_api bare(dir_, limits_, messages_, api_hooks{});
  const auto online =
      bare.handle(signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now)), k_now);
  EXPECT_EQ(json(online).at("status"), "0");
  EXPECT_TRUE(is_ok(bare.handle(
      signed_post("/user/block.json", "userId=u1&minute=1", std::to_string(k_now)), k_now)));
  // A message has nowhere to go: an internal error, not a 200 that delivers nothing.
  EXPECT_TRUE(
      is_error(bare.handle(signed_post("/message/private/publish.json",
                                       "fromUserId=u1&toUserId=u2&objectName=RC:TxtMsg&content=x",
                                       std::to_string(k_now)),
                           k_now),
               500, 1000));
}

TEST_F(ServerApiRequest, ApiErrorHasTheDocumentedShapeAndStatus) {
  const auto r = api_error(api_code::internal_timeout, "took too long");
  EXPECT_EQ(r.http_status, 504);
  EXPECT_EQ(r.body, R"({"code":1050,"errorMessage":"took too long"})");
  EXPECT_EQ(http_status(api_code::rate_limited), 429);
  EXPECT_EQ(http_status(api_code::user_limit_reached), 403);
  EXPECT_EQ(http_status(api_code::parameter_too_long), 400);
}

// ---- form decoding -------------------------------------------------------------------

using ServerApiForm = ServerApiTest;

TEST_F(ServerApiForm, DecodesPlusAsSpaceAndPercentEscapes) {
  // %E5%BC%A0 is U+5F20 in UTF-8; %2B a literal '+', allowed in user ids.
  EXPECT_TRUE(
      is_ok(post("/user/getToken.json",
                 "userId=a%2Bb&name=Zhang+San%20%E5%BC%A0&portraitUri=http%3A%2F%2Fx%2Fp.png")));
  const auto* user = dir_.find_user(k_key, "a+b");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->name, "Zhang San \xE5\xBC\xA0");
  EXPECT_EQ(user->portrait_uri, "http://x/p.png");
}

TEST_F(ServerApiForm, RepeatedKeysFormALists) {
  EXPECT_TRUE(is_ok(post("/user/token/expire.json", "userId=a&time=5&userId=b")));
  EXPECT_EQ(dir_.find_user(k_key, "a")->revoked_before_ms, 5);
  EXPECT_EQ(dir_.find_user(k_key, "b")->revoked_before_ms, 5);
}

TEST_F(ServerApiForm, SingleValuedParameterGivenTwiceIs1002) {
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=a&userId=b"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/block.json", "userId=a&minute=1&minute=2"), 400, 1002));
}

TEST_F(ServerApiForm, UnknownParametersAndEmptySegmentsAreIgnored) {
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "&&extra=1&userId=u1&")));
}

// ---- /user/getToken.json -------------------------------------------------------------

using ServerApiGetToken = ServerApiTest;

TEST_F(ServerApiGetToken, IssuesATokenThatVerifiesForTheUser) {
  const auto r = post("/user/getToken.json", "userId=u1&name=Alice");
  ASSERT_TRUE(is_ok(r));
  const auto body = json(r);
  EXPECT_EQ(body.size(), 3u);
  EXPECT_EQ(body.at("userId"), "u1");
  const std::string token(body.at("token").as_string());
  const auto verified = token::verify(token, k_key, k_secret, {.now_ms = k_now + 1});
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified.token_claims->user_id, "u1");
  EXPECT_EQ(verified.token_claims->app_key, k_key);
  EXPECT_EQ(verified.token_claims->issued_at_ms, k_now);
  EXPECT_EQ(verified.token_claims->expires_at_ms, 0);  // permanent by default
}

TEST_F(ServerApiGetToken, TokenExpiresAfterTheAppsLifetime) {
  dir_.find_app(k_key)->config.token_lifetime_ms = 3'600'000;
  const auto r = post("/user/getToken.json", "userId=u1");
  ASSERT_TRUE(is_ok(r));
  const std::string token(json(r).at("token").as_string());
  const auto claims = token::peek(token);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->expires_at_ms, k_now + 3'600'000);
  EXPECT_EQ(token::verify(token, k_key, k_secret, {.now_ms = k_now + 3'600'000}).result,
            rc::code::conn_token_expire);
}

TEST_F(ServerApiGetToken, RegistersTheUserWithNameAndPortrait) {
  ASSERT_TRUE(is_ok(post("/user/getToken.json", "userId=u1&name=Alice&portraitUri=p1")));
  ASSERT_TRUE(is_ok(post("/user/getToken.json", "userId=u1")));  // absent fields kept
  const auto* user = dir_.find_user(k_key, "u1");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->name, "Alice");
  EXPECT_EQ(user->portrait_uri, "p1");
}

TEST_F(ServerApiGetToken, NewTokenDoesNotRevokeOlderOnes) {
  const std::string first(json(post("/user/getToken.json", "userId=u1")).at("token").as_string());
  const std::string second(
      json(post("/user/getToken.json", "userId=u1", k_now + 10)).at("token").as_string());
  EXPECT_NE(first, second);
  const auto* user = dir_.find_user(k_key, "u1");
  const token::verify_options options{.now_ms = k_now + 20,
                                      .revoked_before_ms = user->revoked_before_ms};
  EXPECT_TRUE(token::verify(first, k_key, k_secret, options).ok());
  EXPECT_TRUE(token::verify(second, k_key, k_secret, options).ok());
}

TEST_F(ServerApiGetToken, UserIdIsRequiredAndValidated) {
  EXPECT_TRUE(is_error(post("/user/getToken.json", "name=Alice"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId="), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=a.b"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=a+b"), 400, 1002));  // a space
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=" + std::string(64, 'u'))));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=" + std::string(65, 'u')), 400, 1005));
  EXPECT_EQ(dir_.find_app(k_key)->users.size(), 1u);
}

TEST_F(ServerApiGetToken, NameIsCountedInCharactersUpTo64) {
  std::string name;
  for (int i = 0; i < 64; ++i) name += "%E5%BC%A0";  // 64 characters, 192 bytes
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=u1&name=" + name)));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=u1&name=" + name + "x"), 400, 1005));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=u1&name=%FF"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=u1&name=%C0%AF"), 400, 1002));
}

TEST_F(ServerApiGetToken, PortraitUriLongerThan1024BytesIs1005) {
  EXPECT_TRUE(
      is_ok(post("/user/getToken.json", "userId=u1&portraitUri=" + std::string(1024, 'p'))));
  EXPECT_TRUE(is_error(
      post("/user/getToken.json", "userId=u1&portraitUri=" + std::string(1025, 'p')), 400, 1005));
}

TEST_F(ServerApiGetToken, NewUserBeyondMaxUsersIs2007) {
  dir_.find_app(k_key)->config.max_users = 2;
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=u1")));
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=u2")));
  EXPECT_TRUE(is_error(post("/user/getToken.json", "userId=u3"), 403, 2007));
  EXPECT_EQ(dir_.find_user(k_key, "u3"), nullptr);
  EXPECT_TRUE(is_ok(post("/user/getToken.json", "userId=u1")));  // known users still get tokens
}

// ---- /user/token/expire.json ---------------------------------------------------------

using ServerApiTokenExpire = ServerApiTest;

TEST_F(ServerApiTokenExpire, RevokesTokensIssuedBeforeTime) {
  const std::string token(json(post("/user/getToken.json", "userId=u1")).at("token").as_string());
  const auto r =
      post("/user/token/expire.json", "userId=u1&userId=ghost&time=" + std::to_string(k_now + 1));
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, R"({"code":200})");
  const auto* user = dir_.find_user(k_key, "u1");
  EXPECT_EQ(user->revoked_before_ms, k_now + 1);
  const auto verified = token::verify(
      token, k_key, k_secret, {.now_ms = k_now + 2, .revoked_before_ms = user->revoked_before_ms});
  EXPECT_EQ(verified.result, rc::code::conn_token_expire);  // the app's default revoked code
  // An unknown user gets a record, so a token minted elsewhere is revoked too.
  ASSERT_NE(dir_.find_user(k_key, "ghost"), nullptr);
  EXPECT_EQ(dir_.find_user(k_key, "ghost")->revoked_before_ms, k_now + 1);
}

TEST_F(ServerApiTokenExpire, TimeMustBeANonNegativeInteger) {
  EXPECT_TRUE(is_error(post("/user/token/expire.json", "userId=u1"), 400, 1002));
  for (const std::string time : {"", "abc", "-1", "1.5", "99999999999999999999"}) {
    EXPECT_TRUE(is_error(post("/user/token/expire.json", "userId=u1&time=" + time), 400, 1002))
        << time;
  }
}

TEST_F(ServerApiTokenExpire, TakesOneToTwentyUserIds) {
  EXPECT_TRUE(is_error(post("/user/token/expire.json", "time=1"), 400, 1002));
  EXPECT_TRUE(is_ok(post("/user/token/expire.json", user_ids(20) + "&time=1")));
  EXPECT_TRUE(is_error(post("/user/token/expire.json", user_ids(21) + "&time=1"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/token/expire.json", "time=1&userId=" + std::string(65, 'u')),
                       400, 1005));
}

// ---- /user/block.json, /user/unblock.json --------------------------------------------

using ServerApiBlock = ServerApiTest;

TEST_F(ServerApiBlock, BlocksForExactlyMinuteTimes60000MsAndDisconnects) {
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=u1&minute=10")));
  const auto* user = dir_.find_user(k_key, "u1");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->blocked_until_ms, k_now + 10LL * 60'000);
  EXPECT_TRUE(user->blocked(k_now + 599'999));
  EXPECT_FALSE(user->blocked(k_now + 600'000));
  ASSERT_EQ(disconnects_.size(), 1u);
  EXPECT_EQ(disconnects_[0].app_key, k_key);
  EXPECT_EQ(disconnects_[0].user_id, "u1");
  EXPECT_EQ(disconnects_[0].why, rc::code::conn_user_blocked);
  EXPECT_EQ(static_cast<int>(disconnects_[0].why), 31009);
}

TEST_F(ServerApiBlock, DisconnectsEachListedUserOnce) {
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=a&userId=b&userId=a&minute=1")));
  ASSERT_EQ(disconnects_.size(), 2u);
  EXPECT_EQ(disconnects_[0].user_id, "a");
  EXPECT_EQ(disconnects_[1].user_id, "b");
}

TEST_F(ServerApiBlock, MinuteMustBeFrom1To43200) {
  EXPECT_TRUE(is_error(post("/user/block.json", "userId=u1"), 400, 1002));
  for (const std::string minute : {"0", "43201", "ten", "", "-5"}) {
    EXPECT_TRUE(is_error(post("/user/block.json", "userId=u1&minute=" + minute), 400, 1002))
        << minute;
  }
  EXPECT_TRUE(disconnects_.empty());
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=u1&minute=43200")));
  EXPECT_EQ(dir_.find_user(k_key, "u1")->blocked_until_ms, k_now + 43'200LL * 60'000);
}

TEST_F(ServerApiBlock, TakesOneToTwentyUserIds) {
  EXPECT_TRUE(is_error(post("/user/block.json", "minute=1"), 400, 1002));
  EXPECT_TRUE(is_ok(post("/user/block.json", user_ids(20) + "&minute=1")));
  EXPECT_TRUE(is_error(post("/user/block.json", user_ids(21) + "&minute=1"), 400, 1002));
  EXPECT_TRUE(
      is_error(post("/user/block.json", "minute=1&userId=" + std::string(65, 'u')), 400, 1005));
}

TEST_F(ServerApiBlock, UnblockEndsTheBlock) {
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=u1&userId=u2&minute=5")));
  EXPECT_TRUE(is_ok(post("/user/unblock.json", "userId=u1&userId=nobody")));
  EXPECT_FALSE(dir_.find_user(k_key, "u1")->blocked(k_now));
  EXPECT_TRUE(dir_.find_user(k_key, "u2")->blocked(k_now));
  EXPECT_EQ(dir_.find_user(k_key, "nobody"), nullptr);  // nothing to undo, nothing created
}

TEST_F(ServerApiBlock, UnblockTakesOneToTwentyUserIds) {
  EXPECT_TRUE(is_error(post("/user/unblock.json", "x=1"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/unblock.json", user_ids(21)), 400, 1002));
  EXPECT_TRUE(is_ok(post("/user/unblock.json", user_ids(20))));
}

// ---- /user/block/query.json ----------------------------------------------------------

using ServerApiBlockQuery = ServerApiTest;

TEST_F(ServerApiBlockQuery, ListsCurrentlyBlockedUsersInIdOrderWithUtcEndTime) {
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=c&userId=a&minute=10")));
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=b&minute=1")));
  EXPECT_TRUE(is_ok(post("/user/block.json", "userId=d&minute=1")));
  EXPECT_TRUE(is_ok(post("/user/unblock.json", "userId=d")));
  dir_.find_user(k_key, "b")->blocked_until_ms = k_now;  // ended just now
  const auto r = post("/user/block/query.json", "page=1&size=50");
  ASSERT_TRUE(is_ok(r));
  EXPECT_EQ(r.body, R"({"code":200,"total":2,"users":[)"
                    R"({"userId":"a","blockEndTime":"2023-11-14 22:23:20"},)"
                    R"({"userId":"c","blockEndTime":"2023-11-14 22:23:20"}]})");
}

TEST_F(ServerApiBlockQuery, EndTimeIsTruncatedToTheSecond) {
  auto& app = *dir_.find_app(k_key);
  dir_.ensure_user(app, "u1").blocked_until_ms = k_now + 1'999;
  const auto users = json(post("/user/block/query.json", "")).at("users").as_array();
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].at("blockEndTime"), "2023-11-14 22:13:21");
}

TEST_F(ServerApiBlockQuery, PagesBySize) {
  EXPECT_TRUE(
      is_ok(post("/user/block.json", "userId=e&userId=d&userId=c&userId=b&userId=a&minute=1")));
  const auto page = [&](int number) {
    const auto body = json(post("/user/block/query.json", "size=2&page=" + std::to_string(number)));
    EXPECT_EQ(body.at("total").as_int64(), 5);
    std::string ids;
    for (const auto& u : body.at("users").as_array()) ids += u.at("userId").as_string();
    return ids;
  };
  EXPECT_EQ(page(1), "ab");
  EXPECT_EQ(page(2), "cd");
  EXPECT_EQ(page(3), "e");
  EXPECT_EQ(page(4), "");
}

TEST_F(ServerApiBlockQuery, DefaultsToTheFirstPageOf50) {
  auto& app = *dir_.find_app(k_key);
  for (int i = 0; i < 60; ++i)
    dir_.ensure_user(app, "u" + std::to_string(100 + i)).blocked_until_ms = k_now + 1;
  const auto body = json(post("/user/block/query.json", ""));
  EXPECT_EQ(body.at("total").as_int64(), 60);
  const auto& users = body.at("users").as_array();
  ASSERT_EQ(users.size(), 50u);
  EXPECT_EQ(users.front().at("userId"), "u100");
  EXPECT_EQ(users.back().at("userId"), "u149");
  EXPECT_EQ(json(post("/user/block/query.json", "page=2")).at("users").as_array().size(), 10u);
  EXPECT_EQ(json(post("/user/block/query.json", "page=9223372036854775807"))
                .at("users")
                .as_array()
                .size(),
            0u);
}

TEST_F(ServerApiBlockQuery, PageAndSizeAreValidated) {
  for (const std::string body : {"page=0", "page=x", "size=0", "size=201", "page=-1"}) {
    EXPECT_TRUE(is_error(post("/user/block/query.json", body), 400, 1002)) << body;
  }
  EXPECT_TRUE(is_ok(post("/user/block/query.json", "size=200")));
}

// ---- /user/checkOnline.json ----------------------------------------------------------

using ServerApiCheckOnline = ServerApiTest;

TEST_F(ServerApiCheckOnline, StatusIsTheStringOneOrZero) {
  online_.insert("u1");
  const auto on = post("/user/checkOnline.json", "userId=u1");
  EXPECT_EQ(on.body, R"({"code":200,"status":"1"})");
  const auto off = post("/user/checkOnline.json", "userId=u2");
  EXPECT_EQ(off.body, R"({"code":200,"status":"0"})");
}

TEST_F(ServerApiCheckOnline, UserIdIsRequiredAndValidated) {
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "user=u1"), 400, 1002));
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=a&userId=b"), 400, 1002));
  EXPECT_TRUE(
      is_error(post("/user/checkOnline.json", "userId=" + std::string(65, 'u')), 400, 1005));
}

// ---- rate limit ----------------------------------------------------------------------

using ServerApiRateLimit = ServerApiTest;

TEST_F(ServerApiRateLimit, BeyondTheLimitIs1008UntilTheNextSecond) {
  limits_.api_rate_limit_per_s = 2;
  // k_now is a whole second: k_now .. k_now + 999 is one window.
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now)));
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + 500)));
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1", k_now + 999), 429, 1008));
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + 1000)));
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + 1001)));
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1", k_now + 1002), 429, 1008));
}

TEST_F(ServerApiRateLimit, CountsEachAppKeySeparately) {
  limits_.api_rate_limit_per_s = 1;
  add_app("app-key-2", "app-secret-2");
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1")));
  EXPECT_TRUE(is_error(post("/user/checkOnline.json", "userId=u1"), 429, 1008));
  EXPECT_TRUE(is_ok(api_.handle(signed_post("/user/checkOnline.json", "userId=u1",
                                            std::to_string(k_now), "app-key-2", "app-secret-2"),
                                k_now)));
}

TEST_F(ServerApiRateLimit, UnauthenticatedRequestsDoNotCount) {
  limits_.api_rate_limit_per_s = 1;
  for (int i = 0; i < 5; ++i) {
    auto bad = signed_post("/user/checkOnline.json", "userId=u1", std::to_string(k_now), k_key,
                           "wrong-secret");
    EXPECT_TRUE(is_error(api_.handle(bad, k_now), 401, 1004));
  }
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1")));
}

TEST_F(ServerApiRateLimit, ZeroMeansNoLimit) {
  limits_.api_rate_limit_per_s = 0;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1")));
}

// ---- messages (SPEC.md §8.1) ---------------------------------------------------------

const std::string k_private = "/message/private/publish.json";
const std::string k_system = "/message/system/publish.json";
const std::string k_status = "/statusmessage/private/publish.json";
const std::vector<std::string> k_publish_paths{k_private, k_system, k_status};
// {"content":"hi"}, form-encoded.
const std::string k_text = "%7B%22content%22%3A%22hi%22%7D";

class ServerApiMessages : public ServerApiTest {
 protected:
  // The parameters every publish endpoint requires, to `count` recipients r0, r1, ...
  static std::string message(int count = 1, const std::string& object_name = "RC:TxtMsg",
                             const std::string& content = k_text) {
    std::string body = "fromUserId=u1";
    for (int i = 0; i < count; ++i) body += "&toUserId=r" + std::to_string(i);
    return body + "&objectName=" + object_name + "&content=" + content;
  }

  // The UTC millisecond at which the minute holding k_now starts.
  static constexpr std::int64_t k_minute = k_now - k_now % 60'000;
};

TEST_F(ServerApiMessages, PrivatePublishHandsTheMessageOverAndAnswersEachRecipientsUid) {
  const auto r = post(
      k_private, "fromUserId=u1&toUserId=u3&toUserId=u2&objectName=RC:TxtMsg&content=" + k_text +
                     "&pushContent=new+message");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, R"({"code":200,"messageUIDs":[{"userId":"u3","messageUID":"UID-1"},)"
                    R"({"userId":"u2","messageUID":"UID-2"}]})");
  ASSERT_EQ(published_.size(), 1u);
  const auto& m = published_[0];
  EXPECT_EQ(m.app, k_key);
  EXPECT_EQ(m.from, "u1");
  EXPECT_EQ(m.to, (std::vector<std::string>{"u3", "u2"}));
  EXPECT_EQ(m.type, messages::conversation::private_chat);
  EXPECT_EQ(m.object_name, "RC:TxtMsg");
  EXPECT_EQ(m.content, R"({"content":"hi"})");
  EXPECT_EQ(m.push_content, "new message");
  EXPECT_FALSE(m.status);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            "api: message/private/publish app=app-key-1 from=u1 to=2 "
            "objectName=RC:TxtMsg -> 200");
}

TEST_F(ServerApiMessages, SystemPublishIsASystemMessageWithTheSameAnswer) {
  const auto r =
      post(k_system, "fromUserId=notice&toUserId=u2&objectName=RC:TxtMsg&content=" + k_text +
                         "&pushContent=p");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, R"({"code":200,"messageUIDs":[{"userId":"u2","messageUID":"UID-1"}]})");
  ASSERT_EQ(published_.size(), 1u);
  const auto& m = published_[0];
  EXPECT_EQ(m.app, k_key);
  EXPECT_EQ(m.from, "notice");
  EXPECT_EQ(m.to, (std::vector<std::string>{"u2"}));
  EXPECT_EQ(m.type, messages::conversation::system);
  EXPECT_EQ(m.object_name, "RC:TxtMsg");
  EXPECT_EQ(m.content, R"({"content":"hi"})");
  EXPECT_EQ(m.push_content, "p");
  EXPECT_FALSE(m.status);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            "api: message/system/publish app=app-key-1 from=notice to=1 "
            "objectName=RC:TxtMsg -> 200");
}

TEST_F(ServerApiMessages, StatusPublishIsAStatusMessageAnsweredWithCodeOnly) {
  // pushContent is no parameter of a status message: ignored, never passed on.
  const auto r = post(k_status,
                      "fromUserId=u1&toUserId=u2&toUserId=u3&objectName=App:Typing"
                      "&content=%7B%7D&pushContent=p&verifyBlacklist=1");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, R"({"code":200})");
  ASSERT_EQ(published_.size(), 1u);
  const auto& m = published_[0];
  EXPECT_EQ(m.app, k_key);
  EXPECT_EQ(m.from, "u1");
  EXPECT_EQ(m.to, (std::vector<std::string>{"u2", "u3"}));
  EXPECT_EQ(m.type, messages::conversation::private_chat);
  EXPECT_EQ(m.object_name, "App:Typing");
  EXPECT_EQ(m.content, "{}");
  EXPECT_EQ(m.push_content, "");
  EXPECT_TRUE(m.status);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            "api: statusmessage/private/publish app=app-key-1 from=u1 to=2 "
            "objectName=App:Typing -> 200");
}

TEST_F(ServerApiMessages, PushContentIsOptional) {
  EXPECT_TRUE(is_ok(post(k_private, message())));
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].push_content, "");
  EXPECT_TRUE(is_error(post(k_private, message() + "&pushContent=a&pushContent=b"), 400, 1002));
}

TEST_F(ServerApiMessages, DuplicateRecipientsGetOneCopy) {
  const auto r = post(k_private,
                      "fromUserId=u1&toUserId=u2&toUserId=u3&toUserId=u2"
                      "&objectName=RC:TxtMsg&content=x");
  EXPECT_EQ(r.body, R"({"code":200,"messageUIDs":[{"userId":"u2","messageUID":"UID-1"},)"
                    R"({"userId":"u3","messageUID":"UID-2"}]})");
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].to, (std::vector<std::string>{"u2", "u3"}));
}

TEST_F(ServerApiMessages, OptionalFlagsAreAcceptedAndIgnored) {
  const std::string flags =
      "&pushData=d&pushExt=%7B%7D&count=3&verifyBlacklist=1&isPersisted=0&isCounted=0"
      "&contentAvailable=1&disablePush=true&expansion=true&extraContent=%7B%22k%22%3A%22v%22%7D"
      "&disableUpdateLastMsg=true&needReadReceipt=1&msgRandom=42&busChannel=b&whatever=1"
      "&isIncludeSender=0";
  for (const auto& path : k_publish_paths) {
    published_.clear();
    ASSERT_TRUE(is_ok(post(path, message(2) + flags))) << path;
    ASSERT_EQ(published_.size(), 1u) << path;
    EXPECT_EQ(published_[0].to, (std::vector<std::string>{"r0", "r1"})) << path;
    EXPECT_EQ(published_[0].content, R"({"content":"hi"})") << path;
  }
}

TEST_F(ServerApiMessages, EachRequiredParameterMissingIs1002NamingIt) {
  const std::vector<std::pair<std::string, std::string>> without{
      {"fromUserId", "toUserId=u2&objectName=RC:TxtMsg&content=x"},
      {"toUserId", "fromUserId=u1&objectName=RC:TxtMsg&content=x"},
      {"objectName", "fromUserId=u1&toUserId=u2&content=x"},
      {"content", "fromUserId=u1&toUserId=u2&objectName=RC:TxtMsg"},
  };
  for (const auto& path : k_publish_paths) {
    for (const auto& [name, body] : without) {
      const auto r = post(path, body);
      ASSERT_TRUE(is_error(r, 400, 1002)) << path << " " << name;
      EXPECT_EQ(error_message(r), name + " is required") << path;
    }
    // Present but empty is no better.
    for (const auto& [name, body] : without) {
      const auto r = post(path, body + "&" + name + "=");
      ASSERT_TRUE(is_error(r, 400, 1002)) << path << " " << name;
      EXPECT_EQ(error_message(r), name + " is empty") << path;
    }
  }
  EXPECT_TRUE(published_.empty());
}

TEST_F(ServerApiMessages, SenderAndRecipientsAreValidUserIds) {
  for (const auto& path : k_publish_paths) {
    const auto long_from =
        post(path, "fromUserId=" + std::string(65, 'u') + "&toUserId=u2&objectName=o&content=x");
    EXPECT_TRUE(is_error(long_from, 400, 1005)) << path;
    EXPECT_EQ(error_message(long_from), "fromUserId is longer than 64 bytes");
    const auto bad_from = post(path, "fromUserId=u%211&toUserId=u2&objectName=o&content=x");
    EXPECT_TRUE(is_error(bad_from, 400, 1002)) << path;
    EXPECT_EQ(error_message(bad_from).rfind("fromUserId may hold only", 0), 0u);
    const auto bad_to =
        post(path, "fromUserId=u1&toUserId=u2&toUserId=a%20b&objectName=o&content=x");
    EXPECT_TRUE(is_error(bad_to, 400, 1002)) << path;
    EXPECT_EQ(error_message(bad_to).rfind("toUserId may hold only", 0), 0u);
    EXPECT_TRUE(is_error(post(path,
                              "fromUserId=u1&fromUserId=u3&toUserId=u2&objectName=o"
                              "&content=x"),
                         400, 1002))
        << path;
    EXPECT_TRUE(is_ok(post(path, "fromUserId=" + std::string(64, 'u') + "&toUserId=" +
                                     std::string(64, 'v') + "&objectName=o&content=x")))
        << path;
  }
  EXPECT_EQ(published_.size(), 3u);
}

TEST_F(ServerApiMessages, PrivateAndStatusTakeUpTo1000Recipients) {
  ASSERT_EQ(messages::k_max_recipients, 1000u);
  for (const auto& path : {k_private, k_status}) {
    published_.clear();
    EXPECT_TRUE(is_ok(post(path, message(1000)))) << path;
    ASSERT_EQ(published_.size(), 1u);
    EXPECT_EQ(published_[0].to.size(), 1000u);
    EXPECT_EQ(published_[0].to.back(), "r999");
    const auto refused = post(path, message(1001));
    EXPECT_TRUE(is_error(refused, 400, 1002)) << path;
    EXPECT_EQ(error_message(refused), "at most 1000 toUserId values per request");
    EXPECT_EQ(published_.size(), 1u);
  }
}

TEST_F(ServerApiMessages, SystemTakesUpTo100Recipients) {
  ASSERT_EQ(messages::k_max_system_recipients, 100u);
  EXPECT_TRUE(is_ok(post(k_system, message(100))));
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].to.size(), 100u);
  const auto refused = post(k_system, message(101));
  EXPECT_TRUE(is_error(refused, 400, 1002));
  EXPECT_EQ(error_message(refused), "at most 100 toUserId values per request");
  EXPECT_EQ(published_.size(), 1u);
}

TEST_F(ServerApiMessages, ObjectNameIsUpTo32Characters) {
  ASSERT_EQ(messages::k_max_object_name, 32u);
  for (const auto& path : k_publish_paths) {
    published_.clear();
    EXPECT_TRUE(is_ok(post(path, message(1, std::string(32, 'o'))))) << path;
    // Characters, not bytes: 32 two-byte characters are 64 bytes.
    std::string wide;
    for (int i = 0; i < 32; ++i) wide += "%C3%A9";  // U+00E9
    EXPECT_TRUE(is_ok(post(path, message(1, wide)))) << path;
    ASSERT_EQ(published_.size(), 2u);
    EXPECT_EQ(published_[0].object_name, std::string(32, 'o'));
    const auto refused = post(path, message(1, std::string(33, 'o')));
    EXPECT_TRUE(is_error(refused, 400, 1002)) << path;
    EXPECT_EQ(error_message(refused), "objectName is longer than 32 characters");
    EXPECT_TRUE(is_error(post(path, message(1, "%FF")), 400, 1002)) << path;  // not UTF-8
    EXPECT_EQ(published_.size(), 2u);
  }
}

TEST_F(ServerApiMessages, ContentIsUpToMaxContentBytes) {
  ASSERT_EQ(messages_.max_content_bytes, 128u * 1024);
  for (const auto& path : k_publish_paths) {
    published_.clear();
    EXPECT_TRUE(is_ok(post(path, message(1, "RC:TxtMsg", std::string(128 * 1024, 'c'))))) << path;
    ASSERT_EQ(published_.size(), 1u);
    EXPECT_EQ(published_[0].content.size(), 128u * 1024);
    const auto refused = post(path, message(1, "RC:TxtMsg", std::string(128 * 1024 + 1, 'c')));
    EXPECT_TRUE(is_error(refused, 400, 1005)) << path;
    EXPECT_EQ(error_message(refused), "content is longer than 131072 bytes");
    EXPECT_EQ(published_.size(), 1u);
  }
  // The limit is the config's.
  messages_.max_content_bytes = 4;
  EXPECT_TRUE(is_ok(post(k_private, message(1, "RC:TxtMsg", "abcd"))));
  EXPECT_TRUE(is_error(post(k_private, message(1, "RC:TxtMsg", "abcde")), 400, 1005));
}

TEST_F(ServerApiMessages, IncludingTheSenderIsRefused) {
  for (const auto& path : k_publish_paths) {
    const auto refused = post(path, message() + "&isIncludeSender=1");
    EXPECT_TRUE(is_error(refused, 400, 1002)) << path;
    EXPECT_NE(error_message(refused).find("does not deliver to the sender"), std::string::npos);
    EXPECT_TRUE(is_error(post(path, message() + "&isIncludeSender=2"), 400, 1002)) << path;
    EXPECT_TRUE(is_error(post(path, message() + "&isIncludeSender=0&isIncludeSender=1"), 400, 1002))
        << path;
    EXPECT_TRUE(published_.empty()) << path;
  }
  for (const auto& path : k_publish_paths)
    EXPECT_TRUE(is_ok(post(path, message() + "&isIncludeSender=0")));
  EXPECT_EQ(published_.size(), 3u);
}

TEST_F(ServerApiMessages, BadSignatureIs1004AndPublishesNothing) {
  for (const auto& path : k_publish_paths) {
    auto r = signed_post(path, message(), std::to_string(k_now), k_key, "wrong-secret");
    EXPECT_TRUE(is_error(api_.handle(r, k_now), 401, 1004)) << path;
  }
  dir_.find_app(k_key)->config.state = app_state::blocked;
  EXPECT_TRUE(is_error(post(k_private, message()), 401, 1006));
  EXPECT_TRUE(published_.empty());
}

TEST_F(ServerApiMessages, RefusedCallIsLoggedWithItsReason) {
  EXPECT_TRUE(is_error(post(k_system, "fromUserId=u1&objectName=o&content=x"), 400, 1002));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0], "api: message/system/publish app=app-key-1 -> 1002 (toUserId is required)");
}

TEST_F(ServerApiMessages, LoggedObjectNameIsPrintable) {
  EXPECT_TRUE(is_ok(post(k_private, message(1, "a%0Ab"))));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            "api: message/private/publish app=app-key-1 from=u1 to=1 objectName=a?b -> 200");
}

TEST_F(ServerApiMessages, ExceptionFromThePublishHookIs1000) {
  api_hooks h = hooks();
  h.publish = [](const publish_request&) -> std::vector<recipient_uid> {
    throw std::runtime_error("store failed");
  };
  server_api api(dir_, limits_, messages_, std::move(h));
  EXPECT_TRUE(is_error(api.handle(signed_post(k_private, message(), std::to_string(k_now)), k_now),
                       500, 1000));
}

TEST_F(ServerApiMessages, PerSecondRequestLimitApplies) {
  limits_.api_rate_limit_per_s = 1;
  EXPECT_TRUE(is_ok(post(k_private, message())));
  EXPECT_TRUE(is_error(post(k_status, message()), 429, 1008));
  EXPECT_EQ(published_.size(), 1u);
}

// ---- message recipients per minute ---------------------------------------------------

using ServerApiRecipientLimit = ServerApiMessages;

TEST_F(ServerApiRecipientLimit, BeyondTheLimitIs1008AndPublishesNothingUntilTheNextMinute) {
  messages_.api_recipients_per_min = 3;
  EXPECT_TRUE(is_ok(post(k_private, message(2), k_minute)));
  const auto refused = post(k_private, message(2), k_minute + 30'000);
  EXPECT_TRUE(is_error(refused, 429, 1008));
  EXPECT_EQ(error_message(refused),
            "more than 3 message recipients in one minute (2 taken, this call has 2)");
  EXPECT_EQ(published_.size(), 1u);  // the hook was not called
  // The refused call took nothing: one more recipient still fits, exactly at the limit.
  EXPECT_TRUE(is_ok(post(k_private, message(1), k_minute + 59'999)));
  EXPECT_TRUE(is_error(post(k_private, message(1), k_minute + 59'999), 429, 1008));
  EXPECT_EQ(published_.size(), 2u);
  // Fixed windows: the next minute starts afresh.
  EXPECT_TRUE(is_ok(post(k_private, message(2), k_minute + 60'000)));
  EXPECT_EQ(published_.size(), 3u);
  EXPECT_EQ(log_[1].rfind("api: message/private/publish app=app-key-1 from=u1 to=2 "
                          "objectName=RC:TxtMsg -> 1008 (more than 3",
                          0),
            0u)
      << log_[1];
}

TEST_F(ServerApiRecipientLimit, ACallLargerThanTheLimitIsRefusedWhole) {
  messages_.api_recipients_per_min = 3;
  EXPECT_TRUE(is_error(post(k_status, message(4)), 429, 1008));
  EXPECT_TRUE(published_.empty());
  EXPECT_TRUE(is_ok(post(k_status, message(3))));
}

TEST_F(ServerApiRecipientLimit, TheThreeEndpointsShareOneBudget) {
  messages_.api_recipients_per_min = 3;
  EXPECT_TRUE(is_ok(post(k_private, message(1))));
  EXPECT_TRUE(is_ok(post(k_system, message(1))));
  EXPECT_TRUE(is_ok(post(k_status, message(1))));
  for (const auto& path : k_publish_paths) {
    EXPECT_TRUE(is_error(post(path, message(1)), 429, 1008)) << path;
  }
  EXPECT_EQ(published_.size(), 3u);
}

TEST_F(ServerApiRecipientLimit, CountsDistinctRecipientsOfPublishedMessagesOnly) {
  messages_.api_recipients_per_min = 3;
  // Refused for a bad parameter: counts nothing.
  EXPECT_TRUE(is_error(post(k_private, message(3, "")), 400, 1002));
  // u2 twice is one recipient.
  EXPECT_TRUE(is_ok(post(k_private,
                         "fromUserId=u1&toUserId=u2&toUserId=u2&toUserId=u3"
                         "&objectName=o&content=x")));
  EXPECT_TRUE(is_ok(post(k_private, message(1))));
  EXPECT_TRUE(is_error(post(k_private, message(1)), 429, 1008));
}

TEST_F(ServerApiRecipientLimit, CountsEachAppKeySeparately) {
  messages_.api_recipients_per_min = 2;
  add_app("app-key-2", "app-secret-2");
  EXPECT_TRUE(is_ok(post(k_private, message(2))));
  EXPECT_TRUE(is_error(post(k_private, message(1)), 429, 1008));
  EXPECT_TRUE(is_ok(api_.handle(
      signed_post(k_private, message(2), std::to_string(k_now), "app-key-2", "app-secret-2"),
      k_now)));
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_EQ(published_[1].app, "app-key-2");
}

TEST_F(ServerApiRecipientLimit, DefaultIs6000AndZeroMeansNoLimit) {
  ASSERT_EQ(messages_.api_recipients_per_min, 6000u);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(is_ok(post(k_private, message(1000)))) << i;
  EXPECT_TRUE(is_error(post(k_private, message(1)), 429, 1008));
  messages_.api_recipients_per_min = 0;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(is_ok(post(k_private, message(1000)))) << i;
  EXPECT_EQ(published_.size(), 9u);
}

TEST_F(ServerApiRecipientLimit, DoesNotTouchThePerSecondRequestLimit) {
  // Both limits live side by side for the same app key.
  limits_.api_rate_limit_per_s = 2;
  messages_.api_recipients_per_min = 1;
  EXPECT_TRUE(is_ok(post(k_private, message(1))));
  const auto recipients = post(k_private, message(1));
  EXPECT_TRUE(is_error(recipients, 429, 1008));
  EXPECT_NE(error_message(recipients).find("message recipients in one minute"), std::string::npos);
  const auto requests = post("/user/checkOnline.json", "userId=u1");
  EXPECT_TRUE(is_error(requests, 429, 1008));
  EXPECT_NE(error_message(requests).find("requests in one second"), std::string::npos);
  EXPECT_TRUE(is_ok(post("/user/checkOnline.json", "userId=u1", k_now + 1000)));
}

}  // namespace
}  // namespace imock::server
