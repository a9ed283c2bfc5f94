// imock-soak: one imock-server under everything at once for a while, then a verdict.
//
// It starts an imock-server (ephemeral ports, all four transports, an admin token) and,
// side by side until the quiet phase:
//   - imock-storm: reference-SDK clients in drop-all storms at a low rate (the
//     well-behaved clients);
//   - admin faults at random, from a seeded generator: kicks, drops (FIN, DISCONNECT,
//     RST), blackholes and releases, refused and delayed connects, restarts;
//   - server API calls, valid ones (getToken, checkOnline, publish) and malformed ones
//     (bad signature, missing fields, bytes that are not a form, unknown paths);
//   - a hostile client sending broken MQTT, HTTP, WebSocket and TLS bytes;
//   - slow readers: subscribers that never read while a writer floods their topic.
// Meanwhile it samples the server every second: RSS, open descriptors and /metrics.
// In the quiet phase the faults stop and every storm client must be connected again.
//
// Pass (exit 0) means: the server never exited and stopped cleanly with no sanitizer
// report; RSS and descriptors (less open connections) stayed flat after the warm-up,
// within --flat; accepted = closed + open at every scrape; every well-behaved client
// was connected at the end; every valid API call answered 200 and every malformed one
// a 4xx with a JSON body; the admin API took every fault; the slow readers were
// dropped (the outbound queue limit works). docs: benchmarks/README.md, "Soak".
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "imock/base/process.hpp"
#include "imock/net/http_client.hpp"
#include "imock/protocol/api_request.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace imock::soak {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::string_view k_app = "soak-app";
constexpr std::string_view k_secret = "soak-secret";
constexpr std::string_view k_admin_token = "soak-admin-token";
constexpr std::string_view k_storm_prefix = "storm";

struct options {
  double seconds = 600;
  std::uint64_t seed = 1;
  int clients = 200;
  double ramp = 50;
  int slow_readers = 4;
  double warmup = 0.2;  // share of the run before flatness is judged
  double flat = 0.10;   // RSS and descriptors may move this much after the warm-up
  std::string server_bin;
  std::string storm_bin;
  std::string json_out;
  bool keep = false;
};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- what the run found --------------------------------------------------------------

// Counts and failures from every actor; failures end the run red.
class findings {
 public:
  void count(const std::string& what, std::uint64_t n = 1) {
    const std::lock_guard lock(mu_);
    counts_[what] += n;
  }
  void fail(const std::string& why) {
    const std::lock_guard lock(mu_);
    if (failures_.size() < 50) failures_.push_back(why);
    ++failure_count_;
  }
  [[nodiscard]] std::map<std::string, std::uint64_t> counts() const {
    const std::lock_guard lock(mu_);
    return counts_;
  }
  [[nodiscard]] std::vector<std::string> failures() const {
    const std::lock_guard lock(mu_);
    return failures_;
  }
  [[nodiscard]] std::uint64_t failure_count() const {
    const std::lock_guard lock(mu_);
    return failure_count_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> counts_;
  std::vector<std::string> failures_;
  std::uint64_t failure_count_ = 0;
};

// --- the server's side, as sampled ------------------------------------------------------

struct sample {
  double t_s = 0;
  std::uint64_t rss_kb = 0;
  std::uint64_t fds = 0;
  std::uint64_t open = 0;  // imock_connections, every transport
  std::uint64_t accepted = 0;
  std::uint64_t closed = 0;
  std::uint64_t connected = 0;
};

std::uint64_t rss_kb_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

std::uint64_t fds_of(pid_t pid) {
  std::error_code ec;
  std::uint64_t n = 0;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

using server::testing::metric_sum;

// --- raw sockets for the hostile client ------------------------------------------------

class raw_socket {
 public:
  static std::optional<raw_socket> open(const std::string& host_port) {
    const auto colon = host_port.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
    if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr) != 1) return {};
    raw_socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (s.fd_ < 0) return {};
    if (::connect(s.fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
      return {};
    pollfd p{.fd = s.fd_, .events = POLLOUT, .revents = 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, 2000) != 1 || ::getsockopt(s.fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
        err != 0) {
      return {};
    }
    return s;
  }
  raw_socket(raw_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  raw_socket& operator=(raw_socket&&) = delete;
  ~raw_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  /// All of `bytes` within 2 s; false when the peer is gone or stopped reading.
  bool send(std::string_view bytes) {
    const auto until = steady::now() + 2s;
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
      if (!wait(POLLOUT, until)) return false;
    }
    return true;
  }
  /// What arrives until the peer closes, `max` bytes, or `timeout`; `closed` says whether
  /// the peer closed.
  std::string read(std::chrono::milliseconds timeout, bool& closed, std::size_t max = 65536) {
    std::string out;
    closed = false;
    const auto until = steady::now() + timeout;
    char buf[4096];
    while (out.size() < max) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        closed = true;
        break;
      }
      if (!wait(POLLIN, until)) break;
    }
    return out;
  }

