// One-to-one messages on the wire (docs/protocol.md §9): the MQTT topics and user
// properties both sides use, and the send codes of SPEC.md §8.2 that travel on a
// PUBACK. One definition for the server, the reference SDK and the tests.
//
//   client -> server  PUBLISH QoS 1  topic imock/send       a message to another user
//                     user properties: to, objectName, clientMsgId, pushContent
//                     payload: the content (a built-in type's JSON, e.g. {"content":"hi"})
//   server -> client  PUBACK  reason 0x00 + messageUId, sentTime      accepted
//                     PUBACK  reason 0x97/0x99/0x80 + rc-code         refused (send_code)
//   server -> client  PUBLISH QoS 1  topic imock/msg        a message for this user
//                     user properties: messageUId, from, conversationType, objectName,
//                     sentTime, offline, left, hasPackage, [clientMsgId, pushContent]
//   client -> server  PUBACK                                 taken (the server forgets it)
//   server -> client  PUBLISH QoS 0  topic imock/sync/done  the offline sync is complete
//   server -> client  PUBLISH QoS 0  topic imock/status     a status message (never stored)
//
// Only a client whose CONNECT carries the user property imock-messages=1 takes part:
// it gets deliveries, the sync and its marker. To every other client (a plain MQTT
// client, an SDK without messages) the server sends none, and keeps the messages.
#pragma once

#include <cstdint>
#include <string_view>

namespace imock::messages {

/// The CONNECT user property by which a client says it takes messages.
inline constexpr std::string_view k_capability = "imock-messages";

inline constexpr std::string_view k_send_topic = "imock/send";
inline constexpr std::string_view k_message_topic = "imock/msg";
inline constexpr std::string_view k_sync_done_topic = "imock/sync/done";
inline constexpr std::string_view k_status_topic = "imock/status";
/// Topics under this prefix are imock's: a client may not subscribe to them or
/// publish to them other than k_send_topic.
inline constexpr std::string_view k_reserved_prefix = "imock/";

// User properties (names as the vendor's RCMessage fields, SPEC.md §8.4).
inline constexpr std::string_view k_to = "to";
inline constexpr std::string_view k_from = "from";
inline constexpr std::string_view k_object_name = "objectName";
inline constexpr std::string_view k_client_msg_id = "clientMsgId";
inline constexpr std::string_view k_push_content = "pushContent";
inline constexpr std::string_view k_message_uid = "messageUId";
inline constexpr std::string_view k_sent_time = "sentTime";
inline constexpr std::string_view k_conversation_type = "conversationType";
inline constexpr std::string_view k_offline = "offline";
inline constexpr std::string_view k_left = "left";
inline constexpr std::string_view k_has_package = "hasPackage";
inline constexpr std::string_view k_rc_code = "rc-code";

/// SPEC.md §8.4 conversationType.
enum class conversation : std::uint8_t { private_chat = 1, system = 6 };

/// SPEC.md §8.2: the send codes imock produces (a PUBACK's rc-code, or the SDK's own).
enum class send_code : int {
  ok = 0,
  conversation_not_supported = 20109,  // a send into a SYSTEM conversation
  send_too_frequently = 20604,         // more than client_send_rate_per_s
  not_connected = 30002,               // a send while not connected (the SDK's own)
  response_timeout = 30003,            // no PUBACK in time (the SDK's own)
  content_too_large = 30016,           // content over max_content_bytes
};

/// Whether `code` is one of send_code's (a send's error callback may carry it).
constexpr bool is_send_code(int code) noexcept {
  switch (static_cast<send_code>(code)) {
    case send_code::conversation_not_supported:
    case send_code::send_too_frequently:
    case send_code::not_connected:
    case send_code::response_timeout:
    case send_code::content_too_large:
      return true;
    case send_code::ok:
      return false;
  }
  return false;
}

/// Limits of SPEC.md §8.1 the server API and the client send share.
inline constexpr std::size_t k_max_object_name = 32;
inline constexpr std::size_t k_max_recipients = 1000;         // private and status
inline constexpr std::size_t k_max_system_recipients = 100;  // system messages

}  // namespace imock::messages
