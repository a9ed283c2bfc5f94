// imock-server when something runs out (docs/server-config.md, "When something runs
// out"): the descriptor table in the middle of a storm, the event log at capacity, a
// slow reader's outbound queue, a thousand TLS handshakes left half done, ten thousand
// WebSocket upgrades that never send a frame. Each ends in a bounded, counted drop or a
// clear error, and the server keeps serving everyone else; its counters add up
// (accepted = closed + open). (The 10 MB scenario file: harness/loader_test.cpp.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "imock/base/process.hpp"
#include "imock/net/fd_limit.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"
#include "imock/server/local_server.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace imock::server {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using testing::connect_packet;
using testing::metric_sum;
using testing::verdict_of;
using testing::wire_client;

constexpr std::string_view k_app = "exhaust-app";
constexpr std::string_view k_secret = "exhaust-secret";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string connect_bytes(std::string_view user, std::uint16_t keep_alive = 60) {
  return mqtt::encode(connect_packet(k_app, *token::issue(k_app, user, k_secret, wall_ms()), user,
                                     false, false, "ios", keep_alive));
}

std::string metrics_of(const std::string& http) {
  const auto m = testing::http_request(http, "GET", "/metrics");
  EXPECT_EQ(m.status, 200) << m.what();
  return m.body;
}

// accepted = closed + open, in one scrape (the hub counts on one thread).
void expect_counters_add_up(const std::string& http) {
  const auto body = metrics_of(http);
  EXPECT_EQ(metric_sum(body, "imock_accepted_total"),
            metric_sum(body, "imock_closed_total") + metric_sum(body, "imock_connections"))
      << body;
}

// Many raw TCP connections, driven together with poll(2): connect, send, read what comes
// back, see who was closed. Every wait has a deadline.
class raw_connections {
 public:
  ~raw_connections() { close_all(); }

  /// Opens `n` connections to `host_port` in batches (the listen queue holds a batch);
  /// false when one cannot be opened.
  bool open(const std::string& host_port, std::size_t n, std::string* error) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    const auto colon = host_port.rfind(':');
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
    inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr);
    for (std::size_t i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) {
        *error = "socket(): " + std::string(std::strerror(errno)) + " after " + std::to_string(i);
        return false;
      }
      fds_.push_back(fd);
      replies_.emplace_back();
      closed_.push_back(false);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        *error = "connect(): " + std::string(std::strerror(errno)) + " after " + std::to_string(i);
        return false;
      }
    }
    return true;
  }

  /// Sends `bytes(i)` on connection i (a few hundred bytes: the socket buffer takes them
  /// once connected; waits for the connection first).
  template <typename Bytes>
  bool send_each(Bytes bytes, std::chrono::milliseconds timeout) {
    const auto until = steady::now() + timeout;
    for (std::size_t i = 0; i < fds_.size(); ++i) {
      const auto b = bytes(i);
      std::size_t sent = 0;
      while (sent < b.size()) {
        const auto n = ::send(fds_[i], b.data() + sent, b.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && errno != EAGAIN && errno != ENOTCONN) return false;
        pollfd p{.fd = fds_[i], .events = POLLOUT, .revents = 0};
        if (steady::now() > until || ::poll(&p, 1, 100) < 0) return false;
      }
    }
    return true;
  }

  /// Reads until every connection has `enough(reply)` or was closed, or `timeout`; the
  /// number that has `enough`.
  template <typename Enough>
  std::size_t read_until(Enough enough, std::chrono::milliseconds timeout) {
    const auto until = steady::now() + timeout;
    while (true) {
      std::vector<pollfd> waiting;
      std::vector<std::size_t> index;
      std::size_t done = 0;
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        if (enough(replies_[i])) {
          ++done;
        } else if (!closed_[i]) {
          waiting.push_back({.fd = fds_[i], .events = POLLIN, .revents = 0});
          index.push_back(i);
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
      if (waiting.empty() || left.count() <= 0) return done;
      if (::poll(waiting.data(), waiting.size(),
                 static_cast<int>(std::min<long>(left.count(), 200))) <= 0) {
        continue;
      }
      for (std::size_t k = 0; k < waiting.size(); ++k) {
        if (waiting[k].revents == 0) continue;
        char buf[4096];
        const auto n = ::recv(waiting[k].fd, buf, sizeof buf, 0);
        if (n > 0) {
          replies_[index[k]].append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          closed_[index[k]] = true;
        }
      }
    }
  }

  /// Waits until the server has closed every connection (reading what it sends), or
  /// `timeout`; the number closed.
  std::size_t wait_all_closed(std::chrono::milliseconds timeout) {
    read_until([](const std::string&) { return false; }, timeout);
    return static_cast<std::size_t>(std::count(closed_.begin(), closed_.end(), true));
  }

  /// Closes connection i (its descriptor goes back to this process).
  void close(std::size_t i) {
    if (fds_[i] >= 0) ::close(fds_[i]);
    fds_[i] = -1;
    closed_[i] = true;
  }
  void close_all() {
    for (std::size_t i = 0; i < fds_.size(); ++i) close(i);
  }

  [[nodiscard]] std::size_t size() const { return fds_.size(); }
  [[nodiscard]] const std::string& reply(std::size_t i) const { return replies_[i]; }
  [[nodiscard]] bool closed(std::size_t i) const { return closed_[i]; }

 private:
  std::vector<int> fds_;
  std::vector<std::string> replies_;
  std::vector<bool> closed_;
};