 private:
  explicit raw_socket(int fd) : fd_(fd) {}
  bool wait(short events, steady::time_point until) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd_, .events = events, .revents = 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  }
  int fd_ = -1;
};

// --- the run ---------------------------------------------------------------------------

struct addresses {
  std::string mqtt, mqtts, http, https;
};

class soak_run {
 public:
  soak_run(options o, addresses a, pid_t server_pid)
      : o_(std::move(o)),
        a_(std::move(a)),
        server_pid_(server_pid),
        start_(steady::now()),
        quiet_at_(start_ + std::chrono::milliseconds(static_cast<std::int64_t>(
                               o_.seconds * 1000 * (o_.seconds >= 300 ? 0.9 : 0.75)))) {}

  findings found;

  [[nodiscard]] double elapsed_s() const {
    return std::chrono::duration<double>(steady::now() - start_).count();
  }
  [[nodiscard]] double quiet_at_s() const {
    return std::chrono::duration<double>(quiet_at_ - start_).count();
  }
  [[nodiscard]] bool busy() const { return !stopping_ && steady::now() < quiet_at_; }
  void stop() { stopping_ = true; }

  std::string storm_user(std::mt19937_64& rng) const {
    return std::string(k_storm_prefix) + "-0-" +
           std::to_string(std::uniform_int_distribution<int>(0, o_.clients - 1)(rng));
  }

  // Admin API: one call, which must answer 200.
  net::http_response admin(net::http_client& c, std::string_view method, std::string_view path,
                           const json::object& body = {}) {
    const net::http_headers auth = {{"Authorization", "Bearer " + std::string(k_admin_token)}};
    auto r = c.request(method, path, method == "GET" ? "" : json::serialize(body),
                       "application/json", auth, 10s);
    if (r.status != 200) {
      found.fail("admin " + std::string(method) + " " + std::string(path) + " " +
                 json::serialize(body) + ": " + r.what());
    }
    return r;
  }

