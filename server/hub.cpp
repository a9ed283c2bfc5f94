#include "imock/server/hub.hpp"

#include <algorithm>
#include <array>

#include "imock/protocol/token.hpp"

namespace imock::server {
namespace {

constexpr std::uint8_t k_reason_session_taken_over = 0x8E;
constexpr std::uint8_t k_reason_protocol_error = 0x82;
constexpr std::uint8_t k_reason_keep_alive_timeout = 0x8D;
constexpr std::uint8_t k_reason_shutting_down = 0x8B;
constexpr std::size_t k_max_client_id = 64;

// Platforms that the single-mobile-device policy does not count as mobile.
constexpr std::array<std::string_view, 6> k_non_mobile{"web", "desktop", "pc",
                                                       "mac", "windows", "linux"};

bool is_mobile(std::string_view platform) {
  return std::find(k_non_mobile.begin(), k_non_mobile.end(), platform) == k_non_mobile.end();
}

bool flag_property(const mqtt::properties& p, std::string_view key) {
  const auto* v = p.find_user_property(key);
  return v != nullptr && (*v == "1" || *v == "true");
}

// MQTT topic filter matching (spec 4.7): '+' one level, '#' the rest.
bool topic_matches(std::string_view filter, std::string_view topic) {
  while (true) {
    const auto fpos = filter.find('/');
    const auto tpos = topic.find('/');
    const auto flevel = filter.substr(0, fpos);
    const auto tlevel = topic.substr(0, tpos);
    if (flevel == "#") return true;
    if (flevel != "+" && flevel != tlevel) return false;
    if (fpos == std::string_view::npos || tpos == std::string_view::npos) {
      // One side ended: a match only if both did, or the filter continues with "/#".
      return (fpos == std::string_view::npos && tpos == std::string_view::npos) ||
             (tpos == std::string_view::npos && filter.substr(fpos + 1) == "#");
    }
    filter.remove_prefix(fpos + 1);
    topic.remove_prefix(tpos + 1);
  }
}

bool valid_filter(std::string_view filter) {
  if (filter.empty()) return false;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    const bool starts_level = i == 0 || filter[i - 1] == '/';
    const bool ends_level = i + 1 == filter.size() || filter[i + 1] == '/';
    if (c == '+' && !(starts_level && ends_level)) return false;
    if (c == '#' && !(starts_level && i + 1 == filter.size())) return false;
  }
  return true;
}

mqtt::properties rc_properties(rc::code why) {
  mqtt::properties props;
  if (why != rc::code::ok) {
    props.user_properties.emplace_back("rc-code", std::to_string(static_cast<int>(why)));
    props.reason_string = std::string(rc::name(why));
  }
  return props;
}

}  // namespace

hub::hub(const server_config& config, std::uint64_t fault_seed, std::int64_t start_ms)
    : config_(config),
      dir_(config, start_ms),
      faults_(fault_seed),
      events_(config.limits.event_log_capacity),
      mailbox_(config.messages.max_stored_per_user, config.messages.multi_device_sync),
      uid_seed_(fault_seed) {}

std::uint64_t hub::index_key(std::string_view app, std::string_view name) noexcept {
  // FNV-1a over app, a separator no name is split at, and name.
  std::uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](unsigned char c) { h = (h ^ c) * 1099511628211ull; };
  for (const char c : app) mix(static_cast<unsigned char>(c));
  mix(0x1f);
  for (const char c : name) mix(static_cast<unsigned char>(c));
  return h;
}

