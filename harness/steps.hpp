// Runs a scenario's steps in a world (world.hpp) and checks its expectations against
// the trace: the same code, and so the same verdicts, in simulation and over real
// sockets. runner.hpp picks the world.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "imock/harness/scenario.hpp"
#include "imock/harness/trace.hpp"
#include "imock/harness/world.hpp"

namespace imock::harness {

struct scenario_result {
  std::string name;
  std::string file;
  bool passed = false;
  std::string failure;           // what was expected and what was seen instead
  std::string failed_step;       // "file:line:col: step text"
  std::size_t failed_index = 0;  // trace index near the failure
  std::vector<trace_entry> trace;
  double wall_seconds = 0;
  double speed = 0;    // 0 in simulation
  std::string mode;    // "sim" or "real"
  std::string timing;  // how timing was checked (world::timing_note)
};

struct step_options {
  /// Added to `within` windows, `schedule` tolerances and the `status` wait (scenario
  /// ms): the wall clock's scheduling noise in real-socket runs; 0 in simulation.
    std::int64_t slack_ms = 0;
};

/// Starts `w`, runs the steps in order until one fails, stops `w`.
scenario_result run_steps(const scenario& s, world& w, const step_options& options);

/// The failure as a person reads it: step, expectation, what was seen, trace around.
std::string render_failure(const scenario_result& r);

}  // namespace imock::harness
