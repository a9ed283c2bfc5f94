// imock-storm's results as plain data: latency histograms, the timeline, one storm,
// a whole run; JSON out and back in, merging shard results, the human summary and
// the shard arithmetic. No I/O and no clock: storm_test.cpp covers all of it.
//
// Times are epoch milliseconds (the system clock), so the results of storm shards
// in several processes or pods line up when merged. Durations inside histograms
// are microseconds.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imock::storm {

// --- histogram ------------------------------------------------------------------------

/// Log-linear histogram of non-negative integers: exact below 128, then 64 buckets
/// per power of two (at most 1.6% relative error). Small (a few hundred used
/// buckets), mergeable, and stored whole in the JSON so merged shards get exact
/// percentiles of the union rather than averages of percentiles.
class histogram {
 public:
  void add(std::uint64_t value, std::uint64_t count = 1);
  void merge(const histogram& other);

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  /// Nearest-rank percentile, p in [0, 1]: the midpoint of the bucket holding the
  /// ceil(p * count)-th value, clamped to [min, max]; p >= 1 gives the exact max.
  /// 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double p) const noexcept;
  /// The value of rank `rank` (1-based) in sorted order, as percentile() reports it.
  [[nodiscard]] std::uint64_t at_rank(std::uint64_t rank) const noexcept;

  /// {"count","min","max","sum","buckets":[[lower_bound,count],...]} (used buckets only).
  [[nodiscard]] boost::json::value to_json() const;
  /// nullopt and `error` on anything to_json() would not write.
  static std::optional<histogram> from_json(const boost::json::value& v, std::string* error);

  /// Bucket arithmetic, exposed for the tests.
  static std::size_t index_of(std::uint64_t value) noexcept;
  static std::uint64_t lower_bound(std::size_t index) noexcept;
  static std::uint64_t upper_bound(std::size_t index) noexcept;  // inclusive

  friend bool operator==(const histogram&, const histogram&) = default;

 private:
  // Non-empty: min_ and max_ lie in the first and last used buckets.
  [[nodiscard]] bool bounds_match_buckets() const noexcept;

  std::vector<std::uint64_t> counts_;  // grown on demand
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

// --- shards ---------------------------------------------------------------------------

/// Clients [begin, end) of one shard.
struct client_range {
  std::size_t begin = 0;
  std::size_t end = 0;
  [[nodiscard]] std::size_t size() const noexcept { return end - begin; }
  friend bool operator==(const client_range&, const client_range&) = default;
};

/// Shard `index` of `count` over `total` clients: contiguous, sizes differ by at most
/// one, together exactly [0, total). Requires index < count.
client_range shard_range(std::size_t total, std::size_t index, std::size_t count) noexcept;

/// Parses "I/N" with 0 <= I < N. nullopt and `error` otherwise.
std::optional<std::pair<std::size_t, std::size_t>> parse_shard(std::string_view text,
                                                               std::string* error);

// --- timeline -------------------------------------------------------------------------

/// The most buckets a merged timeline may span: a day of 100 ms buckets is 864,000.
inline constexpr std::size_t k_max_timeline_buckets = 1'000'000;

/// Counts per time bucket of `bucket_ms`, bucket 0 starting at epoch ms `t0_ms`.
struct timeline {
  std::int64_t t0_ms = 0;
  std::int64_t bucket_ms = 100;
  std::vector<std::int64_t> connected;   // clients connected at the end of the bucket
  std::vector<std::uint64_t> attempts;   // connection attempts started
  std::vector<std::uint64_t> successes;  // attempts that reached Connected
  std::vector<std::uint64_t> failures;   // attempts that failed (refused, reset, timed out)
  std::map<int, std::vector<std::uint64_t>> failures_by_code;
  // With message traffic (with_messages): messages shown per bucket, and the slowest
  // delivery (send -> shown, us) among them.
  bool with_messages = false;
  std::vector<std::uint64_t> delivered;
  std::vector<std::uint64_t> delivery_max_us;

  [[nodiscard]] std::size_t size() const noexcept { return attempts.size(); }
  /// Grows (or shrinks) every series to n buckets; new buckets are zero.
  void resize(std::size_t n);
  /// Per-second rate of `count` events in one bucket.
  [[nodiscard]] double per_second(std::uint64_t count) const noexcept;
  /// Index of the bucket holding epoch ms `t` (may be out of range or negative).
  [[nodiscard]] std::int64_t bucket_of(std::int64_t t_ms) const noexcept;
  /// Adds `other` bucket by bucket, aligned on epoch time; the result starts at the
  /// earlier t0 and ends at the later end. Bucket sizes must match, and the result
  /// may not exceed k_max_timeline_buckets (false, and no change, if not).
  bool merge(const timeline& other);

