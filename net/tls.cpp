#include "imock/net/tls.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace imock::net {
namespace {

template <typename T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("TLS: " + what); }

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    if (i != 0) out.push_back(':');
    out.push_back(k_hex[md[i] >> 4]);
    out.push_back(k_hex[md[i] & 0xF]);
  }
  return out;
}

x509_ptr read_cert(std::string_view pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return x509_ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string read_file(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + std::string(what) + " file " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

pem_pair make_self_signed(std::string_view common_name) {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC P-256 key");
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                            "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1");
  if (san == nullptr) fail("cannot build the subjectAltName extension");
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign the certificate");

  pem_pair out;
  bio_ptr cert_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  out.cert_pem = bio_to_string(cert_bio.get());
  bio_ptr key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_to_string(key_bio.get());
  out.fingerprint_sha256 = fingerprint(cert.get());
  return out;
}

pem_pair load_pem_files(const std::filesystem::path& cert, const std::filesystem::path& key) {
  pem_pair out;
  out.cert_pem = read_file(cert, "certificate");
  out.key_pem = read_file(key, "key");
  x509_ptr parsed = read_cert(out.cert_pem);
  if (!parsed) fail("no PEM certificate in " + cert.string());
  bio_ptr key_bio(BIO_new_mem_buf(out.key_pem.data(), static_cast<int>(out.key_pem.size())));
  pkey_ptr parsed_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!parsed_key) fail("no PEM private key in " + key.string());
  if (X509_check_private_key(parsed.get(), parsed_key.get()) != 1) {
    fail("the key in " + key.string() + " does not match the certificate in " + cert.string());
  }
  out.fingerprint_sha256 = fingerprint(parsed.get());
  return out;
}

std::string fingerprint_sha256(std::string_view cert_pem) {
  x509_ptr cert = read_cert(cert_pem);
  return cert ? fingerprint(cert.get()) : std::string();
}

std::shared_ptr<boost::asio::ssl::context> make_server_context(const pem_pair& pem) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(pem.cert_pem), ec);
  if (ec) fail("bad certificate: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(pem.key_pem), ssl::context::pem, ec);
  if (ec) fail("bad private key: " + ec.message());
  // Idle TLS connections are what a storm holds by the thousand: let OpenSSL free
  // its read/write buffers between records.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // TLS 1.3 suites, ChaCha20-Poly1305 first by the server's choice: its per-connection
  // cipher state is smaller than AES-256-GCM's, OpenSSL's default (15.2 -> 14.8 KB per
  // idle connection; benchmarks/README.md). Every client still gets a suite it offers.
  SSL_CTX_set_ciphersuites(ctx->native_handle(),
                           "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> make_client_context(
    bool verify, const std::optional<std::filesystem::path>& ca_file, std::string_view ca_pem) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  if (!verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ca_file) {
    ctx->load_verify_file(ca_file->string(), ec);
    if (ec) fail("cannot load CA file " + ca_file->string() + ": " + ec.message());
  }
  if (!ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(ca_pem.data(), ca_pem.size()), ec);
    if (ec) fail("bad CA certificate: " + ec.message());
  }
  return ctx;
}

}  // namespace imock::net