// A CONNACK with reason 0 at the start of `reply`.
bool accepted_connack(const std::string& reply) {
  if (reply.size() < 4 || static_cast<unsigned char>(reply[0]) != 0x20) return false;
  mqtt::decoder d;
  d.feed(reply);
  std::error_code ec;
  auto p = d.next(ec);
  return p && verdict_of(p).reason == 0;
}

server_config test_config(bool tls) {
  server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  return on_ephemeral_ports(std::move(c), tls);
}

// --- the real process -------------------------------------------------------------------

std::filesystem::path server_binary() {
  return std::filesystem::canonical("/proc/self/exe").parent_path() / "imock-server";
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// "123456 kB": VmRSS of a process, for the log.
std::string rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
  }
  return "?";
}

// imock-server as a process of its own, with `limits_yaml` under `limits:` and at most
// `open_files` descriptors.
class server_process {
 public:
  server_process(std::string_view name, const std::string& limits_yaml, std::uint64_t open_files) {
    dir_ = std::filesystem::temp_directory_path() /
           ("imock-exhaust-" + std::to_string(getpid()) + "-" + std::string(name));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "server.yaml")
        << "apps:\n  - key: " << k_app << "\n    secret: " << k_secret << "\nlimits:\n"
        << limits_yaml << "listen:\n  mqtt: 127.0.0.1:0\n  http: 127.0.0.1:0\n";
    proc_ =
        child_process::spawn({server_binary().string(), "--config", (dir_ / "server.yaml").string(),
                              "--ready-file", (dir_ / "ready.json").string()},
                             {.err = spawn_options::stream::file,
                              .err_file = dir_ / "err",
                              .open_files_limit = open_files});
    if (!proc_ || !proc_->wait_output("listening", 10s)) return;
    const auto ready = boost::json::parse(slurp(dir_ / "ready.json")).as_object();
    bound.mqtt = std::string(ready.at("mqtt").as_string());
    bound.http = std::string(ready.at("http").as_string());
  }
  ~server_process() {
    if (proc_) {
      EXPECT_EQ(proc_->stop(10s), 0) << slurp(dir_ / "err");
    }
    std::filesystem::remove_all(dir_);
  }
  [[nodiscard]] bool up() const { return !bound.mqtt.empty(); }
  [[nodiscard]] std::string errors() const { return slurp(dir_ / "err"); }
  [[nodiscard]] pid_t pid() const { return proc_->pid(); }

  bound_addresses bound;

 private:
  std::filesystem::path dir_;
  std::unique_ptr<child_process> proc_;
};

// --- the tests --------------------------------------------------------------------------

