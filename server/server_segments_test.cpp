// What imock-server puts on the wire, counted in TCP segments (the kernel's
// tcp_info on the client's socket), and when it lets go of a connection it closes.
// A storm of kicks or refusals is N last packets each followed by a close; sent with
// the FIN in one segment, that is N segments for the server to send and the clients
// to take in, not 2N. A drop-all storm is N silent closes of quiet connections: with
// nothing of the server's unacknowledged, each is closed at once, not held until the
// client's FIN comes back.
//
// Raw POSIX sockets on purpose: tcp_info comes from <linux/tcp.h>, which does not mix
// with the <netinet/tcp.h> that Asio includes.
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>
#include <string>

#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/local_server.hpp"

namespace imock::server {
namespace {

constexpr std::string_view k_app = "segments-app";
constexpr std::string_view k_secret = "segments-secret";
// tcpi_state values (the kernel's tcp_states.h; <netinet/tcp.h> has them, but does not
// mix with <linux/tcp.h>).
constexpr int k_close_wait = 8;

// A blocking TCP connection to "HOST:PORT", every wait bounded by `deadline`.
class raw_connection {
 public:
  explicit raw_connection(const std::string& host_port) {
    const auto colon = host_port.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
    ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~raw_connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  [[nodiscard]] bool ok() const { return fd_ >= 0; }
  [[nodiscard]] int fd() const { return fd_; }

  bool send(const mqtt::packet& p) {
    const auto bytes = mqtt::encode(p);
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }

  // The next packet, or nullopt on EOF (eof() then says so), error or time-out.
  std::optional<mqtt::packet> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::error_code ec;
    while (true) {
      if (auto p = decoder_.next(ec)) return p;
      if (ec || !read_more(until)) return std::nullopt;
    }
  }

  // Reads until the server closes its side; false if it has not within `timeout`.
  bool wait_eof(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!eof_ && read_more(until)) {
    }
    return eof_;
  }

  [[nodiscard]] bool eof() const { return eof_; }

  // The socket's TCP state: CLOSE_WAIT (8) after the server's FIN, CLOSE (7) after a
  // reset.
  [[nodiscard]] int tcp_state() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return info.tcpi_state;
  }

  // Our side's FIN (the server has sent its own, or will).
  void close_our_side() { ::shutdown(fd_, SHUT_WR); }

  // Segments this socket has received so far (the SYN-ACK included).
  [[nodiscard]] std::uint32_t segments_in() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_segs_in;
  }

 private:
  bool read_more(std::chrono::steady_clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) != 1) return false;
    char buf[4096];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    return true;
  }

  int fd_ = -1;
  bool eof_ = false;
  mqtt::decoder decoder_{1 << 20};
};

mqtt::connect connect_with(std::string token, std::string device) {
  mqtt::connect c;
  c.client_id = std::move(device);
  c.keep_alive = 30;
  c.username = std::string(k_app);
  c.password = std::move(token);
  c.props.user_properties = {{"imock-platform", "ios"}};
  return c;
}

const mqtt::connack* connack_of(const std::optional<mqtt::packet>& p) {
  return p ? std::get_if<mqtt::connack>(&*p) : nullptr;
}

class ServerSegments : public ::testing::Test {
 protected:
  void SetUp() override {
    server_config c;
    c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
    srv_ = std::make_unique<local_server>(server_options{.config = on_ephemeral_ports(c, false)});
  }
  std::string token_for(std::string_view user) {
    return *token::issue(k_app, user, k_secret, srv_->get().now_ms());
  }
  // An admin call, answered on the server's loop after everything posted before it.
  api_response admin(std::string method, std::string path, std::string body = {}) {
    return srv_->get().request({.method = std::move(method),
                                .path = std::move(path),
                                .content_type = "application/json",
                                .headers = {},
                                .body = std::move(body)});
  }
  // The sessions the hub holds, closing ones included (/admin/status).
  std::int64_t sessions() {
    const auto r = admin("GET", "/admin/status");
    const auto at = r.body.find("\"sessions\":");
    return at == std::string::npos ? -1 : std::stoll(r.body.substr(at + 11));
  }
  // Waits, bounded, until the hub holds `n` sessions.
  bool sessions_reach(std::int64_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sessions() != n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::yield();
    }
    return true;
  }
  std::unique_ptr<local_server> srv_;
};

