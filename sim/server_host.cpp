#include "imock/sim/server_host.hpp"

#include <algorithm>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "imock/sim/addresses.hpp"

namespace imock::sim {

namespace {

// The simulated server's listeners as navigation lists them, on `host`: k_server_host
// reaches the server, k_dead_host nothing (sim/addresses.hpp).
std::vector<std::string> urls_on(std::string_view host) {
  const std::string h(host);
  return {"mqtt://" + h + ":1883", "mqtts://" + h + ":8883", "ws://" + h + "/mqtt",
          "wss://" + h + "/mqtt"};
}

}  // namespace

server_host::server_host(scheduler& clock, const server::server_config& config,
                         std::uint64_t fault_seed)
    : clock_(clock), hub_(config, fault_seed, clock.now()), endpoints_(hub_, *this) {
  endpoints_.set_connection_servers(urls_on(k_server_host));
  endpoints_.set_dead_servers(urls_on(k_dead_host));
}

server_host::~server_host() = default;

server_host::link_state* server_host::find(std::uint64_t link) {
  const auto it = links_.find(link);
  return it == links_.end() ? nullptr : &it->second;
}

std::uint64_t server_host::connect(client_end& end, server::transport via, latency lat) {
  const auto id = next_link_++;
  link_state l{mqtt::decoder(hub_.config().limits.max_packet_size)};
  l.end = &end;
  l.lat = lat;
  l.via = via;
  links_.emplace(id, std::move(l));
  clock_.after(lat.up_ms, [this, id] { on_syn(id); });
  return id;
}

void server_host::on_syn(std::uint64_t link) {
  auto* l = find(link);
  if (l == nullptr) return;
  if (!l->client_open) {  // the client gave up before its SYN arrived
    links_.erase(link);
    return;
  }
  ++counts_.syns;
  if (accept_mode_ == accept_mode::drop_syn && !shut_down_) {
    // A full listen queue: the SYN is dropped and nothing ever answers it. The client
    // gives up on its own (30010); its later attempts open new links.
    l->server_open = false;
    return;
  }
  if (accept_mode_ != accept_mode::accept || shut_down_) {
    refuse(link);
    return;
  }
  const bool limited = model_.backlog > 0 || model_.service_us > 0;
  if (limited && model_.backlog > 0 && accept_queue_.size() >= model_.backlog) {
    ++counts_.syns_dropped;
    if (l->syn_sent < model_.syn_retry_ms.size()) {
      // The client's kernel sends the SYN again; it arrives that much later.
      clock_.after(model_.syn_retry_ms[l->syn_sent++], [this, link] { on_syn(link); });
    } else {
      ++counts_.gave_up;
      refuse(link);
    }
    return;
  }
  if (limited) {
    l->queued = true;
    accept_queue_.push_back(link);
    counts_.queue_peak = std::max(counts_.queue_peak, accept_queue_.size());
    schedule_accept();
  } else {
    open_session(link);
  }
  clock_.after(l->lat.down_ms, [this, link] {
    auto* x = find(link);
    if (x != nullptr && x->client_open) x->end->on_connected(link);
  });
}

void server_host::refuse(std::uint64_t link) {
  auto* l = find(link);
  if (l == nullptr) return;
  l->server_open = false;
  clock_.after(l->lat.down_ms, [this, link] {
    auto* x = find(link);
    if (x == nullptr) return;
    auto* end = x->client_open ? x->end : nullptr;
    x->client_open = false;
    links_.erase(link);
    if (end != nullptr) end->on_refused(link);
  });
}

void server_host::open_session(std::uint64_t link) {
  auto* l = find(link);
  l->session = hub_.open(l->via, "sim:" + std::to_string(link), now_ms());
  link_of_session_.emplace(l->session, link);
  keep_ticking();
}

// The server does one thing at a time: a close the hub asked for (close_us each, in
// the order asked) before the next accept (service_us each). Its clock is kept in
// microseconds; events fall on the millisecond each job ends.
void server_host::schedule_accept(bool continuing) {
  if (accept_scheduled_ || (accept_queue_.empty() && close_work_.empty())) return;
  accept_scheduled_ = true;
  // A busy server's next job starts when the last one ended, not at the event.
  const auto start = continuing ? busy_until_us_ : std::max(busy_until_us_, clock_.now() * 1000);
  const bool close = !close_work_.empty();
  busy_until_us_ = start + (close ? model_.close_us : model_.service_us);
  clock_.at((busy_until_us_ + 999) / 1000, [this, close] {
    // accept_scheduled_ stays set while the job runs: what it causes (the hub's
    // answer to a CONNECT) must not start the next job at this event's time.
    if (close) {
      server::actions one;
      one.push_back(std::move(close_work_.front()));
      close_work_.pop_front();
      apply_now(std::move(one));
    } else {
      accept_next();
    }
    accept_scheduled_ = false;
    schedule_accept(true);
  });
}

void server_host::accept_next() {
  while (!accept_queue_.empty()) {
    const auto link = accept_queue_.front();
    accept_queue_.pop_front();
    auto* l = find(link);
    if (l == nullptr || !l->queued) continue;
    l->queued = false;
    if (!l->client_open || !l->server_open) {  // closed while it waited
      forget_if_done(link);
      continue;
    }
    ++counts_.accepted;
    open_session(link);
    if (!l->unread.empty()) receive(link, std::exchange(l->unread, {}));
    break;
  }
}

void server_host::send(std::uint64_t link, std::string bytes) {
  auto* l = find(link);
  if (l == nullptr || !l->client_open) return;
  clock_.after(l->lat.up_ms, [this, link, bytes = std::move(bytes)] { receive(link, bytes); });
}

void server_host::receive(std::uint64_t link, const std::string& bytes) {
  auto* l = find(link);
  if (l != nullptr && l->queued && l->server_open) {  // not accepted yet: it waits
    l->unread += bytes;
    return;
  }
  if (l == nullptr || !l->server_open || l->session == 0) return;
  hub_.count_bytes(bytes.size(), 0);
  l->rx.feed(bytes);
  std::error_code ec;
  while (true) {
    l = find(link);  // apply() may have closed it
    if (l == nullptr || !l->server_open) break;
    auto p = l->rx.next(ec);
    if (ec) {
      apply(hub_.on_decode_error(l->session, ec, l->rx.error_detail(), now_ms()));
      break;
    }
    if (!p) break;
    apply(hub_.on_packet(l->session, std::move(*p), now_ms()));
  }
  keep_ticking();
}

void server_host::close(std::uint64_t link) {
  auto* l = find(link);
  if (l == nullptr || !l->client_open) return;
  l->client_open = false;
  clock_.after(l->lat.up_ms, [this, link] {
    auto* x = find(link);
    if (x == nullptr) return;
    if (x->server_open) {
      x->server_open = false;
      if (x->session != 0) {
        link_of_session_.erase(x->session);
        hub_.on_closed(x->session, "peer closed", now_ms());
        keep_ticking();
      }
    }
    forget_if_done(link);
  });
}

// The server closes after what it sent: the client sees the FIN `down` ms later and
// closes too; the hub hears "closed by server" when that FIN is back (or at once if
// the client had already gone).
void server_host::server_close(std::uint64_t link) {
  auto* l = find(link);
  if (l == nullptr || !l->server_open) return;
  l->server_open = false;
  const auto session = l->session;
  link_of_session_.erase(session);
  if (!l->client_open) {
    hub_.on_closed(session, "closed by server", now_ms());
    forget_if_done(link);
    return;
  }
  const auto lat = l->lat;
  clock_.after(lat.down_ms, [this, link, session, lat] {
    if (auto* x = find(link); x != nullptr && x->client_open) {
      x->client_open = false;
      x->end->on_closed(link);
    }
    clock_.after(lat.up_ms, [this, link, session] {
      hub_.on_closed(session, "closed by server", now_ms());
      keep_ticking();
      forget_if_done(link);
    });
  });
}

// A reset ends both sides at once: the hub hears it now, the client `down` ms later,
// and nothing sent before it that is still in flight arrives after it.
void server_host::server_reset(std::uint64_t link) {
  auto* l = find(link);
  if (l == nullptr || !l->server_open) return;
  l->server_open = false;
  if (l->session != 0) {  // 0: never accepted (reset in the accept queue)
    link_of_session_.erase(l->session);
    hub_.on_closed(l->session, "reset by server", now_ms());
  }
  clock_.after(l->lat.down_ms, [this, link] {
    auto* x = find(link);
    if (x == nullptr) return;
    auto* end = x->client_open ? x->end : nullptr;
    links_.erase(link);
    if (end != nullptr) end->on_reset(link);
  });
}

void server_host::forget_if_done(std::uint64_t link) {
  if (auto* l = find(link); l != nullptr && !l->client_open && !l->server_open) links_.erase(link);
}

void server_host::apply(server::actions&& todo) {
  if (model_.close_us <= 0) {
    apply_now(std::move(todo));
    return;
  }
  server::actions now;
  for (auto& a : todo) {
    if (a.close && !a.reset && a.delay_ms <= 0) {
      close_work_.push_back(std::move(a));  // the server gets to it in turn
    } else {
      now.push_back(std::move(a));
    }
  }
  apply_now(std::move(now));
  schedule_accept();
}

void server_host::apply_now(server::actions&& todo) {
  for (auto& a : todo) {
    if (a.delay_ms > 0) {
      const auto delay = std::exchange(a.delay_ms, 0);
      clock_.after(delay, [this, a = std::move(a)]() mutable {
        server::actions later;
        later.push_back(std::move(a));
        apply(std::move(later));
      });
      continue;
    }
    const auto it = link_of_session_.find(a.session);
    if (it == link_of_session_.end()) continue;
    const auto link = it->second;
    auto* l = find(link);
    if (l == nullptr || !l->server_open) continue;
    if (a.reset) {
      server_reset(link);
      continue;
    }
    if (a.send) {
      std::string bytes;
      if (mqtt::encode(*a.send, bytes)) {
        hub_.count_bytes(0, bytes.size());
        clock_.after(l->lat.down_ms, [this, link, bytes = std::move(bytes)] {
          if (auto* x = find(link); x != nullptr && x->client_open) x->end->on_bytes(link, bytes);
        });
      }
    }
    if (a.close) server_close(link);
  }
  keep_ticking();
}

void server_host::keep_ticking() {
  if (model_.sweep_ms > 0) {
    if (tick_at_) return;
    tick_at_ = clock_.now() + model_.sweep_ms;
    clock_.at(*tick_at_, [this] {
      tick_at_.reset();
      apply(hub_.tick(now_ms()));  // schedules the next sweep
    });
    return;
  }
  const auto next = hub_.next_deadline();
  if (!next || (tick_at_ && *tick_at_ <= *next)) return;
  tick_at_ = *next;
  clock_.at(*next, [this, at = *next] {
    if (tick_at_ != at) return;  // superseded by an earlier tick
    tick_at_.reset();
    apply(hub_.tick(now_ms()));
  });
}

server::api_response server_host::request(const server::api_request& r) {
  auto response = endpoints_.handle(r, now_ms());
  keep_ticking();
  return response;
}

void server_host::navigate(const std::string& url, const std::string& app_key,
                           const std::string& body, latency lat, navigation_answer answer) {
  auto r = navigation_request(url, app_key, body);
  if (!r) {
    clock_.after(lat.up_ms + lat.down_ms, [answer = std::move(answer)] { answer(std::nullopt); });
    return;
  }
  clock_.after(lat.up_ms, [this, lat, r = std::move(*r), answer = std::move(answer)]() mutable {
    clock_.after(lat.down_ms, [a = request(r), answer = std::move(answer)] { answer(a); });
  });
}

void server_host::set_accept_mode(accept_mode m) {
  accept_mode_ = m;
  if (m == accept_mode::accept) return;
  // The listener is gone or refusing: what waited in its accept queue is reset.
  for (const auto link : std::exchange(accept_queue_, {})) {
    auto* l = find(link);
    if (l == nullptr || !l->queued) continue;
    l->queued = false;
    server_reset(link);
  }
}

void server_host::resume_accepting_after(std::int64_t after_ms) {
  clock_.after(after_ms, [this] {
    if (shut_down_) return;
    set_accepting(true);
    hub_.log(server::event_kind::admin, "accepting again", now_ms());
  });
}

void server_host::request_shutdown() {
  shut_down_ = true;
  set_accept_mode(accept_mode::refuse);
  apply(hub_.shutdown(now_ms()));
}

}  // namespace imock::sim