std::vector<session_id> hub::indexed(const name_index& index, std::string session::*field,
                                     std::string_view app, std::string_view name) const {
  std::vector<session_id> out;
  const auto [from, to] = index.equal_range(index_key(app, name));
  for (auto it = from; it != to; ++it) {
    const auto& s = sessions_.at(it->second);
    if (s.app == app && s.*field == name) out.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void hub::emit(event_kind kind, const session& s, int code, std::string detail,
               std::int64_t now_ms) {
  event e;
  e.t_ms = now_ms;
  e.kind = kind;
  e.session = s.id;
  e.app = s.app;
  e.user = s.user;
  e.device = s.device;
  e.transport = to_string(s.via);
  e.code = code;
  e.detail = std::move(detail);
  events_.add(std::move(e));
}

void hub::log(event_kind kind, std::string detail, std::int64_t now_ms, int code) {
  event e;
  e.t_ms = now_ms;
  e.kind = kind;
  e.code = code;
  e.detail = std::move(detail);
  events_.add(std::move(e));
}

session_id hub::open(transport via, std::string remote, std::int64_t now_ms) {
  const session_id id = next_id_++;
  auto& s = sessions_[id];
  s.id = id;
  s.via = via;
  s.remote = std::move(remote);
  s.opened_ms = now_ms;
  s.blackholed = blackhole_new_;
  set_deadline(s, s.blackholed ? 0 : now_ms + config_.limits.connect_timeout_ms);
  ++counters_.accepted[static_cast<std::size_t>(via)];
  ++open_by_transport_[static_cast<std::size_t>(via)];
  emit(event_kind::accept, s, 0, "from " + s.remote + (s.blackholed ? " (blackholed)" : ""), now_ms);
  return id;
}

actions hub::on_packet(session_id id, mqtt::packet&& p, std::int64_t now_ms) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.closing) return {};
  auto& s = it->second;
  ++counters_.packets_in;
  ++s.packets;
  if (s.blackholed) return {};

  if (!s.connected) {
    if (auto* c = std::get_if<mqtt::connect>(&p)) {
      return handle_connect(s, std::move(*c), now_ms);
    }
    ++counters_.protocol_errors;
    emit(event_kind::protocol_error, s, 0, std::string(mqtt::type_name(mqtt::type_of(p))) + " before CONNECT",
         now_ms);
    actions out{disconnect_action(s, k_reason_protocol_error, rc::code::ok, "CONNECT first")};
    mark_closing(s);
    return out;
  }

  if (s.keep_alive_s != 0) {
    set_deadline(s, now_ms + static_cast<std::int64_t>(s.keep_alive_s) * 1500);
  }
  actions out;
  if (faults_.any_for(fault_trigger::packet)) {
    if (auto r = faults_.match({fault_trigger::packet, s.app, s.user, s.device, s.packets})) {
      return apply_fault(s, *r, now_ms);
    }
  }

  auto reply = [&](mqtt::packet&& packet) {
    out.push_back(action{.session = s.id, .send = std::move(packet)});
  };
  switch (mqtt::type_of(p)) {
    case mqtt::packet_type::pingreq:
      // Logged so a scenario can measure a client's heartbeat at the server.
      emit(event_kind::ping, s, 0, "", now_ms);
      reply(mqtt::pingresp{});
      break;
    case mqtt::packet_type::publish: {
      auto& pub = std::get<mqtt::publish>(p);
      if (pub.topic.starts_with(messages::k_reserved_prefix)) {
        if (pub.topic == messages::k_send_topic) return handle_send(s, pub, now_ms);
        // imock's own topics take no other publish (docs/protocol.md §9).
        if (pub.qos == 1) reply(mqtt::puback{.packet_id = pub.packet_id, .reason = 0x90});
        break;
      }
      auto routed = route_publish(s, pub);
      if (pub.qos == 1) {
        reply(mqtt::puback{.packet_id = pub.packet_id,
                           .reason = static_cast<std::uint8_t>(routed.empty() ? 0x10 : 0x00)});
      }
      for (auto& a : routed) out.push_back(std::move(a));
      break;
    }
    case mqtt::packet_type::puback:
      return handle_message_ack(s, std::get<mqtt::puback>(p).packet_id, now_ms);
    case mqtt::packet_type::subscribe: {
      auto& sub = std::get<mqtt::subscribe>(p);
      mqtt::suback ack{.packet_id = sub.packet_id};
      for (const auto& entry : sub.subscriptions) {
        if (!valid_filter(entry.topic_filter)) {
          ack.reasons.push_back(0x8F);  // topic filter invalid
          continue;
        }
        if (entry.topic_filter.starts_with(messages::k_reserved_prefix)) {
          ack.reasons.push_back(0x87);  // not authorized: messages come without asking
          continue;
        }
        auto& subs = s.used().subscriptions;
        if (std::find(subs.begin(), subs.end(), entry.topic_filter) == subs.end()) {
          subs.push_back(entry.topic_filter);
        }
        ack.reasons.push_back(std::min<std::uint8_t>(entry.options & 0x03, 1));
      }
      reply(std::move(ack));
      break;
    }
    case mqtt::packet_type::unsubscribe: {
      auto& unsub = std::get<mqtt::unsubscribe>(p);
      mqtt::unsuback ack{.packet_id = unsub.packet_id};
      for (const auto& filter : unsub.topic_filters) {
        // A filter is kept once (SUBSCRIBE adds it only if absent).
        const bool had = s.more && std::erase(s.more->subscriptions, filter) > 0;
        ack.reasons.push_back(had ? 0x00 : 0x11);  // 0x11: no subscription existed
      }
      reply(std::move(ack));
      break;
    }
    case mqtt::packet_type::disconnect: {
      const auto& d = std::get<mqtt::disconnect>(p);
      emit(event_kind::disconnect, s, 0, "client sent DISCONNECT " + std::string(mqtt::reason_name(d.reason)),
           now_ms);
      mark_closing(s);
      out.push_back(action{.session = s.id, .close = true});
      break;
    }
    default: {
      // CONNECT again, or a packet only a server sends.
      ++counters_.protocol_errors;
      emit(event_kind::protocol_error, s, 0,
           std::string(mqtt::type_name(mqtt::type_of(p))) + " from a client", now_ms);
      out.push_back(
          disconnect_action(s, k_reason_protocol_error, rc::code::ok, "unexpected packet"));
      mark_closing(s);
      break;
    }
  }
  return out;
}

