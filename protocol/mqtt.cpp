#include "imock/protocol/mqtt.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <limits>
#include <type_traits>

namespace imock::mqtt {
namespace {

// ---------------------------------------------------------------------------
// Names

constexpr std::size_t k_max_string = 65'535;
constexpr std::uint32_t k_max_vbi = 268'435'455;  // largest 4-byte variable byte integer

// A property id set as a bit mask: every id of MQTT 5 is below 64.
constexpr std::uint64_t bit(std::uint8_t id) noexcept { return std::uint64_t{1} << id; }

template <typename... Ids>
constexpr std::uint64_t mask(Ids... ids) noexcept {
  return (bit(static_cast<std::uint8_t>(ids)) | ...);
}

constexpr std::uint64_t k_connect_props =
    mask(0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27);
constexpr std::uint64_t k_connack_props = mask(0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21,
                                               0x22, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A);
constexpr std::uint64_t k_publish_props = mask(0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26);
constexpr std::uint64_t k_ack_props = mask(0x1F, 0x26);  // PUBACK, SUBACK, UNSUBACK
constexpr std::uint64_t k_subscribe_props = mask(0x0B, 0x26);
constexpr std::uint64_t k_unsubscribe_props = mask(0x26);
constexpr std::uint64_t k_disconnect_props = mask(0x11, 0x1C, 0x1F, 0x26);
constexpr std::uint64_t k_will_props = mask(0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26);

constexpr std::array<std::string_view, 0x2B> k_property_names = [] {
  std::array<std::string_view, 0x2B> n{};
  n[0x01] = "payload format indicator";
  n[0x02] = "message expiry interval";
  n[0x03] = "content type";
  n[0x08] = "response topic";
  n[0x09] = "correlation data";
  n[0x0B] = "subscription identifier";
  n[0x11] = "session expiry interval";
  n[0x12] = "assigned client identifier";
  n[0x13] = "server keep alive";
  n[0x15] = "authentication method";
  n[0x16] = "authentication data";
  n[0x17] = "request problem information";
  n[0x18] = "will delay interval";
  n[0x19] = "request response information";
  n[0x1A] = "response information";
  n[0x1C] = "server reference";
  n[0x1F] = "reason string";
  n[0x21] = "receive maximum";
  n[0x22] = "topic alias maximum";
  n[0x23] = "topic alias";
  n[0x24] = "maximum qos";
  n[0x25] = "retain available";
  n[0x26] = "user property";
  n[0x27] = "maximum packet size";
  n[0x28] = "wildcard subscription available";
  n[0x29] = "subscription identifier available";
  n[0x2A] = "shared subscription available";
  return n;
}();

// The property's name for error sentences; empty for an identifier MQTT 5 does not define.
std::string_view property_name(std::uint8_t id) noexcept {
  return id < k_property_names.size() ? k_property_names[id] : std::string_view();
}

// ---------------------------------------------------------------------------
// Error details. Only built on the error path, so plain string appends are fine.

std::string hex(std::uint8_t v) {
  constexpr std::string_view k_digits = "0123456789ABCDEF";
  return {'0', 'x', k_digits[v >> 4], k_digits[v & 0xF]};
}

void append(std::string& s, std::string_view v) { s.append(v); }
void append(std::string& s, const char* v) { s.append(v); }
void append(std::string& s, const std::string& v) { s.append(v); }
template <typename T>
requires std::is_integral_v<T>
void append(std::string& s, T v) { s.append(std::to_string(v)); }

template <typename... A>
std::string cat(const A&... a) {
  std::string s;
  (append(s, a), ...);
  return s;
}

struct failure {
  reason_code code = reason_code::success;
  std::string detail;