TEST(Exhaustion, DescriptorsRunOutInTheMiddleOfAStormAndEveryClientGetsInAfterwards) {
  // 160 descriptors: about 145 for clients. 120 log in, all are dropped, and 180 come back
  // at once (the 120 and 60 more): the table fills mid-storm.
  server_process s("fds", "", 160);
  ASSERT_TRUE(s.up()) << s.errors();
  {
    raw_connections first;
    std::string error;
    ASSERT_TRUE(first.open(s.bound.mqtt, 120, &error)) << error;
    ASSERT_TRUE(
        first.send_each([](std::size_t i) { return connect_bytes("u" + std::to_string(i)); }, 10s));
    ASSERT_EQ(first.read_until(accepted_connack, 10s), 120u);
    ASSERT_EQ(testing::http_request(s.bound.http, "POST", "/admin/drop", "{}").status, 200);
    EXPECT_EQ(first.wait_all_closed(10s), 120u);
  }
  raw_connections storm;
  std::string error;
  ASSERT_TRUE(storm.open(s.bound.mqtt, 180, &error)) << error;
  ASSERT_TRUE(
      storm.send_each([](std::size_t i) { return connect_bytes("u" + std::to_string(i)); }, 10s));
  // Those the server could take are answered; the rest wait in the listen queue.
  const auto served = storm.read_until(accepted_connack, 3s);
  EXPECT_GT(served, 100u);
  EXPECT_LT(served, 160u) << "the descriptor table never filled";
  // Clients leave (the newcomers first) until there is room for every one still
  // waiting and a few more; those waiting then get in, and none was turned away.
  std::size_t waiting = storm.size() - served;
  std::size_t left = 0;
  for (std::size_t k = 0; k < storm.size() && left < waiting + 10; ++k) {
    const std::size_t i = storm.size() - 1 - k;
    if (accepted_connack(storm.reply(i))) {
      storm.close(i);
      ++left;
    }
  }
  storm.read_until(accepted_connack, 10s);
  std::size_t still_open = 0;
  for (std::size_t i = 0; i < storm.size(); ++i) {
    if (storm.closed(i) && storm.reply(i).empty()) {
      ADD_FAILURE() << "client " << i << " was closed by the server without an answer";
    } else if (!storm.closed(i)) {
      ++still_open;
      EXPECT_TRUE(accepted_connack(storm.reply(i))) << "client " << i << " is still waiting";
    }
  }
  EXPECT_EQ(still_open, storm.size() - left);
  const auto m = metrics_of(s.bound.http);
  EXPECT_GT(metric_sum(m, "imock_accept_backoffs_total"), 0u) << m;
  expect_counters_add_up(s.bound.http);
}

TEST(Exhaustion, EventLogAtCapacityDropsTheOldestAndCountsThem) {
  auto c = test_config(false);
  c.limits.event_log_capacity = 100;
  local_server srv(server_options{.config = c});
  const auto bound = srv.bound();
  for (int i = 0; i < 60; ++i) {  // accept, connect, closed: 3 events each
    auto client = wire_client::open(transport::tcp, bound);
    ASSERT_TRUE(client);
    client->send_bytes(connect_bytes("cycle" + std::to_string(i)));
    ASSERT_EQ(verdict_of(client->receive()).reason, 0);
    client->send(mqtt::disconnect{});
    ASSERT_TRUE(client->wait_closed());
  }
  // The log keeps the newest 100, in order with no gap; the rest are counted as dropped.
  const auto r = testing::http_request(bound.http, "GET", "/admin/events?since=0&limit=1000");
  ASSERT_EQ(r.status, 200) << r.what();
  const auto v = boost::json::parse(r.body).as_object();
  const auto last = v.at("last_seq").to_number<std::uint64_t>();
  const auto& events = v.at("events").as_array();
  ASSERT_EQ(events.size(), 100u);
  EXPECT_GE(last, 180u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].at("seq").to_number<std::uint64_t>(), last - 99 + i);
  }
  const auto m = metrics_of(bound.http);
  EXPECT_EQ(metric_sum(m, "imock_events_kept"), 100u) << m;
  EXPECT_EQ(metric_sum(m, "imock_events_dropped_total"), last - 100) << m;
  EXPECT_EQ(metric_sum(m, "imock_events_total"), last) << m;
  // Their memory: a 40-byte record each and its text, which the served events show.
  std::size_t text = 0;
  for (const auto& e : events) {
    for (const auto* field : {"app", "user", "device", "detail"}) {
      if (const auto* f = e.as_object().if_contains(field)) text += f->as_string().size();
    }
  }
  EXPECT_EQ(metric_sum(m, "imock_events_kept_bytes"), 100u * 40u + text) << m;
  // Still logging and serving.
  auto again = wire_client::open(transport::tcp, bound);
  ASSERT_TRUE(again);
  again->send_bytes(connect_bytes("after"));
  EXPECT_EQ(verdict_of(again->receive()).reason, 0);
  const auto next = testing::http_request(
      bound.http, "GET", "/admin/events?since=" + std::to_string(last) + "&limit=10");
  EXPECT_NE(next.body.find("\"after\""), std::string::npos) << next.body;
  expect_counters_add_up(bound.http);
}

