#include "harness/sim_world.hpp"

#include <type_traits>

namespace imock::harness {
namespace {

server::transport transport_of(transport_kind t) {
  switch (t) {
    case transport_kind::tcp:
      return server::transport::tcp;
    case transport_kind::tls:
      return server::transport::tls;
    case transport_kind::ws:
      return server::transport::ws;
    case transport_kind::wss:
      return server::transport::wss;
  }
  return server::transport::tcp;
}

// FNV-1a: a client's jitter seed from its name and the scenario's seed, so runs repeat.
std::uint64_t seed_of(std::string_view name, std::uint64_t scenario_seed) {
  std::uint64_t h = 14695981039346656037ULL ^ scenario_seed;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

// The reference machine of one scenario client, its events recorded in the trace.
class sim_world::sim_client final : public harness_client {
 public:
  sim_client(sim_world& w, const client_spec& spec)
      : w_(w),
        spec_(spec),
        host_(w.clock_, *w.server_, transport_of(spec.transport),
              {.up_ms = spec.latency_up_ms, .down_ms = spec.latency_down_ms}) {
    host_.set_observer([this](const client::action& a, std::int64_t now) { observe(a, now); });
  }

  bool init() override {
    inited_ = true;
    auto o = std::make_shared<client::options>();
    o->app_key = spec_.app;
    o->device_id = spec_.device;
    o->platform = spec_.platform;
    o->heartbeat_s = static_cast<int>(spec_.heartbeat_ms / 1000);
    if (spec_.schedule_ms) o->schedule_ms = *spec_.schedule_ms;
    o->reconnect_kick = spec_.reconnect_kick;
    return host_.init(std::move(o), seed_of(spec_.name, w_.s_.seed)) == rc::code::ok;
  }
  void connect(const std::string& token, int time_limit_s, bool init_first) override {
    if (init_first && !inited_) init();
    host_.connect(token, time_limit_s);
  }
  void disconnect() override { returned("disconnect", host_.disconnect()); }
  void logout() override { returned("logout", host_.logout()); }
  void network(bool up) override { host_.network(up); }
  void foreground() override { host_.foreground(); }
  void reconnect_kick(bool on) override { returned("reconnect_kick", host_.set_reconnect_kick(on)); }

 private:
  void returned(const char* call, rc::code code) {
    w_.trace().add(
        {.source = spec_.name, .kind = "returned", .code = static_cast<int>(code), .detail = call});
  }

  void observe(const client::action& a, std::int64_t now) {
    auto& trace = w_.trace();
    const std::string& name = spec_.name;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, client::open_transport>) {
            trace.add({.source = name,
                       .kind = "attempt",
                       .detail = "#" + std::to_string(x.attempt),
                       .client_ms = now});
          } else if constexpr (std::is_same_v<T, client::status_changed>) {
            trace.add({.source = name,
                       .kind = "status",
                       .status = static_cast<int>(x.value),
                       .code = static_cast<int>(x.cause)});
          } else if constexpr (std::is_same_v<T, client::db_opened>) {
            trace.add({.source = name, .kind = "db_opened", .code = static_cast<int>(x.code)});
          } else if constexpr (std::is_same_v<T, client::success>) {
            trace.add({.source = name, .kind = "success", .user = x.user_id});
          } else if constexpr (std::is_same_v<T, client::error>) {
            trace.add({.source = name, .kind = "error", .code = static_cast<int>(x.code)});
          }
        },
        a);
  }

  sim_world& w_;
  client_spec spec_;
  sim::client_host host_;
  bool inited_ = false;
};

sim_world::sim_world(const scenario& s) : s_(s) {}

sim_world::~sim_world() { stop(); }

void sim_world::start() {
  auto config = s_.server;
  server_ = std::make_unique<sim::server_host>(clock_, config, s_.seed);
  server_->hub().events().set_listener([this](const server::event& e) {
    if (stopped_ || e.kind == "accept" || e.kind == "api" || e.kind == "start") return;  // noise
    trace().add({.source = "server",
                 .kind = e.kind,
                 .code = e.code,
                 .user = e.user,
                 .device = e.device,
                 .detail = e.detail});
  });
}

void sim_world::stop() {
  stopped_ = true;
  clients_.clear();
  server_.reset();
}

bool sim_world::wait(std::int64_t until_ms, const std::function<bool()>& done) {
  return clock_.run_until(k_epoch_ms + until_ms, done);
}

server::api_response sim_world::request(const server::api_request& r) {
  return server_->request(r);
}

harness_client& sim_world::client(const client_spec& spec) {
  auto& slot = clients_[spec.name];
  if (!slot) slot = std::make_unique<sim_client>(*this, spec);
  return *slot;
}

}  // namespace imock::harness
