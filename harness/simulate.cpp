// run_simulated lives apart from runner.cpp so that a program linking only the
// simulation (the mutants) does not pull in the real-socket world.
#include "imock/harness/runner.hpp"
#include "imock/harness/sim_world.hpp"

namespace imock::harness {

scenario_result run_simulated(const scenario& s, const std::optional<std::string>& client_cmd) {
  sim_world w(s, client_cmd);
  auto r = run_steps(s, w, {});
  r.mode = "sim";
  return r;
}

}  // namespace imock::harness