  // Never a success code once decoding has failed, whatever path got there.
  [[nodiscard]] std::error_code error() const noexcept {
    return make_error_code(code == reason_code::success ? reason_code::malformed_packet : code);
  }
};

// ---------------------------------------------------------------------------
// UTF-8 (spec 1.5.4): well-formed, no surrogates, no U+0000.

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  constexpr std::uint64_t k_ones = 0x0101010101010101ULL;
  constexpr std::uint64_t k_highs = 0x8080808080808080ULL;
  while (p != end) {
    // Topics and ids are mostly ASCII: check eight bytes at once for a high bit or a NUL.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (((w | ((w - k_ones) & ~w)) & k_highs) != 0) break;
      p += 8;
    }
    if (p == end) break;
    const unsigned c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    std::size_t n;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte, overlong 2-byte lead, or 0xF5..0xFF
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Encoding. One template body serves two sinks: `counter` sizes the packet (and
// finds values the wire cannot carry), `writer` then appends into reserved space.

std::size_t vbi_size(std::uint32_t v) noexcept {
  return v < 128 ? 1 : v < 16'384 ? 2 : v < 2'097'152 ? 3 : 4;
}

struct counter {
  std::size_t n = 0;
  bool ok = true;
  void u8(std::uint8_t) noexcept { n += 1; }
  void u16(std::uint16_t) noexcept { n += 2; }
  void u32(std::uint32_t) noexcept { n += 4; }
  void vbi(std::uint32_t v) noexcept {
    if (v > k_max_vbi) ok = false;
    n += vbi_size(v);
  }
  void str(std::string_view s) noexcept {
    if (s.size() > k_max_string) ok = false;
    n += 2 + s.size();
  }
  void raw(std::string_view s) noexcept { n += s.size(); }
};

struct writer {
  std::string& out;
  void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
    out.append(b, 2);
  }
  void u32(std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
                       static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
    out.append(b, 4);
  }
  void vbi(std::uint32_t v) {
    do {
      auto b = static_cast<std::uint8_t>(v & 0x7F);
      v >>= 7;
      if (v != 0) b |= 0x80;
      out.push_back(static_cast<char>(b));
    } while (v != 0);
  }
  void str(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    out.append(s);
  }
  void raw(std::string_view s) { out.append(s); }
};

template <typename S>
void put_opt_u8(S& s, std::uint8_t id, const std::optional<std::uint8_t>& v) {
  if (v) {
    s.u8(id);
    s.u8(*v);
  }
}
template <typename S>
void put_opt_u16(S& s, std::uint8_t id, const std::optional<std::uint16_t>& v) {
  if (v) {
    s.u8(id);
    s.u16(*v);
  }
}
template <typename S>
void put_opt_u32(S& s, std::uint8_t id, const std::optional<std::uint32_t>& v) {
  if (v) {
    s.u8(id);
    s.u32(*v);
  }
}
template <typename S>
void put_opt_str(S& s, std::uint8_t id, const std::optional<std::string>& v) {
  if (v) {
    s.u8(id);
    s.str(*v);
  }
}

// The properties in ascending identifier order; `will_delay` (0x18) only for will properties.
template <typename S>
void put_property_items(S& s, const properties& p, const std::optional<std::uint32_t>* will_delay) {
  put_opt_u8(s, 0x01, p.payload_format_indicator);
  put_opt_u32(s, 0x02, p.message_expiry_interval);
  put_opt_str(s, 0x03, p.content_type);
  put_opt_str(s, 0x08, p.response_topic);
  put_opt_str(s, 0x09, p.correlation_data);
  for (const auto id : p.subscription_identifiers) {
    s.u8(0x0B);
    s.vbi(id);
  }
  put_opt_u32(s, 0x11, p.session_expiry_interval);
  put_opt_str(s, 0x12, p.assigned_client_identifier);
  put_opt_u16(s, 0x13, p.server_keep_alive);
  put_opt_str(s, 0x15, p.authentication_method);
  put_opt_str(s, 0x16, p.authentication_data);
  put_opt_u8(s, 0x17, p.request_problem_information);
  if (will_delay != nullptr) put_opt_u32(s, 0x18, *will_delay);
  put_opt_u8(s, 0x19, p.request_response_information);
  put_opt_str(s, 0x1A, p.response_information);
  put_opt_str(s, 0x1C, p.server_reference);
  put_opt_str(s, 0x1F, p.reason_string);
  put_opt_u16(s, 0x21, p.receive_maximum);
  put_opt_u16(s, 0x22, p.topic_alias_maximum);
  put_opt_u16(s, 0x23, p.topic_alias);
  put_opt_u8(s, 0x24, p.maximum_qos);
  put_opt_u8(s, 0x25, p.retain_available);
  for (const auto& [key, value] : p.user_properties) {
    s.u8(0x26);
    s.str(key);
    s.str(value);
  }
  put_opt_u32(s, 0x27, p.maximum_packet_size);
  put_opt_u8(s, 0x28, p.wildcard_subscription_available);
  put_opt_u8(s, 0x29, p.subscription_identifier_available);
  put_opt_u8(s, 0x2A, p.shared_subscription_available);
}

template <typename S>
void put_properties(S& s, const properties& p,
                    const std::optional<std::uint32_t>* will_delay = nullptr) {
  counter c;
  put_property_items(c, p, will_delay);
  // Property length is a variable byte integer; a longer block cannot be carried.
  if (c.n > k_max_vbi) {
    s.vbi(std::numeric_limits<std::uint32_t>::max());
  } else {
    s.vbi(static_cast<std::uint32_t>(c.n));
  }
  put_property_items(s, p, will_delay);
}

bool props_empty(const properties& p) noexcept {
  return !p.payload_format_indicator && !p.message_expiry_interval && !p.content_type &&
         !p.response_topic && !p.correlation_data && p.subscription_identifiers.empty() &&
         !p.session_expiry_interval && !p.assigned_client_identifier && !p.server_keep_alive &&
         !p.authentication_method && !p.authentication_data && !p.request_problem_information &&
         !p.request_response_information && !p.response_information && !p.server_reference &&
         !p.reason_string && !p.receive_maximum && !p.topic_alias_maximum && !p.topic_alias &&
         !p.maximum_qos && !p.retain_available && p.user_properties.empty() &&
         !p.maximum_packet_size && !p.wildcard_subscription_available &&
         !p.subscription_identifier_available && !p.shared_subscription_available;
}

// First byte of the fixed header.
std::uint8_t first_byte(const packet& p) noexcept {
  const auto type = static_cast<std::uint8_t>(static_cast<std::uint8_t>(type_of(p)) << 4);
  if (const auto* pub = std::get_if<publish>(&p)) {
    return static_cast<std::uint8_t>(type | (pub->dup ? 0x08 : 0) | ((pub->qos & 0x03) << 1) |
                                     (pub->retain ? 0x01 : 0));
  }
  if (std::holds_alternative<subscribe>(p) || std::holds_alternative<unsubscribe>(p)) {
    return static_cast<std::uint8_t>(type | 0x02);
  }
  return type;
}

template <typename S>
void put_body(S& s, const connect& c) {
  s.str("MQTT");
  s.u8(5);
  std::uint8_t flags = c.clean_start ? 0x02 : 0x00;
  if (c.last_will) {
    flags = static_cast<std::uint8_t>(flags | 0x04 | ((c.last_will->qos & 0x03) << 3) |
                                      (c.last_will->retain ? 0x20 : 0));
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  s.u8(flags);
  s.u16(c.keep_alive);
  put_properties(s, c.props);
  s.str(c.client_id);
  if (c.last_will) {
    put_properties(s, c.last_will->props, &c.last_will->will_delay_interval);
    s.str(c.last_will->topic);
    s.str(c.last_will->payload);
  }
  if (c.username) s.str(*c.username);
  if (c.password) s.str(*c.password);
}

template <typename S>
void put_body(S& s, const connack& c) {
  s.u8(c.session_present ? 0x01 : 0x00);
  s.u8(c.reason);
  put_properties(s, c.props);
}

template <typename S>
void put_body(S& s, const publish& p) {
  s.str(p.topic);
  if (p.qos > 0) s.u16(p.packet_id);
  put_properties(s, p.props);
  s.raw(p.payload);
}

template <typename S>
void put_body(S& s, const puback& p) {
  s.u16(p.packet_id);
  const bool no_props = props_empty(p.props);
  if (p.reason == 0 && no_props) return;
  s.u8(p.reason);
  if (!no_props) put_properties(s, p.props);
}

template <typename S>
void put_body(S& s, const subscribe& p) {
  s.u16(p.packet_id);
  put_properties(s, p.props);
  for (const auto& sub : p.subscriptions) {
    s.str(sub.topic_filter);
    s.u8(sub.options);
  }
}

template <typename S>
void put_acks(S& s, std::uint16_t packet_id, const properties& props,
              const std::vector<std::uint8_t>& reasons) {
  s.u16(packet_id);
  put_properties(s, props);
  s.raw({reinterpret_cast<const char*>(reasons.data()), reasons.size()});
}

template <typename S>
void put_body(S& s, const suback& p) {
  put_acks(s, p.packet_id, p.props, p.reasons);
}

template <typename S>
void put_body(S& s, const unsubscribe& p) {
  s.u16(p.packet_id);
  put_properties(s, p.props);
  for (const auto& f : p.topic_filters) s.str(f);
}

template <typename S>
void put_body(S& s, const unsuback& p) {
  put_acks(s, p.packet_id, p.props, p.reasons);
}

template <typename S>
void put_body(S&, const pingreq&) {}

template <typename S>
void put_body(S&, const pingresp&) {}

template <typename S>
void put_body(S& s, const disconnect& p) {
  const bool no_props = props_empty(p.props);
  if (p.reason == 0 && no_props) return;
  s.u8(p.reason);
  if (!no_props) put_properties(s, p.props);
}

// QoS values the fixed header or the connect flags cannot carry in a valid packet.
bool encodable_qos(const packet& p) noexcept {
  if (const auto* pub = std::get_if<publish>(&p)) return pub->qos <= 2;
  if (const auto* c = std::get_if<connect>(&p)) return !c->last_will || c->last_will->qos <= 2;
  return true;
}

// ---------------------------------------------------------------------------
// Decoding

// Reads the fields of one packet body; every read checks the length first.
class reader {
 public:
  reader(std::string_view in, std::string_view context, failure& f) noexcept
      : in_(in), context_(context), f_(f) {}

  [[nodiscard]] std::size_t left() const noexcept { return in_.size() - pos_; }
  [[nodiscard]] std::string_view context() const noexcept { return context_; }

  bool fail(reason_code code, std::string_view detail) {
    f_.code = code;
    f_.detail = cat(context_, ": ", detail);
    return false;
  }
  bool truncated(std::string_view what) {
    return fail(reason_code::malformed_packet, cat("packet ends inside the ", what));
  }

  bool u8(std::uint8_t& v, std::string_view what) {
    if (left() < 1) return truncated(what);
    v = static_cast<std::uint8_t>(in_[pos_]);
    pos_ += 1;
    return true;
  }
  bool u16(std::uint16_t& v, std::string_view what) {
    if (left() < 2) return truncated(what);
    v = static_cast<std::uint16_t>((byte(0) << 8) | byte(1));
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v, std::string_view what) {
    if (left() < 4) return truncated(what);
    v = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
        (std::uint32_t{byte(2)} << 8) | std::uint32_t{byte(3)};
    pos_ += 4;
    return true;
  }
  bool vbi(std::uint32_t& v, std::string_view what) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      if (left() < i + 1) return truncated(what);
      const std::uint8_t b = byte(i);
      value |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) {
          return fail(reason_code::malformed_packet,
                      cat("the ", what, " is not in its shortest encoding"));
        }
        pos_ += i + 1;
        v = value;
        return true;
      }
    }
    return fail(reason_code::malformed_packet, cat("the ", what, " exceeds 4 bytes"));
  }
  // Binary data: two-byte length, then the bytes.
  bool view(std::string_view& v, std::string_view what) {
    std::uint16_t n = 0;
    if (!u16(n, what)) return false;
    if (left() < n) return truncated(what);
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool binary(std::string& v, std::string_view what) {
    std::string_view s;
    if (!view(s, what)) return false;
    v.assign(s);
    return true;
  }
  bool utf8(std::string& v, std::string_view what) {
    std::string_view s;
    if (!view(s, what)) return false;
    if (!valid_utf8(s)) {
      return fail(reason_code::malformed_packet, cat("the ", what, " is not valid UTF-8"));
    }
    v.assign(s);
    return true;
  }
  std::string_view rest() noexcept {
    auto r = in_.substr(pos_);
    pos_ = in_.size();
    return r;
  }
  bool take(std::size_t n, std::string_view& v) noexcept {
    if (left() < n) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A reader over `block` that reports into the same failure.
  [[nodiscard]] reader sub(std::string_view block) const noexcept {
    return reader(block, context_, f_);
  }
  bool end() {
    if (left() == 0) return true;
    return fail(reason_code::malformed_packet,
                cat(left(), left() == 1 ? " trailing byte" : " trailing bytes",
                    " after the end of the packet"));
  }

 private:
  [[nodiscard]] std::uint8_t byte(std::size_t i) const noexcept {
    return static_cast<std::uint8_t>(in_[pos_ + i]);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string_view context_;
  failure& f_;
};

bool read_flag_property(reader& r, std::uint8_t id, std::optional<std::uint8_t>& v) {
  std::uint8_t b = 0;
  if (!r.u8(b, property_name(id))) return false;
  if (b > 1) {
    return r.fail(reason_code::protocol_error,
                  cat("property ", hex(id), " (", property_name(id), ") must be 0 or 1, not ", b));
  }
  v = b;
  return true;
}

bool read_nonzero_u16(reader& r, std::uint8_t id, std::optional<std::uint16_t>& v) {
  std::uint16_t x = 0;
  if (!r.u16(x, property_name(id))) return false;
  if (x == 0) {
    return r.fail(reason_code::protocol_error,
                  cat("property ", hex(id), " (", property_name(id), ") must not be 0"));
  }
  v = x;
  return true;
}

// Which properties a packet accepts, and which of those may repeat.
struct property_rules {
  std::uint64_t allowed;
  std::uint64_t repeatable;
  std::string_view kind;  // "property" or "will property", for the error sentence
};

constexpr property_rules k_connect_rules{k_connect_props, mask(0x26), "property"};
constexpr property_rules k_connack_rules{k_connack_props, mask(0x26), "property"};
constexpr property_rules k_publish_rules{k_publish_props, mask(0x0B, 0x26), "property"};
constexpr property_rules k_ack_rules{k_ack_props, mask(0x26), "property"};
constexpr property_rules k_subscribe_rules{k_subscribe_props, mask(0x26), "property"};
constexpr property_rules k_unsubscribe_rules{k_unsubscribe_props, mask(0x26), "property"};
constexpr property_rules k_disconnect_rules{k_disconnect_props, mask(0x26), "property"};
constexpr property_rules k_will_rules{k_will_props, mask(0x26), "will property"};

// Reads a property block (its length included) into `p`; `will_delay` receives 0x18.
bool read_properties(reader& outer, const property_rules& rules, properties& p,
                     std::optional<std::uint32_t>* will_delay = nullptr) {
  std::uint32_t length = 0;
  if (!outer.vbi(length, "property length")) return false;
  std::string_view block;
  if (!outer.take(length, block)) {
    return outer.fail(reason_code::malformed_packet,
                      cat("property length ", length, " runs past the end of the packet (",
                          outer.left(), " bytes left)"));
  }
  reader r = outer.sub(block);
  std::uint64_t seen = 0;
  while (r.left() > 0) {
    std::uint8_t id = 0;
    if (!r.u8(id, "property identifier")) return false;
    // Every defined identifier is below 0x80, so one byte is the whole variable byte integer.
    const std::string_view name = property_name(id);
    if (name.empty()) {
      return r.fail(reason_code::malformed_packet, cat("unknown ", rules.kind, " ", hex(id)));
    }
    if ((rules.allowed & bit(id)) == 0) {
      return r.fail(reason_code::malformed_packet,
                    cat(rules.kind, " ", hex(id), " (", name, ") is not allowed"));
    }
    if ((seen & bit(id)) != 0 && (rules.repeatable & bit(id)) == 0) {
      return r.fail(reason_code::protocol_error,
                    cat(rules.kind, " ", hex(id), " (", name, ") appears more than once"));
    }
    seen |= bit(id);
    bool ok = true;
    switch (id) {
      case 0x01: {
        std::uint8_t v = 0;
        ok = r.u8(v, name);
        p.payload_format_indicator = v;
        break;
      }
      case 0x02:
        ok = r.u32(p.message_expiry_interval.emplace(), name);
        break;
      case 0x03:
        ok = r.utf8(p.content_type.emplace(), name);
        break;
      case 0x08:
        ok = r.utf8(p.response_topic.emplace(), name);
        break;
      case 0x09:
        ok = r.binary(p.correlation_data.emplace(), name);
        break;
      case 0x0B: {
        std::uint32_t v = 0;
        ok = r.vbi(v, name);
        if (ok && v == 0) {
          return r.fail(reason_code::protocol_error,
                        cat(rules.kind, " ", hex(id), " (", name, ") must not be 0"));
        }
        p.subscription_identifiers.push_back(v);
        break;
      }
      case 0x11:
        ok = r.u32(p.session_expiry_interval.emplace(), name);
        break;
      case 0x12:
        ok = r.utf8(p.assigned_client_identifier.emplace(), name);
        break;
      case 0x13:
        ok = r.u16(p.server_keep_alive.emplace(), name);
        break;
      case 0x15:
        ok = r.utf8(p.authentication_method.emplace(), name);
        break;
      case 0x16:
        ok = r.binary(p.authentication_data.emplace(), name);
        break;
      case 0x17:
        ok = read_flag_property(r, id, p.request_problem_information);
        break;
      case 0x18: {
        // Only the will rules allow 0x18, and they always come with `will_delay`.
        std::uint32_t v = 0;
        ok = r.u32(v, name);
        if (will_delay != nullptr) *will_delay = v;
        break;
      }
      case 0x19:
        ok = read_flag_property(r, id, p.request_response_information);
        break;
      case 0x1A:
        ok = r.utf8(p.response_information.emplace(), name);
        break;
      case 0x1C:
        ok = r.utf8(p.server_reference.emplace(), name);
        break;
      case 0x1F:
        ok = r.utf8(p.reason_string.emplace(), name);
        break;
      case 0x21:
        ok = read_nonzero_u16(r, id, p.receive_maximum);
        break;
      case 0x22:
        ok = r.u16(p.topic_alias_maximum.emplace(), name);
        break;
      case 0x23:
        ok = r.u16(p.topic_alias.emplace(), name);
        break;
      case 0x24:
        ok = read_flag_property(r, id, p.maximum_qos);
        break;
      case 0x25:
        ok = read_flag_property(r, id, p.retain_available);
        break;
      case 0x26: {
        auto& kv = p.user_properties.emplace_back();
        ok = r.utf8(kv.first, "user property name") && r.utf8(kv.second, "user property value");
        break;
      }
      case 0x27: {
        std::uint32_t v = 0;
        ok = r.u32(v, name);
        if (ok && v == 0) {
          return r.fail(reason_code::protocol_error,
                        cat(rules.kind, " ", hex(id), " (", name, ") must not be 0"));
        }
        p.maximum_packet_size = v;
        break;
      }
      case 0x28:
        ok = read_flag_property(r, id, p.wildcard_subscription_available);
        break;
      case 0x29:
        ok = read_flag_property(r, id, p.subscription_identifier_available);
        break;
      case 0x2A:
        ok = read_flag_property(r, id, p.shared_subscription_available);
        break;
      default:  // unreachable: property_name() knows no other id
        return r.fail(reason_code::malformed_packet, cat("unknown ", rules.kind, " ", hex(id)));
    }
    if (!ok) return false;
  }
  return true;
}

bool read_packet_id(reader& r, std::uint16_t& id) {
  if (!r.u16(id, "packet identifier")) return false;
  if (id == 0) return r.fail(reason_code::protocol_error, "packet identifier must not be 0");
  return true;
}

bool read_body(reader& r, std::uint8_t, connect& c) {
  std::string_view name;
  if (!r.view(name, "protocol name")) return false;
  if (name != "MQTT") return r.fail(reason_code::malformed_packet, "protocol name is not \"MQTT\"");
  std::uint8_t level = 0;
  if (!r.u8(level, "protocol version")) return false;
  if (level != 5) {
    return r.fail(reason_code::unsupported_protocol_version,
                  cat("protocol version ", level, " is not supported (only 5, MQTT 5.0)"));
  }
  std::uint8_t flags = 0;
  if (!r.u8(flags, "connect flags")) return false;
  if ((flags & 0x01) != 0) {
    return r.fail(reason_code::malformed_packet, "the reserved connect flag (bit 0) is set");
  }
  const bool has_will = (flags & 0x04) != 0;
  const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
  const bool will_retain = (flags & 0x20) != 0;
  if (!has_will && (will_qos != 0 || will_retain)) {
    return r.fail(reason_code::malformed_packet,
                  "will QoS or will retain is set without the will flag");
  }
  if (will_qos == 3) return r.fail(reason_code::malformed_packet, "will QoS 3 is not a QoS");
  c.clean_start = (flags & 0x02) != 0;
  if (!r.u16(c.keep_alive, "keep alive")) return false;
  if (!read_properties(r, k_connect_rules, c.props)) return false;
  if (c.props.authentication_data && !c.props.authentication_method) {
    return r.fail(reason_code::protocol_error,
                  "authentication data (0x16) without an authentication method (0x15)");
  }
  if (!r.utf8(c.client_id, "client identifier")) return false;
  if (has_will) {
    auto& w = c.last_will.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    if (!read_properties(r, k_will_rules, w.props, &w.will_delay_interval)) return false;
    if (!r.utf8(w.topic, "will topic")) return false;
    if (!r.binary(w.payload, "will payload")) return false;
  }
  if ((flags & 0x80) != 0 && !r.utf8(c.username.emplace(), "user name")) return false;
  if ((flags & 0x40) != 0 && !r.binary(c.password.emplace(), "password")) return false;
  return r.end();
}

bool read_body(reader& r, std::uint8_t, connack& c) {
  std::uint8_t flags = 0;
  if (!r.u8(flags, "acknowledge flags")) return false;
  if ((flags & 0xFE) != 0) {
    return r.fail(reason_code::malformed_packet, "reserved acknowledge flags (bits 7-1) are set");
  }
  c.session_present = (flags & 0x01) != 0;
  if (!r.u8(c.reason, "reason code")) return false;
  if (!read_properties(r, k_connack_rules, c.props)) return false;
  return r.end();
}

bool read_body(reader& r, std::uint8_t first, publish& p) {
  // The fixed header flags were checked with the first byte.
  p.dup = (first & 0x08) != 0;
  p.qos = static_cast<std::uint8_t>((first >> 1) & 0x03);
  p.retain = (first & 0x01) != 0;
  if (!r.utf8(p.topic, "topic name")) return false;
  if (p.qos > 0 && !read_packet_id(r, p.packet_id)) return false;
  if (!read_properties(r, k_publish_rules, p.props)) return false;
  if (p.topic.empty() && !p.props.topic_alias) {
    return r.fail(reason_code::protocol_error, "empty topic name without a topic alias");
  }
  p.payload.assign(r.rest());
  return true;
}

bool read_body(reader& r, std::uint8_t, puback& p) {
  if (!read_packet_id(r, p.packet_id)) return false;
  // Reason code and properties may be left out (3.4.2.1).
  if (r.left() == 0) return true;
  if (!r.u8(p.reason, "reason code")) return false;
  if (r.left() == 0) return true;
  if (!read_properties(r, k_ack_rules, p.props)) return false;
  return r.end();
}

bool read_body(reader& r, std::uint8_t, subscribe& p) {
  if (!read_packet_id(r, p.packet_id)) return false;
  if (!read_properties(r, k_subscribe_rules, p.props)) return false;
  if (r.left() == 0) return r.fail(reason_code::protocol_error, "no topic filter");
  while (r.left() > 0) {
    auto& s = p.subscriptions.emplace_back();
    if (!r.utf8(s.topic_filter, "topic filter")) return false;
    if (!r.u8(s.options, "subscription options")) return false;
    if ((s.options & 0xC0) != 0) {
      return r.fail(reason_code::malformed_packet,
                    "reserved bits (7-6) of the subscription options are set");
    }
    if ((s.options & 0x03) == 3) {
      return r.fail(reason_code::protocol_error, "maximum QoS 3 in the subscription options");
    }
    if (((s.options >> 4) & 0x03) == 3) {
      return r.fail(reason_code::protocol_error, "retain handling 3 in the subscription options");
    }
  }
  return true;
}

bool read_acks(reader& r, std::uint16_t& packet_id, properties& props,
               std::vector<std::uint8_t>& reasons) {
  if (!read_packet_id(r, packet_id)) return false;
  if (!read_properties(r, k_ack_rules, props)) return false;
  const std::string_view rest = r.rest();
  if (rest.empty()) return r.fail(reason_code::protocol_error, "no reason code");
  reasons.assign(rest.begin(), rest.end());
  return true;
}

bool read_body(reader& r, std::uint8_t, suback& p) {
  return read_acks(r, p.packet_id, p.props, p.reasons);
}

bool read_body(reader& r, std::uint8_t, unsubscribe& p) {
  if (!read_packet_id(r, p.packet_id)) return false;
  if (!read_properties(r, k_unsubscribe_rules, p.props)) return false;
  if (r.left() == 0) return r.fail(reason_code::protocol_error, "no topic filter");
  while (r.left() > 0) {
    if (!r.utf8(p.topic_filters.emplace_back(), "topic filter")) return false;
  }
  return true;
}

bool read_body(reader& r, std::uint8_t, unsuback& p) {
  return read_acks(r, p.packet_id, p.props, p.reasons);
}

bool read_body(reader& r, std::uint8_t, pingreq&) { return r.end(); }
bool read_body(reader& r, std::uint8_t, pingresp&) { return r.end(); }

bool read_body(reader& r, std::uint8_t, disconnect& p) {
  // Reason code and properties may be left out (3.14.2.1).
  if (r.left() == 0) return true;
  if (!r.u8(p.reason, "reason code")) return false;
  if (r.left() == 0) return true;
  if (!read_properties(r, k_disconnect_rules, p.props)) return false;
  return r.end();
}

template <typename T>
bool read_as(std::uint8_t first, std::string_view body, failure& f, std::optional<packet>& out) {
  auto& v = std::get<T>(out.emplace(std::in_place_type<T>));
  reader r(body, type_name(static_cast<packet_type>(first >> 4)), f);
  if (read_body(r, first, v)) return true;
  out.reset();
  return false;
}

// Decodes the body of a packet whose first byte passed check_first_byte().
bool read_packet(std::uint8_t first, std::string_view body, failure& f,
                 std::optional<packet>& out) {
  switch (static_cast<packet_type>(first >> 4)) {
    case packet_type::connect:
      return read_as<connect>(first, body, f, out);
    case packet_type::connack:
      return read_as<connack>(first, body, f, out);
    case packet_type::publish:
      return read_as<publish>(first, body, f, out);
    case packet_type::puback:
      return read_as<puback>(first, body, f, out);
    case packet_type::subscribe:
      return read_as<subscribe>(first, body, f, out);
    case packet_type::suback:
      return read_as<suback>(first, body, f, out);
    case packet_type::unsubscribe:
      return read_as<unsubscribe>(first, body, f, out);
    case packet_type::unsuback:
      return read_as<unsuback>(first, body, f, out);
    case packet_type::pingreq:
      return read_as<pingreq>(first, body, f, out);
    case packet_type::pingresp:
      return read_as<pingresp>(first, body, f, out);
    case packet_type::disconnect:
      return read_as<disconnect>(first, body, f, out);
  }
  f.code = reason_code::malformed_packet;
  f.detail = cat("packet type ", first >> 4, " is not decodable");
  return false;
}

bool fail(failure& f, reason_code code, std::string detail) {
  f.code = code;
  f.detail = std::move(detail);
  return false;
}

// The packet type and fixed header flags, checked as soon as the first byte arrives.
bool check_first_byte(std::uint8_t first, failure& f) {
  const unsigned type = first >> 4;
  const unsigned flags = first & 0x0F;
  switch (type) {
    case 0:
      return fail(f, reason_code::malformed_packet, "packet type 0 is reserved");
    case 5:
    case 6:
    case 7: {
      constexpr std::array<std::string_view, 3> k_names = {"PUBREC", "PUBREL", "PUBCOMP"};
      return fail(f, reason_code::protocol_error,
                  cat(k_names[type - 5], " (packet type ", type,
                      ") is outside imock's subset: QoS 2 is not supported"));
    }
    case 15:
      return fail(f, reason_code::protocol_error,
                  "AUTH (packet type 15) is outside imock's subset: enhanced authentication "
                  "is not supported");
    case 3: {
      const unsigned qos = (flags >> 1) & 0x03;
      if (qos == 3) return fail(f, reason_code::malformed_packet, "PUBLISH: QoS 3 is not a QoS");
      if (qos == 2) {
        return fail(f, reason_code::protocol_error,
                    "PUBLISH: QoS 2 is outside imock's subset (QoS 0 and 1 only)");
      }
      if (qos == 0 && (flags & 0x08) != 0) {
        return fail(f, reason_code::protocol_error, "PUBLISH: DUP flag set on a QoS 0 message");
      }
      return true;
    }
    default:
      break;
  }
  const unsigned expected = (type == 8 || type == 10) ? 0x02 : 0x00;
  if (flags != expected) {
    return fail(f, reason_code::malformed_packet,
                cat(type_name(static_cast<packet_type>(type)), ": fixed header flags are ",
                    hex(static_cast<std::uint8_t>(flags)), ", must be ",
                    hex(static_cast<std::uint8_t>(expected))));
  }
  return true;
}

struct fixed_header {
  std::uint8_t first = 0;
  std::size_t header_size = 0;  // first byte and remaining length
  std::size_t remaining = 0;
  [[nodiscard]] std::size_t total() const noexcept { return header_size + remaining; }
};

enum class header_status { need_more, complete, failed };

// Parses the fixed header at the start of `in` and checks the whole packet's size
// against `max_size`, so an oversized packet fails before its body is buffered.
header_status read_fixed_header(std::string_view in, std::size_t max_size, fixed_header& h,
                                failure& f) {
  if (in.empty()) return header_status::need_more;
  h.first = static_cast<std::uint8_t>(in[0]);
  if (!check_first_byte(h.first, f)) return header_status::failed;
  std::size_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (in.size() < i + 2) return header_status::need_more;
    const auto b = static_cast<std::uint8_t>(in[i + 1]);
    value |= std::size_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      if (i > 0 && b == 0) {
        fail(f, reason_code::malformed_packet, "remaining length is not in its shortest encoding");
        return header_status::failed;
      }
      h.header_size = i + 2;
      h.remaining = value;
      if (h.total() > max_size) {
        fail(f, reason_code::packet_too_large,
             cat(type_name(static_cast<packet_type>(h.first >> 4)), ": packet of ", h.total(),
                 " bytes exceeds the maximum packet size of ", max_size, " bytes"));
        return header_status::failed;
      }
      return header_status::complete;
    }
  }
  fail(f, reason_code::malformed_packet, "remaining length exceeds 4 bytes");
  return header_status::failed;
}

