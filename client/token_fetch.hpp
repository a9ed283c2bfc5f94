// Fetching a token the way an app server does: the signed server API
// (POST /user/getToken.json with App-Key, Nonce, Timestamp, Signature).
#pragma once

#include <string>
#include <string_view>

namespace imock::client {

struct token_result {
  std::string token;  // empty on failure
  std::string error;  // what went wrong, for a person
};

/// `api_base` is "http://HOST:PORT" (the imock-server HTTP port). Bounded by 10 s.
token_result fetch_token(std::string_view api_base, std::string_view app_key,
                         std::string_view app_secret, std::string_view user_id);

}  // namespace imock::client