  // Faults at random until the quiet phase, then clears them all.
  void faults(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    net::http_client c(*net::parse_http_url("http://" + a_.http));
    admin(c, "POST", "/admin/seed", {{"seed", seed}});
    std::vector<std::pair<steady::time_point, std::string>> releases;
    auto last_restart = steady::now();
    const auto uniform = [&](double lo, double hi) {
      return std::uniform_real_distribution<double>(lo, hi)(rng);
    };
    while (busy()) {
      const auto next =
          steady::now() + std::chrono::milliseconds(static_cast<int>(uniform(800, 2500)));
      while (busy() && steady::now() < next) {
        wait_until(std::min(next, releases.empty() ? next : releases.front().first));
        for (auto it = releases.begin(); it != releases.end();) {
          if (it->first > steady::now()) {
            ++it;
            continue;
          }
          admin(c, "POST", "/admin/release", {{"user", it->second}, {"include_new", false}});
          found.count("fault: release");
          it = releases.erase(it);
        }
      }
      if (!busy()) break;
      const auto user = storm_user(rng);
      switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
        case 0:
        case 1:
          admin(c, "POST", "/admin/kick", {{"user", user}, {"code", 31003}});
          found.count("fault: kick");
          break;
        case 2:
          admin(c, "POST", "/admin/drop", {{"user", user}});
          found.count("fault: drop (FIN)");
          break;
        case 3:
          admin(c, "POST", "/admin/drop", {{"user", user}, {"disconnect", true}});
          found.count("fault: drop (DISCONNECT)");
          break;
        case 4:
          admin(c, "POST", "/admin/drop", {{"user", user}, {"reset", true}});
          found.count("fault: drop (RST)");
          break;
        case 5:
          admin(c, "POST", "/admin/blackhole", {{"user", user}, {"include_new", false}});
          releases.emplace_back(
              steady::now() + std::chrono::milliseconds(static_cast<int>(uniform(2000, 8000))),
              user);
          std::sort(releases.begin(), releases.end());
          found.count("fault: blackhole");
          break;
        case 6:
          admin(c, "POST", "/admin/refuse",
                {{"user", user},
                 {"count", std::uniform_int_distribution<int>(1, 3)(rng)},
                 {"code", 31003}});
          admin(c, "POST", "/admin/drop", {{"user", user}});
          found.count("fault: refuse the next connects");
          break;
        case 7:
          admin(c, "POST", "/admin/delay",
                {{"user", user}, {"ms", static_cast<int>(uniform(200, 2500))}});
          admin(c, "POST", "/admin/drop", {{"user", user}, {"disconnect", true}});
          found.count("fault: delay the next CONNACK");
          break;
        case 8:
          // A restart at most every 40 s: each one sends the whole population back.
          if (steady::now() - last_restart > 40s) {
            admin(c, "POST", "/admin/restart", {{"down_ms", static_cast<int>(uniform(100, 2000))}});
            last_restart = steady::now();
            found.count("fault: restart");
            break;
          }
          [[fallthrough]];
        default:
          // Reading: sessions, the event log, the armed faults.
          admin(c, "GET", "/admin/sessions?user=" + user);
          admin(c, "GET", "/admin/events?since=0&limit=200");
          admin(c, "GET", "/admin/faults");
          found.count("admin reads");
          break;
      }
    }
    admin(c, "POST", "/admin/faults/clear");
    admin(c, "POST", "/admin/release", {{"include_new", true}});
  }

  // Server API calls until the quiet phase: valid ones must answer 200, malformed ones
  // a 4xx with a JSON body.
  void api(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    net::http_client c(*net::parse_http_url("http://" + a_.http));
    std::uint64_t nonce = 0;
    const auto call = [&](std::string_view path, const std::string& body, bool good_signature,
                          std::string_view content_type = "application/x-www-form-urlencoded") {
      const auto ts = std::to_string(wall_ms());
      auto headers =
          signed_headers(k_app, good_signature ? k_secret : std::string_view("wrong-secret"),
                         "soak" + std::to_string(seed) + "-" + std::to_string(++nonce), ts);
      return c.request("POST", path, body, content_type, headers, 10s);
    };
    const auto expect_ok = [&](std::string_view what, const net::http_response& r) {
      found.count("api: valid calls");
      if (r.status != 200 || r.body.find("\"code\":200") == std::string::npos) {
        found.fail("server API " + std::string(what) + ": expected 200, got " + r.what());
      }
    };
    const auto expect_refused = [&](std::string_view what, const net::http_response& r) {
      found.count("api: malformed calls");
      if (r.status < 400 || r.status > 499 || r.body.find("\"code\"") == std::string::npos) {
        found.fail("server API " + std::string(what) + ": expected a 4xx with a JSON code, got " +
                   r.what());
      }
    };
    std::uniform_int_distribution<int> byte(0, 255);
    while (busy()) {
      wait_until(steady::now() +
                 std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 300)(rng)));
      if (!busy()) break;
      const auto user = storm_user(rng);
      switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
        case 0:
          expect_ok("getToken", call("/user/getToken.json", "userId=" + user + "&name=soak", true));
          break;
        case 1:
          expect_ok("checkOnline", call("/user/checkOnline.json", "userId=" + user, true));
          break;
        case 2:
          expect_ok("publish",
                    call("/message/private/publish.json",
                         "fromUserId=soak-api&toUserId=" + user + "&objectName=RC:TxtMsg&content=" +
                             form_escape(R"({"content":"soak"})"),
                         true));
          break;
        case 3:
          expect_refused("with a bad signature",
                         call("/user/getToken.json", "userId=" + user, false));
          break;
        case 4:
          expect_refused("without userId", call("/user/getToken.json", "name=nobody", true));
          break;
        case 5: {
          std::string junk(std::uniform_int_distribution<int>(1, 600)(rng), '\0');
          for (auto& ch : junk) ch = static_cast<char>(byte(rng));
          expect_refused("with random bytes", call("/user/getToken.json", junk, true));
          break;
        }
        case 6:
          expect_refused("to an unknown path", call("/user/noSuchThing.json", "userId=x", true));
          break;
        default:
          expect_refused(
              "publish without content",
              call("/message/private/publish.json",
                   "fromUserId=soak-api&toUserId=" + user + "&objectName=RC:TxtMsg", true));
          break;
      }
    }
  }

  // Broken bytes on every port until the quiet phase. Nothing is asserted of the
  // answers here: the server must survive them (the sampler) and serve the others.
  void hostile(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    const auto junk = [&](int lo, int hi) {
      std::string s(std::uniform_int_distribution<int>(lo, hi)(rng), '\0');
      for (auto& ch : s) ch = static_cast<char>(byte(rng));
      return s;
    };
    const auto send_and_read = [&](const std::string& where, const std::string& bytes,
                                   const char* kind) {
      auto s = raw_socket::open(where);
      if (!s) {
        found.count("hostile: connect failed (restart or backlog)");
        return;
      }
      found.count(std::string("hostile: ") + kind);
      if (!s->send(bytes)) return;
      bool closed = false;
      (void)s->read(300ms, closed);
    };
    const std::string upgrade =
        "GET /mqtt HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
    while (busy()) {
      wait_until(steady::now() +
                 std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 120)(rng)));
      if (!busy()) break;
      switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
        case 0:
          send_and_read(a_.mqtt, junk(1, 512), "random bytes to MQTT");
          break;
        case 1: {
          // A CONNECT header claiming 200 MB.
          send_and_read(a_.mqtt, std::string("\x10\xff\xff\xff\x7f", 5) + junk(0, 64),
                        "an oversize CONNECT");
          break;
        }
        case 2: {
          // A well-formed CONNECT with a bad token, then garbage.
          auto c = server::testing::connect_packet(k_app, "not-a-token", "hostile");
          send_and_read(a_.mqtt, mqtt::encode(c) + junk(1, 64), "a bad token and garbage");
          break;
        }
        case 3: {
          // Half a CONNECT, then hang up.
          const auto whole = mqtt::encode(server::testing::connect_packet(k_app, "x", "half"));
          send_and_read(a_.mqtt, whole.substr(0, whole.size() / 2), "half a CONNECT");
          break;
        }
        case 4:
          send_and_read(a_.http, junk(1, 2048), "random bytes to HTTP");
          break;
        case 5:
          send_and_read(
              a_.http,
              "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n",
              "an oversize HTTP header");
          break;
        case 6:
          send_and_read(a_.http,
                        "POST /admin/kick HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
                        "Authorization: Bearer " +
                            std::string(k_admin_token) + "\r\n\r\n{\"user\":",
                        "a body longer than sent");
          break;
        case 7:
          // An upgrade, then frames that are not MQTT (or not even frames).
          send_and_read(a_.http, upgrade + junk(1, 1024), "WebSocket garbage");
          break;
        case 8:
          send_and_read(a_.http,
                        upgrade + std::string("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff", 10),
                        "a WebSocket frame of 2^63 bytes");
          break;
        default:
          send_and_read(a_.mqtts, junk(1, 512), "random bytes to TLS");
          break;
      }
    }
  }

  // Subscribers that never read, and a writer flooding their topic; every 15 s the
  // readers are replaced (the server has dropped them by then).
  void slow_readers(std::uint64_t seed) {
    if (o_.slow_readers <= 0) return;
    std::mt19937_64 rng(seed);
    const server::bound_addresses bound{.mqtt = a_.mqtt, .http = a_.http};
    const auto login = [&](const std::string& user,
                           bool subscribe) -> std::unique_ptr<server::testing::wire_client> {
      auto c = server::testing::wire_client::open(server::transport::tcp, bound);
      if (!c) return nullptr;
      const auto token = token::issue(k_app, user, k_secret, wall_ms());
      c->send(server::testing::connect_packet(k_app, *token, user, false, false, "ios", 60));
      if (server::testing::verdict_of(c->receive(5s)).reason != 0) return nullptr;
      if (subscribe) {
        c->send(mqtt::subscribe{.packet_id = 1, .subscriptions = {{.topic_filter = "soak/flood"}}});
        if (!c->receive(5s)) return nullptr;
      }
      return c;
    };
    std::vector<std::unique_ptr<server::testing::wire_client>> readers;
    std::unique_ptr<server::testing::wire_client> writer;
    auto renewed = steady::now() - 1h;
    const std::string payload(16 * 1024, 's');
    int generation = 0;
    while (busy()) {
      if (steady::now() - renewed > 15s) {
        readers.clear();
        ++generation;
        for (int i = 0; i < o_.slow_readers; ++i) {
          if (auto r =
                  login("slow-" + std::to_string(generation) + "-" + std::to_string(i), true)) {
            readers.push_back(std::move(r));
            found.count("slow readers");
          }
        }
        renewed = steady::now();
      }
      if (!writer) {
        writer = login("flooder", false);
        if (!writer) {
          wait_until(steady::now() + 200ms);  // a restart: try again shortly
          continue;
        }
      }
      if (!writer->send(mqtt::publish{.topic = "soak/flood", .payload = payload})) {
        writer.reset();
        continue;
      }
      found.count("slow readers: flood bytes", payload.size());
      wait_until(steady::now() +
                 std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 15)(rng)));
    }
  }

  // The sampler, on the calling thread: once a second until `until`.
  void sample_until(steady::time_point until, net::http_client& metrics) {
    while (steady::now() < until && !stopping_) {
      const auto next = steady::now() + 1s;
      take_sample(metrics);
      wait_until(next);
    }
  }

  void take_sample(net::http_client& metrics) {
    const auto m = metrics.get("/metrics", 10s);
    sample s;
    s.t_s = elapsed_s();
    s.fds = fds_of(server_pid_);
    s.rss_kb = rss_kb_of(server_pid_);
    if (m.status != 200) {
      found.fail("GET /metrics at " + std::to_string(static_cast<int>(s.t_s)) + " s: " + m.what());
      return;
    }
    s.open = metric_sum(m.body, "imock_connections");
    s.accepted = metric_sum(m.body, "imock_accepted_total");
    s.closed = metric_sum(m.body, "imock_closed_total");
    s.connected = metric_sum(m.body, "imock_connected_sessions");
    if (s.accepted != s.closed + s.open) {
      found.fail("at " + std::to_string(static_cast<int>(s.t_s)) +
                 " s the counters do not add up: " + std::to_string(s.accepted) + " accepted, " +
                 std::to_string(s.closed) + " closed, " + std::to_string(s.open) + " open");
    }
    last_metrics_ = m.body;
    samples_.push_back(s);
  }

  [[nodiscard]] const std::vector<sample>& samples() const { return samples_; }
  [[nodiscard]] const std::string& last_metrics() const { return last_metrics_; }
  [[nodiscard]] const options& opts() const { return o_; }
  [[nodiscard]] const addresses& where() const { return a_; }

  // Bounded waits that wake early when the run stops.
  void wait_until(steady::time_point t) {
    std::unique_lock lock(wake_mu_);
    wake_.wait_until(lock, t, [&] { return stopping_.load(); });
  }
  void wake_all() {
    stopping_ = true;
    wake_.notify_all();
  }

 private:
  options o_;
  addresses a_;
  pid_t server_pid_;
  steady::time_point start_;
  steady::time_point quiet_at_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::vector<sample> samples_;
  std::string last_metrics_;
};