// A drop-all storm leaves its freed sessions all through the heap; once the churn
// settles the server hands the free pages back (malloc_trim), so RSS after storms
// follows the connections held, not the storm's high-water mark.
TEST(Exhaustion, FreedMemoryGoesBackToTheSystemOnceABurstOfClosesSettles) {
  ASSERT_GE(net::raise_open_files_limit(), 4096u);
  local_server srv(server_options{.config = test_config(false)});
  const auto bound = srv.bound();
  const auto scrape = [&](std::string_view family) {
    return metric_sum(metrics_of(bound.http), family);
  };
  // Each scrape is a round trip to the server: the waits are scrapes until a deadline.
  const auto wait_for = [&](std::string_view family, std::uint64_t at_least) {
    const auto until = steady::now() + 10s;
    std::uint64_t v = 0;
    while ((v = scrape(family)) < at_least && steady::now() < until) {
    }
    return v;
  };
  raw_connections burst;
  std::string error;
  ASSERT_TRUE(burst.open(bound.mqtt, 1100, &error)) << error;
  ASSERT_EQ(wait_for("imock_accepted_total", 1100), 1100u);
  EXPECT_EQ(scrape("imock_memory_trims_total"), 0u) << "accepts alone free nothing";
  burst.close_all();
  ASSERT_EQ(wait_for("imock_closed_total", 1100), 1100u);
  // The sweep (every 250 ms) trims once a period passes with no open or close.
  const auto trims = wait_for("imock_memory_trims_total", 1);
  EXPECT_EQ(trims, 1u) << "one trim for one burst";
  expect_counters_add_up(bound.http);
}

