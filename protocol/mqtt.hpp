// MQTT 5.0 packets of the subset imock speaks (docs/protocol.md), their encoder
// and an incremental decoder. No I/O, no clock, no exceptions across the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace imock::mqtt {

/// Control packet types (the high nibble of the first byte).
enum class packet_type : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

/// MQTT 5 reason codes used by imock (spec section 2.4).
enum class reason_code : std::uint8_t {
  success = 0x00,  // also normal disconnection, granted QoS 0
  granted_qos_1 = 0x01,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_too_large = 0x95,
  quota_exceeded = 0x97,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  connection_rate_exceeded = 0x9F,
};

/// Human-readable name of a reason code ("malformed_packet"), "unknown" for others.
std::string_view reason_name(std::uint8_t code) noexcept;

/// Whether `reason` may appear in a packet of type `t` (MQTT 5 §3.2.2.2 for CONNACK,
/// §3.14.2.1 for DISCONNECT): 0x8A Banned, say, is a CONNACK code only. Other packet
/// types: false.
bool reason_allowed(packet_type t, std::uint8_t reason) noexcept;

/// The error category whose values are MQTT reason codes; decode errors use it.
const std::error_category& reason_category() noexcept;
std::error_code make_error_code(reason_code rc) noexcept;

/// Largest packet MQTT can express: 1 byte header + 4 byte length + 268,435,455.
inline constexpr std::size_t k_max_possible_packet_size = 268'435'460;

using user_property = std::pair<std::string, std::string>;

/// The properties a packet of the subset may carry. Absent = not on the wire.
/// The decoder refuses (malformed) a property that is not allowed in the packet
/// it appears in, and (protocol error) a duplicate of a single-valued property.
struct properties {
  std::optional<std::uint8_t> payload_format_indicator;      // 0x01 PUBLISH
  std::optional<std::uint32_t> message_expiry_interval;      // 0x02 PUBLISH
  std::optional<std::string> content_type;                   // 0x03 PUBLISH
  std::optional<std::string> response_topic;                 // 0x08 PUBLISH
  std::optional<std::string> correlation_data;               // 0x09 PUBLISH (binary)
  std::vector<std::uint32_t> subscription_identifiers;       // 0x0B PUBLISH, SUBSCRIBE (one)
  std::optional<std::uint32_t> session_expiry_interval;      // 0x11 CONNECT, CONNACK, DISCONNECT
  std::optional<std::string> assigned_client_identifier;     // 0x12 CONNACK
  std::optional<std::uint16_t> server_keep_alive;            // 0x13 CONNACK
  std::optional<std::string> authentication_method;          // 0x15 CONNECT, CONNACK
  std::optional<std::string> authentication_data;            // 0x16 CONNECT, CONNACK (binary)
  std::optional<std::uint8_t> request_problem_information;   // 0x17 CONNECT
  std::optional<std::uint8_t> request_response_information;  // 0x19 CONNECT
  std::optional<std::string> response_information;           // 0x1A CONNACK
  std::optional<std::string> server_reference;               // 0x1C CONNACK, DISCONNECT
  std::optional<std::string> reason_string;  // 0x1F CONNACK, PUBACK, SUBACK, UNSUBACK, DISCONNECT
  std::optional<std::uint16_t> receive_maximum;                   // 0x21 CONNECT, CONNACK
  std::optional<std::uint16_t> topic_alias_maximum;               // 0x22 CONNECT, CONNACK
  std::optional<std::uint16_t> topic_alias;                       // 0x23 PUBLISH
  std::optional<std::uint8_t> maximum_qos;                        // 0x24 CONNACK
  std::optional<std::uint8_t> retain_available;                   // 0x25 CONNACK
  std::vector<user_property> user_properties;                     // 0x26 all
  std::optional<std::uint32_t> maximum_packet_size;               // 0x27 CONNECT, CONNACK
  std::optional<std::uint8_t> wildcard_subscription_available;    // 0x28 CONNACK
  std::optional<std::uint8_t> subscription_identifier_available;  // 0x29 CONNACK
  std::optional<std::uint8_t> shared_subscription_available;      // 0x2A CONNACK

  /// The value of the first user property named `key`, or nullptr.
  [[nodiscard]] const std::string* find_user_property(std::string_view key) const noexcept;
  friend bool operator==(const properties&, const properties&) = default;
};

/// The will message of a CONNECT. Its properties are the will properties
/// (0x18 will delay interval is kept in `will_delay_interval`).
struct will {
  std::string topic;
  std::string payload;  // binary
  std::uint8_t qos = 0;
  bool retain = false;
  std::optional<std::uint32_t> will_delay_interval;
  properties props;  // payload format, message expiry, content type, response topic, correlation
                     // data, user properties
  friend bool operator==(const will&, const will&) = default;
};

