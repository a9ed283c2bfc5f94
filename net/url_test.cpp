#include "imock/net/url.hpp"

#include <gtest/gtest.h>

namespace imock::net {
namespace {

TEST(ServerUrl, SchemesDefaultPortsAndPaths) {
  auto u = parse_server_url("wss://example.com/mqtt");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->via, transport::wss);
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/mqtt");
  u = parse_server_url("mqtt://127.0.0.1:18830");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->via, transport::tcp);
  EXPECT_EQ(u->port, 18830);
  EXPECT_EQ(u->to_string(), "mqtt://127.0.0.1:18830");
  EXPECT_EQ(parse_server_url("tcp://h")->port, 1883);
  EXPECT_EQ(parse_server_url("mqtts://h")->port, 8883);
  EXPECT_EQ(parse_server_url("tls://h")->via, transport::tls);
  EXPECT_EQ(parse_server_url("ssl://h")->via, transport::tls);
  EXPECT_EQ(parse_server_url("ws://h")->port, 80);
  EXPECT_EQ(parse_server_url("ws://h:8080/x/y")->path, "/x/y");
  EXPECT_EQ(parse_server_url("ws://h:8080")->to_string(), "ws://h:8080/mqtt");
  u = parse_server_url("mqtt://[::1]:1883");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->to_string(), "mqtt://[::1]:1883");
}

TEST(ServerUrl, BadOnesSayWhy) {
  std::string why;
  EXPECT_FALSE(parse_server_url("ftp://x", &why));
  EXPECT_EQ(why, "bad server URL 'ftp://x': scheme must be mqtt, mqtts, ws or wss");
  EXPECT_FALSE(parse_server_url("mqtt://", &why));
  EXPECT_EQ(why, "bad server URL 'mqtt://': no host");
  EXPECT_FALSE(parse_server_url("mqtt://h:99999", &why));
  EXPECT_NE(why.find("bad port"), std::string::npos) << why;
  EXPECT_FALSE(parse_server_url("not a url", &why));
  EXPECT_NE(why.find("bad server URL 'not a url'"), std::string::npos) << why;
}

TEST(HttpUrl, HostPortAndPath) {
  auto u = parse_http_url("http://127.0.0.1:18080");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 18080);
  EXPECT_EQ(u->path, "");
  EXPECT_EQ(u->authority(), "127.0.0.1:18080");
  EXPECT_EQ(parse_http_url("http://api.example/v1")->port, 80);
  EXPECT_EQ(parse_http_url("http://api.example/v1")->path, "/v1");
  std::string why;
  EXPECT_FALSE(parse_http_url("https://x", &why));
  EXPECT_EQ(why, "bad HTTP URL 'https://x': expected http://HOST:PORT");
}

}  // namespace
}  // namespace imock::net
