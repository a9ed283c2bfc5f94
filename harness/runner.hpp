// Runs one scenario (steps.hpp) in the world its options choose:
//  - simulation (`mode = sim`): the hub and the reference connection machines (or
//    client programs in virtual time) on one virtual clock; exact timing,
//    deterministic, the whole suite in seconds;
//  - real sockets (`mode = real`): an in-process imock-server and the reference SDK
//    in-process, or another SDK through --client-cmd, or apps run by hand
//    (imock-harness serve); timing checks take a stated slack.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "imock/harness/scenario.hpp"
#include "imock/harness/real_world.hpp"
#include "imock/harness/steps.hpp"
#include "imock/server/config.hpp"

namespace imock::harness {

inline constexpr double k_default_speed = 20.0;
/// Real sockets: the default slack of timing checks, in ms of wall time (scaled by
/// the speed into scenario time): scheduling noise of a loaded machine.
inline constexpr double k_slack_wall_ms = 40.0;
/// ... and for a client program, which adds two pipes and a process to every event.
inline constexpr double k_slack_external_wall_ms = 100.0;

enum class run_mode { real, sim };
std::string_view to_string(run_mode m) noexcept;

struct run_options {
  run_mode mode = run_mode::real;
  /// Real sockets: scenario time runs this much faster than the wall clock, unless
  /// the scenario sets its own `speed`.
  double speed = k_default_speed;
  bool force_speed = false;  // --speed given: it wins over the scenario's
  /// Real sockets: the slack of timing checks in scenario ms; nullopt: the default
  /// (k_slack_wall_ms, or k_slack_external_wall_ms with a client program, x speed).
  std::optional<std::int64_t> slack_ms;
  /// Drive clients through this program (JSON lines on stdin/stdout, docs/scenarios.md)
  /// instead of the in-process reference SDK. Run with /bin/sh -c.
  std::optional<std::string> client_cmd;
  /// How long a client program may take to print its "ready" line (wall clock).
  std::chrono::milliseconds ready_wait{2000};
  /// Where local databases go (a fresh temporary folder when empty).
  std::filesystem::path data_dir;

    /// imock-harness serve: the clients are apps run by hand. Client actions ask for
  /// (and connect and disconnect wait for) what the app does; its connect attempts
  /// are what the server sees, so `attempt` expectations and `schedule` steps check
  /// the app's retries; other client expectations are skipped and said so.
  std::optional<hand_clients> by_hand;
  /// Where the server listens (default: ephemeral ports on loopback).
  std::optional<server::listen_config> listen;
  std::filesystem::path ready_file;  // the server's bound addresses, as JSON
  bool echo_events = false;          // the event log to stderr
  std::optional<std::uint64_t> seed;  // instead of the scenario's
  /// Real sockets: record the run (POST /admin/record/start before the first step) and
  /// write the recording here at the end (docs/console.md, "Recording").
  std::filesystem::path record_file;
};

scenario_result run_scenario(const scenario& s, const run_options& options);

/// A scenario in simulation (what run_scenario does for mode = sim): no sockets,
/// no threads; the same file and seed give the same trace. With `client_cmd`, each
/// client is that program, driven in virtual time (docs/scenarios.md, "Virtual time").
scenario_result run_simulated(const scenario& s,
                              const std::optional<std::string>& client_cmd = std::nullopt);

}  // namespace imock::harness
