// imock-server: the scriptable mock IM server. `imock-server --help` for the flags.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>


#include "imock/server/config.hpp"
#include "imock/server/server.hpp"

#ifndef IMOCK_VERSION
#define IMOCK_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace imock::server;
  CLI::App app{
      "imock-server: a scriptable mock of a RongCloud-style IM server.\n"
      "With no arguments it runs an embedded demo config on loopback (see --print-config).\n"
      "Docs: docs/server-config.md, docs/server-api.md, docs/admin-api.md, docs/protocol.md",
      "imock-server"};
  std::string config_file, mqtt, http, mqtts, https, tls_cert, tls_key, ready_file;
  std::string log_level = "info";
  bool self_signed = false, print_config = false, echo_events = false, version = false;
  double speed = 1.0;
  std::uint64_t seed = 1;
  app.add_option("--config", config_file, "YAML config file (default: the embedded demo config)")
      ->check(CLI::ExistingFile);
  app.add_option("--listen-mqtt", mqtt, "MQTT over TCP, HOST:PORT (default 127.0.0.1:18830)");
  app.add_option("--listen-http", http,
                 "HTTP: server API, admin API, /metrics, /healthz, WebSocket /mqtt "
                 "(default 127.0.0.1:18080)");
  app.add_option("--listen-mqtts", mqtts, "MQTT over TLS (default 127.0.0.1:18831 with TLS)");
  app.add_option("--listen-https", https, "HTTPS and WSS (default 127.0.0.1:18443 with TLS)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain for the TLS listeners")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key, "PEM private key for the TLS listeners")
      ->check(CLI::ExistingFile);
  app.add_flag("--tls-self-signed", self_signed,
               "generate a certificate at start (fingerprint printed) for tests and demos");
  std::uint32_t accept_queues = 0;
  app.add_option("--accept-queues", accept_queues,
                 "listen queues per MQTT port (SO_REUSEPORT), each up to net.core.somaxconn "
                 "connections deep; more absorb bigger reconnect storms (default 4)")
      ->check(CLI::Range(std::uint32_t{1}, k_max_accept_queues));
  app.add_option("--ready-file", ready_file,
                 "write every bound address as JSON to this file once all listeners are up");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("--events", echo_events, "print every event of the event log to stderr");
  app.add_option("--speed", speed, "run server time this many times faster (harness use)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed for probabilistic faults");
  std::string admin_token;
  app.add_option("--admin-token", admin_token,
                 "bearer token the admin API requires (also IMOCK_ADMIN_TOKEN or "
                 "listen.admin_token); needed when --listen-http is not on loopback");
  std::vector<std::string> console_files;
  app.add_option("--console-file", console_files,
                 "a file the console lists and shows (a conformance matrix, a storm chart: "
                 ".md, .svg, .html, ...); repeat for more")
      ->check(CLI::ExistingFile);
  app.add_flag("--print-config", print_config, "print the embedded default config and exit");

  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::printf("imock-server %s\n", IMOCK_VERSION);
    return 0;
  }
  if (print_config) {
    std::cout << default_config_yaml();
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  server_options opts;
  if (config_file.empty()) {
    opts.config = default_config();
  } else {
    config_error err;
    auto loaded = load_config(config_file, err);
    if (!loaded) {
      std::fprintf(stderr, "imock-server: %s\n", err.to_string().c_str());
      return 2;
    }
    opts.config = std::move(*loaded);
  }
  auto& listen = opts.config.listen;
  if (!mqtt.empty()) listen.mqtt = mqtt;
  if (!http.empty()) listen.http = http;
  if (!mqtts.empty()) listen.mqtts = mqtts;
  if (!https.empty()) listen.https = https;
  if (!tls_cert.empty()) listen.tls_cert = tls_cert;
  if (!tls_key.empty()) listen.tls_key = tls_key;
  if (self_signed) listen.tls_self_signed = true;
  if (accept_queues != 0) listen.accept_queues = accept_queues;
  // The flag over the environment over the config file.
  if (const char* env = std::getenv(k_admin_token_env); env != nullptr && *env != '\0') {
    listen.admin_token = env;
  }
  if (!admin_token.empty()) listen.admin_token = admin_token;
  if (auto why = admin_token_problem(listen)) {
    std::fprintf(stderr, "imock-server: %s\n", why->c_str());
    return 2;
  }
  if (!ready_file.empty()) opts.ready_file = ready_file;
  for (const auto& f : console_files) opts.console_files.emplace_back(f);
  opts.speed = speed;
  opts.fault_seed = seed;
  opts.echo_events = echo_events || log_level == "debug" || log_level == "trace";
  opts.handle_signals = true;

  const bool demo = config_file.empty();
  const bool token_set = !listen.admin_token.empty();
  const auto apps = opts.config.apps;
  try {
    server srv(std::move(opts));
    const bound_addresses bound = srv.start();
    std::printf("imock-server %s listening\n", IMOCK_VERSION);
    std::printf("  mqtt   mqtt://%s\n", bound.mqtt.c_str());
    std::printf(
        "  http   http://%s  (server API /user/..., admin /admin/..., navigation /navi.json, "
        "/metrics, ws://%s/mqtt)\n",
        bound.http.c_str(), bound.http.c_str());
    if (bound.mqtts) std::printf("  mqtts  mqtts://%s\n", bound.mqtts->c_str());
    if (bound.https)
      std::printf("  https  https://%s  (wss://%s/mqtt)\n", bound.https->c_str(),
                  bound.https->c_str());
    for (const auto& n : bound.navigation) {
      std::printf("  navi   http://%s/navi.json  (navigation only)\n", n.c_str());
    }
    std::printf("  console http://%s/console  (sessions, faults, the event log, recording)\n",
                bound.http.c_str());
    std::printf("  admin  %s\n", token_set ? "the admin API needs 'Authorization: Bearer TOKEN'"
                                          : "the admin API is open (loopback only)");
    if (!bound.tls_fingerprint_sha256.empty()) {
      std::printf("  TLS certificate SHA-256 fingerprint %s\n",
                  bound.tls_fingerprint_sha256.c_str());
    }
    for (const auto& a : apps) {
      std::printf("  app    key %s  secret %s  (%s%s)\n", a.key.c_str(), a.secret.c_str(),
                  std::string(to_string(a.state)).c_str(), demo ? ", embedded demo app" : "");
    }
    std::fflush(stdout);
    srv.run();
    spdlog::info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imock-server: %s\n", e.what());
    return 1;
  }
  return 0;
}
