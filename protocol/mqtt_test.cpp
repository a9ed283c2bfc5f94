#include "imock/protocol/mqtt.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imock::mqtt {
namespace {

// A string literal as bytes, embedded NULs included.
template <std::size_t N>
std::string wire(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string hex_dump(std::string_view bytes) {
  constexpr std::string_view k_digits = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out.push_back(' ');
    out.push_back(k_digits[b >> 4]);
    out.push_back(k_digits[b & 0xF]);
  }
  return out;
}

// Decodes `bytes` through an incremental decoder fed one byte at a time.
std::vector<packet> decode_bytewise(std::string_view bytes, std::error_code& ec) {
  decoder dec;
  std::vector<packet> out;
  for (const char c : bytes) {
    dec.feed(std::string_view(&c, 1));
    while (auto p = dec.next(ec)) out.push_back(std::move(*p));
    if (ec) break;
  }
  return out;
}

// Encoding `p` gives exactly `bytes`, and both decoders turn `bytes` back into `p`.
void expect_codec(const packet& p, std::string_view bytes) {
  EXPECT_EQ(hex_dump(encode(p)), hex_dump(bytes));
  std::error_code ec;
  std::string detail;
  const auto one = decode_one(bytes, ec, k_max_possible_packet_size, &detail);
  ASSERT_FALSE(ec) << detail;
  ASSERT_TRUE(one.has_value());
  EXPECT_TRUE(*one == p);
  const auto all = decode_bytewise(bytes, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0] == p);
}

// The reason code decode_one() gives for `bytes`, and the detail sentence in `detail`.
std::uint8_t decode_one_error(std::string_view bytes, std::string* detail = nullptr) {
  std::error_code ec;
  const auto p = decode_one(bytes, ec, k_max_possible_packet_size, detail);
  EXPECT_FALSE(p.has_value());
  EXPECT_EQ(&ec.category(), &reason_category());
  return static_cast<std::uint8_t>(ec.value());
}

// As decode_one_error(), and the incremental decoder fed one byte at a time must agree.
std::uint8_t decode_error(std::string_view bytes, std::string* detail = nullptr) {
  std::error_code ec;
  const auto p = decode_one(bytes, ec, k_max_possible_packet_size, detail);
  EXPECT_FALSE(p.has_value());
  EXPECT_EQ(&ec.category(), &reason_category());
  std::error_code inc_ec;
  decode_bytewise(bytes, inc_ec);
  EXPECT_EQ(inc_ec, ec);
  return static_cast<std::uint8_t>(ec.value());
}

// ---------------------------------------------------------------------------
// Byte-exact vectors, one or more per packet type.

TEST(MqttEncode, MinimalConnectMatchesHandBuiltBytes) {
  connect c;
  c.client_id = "c1";
  c.keep_alive = 60;
  expect_codec(c, wire("\x10"      // CONNECT
                       "\x0f"      // remaining length 15
                       "\x00\x04"  // protocol name length 4
                       "MQTT"      //   protocol name
                       "\x05"      // protocol version 5
                       "\x02"      // connect flags: clean start
                       "\x00\x3c"  // keep alive 60 s
                       "\x00"      // property length 0
                       "\x00\x02"  // client identifier length 2
                       "c1"));     //   client identifier
}

TEST(MqttEncode, ConnectWithWillCredentialsAndPropertiesMatchesHandBuiltBytes) {
  connect c;
  c.client_id = "dev";
  c.clean_start = false;
  c.keep_alive = 30;
  c.username = "app";
  c.password = wire("\x00\xff");
  c.props.session_expiry_interval = 120;
  c.props.receive_maximum = 10;
  c.props.user_properties = {{"rc", "1"}};
  will w;
  w.topic = "w/t";
  w.payload = "bye";
  w.qos = 1;
  w.retain = true;
  w.will_delay_interval = 5;
  w.props.payload_format_indicator = 1;
  w.props.content_type = "text";
  w.props.user_properties = {{"k", "v"}};
  c.last_will = w;
  expect_codec(c, wire("\x10"                  // CONNECT
                       "\x49"                  // remaining length 73
                       "\x00\x04"              // protocol name length 4
                       "MQTT"                  //   protocol name
                       "\x05"                  // protocol version 5
                       "\xec"                  // flags: user name, password, will retain,
                                               //   will QoS 1, will; no clean start
                       "\x00\x1e"              // keep alive 30 s
                       "\x10"                  // property length 16
                       "\x11\x00\x00\x00\x78"  // session expiry interval 120
                       "\x21\x00\x0a"          // receive maximum 10
                       "\x26"                  // user property
                       "\x00\x02"              //   name length 2
                       "rc"                    //   name
                       "\x00\x01"              //   value length 1
                       "1"                     //   value
                       "\x00\x03"              // client identifier length 3
                       "dev"                   //   client identifier
                       "\x15"                  // will property length 21
                       "\x01\x01"              // payload format indicator 1 (UTF-8)
                       "\x03\x00\x04"          // content type, length 4
                       "text"                  //   content type
                       "\x18\x00\x00\x00\x05"  // will delay interval 5 s
                       "\x26"                  // user property
                       "\x00\x01"              //   name length 1
                       "k"                     //   name
                       "\x00\x01"              //   value length 1
                       "v"                     //   value
                       "\x00\x03"              // will topic length 3
                       "w/t"                   //   will topic
                       "\x00\x03"              // will payload length 3
                       "bye"                   //   will payload
                       "\x00\x03"              // user name length 3
                       "app"                   //   user name
                       "\x00\x02"              // password length 2
                       "\x00\xff"));           //   password (binary)
}

TEST(MqttEncode, ConnackAcceptedWithPropertiesMatchesHandBuiltBytes) {
  connack c;
  c.session_present = true;
  c.props.assigned_client_identifier = "id7";
  c.props.server_keep_alive = 20;
  c.props.maximum_qos = 1;
  c.props.retain_available = 0;
  c.props.user_properties = {{"rc-code", "0"}};
  c.props.maximum_packet_size = 4096;
  expect_codec(c, wire("\x20"                     // CONNACK
                       "\x22"                     // remaining length 34
                       "\x01"                     // acknowledge flags: session present
                       "\x00"                     // reason code 0 success
                       "\x1f"                     // property length 31
                       "\x12\x00\x03"             // assigned client identifier, length 3
                       "id7"                      //   assigned client identifier
                       "\x13\x00\x14"             // server keep alive 20 s
                       "\x24\x01"                 // maximum QoS 1
                       "\x25\x00"                 // retain available 0
                       "\x26"                     // user property
                       "\x00\x07"                 //   name length 7
                       "rc-code"                  //   name
                       "\x00\x01"                 //   value length 1
                       "0"                        //   value
                       "\x27\x00\x00\x10\x00"));  // maximum packet size 4096
}

TEST(MqttEncode, ConnackRefusedWithReasonStringMatchesHandBuiltBytes) {
  connack c;
  c.reason = 0x86;
  c.props.reason_string = "bad token";
  expect_codec(c, wire("\x20"          // CONNACK
                       "\x0f"          // remaining length 15
                       "\x00"          // acknowledge flags: no session
                       "\x86"          // reason code 0x86 bad user name or password
                       "\x0c"          // property length 12
                       "\x1f\x00\x09"  // reason string, length 9
                       "bad token"));  //   reason string
}

TEST(MqttEncode, PublishQos0RetainedMatchesHandBuiltBytes) {
  publish p;
  p.retain = true;
  p.topic = "a/b";
  p.payload = "hi";
  expect_codec(p, wire("\x31"      // PUBLISH, QoS 0, retain
                       "\x08"      // remaining length 8
                       "\x00\x03"  // topic name length 3
                       "a/b"       //   topic name
                       "\x00"      // property length 0
                       "hi"));     // payload
}

TEST(MqttEncode, PublishQos1DupWithEveryPublishPropertyMatchesHandBuiltBytes) {
  publish p;
  p.dup = true;
  p.qos = 1;
  p.topic = "t";
  p.packet_id = 7;
  p.props.payload_format_indicator = 1;
  p.props.message_expiry_interval = 60;
  p.props.content_type = "text/plain";
  p.props.response_topic = "r";
  p.props.correlation_data = wire("\x01\x02");
  p.props.subscription_identifiers = {5, 128};
  p.props.topic_alias = 2;
  p.props.user_properties = {{"a", "b"}};
  p.payload = wire("\x00\x01\x02");
  expect_codec(p, wire("\x3a"                  // PUBLISH, DUP, QoS 1, no retain
                       "\x35"                  // remaining length 53
                       "\x00\x01"              // topic name length 1
                       "t"                     //   topic name
                       "\x00\x07"              // packet identifier 7
                       "\x2c"                  // property length 44
                       "\x01\x01"              // payload format indicator 1
                       "\x02\x00\x00\x00\x3c"  // message expiry interval 60 s
                       "\x03\x00\x0a"          // content type, length 10
                       "text/plain"            //   content type
                       "\x08\x00\x01"          // response topic, length 1
                       "r"                     //   response topic
                       "\x09\x00\x02"          // correlation data, length 2
                       "\x01\x02"              //   correlation data
                       "\x0b\x05"              // subscription identifier 5
                       "\x0b\x80\x01"          // subscription identifier 128 (two-byte VBI)
                       "\x23\x00\x02"          // topic alias 2
                       "\x26"                  // user property
                       "\x00\x01"              //   name length 1
                       "a"                     //   name
                       "\x00\x01"              //   value length 1
                       "b"                     //   value
                       "\x00\x01\x02"));       // payload (binary)
}

