#include "imock/net/tls.hpp"

#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <fstream>
#include <string>

namespace imock::net {
namespace {

TEST(Tls, SelfSignedCertificateLoadsIntoAServerContext) {
  const pem_pair pem = make_self_signed();
  EXPECT_NE(pem.cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(pem.key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(pem.fingerprint_sha256.size(), 32u * 3 - 1);
  EXPECT_EQ(fingerprint_sha256(pem.cert_pem), pem.fingerprint_sha256);
  EXPECT_NE(make_server_context(pem), nullptr);
  EXPECT_NE(make_self_signed().fingerprint_sha256, pem.fingerprint_sha256);
}

TEST(Tls, LoadingFilesNamesTheFileThatIsWrong) {
  const auto dir = std::filesystem::temp_directory_path() / "imock-tls-test";
  std::filesystem::create_directories(dir);
  const pem_pair a = make_self_signed();
  const pem_pair b = make_self_signed();
  std::ofstream(dir / "a.crt") << a.cert_pem;
  std::ofstream(dir / "a.key") << a.key_pem;
  std::ofstream(dir / "b.key") << b.key_pem;
  std::ofstream(dir / "garbage.crt") << "not a certificate";
  EXPECT_EQ(load_pem_files(dir / "a.crt", dir / "a.key").fingerprint_sha256, a.fingerprint_sha256);
  try {
    load_pem_files(dir / "a.crt", dir / "b.key");
    FAIL() << "mismatched key accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  try {
    load_pem_files(dir / "garbage.crt", dir / "a.key");
    FAIL() << "garbage accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.crt"), std::string::npos) << e.what();
  }
  try {
    load_pem_files(dir / "missing.crt", dir / "a.key");
    FAIL() << "missing file accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.crt"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// A TLS 1.3 handshake in memory (a BIO pair, no sockets) between the server context
// and a client offering `client_suites` in its order of preference; the suite the
// server chose, or what failed.
std::string negotiated_suite(const char* client_suites) {
  const pem_pair pem = make_self_signed();
  const auto server_ctx = make_server_context(pem);
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(client_ctx, client_suites) != 1) return "bad client suites";
  SSL* server = SSL_new(server_ctx->native_handle());
  SSL* client = SSL_new(client_ctx);
  BIO* server_end = nullptr;
  BIO* client_end = nullptr;
  BIO_new_bio_pair(&server_end, 0, &client_end, 0);
  SSL_set_bio(server, server_end, server_end);
  SSL_set_bio(client, client_end, client_end);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  std::string result = "no handshake in 20 rounds";
  for (int round = 0; round < 20; ++round) {
    const int c = SSL_do_handshake(client);
    const int s = SSL_do_handshake(server);
    if (c == 1 && s == 1) {
      result = SSL_CIPHER_get_name(SSL_get_current_cipher(server));
      break;
    }
    const auto stuck = [](SSL* ssl, int rc) {
      const int e = SSL_get_error(ssl, rc);
      return rc != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
    };
    if (stuck(client, c) || stuck(server, s)) {
      result = "handshake failed";
      break;
    }
  }
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(client_ctx);
  return result;
}

// ChaCha20-Poly1305's cipher state is smaller than AES-GCM's: a TLS connection held
// by the server costs less memory (benchmarks/README.md). The server's preference
// wins over the client's order, and a client still gets a suite it offers.
TEST(Tls, TheServerPrefersChaCha20OverAClientsAesFirstOrder) {
  EXPECT_EQ(negotiated_suite("TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"),
            "TLS_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(negotiated_suite("TLS_AES_256_GCM_SHA384"), "TLS_AES_256_GCM_SHA384");
}

}  // namespace
}  // namespace imock::net
