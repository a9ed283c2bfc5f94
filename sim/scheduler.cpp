#include "imock/sim/scheduler.hpp"


namespace imock::sim {

void scheduler::at(std::int64_t t_ms, task fn) {
  const auto [it, created] = queue_.try_emplace(t_ms < now_ ? now_ : t_ms);
  if (created && !spare_.empty()) {
    it->second.tasks = std::move(spare_.back());
    spare_.pop_back();
  }
  it->second.tasks.push_back(std::move(fn));
  ++pending_;
}

std::optional<std::int64_t> scheduler::next_at() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

bool scheduler::run_until(std::int64_t until_ms, const std::function<bool()>& stop) {
  if (stop && stop()) return true;
  while (!queue_.empty() && queue_.begin()->first <= until_ms) {
    const auto first = queue_.begin();
    now_ = first->first;
    due& d = first->second;
    task fn = std::move(d.tasks[d.next++]);
    --pending_;
    if (d.next == d.tasks.size()) {  // what fn schedules now comes after
      constexpr std::size_t keep = 256;
      if (spare_.size() < keep && d.tasks.capacity() <= 4096) {
        d.tasks.clear();
        spare_.push_back(std::move(d.tasks));
      }
      queue_.erase(first);
    }
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
    fn();
    if (stop && stop()) return true;
  }
  if (until_ms > now_) now_ = until_ms;
  return false;
}

}  // namespace imock::sim