// The same exchange twice, accepted and refused: the refusal's CONNACK brings the
// FIN with it, so its connection ends with as many segments as the accepted one has
// when its CONNACK is in. A server that wrote the CONNACK and then shut down apart
// (one segment each) fails with one segment more.
TEST_F(ServerSegments, ARefusalsConnackCarriesTheFin) {
  raw_connection accepted(srv_->bound().mqtt);
  ASSERT_TRUE(accepted.ok());
  ASSERT_TRUE(accepted.send(connect_with(token_for("alice"), "phone-a")));
  const auto yes_packet = accepted.receive();
  const auto* yes = connack_of(yes_packet);
  ASSERT_NE(yes, nullptr);
  ASSERT_EQ(static_cast<int>(yes->reason), 0);
  const auto segments_accepted = accepted.segments_in();

  raw_connection refused(srv_->bound().mqtt);
  ASSERT_TRUE(refused.ok());
  ASSERT_TRUE(refused.send(connect_with("not-a-token", "phone-b")));
  const auto no_packet = refused.receive();
  const auto* no = connack_of(no_packet);
  ASSERT_NE(no, nullptr);
  EXPECT_NE(static_cast<int>(no->reason), 0);
  ASSERT_TRUE(refused.wait_eof());
  EXPECT_EQ(refused.segments_in(), segments_accepted)
      << "the refusal's FIN came in a segment of its own";
}

// A kick by the admin API: the DISCONNECT and the FIN in one segment.
TEST_F(ServerSegments, AKicksDisconnectCarriesTheFin) {
  raw_connection a(srv_->bound().mqtt);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.send(connect_with(token_for("bob"), "phone-a")));
  ASSERT_NE(connack_of(a.receive()), nullptr);
  const auto before = a.segments_in();
  // A second device of the same user logs in: the first is kicked (31010).
  raw_connection b(srv_->bound().mqtt);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b.send(connect_with(token_for("bob"), "phone-b")));
  ASSERT_NE(connack_of(b.receive()), nullptr);
  const auto p = a.receive();
  ASSERT_TRUE(p && std::holds_alternative<mqtt::disconnect>(*p));
  ASSERT_TRUE(a.wait_eof());
  EXPECT_EQ(a.segments_in(), before + 1) << "the DISCONNECT and the FIN came apart";
}

// A silent drop of a quiet connection: all the server sent is acknowledged, so no
// reset can cost the client data, and the server closes at once. Its session is gone
// when the drop is answered, while the client has not closed its side; the client
// sees a FIN, not a reset. A server that waited for the client's FIN (or its 1 s
// linger) still holds the session; one that closed with a reset leaves the client's
// socket in TCP_CLOSE.
TEST_F(ServerSegments, ASilentDropOfAQuietConnectionClosesAtOnce) {
  raw_connection a(srv_->bound().mqtt);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.send(connect_with(token_for("carol"), "phone-a")));
  ASSERT_NE(connack_of(a.receive()), nullptr);
  ASSERT_EQ(sessions(), 1);
  const auto r = admin("POST", "/admin/drop", R"({"user":"carol"})");
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(sessions(), 0) << "the drop waited for the client to close";
  ASSERT_TRUE(a.wait_eof());
  EXPECT_EQ(a.tcp_state(), k_close_wait) << "the client was reset, not sent a FIN";
}

// A kick's DISCONNECT is the server's last packet, unacknowledged when the close
// starts: the server lingers until the client's FIN, so the client reads the
// DISCONNECT whatever it sends meanwhile. A server that closed every connection at
// once no longer holds the session after the kick.
TEST_F(ServerSegments, AKickLingersUntilTheClientCloses) {
  raw_connection a(srv_->bound().mqtt);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.send(connect_with(token_for("dave"), "phone-a")));
  ASSERT_NE(connack_of(a.receive()), nullptr);
  const auto r = admin("POST", "/admin/kick", R"({"user":"dave"})");
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(sessions(), 1) << "the server did not wait for the client after its last packet";
  const auto p = a.receive();
  ASSERT_TRUE(p && std::holds_alternative<mqtt::disconnect>(*p));
  ASSERT_TRUE(a.wait_eof());
  a.close_our_side();
  EXPECT_TRUE(sessions_reach(0)) << "the client's FIN did not end the session";
}

// The server's end of `client`: this process's socket whose peer is the client's
// local address (the server runs in-process), or -1.
int server_end_of(const raw_connection& client) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  if (::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&mine), &len) != 0) return -1;
  for (int fd = 3; fd < 4096; ++fd) {
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    if (fd == client.fd() || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
      continue;
    }
    if (peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr) return fd;
  }
  return -1;
}

// The server writes each packet at once (TCP_NODELAY), so a PINGRESP or a delivery
// never waits for the ACK of the one before (Nagle). Set on the listener, which
// accepted sockets inherit; a server that set it nowhere fails.
TEST_F(ServerSegments, AcceptedConnectionsSendWithoutNagle) {
  raw_connection a(srv_->bound().mqtt);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.send(connect_with(token_for("erin"), "phone-a")));
  ASSERT_NE(connack_of(a.receive()), nullptr);  // accepted and registered by now
  const int fd = server_end_of(a);
  ASSERT_GE(fd, 0) << "the server's socket was not found in this process";
  int on = 0;
  socklen_t len = sizeof on;
  ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_EQ(on, 1);
}

}  // namespace
}  // namespace imock::server
