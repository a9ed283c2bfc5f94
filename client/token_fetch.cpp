#include "client/token_fetch.hpp"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <chrono>

namespace imock::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(k_hex[p[i] >> 4]);
    out.push_back(k_hex[p[i] & 0xF]);
  }
  return out;
}

std::string form_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char k_hex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

token_result fetch_token(std::string_view api_base, std::string_view app_key,
                         std::string_view app_secret, std::string_view user_id) {
  token_result out;
  const auto url = boost::urls::parse_uri(api_base);
  if (!url || url->scheme() != "http" || url->encoded_host().empty()) {
    out.error = "server API URL must be http://HOST:PORT, got '" + std::string(api_base) + "'";
    return out;
  }
  const std::string host(url->encoded_host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";

  unsigned char nonce_bytes[8];
  RAND_bytes(nonce_bytes, sizeof nonce_bytes);
  const std::string nonce = hex(nonce_bytes, sizeof nonce_bytes);
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  const std::string to_sign = std::string(app_secret) + nonce + ts;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), digest);

  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req(http::verb::post, "/user/getToken.json", 11);
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.set("App-Key", app_key);
    req.set("Nonce", nonce);
    req.set("Timestamp", ts);
    req.set("Signature", hex(digest, sizeof digest));
    req.body() = "userId=" + form_escape(user_id);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    boost::system::error_code ec;
    const auto body = boost::json::parse(res.body(), ec);
    if (ec || !body.is_object()) {
      out.error =
          "server API answered HTTP " + std::to_string(res.result_int()) + ": " + res.body();
      return out;
    }
    const auto& o = body.as_object();
    if (const auto* t = o.if_contains("token"); t != nullptr && t->is_string()) {
      out.token = std::string(t->as_string());
      return out;
    }
    out.error = "server API refused: " + res.body();
  } catch (const std::exception& e) {
    out.error = "server API at " + std::string(api_base) + ": " + e.what();
  }
  return out;
}

}  // namespace imock::client