class reason_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "mqtt.reason"; }
  [[nodiscard]] std::string message(int value) const override {
    if (value < 0 || value > 0xFF) return "unknown";
    return std::string(reason_name(static_cast<std::uint8_t>(value)));
  }
};

}  // namespace

bool reason_allowed(packet_type t, std::uint8_t reason) noexcept {
  switch (t) {
    case packet_type::connack:
      return reason == 0x00 || (reason >= 0x80 && reason <= 0x8A) || reason == 0x8C ||
             reason == 0x90 || reason == 0x95 || reason == 0x97 ||
             (reason >= 0x99 && reason <= 0x9D) || reason == 0x9F;
    case packet_type::disconnect:
      return reason == 0x00 || reason == 0x04 || (reason >= 0x80 && reason <= 0x83) ||
             reason == 0x87 || reason == 0x89 || (reason >= 0x8B && reason <= 0x90) ||
             (reason >= 0x93 && reason <= 0xA2);
    default:
      return false;
  }
}

std::string_view reason_name(std::uint8_t code) noexcept {
  static constexpr std::array<std::string_view, 256> k_names = [] {
    std::array<std::string_view, 256> n{};
    n[0x00] = "success";
    n[0x01] = "granted_qos_1";
    n[0x02] = "granted_qos_2";
    n[0x04] = "disconnect_with_will_message";
    n[0x10] = "no_matching_subscribers";
    n[0x11] = "no_subscription_existed";
    n[0x18] = "continue_authentication";
    n[0x19] = "re_authenticate";
    n[0x80] = "unspecified_error";
    n[0x81] = "malformed_packet";
    n[0x82] = "protocol_error";
    n[0x83] = "implementation_specific_error";
    n[0x84] = "unsupported_protocol_version";
    n[0x85] = "client_identifier_not_valid";
    n[0x86] = "bad_user_name_or_password";
    n[0x87] = "not_authorized";
    n[0x88] = "server_unavailable";
    n[0x89] = "server_busy";
    n[0x8A] = "banned";
    n[0x8B] = "server_shutting_down";
    n[0x8C] = "bad_authentication_method";
    n[0x8D] = "keep_alive_timeout";
    n[0x8E] = "session_taken_over";
    n[0x8F] = "topic_filter_invalid";
    n[0x90] = "topic_name_invalid";
    n[0x91] = "packet_identifier_in_use";
    n[0x92] = "packet_identifier_not_found";
    n[0x93] = "receive_maximum_exceeded";
    n[0x94] = "topic_alias_invalid";
    n[0x95] = "packet_too_large";
    n[0x96] = "message_rate_too_high";
    n[0x97] = "quota_exceeded";
    n[0x98] = "administrative_action";
    n[0x99] = "payload_format_invalid";
    n[0x9A] = "retain_not_supported";
    n[0x9B] = "qos_not_supported";
    n[0x9C] = "use_another_server";
    n[0x9D] = "server_moved";
    n[0x9E] = "shared_subscriptions_not_supported";
    n[0x9F] = "connection_rate_exceeded";
    n[0xA0] = "maximum_connect_time";
    n[0xA1] = "subscription_identifiers_not_supported";
    n[0xA2] = "wildcard_subscriptions_not_supported";
    return n;
  }();
  return k_names[code].empty() ? "unknown" : k_names[code];
}

