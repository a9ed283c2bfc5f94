#include "imock/benchmarks/storm/storm_clients.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "imock/client/sdk.hpp"
#include "imock/protocol/codes.hpp"
#include "imock/protocol/token.hpp"

namespace imock::storm {
namespace {

constexpr int k_connected = static_cast<int>(rc::status::connected);
constexpr int k_connecting = static_cast<int>(rc::status::connecting);
constexpr std::int64_t k_none = -1;

// The clock pair read once: monotonic time from then on, in epoch units.
struct clock_base {
  std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::now();
  std::int64_t epoch_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
};
const clock_base& base() {
  static const clock_base b;
  return b;
}

std::uint64_t read_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

bool terminal_status(int status) {
  const auto* info = rc::find_status(status);
  return info != nullptr && info->terminal;
}

}  // namespace

std::int64_t now_us() noexcept {
  const auto& b = base();
  return b.epoch_us + std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - b.steady)
                          .count();
}

std::string user_id(const std::string& prefix, std::size_t shard, std::size_t local) {
  return prefix + "-" + std::to_string(shard) + "-" + std::to_string(local);
}

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

// One client and what the counters need to know about it. Written on the client's
// strand (its callbacks); read by the driver thread.
struct client_group::slot {
  std::atomic<std::int64_t> attempt_us{0};         // start of the current attempt
  std::atomic<std::int64_t> lost_us{0};            // first loss in storm `gen`
  std::atomic<std::int64_t> recovered_us{k_none};  // first Connected after it
  std::atomic<std::uint32_t> gen{0};               // storm the two fields above belong to
  std::atomic<std::uint8_t> status{static_cast<std::uint8_t>(rc::status::unconnected)};
  std::atomic<bool> alive{true};
};

// What one client sent, as its messages' fate is learnt: acknowledged by the server
// (the sender's callback) and shown to the receiver (its listener), by sequence number.
struct client_group::sender_log {
  std::mutex mu;
  std::vector<std::uint8_t> state;                          // by seq - 1: k_acked | k_shown
  std::vector<std::pair<std::int64_t, std::uint32_t>> failed;  // (message id, seq) to resend
  // The traffic thread's own:
  std::uint32_t next_seq = 1;
  std::int64_t next_due_us = 0;
  static constexpr std::uint8_t k_acked = 1;
  static constexpr std::uint8_t k_shown = 2;
};

client_group::client_group(group_options o) : o_(std::move(o)) {
  const auto n = std::max<std::size_t>(1, o_.max_buckets);
  b_attempts_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  b_successes_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  b_failures_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  if (o_.messages_per_s > 0) {
    b_delivered_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    b_delivery_max_us_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
  }
  b_connected_.assign(n, -1);
}

client_group::~client_group() {
  stop_ramp_ = true;
  if (ramp_thread_.joinable()) ramp_thread_.join();
  stop_traffic_ = true;
  if (traffic_thread_.joinable()) traffic_thread_.join();
  clients_.clear();
  rt_.reset();
}

std::size_t client_group::bucket(std::int64_t at_us) const {
  const auto b = (at_us / 1000 - o_.t0_ms) / std::max<std::int64_t>(1, o_.bucket_ms);
  return static_cast<std::size_t>(std::clamp<std::int64_t>(
      b, 0, static_cast<std::int64_t>(std::max<std::size_t>(1, o_.max_buckets)) - 1));
}

std::string client_group::prepare() {
  client::runtime_options ro;
  ro.io_threads = std::max(1u, o_.threads);
  ro.inline_callbacks = true;
  rt_ = std::make_unique<client::runtime>(ro);
  slots_ = std::make_unique<slot[]>(o_.count);
  clients_.reserve(o_.count);
  alive_ = o_.count;
  for (std::size_t i = 0; i < o_.count; ++i) {
    auto c = std::make_unique<client::client>(*rt_);
    client::sdk_options so;
    so.urls = {o_.url};
    if (!o_.navigation.empty()) {
      so.navigation = {o_.navigation};
      if (const auto u = client::parse_server_url(o_.url)) so.navigation_transports = {u->via};
    }
    so.tls_verify = false;
    so.device_id = "dev-" + std::to_string(o_.shard) + "-" + std::to_string(i);
    so.heartbeat_s = static_cast<std::uint16_t>(o_.heartbeat_s);
    so.jitter = o_.jitter;
    so.jitter_seed = o_.seed * 0x9E3779B97F4A7C15ULL + (o_.first + i);
    so.connect_ack_timeout_ms = o_.connect_timeout_ms;
    so.plain = o_.plain;
    so.messages = o_.messages_per_s > 0;  // without traffic: the connection layer alone
    if (o_.source_ips > 1) {
      so.source_address = "127.0.0." + std::to_string(1 + (o_.first + i) % o_.source_ips);
    }
    const auto rc = c->init(o_.app_key, std::move(so));
    if (rc != rc::code::ok) {
      return "client init failed with " + std::to_string(static_cast<int>(rc)) +
             " (bad URL or options?)";
    }
    slot* s = &slots_[i];
    c->set_connection_status_listener([this, s](rc::status st, rc::code cause) {
      on_status(*s, static_cast<int>(st), static_cast<int>(cause));
    });
    c->set_attempt_listener([this, s](std::int64_t, std::uint32_t) { on_attempt(*s); });
    if (o_.messages_per_s > 0) {
      c->set_receive_listener(
          [this](const client::message& m, int, bool, bool) { on_message(m.content); });
    }
    clients_.push_back(std::move(c));
  }
  if (o_.messages_per_s > 0) logs_ = std::make_unique<sender_log[]>(o_.count);
  return {};
}