actions hub::route_publish(const session& from, const mqtt::publish& p) {
  actions out;
  for (const auto& [id, other] : sessions_) {
    if (!other.connected || other.closing || other.blackholed || other.app != from.app ||
        !other.more || other.more->subscriptions.empty()) {
      continue;
    }
    for (const auto& filter : other.more->subscriptions) {
      if (topic_matches(filter, p.topic)) {
        mqtt::publish copy{.topic = p.topic, .props = {}, .payload = p.payload};
        copy.props.user_properties = p.props.user_properties;
        out.push_back(action{.session = id, .send = std::move(copy)});
        break;
      }
    }
  }
  return out;
}

actions hub::handle_connect(session& s, mqtt::connect&& c, std::int64_t now_ms) {
  s.device = c.client_id;
  s.app = names_.get(c.username.value_or(""));
  if (const auto* platform = c.props.find_user_property("imock-platform")) {
    s.platform = names_.get(*platform);
  }
  s.mobile = is_mobile(s.platform);
  if (c.password) {
    if (auto claims = token::peek(*c.password)) s.user = claims->user_id;
  }

  if (auto r = faults_.match({fault_trigger::connect, s.app, s.user, s.device})) {
    if (r->action == fault_action::delay) {
      auto out = handle_connect_checked(s, c, now_ms);
      for (auto& a : out) a.delay_ms += r->delay_ms;
      // The client cannot ping before it has its CONNACK: keep alive starts then.
      if (s.deadline_ms != 0) s.deadline_ms += r->delay_ms;
      ++counters_.faults_fired;
      emit(event_kind::fault, s, 0,
           "delay CONNACK " + std::to_string(r->delay_ms) + " ms (rule " + std::to_string(r->id) +
               ")",
           now_ms);
      return out;
    }
    return apply_fault(s, *r, now_ms);
  }
  return handle_connect_checked(s, c, now_ms);
}

