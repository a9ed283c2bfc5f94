// The discrete-event clock of the simulation: one virtual time in milliseconds and
// a queue of things to do at given times. No threads, no wall clock. Events due at
// the same millisecond run in the order they were scheduled, so a run is a pure
// function of its inputs: the same scenario and seed give the same trace.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace imock::sim {

class scheduler {
 public:
  using task = std::function<void()>;

  /// `start_ms`: the virtual time before the first event (ms since the Unix epoch).
  explicit scheduler(std::int64_t start_ms = 0) : now_(start_ms) {}

  [[nodiscard]] std::int64_t now() const noexcept { return now_; }

  /// Runs `fn` at `t_ms` (never before now: an earlier time means now).
  void at(std::int64_t t_ms, task fn);
  void after(std::int64_t delay_ms, task fn) {
    at(now_ + (delay_ms > 0 ? delay_ms : 0), std::move(fn));
  }

  /// Runs events due by `until_ms`, in order, until `stop()` is true (checked after
  /// each event; may be empty). Returns true when it stopped because of `stop()`;
  /// otherwise time is `until_ms` afterwards. Throws no_progress when more than
  /// `max_events_at_once` events run at one millisecond: a component that
  /// reschedules itself without letting time pass (a client retrying with no delay
  /// against a server that refuses at once) would otherwise never let time move.
  bool run_until(std::int64_t until_ms, const std::function<bool()>& stop);

  /// Runs every event due now (none of them may let time pass).
  void run_due() { run_until(now_, {}); }

  [[nodiscard]] std::optional<std::int64_t> next_at() const;
  [[nodiscard]] std::size_t pending() const noexcept { return pending_; }
  [[nodiscard]] std::uint64_t events_run() const noexcept { return events_run_; }

  std::uint64_t max_events_at_once = 200'000;

  /// What run_until throws when time cannot move.
  struct no_progress : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

 private:
  // By time; at each millisecond, in the order scheduled. Most events fall on a few
  // milliseconds near now, so this beats one heap of millions of entries. A
  // millisecond's tasks are a vector read from `next`; emptied vectors are kept for
  // the next milliseconds (a spread-out storm touches a new millisecond every few
  // events, and allocating each one's storage was a tenth of a million-client run).
  struct due {
    std::vector<task> tasks;
    std::size_t next = 0;
  };
  std::map<std::int64_t, due> queue_;
  std::vector<std::vector<task>> spare_;
  std::size_t pending_ = 0;
  std::int64_t now_;
  std::uint64_t events_run_ = 0;
  std::int64_t same_ms_t_ = INT64_MIN;
  std::uint64_t same_ms_count_ = 0;
};

}  // namespace imock::sim
