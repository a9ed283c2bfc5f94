// A scenario in simulation: the hub (with the server's own API and admin endpoints)
// and one reference connection machine per client, on one discrete-event clock,
// joined by the in-memory network of sim/. No sockets, no threads, no wall clock:
// timing is exact to the millisecond and a run is a pure function of the file and
// its seed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "imock/harness/world.hpp"
#include "imock/sim/client_host.hpp"
#include "imock/sim/scheduler.hpp"
#include "imock/sim/server_host.hpp"

namespace imock::harness {

class sim_world final : public world {
 public:
  /// Virtual time starts here (2026-01-01T00:00:00Z): tokens and server API
  /// timestamps then read as ordinary dates, and every run starts at the same instant.
  static constexpr std::int64_t k_epoch_ms = 1'767'225'600'000;

  /// `client_cmd`: drive each client through this program in virtual time (JSON
  /// lines, docs/scenarios.md "Virtual time") instead of the in-process machine.
  explicit sim_world(const scenario& s, std::optional<std::string> client_cmd = std::nullopt);
  ~sim_world() override;

  void start() override;
  void stop() override;
  std::int64_t now_ms() override { return clock_.now() - k_epoch_ms; }
  std::int64_t server_now_ms() override { return clock_.now(); }
  bool wait(std::int64_t until_ms, const std::function<bool()>& done) override;
  server::api_response request(const server::api_request& r) override;
  harness_client& client(const client_spec& spec) override;
  std::string timing_note() const override;

  [[nodiscard]] std::uint64_t events_run() const noexcept { return clock_.events_run(); }

 private:
  class sim_client;
  class program_client;

  const scenario& s_;
  std::optional<std::string> client_cmd_;
  sim::scheduler clock_{k_epoch_ms};
  std::unique_ptr<sim::server_host> server_;
  std::map<std::string, std::unique_ptr<harness_client>> clients_;
  bool stopped_ = false;
};

}  // namespace imock::harness
