#include "imock/harness/runner.hpp"

#include "imock/harness/real_world.hpp"
#include "imock/harness/sim_world.hpp"

namespace imock::harness {

std::string_view to_string(run_mode m) noexcept { return m == run_mode::sim ? "sim" : "real"; }

scenario_result run_scenario(const scenario& file, const run_options& options) {
  scenario s = file;
  if (options.seed) s.seed = *options.seed;
  if (options.mode == run_mode::sim) return run_simulated(s, options.client_cmd);
  const double speed = options.force_speed ? options.speed : s.speed.value_or(options.speed);
  const double wall_slack = options.client_cmd ? k_slack_external_wall_ms : k_slack_wall_ms;
  const auto slack = options.slack_ms.value_or(static_cast<std::int64_t>(wall_slack * speed));
  real_world w(s, {.speed = speed,
                   .client_cmd = options.client_cmd,
                   .ready_wait = options.ready_wait,
                   .data_dir = options.data_dir,
                   .by_hand = options.by_hand,
                   .listen = options.listen,
                   .ready_file = options.ready_file,
                   .echo_events = options.echo_events,
                   .slack_ms = slack,
                   .record_file = options.record_file});
  auto r = run_steps(s, w, {.slack_ms = slack});
  r.mode = "real";
  r.speed = speed;
  return r;
}

}  // namespace imock::harness
