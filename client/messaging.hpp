// The reference SDK's one-to-one messages (SPEC.md §8, docs/protocol.md §9), sans-IO,
// beside the connection machine (client/connection.hpp) and driven the same way:
// events come in with the time they happen at, actions go out as plain data. The
// connection machine owns the link; this one owns what travels on it once connected:
// sends waiting for their PUBACK, deliveries to acknowledge, the sync's end.
//
//   send_message(m)      connected: send PUBLISH imock/send (QoS 1), start_timer{ack};
//                        not connected: send_failed{30002} at once (SPEC.md §8.8 U8:
//                        imock's SDK does not queue; the app sees the documented code)
//   PUBACK 0x00          cancel the timer, message_sent{local id, messageUId, sentTime}
//   PUBACK refused       send_failed{local id, rc-code (20604, 30016, ...)}
//   no PUBACK in time    send_failed{local id, 30003}
//   link lost            every send still waiting: send_failed{local id, 30003} (it may
//                        or may not have reached the server; a resend the app makes is
//                        a new message, which the receiver drops by content)
//   PUBLISH imock/msg    message_received{...}, then send PUBACK: the driver stores the
//                        message (and drops a duplicate) before the acknowledgement
//                        goes out, so a crash in between means a redelivery, not a loss
//   imock/sync/done      sync_completed{}
//   PUBLISH imock/status message_received{... status}: QoS 0, nothing to acknowledge
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "imock/protocol/messages.hpp"
#include "imock/protocol/mqtt.hpp"

namespace imock::client {

/// A message the app sends (sendMessage): to one user, private conversation.
struct outgoing_message {
  std::int64_t local_id = 0;  // the app's messageId: its row in the local database
  std::string to;
  std::string object_name = "RC:TxtMsg";
  std::string content;  // the content's JSON
  std::string push_content;
};

/// A message as it arrived (RCMessage fields, SPEC.md §8.4, and the receive listener's).
struct incoming_message {
  std::string uid;
  std::string from;
  messages::conversation type = messages::conversation::private_chat;
  std::string object_name;
  std::string content;
  std::string push_content;
  std::string client_msg_id;  // the sender's own id, when it gave one
  std::int64_t sent_ms = 0;
  bool offline = false;
  std::uint32_t left = 0;
  bool has_package = false;
  /// A status message (imock/status): shown to the app, never stored, never a duplicate.
  bool status = false;
  friend bool operator==(const incoming_message&, const incoming_message&) = default;
};

// --- actions -------------------------------------------------------------------

/// Write `packet` on the connection.
struct message_packet {
  mqtt::packet packet;
  friend bool operator==(const message_packet&, const message_packet&) = default;
};
/// Callback success(messageId): the server took it.
struct message_sent {
  std::int64_t local_id = 0;
  std::string uid;
  std::int64_t sent_ms = 0;
  friend bool operator==(const message_sent&, const message_sent&) = default;
};
/// Callback error(code, messageId).
struct send_failed {
  std::int64_t local_id = 0;
  int code = 0;  // messages::send_code, or another documented code the server gave
  friend bool operator==(const send_failed&, const send_failed&) = default;
};
/// The receive listener: store `message` (dropping a duplicate), then tell the app.
struct message_received {
  incoming_message message;
  friend bool operator==(const message_received&, const message_received&) = default;
};
/// onOfflineMessageSyncCompleted.
struct sync_completed {
  friend bool operator==(const sync_completed&, const sync_completed&) = default;
};
/// Call timer_fired() at `at_ms` (replaces a pending one); nullopt: none pending.
struct message_timer {
  std::optional<std::int64_t> at_ms;
  friend bool operator==(const message_timer&, const message_timer&) = default;
};

using message_action = std::variant<message_packet, message_sent, send_failed,
                                    message_received, sync_completed, message_timer>;
using message_actions = std::vector<message_action>;

class messaging {
 public:
  /// `ack_timeout_ms`: how long a send waits for its PUBACK before 30003.
  /// `max_content_bytes`: the client's own check (SPEC.md §8.6: 128 KB, 30016).
  explicit messaging(std::int64_t ack_timeout_ms = 10'000,
                     std::size_t max_content_bytes = 128 * 1024)
      : ack_timeout_ms_(ack_timeout_ms), max_content_bytes_(max_content_bytes) {}

  /// The app's sendMessage, after the driver stored it (attached).
  void send_message(const outgoing_message& m, bool connected, std::int64_t now_ms,
                    message_actions& out);
  /// A packet from the server. False when it is not a message packet (the connection
  /// machine's then).
  bool packet_received(const mqtt::packet& p, std::int64_t now_ms, message_actions& out);
  /// The connection is gone: sends still waiting fail with 30003.
  void link_lost(std::int64_t now_ms, message_actions& out);
  /// The timer of message_timer fired.
  void timer_fired(std::int64_t now_ms, message_actions& out);

  [[nodiscard]] std::size_t waiting() const noexcept { return waiting_.size(); }

 private:
  struct pending {
    std::int64_t local_id = 0;
    std::int64_t deadline_ms = 0;
  };
  void rearm(message_actions& out);

  std::int64_t ack_timeout_ms_;
  std::size_t max_content_bytes_;
  std::map<std::uint16_t, pending> waiting_;  // packet id -> the send
  std::uint16_t last_packet_id_ = 0;
  std::optional<std::int64_t> armed_at_;
};

/// Whether `candidate` repeats `earlier` (SPEC.md §8.5): the same messageUId, or a
/// sender's resend, which the server gave a new messageUId: the same sender, type,
/// objectName and content, and the same clientMsgId (the sender's row) when both carry
/// one; without it (server API messages), sent within `window_ms` of each other.
bool is_duplicate(const incoming_message& candidate, const incoming_message& earlier,
                  std::int64_t window_ms = 2 * 60 * 1000);

}  // namespace imock::client