TEST(MqttEncode, PublishWithLongPayloadUsesTwoByteRemainingLength) {
  publish p;
  p.topic = "t";
  p.payload = std::string(200, 'x');
  const std::string expected = wire(
                                   "\x30"                // PUBLISH, QoS 0
                                   "\xcc\x01"            // remaining length 204 (0x4c + 1 * 128)
                                   "\x00\x01"            // topic name length 1
                                   "t"                   //   topic name
                                   "\x00")               // property length 0
                               + std::string(200, 'x');  // payload
  expect_codec(p, expected);
}

TEST(MqttEncode, PubackSuccessWithoutPropertiesIsShortestForm) {
  puback p;
  p.packet_id = 7;
  expect_codec(p, wire("\x40"         // PUBACK
                       "\x02"         // remaining length 2
                       "\x00\x07"));  // packet identifier 7
}

TEST(MqttEncode, PubackWithReasonOnlyOmitsProperties) {
  puback p;
  p.packet_id = 7;
  p.reason = 0x10;
  expect_codec(p, wire("\x40"      // PUBACK
                       "\x03"      // remaining length 3
                       "\x00\x07"  // packet identifier 7
                       "\x10"));   // reason code 0x10 no matching subscribers
}

TEST(MqttEncode, PubackWithPropertiesCarriesReasonAndProperties) {
  puback p;
  p.packet_id = 7;
  p.reason = 0x80;
  p.props.reason_string = "no";
  expect_codec(p, wire("\x40"          // PUBACK
                       "\x09"          // remaining length 9
                       "\x00\x07"      // packet identifier 7
                       "\x80"          // reason code 0x80 unspecified error
                       "\x05"          // property length 5
                       "\x1f\x00\x02"  // reason string, length 2
                       "no"));         //   reason string
}

TEST(MqttEncode, PubackSuccessWithPropertiesKeepsTheZeroReason) {
  puback p;
  p.packet_id = 1;
  p.props.user_properties = {{"k", ""}};
  expect_codec(p, wire("\x40"         // PUBACK
                       "\x0a"         // remaining length 10
                       "\x00\x01"     // packet identifier 1
                       "\x00"         // reason code 0 success (needed before properties)
                       "\x06"         // property length 6
                       "\x26"         // user property
                       "\x00\x01"     //   name length 1
                       "k"            //   name
                       "\x00\x00"));  //   value length 0
}

TEST(MqttEncode, SubscribeMatchesHandBuiltBytes) {
  subscribe s;
  s.packet_id = 1;
  s.props.subscription_identifiers = {3};
  s.subscriptions = {{"a/+", 0x01}, {"b/#", 0x2e}};
  expect_codec(s, wire("\x82"      // SUBSCRIBE (flags 0b0010)
                       "\x11"      // remaining length 17
                       "\x00\x01"  // packet identifier 1
                       "\x02"      // property length 2
                       "\x0b\x03"  // subscription identifier 3
                       "\x00\x03"  // topic filter length 3
                       "a/+"       //   topic filter
                       "\x01"      //   options: maximum QoS 1
                       "\x00\x03"  // topic filter length 3
                       "b/#"       //   topic filter
                       "\x2e"));   //   options: retain handling 2, retain as published,
                                   //   no local, maximum QoS 2
}

TEST(MqttEncode, SubackMatchesHandBuiltBytes) {
  suback s;
  s.packet_id = 1;
  s.reasons = {0x01, 0x8f};
  expect_codec(s, wire("\x90"      // SUBACK
                       "\x05"      // remaining length 5
                       "\x00\x01"  // packet identifier 1
                       "\x00"      // property length 0
                       "\x01"      // granted QoS 1
                       "\x8f"));   // topic filter invalid
}

TEST(MqttEncode, UnsubscribeMatchesHandBuiltBytes) {
  unsubscribe u;
  u.packet_id = 2;
  u.topic_filters = {"a/+", "b"};
  expect_codec(u, wire("\xa2"      // UNSUBSCRIBE (flags 0b0010)
                       "\x0b"      // remaining length 11
                       "\x00\x02"  // packet identifier 2
                       "\x00"      // property length 0
                       "\x00\x03"  // topic filter length 3
                       "a/+"       //   topic filter
                       "\x00\x01"  // topic filter length 1
                       "b"));      //   topic filter
}

TEST(MqttEncode, UnsubackMatchesHandBuiltBytes) {
  unsuback u;
  u.packet_id = 2;
  u.props.reason_string = "ok";
  u.reasons = {0x00, 0x11};
  expect_codec(u, wire("\xb0"          // UNSUBACK
                       "\x0a"          // remaining length 10
                       "\x00\x02"      // packet identifier 2
                       "\x05"          // property length 5
                       "\x1f\x00\x02"  // reason string, length 2
                       "ok"            //   reason string
                       "\x00"          // success
                       "\x11"));       // no subscription existed
}

TEST(MqttEncode, PingreqMatchesHandBuiltBytes) {
  expect_codec(pingreq{}, wire("\xc0"     // PINGREQ
                               "\x00"));  // remaining length 0
}

TEST(MqttEncode, PingrespMatchesHandBuiltBytes) {
  expect_codec(pingresp{}, wire("\xd0"     // PINGRESP
                                "\x00"));  // remaining length 0
}

TEST(MqttEncode, DisconnectNormalIsShortestForm) {
  expect_codec(disconnect{}, wire("\xe0"     // DISCONNECT
                                  "\x00"));  // remaining length 0: normal disconnection
}

TEST(MqttEncode, DisconnectWithReasonOnlyOmitsProperties) {
  disconnect d;
  d.reason = 0x8e;
  expect_codec(d, wire("\xe0"     // DISCONNECT
                       "\x01"     // remaining length 1
                       "\x8e"));  // reason code 0x8E session taken over
}

TEST(MqttEncode, DisconnectWithPropertiesMatchesHandBuiltBytes) {
  disconnect d;
  d.reason = 0x8e;
  d.props.session_expiry_interval = 0;
  d.props.server_reference = "srv";
  d.props.reason_string = "kicked";
  d.props.user_properties = {{"rc-code", "31010"}};
  expect_codec(d, wire("\xe0"                  // DISCONNECT
                       "\x27"                  // remaining length 39
                       "\x8e"                  // reason code 0x8E session taken over
                       "\x25"                  // property length 37
                       "\x11\x00\x00\x00\x00"  // session expiry interval 0
                       "\x1c\x00\x03"          // server reference, length 3
                       "srv"                   //   server reference
                       "\x1f\x00\x06"          // reason string, length 6
                       "kicked"                //   reason string
                       "\x26"                  // user property
                       "\x00\x07"              //   name length 7
                       "rc-code"               //   name
                       "\x00\x05"              //   value length 5
                       "31010"));              //   value
}

TEST(MqttEncode, PropertiesGoOutInAscendingIdentifierOrderAndUserPropertiesInOrder) {
  connack c;
  // Set in an order unlike the wire order.
  c.props.shared_subscription_available = 1;
  c.props.user_properties = {{"z", "1"}, {"a", "2"}};
  c.props.reason_string = "r";
  c.props.session_expiry_interval = 9;
  expect_codec(c, wire("\x20"                  // CONNACK
                       "\x1c"                  // remaining length 28
                       "\x00"                  // acknowledge flags
                       "\x00"                  // reason code 0
                       "\x19"                  // property length 25
                       "\x11\x00\x00\x00\x09"  // 0x11 session expiry interval 9
                       "\x1f\x00\x01"          // 0x1F reason string, length 1
                       "r"                     //   reason string
                       "\x26\x00\x01"          // 0x26 user property, name length 1
                       "z"                     //   name
                       "\x00\x01"              //   value length 1
                       "1"                     //   value
                       "\x26\x00\x01"          // 0x26 user property, name length 1
                       "a"                     //   name
                       "\x00\x01"              //   value length 1
                       "2"                     //   value
                       "\x2a\x01"));           // 0x2A shared subscription available 1
}