void client_group::start_ramp() {
  ramp_thread_ = std::thread([this] { ramp_loop(); });
  if (o_.messages_per_s > 0) traffic_thread_ = std::thread([this] { traffic_loop(); });
}

// --- message traffic --------------------------------------------------------------------

// Every 10 ms: each connected client resends what failed, then sends what is due.
// Clients start at phases spread over one period, so the load is even.
void client_group::traffic_loop() {
  const auto period_us = static_cast<std::int64_t>(1e6 / o_.messages_per_s);
  while (!stop_traffic_ && !ramp_over_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto start = now_us();
  for (std::size_t i = 0; i < o_.count; ++i) {
    logs_[i].next_due_us =
        start + period_us * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(o_.count);
  }
  while (!stop_traffic_) {
    const auto now = now_us();
    for (std::size_t i = 0; i < o_.count && !stop_traffic_; ++i) send_due(i, now);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void client_group::send_due(std::size_t i, std::int64_t now) {
  auto& log = logs_[i];
  if (slots_[i].status.load() != k_connected) return;  // the app waits for Connected
  std::vector<std::pair<std::int64_t, std::uint32_t>> again;
  {
    std::lock_guard lock(log.mu);
    again.swap(log.failed);
  }
  for (const auto& [id, seq] : again) {
    m_to_resend_.fetch_sub(1);
    m_pending_.fetch_add(1);
    const auto rc = clients_[i]->resend_message(
        id, [this, i, seq = seq](std::int64_t mid) { on_sent(i, seq, mid, 0); },
        [this, i, seq = seq](int code, std::int64_t mid) { on_sent(i, seq, mid, code); });
    if (rc != rc::code::ok) on_sent(i, seq, id, static_cast<int>(rc));
  }
  if (draining_.load() || now < log.next_due_us) return;
  const auto period_us = static_cast<std::int64_t>(1e6 / o_.messages_per_s);
  log.next_due_us = std::max(log.next_due_us + period_us, now);  // no burst after an outage
  const std::uint32_t seq = log.next_seq++;
  {
    std::lock_guard lock(log.mu);
    log.state.push_back(0);
  }
  const std::size_t partner = (i ^ 1) < o_.count ? (i ^ 1) : i;
  // {"content":"SENDER:SEQ:SENT_US"}: the receiver finds the sender's log and the latency.
  const auto content = "{\"content\":\"" + std::to_string(i) + ":" + std::to_string(seq) + ":" +
                       std::to_string(now) + "\"}";
  m_pending_.fetch_add(1);
  const auto rc = clients_[i]->send_message(
      user_id(o_.user_prefix, o_.shard, partner), "RC:TxtMsg", content, "", nullptr,
      [this, i, seq](std::int64_t id) { on_sent(i, seq, id, 0); },
      [this, i, seq](int code, std::int64_t id) { on_sent(i, seq, id, code); });
  if (rc != rc::code::ok) on_sent(i, seq, 0, static_cast<int>(rc));
}

void client_group::on_sent(std::size_t sender, std::uint32_t seq, std::int64_t id, int code) {
  m_pending_.fetch_sub(1);
  auto& log = logs_[sender];
  std::lock_guard lock(log.mu);
  if (code != 0) {
    m_failures_.fetch_add(1);
    if (id > 0) {  // the same message again once connected (resendMessage)
      log.failed.emplace_back(id, seq);
      m_to_resend_.fetch_add(1);
    }
    return;
  }
  auto& st = log.state.at(seq - 1);
  if ((st & sender_log::k_acked) == 0) m_sent_.fetch_add(1);
  st |= sender_log::k_acked;
}

void client_group::on_message(const std::string& content) {
  const auto t = now_us();
  // {"content":"SENDER:SEQ:SENT_US"}
  unsigned long long sender = 0, seq = 0;
  long long sent_us = 0;
  if (std::sscanf(content.c_str(), "{\"content\":\"%llu:%llu:%lld\"}", &sender, &seq, &sent_us) != 3 ||
      sender >= o_.count || seq == 0) {
    return;  // not one of ours
  }
  {
    auto& log = logs_[sender];
    std::lock_guard lock(log.mu);
    if (seq > log.state.size()) return;
    auto& st = log.state[seq - 1];
    if ((st & sender_log::k_shown) != 0) {
      m_duplicates_.fetch_add(1);
      return;
    }
    st |= sender_log::k_shown;
  }
  m_delivered_.fetch_add(1);
  const auto us = static_cast<std::uint64_t>(std::max<long long>(0, t - sent_us));
  const auto b = bucket(t);
  b_delivered_[b].fetch_add(1, std::memory_order_relaxed);
  auto seen = b_delivery_max_us_[b].load(std::memory_order_relaxed);
  while (us > seen && !b_delivery_max_us_[b].compare_exchange_weak(seen, us)) {
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

// Nothing on its way: every send answered, every failure resent, every acknowledged
// message shown.
bool client_group::drained() {
  if (m_pending_.load() > 0 || m_to_resend_.load() > 0) return false;
  return m_delivered_.load() >= m_sent_.load();
}

void client_group::ramp_loop() {
  const auto start = std::chrono::steady_clock::now();
  const auto t0 = now_ms();
  for (std::size_t i = 0; i < clients_.size() && !stop_ramp_; ++i) {
    if (o_.ramp_per_s > 0) {
      const auto due =
          start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / o_.ramp_per_s));
      if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
    }
    const auto token =
        token::issue(o_.app_key, user_id(o_.user_prefix, o_.shard, i), o_.app_secret, t0);
    clients_[i]->connect(token.value_or("bad-token"), 0, {}, {}, {});
    started_.fetch_add(1, std::memory_order_relaxed);
  }
}

// --- callbacks (event-loop threads) ----------------------------------------------------

void client_group::on_attempt(slot& s) {
  const auto t = now_us();
  s.attempt_us.store(t, std::memory_order_relaxed);
  attempts_.fetch_add(1, std::memory_order_relaxed);
  b_attempts_[bucket(t)].fetch_add(1, std::memory_order_relaxed);
  if (!ramp_over_.load(std::memory_order_relaxed)) ramp_attempts_.fetch_add(1);
  if (gen_.load(std::memory_order_relaxed) != 0) storm_attempts_.fetch_add(1);
}

void client_group::mark_lost(slot& s, std::int64_t at_us) {
  const auto g = gen_.load();
  if (g == 0) return;
  auto old = s.gen.load();
  if (old == g || !s.gen.compare_exchange_strong(old, g)) return;
  s.recovered_us.store(k_none);
  s.lost_us.store(at_us);
  affected_.fetch_add(1);
}

void client_group::on_status(slot& s, int st, int cause) {
  const auto t = now_us();
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
    if (series.empty()) series.assign(std::max<std::size_t>(1, o_.max_buckets), 0);
    ++series[bucket(t)];
  }
  if (stopped && s.alive.exchange(false)) {
    alive_.fetch_sub(1);
    std::lock_guard lock(mu_);
    ++stopped_[cause];
  }
}

// --- driver calls -----------------------------------------------------------------------

group_status client_group::status() const {
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
  g.rss_kb = read_rss_kb();
  return g;
}

void client_group::end_ramp(std::int64_t at_us) {
  std::lock_guard lock(mu_);
  ramp_end_us_ = at_us;
  ramp_connected_ = connected_.load();
  ramp_over_ = true;
}

void client_group::arm(int index, const std::string& trigger, std::int64_t armed_us) {
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

void client_group::set_origin(std::int64_t origin_us) {
  {
    std::lock_guard lock(mu_);
    current_.origin_ms = origin_us / 1000;
  }
  origin_set_ = true;
}

void client_group::end_storm(std::int64_t end_us) {
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

void client_group::set_network(bool available) {
  for (auto& c : clients_) c->set_network_available(available);
}

void client_group::sample(std::int64_t at_us) {
  const auto b = bucket(at_us);
  b_connected_[b] = static_cast<std::int64_t>(connected_.load());
}

void client_group::finish(run_result& r, std::int64_t drain_ms) {
  stop_ramp_ = true;
  if (ramp_thread_.joinable()) ramp_thread_.join();
  if (traffic_thread_.joinable()) {
    draining_ = true;  // resends go on, new messages stop
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
    while (!drained() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop_traffic_ = true;
    traffic_thread_.join();
  }
  const auto end = now_us();
  sample(end);
  // Destroying a client closes its socket; no callback runs afterwards.
  clients_.clear();
  rt_.reset();

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
  if (logs_) {
    traffic_result t{.per_client_per_s = o_.messages_per_s,
                     .sent = m_sent_.load(),
                     .send_failures = m_failures_.load(),
                     .unconfirmed = static_cast<std::uint64_t>(std::max<std::int64_t>(0, m_pending_.load())),
                     .delivered = m_delivered_.load(),
                     .duplicates = m_duplicates_.load(),
                     .before_us = d_before_,
                     .during_us = d_during_,
                     .after_us = d_after_};
    for (std::size_t i = 0; i < o_.count; ++i) {
      std::lock_guard log_lock(logs_[i].mu);
      for (const auto st : logs_[i].state) {
        if ((st & sender_log::k_acked) != 0 && (st & sender_log::k_shown) == 0) ++t.lost;
      }
    }
    r.traffic = std::move(t);
  }
  // The timeline up to the last bucket in use.
  const auto last = bucket(end);
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
