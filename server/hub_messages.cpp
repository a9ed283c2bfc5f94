// The hub's one-to-one messages (docs/protocol.md §9, SPEC.md §8): a client's send,
// the server API's publish, delivery to online devices with QoS 1, the offline sync in
// packages after each connect, acknowledgements, retention.
#include <algorithm>
#include <charconv>

#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

namespace imock::server {
namespace {

namespace msg = imock::messages;

constexpr std::uint8_t k_puback_quota_exceeded = 0x97;
constexpr std::uint8_t k_puback_payload_invalid = 0x99;

mqtt::puback refusal(std::uint16_t packet_id, std::uint8_t reason, int code) {
  mqtt::puback ack{.packet_id = packet_id, .reason = reason};
  ack.props.user_properties.emplace_back(std::string(msg::k_rc_code), std::to_string(code));
  return ack;
}

std::string_view property_or(const mqtt::properties& p, std::string_view key) {
  const auto* v = p.find_user_property(key);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

bool valid_user_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= token::k_max_user_id_size;
}

}  // namespace

void hub::emit_message(event_kind kind, const stored_message& m, std::string detail,
                       std::int64_t now_ms) {
  event e;
  e.t_ms = now_ms;
  e.kind = kind;
  e.app = m.app;
  e.user = m.to;
  e.detail = "uid=" + m.uid + " from=" + m.from + (detail.empty() ? "" : " " + detail);
  events_.add(std::move(e));
}

std::vector<hub::session*> hub::receivers(std::string_view app, std::string_view user) {
  std::vector<session*> out;
  for (session_id id : indexed(by_user_, &session::user, app, user)) {
    auto& s = sessions_.at(id);
    if (s.connected && !s.closing && !s.blackholed && s.takes_messages) out.push_back(&s);
  }
  if (!config_.messages.multi_device_sync && out.size() > 1) {
    // One device takes each message: the one that connected last (docs/protocol.md §9).
    const auto last = std::max_element(out.begin(), out.end(), [](const auto* a, const auto* b) {
      return a->connected_ms < b->connected_ms || (a->connected_ms == b->connected_ms && a->id < b->id);
    });
    out = {*last};
  }
  return out;
}

std::uint16_t hub::next_packet_id(session& s) {
  auto& last = s.used().last_packet_id;
  do {
    last = static_cast<std::uint16_t>(last == 0xFFFF ? 1 : last + 1);
  } while (s.work && s.work->in_flight.contains(last));  // 65,535 unacknowledged: not reached
  return last;
}

actions hub::release_held(session& s) {
  actions out;
  if (s.work && s.work->held_back) {
    out.push_back(std::move(*s.work->held_back));
    s.work->held_back.reset();
  }
  return out;
}

actions hub::deliver(session& s, stored_message& m, std::size_t left, bool has_package,
                     std::int64_t now_ms) {
  std::optional<fault_rule> fault;
  if (faults_.any_for(fault_trigger::delivery)) {
    fault = faults_.match({fault_trigger::delivery, s.app, s.user, s.device, s.deliveries() + 1});
    if (fault && (fault->action == fault_action::drop || fault->action == fault_action::kick ||
                  fault->action == fault_action::blackhole || fault->action == fault_action::refuse)) {
      // The connection goes (or goes silent) instead of this delivery: the message and
      // what else is unacknowledged wait for the next connect.
      return apply_fault(s, *fault, now_ms);
    }
  }
  ++s.used().deliveries;
  const auto packet_id = next_packet_id(s);
  s.busy().in_flight.emplace(packet_id, session::delivery{m.uid});
  m.in_flight.push_back(s.id);
  ++m.deliveries;

  mqtt::publish p{.qos = 1, .topic = std::string(msg::k_message_topic), .packet_id = packet_id};
  p.payload = m.content;
  auto& up = p.props.user_properties;
  up.emplace_back(std::string(msg::k_message_uid), m.uid);
  up.emplace_back(std::string(msg::k_from), m.from);
  up.emplace_back(std::string(msg::k_conversation_type), std::to_string(static_cast<int>(m.type)));
  up.emplace_back(std::string(msg::k_object_name), m.object_name);
  up.emplace_back(std::string(msg::k_sent_time), std::to_string(m.sent_ms));
  up.emplace_back(std::string(msg::k_offline), m.offline ? "1" : "0");
  up.emplace_back(std::string(msg::k_left), std::to_string(left));
  up.emplace_back(std::string(msg::k_has_package), has_package ? "1" : "0");
  if (!m.client_msg_id.empty()) up.emplace_back(std::string(msg::k_client_msg_id), m.client_msg_id);
  if (!m.push_content.empty()) up.emplace_back(std::string(msg::k_push_content), m.push_content);

  const bool again = m.deliveries > 1;
  ++(again ? counters_.messages_redelivered : counters_.messages_delivered);
  emit_message(again ? event_kind::message_redelivered : event_kind::message_delivered, m,
               "device=" + s.device + " left=" + std::to_string(left) +
                   " hasPackage=" + (has_package ? "1" : "0"),
               now_ms);

  actions out;
  action a{.session = s.id, .send = p};
  if (fault) {
    ++counters_.faults_fired;
    const std::string rule = " uid=" + m.uid + " (rule " + std::to_string(fault->id) + " on delivery)";
    switch (fault->action) {
      case fault_action::duplicate: {
        emit(event_kind::fault, s, 0, "duplicate" + rule, now_ms);
        // The same message again, under a packet id of its own.
        auto copy = p;
        copy.packet_id = next_packet_id(s);
        s.busy().in_flight.emplace(copy.packet_id, session::delivery{m.uid, /*counted=*/false});
        out.push_back(std::move(a));
        out.push_back(action{.session = s.id, .send = std::move(copy)});
        for (auto& h : release_held(s)) out.push_back(std::move(h));
        return out;
      }
      case fault_action::reorder:
        if (!s.busy().held_back) {
          emit(event_kind::fault, s, 0, "reorder: held back until the next delivery" + rule, now_ms);
          s.busy().held_back = std::make_unique<action>(std::move(a));
          return out;
        }
        break;
      case fault_action::delay:
        emit(event_kind::fault, s, 0, "delay " + std::to_string(fault->delay_ms) + " ms" + rule,
             now_ms);
        a.delay_ms = fault->delay_ms;
        break;
      default:
        break;
    }
  }
  out.push_back(std::move(a));
  for (auto& h : release_held(s)) out.push_back(std::move(h));
  return out;
}

actions hub::start_sync(session& s, std::int64_t now_ms) {
  s.busy().syncing = true;
  if (faults_.any_for(fault_trigger::sync)) {
    if (auto r = faults_.match({fault_trigger::sync, s.app, s.user, s.device})) {
      if (r->action != fault_action::delay) return apply_fault(s, *r, now_ms);
      // Hold the sync: live messages wait too, and tick() starts it when due.
      ++counters_.faults_fired;
      emit(event_kind::fault, s, 0,
           "sync held " + std::to_string(r->delay_ms) + " ms (rule " + std::to_string(r->id) +
               " on sync)",
           now_ms);
      hold_sync(s, now_ms + std::max<std::int64_t>(1, r->delay_ms));
      return {};
    }
  }
  return send_package(s, now_ms);
}

actions hub::send_package(session& s, std::int64_t now_ms) {
  actions out;
  const std::size_t size = std::max<std::uint32_t>(1, config_.messages.package_size);
  const auto total = mailbox_.pending_count(s.app, s.user, s.device, s.id);
  auto batch = mailbox_.pending(s.app, s.user, s.device, s.id, size);
  if (batch.empty()) {
    // Nothing (more) to sync: the marker, once per connect (SPEC.md §8.3).
    s.busy().syncing = false;
    s.busy().package_unacked = 0;
    s.settle();
    out.push_back(action{.session = s.id,
                         .send = mqtt::publish{.topic = std::string(msg::k_sync_done_topic)}});
    return out;
  }
  const bool has_package = total > batch.size();
  s.busy().package_unacked = batch.size();
  for (std::size_t i = 0; i < batch.size() && !s.closing; ++i) {
    for (auto& a : deliver(s, *batch[i], batch.size() - 1 - i, has_package, now_ms)) {
      out.push_back(std::move(a));
    }
  }
  for (auto& a : release_held(s)) out.push_back(std::move(a));  // nothing came to overtake it
  return out;
}

actions hub::flush(session& s, std::int64_t now_ms) {
  actions out;
  if (s.syncing()) return out;  // the sync's next package picks them up, in order
  for (auto* m : mailbox_.pending(s.app, s.user, s.device, s.id, mailbox_.size())) {
    if (s.closing) break;
    for (auto& a : deliver(s, *m, 0, false, now_ms)) out.push_back(std::move(a));
  }
  // A message held back (reorder) waits for the session's next delivery, however long
  // that takes; if the session ends first, it is redelivered after the reconnect.
  return out;
}

actions hub::arrive(stored_message m, std::int64_t now_ms) {
  ++counters_.messages_sent;
  const auto online = receivers(m.app, m.to);
  m.offline = online.empty();
  emit_message(event_kind::message_sent, m,
               "objectName=" + m.object_name + " bytes=" + std::to_string(m.content.size()),
               now_ms);
  if (m.offline) {
    ++counters_.messages_stored;
    emit_message(event_kind::message_stored, m, "", now_ms);
  }
  if (auto dropped = mailbox_.add(std::move(m))) {
    ++counters_.messages_dropped;
    emit_message(event_kind::message_dropped, *dropped,
                 "over max_stored_per_user=" +
                     std::to_string(config_.messages.max_stored_per_user),
                 now_ms);
  }
  actions out;
  for (auto* s : online) {
    for (auto& a : flush(*s, now_ms)) out.push_back(std::move(a));
  }
  return out;
}

actions hub::publish(const publish_request& r, std::int64_t now_ms,
                     std::vector<recipient_uid>& uids) {
  actions out;
  for (const auto& to : r.to) {
    stored_message m{.uid = message_uid(uid_seed_, ++uids_assigned_),
                     .app = r.app,
                     .from = r.from,
                     .to = to,
                     .type = r.type,
                     .object_name = r.object_name,
                     .content = r.content,
                     .push_content = r.push_content,
                     .sent_ms = now_ms};
    uids.push_back({to, m.uid});
    if (r.status) {
      // To the devices online now, fire and forget; never stored (SPEC.md §8.5).
      ++counters_.messages_sent;
      emit_message(event_kind::message_sent, m, "status objectName=" + m.object_name, now_ms);
      for (session_id id : indexed(by_user_, &session::user, r.app, to)) {
        const auto& s = sessions_.at(id);
        if (s.closing || s.blackholed || !s.takes_messages) continue;
        mqtt::publish p{.topic = std::string(msg::k_status_topic), .payload = m.content};
        auto& up = p.props.user_properties;
        up.emplace_back(std::string(msg::k_message_uid), m.uid);
        up.emplace_back(std::string(msg::k_from), m.from);
        up.emplace_back(std::string(msg::k_object_name), m.object_name);
        up.emplace_back(std::string(msg::k_sent_time), std::to_string(m.sent_ms));
        out.push_back(action{.session = id, .send = std::move(p)});
      }
      continue;
    }
    for (auto& a : arrive(std::move(m), now_ms)) out.push_back(std::move(a));
  }
  return out;
}

actions hub::handle_send(session& s, const mqtt::publish& p, std::int64_t now_ms) {
  actions out;
  auto refuse = [&](std::uint8_t reason, int code, std::string why) {
    ++counters_.messages_refused;
    emit(event_kind::protocol_error, s, code, "send refused: " + why, now_ms);
    if (p.qos == 1) out.push_back(action{.session = s.id, .send = refusal(p.packet_id, reason, code)});
    return out;
  };
  const auto& cfg = config_.messages;
  if (cfg.client_send_rate_per_s > 0) {
    auto& t = s.used();
    if (now_ms - t.send_window_ms >= 1000) {
      t.send_window_ms = now_ms;
      t.sends_in_window = 0;
    }
    if (++t.sends_in_window > cfg.client_send_rate_per_s) {
      return refuse(k_puback_quota_exceeded, static_cast<int>(msg::send_code::send_too_frequently),
                    "over " + std::to_string(cfg.client_send_rate_per_s) + " messages/s");
    }
  }
  const auto to = property_or(p.props, msg::k_to);
  const auto object_name = property_or(p.props, msg::k_object_name);
  const auto type = property_or(p.props, msg::k_conversation_type);
  if (!type.empty() && type != "1") {
    return refuse(k_puback_payload_invalid,
                  static_cast<int>(msg::send_code::conversation_not_supported),
                  "conversationType " + std::string(type) + " (only 1, private)");
  }
  if (!valid_user_id(to)) {
    return refuse(k_puback_payload_invalid, static_cast<int>(rc::code::invalid_parameter),
                  "'to' must be a user id of 1 to 64 bytes");
  }
  if (object_name.empty() || object_name.size() > msg::k_max_object_name) {
    return refuse(k_puback_payload_invalid, static_cast<int>(rc::code::invalid_parameter),
                  "'objectName' must be 1 to 32 bytes");
  }
  if (p.payload.size() > cfg.max_content_bytes) {
    return refuse(k_puback_payload_invalid, static_cast<int>(msg::send_code::content_too_large),
                  "content of " + std::to_string(p.payload.size()) + " bytes, over " +
                      std::to_string(cfg.max_content_bytes));
  }
  stored_message m{.uid = message_uid(uid_seed_, ++uids_assigned_),
                   .app = s.app,
                   .from = s.user,
                   .to = std::string(to),
                   .object_name = std::string(object_name),
                   .content = p.payload,
                   .push_content = std::string(property_or(p.props, msg::k_push_content)),
                   .client_msg_id = std::string(property_or(p.props, msg::k_client_msg_id)),
                   .sent_ms = now_ms};
  std::optional<fault_rule> fault;
  if (faults_.any_for(fault_trigger::send)) {
    fault = faults_.match({fault_trigger::send, s.app, s.user, s.device});
    if (fault && fault->action != fault_action::drop_ack) return apply_fault(s, *fault, now_ms);
  }
  if (fault) {
    ++counters_.faults_fired;
    emit(event_kind::fault, s, 0,
         "drop_ack: took uid=" + m.uid + ", no PUBACK (rule " + std::to_string(fault->id) +
             " on send)",
         now_ms);
  } else if (p.qos == 1) {
    mqtt::puback ack{.packet_id = p.packet_id};
    ack.props.user_properties.emplace_back(std::string(msg::k_message_uid), m.uid);
    ack.props.user_properties.emplace_back(std::string(msg::k_sent_time), std::to_string(now_ms));
    out.push_back(action{.session = s.id, .send = std::move(ack)});
  }
  for (auto& a : arrive(std::move(m), now_ms)) out.push_back(std::move(a));
  return out;
}

actions hub::handle_message_ack(session& s, std::uint16_t packet_id, std::int64_t now_ms) {
  actions out;
  if (!s.work) return out;  // nothing in flight: not ours (a plain MQTT QoS 1 publish)
  auto& w = *s.work;
  const auto it = w.in_flight.find(packet_id);
  if (it == w.in_flight.end()) return out;  // not ours, or twice
  mailbox_.taken(s.app, s.user, it->second.uid, s.device, s.id);
  const bool counted = it->second.counted;
  w.in_flight.erase(it);
  if (counted && w.syncing && w.package_unacked > 0 && --w.package_unacked == 0) {
    return send_package(s, now_ms);  // the next package, or the sync-completed marker
  }
  s.settle();
  return out;
}

void hub::expire_messages(std::int64_t now_ms) {
  const auto oldest = mailbox_.oldest_ms();
  if (!oldest || *oldest + config_.messages.retention_ms >= now_ms) return;
  for (const auto& m : mailbox_.expire(now_ms - config_.messages.retention_ms)) {
    ++counters_.messages_expired;
    emit_message(event_kind::message_expired, m,
                 "after " + std::to_string(config_.messages.retention_ms) + " ms", now_ms);
    // A message on its way to a session stays in that session's list of packets in
    // flight; its acknowledgement then finds nothing to take, which is harmless.
  }
}

}  // namespace imock::server
