// libFuzzer target for the JSON-lines protocol of other clients (docs/scenarios.md,
// "Other clients"), from the harness's side: what a user's SDK driver prints is read,
// parsed and acted on by the harness. A driver is buggy by design; the harness must
// survive any output and still give a verdict that says why it failed.
//
// The real path, end to end: a fixed scenario (k_scenario, two clients and the steps
// that send the harness's commands: init, connect, send, resend, history, network,
// relaunch, disconnect, logout) runs in simulation (run_simulated) with every client
// being the program `cat FILE`, FILE holding this input. So each input is the stdout of
// a client program: lines of JSON events (ready, idle with next_timer_ms, status,
// success, error, message, link_open / link_send / link_close into the simulated
// server's MQTT decoder and hub, navigate, ...) or any bytes at all, read through the
// harness's bounded pipe reader (base/process.cpp). The program exits at the end of its
// output; the harness must notice and go on.
//
// Checks, for any input: no crash, no hang (every answer wait is bounded); the result
// is a simulated run of the scenario; a run that did not pass says what failed.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/harness/loader.hpp"
#include "imock/harness/runner.hpp"

namespace {

using imock::fuzz::check;
namespace harness = imock::harness;

constexpr const char* k_scenario = R"(name: json-lines-fuzz
description: Every command of the JSON-lines protocol, answered by the fuzzer's lines.
clients:
  alice:
  bob:
steps:
  - connect: alice
  - connect: bob
  - expect: {client: alice, success: alice, within: 2s}
  - expect: {client: bob, sync_completed: true, within: 2s}
  - fault: {on: send, user: alice, action: drop_ack, times: 1}
  - send: {client: alice, to: bob, text: hello}
  - expect: {client: bob, message: hello, within: 2s}
  - expect: {client: alice, send_error: 30003, within: 11s}
  - resend: alice
  - expect: {client: alice, sent: hello, within: 2s}
  - history: {client: bob, with: alice, messages: [hello]}
  - network_down: alice
  - network_up: alice
  - expect: {client: alice, status: 0, within: 5s}
  - kick: {user: bob}
  - expect: {client: bob, status: 6, code: 31010, within: 2s}
  - relaunch: alice
  - disconnect: alice
  - logout: bob
  - inbox: {client: bob, messages: [hello]}
)";

const harness::scenario& fixed_scenario() {
  static const harness::scenario s = [] {
    std::vector<harness::load_error> errors;
    auto loaded = harness::parse_scenario(k_scenario, "json-lines-fuzz.yaml", errors);
    if (!loaded) {
      for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      __builtin_trap();  // the target's own scenario must load
    }
    return *loaded;
  }();
  return s;
}

const std::string& input_file() {
  static const std::string path = "/tmp/imock-fuzz-json-lines-" + std::to_string(::getpid());
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(input_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    check(out.good());
  }
  const auto result = harness::run_simulated(fixed_scenario(), "exec cat " + input_file());
  check(result.mode == "sim");
  check(result.passed || !result.failure.empty());
  return 0;
}