TEST(MqttEncode, AppendsToTheOutputBuffer) {
  std::string out = "xy";
  ASSERT_TRUE(encode(pingreq{}, out));
  ASSERT_TRUE(encode(pingresp{}, out));
  EXPECT_EQ(out, wire("xy\xc0\x00\xd0\x00"));
}

TEST(MqttEncode, StringOverTheWireLimitFailsAndLeavesOutputUnchanged) {
  publish p;
  p.topic = std::string(65'536, 'a');
  std::string out = "keep";
  EXPECT_FALSE(encode(p, out));
  EXPECT_EQ(out, "keep");
  EXPECT_TRUE(encode(p).empty());

  connect c;
  c.username = std::string(65'536, 'u');
  EXPECT_FALSE(encode(c, out));
  c.username = std::string(65'535, 'u');  // the longest that fits
  EXPECT_TRUE(encode(c, out));
}

TEST(MqttEncode, SubscriptionIdentifierOverFourByteVbiFails) {
  publish p;
  p.topic = "t";
  p.props.subscription_identifiers = {268'435'456};
  std::string out;
  EXPECT_FALSE(encode(p, out));
  EXPECT_TRUE(out.empty());
  p.props.subscription_identifiers = {268'435'455};
  EXPECT_TRUE(encode(p, out));
}

TEST(MqttEncode, QosTheHeaderCannotCarryFails) {
  publish p;
  p.topic = "t";
  p.qos = 3;
  EXPECT_TRUE(encode(p).empty());
  connect c;
  c.last_will.emplace().qos = 3;
  EXPECT_TRUE(encode(c).empty());
}

// ---------------------------------------------------------------------------
// Round trips over generated packets.

class packet_generator {
 public:
  explicit packet_generator(std::uint32_t seed) : rng_(seed) {}

  packet any() {
    switch (pick(0, 10)) {
      case 0:
        return make_connect();
      case 1:
        return make_connack();
      case 2:
        return make_publish();
      case 3:
        return make_puback();
      case 4:
        return make_subscribe();
      case 5:
        return make_suback();
      case 6:
        return make_unsubscribe();
      case 7:
        return make_unsuback();
      case 8:
        return pingreq{};
      case 9:
        return pingresp{};
      default:
        return make_disconnect();
    }
  }

  std::uint32_t pick(std::uint32_t lo, std::uint32_t hi) {
    return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_);
  }
  bool chance(std::uint32_t one_in) { return pick(1, one_in) == 1; }

 private:
  // Well-formed UTF-8 with one- to four-byte characters.
  std::string text() {
    static constexpr std::array<std::string_view, 11> k_pieces = {
        "a", "b", "z", "/", "+", "#", " ", "-", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    std::string s;
    const auto n = chance(40) ? pick(100, 300) : pick(0, 12);
    for (std::uint32_t i = 0; i < n; ++i) s.append(k_pieces[pick(0, k_pieces.size() - 1)]);
    return s;
  }
  std::string binary(std::uint32_t max_len) {
    std::string s(pick(0, max_len), '\0');
    for (auto& c : s) c = static_cast<char>(pick(0, 255));
    return s;
  }
  std::uint8_t flag() { return static_cast<std::uint8_t>(pick(0, 1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(pick(0, 0xFFFF)); }
  std::uint16_t nonzero_u16() { return static_cast<std::uint16_t>(pick(1, 0xFFFF)); }
  std::uint32_t u32() { return pick(0, 0xFFFFFFFF); }
  std::uint8_t reason() {
    static constexpr std::array<std::uint8_t, 8> k_reasons = {0x00, 0x00, 0x00, 0x10,
                                                              0x80, 0x87, 0x8e, 0x97};
    return k_reasons[pick(0, k_reasons.size() - 1)];
  }
  std::uint16_t packet_id() { return nonzero_u16(); }
  template <typename T>
  std::optional<T> maybe(T v) {
    return chance(3) ? std::optional<T>(std::move(v)) : std::nullopt;
  }
  void user_properties(properties& p) {
    const auto n = chance(2) ? 0 : pick(1, 3);
    for (std::uint32_t i = 0; i < n; ++i) p.user_properties.emplace_back(text(), text());
  }
  void message_properties(properties& p) {
    p.payload_format_indicator = maybe(flag());
    p.message_expiry_interval = maybe(u32());
    p.content_type = maybe(text());
    p.response_topic = maybe(text());
    p.correlation_data = maybe(binary(20));
    user_properties(p);
  }
  std::uint32_t subscription_identifier() {
    return chance(4) ? pick(1, 268'435'455) : pick(1, 200);
  }

  connect make_connect() {
    connect c;
    c.client_id = text();
    c.clean_start = flag() != 0;
    c.keep_alive = u16();
    if (chance(2)) c.username = text();
    if (chance(2)) c.password = binary(40);
    auto& p = c.props;
    p.session_expiry_interval = maybe(u32());
    if (chance(3)) {
      p.authentication_method = text();
      p.authentication_data = maybe(binary(20));
    }
    p.request_problem_information = maybe(flag());
    p.request_response_information = maybe(flag());
    p.receive_maximum = maybe(nonzero_u16());
    p.topic_alias_maximum = maybe(u16());
    p.maximum_packet_size = maybe(pick(1, 0xFFFFFFFF));
    user_properties(p);
    if (chance(2)) {
      auto& w = c.last_will.emplace();
      w.topic = text();
      w.payload = binary(50);
      w.qos = static_cast<std::uint8_t>(pick(0, 2));
      w.retain = flag() != 0;
      w.will_delay_interval = maybe(u32());
      message_properties(w.props);
    }
    return c;
  }

  connack make_connack() {
    connack c;
    c.reason = reason();
    c.session_present = c.reason == 0 && flag() != 0;
    auto& p = c.props;
    p.session_expiry_interval = maybe(u32());
    p.assigned_client_identifier = maybe(text());
    p.server_keep_alive = maybe(u16());
    if (chance(4)) {
      p.authentication_method = text();
      p.authentication_data = maybe(binary(20));
    }
    p.response_information = maybe(text());
    p.server_reference = maybe(text());
    p.reason_string = maybe(text());
    p.receive_maximum = maybe(nonzero_u16());
    p.topic_alias_maximum = maybe(u16());
    p.maximum_qos = maybe(flag());
    p.retain_available = maybe(flag());
    p.maximum_packet_size = maybe(pick(1, 0xFFFFFFFF));
    p.wildcard_subscription_available = maybe(flag());
    p.subscription_identifier_available = maybe(flag());
    p.shared_subscription_available = maybe(flag());
    user_properties(p);
    return c;
  }

  publish make_publish() {
    publish p;
    p.qos = static_cast<std::uint8_t>(pick(0, 1));
    p.dup = p.qos == 1 && flag() != 0;
    p.retain = flag() != 0;
    p.topic = text();
    if (p.qos == 1) p.packet_id = packet_id();
    message_properties(p.props);
    const auto ids = chance(3) ? pick(1, 3) : 0;
    for (std::uint32_t i = 0; i < ids; ++i) {
      p.props.subscription_identifiers.push_back(subscription_identifier());
    }
    p.props.topic_alias = maybe(u16());
    if (p.topic.empty() && !p.props.topic_alias) p.topic = "t";
    // Now and then a payload that needs a three-byte remaining length.
    p.payload = chance(100) ? std::string(pick(16'384, 17'000), 'p') : binary(300);
    return p;
  }

  puback make_puback() {
    puback p;
    p.packet_id = packet_id();
    p.reason = reason();
    p.props.reason_string = maybe(text());
    user_properties(p.props);
    return p;
  }

  subscribe make_subscribe() {
    subscribe s;
    s.packet_id = packet_id();
    if (chance(3)) s.props.subscription_identifiers.push_back(subscription_identifier());
    user_properties(s.props);
    const auto n = pick(1, 4);
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto options = pick(0, 2) | (pick(0, 1) << 2) | (pick(0, 1) << 3) | (pick(0, 2) << 4);
      s.subscriptions.push_back({text(), static_cast<std::uint8_t>(options)});
    }
    return s;
  }

  std::vector<std::uint8_t> reasons() {
    std::vector<std::uint8_t> r(pick(1, 5));
    for (auto& b : r) b = static_cast<std::uint8_t>(pick(0, 255));
    return r;
  }

  suback make_suback() {
    suback s;
    s.packet_id = packet_id();
    s.props.reason_string = maybe(text());
    user_properties(s.props);
    s.reasons = reasons();
    return s;
  }

  unsubscribe make_unsubscribe() {
    unsubscribe u;
    u.packet_id = packet_id();
    user_properties(u.props);
    const auto n = pick(1, 4);
    for (std::uint32_t i = 0; i < n; ++i) u.topic_filters.push_back(text());
    return u;
  }

  unsuback make_unsuback() {
    unsuback u;
    u.packet_id = packet_id();
    u.props.reason_string = maybe(text());
    user_properties(u.props);
    u.reasons = reasons();
    return u;
  }

  disconnect make_disconnect() {
    disconnect d;
    d.reason = reason();
    if (chance(2)) {
      d.props.session_expiry_interval = maybe(u32());
      d.props.server_reference = maybe(text());
      d.props.reason_string = maybe(text());
      user_properties(d.props);
    }
    return d;
  }

  std::mt19937 rng_;
};

constexpr int k_round_trips = 3000;

TEST(MqttRoundTrip, GeneratedPacketsSurviveEncodeThenDecodeOne) {
  packet_generator gen(20240601);
  for (int i = 0; i < k_round_trips; ++i) {
    const packet p = gen.any();
    const std::string bytes = encode(p);
    ASSERT_FALSE(bytes.empty()) << "iteration " << i;
    std::error_code ec;
    std::string detail;
    const auto back = decode_one(bytes, ec, k_max_possible_packet_size, &detail);
    ASSERT_FALSE(ec) << "iteration " << i << ": " << detail;
    ASSERT_TRUE(back.has_value());
    ASSERT_TRUE(*back == p) << "iteration " << i << " " << type_name(type_of(p));
  }
}

TEST(MqttRoundTrip, GeneratedPacketsSurviveOneByteAtATimeFeeding) {
  packet_generator gen(7);
  for (int i = 0; i < k_round_trips; ++i) {
    const packet p = gen.any();
    std::error_code ec;
    const auto got = decode_bytewise(encode(p), ec);
    ASSERT_FALSE(ec) << "iteration " << i;
    ASSERT_EQ(got.size(), 1u) << "iteration " << i;
    ASSERT_TRUE(got[0] == p) << "iteration " << i;
  }
}

TEST(MqttRoundTrip, StreamsOfGeneratedPacketsSurviveRandomChunking) {
  packet_generator gen(99);
  for (int round = 0; round < k_round_trips / 10; ++round) {
    std::vector<packet> sent;
    std::string stream;
    for (std::uint32_t n = gen.pick(1, 10); n > 0; --n) {
      sent.push_back(gen.any());
      ASSERT_TRUE(encode(sent.back(), stream));
    }
    decoder dec;
    std::vector<packet> got;
    std::error_code ec;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      const std::size_t chunk = gen.chance(4) ? gen.pick(1, 3) : gen.pick(1, 600);
      dec.feed(std::string_view(stream).substr(pos, chunk));
      pos += chunk;
      while (auto p = dec.next(ec)) got.push_back(std::move(*p));
      ASSERT_FALSE(ec) << "round " << round << ": " << dec.error_detail();
      // Only a partial packet may stay buffered after draining.
      ASSERT_LE(dec.buffered(), stream.size());
    }
    EXPECT_EQ(dec.buffered(), 0u);
    ASSERT_EQ(got.size(), sent.size()) << "round " << round;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      EXPECT_TRUE(got[i] == sent[i]) << "round " << round << " packet " << i;
    }
  }
}

TEST(MqttRoundTrip, DecodedPacketsReencodeToTheSameBytes) {
  packet_generator gen(5);
  for (int i = 0; i < k_round_trips / 3; ++i) {
    const std::string bytes = encode(gen.any());
    std::error_code ec;
    const auto back = decode_one(bytes, ec);
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(encode(*back), bytes) << "iteration " << i;
  }
}

// ---------------------------------------------------------------------------
// Malformed input, one class per test.

constexpr std::uint8_t k_malformed = 0x81;
constexpr std::uint8_t k_protocol_error = 0x82;
constexpr std::uint8_t k_unsupported_version = 0x84;
constexpr std::uint8_t k_too_large = 0x95;

TEST(MqttDecoder, RemainingLengthOverFourBytesIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\xc0"                    // PINGREQ
                              "\xff\xff\xff\xff\x01"),  // remaining length: 5 bytes
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "remaining length exceeds 4 bytes");
}

