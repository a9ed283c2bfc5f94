#include "imock/client/connection.hpp"

#include <algorithm>
#include <ostream>
#include <type_traits>
#include <utility>

#include "imock/protocol/token.hpp"

namespace imock::client {
namespace {

constexpr std::uint8_t k_reason_protocol_error = 0x82;
constexpr std::int64_t k_ms_per_s = 1000;

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

// splitmix64: tiny state, good enough to spread reconnects; not for secrets.
std::uint64_t next_random(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::int64_t uniform(std::uint64_t& state, std::int64_t lo, std::int64_t hi) noexcept {
  if (hi <= lo) return lo;
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<std::int64_t>(next_random(state) % span);
}

// The documented code a packet carries: its rc-code property when that names a
// documented, non-zero code; else the table's mapping of the MQTT reason code.
rc::code code_of(const mqtt::properties& props, std::uint8_t reason, bool in_connack) {
  if (const std::string* v = props.find_user_property("rc-code"); v != nullptr) {
    int value = 0;
    bool digits = !v->empty() && v->size() <= 6;
    for (const char ch : *v) {
      if (ch < '0' || ch > '9') {
        digits = false;
        break;
      }
      value = value * 10 + (ch - '0');
    }
    if (digits && value != 0 && rc::find(value) != nullptr) return static_cast<rc::code>(value);
  }
  return rc::code_for_mqtt_reason(reason, in_connack);
}

}  // namespace

// --- text ------------------------------------------------------------------------

std::string_view to_string(timer_id id) noexcept {
  switch (id) {
    case timer_id::reconnect:
      return "reconnect";
    case timer_id::time_limit:
      return "time_limit";
    case timer_id::heartbeat:
      return "heartbeat";
    case timer_id::ack:
      return "ack";
  }
  return "unknown";
}

std::string_view to_string(phase p) noexcept {
  switch (p) {
    case phase::idle:
      return "idle";
    case phase::opening_database:
      return "opening_database";
    case phase::connecting:
      return "connecting";
    case phase::connected:
      return "connected";
    case phase::waiting:
      return "waiting";
    case phase::offline:
      return "offline";
  }
  return "unknown";
}

std::string to_string(const action& a) {
  const auto code = [](rc::code c) {
    return std::to_string(static_cast<int>(c)) + " " + std::string(rc::name(c));
  };
  return std::visit(
      overloaded{
          [](const open_transport& x) {
            std::string s = "open_transport #" + std::to_string(x.attempt);
            if (!x.server.empty()) s.append(" ").append(x.server);
            return s;
          },
          // The token stays out of traces.
          [](const navigate& x) {
            return "navigate #" + std::to_string(x.attempt) + " host " + std::to_string(x.host) +
                   " " + x.url;
          },
          [](const store_servers& x) {
            std::string s = "store_servers";
            for (const auto& url : x.list.servers) s.append(" ").append(url);
            return s.append(" until ").append(std::to_string(x.list.expires_at_ms));
          },
          [](const send& x) {
            std::string s = "send " + std::string(mqtt::type_name(mqtt::type_of(x.packet)));
            if (const auto* c = std::get_if<mqtt::connect>(&x.packet)) {
              for (const auto& [k, v] : c->props.user_properties) {
                s.append(" ").append(k).append("=").append(v);
              }
            } else if (const auto* d = std::get_if<mqtt::disconnect>(&x.packet)) {
              s += " reason " + std::to_string(d->reason);
            }
            return s;
          },
          [](const close_transport&) { return std::string("close_transport"); },
          [](const start_timer& x) {
            return "start_timer " + std::string(to_string(x.id)) + " at " + std::to_string(x.at_ms);
          },
          [](const cancel_timer& x) { return "cancel_timer " + std::string(to_string(x.id)); },
          [](const open_database& x) { return "open_database " + x.user_id; },
          [&](const db_opened& x) { return "db_opened " + code(x.code); },
          [](const success& x) { return "success " + x.user_id; },
          [&](const error& x) { return "error " + code(x.code); },
          [&](const status_changed& x) {
            return "status " + std::to_string(static_cast<int>(x.value)) + " " +
                   std::string(rc::name(x.value)) + " (cause " + code(x.cause) + ")";
          },
      },
      a);
}

std::ostream& operator<<(std::ostream& os, const action& a) { return os << to_string(a); }

std::optional<std::uint32_t> attempt_begun(const action& a) noexcept {
  if (const auto* n = std::get_if<navigate>(&a); n != nullptr && n->host == 1) return n->attempt;
  if (const auto* o = std::get_if<open_transport>(&a); o != nullptr && !o->navigated) {
    return o->attempt;
  }
  return std::nullopt;
}

// --- setup -----------------------------------------------------------------------

rc::code validate(const options& o) noexcept {
  const bool ok =
      !o.app_key.empty() && o.app_key.size() <= token::k_max_app_key_size &&
      o.device_id.size() <= token::k_max_user_id_size && o.heartbeat_s >= 0 &&
      o.heartbeat_s <= 65'535 && o.schedule_tail_ms > 0 && o.connect_ack_timeout_ms > 0 &&
      o.navigation_timeout_ms > 0 &&
      std::none_of(o.navigation.begin(), o.navigation.end(), [](auto& u) { return u.empty(); }) &&
      std::all_of(o.schedule_ms.begin(), o.schedule_ms.end(), [](auto ms) { return ms >= 0; });
  return ok ? rc::code::ok : rc::code::invalid_parameter;
}

rc::code connection::init(std::shared_ptr<const options> opts, std::uint64_t seed) {
  if (opts == nullptr || validate(*opts) != rc::code::ok) return rc::code::invalid_parameter;
  if (phase_ != phase::idle) return rc::code::connection_exist;
  options_ = std::move(opts);
  reconnect_kick_ = options_->reconnect_kick;
  rng_ = options_->jitter_seed;
  rng_ = next_random(rng_) ^ seed;
  return rc::code::ok;
}

rc::code connection::init(options opts, std::uint64_t seed) {
  return init(std::make_shared<const options>(std::move(opts)), seed);
}

std::optional<std::int64_t> connection::deadline(timer_id id) const noexcept {
  if (!armed(id)) return std::nullopt;
  return deadlines_[static_cast<std::size_t>(id)];
}

// --- app calls -------------------------------------------------------------------

void connection::connect(std::string_view token, int time_limit_s, std::int64_t now_ms,
                         actions& out) {
  if (!initialized()) {
    out.emplace_back(error{rc::code::client_not_init});
    return;
  }
  if (token.empty() || token.size() > token::k_max_token_size) {
    out.emplace_back(error{rc::code::invalid_parameter});
    return;
  }
  if (phase_ != phase::idle) {
    out.emplace_back(error{rc::code::connection_exist});  // the active call goes on
    return;
  }
  auto claims = token::peek(token);
  if (!claims || !token::valid_user_id(claims->user_id)) {
    // No user id, no database: the call ends before it starts.
    out.emplace_back(db_opened{rc::code::database_error});
    stop(rc::info(rc::code::database_error).leads_to, rc::code::database_error, true, out);
    return;
  }
  token_.assign(token);
  if (claims->user_id != user_id_) servers_ = server_list();  // another user's list
  user_id_ = std::move(claims->user_id);
  attempt_ = 0;
  step_ = 0;
  last_delay_ms_ = 0;
  succeeded_ = false;
  phase_ = phase::opening_database;
  if (time_limit_s > 0) {
    arm(timer_id::time_limit, now_ms + static_cast<std::int64_t>(time_limit_s) * k_ms_per_s, out);
  }
  out.emplace_back(open_database{user_id_});
}

void connection::database_opened(rc::code result, server_list stored, std::int64_t now_ms,
                                 actions& out) {
  if (phase_ != phase::opening_database) return;
  if (result == rc::code::ok && !stored.servers.empty()) {
    servers_ = std::move(stored);
    server_index_ = 0;
    refused_in_row_ = 0;
  }
  database_opened(result, now_ms, out);
}

void connection::database_opened(rc::code result, std::int64_t now_ms, actions& out) {
  if (phase_ != phase::opening_database) return;  // stale: the call ended meanwhile
  if (result != rc::code::ok) {
    out.emplace_back(db_opened{rc::code::database_error});
    stop(rc::info(rc::code::database_error).leads_to, rc::code::database_error, true, out);
    return;
  }
  out.emplace_back(db_opened{rc::code::ok});
  if (!network_available_) {
    go_offline(out);
    return;
  }
  start_attempt(now_ms, out);
}

rc::code connection::disconnect(std::int64_t /*now_ms*/, actions& out) {
  if (!initialized()) return rc::code::client_not_init;
  sign_out(out);
  return rc::code::ok;
}

rc::code connection::logout(std::int64_t /*now_ms*/, actions& out) {
  if (!initialized()) return rc::code::client_not_init;
  sign_out(out);
  return rc::code::ok;
}

void connection::sign_out(actions& out) {
  if (phase_ == phase::idle) return;
  if (phase_ == phase::connected && transport_up_) {
    out.emplace_back(send{mqtt::disconnect{}});  // 0x00 normal disconnection
  }
  stop(rc::status::sign_out, rc::code::ok, false, out);
}

void connection::network_changed(bool available, std::int64_t now_ms, actions& out) {
  network_available_ = available;
  if (!available) {
    if (phase_ == phase::connecting || phase_ == phase::connected || phase_ == phase::waiting) {
      go_offline(out);
    }
    return;
  }
  if (phase_ == phase::offline || phase_ == phase::waiting) restart_schedule(now_ms, out);
}

void connection::foreground(std::int64_t now_ms, actions& out) {
  if (phase_ == phase::waiting) restart_schedule(now_ms, out);
}

// --- transport events ----------------------------------------------------------------

void connection::transport_up(std::int64_t now_ms, actions& out) {
  if (phase_ != phase::connecting || !transport_open_ || transport_up_) return;
  transport_up_ = true;
  refused_in_row_ = 0;  // a server answered at the TCP level
  out.emplace_back(send{make_connect()});
  arm(timer_id::ack, now_ms + options_->connect_ack_timeout_ms, out);
}

void connection::transport_failed(rc::code why, std::int64_t now_ms, actions& out) {
  if (!transport_open_ || (phase_ != phase::connecting && phase_ != phase::connected)) return;
  if (navigating_) return;  // a navigation answers through navigation_answered
  const bool was_up = transport_up_;
  transport_open_ = false;  // the driver has closed it already
  transport_up_ = false;
  if (why == rc::code::ok || rc::find(static_cast<int>(why)) == nullptr) {
    why = rc::code::socket_not_connected;
  }
  if (!was_up) note_refusal(why, out);
  fail(why, now_ms, out);
}

void connection::transport_closed(std::int64_t now_ms, actions& out) {
  transport_failed(rc::code::socket_disconnected, now_ms, out);
}

void connection::packet_received(const mqtt::packet& p, std::int64_t now_ms, actions& out) {
  if (!transport_up_ || (phase_ != phase::connecting && phase_ != phase::connected)) return;
  if (const auto* ack = std::get_if<mqtt::connack>(&p)) {
    if (phase_ == phase::connected) {  // a second CONNACK: MQTT protocol error
      out.emplace_back(send{mqtt::disconnect{.reason = k_reason_protocol_error}});
      fail(rc::code::socket_disconnected, now_ms, out);
      return;
    }
    on_connack(*ack, now_ms, out);
  } else if (const auto* d = std::get_if<mqtt::disconnect>(&p)) {
    fail(code_of(d->props, d->reason, false), now_ms, out);
  } else if (std::holds_alternative<mqtt::pingresp>(p)) {
    ping_outstanding_ = false;
  }
}

void connection::on_connack(const mqtt::connack& ack, std::int64_t now_ms, actions& out) {
  const rc::code why = ack.reason == 0 ? rc::code::ok : code_of(ack.props, ack.reason, true);
  if (why != rc::code::ok) {
    fail(why, now_ms, out);
    return;
  }
  disarm(timer_id::ack, out);
  phase_ = phase::connected;
  step_ = 0;
  last_delay_ms_ = 0;
  ping_outstanding_ = false;
  keep_alive_s_ =
      ack.props.server_keep_alive.value_or(static_cast<std::uint16_t>(options_->heartbeat_s));
  set_status(rc::status::connected, rc::code::ok, out);
  if (!succeeded_) {
    succeeded_ = true;
    disarm(timer_id::time_limit, out);
    out.emplace_back(success{user_id_});
  }
  if (keep_alive_s_ > 0) {
    arm(timer_id::heartbeat, now_ms + static_cast<std::int64_t>(keep_alive_s_) * k_ms_per_s, out);
  }
}

void connection::timer_fired(timer_id id, std::int64_t now_ms, actions& out) {
  auto& due = deadlines_[static_cast<std::size_t>(id)];
  if (due == k_unarmed || now_ms < due) return;  // cancelled, replaced, or early
  due = k_unarmed;
  switch (id) {
    case timer_id::reconnect:
      if (phase_ == phase::waiting) start_attempt(now_ms, out);
      break;
    case timer_id::time_limit:
      if (phase_ != phase::idle && !succeeded_) {
        stop(rc::status::timeout, rc::code::connect_timeout, true, out);
      }
      break;
    case timer_id::heartbeat:
      if (phase_ != phase::connected) break;
      if (ping_outstanding_) {
        fail(rc::code::ping_send_fail, now_ms, out);
        break;
      }
      out.emplace_back(send{mqtt::pingreq{}});
      ping_outstanding_ = true;
      arm(timer_id::heartbeat, now_ms + static_cast<std::int64_t>(keep_alive_s_) * k_ms_per_s, out);
      break;
    case timer_id::ack:
      if (phase_ != phase::connecting) break;
      if (navigating_) {
        out.emplace_back(close_transport{});  // abandon the request
        navigation_failed(rc::code::navi_request_error, now_ms, out);
        break;
      }
      if (!transport_up_) note_refusal(rc::code::socket_not_connected, out);
      fail(transport_up_ ? rc::code::conn_ack_timeout : rc::code::socket_not_connected, now_ms,
           out);
      break;
  }
}

// --- internals ---------------------------------------------------------------------

void connection::start_attempt(std::int64_t now_ms, actions& out) {
  phase_ = phase::connecting;
  ++attempt_;
  transport_open_ = true;
  transport_up_ = false;
  navigating_ = false;
  set_status(rc::status::connecting, rc::code::ok, out);
  if (!options_->navigation.empty() && !servers_.fresh(now_ms)) {
    nav_host_ = 0;
    ask_navigation(now_ms, out);
    return;
  }
  open_server(false, now_ms, out);
}

void connection::open_server(bool navigated, std::int64_t now_ms, actions& out) {
  open_transport o{.attempt = attempt_, .navigated = navigated};
  if (!options_->navigation.empty()) {
    o.server = servers_.servers[server_index_ % servers_.servers.size()];
  }
  out.emplace_back(std::move(o));
  arm(timer_id::ack, now_ms + options_->connect_ack_timeout_ms, out);
}

void connection::ask_navigation(std::int64_t now_ms, actions& out) {
  navigating_ = true;
  out.emplace_back(navigate{.attempt = attempt_,
                            .host = nav_host_ + 1,
                            .url = options_->navigation[nav_host_],
                            .token = token_});
  arm(timer_id::ack, now_ms + options_->navigation_timeout_ms, out);
}

void connection::navigation_answered(const navigation_result& r, std::int64_t now_ms,
                                     actions& out) {
  if (phase_ != phase::connecting || !navigating_) return;  // stale or unasked
  if (r.code != rc::code::ok || r.servers.empty()) {
    navigation_failed(r.code == rc::code::ok ? rc::code::navi_respond_error : r.code, now_ms, out);
    return;
  }
  navigating_ = false;
  servers_ = server_list{r.servers, now_ms + std::max<std::int64_t>(0, r.lifetime_ms)};
  server_index_ = 0;
  refused_in_row_ = 0;
  out.emplace_back(store_servers{servers_});
  open_server(true, now_ms, out);
}

void connection::navigation_failed(rc::code why, std::int64_t now_ms, actions& out) {
  if (nav_host_ + 1 < options_->navigation.size()) {  // fall back to the next host
    ++nav_host_;
    ask_navigation(now_ms, out);
    return;
  }
  navigating_ = false;
  transport_open_ = false;  // nothing is in flight any more
  const auto* row = rc::find(static_cast<int>(why));
  fail(row != nullptr && !row->terminal ? why : rc::code::navi_request_error, now_ms, out);
}

// A navigated server that did not take the TCP connection; a whole list of them in a
// row and the list is dropped, so that the next attempt asks navigation again.
void connection::note_refusal(rc::code why, actions& out) {
  if (options_->navigation.empty() || servers_.servers.empty()) return;
  if (why != rc::code::connection_refused && why != rc::code::socket_not_connected) return;
  ++server_index_;
  if (++refused_in_row_ < servers_.servers.size()) return;
  servers_ = server_list();
  server_index_ = 0;
  refused_in_row_ = 0;
  out.emplace_back(store_servers{});
}

void connection::fail(rc::code why, std::int64_t now_ms, actions& out) {
  const auto& row = rc::info(why);
  if (row.terminal) {
    stop(row.leads_to, why, !succeeded_, out);
    return;
  }
  end_transport(out);
  set_status(row.leads_to.value_or(rc::status::suspend), why, out);
  schedule_next(now_ms, out);
}

void connection::stop(std::optional<rc::status> st, rc::code why, bool report_error, actions& out) {
  end_transport(out);
  for (std::size_t i = 0; i < k_timer_count; ++i) disarm(static_cast<timer_id>(i), out);
  phase_ = phase::idle;
  token_ = std::string();  // release the heap copy: a stopped machine keeps no secret
  if (st) set_status(*st, why, out);
  if (report_error) out.emplace_back(error{why});
}

void connection::go_offline(actions& out) {
  end_transport(out);
  disarm(timer_id::reconnect, out);
  phase_ = phase::offline;
  set_status(rc::status::network_unavailable, rc::code::network_unavailable, out);
}

void connection::end_transport(actions& out) {
  if (transport_open_) out.emplace_back(close_transport{});
  transport_open_ = false;
  navigating_ = false;
  transport_up_ = false;
  ping_outstanding_ = false;
  disarm(timer_id::ack, out);
  disarm(timer_id::heartbeat, out);
}

void connection::schedule_next(std::int64_t now_ms, actions& out) {
  phase_ = phase::waiting;
  arm(timer_id::reconnect, now_ms + next_delay_ms(), out);
}

void connection::restart_schedule(std::int64_t now_ms, actions& out) {
  phase_ = phase::waiting;
  step_ = 0;
  last_delay_ms_ = 0;
  const std::int64_t at = now_ms + next_delay_ms();
  if (const auto pending = deadline(timer_id::reconnect); pending && *pending <= at) return;
  arm(timer_id::reconnect, at, out);
}

std::int64_t connection::next_delay_ms() {
  const auto& o = *options_;
  const std::int64_t step =
      step_ < o.schedule_ms.size() ? o.schedule_ms[step_] : o.schedule_tail_ms;
  if (step_ < UINT32_MAX) ++step_;
  std::int64_t d = step;
  switch (o.jitter) {
    case jitter_kind::none:
      break;
    case jitter_kind::full:
      d = uniform(rng_, 0, step);
      break;
    case jitter_kind::decorrelated: {
      const std::int64_t lo = o.schedule_ms.empty() ? o.schedule_tail_ms : o.schedule_ms.front();
      const std::int64_t hi = std::max(lo, std::min(last_delay_ms_, o.schedule_tail_ms) * 3);
      d = std::min(uniform(rng_, lo, hi), std::max(lo, o.schedule_tail_ms));
      break;
    }
  }
  last_delay_ms_ = d;
  return d;
}

mqtt::connect connection::make_connect() const {
  const auto& o = *options_;
  mqtt::connect c{.client_id = o.device_id,
                  .clean_start = true,
                  .keep_alive = static_cast<std::uint16_t>(o.heartbeat_s),
                  .username = o.app_key,
                  .password = token_};
  if (o.plain) return c;
  auto& props = c.props.user_properties;
  props.reserve(5);
  // An automatic reconnect inside a call that has succeeded (docs/protocol.md §3).
  if (succeeded_) props.emplace_back("imock-reconnect", "1");
  props.emplace_back("imock-reconnect-kick", reconnect_kick_ ? "1" : "0");
  if (!o.platform.empty()) props.emplace_back("imock-platform", o.platform);
  if (!o.sdk.empty()) props.emplace_back("imock-sdk", o.sdk);
  if (o.messages) props.emplace_back("imock-messages", "1");
  return c;
}

void connection::set_status(rc::status st, rc::code cause, actions& out) {
  if (st == status_) return;
  status_ = st;
  out.emplace_back(status_changed{st, cause});
}

void connection::arm(timer_id id, std::int64_t at_ms, actions& out) {
  deadlines_[static_cast<std::size_t>(id)] = at_ms;
  out.emplace_back(start_timer{id, at_ms});
}

void connection::disarm(timer_id id, actions& out) {
  auto& due = deadlines_[static_cast<std::size_t>(id)];
  if (due == k_unarmed) return;
  due = k_unarmed;
  out.emplace_back(cancel_timer{id});
}

}  // namespace imock::client