actions hub::handle_connect_checked(session& s, const mqtt::connect& c, std::int64_t now_ms) {
  const auto& lim = config_.limits;
  if (lim.connect_rate_limit_per_s > 0) {
    if (now_ms - rate_window_ms_ >= 1000) {
      rate_window_ms_ = now_ms;
      rate_count_ = 0;
    }
    if (++rate_count_ > lim.connect_rate_limit_per_s) {
      return refuse(s, rc::code::connect_too_frequently, "connect rate limit", now_ms);
    }
  }
  if (connected_ >= lim.max_connections) {
    return refuse(s, rc::code::concurrent_limit_error, "max_connections reached", now_ms);
  }
  const app_record* app = c.username ? dir_.find_app(*c.username) : nullptr;
  if (app == nullptr) {
    return refuse(s, rc::code::conn_id_reject,
                  c.username ? "unknown app key" : "no app key (user name)", now_ms);
  }
  if (app->config.state != app_state::active) {
    return refuse(s, rc::code::conn_app_blocked_or_deleted,
                  "app is " + std::string(to_string(app->config.state)), now_ms);
  }
  if (c.client_id.size() > k_max_client_id) {
    return refuse(s, rc::code::conn_id_reject, "client id over 64 bytes", now_ms);
  }
  if (!c.password || c.password->empty()) {
    return refuse(s, rc::code::conn_token_incorrect, "no token (password)", now_ms);
  }
  const user_record* user = s.user.empty() ? nullptr : dir_.find_user(s.app, s.user);
  const token::verify_options opts{
      .now_ms = now_ms,
      .revoked_before_ms = user != nullptr ? user->revoked_before_ms : 0,
      .revoked_code = app->config.revoked_token_code};
  const auto verdict = token::verify(*c.password, app->config.key, app->config.secret, opts);
  if (!verdict.ok()) {
    return refuse(s, verdict.result, "token refused", now_ms);
  }
  if (user != nullptr && user->blocked(now_ms)) {
    return refuse(
        s, rc::code::conn_user_blocked,
        "blocked for " + std::to_string((user->blocked_until_ms - now_ms) / 1000) + " s more",
        now_ms);
  }
  return accept(s, c, now_ms);
}

