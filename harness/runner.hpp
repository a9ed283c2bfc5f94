// Runs one scenario: an in-process imock-server on ephemeral ports, the clients
// (the reference SDK in-process, or another SDK through --client-cmd), the steps in
// order; one timestamped trace of client events, server events and steps; each
// expectation checked against it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include "harness/scenario.hpp"

namespace imock::harness {

inline constexpr double k_default_speed = 20.0;

struct run_options {
  /// Scenario time runs this much faster than the wall clock, unless the scenario
  /// sets its own `speed`.
  double speed = k_default_speed;
  bool force_speed = false;  // --speed given: it wins over the scenario's
  /// Drive clients through this program (JSON lines on stdin/stdout, docs/scenarios.md)
  /// instead of the in-process reference SDK. Run with /bin/sh -c.
  std::optional<std::string> client_cmd;
  /// Where local databases go (a fresh temporary folder when empty).
  std::filesystem::path data_dir;

  /// Server-side mode (imock-server --scenario): no clients are started; a client you
  /// run yourself (a real app) plays them. Client actions wait for (connect,
  /// disconnect) or ask for (network, foreground) what the client does; connect
  /// attempts are read from the server's log, so `attempt` expectations and
  /// `schedule` steps check the real client's retries; other client expectations
  /// (status, callbacks) are skipped and said so.
  bool server_only = false;
  /// Listen addresses for server-side mode (default: ephemeral ports on loopback).
  std::optional<server::listen_config> listen;
  /// How long a client action waits for the real client, in scenario time.
  std::int64_t client_wait_ms = 300'000;
  /// Where server-side mode writes its instructions (stdout when empty).
  std::function<void(const std::string&)> say;
};

/// One line of the trace. `t_ms` is scenario time since the scenario started.
struct trace_entry {
  std::int64_t t_ms = 0;
  std::string source;  // a client's name, "server", or "step"
  std::string kind;  // status, db_opened, success, error, attempt, trace; server event kinds; step
  int status = -1;
  int code = 0;
  std::string user;
  std::string device;
  std::string detail;
  std::int64_t client_ms = 0;  // for attempts: the client's own clock
};

struct scenario_result {
  std::string name;
  std::string file;
  bool passed = false;
  std::string failure;           // what was expected and what was seen instead
  std::string failed_step;       // "file:line:col: step text"
  std::size_t failed_index = 0;  // trace index near the failure
  std::vector<trace_entry> trace;
  double wall_seconds = 0;
  double speed = 0;
};

scenario_result run_scenario(const scenario& s, const run_options& options);

/// "  12.345 alice   status 10 Connecting" lines for the whole trace or a window.
std::string render_trace(const std::vector<trace_entry>& trace, std::size_t from = 0,
                         std::size_t to = static_cast<std::size_t>(-1));
/// The failure as a person reads it: step, expectation, what was seen, trace around.
std::string render_failure(const scenario_result& r);
/// One JSON object per line.
std::string trace_jsonl(const std::vector<trace_entry>& trace);

}  // namespace imock::harness
