#include "imock/sim/scheduler.hpp"

#include <algorithm>

namespace imock::sim {

void scheduler::at(std::int64_t t_ms, task fn) {
  queue_.push_back(entry{t_ms < now_ ? now_ : t_ms, next_seq_++, std::move(fn)});
  std::push_heap(queue_.begin(), queue_.end(), later{});
}

std::optional<std::int64_t> scheduler::next_at() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().t;
}

bool scheduler::run_until(std::int64_t until_ms, const std::function<bool()>& stop) {
  if (stop && stop()) return true;
  while (!queue_.empty() && queue_.front().t <= until_ms) {
    std::pop_heap(queue_.begin(), queue_.end(), later{});
    entry e = std::move(queue_.back());
    queue_.pop_back();
    now_ = e.t;
    if (now_ != same_ms_t_) {
      same_ms_t_ = now_;
      same_ms_count_ = 0;
    }
    if (++same_ms_count_ > max_events_at_once) {
      throw no_progress("the simulation made no progress: over " +
                        std::to_string(max_events_at_once) +
                        " events at one millisecond (something retries without waiting)");
    }
    ++events_run_;
    e.fn();
    if (stop && stop()) return true;
  }
  if (until_ms > now_) now_ = until_ms;
  return false;
}

}  // namespace imock::sim
