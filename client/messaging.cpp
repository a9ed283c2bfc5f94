#include "imock/client/messaging.hpp"

#include <charconv>

namespace imock::client {
namespace {

namespace msg = imock::messages;

std::string property(const mqtt::properties& p, std::string_view key) {
  const auto* v = p.find_user_property(key);
  return v == nullptr ? std::string() : *v;
}

std::int64_t number(const mqtt::properties& p, std::string_view key) {
  const auto text = property(p, key);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() ? v : 0;
}

}  // namespace

void messaging::send_message(const outgoing_message& m, bool connected, std::int64_t now_ms,
                             message_actions& out) {
  if (!connected) {
    out.emplace_back(send_failed{m.local_id, static_cast<int>(msg::send_code::not_connected)});
    return;
  }
  if (m.content.size() > max_content_bytes_) {
    out.emplace_back(send_failed{m.local_id, static_cast<int>(msg::send_code::content_too_large)});
    return;
  }
  do {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 0xFFFF ? 1 : last_packet_id_ + 1);
  } while (waiting_.contains(last_packet_id_));
  mqtt::publish p{.qos = 1, .topic = std::string(msg::k_send_topic), .packet_id = last_packet_id_};
  p.payload = m.content;
  auto& up = p.props.user_properties;
  up.emplace_back(std::string(msg::k_to), m.to);
  up.emplace_back(std::string(msg::k_object_name), m.object_name);
  up.emplace_back(std::string(msg::k_client_msg_id), std::to_string(m.local_id));
  if (!m.push_content.empty()) up.emplace_back(std::string(msg::k_push_content), m.push_content);
  waiting_[last_packet_id_] = {m.local_id, now_ms + ack_timeout_ms_};
  out.emplace_back(message_packet{std::move(p)});
  rearm(out);
}

bool messaging::packet_received(const mqtt::packet& p, std::int64_t now_ms, message_actions& out) {
  if (const auto* ack = std::get_if<mqtt::puback>(&p)) {
    const auto it = waiting_.find(ack->packet_id);
    if (it == waiting_.end()) return false;
    const auto local_id = it->second.local_id;
    waiting_.erase(it);
    if (ack->reason == 0) {
      out.emplace_back(message_sent{local_id, property(ack->props, msg::k_message_uid),
                                    number(ack->props, msg::k_sent_time)});
    } else {
      // The server's code, or 30003 when a refusal came without one.
      const auto code = number(ack->props, msg::k_rc_code);
      out.emplace_back(send_failed{
          local_id, code != 0 ? static_cast<int>(code)
                              : static_cast<int>(msg::send_code::response_timeout)});
    }
    rearm(out);
    return true;
  }
  const auto* pub = std::get_if<mqtt::publish>(&p);
  if (pub == nullptr) return false;
  if (pub->topic == msg::k_sync_done_topic) {
    out.emplace_back(sync_completed{});
    return true;
  }
  const bool status = pub->topic == msg::k_status_topic;
  if (pub->topic != msg::k_message_topic && !status) return false;
  incoming_message m{
      .uid = property(pub->props, msg::k_message_uid),
      .from = property(pub->props, msg::k_from),
      .type = number(pub->props, msg::k_conversation_type) == 6 ? msg::conversation::system
                                                               : msg::conversation::private_chat,
      .object_name = property(pub->props, msg::k_object_name),
      .content = pub->payload,
      .push_content = property(pub->props, msg::k_push_content),
      .client_msg_id = property(pub->props, msg::k_client_msg_id),
      .sent_ms = number(pub->props, msg::k_sent_time),
      .offline = property(pub->props, msg::k_offline) == "1",
      .left = static_cast<std::uint32_t>(std::max<std::int64_t>(0, number(pub->props, msg::k_left))),
      .has_package = property(pub->props, msg::k_has_package) == "1",
      .status = status};
  out.emplace_back(message_received{std::move(m)});
  if (pub->qos == 1) out.emplace_back(message_packet{mqtt::puback{.packet_id = pub->packet_id}});
  (void)now_ms;
  return true;
}

void messaging::link_lost(std::int64_t /*now_ms*/, message_actions& out) {
  for (const auto& [id, w] : waiting_) {
    out.emplace_back(send_failed{w.local_id, static_cast<int>(msg::send_code::response_timeout)});
  }
  waiting_.clear();
  rearm(out);
}

void messaging::timer_fired(std::int64_t now_ms, message_actions& out) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      out.emplace_back(
          send_failed{it->second.local_id, static_cast<int>(msg::send_code::response_timeout)});
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  armed_at_.reset();  // it fired
  rearm(out);
}

void messaging::rearm(message_actions& out) {
  std::optional<std::int64_t> next;
  for (const auto& [id, w] : waiting_) {
    if (!next || w.deadline_ms < *next) next = w.deadline_ms;
  }
  if (next == armed_at_) return;
  armed_at_ = next;
  out.emplace_back(message_timer{next});
}

bool is_duplicate(const incoming_message& candidate, const incoming_message& earlier,
                  std::int64_t window_ms) {
  if (!candidate.uid.empty() && candidate.uid == earlier.uid) return true;
  const bool same = candidate.from == earlier.from && candidate.type == earlier.type &&
                    candidate.object_name == earlier.object_name &&
                    candidate.content == earlier.content;
  if (!candidate.client_msg_id.empty() && !earlier.client_msg_id.empty()) {
    // Both carry the sender's own id: a resend is the same row of the sender's database.
    return same && candidate.client_msg_id == earlier.client_msg_id;
  }
  const auto apart = candidate.sent_ms > earlier.sent_ms ? candidate.sent_ms - earlier.sent_ms
                                                         : earlier.sent_ms - candidate.sent_ms;
  return same && apart <= window_ms;
}

}  // namespace imock::client