struct connect {
  std::string client_id;
  bool clean_start = true;
  std::uint16_t keep_alive = 0;  // seconds
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary
  std::optional<will> last_will;
  properties props;
  friend bool operator==(const connect&, const connect&) = default;
};

struct connack {
  bool session_present = false;
  std::uint8_t reason = 0;
  properties props;
  friend bool operator==(const connack&, const connack&) = default;
};

struct publish {
  bool dup = false;
  std::uint8_t qos = 0;  // 0 or 1 (QoS 2 is outside the subset: protocol error)
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0;  // present on the wire only when qos > 0
  properties props;
  std::string payload;  // binary
  friend bool operator==(const publish&, const publish&) = default;
};

struct puback {
  std::uint16_t packet_id = 0;
  std::uint8_t reason = 0;
  properties props;
  friend bool operator==(const puback&, const puback&) = default;
};

struct subscription {
  std::string topic_filter;
  std::uint8_t options =
      0;  // bits 0-1 max QoS, 2 no local, 3 retain as published, 4-5 retain handling
  friend bool operator==(const subscription&, const subscription&) = default;
};

struct subscribe {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<subscription> subscriptions;  // at least one
  friend bool operator==(const subscribe&, const subscribe&) = default;
};

struct suback {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<std::uint8_t> reasons;
  friend bool operator==(const suback&, const suback&) = default;
};

struct unsubscribe {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<std::string> topic_filters;  // at least one
  friend bool operator==(const unsubscribe&, const unsubscribe&) = default;
};

struct unsuback {
  std::uint16_t packet_id = 0;
  properties props;
  std::vector<std::uint8_t> reasons;
  friend bool operator==(const unsuback&, const unsuback&) = default;
};

struct pingreq {
  friend bool operator==(const pingreq&, const pingreq&) = default;
};
struct pingresp {
  friend bool operator==(const pingresp&, const pingresp&) = default;
};

struct disconnect {
  std::uint8_t reason = 0;
  properties props;
  friend bool operator==(const disconnect&, const disconnect&) = default;
};

using packet = std::variant<connect, connack, publish, puback, subscribe, suback, unsubscribe,
                            unsuback, pingreq, pingresp, disconnect>;

/// The control packet type of `p`.
packet_type type_of(const packet& p) noexcept;
/// "CONNECT", "CONNACK", ... for logs and traces.
std::string_view type_name(packet_type t) noexcept;

/// Appends the wire encoding of `p` to `out`. Uses the shortest encodings
/// (e.g. no reason code or properties in DISCONNECT/PUBACK when both are
/// default, as the spec allows). Values the wire cannot carry (a string over
/// 65,535 bytes, a packet over k_max_possible_packet_size) are a programmer
/// error: the function returns false and leaves `out` unchanged.
bool encode(const packet& p, std::string& out);

/// Convenience: the encoding of `p` as a new string (empty on the error above).
std::string encode(const packet& p);

/// Decodes exactly one whole packet (fixed header included) from `bytes`.
/// Trailing bytes are an error (malformed). For tests and fuzzing.
/// `detail`, when given, receives the sentence decoder::error_detail() would give.
std::optional<packet> decode_one(std::string_view bytes, std::error_code& ec,
                                 std::size_t max_packet_size = k_max_possible_packet_size,
                                 std::string* detail = nullptr);

/// Incremental decoder: bytes in any chunking (one at a time works) in, whole
/// packets out. It checks the declared size against `max_packet_size` as soon
/// as the fixed header is complete, before it buffers any of the body.
///
/// After an error the decoder stays failed: every later next() returns the same
/// error. The caller should send DISCONNECT with error().value() as reason code
/// (0x81 malformed, 0x82 protocol error, 0x84 unsupported protocol version,
/// 0x95 packet too large) and close. A failed decoder drops its buffer and
/// ignores later feed() calls, so buffered() is then 0.
class decoder {
 public:
  explicit decoder(std::size_t max_packet_size = k_max_possible_packet_size) noexcept
      : max_packet_size_(max_packet_size) {}

  /// Appends received bytes. Does not decode; call next() until it yields nothing.
  void feed(std::string_view bytes);

  /// The next whole packet; nullopt when more bytes are needed or on error
  /// (then `ec` is set, a reason_category() code).
  std::optional<packet> next(std::error_code& ec);

  /// The first error, or a default (success) error_code.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  /// A sentence saying what was wrong ("property 0x11 not allowed in PUBLISH").
  [[nodiscard]] const std::string& error_detail() const noexcept { return error_detail_; }
  /// Bytes fed and not yet consumed.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - offset_; }
  [[nodiscard]] std::size_t max_packet_size() const noexcept { return max_packet_size_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  std::size_t max_packet_size_;
  std::error_code error_;
  std::string error_detail_;
};

}  // namespace imock::mqtt

template <>
struct std::is_error_code_enum<imock::mqtt::reason_code> : std::true_type {};
