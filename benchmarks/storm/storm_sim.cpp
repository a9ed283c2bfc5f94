#include "imock/benchmarks/storm/storm_sim.hpp"

#include <chrono>
#include <cstdio>
#include <variant>
#include <vector>

#include "imock/benchmarks/storm/storm_counts.hpp"
#include "imock/client/connection.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/config.hpp"
#include "imock/sim/addresses.hpp"
#include "imock/sim/client_host.hpp"
#include "imock/sim/scheduler.hpp"
#include "imock/sim/server_host.hpp"

namespace imock::storm {
namespace {

// Virtual time starts at 2026-01-01T00:00:00Z, whenever the run is made: the same
// options give the same report, times included.
constexpr std::int64_t k_sim_epoch_ms = 1'767'225'600'000;

double service_us(const options& o) {
  return o.sim_service_us > 0 ? o.sim_service_us : k_sim_default_service_us;
}
double close_us(const options& o) {
  return o.sim_close_us > 0 ? o.sim_close_us : k_sim_default_close_us;
}

server::server_config sim_config(const options& o) {
  auto c = server::default_config();
  c.limits.max_connections = static_cast<std::uint32_t>(o.clients + 1000);
  c.navigation.cache_lifetime_ms = static_cast<std::int64_t>(o.navigation_cache * 1000);
  return c;
}

}  // namespace

struct sim_world::impl {
  explicit impl(const options& opts)
      : o(opts),
        clock(k_sim_epoch_ms),
        server(clock, sim_config(opts), opts.seed),
        wall_start(std::chrono::steady_clock::now()) {
    // A drop-all of N clients runs N events at one millisecond, by design.
    clock.max_events_at_once = 200'000 + 20 * static_cast<std::uint64_t>(opts.clients);
    sim::connect_model m;
    m.backlog = opts.sim_backlog;
    m.service_us = static_cast<std::int64_t>(service_us(opts));
    m.close_us = static_cast<std::int64_t>(close_us(opts));
    m.sweep_ms = 250;  // imock-server's sweep
    server.set_connect_model(m);
  }

  options o;
  sim::scheduler clock;
  sim::server_host server;
  std::chrono::steady_clock::time_point wall_start;
};

// --- the clients ------------------------------------------------------------------------

namespace {

sim::latency link_latency(int rtt_ms) {
  return {.up_ms = rtt_ms / 2, .down_ms = rtt_ms - rtt_ms / 2};
}

class sim_population final : public population {
 public:
  sim_population(sim_world::impl& w, const group_options& g)
      : w_(w),
        g_(g),
        counts_({.count = g.count,
                 .t0_ms = g.t0_ms,
                 .bucket_ms = g.bucket_ms,
                 .max_buckets = g.max_buckets}) {}

  std::string prepare() override {
    const auto url = net::parse_server_url(g_.url);
    if (!url) return "bad URL " + g_.url;
    const auto lat = link_latency(w_.o.sim_rtt_ms);
    hosts_.reserve(g_.count);
    for (std::size_t i = 0; i < g_.count; ++i) {
      auto h = std::make_unique<sim::client_host>(w_.clock, w_.server, url->via, lat);
      auto o = std::make_shared<client::options>();
      o->app_key = g_.app_key;
      o->device_id = "dev-" + std::to_string(g_.shard) + "-" + std::to_string(i);
      o->heartbeat_s = g_.heartbeat_s;
      o->jitter = g_.jitter;
      o->jitter_seed = g_.seed * 0x9E3779B97F4A7C15ULL + (g_.first + i);
      o->connect_ack_timeout_ms = g_.connect_timeout_ms;
      o->plain = g_.plain;
      if (!g_.navigation.empty()) {
        o->navigation = {g_.navigation};
        o->navigation_transports = {url->via};
      }
      h->set_observer([this, i](const client::action& a, std::int64_t now_ms) {
        if (client::attempt_begun(a)) counts_.on_attempt(i, now_ms * 1000);
        if (const auto* s = std::get_if<client::status_changed>(&a)) {
          counts_.on_status(i, static_cast<int>(s->value), static_cast<int>(s->cause),
                            now_ms * 1000);
        }
      });
      if (h->init(std::move(o), 0) != rc::code::ok) {
        return "client init failed (bad options?)";
      }
      hosts_.push_back(std::move(h));
    }
    return {};
  }

  void start_ramp() override {
    ramp_start_ms_ = w_.clock.now();
    ramp_step();
  }