// Flatness after the warm-up: the span is cut into (up to) five windows; RSS is each
// window's highest, descriptors less open connections each window's lowest (what the
// server holds besides its clients, free of the moment's handshakes). Flat: the
// highest window within `flat` of the lowest.
struct flatness {
  std::uint64_t rss_low = 0, rss_high = 0, fds_low = 0, fds_high = 0;
  std::size_t windows = 0;
  [[nodiscard]] double rss_change() const {
    return rss_low ? static_cast<double>(rss_high - rss_low) / static_cast<double>(rss_low) : 0;
  }
  [[nodiscard]] double fds_change() const {
    return fds_low ? static_cast<double>(fds_high - fds_low) / static_cast<double>(fds_low) : 0;
  }
};

flatness judge(const std::vector<sample>& all, double from_s, double to_s) {
  flatness f;
  constexpr int k_windows = 5;
  const double span = (to_s - from_s) / k_windows;
  for (int w = 0; w < k_windows; ++w) {
    std::uint64_t rss = 0, fds = UINT64_MAX;
    for (const auto& s : all) {
      if (s.t_s < from_s + w * span || s.t_s >= from_s + (w + 1) * span) continue;
      rss = std::max(rss, s.rss_kb);
      fds = std::min(fds, s.fds > s.open ? s.fds - s.open : 0);
    }
    if (rss == 0) continue;
    if (f.windows++ == 0) {
      f.rss_low = f.rss_high = rss;
      f.fds_low = f.fds_high = fds;
      continue;
    }
    f.rss_low = std::min(f.rss_low, rss);
    f.rss_high = std::max(f.rss_high, rss);
    f.fds_low = std::min(f.fds_low, fds);
    f.fds_high = std::max(f.fds_high, fds);
  }
  return f;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string tail(const std::string& text, std::size_t lines) {
  std::size_t at = text.size();
  while (lines-- > 0 && at > 0) at = text.rfind('\n', at - 1);
  return at == std::string::npos || at == 0 ? text : text.substr(at + 1);
}

fs::path beside_me(const std::string& given, std::initializer_list<const char*> candidates) {
  if (!given.empty()) return given;
  std::error_code ec;
  const auto me = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const char* c : candidates) {
    if (fs::exists(me / c)) return fs::weakly_canonical(me / c);
  }
  return me / *candidates.begin();
}

