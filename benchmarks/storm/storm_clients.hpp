// The clients of one imock-storm process over real sockets: N reference-SDK clients
// (client::client on one client::runtime with inline callbacks), connected at a
// ramp rate, counted by storm_counts with the wall clock's time.
//
// Threads: the SDK's event-loop threads run the callbacks (status listener,
// attempt listener) and update the counters; the caller's thread (the storm
// driver) calls everything below.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "imock/benchmarks/storm/storm_counts.hpp"
#include "imock/benchmarks/storm/storm_report.hpp"
#include "imock/client/connection.hpp"

namespace imock::client {
class runtime;
class client;
}  // namespace imock::client

namespace imock::storm {

/// Microseconds since the epoch from a monotonic clock (never steps back; agrees
/// with the system clock to within its drift since the process started).
std::int64_t now_us() noexcept;
inline std::int64_t now_ms() noexcept { return now_us() / 1000; }

/// The user id of client `local` of shard `shard`: PREFIX-SHARD-LOCAL.
std::string user_id(const std::string& prefix, std::size_t shard, std::size_t local);

struct group_options {
  std::size_t shard = 0;  // for ids: user-<shard>-<i>, dev-<shard>-<i>
  std::size_t first = 0;  // global index of the first client (source address spread)
  std::size_t count = 0;
  std::string url;  // mqtt://HOST:PORT (any SDK scheme)
  std::string navigation;  // http://HOST:PORT: ask navigation first, for servers of url's transport
  std::string app_key;
  std::string app_secret;  // mints imock tokens; any broker accepts them as passwords
  std::string user_prefix = "user";
  unsigned threads = 2;     // SDK event-loop threads
  unsigned source_ips = 1;  // > 1: client i binds 127.0.0.(1 + i % source_ips)
  double ramp_per_s = 0;    // connect() calls per second; 0: all at once
  client::jitter_kind jitter = client::jitter_kind::none;
  std::uint64_t seed = 1;  // each client's jitter seed is derived from it
  int heartbeat_s = 30;
  std::int64_t connect_timeout_ms = 10'000;
  bool plain = false;
  /// Message traffic: each client sends this many one-to-one messages a second, once
  /// the ramp is over, to its partner in the group (client i to i ^ 1); 0: none.
  double messages_per_s = 0;
  std::int64_t t0_ms = 0;  // timeline origin (epoch ms)
  std::int64_t bucket_ms = 100;
  std::size_t max_buckets = 3600;
};

class client_group {
 public:
  explicit client_group(group_options o);
  ~client_group();
  client_group(const client_group&) = delete;
  client_group& operator=(const client_group&) = delete;

  /// Makes and initialises every client (no network yet). Empty, or what failed.
  std::string prepare();
  /// Starts connecting at the ramp rate on a thread of its own.
  void start_ramp();
  [[nodiscard]] group_status status() const;  // with this process's RSS
  /// The ramp is over: later connects count towards storms, not the ramp.
  void end_ramp(std::int64_t at_us);
  /// Storm `index` begins at `armed_us`: from now on a lost connection is counted
  /// as affected by it. Clients already down count as affected at once.
  void arm(int index, const std::string& trigger, std::int64_t armed_us);
  /// The instant recovery times count from (the trigger; blackhole: the release).
  void set_origin(std::int64_t origin_us);
  /// Closes the current storm at `end_us` and keeps its result.
  void end_storm(std::int64_t end_us);
  /// Network reachability of every client, as the OS would report it (flap).
  void set_network(bool available);
  /// Called every bucket by the driver: the connected count into the timeline.
  void sample(std::int64_t at_us);
  /// Destroys the clients and fills in what this group measured. With traffic it
  /// first stops new messages and waits (up to `drain_ms`) for the ones on their way.
  void finish(run_result& r, std::int64_t drain_ms = 20'000);

  struct sender_log;

 private:
  void ramp_loop();
  // --- message traffic (messages_per_s > 0) ---
  void traffic_loop();
  void send_due(std::size_t i, std::int64_t now);
  void on_sent(std::size_t sender, std::uint32_t seq, std::int64_t id, int code);
  void on_message(const std::string& content);
  [[nodiscard]] bool drained();

  group_options o_;
  storm_counts counts_;
  std::unique_ptr<client::runtime> rt_;
  std::vector<std::unique_ptr<client::client>> clients_;
  std::thread ramp_thread_;
  std::atomic<bool> stop_ramp_{false};
  std::unique_ptr<sender_log[]> logs_;
  std::thread traffic_thread_;
  std::atomic<bool> stop_traffic_{false};
  std::atomic<bool> draining_{false};  // no new messages, resends only
  std::atomic<std::uint64_t> m_sent_{0}, m_failures_{0}, m_delivered_{0}, m_duplicates_{0};
  std::atomic<std::int64_t> m_pending_{0};  // sends without their callback yet
  std::atomic<std::int64_t> m_to_resend_{0};
};

}  // namespace imock::storm