actions hub::accept(session& s, const mqtt::connect& c, std::int64_t now_ms) {
  actions out;
  const bool reconnect = flag_property(c.props, "imock-reconnect");
  const bool reconnect_kick = flag_property(c.props, "imock-reconnect-kick");
  const auto* app = dir_.find_app(s.app);

  mqtt::connack ack;
  if (s.device.empty()) {
    s.device = "imock-auto-" + std::to_string(++assigned_ids_);
    ack.props.assigned_client_identifier = s.device;
  }

  // Login policy (SPEC.md §4). Collect the other devices first, decide, then act.
  std::vector<session_id> to_kick;
  for (const session_id same : indexed(by_device_, &session::device, s.app, s.device)) {
    to_kick.push_back(same);  // MQTT: a client id is one session at a time
  }
  if (app->config.policy == login_policy::single_mobile_device && s.mobile) {
    if (const auto users = indexed(by_user_, &session::user, s.app, s.user); !users.empty()) {
      std::vector<session_id> others;
      for (session_id other : users) {
        const auto& o = sessions_.at(other);
        if (o.mobile && o.device != s.device) others.push_back(other);
      }
      if (!others.empty() && reconnect && reconnect_kick) {
        return refuse(s, rc::code::conn_other_device_login,
                      "reconnect with reconnect-kick on while device " +
                          sessions_.at(others.front()).device + " is online",
                      now_ms);
      }
      to_kick.insert(to_kick.end(), others.begin(), others.end());
    }
  }
  for (session_id other : to_kick) {
    auto& o = sessions_.at(other);
    out.push_back(disconnect_action(o, k_reason_session_taken_over, rc::code::disconn_kick,
                                    "logged in on device " + s.device));
    ++counters_.kicks;
    emit(event_kind::kick, o, static_cast<int>(rc::code::disconn_kick),
         "login on device " + s.device + (reconnect ? " (reconnect)" : ""), now_ms);
    mark_closing(o);
  }

  std::uint16_t keep_alive = c.keep_alive;
  const auto& lim = config_.limits;
  keep_alive = std::clamp(keep_alive, lim.keep_alive_min_s, lim.keep_alive_max_s);
  if (keep_alive != c.keep_alive) ack.props.server_keep_alive = keep_alive;
  ack.props.maximum_packet_size = lim.max_packet_size;
  ack.props.maximum_qos = 1;
  ack.props.retain_available = 0;
  ack.props.shared_subscription_available = 0;
  ack.props.user_properties.emplace_back("user-id", s.user);

  s.connected = true;
  s.connected_ms = now_ms;
  s.keep_alive_s = keep_alive;
  // Keep alive 0 (when keep_alive_min allows it) turns the check off, as in MQTT.
  set_deadline(s, keep_alive == 0 ? 0 : now_ms + static_cast<std::int64_t>(keep_alive) * 1500);
  ++connected_;
  add_to_user_index(s);
  ++counters_.connects_by_code[0];
  emit(event_kind::connect, s, 0,
       std::string("ok platform=") + (s.platform.empty() ? "-" : s.platform.str()) + " reconnect=" +
           (reconnect ? "1" : "0") + " reconnect_kick=" + (reconnect_kick ? "1" : "0") +
           " keep_alive=" + std::to_string(keep_alive),
       now_ms);
  out.push_back(action{.session = s.id, .send = std::move(ack)});

  if (faults_.any_for(fault_trigger::connack)) {
    if (auto r = faults_.match({fault_trigger::connack, s.app, s.user, s.device})) {
      for (auto& a : apply_fault(s, *r, now_ms)) out.push_back(std::move(a));
      if (s.closing) return out;
    }
  }
  // After every successful connect of a client that takes messages: the offline sync
  // (SPEC.md §8.3).
  s.takes_messages = flag_property(c.props, messages::k_capability);
  if (s.takes_messages) {
    for (auto& a : start_sync(s, now_ms)) out.push_back(std::move(a));
  }
  return out;
}

actions hub::refuse(session& s, rc::code why, std::string_view detail, std::int64_t now_ms) {
  const auto& row = rc::info(why);
  mqtt::connack ack{.reason = row.connack_reason.value_or(0x80), .props = rc_properties(why)};
  ++counters_.connects_by_code[static_cast<int>(why)];
  emit(event_kind::connect, s, static_cast<int>(why),
       std::string("refused ") + std::string(row.name) + ": " + std::string(detail), now_ms);
  mark_closing(s);
  return {action{.session = s.id, .send = std::move(ack), .close = true}};
}

action hub::disconnect_action(const session& s, std::uint8_t reason, rc::code why,
                              std::string_view text) {
  mqtt::disconnect d{.reason = reason, .props = rc_properties(why)};
  if (why == rc::code::ok && !text.empty()) d.props.reason_string = std::string(text);
  return action{.session = s.id, .send = std::move(d), .close = true};
}