TEST(Exhaustion, SlowReaderIsDisconnectedAndCountedInsteadOfGrowingServerMemory) {
  auto c = test_config(false);
  c.limits.outbound_queue_bytes = std::size_t{64} * 1024;
  local_server srv(server_options{.config = c});
  const auto bound = srv.bound();
  auto reader = wire_client::open(transport::tcp, bound);  // subscribes, then never reads
  ASSERT_TRUE(reader);
  reader->send_bytes(connect_bytes("slow-reader"));
  ASSERT_EQ(verdict_of(reader->receive()).reason, 0);
  reader->send(mqtt::subscribe{.packet_id = 1, .subscriptions = {{.topic_filter = "flood"}}});
  ASSERT_TRUE(reader->receive().has_value());  // SUBACK
  auto writer = wire_client::open(transport::tcp, bound);
  ASSERT_TRUE(writer);
  writer->send_bytes(connect_bytes("flooder"));
  ASSERT_EQ(verdict_of(writer->receive()).reason, 0);
  // Up to 66 MB for a reader that does not read: far beyond socket buffers plus the queue.
  const std::string payload(60'000, 'x');
  std::uint64_t dropped = 0;
  for (int i = 0; i < 1100 && dropped == 0; ++i) {
    writer->send(mqtt::publish{.topic = "flood", .payload = payload});
    if (i % 50 == 49) dropped = metric_sum(metrics_of(bound.http), "imock_slow_reader_drops_total");
  }
  EXPECT_EQ(dropped, 1u) << "the slow reader was never dropped";
  const auto events = testing::http_request(bound.http, "GET", "/admin/events?since=0&limit=1000");
  EXPECT_NE(events.body.find("\"kind\":\"slow_reader\""), std::string::npos) << events.body;
  auto other = wire_client::open(transport::tcp, bound);
  ASSERT_TRUE(other);
  other->send_bytes(connect_bytes("still-serving"));
  EXPECT_EQ(verdict_of(other->receive()).reason, 0);
  expect_counters_add_up(bound.http);
}

TEST(Exhaustion, OversizeHttpRequestsGetA400AndTheServerKeepsServing) {
  local_server srv(server_options{.config = test_config(false)});
  const auto bound = srv.bound();
  raw_connections big;
  std::string error;
  ASSERT_TRUE(big.open(bound.http, 2, &error)) << error;
  ASSERT_TRUE(big.send_each(
      [](std::size_t i) {
        return i == 0 ? "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40'000, 'a') +
                            "\r\n\r\n"
                      : std::string(
                            "POST /admin/kick HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            "application/json\r\nContent-Length: 2097152\r\n\r\n{\"user\":");
      },
      10s));
  const auto answered = [](const std::string& reply) {
    return reply.find("\r\n\r\n") != std::string::npos;
  };
  EXPECT_EQ(big.read_until(answered, 10s), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(big.reply(i).rfind("HTTP/1.1 400", 0), 0u) << big.reply(i);
    EXPECT_NE(big.reply(i).find("application/json"), std::string::npos) << big.reply(i);
  }
  EXPECT_EQ(big.wait_all_closed(10s), 2u);
  EXPECT_EQ(testing::http_request(bound.http, "GET", "/healthz").status, 200);
}

TEST(Exhaustion, AThousandHalfOpenTlsHandshakesTimeOutWhileOthersAreServed) {
  ASSERT_GE(net::raise_open_files_limit(), 4096u);
  auto c = test_config(true);
  c.limits.connect_timeout_ms = 4000;  // room for 1,000 accepts under the sanitizers
  local_server srv(server_options{.config = c});
  const auto bound = srv.bound();
  ASSERT_TRUE(bound.mqtts);
  raw_connections half;
  std::string error;
  ASSERT_TRUE(half.open(*bound.mqtts, 1000, &error)) << error;
  // A TLS record header announcing a 512-byte ClientHello, and nothing more.
  ASSERT_TRUE(
      half.send_each([](std::size_t) { return std::string("\x16\x03\x01\x02\x00", 5); }, 10s));
  std::uint64_t open_tls = 0;
  for (int i = 0; i < 100 && open_tls < 1000; ++i) {
    const auto m = metrics_of(bound.http);
    open_tls = metric_sum(m, "imock_connections{transport=\"tls\"}");
    if (open_tls < 1000) half.read_until([](const std::string&) { return false; }, 50ms);
  }
  EXPECT_GE(open_tls, 1000u);
  std::string why;
  auto good = wire_client::open(transport::tls, bound, &why);
  ASSERT_TRUE(good) << why;
  good->send_bytes(connect_bytes("good", 30));
  EXPECT_EQ(verdict_of(good->receive()).reason, 0);
  // The connect time-out closes every half-done handshake; the good client stays.
  EXPECT_EQ(half.wait_all_closed(15s), 1000u);
  const auto m = metrics_of(bound.http);
  EXPECT_GE(metric_sum(m, "imock_connect_timeouts_total"), 1000u) << m;
  good->send(mqtt::pingreq{});
  const auto pong = good->receive();
  ASSERT_TRUE(pong);
  EXPECT_TRUE(std::holds_alternative<mqtt::pingresp>(*pong));
  expect_counters_add_up(bound.http);
}

TEST(Exhaustion, TenThousandWebSocketUpgradesWithoutAFrameTimeOutWhileOthersAreServed) {
  // The server is a process of its own: it and this test each hold 10,000 descriptors.
  ASSERT_GE(net::raise_open_files_limit(), 12'000u);
  server_process s("ws", "  connect_timeout: 15s\n", 20'000);
  ASSERT_TRUE(s.up()) << s.errors();
  const std::string upgrade =
      "GET /mqtt HTTP/1.1\r\nHost: imock\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  const auto switched = [](const std::string& reply) {
    return reply.find("\r\n\r\n") != std::string::npos;
  };
  std::vector<std::unique_ptr<raw_connections>> batches;
  const auto started = steady::now();
  for (int b = 0; b < 20; ++b) {  // 20 x 500: each batch fits the listen queue
    auto batch = std::make_unique<raw_connections>();
    std::string error;
    ASSERT_TRUE(batch->open(s.bound.http, 500, &error)) << error;
    ASSERT_TRUE(batch->send_each([&](std::size_t) { return upgrade; }, 10s));
    ASSERT_EQ(batch->read_until(switched, 10s), 500u) << "batch " << b;
    for (std::size_t i = 0; i < batch->size(); ++i) {
      ASSERT_EQ(batch->reply(i).rfind("HTTP/1.1 101", 0), 0u) << batch->reply(i);
    }
    batches.push_back(std::move(batch));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - started);
  ASSERT_LT(took, 12s) << "10,000 upgrades took longer than the connect time-out allows this test";
  const auto m = metrics_of(s.bound.http);
  EXPECT_EQ(metric_sum(m, "imock_connections{transport=\"ws\"}"), 10'000u) << m;
  std::printf("10,000 WebSocket upgrades in %lld ms; server RSS %s\n",
              static_cast<long long>(took.count()), rss_of(s.pid()).c_str());
  // A client that does send CONNECT is served meanwhile.
  std::string why;
  auto good = wire_client::open(transport::ws, s.bound, &why);
  ASSERT_TRUE(good) << why;
  good->send_bytes(connect_bytes("good", 60));
  EXPECT_EQ(verdict_of(good->receive()).reason, 0);
  // Each upgrade without CONNECT is closed at the connect time-out, and counted.
  std::size_t closed = 0;
  for (auto& batch : batches) closed += batch->wait_all_closed(30s);
  EXPECT_EQ(closed, 10'000u);
  const auto after = metrics_of(s.bound.http);
  EXPECT_GE(metric_sum(after, "imock_connect_timeouts_total"), 10'000u) << after;
  EXPECT_EQ(metric_sum(after, "imock_connections{transport=\"ws\"}"), 1u) << after;
  good->send(mqtt::pingreq{});
  EXPECT_TRUE(good->receive().has_value());
  expect_counters_add_up(s.bound.http);
}

}  // namespace
}  // namespace imock::server