TEST(MqttDecoder, RemainingLengthOverFourBytesFailsBeforeTheFifthLengthByte) {
  decoder dec;
  std::error_code ec;
  dec.feed(
      wire("\x30"                 // PUBLISH
           "\x80\x80\x80\x80"));  // four length bytes, all with continuation
  EXPECT_FALSE(dec.next(ec));
  EXPECT_EQ(ec.value(), k_malformed);
}

TEST(MqttDecoder, RemainingLengthNotInShortestFormIsMalformed) {
  EXPECT_EQ(decode_error(wire("\xc0"         // PINGREQ
                              "\x80\x00")),  // remaining length 0 in two bytes
            k_malformed);
}

TEST(MqttDecoder, FixedHeaderCutShortIsMalformedForDecodeOne) {
  EXPECT_EQ(decode_one_error(wire("\x30"     // PUBLISH
                                  "\x80")),  // remaining length continues, then nothing
            k_malformed);
  EXPECT_EQ(decode_one_error(""), k_malformed);
}

TEST(MqttDecoder, FieldRunningPastTheEndOfACompletePacketIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x30"      // PUBLISH, QoS 0
                              "\x05"      // remaining length 5
                              "\x00\x0a"  // topic name length 10 ...
                              "abc"),     // ... but only 3 bytes follow
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "PUBLISH: packet ends inside the topic name");
  EXPECT_EQ(decode_error(wire("\x40"     // PUBACK
                              "\x01"     // remaining length 1
                              "\x00")),  // half a packet identifier
            k_malformed);
  EXPECT_EQ(decode_error(wire("\x20"         // CONNACK
                              "\x02"         // remaining length 2
                              "\x00\x00")),  // flags, reason; no property length
            k_malformed);
}

TEST(MqttDecoder, PacketShorterThanItsRemainingLengthIsMalformedForDecodeOne) {
  EXPECT_EQ(decode_one_error(wire("\x40"     // PUBACK
                                  "\x02"     // remaining length 2
                                  "\x00")),  // only one byte
            k_malformed);
}

TEST(MqttDecoder, TrailingBytesInsideAPacketAreMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\xc0"    // PINGREQ
                              "\x01"    // remaining length 1
                              "\x00"),  // a byte PINGREQ does not have
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "PINGREQ: 1 trailing byte after the end of the packet");
  EXPECT_EQ(decode_error(wire("\x20"     // CONNACK
                              "\x04"     // remaining length 4
                              "\x00"     // acknowledge flags
                              "\x00"     // reason code
                              "\x00"     // property length 0
                              "\xaa")),  // trailing byte
            k_malformed);
  EXPECT_EQ(decode_error(wire("\xe0"     // DISCONNECT
                              "\x03"     // remaining length 3
                              "\x00"     // reason code
                              "\x00"     // property length 0
                              "\xaa")),  // trailing byte
            k_malformed);
}

TEST(MqttDecoder, BytesAfterTheWholePacketAreMalformedForDecodeOne) {
  EXPECT_EQ(decode_one_error(wire("\xc0\x00"     // PINGREQ
                                  "\xc0\x00")),  // a second PINGREQ
            k_malformed);
}

TEST(MqttDecoder, ReservedFixedHeaderFlagsAreMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x80"      // SUBSCRIBE with flags 0b0000 (must be 0b0010)
                              "\x07"      // remaining length 7
                              "\x00\x01"  // packet identifier 1
                              "\x00"      // property length 0
                              "\x00\x01"  // topic filter length 1
                              "a"         //   topic filter
                              "\x00"),    //   options
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "SUBSCRIBE: fixed header flags are 0x00, must be 0x02");
  EXPECT_EQ(decode_error(wire("\xa0"      // UNSUBSCRIBE with flags 0b0000
                              "\x06"      // remaining length 6
                              "\x00\x01"  // packet identifier 1
                              "\x00"      // property length 0
                              "\x00\x01"  // topic filter length 1
                              "a")),      //   topic filter
            k_malformed);
  EXPECT_EQ(decode_error(wire("\xc1\x00")), k_malformed);          // PINGREQ with flags 0b0001
  EXPECT_EQ(decode_error(wire("\xd8\x00")), k_malformed);          // PINGRESP with flags 0b1000
  EXPECT_EQ(decode_error(wire("\xe2\x00")), k_malformed);          // DISCONNECT with flags 0b0010
  EXPECT_EQ(decode_error(wire("\x42\x02\x00\x01")), k_malformed);  // PUBACK, flags 0b0010
}

TEST(MqttDecoder, ReservedFlagsFailAsSoonAsTheFirstByteArrives) {
  decoder dec;
  std::error_code ec;
  dec.feed(wire("\x83"));  // SUBSCRIBE with flags 0b0011
  EXPECT_FALSE(dec.next(ec));
  EXPECT_EQ(ec.value(), k_malformed);
}

