// What imock-storm counts about its clients, whoever runs them: attempts,
// successes and failures per time bucket, connect latency, and per storm who lost
// the connection and when it came back. The clients over real sockets
// (storm_clients) call it from the SDK's event-loop threads with the wall clock's
// time; the simulated ones (storm_sim) from the simulation's one thread with
// virtual time. Every call takes its time as an argument; nothing here reads a clock.
//
// Threads: on_attempt, on_status and on_delivery may come from several threads at
// once; the rest from one (the driver's). Counters are atomics; histograms and code
// maps sit behind one mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "imock/benchmarks/storm/storm_report.hpp"

namespace imock::storm {

/// A snapshot of the counters (sums across processes are meaningful).
struct group_status {
  std::uint64_t clients = 0;     // clients of this group
  std::uint64_t started = 0;     // connect() called
  std::uint64_t connected = 0;   // status Connected now
  std::uint64_t alive = 0;       // not stopped by a terminal code
  std::uint64_t attempts = 0;    // since the start
  std::uint64_t at_arm = 0;      // alive clients when the current storm was armed
  std::uint64_t affected = 0;    // current storm
  std::uint64_t recovered = 0;   // current storm
  std::uint64_t groups = 1;      // groups summed here
  std::uint64_t origin_set = 0;  // groups whose current storm has its origin
  std::uint64_t rss_kb = 0;      // this process
  group_status& operator+=(const group_status& o);
};

/// Whether a storm is over: the origin is known, every alive client is connected,
/// every affected one is back, and (need_all) every client was affected.
bool storm_complete(const group_status& s, bool need_all);

struct counts_options {
  std::size_t count = 0;   // clients, numbered 0 .. count - 1
  std::int64_t t0_ms = 0;  // timeline origin (epoch ms)
  std::int64_t bucket_ms = 100;
  std::size_t max_buckets = 3600;
  bool messages = false;  // keep delivery series (on_delivery)
};

class storm_counts {
 public:
  explicit storm_counts(const counts_options& o);
  ~storm_counts();
  storm_counts(const storm_counts&) = delete;
  storm_counts& operator=(const storm_counts&) = delete;

  // --- what the clients do (any thread) ---
  void started() noexcept { started_.fetch_add(1, std::memory_order_relaxed); }
  /// Client `i` begins a connection attempt.
  void on_attempt(std::size_t i, std::int64_t t_us);
  /// Client `i`'s status listener: `status` and its cause (rc::status, rc::code).
  void on_status(std::size_t i, int status, int cause, std::int64_t t_us);
  /// A message shown `latency_us` after it was sent (counted by bucket, and by the
  /// storm it was shown in or after).
  void on_delivery(std::uint64_t latency_us, std::int64_t t_us);
  [[nodiscard]] bool connected(std::size_t i) const;
  [[nodiscard]] bool ramp_over() const noexcept { return ramp_over_.load(); }

  // --- the driver (one thread) ---
  /// The counters; rss_kb is left 0.
  [[nodiscard]] group_status status() const;
  /// The ramp is over: later connects count towards storms, not the ramp.
  void end_ramp(std::int64_t at_us);
  /// Storm `index` begins at `armed_us`: from now on a lost connection is counted
  /// as affected by it. Clients already down count as affected at once.
  void arm(int index, const std::string& trigger, std::int64_t armed_us);
  /// The instant recovery times count from (the trigger; blackhole: the release).
  void set_origin(std::int64_t origin_us);
  /// Closes the current storm at `end_us` and keeps its result.
  void end_storm(std::int64_t end_us);
  /// The connected count into the bucket of `at_us` (the driver calls it every bucket).
  void sample(std::int64_t at_us);
  /// Delivery latencies before the first storm, during storms and between them.
  void fill_deliveries(traffic_result& t) const;
  /// Fills clients, ramp, latency, failures, stopped, storms and the timeline up to
  /// `end_us` (sample that bucket first).
  void fill(run_result& r, std::int64_t end_us);

  struct slot;

 private:
  void mark_lost(slot& s, std::int64_t at_us);
  [[nodiscard]] std::size_t bucket(std::int64_t at_us) const;

  counts_options o_;
  std::unique_ptr<slot[]> slots_;
  std::atomic<std::uint64_t> started_{0}, connected_{0}, alive_{0}, attempts_{0};
  std::atomic<std::uint64_t> ramp_attempts_{0}, storm_attempts_{0};
  std::atomic<std::uint64_t> at_arm_{0}, affected_{0}, recovered_{0};
  std::atomic<std::uint32_t> gen_{0};  // current storm index, 0: none yet
  std::atomic<bool> ramp_over_{false};
  std::atomic<bool> origin_set_{false};
  std::unique_ptr<std::atomic<std::uint64_t>[]> b_attempts_, b_successes_, b_failures_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> b_delivered_, b_delivery_max_us_;
  std::vector<std::int64_t> b_connected_;  // driver thread only

  mutable std::mutex mu_;  // guards everything below
  histogram latency_all_, latency_ramp_, latency_storm_;
  std::map<int, std::uint64_t> failures_all_, failures_storm_, stopped_;
  std::map<int, std::vector<std::uint64_t>> b_failures_by_code_;
  std::int64_t ramp_end_us_ = 0;
  std::uint64_t ramp_connected_ = 0;
  storm_result current_;
  std::vector<storm_result> storms_;
  bool armed_once_ = false;
  histogram d_before_, d_during_, d_after_;
};

}  // namespace imock::storm
