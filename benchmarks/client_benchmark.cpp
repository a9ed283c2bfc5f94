// The reference client's state machine: events per second through the paths a
// storm exercises, and the memory an idle (connected) machine holds.
//   build/release/benchmarks/client_benchmark
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <vector>

#include "imock/client/connection.hpp"
#include "imock/protocol/token.hpp"

namespace {

using namespace imock;

constexpr std::int64_t k_now = 1'790'000'000'000;

// Heap in use: small chunks plus mmapped ones (the machine array is one big block).
std::size_t heap_bytes() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

std::shared_ptr<const client::options> shared_options() {
  static const auto opts = [] {
    auto o = std::make_shared<client::options>();
    o->app_key = "bench-app";
    o->device_id = "bench-device";
    return o;
  }();
  return opts;
}

const std::string& bench_token() {
  static const std::string t = *token::issue("bench-app", "bench-user", "secret", k_now);
  return t;
}

mqtt::packet connack_ok() {
  mqtt::connack ack;
  ack.props.user_properties.emplace_back("user-id", "bench-user");
  return ack;
}

// Drives one machine from connect() to Connected; returns the events it took.
int connect_cycle(client::connection& c, std::int64_t& now, client::actions& out,
                  const mqtt::packet& ack) {
  out.clear();
  c.connect(bench_token(), 0, now, out);
  c.database_opened(rc::code::ok, now, out);
  c.transport_up(now, out);
  c.packet_received(ack, now, out);
  return 4;
}

// connect -> Connected -> drop -> reconnect timer -> Connected -> disconnect: the
// events of one storm cycle for one client.
void BM_ConnectDropReconnectCycle(benchmark::State& state) {
  client::connection c;
  c.init(shared_options(), 1);
  client::actions out;
  out.reserve(32);
  const auto ack = connack_ok();
  std::int64_t now = k_now;
  std::int64_t events = 0;
  for (auto _ : state) {
    events += connect_cycle(c, now, out, ack);
    c.transport_closed(now, out);
    now += 50;
    c.timer_fired(client::timer_id::reconnect, now, out);
    c.transport_up(now, out);
    c.packet_received(ack, now, out);
    c.disconnect(now, out);
    events += 5;
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

// A connected machine's steady state: heartbeat timer, PINGREQ, PINGRESP.
void BM_HeartbeatEvent(benchmark::State& state) {
  client::connection c;
  c.init(shared_options(), 1);
  client::actions out;
  out.reserve(32);
  std::int64_t now = k_now;
  connect_cycle(c, now, out, connack_ok());
  const mqtt::packet pong = mqtt::pingresp{};
  for (auto _ : state) {
    out.clear();
    now += 30'000;
    c.timer_fired(client::timer_id::heartbeat, now, out);
    c.packet_received(pong, now, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 2), benchmark::Counter::kIsRate);
}

// Heap + object bytes per connected, idle machine (options shared, as imock-storm
// shares them), measured with mallinfo2 over 10,000 machines.
void BM_IdleMachineMemory(benchmark::State& state) {
  const int n = 10'000;
  for (auto _ : state) {
    const auto before = heap_bytes();
    auto machines = std::make_unique<client::connection[]>(n);
    client::actions out;
    out.reserve(32);
    std::int64_t now = k_now;
    const auto ack = connack_ok();
    for (int i = 0; i < n; ++i) {
      machines[i].init(shared_options(), static_cast<std::uint64_t>(i));
      connect_cycle(machines[i], now, out, ack);
    }
    const auto after = heap_bytes();
    state.counters["bytes_per_machine"] = static_cast<double>(after - before) / n;
    state.counters["sizeof_connection"] = sizeof(client::connection);
    benchmark::DoNotOptimize(machines.get());
  }
}

BENCHMARK(BM_ConnectDropReconnectCycle);
BENCHMARK(BM_HeartbeatEvent);
BENCHMARK(BM_IdleMachineMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