TEST(MqttDecoder, PropertyNotAllowedInThePacketIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x30"                    // PUBLISH, QoS 0
                              "\x09"                    // remaining length 9
                              "\x00\x01"                // topic name length 1
                              "t"                       //   topic name
                              "\x05"                    // property length 5
                              "\x11\x00\x00\x00\x00"),  // session expiry interval
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "PUBLISH: property 0x11 (session expiry interval) is not allowed");
  EXPECT_EQ(decode_error(wire("\x40"         // PUBACK
                              "\x06"         // remaining length 6
                              "\x00\x01"     // packet identifier 1
                              "\x00"         // reason code 0
                              "\x02"         // property length 2
                              "\x24\x01")),  // maximum QoS: CONNACK only
            k_malformed);
  EXPECT_EQ(decode_error(wire("\x82"      // SUBSCRIBE
                              "\x09"      // remaining length 9
                              "\x00\x01"  // packet identifier 1
                              "\x02"      // property length 2
                              "\x01\x01"  // payload format indicator: PUBLISH only
                              "\x00\x01"  // topic filter length 1
                              "a"         //   topic filter
                              "\x00")),   //   options
            k_malformed);
}

TEST(MqttDecoder, WillPropertyOutsideTheWillSetIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x10"          // CONNECT
                              "\x16"          // remaining length 22
                              "\x00\x04"      // protocol name length 4
                              "MQTT"          //   protocol name
                              "\x05"          // protocol version 5
                              "\x06"          // connect flags: will, clean start
                              "\x00\x00"      // keep alive 0
                              "\x00"          // property length 0
                              "\x00\x00"      // client identifier length 0
                              "\x03"          // will property length 3
                              "\x21\x00\x01"  // receive maximum: not a will property
                              "\x00\x01"      // will topic length 1
                              "w"             //   will topic
                              "\x00\x00"),    // will payload length 0
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "CONNECT: will property 0x21 (receive maximum) is not allowed");
}

TEST(MqttDecoder, UnknownPropertyIdentifierIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\xe0"        // DISCONNECT
                              "\x04"        // remaining length 4
                              "\x00"        // reason code 0
                              "\x02"        // property length 2
                              "\x05\x00"),  // property 0x05 does not exist
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "DISCONNECT: unknown property 0x05");
}

TEST(MqttDecoder, PropertyLengthRunningPastThePacketIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x30"        // PUBLISH, QoS 0
                              "\x06"        // remaining length 6
                              "\x00\x01"    // topic name length 1
                              "t"           //   topic name
                              "\x0a"        // property length 10, but 2 bytes are left
                              "\x01\x01"),  // payload format indicator 1
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "PUBLISH: property length 10 runs past the end of the packet (2 bytes left)");
}

TEST(MqttDecoder, PropertyValueRunningPastThePropertyBlockIsMalformed) {
  EXPECT_EQ(decode_error(wire("\x30"          // PUBLISH, QoS 0
                              "\x09"          // remaining length 9
                              "\x00\x01"      // topic name length 1
                              "t"             //   topic name
                              "\x03"          // property length 3
                              "\x02\x00\x00"  // message expiry interval: 2 of 4 bytes
                              "pp")),         // payload: must not be read as the value
            k_malformed);
}

TEST(MqttDecoder, InvalidUtf8InAStringIsMalformed) {
  // A PUBLISH whose topic name is `topic` (at most 9 bytes).
  const auto publish_with_topic = [](std::string_view topic) {
    std::string p = wire("\x30");                      // PUBLISH, QoS 0
    p.push_back(static_cast<char>(topic.size() + 3));  // remaining length
    p += wire("\x00");                                 // topic name length, high byte
    p.push_back(static_cast<char>(topic.size()));      //   low byte
    p += topic;                                        //   topic name
    p += wire("\x00");                                 // property length 0
    return p;
  };
  std::string detail;
  EXPECT_EQ(decode_error(publish_with_topic("a\xc3"), &detail), k_malformed);  // cut short
  EXPECT_EQ(detail, "PUBLISH: the topic name is not valid UTF-8");
  EXPECT_EQ(decode_error(publish_with_topic("\xc3\x28")), k_malformed);      // bad continuation
  EXPECT_EQ(decode_error(publish_with_topic("\x80")), k_malformed);          // lone continuation
  EXPECT_EQ(decode_error(publish_with_topic("\xc0\xaf")), k_malformed);      // overlong '/'
  EXPECT_EQ(decode_error(publish_with_topic("\xe0\x80\xaf")), k_malformed);  // overlong
  EXPECT_EQ(decode_error(publish_with_topic("\xed\xa0\x80")), k_malformed);  // U+D800
  EXPECT_EQ(decode_error(publish_with_topic("\xed\xbf\xbf")), k_malformed);  // U+DFFF
  EXPECT_EQ(decode_error(publish_with_topic("\xf4\x90\x80\x80")), k_malformed);  // >U+10FFFF
  EXPECT_EQ(decode_error(publish_with_topic("\xf8\x88\x80\x80")), k_malformed);  // 5-byte
  EXPECT_EQ(decode_error(publish_with_topic(wire("a\x00"
                                                 "b"))),
            k_malformed);                                                          // U+0000
  EXPECT_EQ(decode_error(publish_with_topic(wire("12345678\x00"))), k_malformed);  // U+0000

  // The largest characters of each length are fine.
  std::error_code ec;
  EXPECT_TRUE(decode_one(publish_with_topic("\x7f\xdf\xbf"), ec));
  EXPECT_TRUE(decode_one(publish_with_topic("\xef\xbf\xbf\xf4\x8f\xbf\xbf"), ec));
  EXPECT_TRUE(decode_one(publish_with_topic("\xed\x9f\xbf"), ec));  // U+D7FF
}

TEST(MqttDecoder, InvalidUtf8InAUserPropertyIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\xe0"      // DISCONNECT
                              "\x09"      // remaining length 9
                              "\x00"      // reason code 0
                              "\x07"      // property length 7
                              "\x26"      // user property
                              "\x00\x01"  //   name length 1
                              "k"         //   name
                              "\x00\x01"  //   value length 1
                              "\xff"),    //   value: 0xFF is never UTF-8
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "DISCONNECT: the user property value is not valid UTF-8");
}

TEST(MqttDecoder, VariableByteIntegerPropertyOverFourBytesIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x30"                    // PUBLISH, QoS 0
                              "\x0a"                    // remaining length 10
                              "\x00\x01"                // topic name length 1
                              "t"                       //   topic name
                              "\x06"                    // property length 6
                              "\x0b"                    // subscription identifier
                              "\xff\xff\xff\xff\x01"),  //   5-byte variable byte integer
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "PUBLISH: the subscription identifier exceeds 4 bytes");
}

TEST(MqttDecoder, PropertyLengthOverFourBytesIsMalformed) {
  EXPECT_EQ(decode_error(wire("\xe0"                     // DISCONNECT
                              "\x06"                     // remaining length 6
                              "\x00"                     // reason code 0
                              "\x80\x80\x80\x80\x00")),  // property length: 5 bytes
            k_malformed);
}

// A CONNECT with the given protocol name, version and flags, no will and no credentials.
std::string connect_bytes(std::string_view name, char version, char flags) {
  std::string p = wire("\x10");                         // CONNECT
  p.push_back(static_cast<char>(2 + name.size() + 8));  // remaining length
  p += wire("\x00");                                    // protocol name length, high byte
  p.push_back(static_cast<char>(name.size()));          //   low byte
  p += name;                                            //   protocol name
  p.push_back(version);                                 // protocol version
  p.push_back(flags);                                   // connect flags
  p += wire(
      "\x00\x3c"  // keep alive 60 s
      "\x00"      // property length 0
      "\x00\x01"  // client identifier length 1
      "c");       //   client identifier
  return p;
}

TEST(MqttDecoder, ConnectWellFormedHelperDecodes) {
  std::error_code ec;
  EXPECT_TRUE(decode_one(connect_bytes("MQTT", 5, 0x02), ec));
}

TEST(MqttDecoder, ConnectReservedFlagIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(connect_bytes("MQTT", 5, 0x03), &detail), k_malformed);
  EXPECT_EQ(detail, "CONNECT: the reserved connect flag (bit 0) is set");
}

TEST(MqttDecoder, ConnectWillQosOrRetainWithoutWillFlagIsMalformed) {
  EXPECT_EQ(decode_error(connect_bytes("MQTT", 5, 0x0a)), k_malformed);  // will QoS 1, no will
  EXPECT_EQ(decode_error(connect_bytes("MQTT", 5, 0x22)), k_malformed);  // will retain, no will
}