  friend bool operator==(const timeline&, const timeline&) = default;
};

// --- results --------------------------------------------------------------------------

/// One trigger and the recovery after it.
struct storm_result {
  int index = 0;  // 1-based
  std::string trigger;
  std::int64_t armed_ms = 0;              // losses count from here (the trigger was about to fire)
  std::int64_t origin_ms = 0;             // the trigger (for blackhole: the release)
  std::int64_t end_ms = 0;                // every client back, or the recovery limit
  std::uint64_t clients = 0;              // clients connected when armed
  std::uint64_t affected = 0;             // lost their connection after armed_ms
  std::uint64_t recovered = 0;            // affected, then connected again by end_ms
  std::uint64_t lost = 0;                 // affected, not connected again by end_ms
  std::uint64_t attempts = 0;             // connection attempts between armed_ms and end_ms
  bool complete = false;                  // every affected client was back before the limit
  histogram recovery_us;                  // per recovered client: connected again - origin
  histogram latency_us;                   // attempt start -> Connected, attempts of this storm
  std::map<int, std::uint64_t> failures;  // failed attempts by documented code
  // Message traffic (--messages-per-s): send -> shown, for messages shown between
  // armed and end, and between end and the next storm's arm (or the end of the run).
  histogram delivery_during_us;
  histogram delivery_after_us;
  // A server this tool started (local child): /proc readings.
  std::optional<std::uint64_t> server_rss_before_kb;
  std::optional<std::uint64_t> server_rss_peak_kb;
  std::optional<std::uint64_t> server_rss_after_kb;
  std::optional<std::uint64_t> server_cpu_ms;  // CPU time used from armed to end
};

/// One /proc reading of the local server.
struct server_sample {
  std::int64_t t_ms = 0;  // epoch ms
  std::uint64_t rss_kb = 0;
  std::uint64_t cpu_ms = 0;  // utime + stime since it started
  friend bool operator==(const server_sample&, const server_sample&) = default;
};

/// Message traffic of a run (--messages-per-s): every client sends one-to-one messages
/// to a partner of its own process at a fixed rate, across the storms, and resends a
/// failed one (the same message) once connected again.
struct traffic_result {
  double per_client_per_s = 0;
  std::uint64_t sent = 0;           // acknowledged by the server (success callbacks)
  std::uint64_t send_failures = 0;  // error callbacks (30002, 30003, ...), each resent later
  std::uint64_t unconfirmed = 0;    // sent, no callback by the end
  std::uint64_t delivered = 0;      // distinct messages shown to their receiver
  std::uint64_t duplicates = 0;     // shown a second time: must be 0
  std::uint64_t lost = 0;           // acknowledged, never shown by the end: must be 0
  histogram before_us;              // send -> shown, before the first storm
  histogram during_us;              // during any storm (armed .. end)
  histogram after_us;               // after a storm, until the next one
};

/// The storm tool's own memory, summed over its processes.
struct tool_memory {
  unsigned processes = 0;
  std::uint64_t rss_before_kb = 0;      // before any client existed
  std::uint64_t rss_connected_kb = 0;   // when the ramp was over
  std::uint64_t peak_kb = 0;            // VmHWM at the end
  std::uint64_t clients_connected = 0;  // connected at the rss_connected_kb reading
  /// (rss_connected - rss_before) / clients_connected, in bytes; 0 when none.
  [[nodiscard]] double per_client_bytes() const noexcept;
};

/// A whole run of one process, or several merged.
struct run_result {
  boost::json::object config;       // the options of the run, echoed
  std::size_t shard_count = 1;      // shards the run was split into
  std::vector<std::size_t> shards;  // the shards this result holds
  std::uint64_t clients = 0;        // clients this result covers
  std::string target;               // URL
  std::string target_kind;          // imock, mosquitto, url, sim (imock-storm --sim)
  std::string policy;               // documented, full-jitter, decorrelated
  std::string trigger;              // drop-all, restart, blackhole, kicks, flap, none
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t ramp_end_ms = 0;  // every client connected (or the ramp gave up)
  std::uint64_t ramp_connected = 0;
  std::uint64_t ramp_attempts = 0;
  histogram ramp_latency_us;
  histogram latency_us;  // every successful attempt of the run
  timeline tl;
  std::vector<storm_result> storms;
  std::map<int, std::uint64_t> failures;  // every failed attempt, by code
  std::map<int, std::uint64_t> stopped;   // clients that stopped on a terminal code
  std::optional<std::int64_t> server_pid;
  std::vector<server_sample> server_samples;
  tool_memory tool;
  std::optional<traffic_result> traffic;  // with --messages-per-s
  std::string stopped_by = "done";  // done, duration-limit, interrupted, error
  std::vector<std::string> notes;   // what a reader must know (refused options, errors)
};

/// What people read off a storm.
struct storm_summary {
  // Seconds from origin until that share of the clients connected when armed was
  // connected again (unaffected clients count as at once); nullopt: not reached.
  std::optional<double> t50_s, t90_s, t99_s, t100_s;
  double amplification = 0;        // attempts / clients
  double peak_attempts_per_s = 0;  // busiest bucket between armed and end
  double latency_p50_ms = 0, latency_p99_ms = 0, latency_max_ms = 0;
};

/// Seconds until `share` (0..1] of `s.clients` were connected again; nullopt if never.
std::optional<double> time_to_share(const storm_result& s, double share);
storm_summary summarize(const storm_result& s, const timeline& tl);

/// The whole result as one JSON document, with a derived "summary" section.
boost::json::value to_json(const run_result& r);
/// Reads what to_json() wrote (the summary is ignored; it is recomputed).
std::optional<run_result> from_json(const boost::json::value& v, std::string* error);

/// Combines shard results: sums counts, merges histograms and timelines on epoch
/// time; storms are matched by index. Config, target and policy come from the first.
/// Server readings come from whichever result has them (the one that started it).
run_result merge(const std::vector<run_result>& parts);

/// What the target was, for people: imock-server, "imock-server (simulated)" (--sim),
/// mosquitto, or `other` for a broker given by URL.
std::string target_name(const run_result& r, const std::string& other);

/// The summary a person reads at a glance (several lines, no colour).
std::string summary_text(const run_result& r);

/// JSON text, indented by two spaces, numbers as people write them (no exponent
/// for ordinary magnitudes; Boost.JSON would print 1.5 as 1.5E0).
std::string pretty_json(const boost::json::value& v);

}  // namespace imock::storm