  group_status status(std::int64_t at_us) override {
    counts_.sample(at_us);
    auto s = counts_.status();
    s.rss_kb = read_proc(0).rss_kb;
    return s;
  }
  void end_ramp(std::int64_t at_us) override {
    counts_.end_ramp(at_us);
    memory_.at_ramp_end(counts_.status().connected);
  }
  void arm(int index, const std::string& trigger, std::int64_t at_us) override {
    counts_.arm(index, trigger, at_us);
  }
  void set_origin(std::int64_t at_us) override { counts_.set_origin(at_us); }
  void end_storm(std::int64_t at_us) override { counts_.end_storm(at_us); }
  void set_network(bool available) override {
    for (auto& h : hosts_) h->network(available);
  }
  std::string finish(run_result& r) override {
    const auto end = w_.clock.now() * 1000;
    counts_.sample(end);
    counts_.fill(r, end);
    memory_.fill(r.tool);
    return {};
  }

 private:
  // Connects every client that is due by now, then waits for the next one.
  void ramp_step() {
    const auto now = w_.clock.now();
    while (next_ < g_.count && due_ms(next_) <= now) {
      const auto user = user_id(g_.user_prefix, g_.shard, next_);
      const auto token = token::issue(g_.app_key, user, g_.app_secret, now);
      hosts_[next_]->connect(token.value_or("bad-token"), 0);
      counts_.started();
      ++next_;
    }
    if (next_ < g_.count) w_.clock.at(due_ms(next_), [this] { ramp_step(); });
  }
  [[nodiscard]] std::int64_t due_ms(std::size_t i) const {
    if (g_.ramp_per_s <= 0) return ramp_start_ms_;
    return ramp_start_ms_ + static_cast<std::int64_t>(static_cast<double>(i) * 1000 / g_.ramp_per_s);
  }

  sim_world::impl& w_;
  group_options g_;
  storm_counts counts_;
  std::vector<std::unique_ptr<sim::client_host>> hosts_;
  std::size_t next_ = 0;
  std::int64_t ramp_start_ms_ = 0;
  process_memory memory_;
};

}  // namespace

// --- the world --------------------------------------------------------------------------

sim_world::sim_world(const options& o) : impl_(std::make_unique<impl>(o)) {}
sim_world::~sim_world() = default;

std::string sim_world::mqtt_url() const {
  return "mqtt://" + std::string(sim::k_server_host) + ":1883";
}
std::string sim_world::http_base() const { return "http://" + std::string(sim::k_server_host); }

std::int64_t sim_world::now_us() { return impl_->clock.now() * 1000; }

void sim_world::wait_until(std::int64_t t_us) {
  if (!error_.empty()) return;
  try {
    impl_->clock.run_until(t_us / 1000, {});
  } catch (const sim::scheduler::no_progress& e) {
    error_ = std::string("the simulation cannot go on: ") + e.what();
  }
}

http_result sim_world::post(std::string_view path, std::string_view json_body, int) {
  const auto a = impl_->server.request({.method = "POST",
                                        .path = std::string(path),
                                        .content_type = "application/json",
                                        .body = std::string(json_body)});
  return {.status = a.http_status, .body = a.body};
}

http_result sim_world::get(std::string_view target, int) {
  const auto a = impl_->server.request({.method = "GET", .path = std::string(target)});
  return {.status = a.http_status, .body = a.body};
}

std::unique_ptr<population> sim_world::make_population(const group_options& g) {
  return std::make_unique<sim_population>(*impl_, g);
}

std::string sim_world::model_notes() const {
  const auto& c = impl_->server.accept_counts();
  const auto wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                    impl_->wall_start)
                          .count();
  char text[512];
  std::snprintf(text, sizeof text,
                "simulated: listen queue %zu, %.0f us per connect, %.0f us per close, round trip "
                "%d ms; %llu SYNs "
                "(%llu dropped on a full queue, %llu connects gave up), accept queue peak %zu; "
                "%llu events in %.1f s of wall time",
                impl_->o.sim_backlog, service_us(impl_->o), close_us(impl_->o), impl_->o.sim_rtt_ms, static_cast<unsigned long long>(c.syns),
                static_cast<unsigned long long>(c.syns_dropped),
                static_cast<unsigned long long>(c.gave_up), c.queue_peak,
                static_cast<unsigned long long>(impl_->clock.events_run()), wall_s);
  return text;
}

}  // namespace imock::storm