TEST(MqttDecoder, ConnectWillQos3IsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x10"        // CONNECT
                              "\x12"        // remaining length 18
                              "\x00\x04"    // protocol name length 4
                              "MQTT"        //   protocol name
                              "\x05"        // protocol version 5
                              "\x1e"        // connect flags: will QoS 3, will, clean start
                              "\x00\x00"    // keep alive 0
                              "\x00"        // property length 0
                              "\x00\x00"    // client identifier length 0
                              "\x00"        // will property length 0
                              "\x00\x00"    // will topic length 0
                              "\x00\x00"),  // will payload length 0
                         &detail),
            k_malformed);
  EXPECT_EQ(detail, "CONNECT: will QoS 3 is not a QoS");
}

TEST(MqttDecoder, ConnectPasswordWithoutUserNameIsAllowedInMqtt5) {
  connect c;
  c.client_id = "c";
  c.password = "secret";
  expect_codec(c, wire("\x10"       // CONNECT
                       "\x16"       // remaining length 22
                       "\x00\x04"   // protocol name length 4
                       "MQTT"       //   protocol name
                       "\x05"       // protocol version 5
                       "\x42"       // connect flags: password, clean start
                       "\x00\x00"   // keep alive 0
                       "\x00"       // property length 0
                       "\x00\x01"   // client identifier length 1
                       "c"          //   client identifier
                       "\x00\x06"   // password length 6
                       "secret"));  //   password
}

TEST(MqttDecoder, ConnectProtocolNameOtherThanMqttIsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(connect_bytes("MQIsdp", 5, 0x02), &detail), k_malformed);
  EXPECT_EQ(detail, "CONNECT: protocol name is not \"MQTT\"");
  EXPECT_EQ(decode_error(connect_bytes("mqtt", 5, 0x02)), k_malformed);
}

TEST(MqttDecoder, ConnectProtocolVersionOtherThan5IsUnsupported) {
  std::string detail;
  EXPECT_EQ(decode_error(connect_bytes("MQTT", 4, 0x02), &detail), k_unsupported_version);
  EXPECT_EQ(detail, "CONNECT: protocol version 4 is not supported (only 5, MQTT 5.0)");
  EXPECT_EQ(make_error_code(reason_code::unsupported_protocol_version).value(),
            k_unsupported_version);
}

TEST(MqttDecoder, ConnectAuthenticationDataWithoutMethodIsAProtocolError) {
  EXPECT_EQ(decode_error(wire("\x10"          // CONNECT
                              "\x11"          // remaining length 17
                              "\x00\x04"      // protocol name length 4
                              "MQTT"          //   protocol name
                              "\x05"          // protocol version 5
                              "\x02"          // connect flags: clean start
                              "\x00\x00"      // keep alive 0
                              "\x04"          // property length 4
                              "\x16\x00\x01"  // authentication data, length 1
                              "x"             //   authentication data
                              "\x00\x00")),   // client identifier length 0
            k_protocol_error);
}

TEST(MqttDecoder, ConnackReservedAcknowledgeFlagsAreMalformed) {
  EXPECT_EQ(decode_error(wire("\x20"     // CONNACK
                              "\x03"     // remaining length 3
                              "\x02"     // acknowledge flags: reserved bit 1
                              "\x00"     // reason code 0
                              "\x00")),  // property length 0
            k_malformed);
}

TEST(MqttDecoder, PacketType0IsMalformed) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x00\x00"), &detail), k_malformed);
  EXPECT_EQ(detail, "packet type 0 is reserved");
}

TEST(MqttDecoder, Qos2PacketsAndAuthAreProtocolErrorsOutsideTheSubset) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x50\x02\x00\x01"), &detail), k_protocol_error);  // PUBREC
  EXPECT_EQ(detail, "PUBREC (packet type 5) is outside imock's subset: QoS 2 is not supported");
  EXPECT_EQ(decode_error(wire("\x62\x02\x00\x01")), k_protocol_error);   // PUBREL
  EXPECT_EQ(decode_error(wire("\x70\x02\x00\x01")), k_protocol_error);   // PUBCOMP
  EXPECT_EQ(decode_error(wire("\xf0\x00"), &detail), k_protocol_error);  // AUTH
  EXPECT_EQ(detail,
            "AUTH (packet type 15) is outside imock's subset: enhanced authentication is not "
            "supported");
}

TEST(MqttDecoder, DuplicateSingleValuedPropertyIsAProtocolError) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\xe0"                    // DISCONNECT
                              "\x0c"                    // remaining length 12
                              "\x00"                    // reason code 0
                              "\x0a"                    // property length 10
                              "\x11\x00\x00\x00\x01"    // session expiry interval 1
                              "\x11\x00\x00\x00\x02"),  // session expiry interval again
                         &detail),
            k_protocol_error);
  EXPECT_EQ(detail, "DISCONNECT: property 0x11 (session expiry interval) appears more than once");
  EXPECT_EQ(decode_error(wire("\x82"      // SUBSCRIBE
                              "\x0b"      // remaining length 11
                              "\x00\x01"  // packet identifier 1
                              "\x04"      // property length 4
                              "\x0b\x01"  // subscription identifier 1
                              "\x0b\x02"  // a second one: SUBSCRIBE carries at most one
                              "\x00\x01"  // topic filter length 1
                              "a"         //   topic filter
                              "\x00")),   //   options
            k_protocol_error);
}

TEST(MqttDecoder, RepeatableUserAndPublishSubscriptionIdentifierPropertiesAreAccepted) {
  std::error_code ec;
  const auto p = decode_one(wire("\x30"                  // PUBLISH, QoS 0
                                 "\x0e"                  // remaining length 14
                                 "\x00\x01"              // topic name length 1
                                 "t"                     //   topic name
                                 "\x09"                  // property length 9
                                 "\x0b\x01"              // subscription identifier 1
                                 "\x26\x00\x00\x00\x00"  // user property "" = ""
                                 "\x0b\x02"              // subscription identifier 2
                                 "\x26"),                // payload, not a property
                            ec);
  ASSERT_TRUE(p.has_value()) << ec.message();
  const auto& pub = std::get<publish>(*p);
  EXPECT_EQ(pub.props.subscription_identifiers, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(pub.props.user_properties.size(), 1u);
  EXPECT_EQ(pub.payload, "\x26");
}

TEST(MqttDecoder, PublishQos3IsMalformed) {
  EXPECT_EQ(decode_error(wire("\x36"      // PUBLISH, QoS 3
                              "\x06"      // remaining length 6
                              "\x00\x01"  // topic name length 1
                              "t"         //   topic name
                              "\x00\x01"  // packet identifier 1
                              "\x00")),   // property length 0
            k_malformed);
}

TEST(MqttDecoder, PublishQos2IsAProtocolErrorOutsideTheSubset) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x34"      // PUBLISH, QoS 2
                              "\x06"      // remaining length 6
                              "\x00\x01"  // topic name length 1
                              "t"         //   topic name
                              "\x00\x01"  // packet identifier 1
                              "\x00"),    // property length 0
                         &detail),
            k_protocol_error);
  EXPECT_EQ(detail, "PUBLISH: QoS 2 is outside imock's subset (QoS 0 and 1 only)");
}

TEST(MqttDecoder, PublishDupOnQos0IsAProtocolError) {
  EXPECT_EQ(decode_error(wire("\x38"      // PUBLISH, DUP, QoS 0
                              "\x04"      // remaining length 4
                              "\x00\x01"  // topic name length 1
                              "t"         //   topic name
                              "\x00")),   // property length 0
            k_protocol_error);
}

TEST(MqttDecoder, PublishEmptyTopicWithoutTopicAliasIsAProtocolError) {
  EXPECT_EQ(decode_error(wire("\x30"      // PUBLISH, QoS 0
                              "\x03"      // remaining length 3
                              "\x00\x00"  // topic name length 0
                              "\x00")),   // property length 0
            k_protocol_error);
  publish p;
  p.props.topic_alias = 1;
  expect_codec(p, wire("\x30"             // PUBLISH, QoS 0
                       "\x06"             // remaining length 6
                       "\x00\x00"         // topic name length 0
                       "\x03"             // property length 3
                       "\x23\x00\x01"));  // topic alias 1
}

TEST(MqttDecoder, PacketIdentifierZeroIsAProtocolError) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x32"      // PUBLISH, QoS 1
                              "\x06"      // remaining length 6
                              "\x00\x01"  // topic name length 1
                              "t"         //   topic name
                              "\x00\x00"  // packet identifier 0
                              "\x00"),    // property length 0
                         &detail),
            k_protocol_error);
  EXPECT_EQ(detail, "PUBLISH: packet identifier must not be 0");
  EXPECT_EQ(decode_error(wire("\x40\x02"     // PUBACK, remaining length 2
                              "\x00\x00")),  // packet identifier 0
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\x82\x07"  // SUBSCRIBE, remaining length 7
                              "\x00\x00"  // packet identifier 0
                              "\x00"      // property length 0
                              "\x00\x01"
                              "a"        // topic filter
                              "\x00")),  //   options
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\x90\x04"  // SUBACK, remaining length 4
                              "\x00\x00"  // packet identifier 0
                              "\x00"      // property length 0
                              "\x00")),   // granted QoS 0
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\xa2\x06"  // UNSUBSCRIBE, remaining length 6
                              "\x00\x00"  // packet identifier 0
                              "\x00"      // property length 0
                              "\x00\x01"
                              "a")),  // topic filter
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\xb0\x04"  // UNSUBACK, remaining length 4
                              "\x00\x00"  // packet identifier 0
                              "\x00"      // property length 0
                              "\x00")),   // success
            k_protocol_error);
}