const std::error_category& reason_category() noexcept {
  static const reason_category_impl k_category;
  return k_category;
}

std::error_code make_error_code(reason_code rc) noexcept {
  return {static_cast<int>(rc), reason_category()};
}

const std::string* properties::find_user_property(std::string_view key) const noexcept {
  for (const auto& [k, v] : user_properties) {
    if (k == key) return &v;
  }
  return nullptr;
}

packet_type type_of(const packet& p) noexcept {
  // In the order of the packet variant's alternatives.
  constexpr std::array<packet_type, std::variant_size_v<packet>> k_types = {
      packet_type::connect,     packet_type::connack,   packet_type::publish,
      packet_type::puback,      packet_type::subscribe, packet_type::suback,
      packet_type::unsubscribe, packet_type::unsuback,  packet_type::pingreq,
      packet_type::pingresp,    packet_type::disconnect};
  const std::size_t i = p.index();
  return i < k_types.size() ? k_types[i] : packet_type::disconnect;
}

std::string_view type_name(packet_type t) noexcept {
  switch (t) {
    case packet_type::connect:
      return "CONNECT";
    case packet_type::connack:
      return "CONNACK";
    case packet_type::publish:
      return "PUBLISH";
    case packet_type::puback:
      return "PUBACK";
    case packet_type::subscribe:
      return "SUBSCRIBE";
    case packet_type::suback:
      return "SUBACK";
    case packet_type::unsubscribe:
      return "UNSUBSCRIBE";
    case packet_type::unsuback:
      return "UNSUBACK";
    case packet_type::pingreq:
      return "PINGREQ";
    case packet_type::pingresp:
      return "PINGRESP";
    case packet_type::disconnect:
      return "DISCONNECT";
  }
  return "UNKNOWN";
}

