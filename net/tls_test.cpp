#include "imock/net/tls.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace imock::net