TEST(MqttDecoder, SubscribeWithoutTopicFilterIsAProtocolError) {
  std::string detail;
  EXPECT_EQ(decode_error(wire("\x82"      // SUBSCRIBE
                              "\x03"      // remaining length 3
                              "\x00\x01"  // packet identifier 1
                              "\x00"),    // property length 0, then no topic filter
                         &detail),
            k_protocol_error);
  EXPECT_EQ(detail, "SUBSCRIBE: no topic filter");
}

TEST(MqttDecoder, UnsubscribeWithoutTopicFilterIsAProtocolError) {
  EXPECT_EQ(decode_error(wire("\xa2"      // UNSUBSCRIBE
                              "\x03"      // remaining length 3
                              "\x00\x01"  // packet identifier 1
                              "\x00")),   // property length 0, then no topic filter
            k_protocol_error);
}

TEST(MqttDecoder, SubackWithoutReasonCodesIsAProtocolError) {
  EXPECT_EQ(decode_error(wire("\x90"      // SUBACK
                              "\x03"      // remaining length 3
                              "\x00\x01"  // packet identifier 1
                              "\x00")),   // property length 0, then no reason code
            k_protocol_error);
}

// A SUBSCRIBE of topic filter "a" with the given options byte.
std::string subscribe_with_options(char options) {
  std::string p = wire(
      "\x82"             // SUBSCRIBE
      "\x07"             // remaining length 7
      "\x00\x01"         // packet identifier 1
      "\x00"             // property length 0
      "\x00\x01"         // topic filter length 1
      "a");              //   topic filter
  p.push_back(options);  //   options
  return p;
}

TEST(MqttDecoder, SubscriptionOptionsReservedBitsAreMalformed) {
  EXPECT_EQ(decode_error(subscribe_with_options('\x40')), k_malformed);
  EXPECT_EQ(decode_error(subscribe_with_options('\x81')), k_malformed);
}

TEST(MqttDecoder, SubscriptionOptionsQos3OrRetainHandling3AreProtocolErrors) {
  EXPECT_EQ(decode_error(subscribe_with_options('\x03')), k_protocol_error);  // maximum QoS 3
  EXPECT_EQ(decode_error(subscribe_with_options('\x30')), k_protocol_error);  // retain handling 3
}

TEST(MqttDecoder, PropertyValuesTheSpecForbidsAreProtocolErrors) {
  EXPECT_EQ(decode_error(wire("\x20\x05"     // CONNACK, remaining length 5
                              "\x00\x00"     // acknowledge flags, reason code
                              "\x02"         // property length 2
                              "\x24\x02")),  // maximum QoS 2: must be 0 or 1
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\x20\x06"         // CONNACK, remaining length 6
                              "\x00\x00"         // acknowledge flags, reason code
                              "\x03"             // property length 3
                              "\x21\x00\x00")),  // receive maximum 0
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\x20\x08"                 // CONNACK, remaining length 8
                              "\x00\x00"                 // acknowledge flags, reason code
                              "\x05"                     // property length 5
                              "\x27\x00\x00\x00\x00")),  // maximum packet size 0
            k_protocol_error);
  EXPECT_EQ(decode_error(wire("\x30\x06"     // PUBLISH QoS 0, remaining length 6
                              "\x00\x01"     // topic name length 1
                              "t"            //   topic name
                              "\x02"         // property length 2
                              "\x0b\x00")),  // subscription identifier 0
            k_protocol_error);
}

// ---------------------------------------------------------------------------
// The incremental decoder.

TEST(MqttDecoder, HeaderAnnouncingAPacketOverTheLimitFailsBeforeTheBodyArrives) {
  decoder dec(100);
  std::error_code ec;
  dec.feed(wire("\x30"));  // PUBLISH
  EXPECT_FALSE(dec.next(ec));
  EXPECT_FALSE(ec);
  dec.feed(wire("\xe8"));  // remaining length 1000, first byte (continues)
  EXPECT_FALSE(dec.next(ec));
  EXPECT_FALSE(ec);
  dec.feed(wire("\x07"));  // remaining length 1000, second byte: header complete
  EXPECT_FALSE(dec.next(ec));
  EXPECT_EQ(ec, make_error_code(reason_code::packet_too_large));
  EXPECT_EQ(ec.value(), k_too_large);
  EXPECT_EQ(dec.error_detail(),
            "PUBLISH: packet of 1003 bytes exceeds the maximum packet size of 100 bytes");
}

TEST(MqttDecoder, PacketOfExactlyTheLimitIsAccepted) {
  publish p;
  p.topic = "t";
  p.payload = std::string(10, 'x');
  const std::string bytes = encode(p);
  decoder dec(bytes.size());
  std::error_code ec;
  dec.feed(bytes);
  EXPECT_TRUE(dec.next(ec));
  EXPECT_FALSE(ec);
  EXPECT_FALSE(decode_one(bytes, ec, bytes.size() - 1));
  EXPECT_EQ(ec.value(), k_too_large);
}

