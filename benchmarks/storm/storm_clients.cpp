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

namespace {

counts_options counts_for(const group_options& o) {
  return {.count = o.count,
          .t0_ms = o.t0_ms,
          .bucket_ms = o.bucket_ms,
          .max_buckets = o.max_buckets,
          .messages = o.messages_per_s > 0};
}

}  // namespace

client_group::client_group(group_options o) : o_(std::move(o)), counts_(counts_for(o_)) {}

client_group::~client_group() {
  stop_ramp_ = true;
  if (ramp_thread_.joinable()) ramp_thread_.join();
  stop_traffic_ = true;
  if (traffic_thread_.joinable()) traffic_thread_.join();
  clients_.clear();
  rt_.reset();
}

std::string client_group::prepare() {
  client::runtime_options ro;
  ro.io_threads = std::max(1u, o_.threads);
  ro.inline_callbacks = true;
  rt_ = std::make_unique<client::runtime>(ro);
  clients_.reserve(o_.count);
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
    c->set_connection_status_listener([this, i](rc::status st, rc::code cause) {
      counts_.on_status(i, static_cast<int>(st), static_cast<int>(cause), now_us());
    });
    c->set_attempt_listener(
        [this, i](std::int64_t, std::uint32_t) { counts_.on_attempt(i, now_us()); });
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
  while (!stop_traffic_ && !counts_.ramp_over()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
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
  if (!counts_.connected(i)) return;  // the app waits for Connected
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
  counts_.on_delivery(us, t);
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
    counts_.started();
  }
}

// --- driver calls -----------------------------------------------------------------------

group_status client_group::status() const {
  auto g = counts_.status();
  g.rss_kb = read_rss_kb();
  return g;
}

void client_group::end_ramp(std::int64_t at_us) { counts_.end_ramp(at_us); }
void client_group::arm(int index, const std::string& trigger, std::int64_t armed_us) {
  counts_.arm(index, trigger, armed_us);
}
void client_group::set_origin(std::int64_t origin_us) { counts_.set_origin(origin_us); }
void client_group::end_storm(std::int64_t end_us) { counts_.end_storm(end_us); }
void client_group::sample(std::int64_t at_us) { counts_.sample(at_us); }

void client_group::set_network(bool available) {
  for (auto& c : clients_) c->set_network_available(available);
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
  counts_.sample(end);
  // Destroying a client closes its socket; no callback runs afterwards.
  clients_.clear();
  rt_.reset();
  counts_.fill(r, end);
  if (logs_) {
    traffic_result t{.per_client_per_s = o_.messages_per_s,
                     .sent = m_sent_.load(),
                     .send_failures = m_failures_.load(),
                     .unconfirmed = static_cast<std::uint64_t>(std::max<std::int64_t>(0, m_pending_.load())),
                     .delivered = m_delivered_.load(),
                     .duplicates = m_duplicates_.load()};
    counts_.fill_deliveries(t);
    for (std::size_t i = 0; i < o_.count; ++i) {
      std::lock_guard log_lock(logs_[i].mu);
      for (const auto st : logs_[i].state) {
        if ((st & sender_log::k_acked) != 0 && (st & sender_log::k_shown) == 0) ++t.lost;
      }
    }
    r.traffic = std::move(t);
  }
}

}  // namespace imock::storm
