#include "imock/benchmarks/storm/storm_counts.hpp"

#include <algorithm>

#include "imock/protocol/codes.hpp"

namespace imock::storm {
namespace {

constexpr int k_connected = static_cast<int>(rc::status::connected);
constexpr int k_connecting = static_cast<int>(rc::status::connecting);
constexpr std::int64_t k_none = -1;

bool terminal_status(int status) {
  const auto* info = rc::find_status(status);
  return info != nullptr && info->terminal;
}

}  // namespace

group_status& group_status::operator+=(const group_status& o) {
  clients += o.clients;
  started += o.started;
  connected += o.connected;
  alive += o.alive;
  attempts += o.attempts;
  at_arm += o.at_arm;
  affected += o.affected;
  recovered += o.recovered;
  groups += o.groups;
  origin_set += o.origin_set;
  rss_kb += o.rss_kb;
  return *this;
}

bool storm_complete(const group_status& s, bool need_all) {
  return s.origin_set >= s.groups && s.connected >= s.alive && s.recovered >= s.affected &&
         (!need_all || s.affected >= s.at_arm);
}

// One client and what the counters need to know about it. Written by the client's
// callbacks; read by the driver thread.
struct storm_counts::slot {
  std::atomic<std::int64_t> attempt_us{0};         // start of the current attempt
  std::atomic<std::int64_t> lost_us{0};            // first loss in storm `gen`
  std::atomic<std::int64_t> recovered_us{k_none};  // first Connected after it
  std::atomic<std::uint32_t> gen{0};               // storm the two fields above belong to
  std::atomic<std::uint8_t> status{static_cast<std::uint8_t>(rc::status::unconnected)};
  std::atomic<bool> alive{true};
};

storm_counts::storm_counts(const counts_options& o)
    : o_(o), slots_(std::make_unique<slot[]>(o.count)) {
  o_.max_buckets = std::max<std::size_t>(1, o_.max_buckets);
  const auto n = o_.max_buckets;
  alive_ = o_.count;
  b_attempts_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  b_successes_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  b_failures_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  if (o_.messages) {
    b_delivered_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    b_delivery_max_us_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  }
  b_connected_.assign(n, -1);
}

storm_counts::~storm_counts() = default;

std::size_t storm_counts::bucket(std::int64_t at_us) const {
  const auto b = (at_us / 1000 - o_.t0_ms) / std::max<std::int64_t>(1, o_.bucket_ms);
  return static_cast<std::size_t>(
      std::clamp<std::int64_t>(b, 0, static_cast<std::int64_t>(o_.max_buckets) - 1));
}

bool storm_counts::connected(std::size_t i) const {
  return slots_[i].status.load(std::memory_order_relaxed) == k_connected;
}

// --- callbacks ----------------------------------------------------------------------------

void storm_counts::on_attempt(std::size_t i, std::int64_t t) {
  slots_[i].attempt_us.store(t, std::memory_order_relaxed);
  attempts_.fetch_add(1, std::memory_order_relaxed);
  b_attempts_[bucket(t)].fetch_add(1, std::memory_order_relaxed);
  if (!ramp_over_.load(std::memory_order_relaxed)) ramp_attempts_.fetch_add(1);
  if (gen_.load(std::memory_order_relaxed) != 0) storm_attempts_.fetch_add(1);
}

void storm_counts::mark_lost(slot& s, std::int64_t at_us) {
  const auto g = gen_.load();
  if (g == 0) return;
  auto old = s.gen.load();
  if (old == g || !s.gen.compare_exchange_strong(old, g)) return;
  s.recovered_us.store(k_none);
  s.lost_us.store(at_us);
  affected_.fetch_add(1);
}

void storm_counts::on_status(std::size_t i, int st, int cause, std::int64_t t) {
  auto& s = slots_[i];
  const int prev = s.status.exchange(static_cast<std::uint8_t>(st));
  if (st == k_connected) {
    const auto latency = std::max<std::int64_t>(0, t - s.attempt_us.load());
    connected_.fetch_add(1);
    b_successes_[bucket(t)].fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      const auto us = static_cast<std::uint64_t>(latency);
      latency_all_.add(us);
      (ramp_over_ ? latency_storm_ : latency_ramp_).add(us);
    }
    if (s.gen.load() == gen_.load() && gen_.load() != 0) {
      std::int64_t none = k_none;
      if (s.recovered_us.compare_exchange_strong(none, t)) recovered_.fetch_add(1);
    }
    return;
  }
  const bool stopped = terminal_status(st);
  if (prev == k_connected) {
    connected_.fetch_sub(1);
    mark_lost(s, t);
  } else if (prev == k_connecting && cause != 0 &&
             !(st == static_cast<int>(rc::status::network_unavailable) &&
               cause == static_cast<int>(rc::code::network_unavailable))) {
    // A failed attempt (a flap's own NetworkUnavailable is not one).
    b_failures_[bucket(t)].fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    ++failures_all_[cause];
    if (gen_.load() != 0) ++failures_storm_[cause];
    auto& series = b_failures_by_code_[cause];
    if (series.empty()) series.assign(o_.max_buckets, 0);
    ++series[bucket(t)];
  }
  if (stopped && s.alive.exchange(false)) {
    alive_.fetch_sub(1);
    std::lock_guard lock(mu_);
    ++stopped_[cause];
  }
}