TEST(MqttDecoder, StaysFailedAfterTheFirstError) {
  decoder dec;
  std::error_code ec;
  dec.feed(
      wire("\xc0\x00"     // PINGREQ
           "\x50\x00"));  // PUBREC: outside the subset
  EXPECT_TRUE(dec.next(ec));
  EXPECT_FALSE(dec.next(ec));
  ASSERT_EQ(ec.value(), k_protocol_error);
  const std::string detail = dec.error_detail();
  dec.feed(wire("\xc0\x00"));  // a valid PINGREQ changes nothing
  for (int i = 0; i < 3; ++i) {
    std::error_code again;
    EXPECT_FALSE(dec.next(again));
    EXPECT_EQ(again, ec);
    EXPECT_EQ(dec.error(), ec);
    EXPECT_EQ(dec.error_detail(), detail);
  }
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(MqttDecoder, NextWithoutBytesYieldsNothingAndNoError) {
  decoder dec;
  std::error_code ec = make_error_code(reason_code::protocol_error);
  EXPECT_FALSE(dec.next(ec));
  EXPECT_FALSE(ec);
  EXPECT_FALSE(dec.error());
  EXPECT_EQ(dec.max_packet_size(), k_max_possible_packet_size);
}

TEST(MqttDecoder, BufferedShrinksAsPacketsAreConsumed) {
  decoder dec;
  std::error_code ec;
  dec.feed(
      wire("\xc0\x00"          // PINGREQ
           "\x40\x02\x00\x07"  // PUBACK 7
           "\xe0"));           // the first byte of a DISCONNECT
  EXPECT_EQ(dec.buffered(), 7u);
  ASSERT_TRUE(dec.next(ec));
  EXPECT_EQ(dec.buffered(), 5u);
  const auto ack = dec.next(ec);
  ASSERT_TRUE(ack);
  EXPECT_EQ(std::get<puback>(*ack).packet_id, 7);
  EXPECT_EQ(dec.buffered(), 1u);
  EXPECT_FALSE(dec.next(ec));
  EXPECT_FALSE(ec);
  EXPECT_EQ(dec.buffered(), 1u);
  dec.feed(wire("\x00"));  // the rest of the DISCONNECT
  const auto bye = dec.next(ec);
  ASSERT_TRUE(bye);
  EXPECT_TRUE(std::holds_alternative<disconnect>(*bye));
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(MqttDecoder, LongStreamInOddChunksNeverBuffersMoreThanAPacketAndAChunk) {
  publish p;
  p.qos = 1;
  p.packet_id = 1;
  p.topic = "a/b";
  p.payload = std::string(50, 'x');
  const std::string one = encode(p);
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += one;
  decoder dec;
  std::error_code ec;
  std::size_t packets = 0;
  constexpr std::size_t k_chunk = 7;  // never aligned with the packet size
  for (std::size_t pos = 0; pos < stream.size(); pos += k_chunk) {
    dec.feed(std::string_view(stream).substr(pos, k_chunk));
    EXPECT_LE(dec.buffered(), one.size() + k_chunk);
    while (dec.next(ec)) ++packets;
    ASSERT_FALSE(ec);
  }
  EXPECT_EQ(packets, 1000u);
  EXPECT_EQ(dec.buffered(), 0u);
}

// ---------------------------------------------------------------------------
// Names, categories and helpers.

TEST(MqttReason, NamesAndCategory) {
  EXPECT_EQ(reason_name(0x81), "malformed_packet");
  EXPECT_EQ(reason_name(0x95), "packet_too_large");
  EXPECT_EQ(reason_name(0x00), "success");
  EXPECT_EQ(reason_name(0x03), "unknown");
  EXPECT_STREQ(reason_category().name(), "mqtt.reason");
  const std::error_code ec = reason_code::protocol_error;  // is_error_code_enum
  EXPECT_EQ(&ec.category(), &reason_category());
  EXPECT_EQ(ec.value(), 0x82);
  EXPECT_EQ(ec.message(), "protocol_error");
  EXPECT_EQ(reason_category().message(1000), "unknown");
  EXPECT_FALSE(make_error_code(reason_code::success));
}

TEST(MqttReason, EveryEnumeratorHasAName) {
  for (const auto rc : {reason_code::success,
                        reason_code::granted_qos_1,
                        reason_code::no_matching_subscribers,
                        reason_code::no_subscription_existed,
                        reason_code::unspecified_error,
                        reason_code::malformed_packet,
                        reason_code::protocol_error,
                        reason_code::implementation_specific_error,
                        reason_code::unsupported_protocol_version,
                        reason_code::client_identifier_not_valid,
                        reason_code::bad_user_name_or_password,
                        reason_code::not_authorized,
                        reason_code::server_unavailable,
                        reason_code::server_busy,
                        reason_code::banned,
                        reason_code::server_shutting_down,
                        reason_code::keep_alive_timeout,
                        reason_code::session_taken_over,
                        reason_code::topic_filter_invalid,
                        reason_code::topic_name_invalid,
                        reason_code::packet_too_large,
                        reason_code::quota_exceeded,
                        reason_code::use_another_server,
                        reason_code::server_moved,
                        reason_code::connection_rate_exceeded}) {
    EXPECT_NE(reason_name(static_cast<std::uint8_t>(rc)), "unknown") << static_cast<int>(rc);
  }
}

TEST(MqttPacket, TypeOfAndTypeName) {
  EXPECT_EQ(type_of(connect{}), packet_type::connect);
  EXPECT_EQ(type_of(publish{}), packet_type::publish);
  EXPECT_EQ(type_of(unsuback{}), packet_type::unsuback);
  EXPECT_EQ(type_of(disconnect{}), packet_type::disconnect);
  EXPECT_EQ(type_name(packet_type::pingreq), "PINGREQ");
  EXPECT_EQ(type_name(packet_type::subscribe), "SUBSCRIBE");
  EXPECT_EQ(type_name(static_cast<packet_type>(5)), "UNKNOWN");
}

TEST(MqttPacket, FindUserPropertyReturnsTheFirstMatch) {
  properties p;
  p.user_properties = {{"rc-code", "31004"}, {"x", "1"}, {"rc-code", "0"}};
  ASSERT_NE(p.find_user_property("rc-code"), nullptr);
  EXPECT_EQ(*p.find_user_property("rc-code"), "31004");
  EXPECT_EQ(p.find_user_property("user-id"), nullptr);
}

// ---------------------------------------------------------------------------
// The fuzz target's seed corpus: the files must match what this test builds.
// Regenerate with IMOCK_UPDATE_FUZZ_CORPUS=1 after changing the encoder or the seeds.

// The fuzz input starts with a control byte (see mqtt_decoder_fuzz.cpp): 0x00 = no size
// limit, feed the whole stream at once.
const std::string k_whole = wire("\x00");

std::vector<std::pair<std::string, std::string>> corpus_seeds() {
  std::vector<std::pair<std::string, std::string>> seeds;
  const auto add = [&](std::string name, const packet& p) {
    seeds.emplace_back(std::move(name), k_whole + encode(p));
  };
  connect c;
  c.client_id = "device-1";
  c.keep_alive = 30;
  c.username = "app-key";
  c.password = "token";
  c.props.session_expiry_interval = 0;
  c.props.receive_maximum = 64;
  c.props.user_properties = {{"imock-platform", "ios"}};
  auto& w = c.last_will.emplace();
  w.topic = "will/t";
  w.payload = "gone";
  w.qos = 1;
  w.will_delay_interval = 5;
  w.props.content_type = "text/plain";
  add("connect", c);
  connack ca;
  ca.props.maximum_packet_size = 65'536;
  ca.props.server_keep_alive = 60;
  ca.props.user_properties = {{"user-id", "u1"}};
  add("connack", ca);
  publish p0;
  p0.topic = "a/b";
  p0.payload = "hello";
  add("publish_qos0", p0);
  publish p1;
  p1.qos = 1;
  p1.packet_id = 42;
  p1.topic = "im/app/u1/msg";
  p1.props.payload_format_indicator = 1;
  p1.props.message_expiry_interval = 3600;
  p1.props.response_topic = "reply";
  p1.props.correlation_data = "\x01\x02";
  p1.props.subscription_identifiers = {1, 300};
  p1.props.topic_alias = 3;
  p1.payload = "{\"text\":\"hi\"}";
  add("publish_qos1", p1);
  puback pa;
  pa.packet_id = 42;
  pa.reason = 0x10;
  pa.props.reason_string = "nobody";
  add("puback", pa);
  subscribe s;
  s.packet_id = 1;
  s.props.subscription_identifiers = {1};
  s.subscriptions = {{"a/+", 0x01}, {"b/#", 0x24}};
  add("subscribe", s);
  suback sa;
  sa.packet_id = 1;
  sa.reasons = {0x01, 0x8f};
  add("suback", sa);
  unsubscribe u;
  u.packet_id = 2;
  u.topic_filters = {"a/+"};
  add("unsubscribe", u);
  unsuback ua;
  ua.packet_id = 2;
  ua.reasons = {0x11};
  add("unsuback", ua);
  add("pingreq", pingreq{});
  add("pingresp", pingresp{});
  disconnect d;
  d.reason = 0x8e;
  d.props.reason_string = "kicked";
  d.props.user_properties = {{"rc-code", "31010"}};
  add("disconnect", d);
  // Several packets in chunks of 1, 3 and 7 bytes (control: 3 chunk sizes, no limit).
  std::string stream = wire("\x03\x00\x02\x06");
  encode(c, stream);
  encode(p1, stream);
  encode(pingreq{}, stream);
  encode(d, stream);
  seeds.emplace_back("stream_chunked", stream);

  // Malformed ones.
  seeds.emplace_back("bad_remaining_length", k_whole + wire("\xc0\xff\xff\xff\xff\x01"));
  seeds.emplace_back("bad_flags", k_whole + wire("\x80\x06\x00\x01\x00\x00\x01"
                                                 "a"));
  seeds.emplace_back("bad_utf8", k_whole + wire("\x30\x05\x00\x02\xed\xa0\x00"));
  seeds.emplace_back("property_not_allowed",
                     k_whole + wire("\x30\x09\x00\x01t\x05\x11\x00\x00\x00\x00"));
  seeds.emplace_back("duplicate_property",
                     k_whole + wire("\xe0\x0c\x00\x0a\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02"));
  // Control 0x08: a size limit byte follows (0x01: 10 bytes); the PUBLISH is 13 bytes.
  seeds.emplace_back("too_large", wire("\x08\x01\x30\x0b\x00\x01t\x00"
                                       "payload"));
  return seeds;
}

TEST(MqttFuzzCorpus, SeedFilesMatchTheEncoder) {
  const std::filesystem::path dir =
      std::filesystem::path(IMOCK_SOURCE_DIR) / "fuzz" / "corpus" / "mqtt_decoder";
  const char* update = std::getenv("IMOCK_UPDATE_FUZZ_CORPUS");
  const bool write = update != nullptr && std::string_view(update) == "1";
  if (write) std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : corpus_seeds()) {
    const auto path = dir / name;
    if (write) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " is missing; run with IMOCK_UPDATE_FUZZ_CORPUS=1";
    const std::string got{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(hex_dump(got), hex_dump(bytes)) << path;
  }
}

TEST(MqttFuzzCorpus, ValidSeedsDecodeAndMalformedSeedsFail) {
  for (const auto& [name, bytes] : corpus_seeds()) {
    if (name == "stream_chunked" || name == "too_large") continue;
    std::error_code ec;
    const auto p = decode_one(std::string_view(bytes).substr(1), ec);
    const bool bad =
        name.starts_with("bad_") || name == "property_not_allowed" || name == "duplicate_property";
    EXPECT_EQ(p.has_value(), !bad) << name << ": " << ec.message();
  }
}

}  // namespace
}  // namespace imock::mqtt
