#include "imock/server/local_server.hpp"

namespace imock::server {

server_config on_ephemeral_ports(server_config c, bool tls) {
  c.listen.mqtt = "127.0.0.1:0";
  c.listen.http = "127.0.0.1:0";
  if (tls) {
    c.listen.mqtts = "127.0.0.1:0";
    c.listen.https = "127.0.0.1:0";
    if (!c.listen.tls_cert) c.listen.tls_self_signed = true;
  } else {
    c.listen.mqtts.reset();
    c.listen.https.reset();
  }
  c.listen.navigation.clear();
  return c;
}

local_server::local_server(server_options options)
    : server_(std::make_unique<server>(std::move(options))) {
  bound_ = server_->start();
  thread_ = std::thread([this] { server_->run(); });
}

local_server::~local_server() { stop(); }

void local_server::stop(std::int64_t grace_ms) {
  if (!thread_.joinable()) return;
  server_->stop(grace_ms);
  thread_.join();
}

std::string local_server::url(transport t) const {
  switch (t) {
    case transport::tcp: return "mqtt://" + bound_.mqtt;
    case transport::tls: return bound_.mqtts ? "mqtts://" + *bound_.mqtts : "";
    case transport::ws: return "ws://" + bound_.http + "/mqtt";
    case transport::wss: return bound_.https ? "wss://" + *bound_.https + "/mqtt" : "";
  }
  return "";
}

}  // namespace imock::server