void storm_counts::on_delivery(std::uint64_t us, std::int64_t t) {
  if (b_delivered_) {
    const auto b = bucket(t);
    b_delivered_[b].fetch_add(1, std::memory_order_relaxed);
    auto seen = b_delivery_max_us_[b].load(std::memory_order_relaxed);
    while (us > seen && !b_delivery_max_us_[b].compare_exchange_weak(seen, us)) {
    }
  }
  std::lock_guard lock(mu_);
  if (gen_.load() != 0) {
    d_during_.add(us);
    current_.delivery_during_us.add(us);
  } else if (!armed_once_) {
    d_before_.add(us);
  } else {
    d_after_.add(us);
    if (!storms_.empty()) storms_.back().delivery_after_us.add(us);
  }
}

// --- driver calls -----------------------------------------------------------------------

group_status storm_counts::status() const {
  group_status g;
  g.clients = o_.count;
  g.started = started_.load();
  g.connected = connected_.load();
  g.alive = alive_.load();
  g.attempts = attempts_.load();
  g.at_arm = at_arm_.load();
  g.affected = affected_.load();
  g.recovered = recovered_.load();
  g.origin_set = origin_set_.load() ? 1 : 0;
  return g;
}

void storm_counts::end_ramp(std::int64_t at_us) {
  std::lock_guard lock(mu_);
  ramp_end_us_ = at_us;
  ramp_connected_ = connected_.load();
  ramp_over_ = true;
}

void storm_counts::arm(int index, const std::string& trigger, std::int64_t armed_us) {
  {
    std::lock_guard lock(mu_);
    current_ = storm_result{};
    current_.index = index;
    current_.trigger = trigger;
    current_.armed_ms = armed_us / 1000;
    armed_once_ = true;
    latency_storm_ = {};
    failures_storm_.clear();
  }
  origin_set_ = false;
  affected_ = 0;
  recovered_ = 0;
  storm_attempts_ = 0;
  at_arm_ = alive_.load();
  gen_ = static_cast<std::uint32_t>(index);
  // Clients that are down already are affected from the start.
  for (std::size_t i = 0; i < o_.count; ++i) {
    auto& s = slots_[i];
    if (!s.alive.load() || s.status.load() == k_connected) continue;
    mark_lost(s, armed_us);
    if (s.status.load() == k_connected) {  // came back meanwhile
      std::int64_t none = k_none;
      if (s.recovered_us.compare_exchange_strong(none, armed_us)) recovered_.fetch_add(1);
    }
  }
}

void storm_counts::set_origin(std::int64_t origin_us) {
  {
    std::lock_guard lock(mu_);
    current_.origin_ms = origin_us / 1000;
  }
  origin_set_ = true;
}

void storm_counts::end_storm(std::int64_t end_us) {
  const auto g = gen_.load();
  std::lock_guard lock(mu_);
  auto& s = current_;
  s.end_ms = end_us / 1000;
  s.clients = at_arm_.load();
  s.attempts = storm_attempts_.load();
  s.latency_us = latency_storm_;
  s.failures = failures_storm_;
  const std::int64_t origin_us = s.origin_ms * 1000;
  for (std::size_t i = 0; i < o_.count; ++i) {
    const auto& sl = slots_[i];
    if (sl.gen.load() != g) continue;
    ++s.affected;
    const auto back = sl.recovered_us.load();
    if (back != k_none && back <= end_us) {
      ++s.recovered;
      s.recovery_us.add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, back - origin_us)));
    } else {
      ++s.lost;
    }
  }
  s.complete = s.lost == 0 && origin_set_.load();
  storms_.push_back(s);
  gen_ = 0;  // between storms nothing is attributed
}

void storm_counts::sample(std::int64_t at_us) {
  b_connected_[bucket(at_us)] = static_cast<std::int64_t>(connected_.load());
}

void storm_counts::fill_deliveries(traffic_result& t) const {
  std::lock_guard lock(mu_);
  t.before_us = d_before_;
  t.during_us = d_during_;
  t.after_us = d_after_;
}

void storm_counts::fill(run_result& r, std::int64_t end_us) {
  std::lock_guard lock(mu_);
  r.clients = o_.count;
  r.ramp_end_ms = ramp_end_us_ / 1000;
  r.ramp_connected = ramp_connected_;
  r.ramp_attempts = ramp_attempts_.load();
  r.ramp_latency_us = latency_ramp_;
  r.latency_us = latency_all_;
  r.failures = failures_all_;
  r.stopped = stopped_;
  r.storms = storms_;
  // The timeline up to the last bucket in use.
  const auto last = bucket(end_us);
  timeline& tl = r.tl;
  tl.t0_ms = o_.t0_ms;
  tl.bucket_ms = o_.bucket_ms;
  tl.resize(last + 1);
  std::int64_t carry = 0;
  for (std::size_t i = 0; i <= last; ++i) {
    tl.attempts[i] = b_attempts_[i].load();
    tl.successes[i] = b_successes_[i].load();
    tl.failures[i] = b_failures_[i].load();
    if (b_connected_[i] >= 0) carry = b_connected_[i];  // a late tick: previous value
    tl.connected[i] = carry;
  }
  if (b_delivered_) {
    tl.with_messages = true;
    tl.resize(last + 1);
    for (std::size_t i = 0; i <= last; ++i) {
      tl.delivered[i] = b_delivered_[i].load();
      tl.delivery_max_us[i] = b_delivery_max_us_[i].load();
    }
  }
  for (const auto& [code, series] : b_failures_by_code_) {
    tl.failures_by_code[code].assign(series.begin(),
                                     series.begin() + static_cast<std::ptrdiff_t>(last + 1));
  }
}

}  // namespace imock::storm
