#include "imock/client/token_fetch.hpp"

#include <openssl/rand.h>

#include <boost/json.hpp>
#include <chrono>

#include "imock/net/http_client.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/hex.hpp"

namespace imock::client {

token_result fetch_token(std::string_view api_base, std::string_view app_key,
                         std::string_view app_secret, std::string_view user_id) {
  token_result out;
  const auto url = net::parse_http_url(api_base, &out.error);
  if (!url) {
    out.error = "server API URL: " + out.error;
    return out;
  }
  unsigned char nonce_bytes[8];
  RAND_bytes(nonce_bytes, sizeof nonce_bytes);
  const std::string nonce =
      to_hex(std::string_view(reinterpret_cast<const char*>(nonce_bytes), sizeof nonce_bytes));
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  net::http_client http(*url);
  const auto res = http.request(
      "POST", url->path + "/user/getToken.json", "userId=" + form_escape(user_id),
      "application/x-www-form-urlencoded", signed_headers(app_key, app_secret, nonce, ts));
  if (!res.ok()) {
    out.error = "server API at " + std::string(api_base) + ": " + res.error;
    return out;
  }
  boost::system::error_code ec;
  const auto body = boost::json::parse(res.body, ec);
  if (ec || !body.is_object()) {
    out.error = "server API answered " + res.what();
    return out;
  }
  if (const auto* t = body.as_object().if_contains("token"); t != nullptr && t->is_string()) {
    out.token = std::string(t->as_string());
    return out;
  }
  out.error = "server API refused: " + res.body;
  return out;
}

}  // namespace imock::client
