// libFuzzer target for imock-server's HTTP port as a WebSocket client meets it: the
// HTTP parser, the upgrade at /mqtt (Boost.Beast), WebSocket framing, and the MQTT 5
// decoder and hub behind it. There is no sans-IO seam for this, so the target drives
// the real server: one in-process imock::server::local_server, started on first use,
// serving on its own thread (coverage comes from both threads). Every input is one
// blocking TCP connection to the HTTP port; reads are bounded (64 KB, a deadline) so no
// input takes more than about a second. Expect hundreds to thousands of runs per second.
//
// Input layout: byte 0 = control; mode = control % 3.
//   0 raw:     the rest is written as it is (HTTP requests, a hand-made upgrade, junk).
//   1 upgrade: the target writes a valid upgrade request (GET /mqtt, Sec-WebSocket-Key,
//              Version 13, Protocol mqtt), waits for the answer, then writes the rest as
//              WebSocket frames (below). The fuzzer cannot know a token, so no CONNECT
//              of its own may be accepted.
//   2 connect: as upgrade, and the first frame is a valid MQTT 5 CONNECT the target
//              builds (user fuzz-u<bits 2-3 of control>, a token signed with the app
//              secret), so the fuzzed packets reach a connected session.
// Frames, until the input ends (at most k_max_frames): one spec byte, then the payload
// length (a byte; 255: a u16 follows), then that many payload bytes.
//   spec bits 0-3 opcode, bit 4 raw (the payload is written as it is, no frame header),
//   bit 5 unmasked (a client must mask: a protocol error), bit 6 RSV1, bit 7 FIN.
//   So 0x82 is a whole binary message, 0x89 a ping, 0x88 a close, 0x02 + 0x80 a
//   fragmented binary message.
//
// Checks, for any input:
//   - a valid upgrade request gets "HTTP/1.1 101" with Sec-WebSocket-Protocol: mqtt and
//     the RFC 6455 accept value of our key;
//   - anything the server answers on the HTTP port starts as an HTTP/1.1 status line;
//   - after a 101 the server's frames follow RFC 6455: unmasked, no RSV bits, minimal
//     lengths, binary only (no text), continuation only inside a message, control
//     frames whole and short, a pong only echoes one of our pings, nothing after close;
//   - the binary messages are whole MQTT packets that decode; before a successful
//     CONNACK the server sends only CONNACK or DISCONNECT; the target's valid CONNECT
//     gets CONNACK 0 as the first packet; a CONNECT from the input never gets CONNACK 0;
//   - every 16th input, a fresh connection's GET /metrics still answers 200.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/config.hpp"
#include "imock/server/local_server.hpp"

