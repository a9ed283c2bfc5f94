// imock-storm --sim: the same run (ramp, hold, storms, the same triggers, policies,
// report and chart) on the virtual-time engine (sim/) instead of sockets. The model:
//  - imock-server's hub, server API and admin API (sim::server_host), the very code
//    the real server runs;
//  - N reference connection machines (sim::client_host), the state machine the SDK
//    runs, with its reconnect schedule and jitter;
//  - a network with the kernel's listen queue (--sim-backlog), the client kernel's
//    SYN retransmission (1, 2, 4 ... 32 s) and a server that accepts one connection
//    every --sim-service-us (calibrated from a real run: docs/storm.md, "Simulation").
// One thread, no wall clock: a run is a pure function of its options and seed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "imock/benchmarks/storm/storm_driver.hpp"
#include "imock/benchmarks/storm/storm_target.hpp"

namespace imock::storm {

/// The simulated server and network: the run's clock and admin API, and the maker
/// of its clients.
class sim_world final : public run_clock, public admin_api {
 public:
  explicit sim_world(const options& o);
  ~sim_world() override;
  sim_world(const sim_world&) = delete;
  sim_world& operator=(const sim_world&) = delete;

  /// What a run calls the target: mqtt://imock.sim:1883, its HTTP port http://imock.sim.
  [[nodiscard]] std::string mqtt_url() const;
  [[nodiscard]] std::string http_base() const;

  // --- run_clock: virtual time ---
  std::int64_t now_us() override;
  /// Runs the simulation's events up to `t_us`. An event that cannot let time pass
  /// stops the run (error() says why).
  void wait_until(std::int64_t t_us) override;

  // --- admin_api: the simulated server's HTTP port, at the current virtual time ---
  http_result post(std::string_view path, std::string_view json_body,
                   int timeout_ms = 10'000) override;
  http_result get(std::string_view target, int timeout_ms = 10'000) override;

  /// The clients of `g`, machines of this world.
  std::unique_ptr<population> make_population(const group_options& g);

  /// What the model did (SYNs dropped, the accept queue's peak, events run, wall
  /// time), for the run's notes.
  [[nodiscard]] std::string model_notes() const;
  /// Empty, or why the simulation could not go on.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
  std::string error_;
};

}  // namespace imock::storm