actions hub::apply_fault(session& s, const fault_rule& r, std::int64_t now_ms) {
  ++counters_.faults_fired;
  const std::string rule =
      " (rule " + std::to_string(r.id) + " on " + std::string(to_string(r.on)) + ")";
  switch (r.action) {
    case fault_action::refuse:
    case fault_action::delay:  // delay is handled in handle_connect; elsewhere: refuse
      emit(event_kind::fault, s, static_cast<int>(r.code), "refuse" + rule, now_ms);
      if (s.connected) {
        actions out{
            disconnect_action(s, rc::info(r.code).disconnect_reason.value_or(0x80), r.code, "")};
        mark_closing(s);
        return out;
      }
      return refuse(s, r.code, "fault" + rule, now_ms);
    case fault_action::drop: {
      emit(
          event_kind::fault, s, 0,
          std::string("drop") + (r.send_disconnect && s.connected ? " with DISCONNECT" : "") + rule,
          now_ms);
      action a{.session = s.id, .close = true};
      if (r.send_disconnect && s.connected) {
        a = disconnect_action(s, 0x80, rc::code::ok, "fault: drop");
      }
      mark_closing(s);
      return {std::move(a)};
    }
    case fault_action::blackhole:
      emit(event_kind::fault, s, 0, "blackhole" + rule, now_ms);
      s.blackholed = true;
      s.deadline_ms = 0;
      return {};
    case fault_action::kick: {
      emit(event_kind::fault, s, static_cast<int>(r.code), "kick" + rule, now_ms);
      if (!s.connected) return refuse(s, r.code, "fault" + rule, now_ms);
      ++counters_.kicks;
      const auto reason = rc::info(r.code).disconnect_reason.value_or(k_reason_session_taken_over);
      actions out{disconnect_action(s, reason, r.code, "")};
      emit(event_kind::kick, s, static_cast<int>(r.code), "fault" + rule, now_ms);
      mark_closing(s);
      return out;
    }
    case fault_action::duplicate:
    case fault_action::reorder:
    case fault_action::drop_ack:
      break;  // message faults: validate() keeps them to their triggers (hub_messages.cpp)
  }
  return {};
}

actions hub::on_decode_error(session_id id, std::error_code ec, std::string_view detail,
                             std::int64_t now_ms) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.closing) return {};
  auto& s = it->second;
  ++counters_.protocol_errors;
  const auto reason = static_cast<std::uint8_t>(ec.value());
  emit(event_kind::protocol_error, s, 0, std::string(mqtt::reason_name(reason)) + ": " + std::string(detail),
       now_ms);
  if (!s.connected) {
    // Before CONNACK the answer is a CONNACK (MQTT 5 §3.2.2.2), not a DISCONNECT.
    const rc::code why = reason == 0x84 ? rc::code::conn_proto_version_error : rc::code::ok;
    if (why != rc::code::ok) ++counters_.connects_by_code[static_cast<int>(why)];
    mqtt::connack ack{.reason = reason, .props = rc_properties(why)};
    if (why == rc::code::ok) ack.props.reason_string = std::string(detail);
    mark_closing(s);
    return {action{.session = id, .send = std::move(ack), .close = true}};
  }
  actions out{disconnect_action(s, reason, rc::code::ok, detail)};
  mark_closing(s);
  return out;
}

void hub::on_slow_reader(session_id id, std::int64_t now_ms) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  ++counters_.slow_reader_drops;
  emit(event_kind::slow_reader, it->second, 0,
       "outbound queue over " + std::to_string(config_.limits.outbound_queue_bytes) +
           " bytes: closing",
       now_ms);
  mark_closing(it->second);
}

void hub::on_closed(session_id id, std::string_view why, std::int64_t now_ms) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  auto& s = it->second;
  mark_closing(s);
  emit(event_kind::closed, s, 0, std::string(why), now_ms);
  ++counters_.closed[static_cast<std::size_t>(s.via)];
  --open_by_transport_[static_cast<std::size_t>(s.via)];
  sessions_.erase(it);
}

void hub::set_deadline(session& s, std::int64_t at_ms) noexcept {
  s.deadline_ms = at_ms;
  if (at_ms != 0) deadline_hint_ms_ = std::min(deadline_hint_ms_, at_ms);
}

void hub::hold_sync(session& s, std::int64_t until_ms) noexcept {
  s.sync_due_ms = until_ms;
  sync_hint_ms_ = std::min(sync_hint_ms_, until_ms);
}

