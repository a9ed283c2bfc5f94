// Hot paths of protocol/: the codec and the token. ns per operation.
//   build/release/benchmarks/protocol_benchmark [--benchmark_filter=Token]
#include <benchmark/benchmark.h>

#include <string>

#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"

namespace {

using namespace imock;

constexpr std::int64_t k_now_ms = 1'790'000'000'000;

mqtt::connect sample_connect() {
  mqtt::connect c;
  c.client_id = "device-0123456789";
  c.keep_alive = 30;
  c.username = "demo-app-key";
  c.password = *token::issue("demo-app-key", "user0001", "demo-secret", k_now_ms);
  c.props.session_expiry_interval = 0;
  c.props.receive_maximum = 64;
  c.props.user_properties = {
      {"imock-reconnect", "0"}, {"imock-reconnect-kick", "1"}, {"imock-platform", "ios"}};
  return c;
}

mqtt::publish sample_publish() {
  mqtt::publish p;
  p.qos = 1;
  p.topic = "im/demo-app-key/user0001/msg";
  p.packet_id = 42;
  p.payload = std::string(256, 'x');
  return p;
}

void run_encode(benchmark::State& state, const mqtt::packet& p) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    mqtt::encode(p, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}

void run_decode(benchmark::State& state, const mqtt::packet& p) {
  const std::string bytes = mqtt::encode(p);
  mqtt::decoder dec;
  std::error_code ec;
  for (auto _ : state) {
    dec.feed(bytes);
    auto got = dec.next(ec);
    benchmark::DoNotOptimize(got);
  }
  if (ec) {
    state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

void BM_EncodeConnect(benchmark::State& state) { run_encode(state, sample_connect()); }
void BM_DecodeConnect(benchmark::State& state) { run_decode(state, sample_connect()); }
void BM_EncodePublish(benchmark::State& state) { run_encode(state, sample_publish()); }
void BM_DecodePublish(benchmark::State& state) { run_decode(state, sample_publish()); }

void BM_TokenIssue(benchmark::State& state) {
  for (auto _ : state) {
    auto t = token::issue("demo-app-key", "user0001", "demo-secret", k_now_ms, 3'600'000);
    benchmark::DoNotOptimize(t);
  }
}

void BM_TokenVerify(benchmark::State& state) {
  const auto t = *token::issue("demo-app-key", "user0001", "demo-secret", k_now_ms, 3'600'000);
  const token::verify_options opts{.now_ms = k_now_ms + 1};
  for (auto _ : state) {
    auto r = token::verify(t, "demo-app-key", "demo-secret", opts);
    benchmark::DoNotOptimize(r);
  }
}

void BM_TokenPeek(benchmark::State& state) {
  const auto t = *token::issue("demo-app-key", "user0001", "demo-secret", k_now_ms);
  for (auto _ : state) {
    auto c = token::peek(t);
    benchmark::DoNotOptimize(c);
  }
}

BENCHMARK(BM_EncodeConnect);
BENCHMARK(BM_DecodeConnect);
BENCHMARK(BM_EncodePublish);
BENCHMARK(BM_DecodePublish);
BENCHMARK(BM_TokenIssue);
BENCHMARK(BM_TokenVerify);
BENCHMARK(BM_TokenPeek);

}  // namespace

BENCHMARK_MAIN();