int run(const options& o) {
  const auto server_bin = beside_me(o.server_bin, {"../server/imock-server", "imock-server"});
  const auto storm_bin = beside_me(o.storm_bin, {"imock-storm", "../benchmarks/imock-storm"});
  char dir_template[] = "/tmp/imock-soak-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    std::perror("imock-soak: mkdtemp");
    return 2;
  }
  const fs::path dir = dir_template;
  std::ofstream(dir / "server.yaml") << "apps:\n  - key: " << k_app << "\n    secret: " << k_secret
                                     << "\nlimits:\n  event_log: 20000\n  outbound_queue: 256KiB\n"
                                        "  connect_timeout: 5s\nlisten:\n  mqtt: 127.0.0.1:0\n"
                                        "  http: 127.0.0.1:0\n  mqtts: 127.0.0.1:0\n"
                                        "  https: 127.0.0.1:0\n  tls_self_signed: true\n"
                                        "  admin_token: "
                                     << k_admin_token << "\n";
  std::string error;
  auto server = child_process::spawn(
      {server_bin.string(), "--config", (dir / "server.yaml").string(), "--ready-file",
       (dir / "ready.json").string(), "--seed", std::to_string(o.seed)},
      {.out = spawn_options::stream::file,
       .err = spawn_options::stream::file,
       .out_file = dir / "server.out",
       .err_file = dir / "server.err"},
      &error);
  if (!server) {
    std::fprintf(stderr, "imock-soak: cannot start %s: %s\n", server_bin.c_str(), error.c_str());
    return 2;
  }
  addresses a;
  for (int i = 0; i < 300 && a.mqtt.empty(); ++i) {
    if (server->wait_exit(50ms)) break;
    std::error_code ec;
    if (fs::file_size(dir / "ready.json", ec) == 0 || ec) continue;
    boost::system::error_code jec;
    const auto v = json::parse(slurp(dir / "ready.json"), jec);
    if (jec || !v.is_object()) continue;
    const auto& r = v.as_object();
    const auto get = [&](const char* k) {
      return r.contains(k) ? std::string(r.at(k).as_string()) : std::string();
    };
    a = {get("mqtt"), get("mqtts"), get("http"), get("https")};
  }
  if (a.mqtt.empty() || a.mqtts.empty()) {
    const auto status = server->wait_exit(0ms);
    std::fprintf(stderr, "imock-soak: %s did not start (%s):\n%s\n", server_bin.c_str(),
                 !status          ? "no ready file within 15 s"
                 : *status == 127 ? "exit status 127: it could not be run; see --server-bin"
                                  : ("exit status " + std::to_string(*status)).c_str(),
                 slurp(dir / "server.err").c_str());
    fs::remove_all(dir);
    return 2;
  }
  std::printf("imock-soak: %s (pid %d) on mqtt %s, mqtts %s, http %s; seed %llu; %g s\n",
              server_bin.c_str(), server->pid(), a.mqtt.c_str(), a.mqtts.c_str(), a.http.c_str(),
              static_cast<unsigned long long>(o.seed), o.seconds);
  std::fflush(stdout);

  soak_run r(o, a, server->pid());
  // The storm: drop-all storms at a low rate for the whole run; more than fit, so that it
  // is still running when stopped at the end.
  const int storms = std::clamp(static_cast<int>(o.seconds / 5) + 10, 1, 1000);
  auto storm = child_process::spawn({storm_bin.string(),
                                     "--target",
                                     "mqtt://" + a.mqtt,
                                     "--admin",
                                     "http://" + a.http,
                                     "--admin-token",
                                     std::string(k_admin_token),
                                     "--app-key",
                                     std::string(k_app),
                                     "--app-secret",
                                     std::string(k_secret),
                                     "--clients",
                                     std::to_string(o.clients),
                                     "--ramp",
                                     std::to_string(o.ramp),
                                     "--trigger",
                                     "drop-all",
                                     "--storms",
                                     std::to_string(storms),
                                     "--hold",
                                     "2",
                                     "--between",
                                     "10",
                                     "--heartbeat",
                                     "10",
                                     "--recovery-timeout",
                                     "60",
                                     "--user-prefix",
                                     std::string(k_storm_prefix),
                                     "--seed",
                                     std::to_string(o.seed),
                                     "--duration-limit",
                                     std::to_string(static_cast<int>(o.seconds + 240)),
                                     "--no-progress"},
                                    {.out = spawn_options::stream::file,
                                     .err = spawn_options::stream::file,
                                     .out_file = dir / "storm.out",
                                     .err_file = dir / "storm.err"},
                                    &error);
  if (!storm) {
    std::fprintf(stderr, "imock-soak: cannot start %s: %s\n", storm_bin.c_str(), error.c_str());
    return 2;
  }

  std::vector<std::thread> actors;
  actors.emplace_back([&] { r.faults(o.seed * 4 + 1); });
  actors.emplace_back([&] { r.api(o.seed * 4 + 2); });
  actors.emplace_back([&] { r.hostile(o.seed * 4 + 3); });
  actors.emplace_back([&] { r.slow_readers(o.seed * 4 + 4); });

  net::http_client metrics(*net::parse_http_url("http://" + a.http));
  bool server_died = false;
  const auto watch_until = [&](steady::time_point until) {
    while (steady::now() < until) {
      r.sample_until(std::min(until, steady::now() + 5s), metrics);
      if (!server->running()) {
        server_died = true;
        r.found.fail("imock-server exited with status " +
                     std::to_string(server->wait_exit(0ms).value_or(-1)) + " at " +
                     std::to_string(static_cast<int>(r.elapsed_s())) + " s");
        r.wake_all();
        return false;
      }
      if (!storm->running()) {
        r.found.fail("imock-storm stopped at " + std::to_string(static_cast<int>(r.elapsed_s())) +
                     " s:\n" + tail(slurp(dir / "storm.err"), 15));
        r.wake_all();
        return false;
      }
    }
    return true;
  };
  const auto quiet_at =
      steady::now() +
      std::chrono::milliseconds(static_cast<std::int64_t>((r.quiet_at_s() - r.elapsed_s()) * 1000));
  watch_until(quiet_at);
  for (auto& t : actors) t.join();
  // Quiet: the fault actor has cleared its faults; the storm goes on to the end.
  const auto end_of_run =
      steady::now() +
      std::chrono::milliseconds(static_cast<std::int64_t>((o.seconds - r.elapsed_s()) * 1000));
  watch_until(end_of_run);

  // The end: every storm client must be connected (if one is not yet, it gets one step
  // of the reconnect schedule at most, 64 s, plus the keep alive of a blackhole).
  bool all_back = false;
  double back_at = 0;
  if (!server_died && r.found.failure_count() == 0) {
    const auto end = steady::now() + 80s;
    net::http_client status(*net::parse_http_url("http://" + a.http));
    while (!all_back && steady::now() < end && server->running()) {
      const auto res =
          status.request("GET", "/admin/sessions", "", "",
                         {{"Authorization", "Bearer " + std::string(k_admin_token)}}, 10s);
      boost::system::error_code jec;
      const auto v = json::parse(res.body, jec);
      if (!jec && v.is_object() && v.as_object().contains("sessions")) {
        std::size_t storm_clients = 0;
        for (const auto& s : v.at("sessions").as_array()) {
          const auto& u = s.at("user").as_string();
          if (s.at("connected").as_bool() && u.starts_with(k_storm_prefix)) ++storm_clients;
        }
        all_back = storm_clients >= static_cast<std::size_t>(o.clients);
        if (all_back) back_at = r.elapsed_s();
      }
      if (!all_back) r.sample_until(steady::now() + 1s, metrics);
    }
    if (!all_back) {
      r.found.fail("the storm's " + std::to_string(o.clients) +
                   " clients were not all connected at the end, nor 80 s later");
    }
    r.take_sample(metrics);
  }
  r.wake_all();
  storm->stop(10s);
  const auto flat = judge(r.samples(), o.seconds * o.warmup, r.quiet_at_s());
  const int server_status = server->stop(20s);
  const auto server_err = slurp(dir / "server.err");
  if (!server_died && server_status != 0) {
    r.found.fail("imock-server exited with status " + std::to_string(server_status) +
                 " on SIGTERM");
  }
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (server_err.find(marker) != std::string::npos) {
      r.found.fail(std::string("imock-server's stderr has a sanitizer report (") + marker + ")");
    }
  }
  if (flat.windows >= 2 && flat.rss_change() > o.flat) {
    r.found.fail("RSS grew after the warm-up: " + std::to_string(flat.rss_low) + " KB to " +
                 std::to_string(flat.rss_high) + " KB");
  }
  if (flat.windows >= 2 && flat.fds_change() > o.flat) {
    r.found.fail("descriptors (less open connections) moved after the warm-up: " +
                 std::to_string(flat.fds_low) + " to " + std::to_string(flat.fds_high));
  }
  const auto& m = r.last_metrics();
  const auto slow_drops = metric_sum(m, "imock_slow_reader_drops_total");
  if (o.slow_readers > 0 && slow_drops == 0 && !server_died) {
    r.found.fail("no slow reader was dropped: the outbound queue did not bound them");
  }

  // The report.
  const auto counts = r.found.counts();
  std::printf("\n%-44s %s\n", "what", "count");
  for (const auto& [k, v] : counts)
    std::printf("%-44s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  const char* names[] = {"imock_accepted_total",
                         "imock_closed_total",
                         "imock_connections",
                         "imock_kicks_total",
                         "imock_faults_fired_total",
                         "imock_protocol_errors_total",
                         "imock_connect_timeouts_total",
                         "imock_keep_alive_timeouts_total",
                         "imock_slow_reader_drops_total",
                         "imock_events_total",
                         "imock_events_dropped_total",
                         "imock_messages_total"};
  std::printf("\n%-44s %s\n", "server (/metrics at the end)", "value");
  for (const char* n : names) {
    std::printf("%-44s %llu\n", n, static_cast<unsigned long long>(metric_sum(m, n)));
  }
  std::printf(
      "\nafter the warm-up (%.0f s to %.0f s, %zu windows): RSS %llu..%llu KB (%+.1f%%), "
      "descriptors less connections %llu..%llu (%+.1f%%); flat means within %.0f%%\n",
      o.seconds * o.warmup, r.quiet_at_s(), flat.windows,
      static_cast<unsigned long long>(flat.rss_low), static_cast<unsigned long long>(flat.rss_high),
      100 * flat.rss_change(), static_cast<unsigned long long>(flat.fds_low),
      static_cast<unsigned long long>(flat.fds_high), 100 * flat.fds_change(), 100 * o.flat);
  if (all_back) {
    std::printf(
        "all %d storm clients connected at the end (%.0f s; the faults stopped at %.0f s)\n",
        o.clients, back_at, r.quiet_at_s());
  }
  // imock-storm's own summary of its drop-all storms, under all the faults.
  std::istringstream storm_report(slurp(dir / "storm.out"));
  for (std::string line; std::getline(storm_report, line);) {
    if (line.find("trigger drop-all") != std::string::npos || line.rfind("checks", 0) == 0) {
      std::printf("imock-storm: %s\n", line.c_str() + line.find_first_not_of(' '));
    }
  }
  if (!o.json_out.empty()) {
    json::object out;
    out["seconds"] = o.seconds;
    out["seed"] = o.seed;
    out["clients"] = o.clients;
    out["passed"] = r.found.failure_count() == 0;
    json::array fails;
    for (const auto& f : r.found.failures()) fails.emplace_back(f);
    out["failures"] = std::move(fails);
    json::object c;
    for (const auto& [k, v] : counts) c[k] = v;
    out["counts"] = std::move(c);
    json::object srv;
    for (const char* n : names) srv[n] = metric_sum(m, n);
    out["server"] = std::move(srv);
    out["rss_kb"] = {{"low", flat.rss_low}, {"high", flat.rss_high}};
    out["fds_less_connections"] = {{"low", flat.fds_low}, {"high", flat.fds_high}};
    json::array series;
    for (const auto& s : r.samples()) {
      series.push_back({{"t_s", s.t_s}, {"rss_kb", s.rss_kb}, {"fds", s.fds}, {"open", s.open}});
    }
    out["samples"] = std::move(series);
    std::ofstream(o.json_out) << json::serialize(out) << "\n";
  }
  const auto failures = r.found.failures();
  if (!failures.empty()) {
    std::printf("\nFAILED (%llu):\n", static_cast<unsigned long long>(r.found.failure_count()));
    for (const auto& f : failures) std::printf("  - %s\n", f.c_str());
    std::printf("server stderr (last lines):\n%s\n", tail(server_err, 20).c_str());
    std::printf("the run's files: %s\n", dir.c_str());
    return 1;
  }
  std::printf("\nPASSED\n");
  if (!o.keep) fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace imock::soak