actions hub::tick(std::int64_t now_ms) {
  expire_messages(now_ms);
  actions out;
  // Each loop over the sessions runs only once its hint (a lower bound of what can be
  // due) has come, and sets the next hint: with thousands of sessions pinging on time,
  // the sweep every 250 ms visits none of them most of the time.
  if (now_ms >= sync_hint_ms_) {
    sync_hint_ms_ = k_no_hint;
    for (auto& [id, s] : sessions_) {
      if (s.sync_due_ms == 0 || s.closing) continue;
      if (s.sync_due_ms > now_ms) {
        sync_hint_ms_ = std::min(sync_hint_ms_, s.sync_due_ms);
        continue;
      }
      s.sync_due_ms = 0;  // a held sync (a `sync` delay fault) starts now
      for (auto& a : send_package(s, now_ms)) out.push_back(std::move(a));
    }
  }
  if (now_ms < deadline_hint_ms_) return out;
  deadline_hint_ms_ = k_no_hint;
  for (auto& [id, s] : sessions_) {
    if (s.closing || s.blackholed || s.deadline_ms == 0) continue;
    if (s.deadline_ms > now_ms) {
      deadline_hint_ms_ = std::min(deadline_hint_ms_, s.deadline_ms);
      continue;
    }
    if (!s.connected) {
      ++counters_.connect_timeouts;
      emit(event_kind::timeout, s, 0, "no CONNECT within the connect timeout", now_ms);
      out.push_back(action{.session = id, .close = true});
    } else {
      ++counters_.keep_alive_timeouts;
      emit(event_kind::timeout, s, 0,
           "keep alive expired (" + std::to_string(s.keep_alive_s) + " s x 1.5 silent)", now_ms);
      out.push_back(
          disconnect_action(s, k_reason_keep_alive_timeout, rc::code::ok, "keep alive timeout"));
    }
    mark_closing(s);
  }
  return out;
}

std::optional<std::int64_t> hub::next_deadline() const {
  std::optional<std::int64_t> next;
  if (const auto oldest = mailbox_.oldest_ms()) {
    next = *oldest + config_.messages.retention_ms + 1;  // the first tick that expires it
  }
  for (const auto& [id, s] : sessions_) {
    if (s.sync_due_ms != 0 && !s.closing && (!next || s.sync_due_ms < *next)) next = s.sync_due_ms;
  }
  for (const auto& [id, s] : sessions_) {
    if (s.closing || s.blackholed || s.deadline_ms == 0) continue;
    if (!next || s.deadline_ms < *next) next = s.deadline_ms;
  }
  return next;
}

void hub::mark_closing(session& s) {
  if (s.work && !s.work->in_flight.empty()) {
    // Not acknowledged: pending again, for this user's next delivery (SPEC.md §8.5).
    mailbox_.release(s.app, s.user, s.id);
  }
  s.work.reset();  // no sync, nothing in flight, no held-back message
  s.sync_due_ms = 0;
  if (s.connected) {
    remove_from_user_index(s);
    s.connected = false;
    --connected_;
  }
  s.closing = true;
  s.deadline_ms = 0;
}

namespace {
void erase_entry(std::unordered_multimap<std::uint64_t, session_id>& index, std::uint64_t key,
                 session_id id) {
  const auto [from, to] = index.equal_range(key);
  for (auto it = from; it != to; ++it) {
    if (it->second == id) {
      index.erase(it);
      return;
    }
  }
}
}  // namespace

void hub::add_to_user_index(const session& s) {
  by_user_.emplace(index_key(s.app, s.user), s.id);
  // A client id is one session's: the one logging in takes it over (the other is kicked).
  const auto device_key = index_key(s.app, s.device);
  for (const session_id before : indexed(by_device_, &session::device, s.app, s.device)) {
    erase_entry(by_device_, device_key, before);
  }
  by_device_.emplace(device_key, s.id);
}

void hub::remove_from_user_index(const session& s) {
  erase_entry(by_user_, index_key(s.app, s.user), s.id);
  erase_entry(by_device_, index_key(s.app, s.device), s.id);
}