bool encode(const packet& p, std::string& out) {
  if (p.valueless_by_exception() || !encodable_qos(p)) return false;
  counter c;
  std::visit([&c](const auto& v) { put_body(c, v); }, p);
  if (!c.ok || c.n > k_max_vbi) return false;
  const auto remaining = static_cast<std::uint32_t>(c.n);
  const std::size_t total = 1 + vbi_size(remaining) + remaining;
  // Grow geometrically: callers append many packets to one buffer.
  if (out.capacity() - out.size() < total) {
    out.reserve(std::max(out.size() + total, 2 * out.capacity()));
  }
  [[maybe_unused]] const std::size_t start = out.size();
  writer w{out};
  w.u8(first_byte(p));
  w.vbi(remaining);
  std::visit([&w](const auto& v) { put_body(w, v); }, p);
  assert(out.size() - start == total);
  return true;
}

std::string encode(const packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

std::optional<packet> decode_one(std::string_view bytes, std::error_code& ec,
                                 std::size_t max_packet_size, std::string* detail) {
  std::optional<packet> out;
  failure f;
  fixed_header h;
  switch (read_fixed_header(bytes, max_packet_size, h, f)) {
    case header_status::need_more:
      fail(f, reason_code::malformed_packet,
           bytes.empty() ? "no bytes" : "packet ends inside the fixed header");
      break;
    case header_status::failed:
      break;
    case header_status::complete: {
      const std::string_view type = type_name(static_cast<packet_type>(h.first >> 4));
      if (bytes.size() < h.total()) {
        fail(f, reason_code::malformed_packet,
             cat(type, ": packet is truncated, ", bytes.size(), " of ", h.total(), " bytes"));
      } else if (bytes.size() > h.total()) {
        fail(f, reason_code::malformed_packet,
             cat(type, ": ", bytes.size() - h.total(), " trailing bytes after the packet"));
      } else {
        read_packet(h.first, bytes.substr(h.header_size), f, out);
      }
      break;
    }
  }
  if (out) {
    ec.clear();
    if (detail != nullptr) detail->clear();
  } else {
    ec = f.error();
    if (detail != nullptr) *detail = std::move(f.detail);
  }
  return out;
}

void decoder::feed(std::string_view bytes) {
  if (error_) return;  // a failed decoder never decodes again: keep nothing
  // Drop the consumed prefix once it outweighs the rest, so the copy is amortised.
  if (offset_ != 0 && offset_ >= buffer_.size() - offset_) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<packet> decoder::next(std::error_code& ec) {
  std::optional<packet> out;
  if (error_) {
    ec = error_;
    return out;
  }
  ec.clear();
  const std::string_view in = std::string_view(buffer_).substr(offset_);
  failure f;
  fixed_header h;
  const header_status status = read_fixed_header(in, max_packet_size_, h, f);
  if (status != header_status::failed) {
    if (status == header_status::need_more || in.size() < h.total()) {
      // Keep only the partial packet: each byte is moved at most once.
      if (offset_ != 0) {
        buffer_.erase(0, offset_);
        offset_ = 0;
      }
      return out;
    }
    if (read_packet(h.first, in.substr(h.header_size, h.remaining), f, out)) {
      offset_ += h.total();
      if (offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
      }
      return out;
    }
  }
  error_ = f.error();
  error_detail_ = std::move(f.detail);
  ec = error_;
  std::string().swap(buffer_);
  offset_ = 0;
  return out;
}

}  // namespace imock::mqtt
