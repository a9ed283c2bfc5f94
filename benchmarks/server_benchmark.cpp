// The server's connect path, in-process: the hub's decision alone (sans-IO: open,
// CONNECT, close) next to token verification, its largest part, measured in the same
// run; then the whole path over loopback TCP against a server on a thread.
//   build/release/benchmarks/server_benchmark [--benchmark_filter=Hub]
#include <benchmark/benchmark.h>

#include <string>
#include <thread>
#include <vector>

#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/server.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace {

using namespace imock;
using namespace imock::server;

constexpr std::int64_t k_now_ms = 1'790'000'000'000;
constexpr std::string_view k_app = "bench-app";
constexpr std::string_view k_secret = "bench-secret";
constexpr int k_users = 1000;  // CONNECTs rotate over this many users and devices

server_config bench_config() {
  server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  c.limits.max_connections = 1'000'000;
  return c;
}

std::vector<mqtt::connect> connects(std::int64_t now_ms, bool good_tokens) {
  std::vector<mqtt::connect> out;
  out.reserve(k_users);
  for (int i = 0; i < k_users; ++i) {
    const auto user = "user" + std::to_string(i);
    auto token = *token::issue(k_app, user, k_secret, now_ms);
    if (!good_tokens) token.back() = token.back() == 'A' ? 'B' : 'A';  // signature broken
    out.push_back(testing::connect_packet(k_app, token, "device" + std::to_string(i)));
  }
  return out;
}

// Baseline for the two hub benchmarks: what verifying one token costs.
void BM_TokenVerifyBaseline(benchmark::State& state) {
  const auto token = *token::issue(k_app, "user0", k_secret, k_now_ms);
  for (auto _ : state) {
    auto v = token::verify(token, k_app, k_secret, {.now_ms = k_now_ms});
    benchmark::DoNotOptimize(v);
  }
}

void run_hub_connect(benchmark::State& state, bool good_tokens) {
  hub h(bench_config(), 1, k_now_ms);
  const auto packets = connects(k_now_ms, good_tokens);
  std::size_t i = 0;
  benchmark::IterationCount refused = 0;
  for (auto _ : state) {
    const auto id = h.open(transport::tcp, "127.0.0.1:50000", k_now_ms);
    auto c = packets[i++ % packets.size()];
    auto out = h.on_packet(id, std::move(c), k_now_ms);
    const auto* ack =
        out.empty() || !out.front().send ? nullptr : std::get_if<mqtt::connack>(&*out.front().send);
    if (ack == nullptr) {
      state.SkipWithError("no CONNACK");
      break;
    }
    refused += ack->reason != 0 ? 1 : 0;
    h.on_closed(id, "benchmark", k_now_ms);
  }
  if (good_tokens ? refused != 0 : refused != state.iterations()) {
    state.SkipWithError("unexpected verdicts");
  }
  state.counters["connects/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// open + CONNECT (token verified, user indexed, CONNACK built, two events logged) + close.
void BM_HubConnectAccepted(benchmark::State& state) { run_hub_connect(state, true); }
// The same with a broken signature: refused with 31004.
void BM_HubConnectRefused(benchmark::State& state) { run_hub_connect(state, false); }

// The whole path over loopback: TCP connect, CONNECT, CONNACK, close, against
// imock-server on its own thread. Client and server share the machine, so this is
// a latency figure for one client at a time, not the server's capacity
// (imock-connect-bench and server_vs_mosquitto.sh measure that).
void BM_ServerConnectOverLoopback(benchmark::State& state) {
  auto config = bench_config();
  config.listen.mqtt = "127.0.0.1:0";
  config.listen.http = "127.0.0.1:0";
  imock::server::server srv(server_options{.config = config});
  const auto bound = srv.start();
  std::thread loop([&] { srv.run(); });
  const auto packets = connects(srv.now_ms(), true);
  std::size_t i = 0;
  for (auto _ : state) {
    std::string error;
    auto client = testing::wire_client::open(transport::tcp, bound, &error);
    if (!client) {
      state.SkipWithError(error.c_str());
      break;
    }
    client->send(packets[i++ % packets.size()]);
    const auto v = testing::verdict_of(client->receive());
    if (v.packet != "CONNACK" || v.reason != 0) {
      state.SkipWithError(v.to_string().c_str());
      break;
    }
  }
  srv.stop(1000);
  loop.join();
}

BENCHMARK(BM_TokenVerifyBaseline);
BENCHMARK(BM_HubConnectAccepted);
BENCHMARK(BM_HubConnectRefused);
BENCHMARK(BM_ServerConnectOverLoopback)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