bool hub::matches(const session& s, const session_filter& f) const {
  return (!f.session || *f.session == s.id) && (f.app.empty() || f.app == s.app) &&
         (f.user.empty() || f.user == s.user) && (f.device.empty() || f.device == s.device);
}

actions hub::kick(const session_filter& f, rc::code why, std::string_view cause,
                  std::int64_t now_ms) {
  actions out;
  const auto reason = rc::info(why).disconnect_reason.value_or(k_reason_session_taken_over);
  for (auto& [id, s] : sessions_) {
    if (!s.connected || s.closing || !matches(s, f)) continue;
    out.push_back(disconnect_action(s, reason, why, ""));
    ++counters_.kicks;
    emit(event_kind::kick, s, static_cast<int>(why), std::string(cause), now_ms);
    mark_closing(s);
  }
  return out;
}

actions hub::disconnect_user(std::string_view app, std::string_view user, rc::code why,
                             std::int64_t now_ms) {
  return kick({.app = std::string(app), .user = std::string(user)}, why,
              why == rc::code::conn_user_blocked ? "user blocked" : "server API", now_ms);
}

actions hub::drop(const session_filter& f, drop_how how, std::uint8_t reason, std::int64_t now_ms) {
  actions out;
  for (auto& [id, s] : sessions_) {
    if (s.closing || !matches(s, f)) continue;
    emit(event_kind::drop, s, 0,
         how == drop_how::reset             ? "with a TCP reset"
         : how == drop_how::with_disconnect ? "with DISCONNECT"
                                            : "silently",
         now_ms);
    if (how == drop_how::with_disconnect && s.connected) {
      out.push_back(disconnect_action(s, reason, rc::code::ok, "dropped by admin"));
    } else {
      out.push_back(action{.session = id, .close = true, .reset = how == drop_how::reset});
    }
    mark_closing(s);
  }
  return out;
}

void hub::blackhole(const session_filter& f, bool on, bool include_new, std::int64_t now_ms) {
  if (include_new) blackhole_new_ = on;
  for (auto& [id, s] : sessions_) {
    if (s.closing || !matches(s, f) || s.blackholed == on) continue;
    s.blackholed = on;
    if (on || (s.connected && s.keep_alive_s == 0)) {  // keep alive 0: no check
      s.deadline_ms = 0;
    } else {
      set_deadline(s, s.connected ? now_ms + static_cast<std::int64_t>(s.keep_alive_s) * 1500
                                  : now_ms + config_.limits.connect_timeout_ms);
    }
    emit(on ? event_kind::blackhole : event_kind::release, s, 0, "", now_ms);
  }
}

actions hub::shutdown(std::int64_t now_ms) {
  actions out;
  log(event_kind::shutdown, "DISCONNECT 0x8B to every session", now_ms);
  for (auto& [id, s] : sessions_) {
    if (s.closing) continue;
    if (s.connected) {
      out.push_back(
          disconnect_action(s, k_reason_shutting_down, rc::code::conn_server_unavailable, ""));
    } else {
      out.push_back(action{.session = id, .close = true});
    }
    mark_closing(s);
  }
  return out;
}

bool hub::is_online(std::string_view app, std::string_view user) const {
  return !indexed(by_user_, &session::user, app, user).empty();
}

std::vector<session_view> hub::sessions(const session_filter& f) const {
  std::vector<session_view> out;
  for (const auto& [id, s] : sessions_) {
    if (s.closing || !matches(s, f)) continue;
    out.push_back({.id = id,
                   .via = s.via,
                   .remote = s.remote,
                   .connected = s.connected,
                   .blackholed = s.blackholed,
                   .app = s.app,
                   .user = s.user,
                   .device = s.device,
                   .platform = s.platform,
                   .opened_ms = s.opened_ms,
                   .connected_ms = s.connected_ms,
                   .keep_alive_s = s.keep_alive_s});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

}  // namespace imock::server