namespace {

using imock::fuzz::check;
namespace mqtt = imock::mqtt;
namespace server = imock::server;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view k_app = "fuzz-app";
constexpr std::string_view k_secret = "fuzz-app-secret";
// The admin API can shut the server down or stop it accepting: keep it out of the
// fuzzer's reach with a token that is in no dictionary.
constexpr std::string_view k_admin_token = "admin-7c1f0e9a2b5d4c83";
// RFC 6455 §1.3's example key and the accept value it must give.
constexpr std::string_view k_ws_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view k_ws_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
constexpr std::size_t k_max_frames = 64;
constexpr std::size_t k_max_read = 64 * 1024;
constexpr auto k_exchange_time = std::chrono::milliseconds(1000);
// The handshake and the health check are answered at once by a live server; the longer
// bound keeps a loaded machine from looking like a hung server.
constexpr auto k_answer_time = std::chrono::milliseconds(5000);
constexpr std::size_t k_health_every = 16;

server::server_config fuzz_config() {
  auto c = server::default_config();
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  c.listen.admin_token = std::string(k_admin_token);
  return server::on_ephemeral_ports(std::move(c), /*tls=*/false);
}

std::string token_of(const std::string& user) {
  // A fixed issue time and no expiry: the same token every run, valid forever.
  const auto t = imock::token::issue({.app_key = std::string(k_app),
                                      .user_id = user,
                                      .issued_at_ms = 1'700'000'000'000,
                                      .expires_at_ms = 0,
                                      .nonce = 42},
                                     k_secret);
  check(t.has_value());
  return *t;
}

sockaddr_in http_address() {
  // OpenSSL registers its atexit cleanup on first use. Using it before the server exists
  // makes that cleanup run after the server's destructor has joined its thread (atexit
  // is last in, first out), so the thread's OpenSSL state is freed, not leaked.
  static const std::string warm_up = token_of("fuzz-u0");
  static server::local_server srv(server::server_options{.config = fuzz_config()});
  const std::string& hp = srv.bound().http;  // "127.0.0.1:PORT"
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(hp.substr(hp.rfind(':') + 1))));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// One blocking client connection; every wait ends by `deadline`.
class connection {
 public:
  explicit connection(clock_type::time_point deadline) : deadline_(deadline) {
    static const sockaddr_in addr = http_address();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  [[nodiscard]] bool ok() const noexcept { return fd_ >= 0; }

  // False when the server has closed (it may, at any point of a bad input).
  bool write(std::string_view bytes) {
    while (!bytes.empty()) {
      if (!wait_for(POLLOUT)) return false;
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void set_deadline(clock_type::time_point deadline) { deadline_ = deadline; }

  // Appends to `out` until the server closes, `out` holds `max` bytes, `stop` holds
  // (checked on what was read so far), or the deadline; says which.
  enum class ended : std::uint8_t { stopped, closed, reset, deadline };
  template <typename Stop>
  ended read(std::string& out, std::size_t max, Stop stop) {
    char buf[4096];
    while (out.size() < max && !stop(out)) {
      if (!wait_for(POLLIN)) return ended::deadline;
      const auto n = ::recv(fd_, buf, std::min(sizeof buf, max - out.size()), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) return ended::reset;
      if (n == 0) return ended::closed;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return ended::stopped;
  }

 private:
  // libFuzzer's -timeout is a SIGALRM each second: a poll it interrupts (EINTR) is
  // polled again, not taken for the deadline (a false "no answer" finding, seen once in
  // ~60,000 inputs before this loop).
  bool wait_for(short events) {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - clock_type::now());
      if (left.count() <= 0) return false;
      pollfd p{.fd = fd_, .events = events, .revents = 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return true;
      if (n == 0 || errno != EINTR) return false;
    }
  }

  int fd_ = -1;
  clock_type::time_point deadline_;
};

std::string upgrade_request() {
  return "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         std::string(k_ws_key) +
         "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
}

// A client frame (RFC 6455 §5.2) with the shortest length encoding. The mask is fixed:
// the server unmasks it, so the payload the decoder sees is the fuzzer's.
std::string client_frame(std::uint8_t first_byte, std::string_view payload, bool masked) {
  std::string f(1, static_cast<char>(first_byte));
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  const auto n = payload.size();
  if (n < 126) {
    f += static_cast<char>(mask_bit | n);
  } else {  // n <= 65535: inputs are at most a few KB
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  }
  constexpr char k_mask[4] = {0x3c, 0x5a, 0x0f, 0x61};
  if (masked) f.append(k_mask, 4);
  for (std::size_t i = 0; i < n; ++i) {
    f += masked ? static_cast<char>(payload[i] ^ k_mask[i % 4]) : payload[i];
  }
  return f;
}

struct frames_sent {
  std::string bytes;
  std::vector<std::string> pings;  // payloads of the well-formed pings
  bool all_built = true;           // no raw bytes: every frame is one the target made
};

frames_sent fuzzed_frames(imock::fuzz::input& in) {
  frames_sent out;
  for (std::size_t i = 0; i < k_max_frames && !in.empty(); ++i) {
    const std::uint8_t spec = in.byte();
    std::size_t n = in.byte();
    if (n == 255) n = in.u16();
    const auto payload = in.take(n);
    if ((spec & 0x10) != 0) {
      out.bytes += payload;
      out.all_built = false;
      continue;
    }
    const bool masked = (spec & 0x20) == 0;
    const std::uint8_t first = (spec & 0x80) | (spec & 0x40) | (spec & 0x0F);
    if (first == 0x89 && masked && payload.size() <= 125) out.pings.emplace_back(payload);
    out.bytes += client_frame(first, payload, masked);
  }
  return out;
}

std::string valid_connect(std::uint8_t control) {
  static const std::string tokens[4] = {token_of("fuzz-u0"), token_of("fuzz-u1"),
                                        token_of("fuzz-u2"), token_of("fuzz-u3")};
  const auto& token = tokens[(control >> 2) & 3];
  mqtt::connect c;
  c.client_id = "fuzz-device-" + std::to_string((control >> 4) & 1);
  c.keep_alive = 30;
  c.username = std::string(k_app);
  c.password = token;
  // Takes messages: the offline sync runs, so stored messages come back as PUBLISH.
  c.props.user_properties = {{"imock-platform", "ios"}, {"imock-messages", "1"}};
  return mqtt::encode(c);
}

// What the server says after the 101: frames by RFC 6455 §5 (as a server sends them)
// whose binary messages are whole MQTT packets.
void check_server_frames(std::string_view bytes, const frames_sent& sent,
                         std::vector<mqtt::packet>& packets) {
  mqtt::decoder dec;
  bool in_message = false;
  bool closed = false;
  std::size_t pos = 0;
  while (bytes.size() - pos >= 2) {
    const auto b0 = static_cast<std::uint8_t>(bytes[pos]);
    const auto b1 = static_cast<std::uint8_t>(bytes[pos + 1]);
    check((b0 & 0x70) == 0);  // no extension was negotiated
    check((b1 & 0x80) == 0);  // a server never masks
    std::size_t header = 2;
    std::uint64_t len = b1 & 0x7F;
    if (len >= 126) {
      header += len == 126 ? 2 : 8;
      if (bytes.size() - pos < header) break;
      std::uint64_t wide = 0;
      for (std::size_t i = 2; i < header; ++i) {
        wide = wide << 8 | static_cast<std::uint8_t>(bytes[pos + i]);
      }
      check(len == 126 ? wide >= 126 : wide > 0xFFFF && (wide >> 63) == 0);  // minimal lengths
      len = wide;
    }
    if (bytes.size() - pos - header < len) break;  // cut off by the read bound or a reset
    const auto payload = bytes.substr(pos + header, static_cast<std::size_t>(len));
    pos += header + static_cast<std::size_t>(len);
    check(!closed);  // nothing after a close frame
    const bool fin = (b0 & 0x80) != 0;
    const auto opcode = b0 & 0x0F;
    if (opcode == 0x0 || opcode == 0x2) {
      check((opcode == 0x0) == in_message);  // continuation exactly inside a message
      in_message = !fin;
      dec.feed(payload);
      std::error_code ec;
      while (auto p = dec.next(ec)) packets.push_back(std::move(*p));
      check(!ec);
      if (fin) check(dec.buffered() == 0);  // the server sends whole packets per message
    } else if (opcode == 0x8 || opcode == 0xA) {
      check(fin && len <= 125);
      if (opcode == 0x8) {
        check(len != 1);  // a close body is empty or starts with a 2-byte code
        closed = true;
      } else if (sent.all_built) {
        check(std::find(sent.pings.begin(), sent.pings.end(), payload) != sent.pings.end());
      }
    } else {
      check(false);  // no text, no pings (keep_alive_pings is off), nothing reserved
    }
  }
}

// MQTT order: until a CONNACK 0 only CONNACK or DISCONNECT; the target's CONNECT is
// accepted first; nothing the fuzzer wrote can be (it cannot sign a token).
void check_packets(const std::vector<mqtt::packet>& packets, bool valid_connect_sent) {
  bool connected = false;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto* ack = std::get_if<mqtt::connack>(&packets[i]);
    if (valid_connect_sent && i == 0) check(ack != nullptr && ack->reason == 0);
    if (!connected) {
      check(ack != nullptr || std::holds_alternative<mqtt::disconnect>(packets[i]));
    }
    if (ack != nullptr && ack->reason == 0) {
      check(valid_connect_sent && i == 0);
      connected = true;
    }
  }
}

bool is_status_line(std::string_view answer) {
  return answer.size() >= 13 && answer.starts_with("HTTP/1.1 ") &&
         std::all_of(answer.begin() + 9, answer.begin() + 12,
                     [](char c) { return c >= '0' && c <= '9'; }) &&
         answer[12] == ' ';
}

std::size_t head_end(std::string_view s) {
  const auto e = s.find("\r\n\r\n");
  return e == std::string_view::npos ? e : e + 4;
}

void check_upgraded(std::string_view head) {
  check(head.starts_with("HTTP/1.1 101 "));
  check(head.find("\r\nSec-WebSocket-Accept: " + std::string(k_ws_accept) + "\r\n") !=
        std::string_view::npos);
  check(head.find("\r\nSec-WebSocket-Protocol: mqtt\r\n") != std::string_view::npos);
}

void run_raw(imock::fuzz::input& in) {
  connection c(clock_type::now() + k_exchange_time);
  check(c.ok());
  c.write(in.rest());
  c.shutdown_write();
  std::string answer;
  c.read(answer, k_max_read, [](const std::string&) { return false; });
  if (answer.empty()) return;
  check(is_status_line(answer));
  // A hand-made upgrade that the server took: what follows is WebSocket.
  if (answer.starts_with("HTTP/1.1 101 ")) {
    const auto end = head_end(answer);
    if (end == std::string::npos) return;
    std::vector<mqtt::packet> packets;
    check_server_frames(std::string_view(answer).substr(end), {.all_built = false}, packets);
    check_packets(packets, false);
  }
}

void run_upgraded(imock::fuzz::input& in, std::uint8_t control, bool with_connect) {
  connection c(clock_type::now() + k_answer_time);
  check(c.ok());
  check(c.write(upgrade_request()));
  // A client must wait for the 101 before it sends frames (RFC 6455 §4.1).
  std::string answer;
  const auto asked = clock_type::now();
  const auto how = c.read(answer, k_max_read,
                          [](const std::string& s) { return head_end(s) != std::string::npos; });
  const auto end = head_end(answer);
  if (end == std::string::npos) {
    // Say why before the trap: a server that closed, reset or never answered.
    static constexpr const char* k_how[] = {"stopped", "closed", "reset", "deadline"};
    std::fprintf(stderr, "websocket_fuzz: no answer to the upgrade: %s after %lld ms, %zu bytes\n",
                 k_how[static_cast<int>(how)],
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            clock_type::now() - asked)
                                            .count()),
                 answer.size());
  }
  check(end != std::string::npos);
  check_upgraded(std::string_view(answer).substr(0, end));

  auto frames = fuzzed_frames(in);
  if (with_connect) frames.bytes.insert(0, client_frame(0x82, valid_connect(control), true));
  c.set_deadline(clock_type::now() + k_exchange_time);
  c.write(frames.bytes);
  c.shutdown_write();
  c.read(answer, k_max_read, [](const std::string&) { return false; });
  std::vector<mqtt::packet> packets;
  check_server_frames(std::string_view(answer).substr(end), frames, packets);
  check_packets(packets, with_connect);
}

void check_server_alive() {
  connection c(clock_type::now() + k_answer_time);
  check(c.ok());
  check(c.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  c.shutdown_write();
  std::string answer;
  c.read(answer, k_max_read, [](const std::string& s) { return s.size() >= 13; });
  check(answer.starts_with("HTTP/1.1 200 "));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::size_t runs = 0;
  imock::fuzz::input in(data, size);
  const std::uint8_t control = in.byte();
  switch (control % 3) {
    case 0:
      run_raw(in);
      break;
    case 1:
      run_upgraded(in, control, false);
      break;
    default:
      run_upgraded(in, control, true);
      break;
  }
  if (runs++ % k_health_every == 0) check_server_alive();
  return 0;
}