int main(int argc, char** argv) {
  imock::soak::options o;
  CLI::App app{
      "imock-soak: one imock-server under a low-rate storm, random admin faults, server API\n"
      "calls (some malformed), a hostile client and slow readers at once; then a verdict\n"
      "(RSS and descriptors flat, counters adding up, every client back, no sanitizer\n"
      "report). Exit 0: passed, 1: failed, 2: could not run. Docs: benchmarks/README.md",
      "imock-soak"};
  app.add_option("--seconds", o.seconds, "length of the run (the last 10-25% is the quiet phase)")
      ->capture_default_str()
      ->check(CLI::Range(20.0, 86400.0));
  app.add_option("--seed", o.seed, "seed of every random choice (faults, calls, bytes)")
      ->capture_default_str();
  app.add_option("--clients", o.clients, "the storm's clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 5000));
  app.add_option("--ramp", o.ramp, "the storm's connects per second at the start")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--slow-readers", o.slow_readers, "subscribers that never read (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app.add_option("--warmup", o.warmup, "share of the run before flatness is judged")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.7));
  app.add_option("--flat", o.flat, "how far RSS and descriptors may move after the warm-up")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--server-bin", o.server_bin,
                 "imock-server to soak (default: ../server/imock-server beside imock-soak); "
                 "give the asan build's to run under the sanitizers");
  app.add_option("--storm-bin", o.storm_bin, "imock-storm (default: beside imock-soak)");
  app.add_option("--json-out", o.json_out, "also write the figures and samples as JSON");
  app.add_flag("--keep", o.keep, "keep the run's directory (config, server and storm output)");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  return imock::soak::run(o);
}
