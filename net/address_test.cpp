#include "imock/net/address.hpp"

#include <gtest/gtest.h>

namespace imock::net {
namespace {

TEST(HostPort, ParsesIpv4HostnameAndBracketedIpv6) {
  EXPECT_EQ(parse_host_port("127.0.0.1:18830"), (host_port{"127.0.0.1", 18830}));
  EXPECT_EQ(parse_host_port("localhost:0"), (host_port{"localhost", 0}));
  EXPECT_EQ(parse_host_port("[::1]:443"), (host_port{"::1", 443}));
  EXPECT_EQ((host_port{"::1", 443}).to_string(), "[::1]:443");
  EXPECT_EQ((host_port{"127.0.0.1", 1}).to_string(), "127.0.0.1:1");
}

TEST(HostPort, RefusesWhatIsNotHostColonPortAndSaysWhy) {
  std::string why;
  EXPECT_FALSE(parse_host_port("127.0.0.1", &why));
  EXPECT_NE(why.find("HOST:PORT"), std::string::npos);
  EXPECT_FALSE(parse_host_port("127.0.0.1:70000", &why));
  EXPECT_NE(why.find("over 65535"), std::string::npos);
  EXPECT_FALSE(parse_host_port("127.0.0.1:http", &why));
  EXPECT_NE(why.find("not a number"), std::string::npos);
  EXPECT_FALSE(parse_host_port(":80", &why));
  EXPECT_FALSE(parse_host_port("::1:80", &why));
  EXPECT_NE(why.find("brackets"), std::string::npos);
  EXPECT_FALSE(parse_host_port("[::1]80", &why));
  EXPECT_FALSE(parse_host_port("127.0.0.1:", &why));
}

}  // namespace
}  // namespace imock::net
