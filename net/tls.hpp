// TLS material for the server and the clients: a self-signed certificate made at
// start (for tests and demos), PEM files, and ready-made Asio SSL contexts.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

namespace imock::net {

struct pem_pair {
  std::string cert_pem;
  std::string key_pem;
  std::string fingerprint_sha256;  // "AB:CD:..." of the DER certificate
};

/// A fresh self-signed certificate: EC P-256, CN `common_name`, subject alternative
/// names localhost, 127.0.0.1 and ::1, valid for 30 days. Throws std::runtime_error
/// if OpenSSL fails (a start-up failure).
pem_pair make_self_signed(std::string_view common_name = "imock");

/// Reads a certificate chain and a private key. Throws std::runtime_error naming the
/// file when one cannot be read or parsed, or when the key does not match.
pem_pair load_pem_files(const std::filesystem::path& cert, const std::filesystem::path& key);

/// SHA-256 fingerprint of the first certificate in `cert_pem`; empty if unparsable.
std::string fingerprint_sha256(std::string_view cert_pem);

/// A TLS 1.2+ server context using `pem`. Throws std::runtime_error on bad material.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const pem_pair& pem);

/// A TLS 1.2+ client context. With `verify`, peers are checked against the system
/// store plus `ca_file` / `ca_pem` when given; without, anything is accepted
/// (tests against a self-signed server).
std::shared_ptr<boost::asio::ssl::context> make_client_context(
    bool verify, const std::optional<std::filesystem::path>& ca_file = std::nullopt,
    std::string_view ca_pem = {});

}  // namespace imock::net
