// imock-storm's driver: the options, the population of clients (in this process
// or in child processes), the target, and the run itself: ramp, hold, then each
// storm (arm, trigger, wait for recovery, close), sampling every bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imock/benchmarks/storm/storm_clients.hpp"
#include "imock/benchmarks/storm/storm_report.hpp"
#include "imock/benchmarks/storm/storm_target.hpp"

namespace imock::storm {

struct options {
  // Target.
  std::string target;            // broker URL; empty: start one (broker)
  std::string broker = "imock";  // imock | mosquitto, when the tool starts it
  std::string server_bin;        // imock-server; default: next to imock-storm
  std::string mosquitto_bin = "/usr/sbin/mosquitto";
  std::string admin;   // http://HOST:PORT of imock-server's admin API
  std::string admin_token;  // its bearer token, when it has one
  bool plain = false;  // no imock-* user properties
  bool navigation = false;       // clients connect through imock-server's navigation
  std::string navigation_url;    // where (internal: set by the driver, passed to children)
  double navigation_cache = 7200;  // cache_lifetime (s) of the imock-server the tool starts
  bool allow_remote = false;
  std::string app_key = "imock-demo-key";
  std::string app_secret = "imock-demo-secret";
  // Clients.
  std::size_t clients = 1000;  // all shards together
  std::string shard_text;      // I/N
  std::size_t shard = 0;
  std::size_t shards = 1;
  unsigned procs = 1;
  unsigned threads = 0;  // 0: 2 in one process, 1 per child
  unsigned source_ips = 4;
  double ramp = 5000;  // connects per second, all shards; 0: at once
  int heartbeat = 30;
  double connect_timeout = 10;
  double messages_per_s = 0;  // per client; 0: no message traffic
  std::string user_prefix = "user";
  // Policy.
  std::string policy = "documented";
  std::uint64_t seed = 1;
  // Trigger.
  std::string trigger = "drop-all";
  int storms = 1;
  double hold = 2;
  int restart_down_ms = 1000;
  std::string restart_mode;  // admin | process; empty: admin for imock, process else
  double blackhole_for = 0;  // 0: 2 heartbeats + 2 s
  double kick_rate = 1000;
  int kick_code = 31003;
  int flap_down_ms = 1000;
  double outage = 5;  // navigation-outage: seconds navigation fails after the drop
  double recovery_timeout = 60;
  double between = 1;
  double duration_limit = 170;
  double wait_all = 60;  // shard 0: wait this long for the other shards' clients
  // Output.
  bool json = false;
  std::string json_out;
  std::string chart;
  bool progress = false;
  bool no_progress = false;
  int bucket_ms = 100;
  // Simulation (--sim): the model's network and server (storm_sim.hpp).
  bool sim = false;
  std::size_t sim_backlog = 16384;  // listen queues: imock-server's 4 of net.core.somaxconn
  double sim_service_us = 0;        // server time per connect; 0: the calibrated default
  double sim_close_us = 0;          // server time per close; 0: the calibrated default
  int sim_rtt_ms = 0;              // round trip of every client's link
  // Internal: a child of --procs (commands on stdin).
  bool child = false;
  std::int64_t t0_ms = 0;
};

/// The server time per connect and per close --sim takes unless told: fitted to real
/// drop-all storms of 10,000 clients on the 2-core machines imock is developed on
/// (docs/storm.md, "Simulation": how, and the validation at 5k and 15k).
inline constexpr double k_sim_default_service_us = 30;
inline constexpr double k_sim_default_close_us = 53;

/// The options as JSON (echoed in the result).
boost::json::object to_json(const options& o);

/// Where a run's time comes from: the wall clock, or the simulation's virtual clock.
class run_clock {
 public:
  virtual ~run_clock() = default;
  /// Microseconds since the epoch.
  virtual std::int64_t now_us() = 0;
  /// Lets time pass until `t_us`: the wall clock sleeps, the simulation runs its events.
  virtual void wait_until(std::int64_t t_us) = 0;
};

/// This process's memory as a run reports it (run_result::tool): read when made
/// (before any client exists), at the ramp's end, and when the clients finish.
class process_memory {
 public:
  process_memory() : before_kb_(read_proc(0).rss_kb) {}
  void at_ramp_end(std::uint64_t clients_connected) {
    connected_kb_ = read_proc(0).rss_kb;
    clients_connected_ = clients_connected;
  }
  void fill(tool_memory& t) const {
    t.processes = 1;
    t.rss_before_kb = before_kb_;
    t.rss_connected_kb = connected_kb_;
    t.clients_connected = clients_connected_;
    t.peak_kb = read_proc(0).peak_kb;
  }

 private:
  std::uint64_t before_kb_ = 0;
  std::uint64_t connected_kb_ = 0;
  std::uint64_t clients_connected_ = 0;
};

/// The clients, wherever they run. Calls come from the driver thread only.
class population {
 public:
  virtual ~population() = default;
  virtual std::string prepare() = 0;
  virtual void start_ramp() = 0;
  /// Sums over all groups; also samples the connected count into bucket `at_us`.
  virtual group_status status(std::int64_t at_us) = 0;
  virtual void end_ramp(std::int64_t at_us) = 0;
  virtual void arm(int index, const std::string& trigger, std::int64_t at_us) = 0;
  virtual void set_origin(std::int64_t at_us) = 0;
  virtual void end_storm(std::int64_t at_us) = 0;
  virtual void set_network(bool available) = 0;
  /// Ends every client; fills what the clients measured. Empty, or what failed.
  virtual std::string finish(run_result& r) = 0;
};

/// The clients in this process.
std::unique_ptr<population> make_local_population(const group_options& g);
/// The clients in `procs` child processes running this executable with --child.
std::unique_ptr<population> make_child_population(const options& o, const std::string& url);

/// Group options for shard `shard` of `shards` under `o`, with clients at `url`.
group_options group_for(const options& o, const std::string& url, std::size_t shard,
                        std::size_t shards);

/// The child's side of --procs: reads commands on stdin, answers on stdout.
int child_main(const options& o);

/// A whole run. `stop` is set by signals. Returns the result (notes say what failed).
run_result run_storm(const options& o, std::atomic<bool>& stop);

}  // namespace imock::storm
