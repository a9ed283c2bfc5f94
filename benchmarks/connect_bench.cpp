// imock-connect-bench: open N MQTT 5 connections to one broker at a bounded
// concurrency, measure CONNECT -> CONNACK latency and the connect rate, then hold
// every connection idle (so a script can read the broker's memory per connection).
// Works against imock-server and any MQTT 5 broker (mosquitto, EMQX, ...).
//
//   imock-connect-bench mqtt://127.0.0.1:18830 --clients 10000 --app-secret imock-demo-secret
//   imock-connect-bench ws://127.0.0.1:18080/mqtt -n 2000 --hold-file /tmp/hold --ready-file /tmp/r
//
// Prints one JSON line on stdout when done; `--help` lists the flags.
//
// Design: one io_context per thread (default one thread); each worker owns the
// clients i with i % threads == its index and keeps at most concurrency/threads
// attempts in flight. A connection is one `client<Stream>` over the transport's
// stream type (TCP, TLS, WebSocket, WebSocket over TLS); it reports back to its
// worker, which keeps the tallies. Deadlines (per attempt and overall) are checked
// by one periodic sweep per worker rather than a timer per connection.
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "imock/net/address.hpp"
#include "imock/net/client_stream.hpp"
#include "imock/net/fd_limit.hpp"
#include "imock/net/tls.hpp"
#include "imock/net/url.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"


namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace imock;

constexpr auto k_sweep_period = std::chrono::milliseconds(50);

using server::transport;

// Where the server is: a server URL (net/url.hpp); WebSocket paths default to /mqtt.
using target = net::server_url;

struct options {
  std::string url;
  target where;
  std::size_t clients = 1000;
  std::size_t concurrency = 100;
  unsigned threads = 1;
  unsigned source_ips = 4;
  std::string app_key = "imock-demo-key";
  std::string app_secret;
  std::optional<std::string> password;
  std::string client_prefix = "bench-";
  std::string user_prefix = "user-";
  std::uint16_t keep_alive = 600;
  bool plain = false;
  std::optional<std::filesystem::path> ca_file;
  double connect_timeout_s = 10;
  double timeout_s = 60;
  std::optional<double> hold_seconds;
  std::optional<std::filesystem::path> hold_file;
  std::optional<std::filesystem::path> ready_file;
  bool progress = false;
};

bool fd_exhausted(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open ||
         ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

double ms_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A one-line JSON object written in insertion order, with numbers as people write
// them (Boost.JSON prints every double in exponent form: 1.2834E4).
class json_line {
 public:
  json_line& add(std::string_view key, std::string_view text) {
    return raw(key, json::serialize(json::string(text)));
  }
  json_line& add(std::string_view key, const char* text) {
    return add(key, std::string_view(text));
  }
  json_line& add(std::string_view key, bool b) { return raw(key, b ? "true" : "false"); }
  json_line& add(std::string_view key, std::size_t n) { return raw(key, std::to_string(n)); }
  json_line& add(std::string_view key, unsigned n) { return raw(key, std::to_string(n)); }
  json_line& add(std::string_view key, double x) {  // 3 decimals, trailing zeros dropped
    std::array<char, 64> buf{};
    std::snprintf(buf.data(), buf.size(), "%.3f", x);
    std::string text(buf.data());
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    return raw(key, text);
  }
  json_line& add(std::string_view key, const std::map<std::string, std::size_t>& m) {
    json_line inner;
    for (const auto& [k, v] : m) inner.add(k, v);
    return raw(key, inner.str());
  }
  [[nodiscard]] std::string str() const { return "{" + body_ + "}"; }

 private:
  json_line& raw(std::string_view key, std::string_view value) {
    if (!body_.empty()) body_ += ',';
    body_ += json::serialize(json::string(key));
    body_ += ':';
    body_ += value;
    return *this;
  }
  std::string body_;
};

// What all workers share. Written before the threads start, except the atomics
// and what `mu` guards.
struct shared_state {
  const options& opts;
  tcp::endpoint server;
  std::shared_ptr<ssl::context> tls;
  unsigned workers = 1;
  steady::time_point start;
  steady::time_point deadline;
  std::atomic<bool> stop_opening{false};  // fd exhaustion: no new sockets anywhere
  std::atomic<unsigned> workers_done{0};  // workers whose connect phase is over
  std::atomic<std::size_t> opened{0};     // sockets opened (attempts started)
  std::atomic<std::size_t> connected{0};
  std::atomic<std::size_t> finished{0};  // attempts that ended (any outcome)
  std::atomic<bool> finish{false};       // the hold is over: every worker stops
  std::atomic<bool> timed_out{false};
  std::mutex mu;
  std::string stop_reason;  // why opening stopped early (guarded by mu)
};

// One worker's counts; merged after the threads join.
struct tally {
  std::size_t attempted = 0;
  std::size_t connected = 0;
  std::size_t errors = 0;
  std::size_t dropped = 0;                         // closed by the broker while held
  std::map<std::string, std::size_t> refused;      // CONNACK reason -> count
  std::map<std::string, std::size_t> error_kinds;  // "stage: message" -> count
  std::map<std::string, std::size_t> drop_kinds;
  std::vector<double> latency_ms;  // CONNECT sent -> CONNACK received
  std::vector<double> setup_ms;    // socket opened -> CONNACK received
  steady::time_point connect_end{};
};

class worker;

// A connection attempt, whatever its stream type.
class client_base {
 public:
  enum class phase { in_flight, held, done };
  virtual ~client_base() = default;
  /// Opens the socket and starts connect / handshake / CONNECT. False when no
  /// socket could be opened (then nothing is pending and the worker decides).
  virtual bool start(boost::system::error_code& open_error) = 0;
  /// Closes the socket; pending handlers then see operation_aborted and do nothing.
  virtual void close() = 0;

  phase state = phase::in_flight;
  steady::time_point opened{};
  std::size_t inflight_slot = 0;  // index in the worker's in-flight list
};

class worker {
 public:
  worker(shared_state& shared, unsigned index) : shared_(shared), index_(index), sweep_(io_) {
    const auto& o = shared_.opts;
    const std::size_t n = o.clients;
    mine_ = n > index_ ? (n - index_ + shared_.workers - 1) / shared_.workers : 0;
    concurrency_ =
        std::max<std::size_t>(1, (o.concurrency + shared_.workers - 1) / shared_.workers);
    clients_.reserve(mine_);
    result.latency_ms.reserve(mine_);
    result.setup_ms.reserve(mine_);
  }

  /// Runs the whole life of this worker's clients; returns when the run is over.
  void run() {
    asio::post(io_, [this] {
      launch_more();
      schedule_sweep();
    });
    io_.run();
    // Destroying the clients closes their sockets while io_ still exists.
    clients_.clear();
  }

  // --- called by the clients ------------------------------------------------------
  void on_connack(client_base& c, steady::time_point sent, std::uint8_t reason,
                  const std::string* rc_code) {
    const auto now = steady::now();
    if (reason == 0) {
      c.state = client_base::phase::held;
      ++result.connected;
      shared_.connected.fetch_add(1, std::memory_order_relaxed);
      result.latency_ms.push_back(ms_between(sent, now));
      result.setup_ms.push_back(ms_between(c.opened, now));
    } else {
      std::string key = "0x";
      static constexpr char k_hex[] = "0123456789abcdef";
      key.push_back(k_hex[reason >> 4]);
      key.push_back(k_hex[reason & 0xF]);
      key += " ";
      key += mqtt::reason_name(reason);
      if (rc_code != nullptr) key += " rc-code " + *rc_code;
      ++result.refused[key];
      c.state = client_base::phase::done;
      c.close();
    }
    attempt_over(c);
  }

  void on_failed(client_base& c, const std::string& kind) {
    if (c.state == client_base::phase::done) return;
    if (c.state == client_base::phase::held) {
      // The broker closed a held connection (keep alive, kick, shutdown, ...).
      ++result.dropped;
      ++result.drop_kinds[kind];
      c.state = client_base::phase::done;
      c.close();
      return;
    }
    ++result.errors;
    ++result.error_kinds[kind];
    c.state = client_base::phase::done;
    c.close();
    attempt_over(c);
  }

  shared_state& shared() { return shared_; }
  asio::io_context& io() { return io_; }
  tally result;

 private:
  void attempt_over(client_base& c) {
    // Swap-remove from the in-flight list.
    auto* last = inflight_.back();
    inflight_[c.inflight_slot] = last;
    last->inflight_slot = c.inflight_slot;
    inflight_.pop_back();
    shared_.finished.fetch_add(1, std::memory_order_relaxed);
    launch_more();
  }

  void launch_more();
  void schedule_sweep();
  void sweep();
  void end_connect_phase() {
    if (connect_over_) return;
    connect_over_ = true;
    result.connect_end = steady::now();
    shared_.workers_done.fetch_add(1);
  }
  void begin_hold();
  void write_ready_file() const;
  void report_progress();

  shared_state& shared_;
  unsigned index_;
  asio::io_context io_{1};
  asio::steady_timer sweep_;
  std::size_t mine_ = 0;
  std::size_t next_ = 0;  // clients of mine launched so far
  std::size_t concurrency_ = 1;
  std::vector<std::shared_ptr<client_base>> clients_;
  std::vector<client_base*> inflight_;
  bool connect_over_ = false;
  bool holding_ = false;  // worker 0 only: the hold has begun
  steady::time_point hold_start_{};
  steady::time_point last_progress_{};
};

// One MQTT connection over the --url's transport (net::client_stream), through
// CONNECT and CONNACK, then held: a close by the broker is counted as a drop. The
// worker owns every client until its io_context has stopped; a closed client's
// stream says nothing more.
class client final : public client_base,
                     public net::stream_events,
                     public std::enable_shared_from_this<client> {
 public:
  client(worker& w, std::size_t index) : worker_(w), index_(index) {}

  bool start(boost::system::error_code& ec) override {
    const auto& sh = worker_.shared();
    const auto& where = sh.opts.where;
    net::stream_target target{.via = where.via,
                              .host = where.host,
                              .port = where.port,
                              .address = sh.server.address().to_string(),
                              .path = where.path,
                              .user_agent = "imock-connect-bench",
                              .source = source_address(),
                              .tls = sh.tls};
    opened = steady::now();
    stream_ = net::make_client_stream(worker_.io().get_executor(), std::move(target),
                                      weak_from_this());
    starting_ = true;
    stream_->start();  // an IP literal: a socket that cannot be opened says so in here
    starting_ = false;
    if (open_error_) {
      ec = *open_error_;
      return false;
    }
    return true;
  }

  void close() override {
    if (stream_) stream_->close();
  }

 private:
  // Several loopback source addresses multiply the (source, destination) pairs, so
  // tens of thousands of connections to one port do not run out of ephemeral ports.
  std::string source_address() const {
    const auto& sh = worker_.shared();
    const unsigned k = sh.opts.source_ips;
    if (k <= 1 || !sh.server.address().is_v4() || !sh.server.address().is_loopback()) return "";
    const auto host = 0x7F000001u + static_cast<std::uint32_t>(index_ % k);  // 127.0.0.x
    return asio::ip::address_v4(host).to_string();
  }

  void on_stream_up() override {
    if (state == phase::done) return;
    const auto& o = worker_.shared().opts;
    mqtt::connect c;
    c.client_id = o.client_prefix + std::to_string(index_);
    c.clean_start = true;
    c.keep_alive = o.keep_alive;
    c.username = o.app_key;
    if (!o.app_secret.empty()) {
      c.password = token::issue(o.app_key, o.user_prefix + std::to_string(index_), o.app_secret,
                                wall_now_ms());
    } else if (o.password) {
      c.password = *o.password;
    }
    if (!o.plain) {
      c.props.user_properties = {{"imock-platform", "desktop"},
                                 {"imock-sdk", "imock-connect-bench"}};
    }
    sent_ = steady::now();
    stream_->send(mqtt::encode(c));
  }

  // Reads until CONNACK, then keeps reading while held so a close by the broker is
  // noticed (and counted as dropped).
  void on_stream_bytes(std::string_view bytes) override {
    if (state == phase::done) return;
    decoder_.feed(bytes);
    std::error_code dec;
    while (auto p = decoder_.next(dec)) {
      if (state == phase::in_flight) {
        const auto* ack = std::get_if<mqtt::connack>(&*p);
        if (ack == nullptr)
          return fail_with("read CONNACK: got " + std::string(mqtt::type_name(mqtt::type_of(*p))));
        worker_.on_connack(*this, sent_, ack->reason, ack->props.find_user_property("rc-code"));
        if (state == phase::done) return;  // refused
      } else if (const auto* d = std::get_if<mqtt::disconnect>(&*p)) {
        return fail_with("held: DISCONNECT " + std::string(mqtt::reason_name(d->reason)));
      }
    }
    if (dec) return fail_with("decode: " + decoder_.error_detail());
    if (decoder_.buffered() == 0) decoder_ = mqtt::decoder();  // idle: no buffer
  }

  void on_stream_down(net::stream_stage at, const boost::system::error_code& e) override {
    if (starting_ && at == net::stream_stage::open) {
      open_error_ = e;  // start() returns it to the worker
      return;
    }
    if (state == phase::done) return;
    std::string stage(net::to_string(at));
    if (at == net::stream_stage::read || at == net::stream_stage::write) {
      stage = state == phase::held ? "held"
              : at == net::stream_stage::read ? "read CONNACK"
                                              : "write CONNECT";
    }
    const std::string msg = e == asio::error::eof || e == websocket::error::closed
                                ? std::string("closed by peer")
                                : e.message();
    fail_with(stage + ": " + msg);
  }

  void fail_with(const std::string& kind) { worker_.on_failed(*this, kind); }

  worker& worker_;
  std::size_t index_;
  std::shared_ptr<net::client_stream> stream_;
  mqtt::decoder decoder_;
  steady::time_point sent_{};
  bool starting_ = false;
  std::optional<boost::system::error_code> open_error_;
};

std::shared_ptr<client_base> make_client(worker& w, std::size_t index) {
  return std::make_shared<client>(w, index);
}

void worker::launch_more() {
  while (!connect_over_ && inflight_.size() < concurrency_ && next_ < mine_ &&
         !shared_.stop_opening.load(std::memory_order_relaxed) &&
         !shared_.finish.load(std::memory_order_relaxed)) {
    const std::size_t index = index_ + next_ * shared_.workers;
    auto c = make_client(*this, index);
    boost::system::error_code ec;
    if (!c->start(ec)) {
      if (fd_exhausted(ec)) {
        // Out of file descriptors: keep what is open, stop opening, say why once.
        std::lock_guard lock(shared_.mu);
        if (shared_.stop_opening.exchange(true) == false) {
          shared_.stop_reason = "open: " + ec.message() + " after " +
                                std::to_string(shared_.opened.load()) + " sockets";
          std::fprintf(stderr, "imock-connect-bench: %s; stopped opening\n",
                       shared_.stop_reason.c_str());
        }
        break;
      }
      ++next_;
      ++result.attempted;
      ++result.errors;
      ++result.error_kinds["open: " + ec.message()];
      shared_.finished.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    ++next_;
    ++result.attempted;
    shared_.opened.fetch_add(1, std::memory_order_relaxed);
    c->inflight_slot = inflight_.size();
    inflight_.push_back(c.get());
    clients_.push_back(std::move(c));
  }
  if (inflight_.empty() && (next_ >= mine_ || shared_.stop_opening.load())) end_connect_phase();
}

void worker::schedule_sweep() {
  sweep_.expires_after(k_sweep_period);
  sweep_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

void worker::sweep() {
  const auto now = steady::now();
  const auto& o = shared_.opts;
  if (now >= shared_.deadline) {
    shared_.timed_out = true;
    shared_.finish = true;
  }
  if (shared_.finish) {
    // Attempts still in flight when the run times out count as errors.
    const std::vector<client_base*> unfinished = inflight_;
    for (auto* c : unfinished) on_failed(*c, "unfinished at --timeout");
    if (!connect_over_) end_connect_phase();
    io_.stop();
    return;
  }
  if (!connect_over_) {
    // Per-attempt deadline. Copy: on_failed edits the in-flight list.
    const auto limit = std::chrono::duration<double>(o.connect_timeout_s);
    std::vector<client_base*> late;
    for (auto* c : inflight_) {
      if (now - c->opened > limit) late.push_back(c);
    }
    for (auto* c : late) on_failed(*c, "timeout");
  }
  if (o.progress && index_ == 0) report_progress();
  if (index_ == 0 && shared_.workers_done.load() == shared_.workers) {
    if (!holding_) begin_hold();
    const bool hold_time_over =
        !o.hold_seconds || now - hold_start_ >= std::chrono::duration<double>(*o.hold_seconds);
    const bool hold_file_gone = !o.hold_file || !std::filesystem::exists(*o.hold_file);
    if (hold_time_over && hold_file_gone) shared_.finish = true;
  }
  schedule_sweep();
}

void worker::begin_hold() {
  holding_ = true;
  hold_start_ = steady::now();
  if (shared_.opts.ready_file) write_ready_file();
}

// Written once every attempt has ended, while the connections are held.
void worker::write_ready_file() const {
  const auto& path = *shared_.opts.ready_file;
  json_line o;
  o.add("clients", shared_.opts.clients)
      .add("connected", shared_.connected.load())
      .add("finished", shared_.finished.load())
      .add("pid", static_cast<std::size_t>(::getpid()));
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << o.str() << "\n";
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);  // readers never see half a file
  if (ec) std::fprintf(stderr, "imock-connect-bench: cannot write %s\n", path.c_str());
}

void worker::report_progress() {
  const auto now = steady::now();
  if (now - last_progress_ < std::chrono::seconds(1)) return;
  last_progress_ = now;
  std::fprintf(stderr, "[%.1fs] finished %zu/%zu, connected %zu\n",
               std::chrono::duration<double>(now - shared_.start).count(), shared_.finished.load(),
               shared_.opts.clients, shared_.connected.load());
}

/// Nearest-rank percentile of sorted `v` (0 when empty).
double percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{
      "imock-connect-bench: open N MQTT 5 connections to one broker at a bounded concurrency,\n"
      "measure CONNECT->CONNACK latency and the connect rate, hold the connections idle, and\n"
      "print a one-line JSON summary on stdout. Works with imock-server and any MQTT 5 broker.",
      "imock-connect-bench"};
  app.add_option("target", o.url,
                 "mqtt://HOST:PORT, mqtts://HOST:PORT, ws://HOST:PORT/mqtt or wss://HOST:PORT/mqtt")
      ->required();
  app.add_option("-n,--clients", o.clients, "connections to open")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-c,--concurrency", o.concurrency,
                 "attempts in flight at once, all threads (a broker's listen backlog, often "
                 "100 or 128, drops SYNs beyond it: they are retried after 1 s)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "event-loop threads, each with its share of clients")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  app.add_option("--source-ips", o.source_ips,
                 "spread source addresses over 127.0.0.1..127.0.0.K (IPv4 loopback targets)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 254u));
  app.add_option("--app-key", o.app_key, "CONNECT user name")->capture_default_str();
  auto* secret = app.add_option(
      "--app-secret", o.app_secret,
      "mint each client's password locally: token::issue(app key, USER-PREFIX<i>, secret, now)");
  app.add_option("--password", o.password, "a fixed CONNECT password instead of a token")
      ->excludes(secret);
  app.add_option("--client-prefix", o.client_prefix, "client id = PREFIX<i>")
      ->capture_default_str();
  app.add_option("--user-prefix", o.user_prefix, "token user id = PREFIX<i>")
      ->capture_default_str();
  app.add_option("--keep-alive", o.keep_alive, "CONNECT keep alive, seconds")
      ->capture_default_str();
  app.add_flag("--plain", o.plain, "send no imock user properties (a plain MQTT 5 client)");
  app.add_option("--ca-file", o.ca_file,
                 "verify TLS servers against this CA (default: accept any certificate)")
      ->check(CLI::ExistingFile);
  app.add_option("--connect-timeout", o.connect_timeout_s,
                 "seconds from socket open to CONNACK before an attempt counts as an error")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--timeout", o.timeout_s, "seconds the whole run may take, hold included")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--hold-seconds", o.hold_seconds,
                 "after every attempt has ended, keep the connections this long")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--hold-file", o.hold_file,
                 "after every attempt has ended, keep the connections until FILE is deleted");
  app.add_option("--ready-file", o.ready_file,
                 "write a JSON line to FILE when every attempt has ended and the hold begins");
  app.add_flag("--progress", o.progress, "print progress to stderr every second");
  CLI11_PARSE(app, argc, argv);

  std::string why;
  auto where = net::parse_server_url(o.url, &why);
  if (!where) {
    std::fprintf(stderr, "imock-connect-bench: %s\n", why.c_str());
    return 2;
  }
  o.where = std::move(*where);
  if (!o.app_secret.empty() && !token::issue(o.app_key, o.user_prefix + "0", o.app_secret, 0)) {
    std::fprintf(stderr, "imock-connect-bench: cannot mint a token for app key '%s'\n",
                 o.app_key.c_str());
    return 2;
  }
  const std::uint64_t fd_limit = net::raise_open_files_limit();
  if (fd_limit != RLIM_INFINITY && o.clients + 32 > fd_limit) {
    std::fprintf(stderr,
                 "imock-connect-bench: %zu clients need more than the %llu open files allowed; "
                 "it will stop opening when they run out\n",
                 o.clients, static_cast<unsigned long long>(fd_limit));
  }

  shared_state shared{.opts = o};
  shared.workers = o.threads;
  try {
    asio::io_context resolver_io;
    tcp::resolver resolver(resolver_io);
    const auto results = resolver.resolve(o.where.host, std::to_string(o.where.port));
    shared.server = results.begin()->endpoint();
    if (o.where.via == transport::tls || o.where.via == transport::wss) {
      shared.tls = net::make_client_context(o.ca_file.has_value(), o.ca_file);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imock-connect-bench: %s: %s\n", o.url.c_str(), e.what());
    return 2;
  }

  shared.start = steady::now();
  shared.deadline = shared.start + std::chrono::duration_cast<steady::duration>(
                                       std::chrono::duration<double>(o.timeout_s));
  std::vector<std::unique_ptr<worker>> workers;
  for (unsigned i = 0; i < o.threads; ++i) workers.push_back(std::make_unique<worker>(shared, i));
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < o.threads; ++i) threads.emplace_back([&w = *workers[i]] { w.run(); });
  workers[0]->run();
  for (auto& t : threads) t.join();

  tally all;
  for (auto& w : workers) {
    auto& r = w->result;
    all.attempted += r.attempted;
    all.connected += r.connected;
    all.errors += r.errors;
    all.dropped += r.dropped;
    for (const auto& [k, v] : r.refused) all.refused[k] += v;
    for (const auto& [k, v] : r.error_kinds) all.error_kinds[k] += v;
    for (const auto& [k, v] : r.drop_kinds) all.drop_kinds[k] += v;
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    all.setup_ms.insert(all.setup_ms.end(), r.setup_ms.begin(), r.setup_ms.end());
    all.connect_end = std::max(all.connect_end, r.connect_end);
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  std::sort(all.setup_ms.begin(), all.setup_ms.end());
  const double seconds = std::chrono::duration<double>(all.connect_end - shared.start).count();

  json_line out;
  out.add("target", o.url)
      .add("transport", to_string(o.where.via))
      .add("clients", o.clients)
      .add("connected", all.connected)
      .add("refused", all.refused)
      .add("errors", all.errors)
      .add("seconds", seconds)
      .add("rate_per_s",
           seconds > 0 ? std::round(static_cast<double>(all.connected) / seconds) : 0.0)
      .add("p50_ms", percentile(all.latency_ms, 0.50))
      .add("p99_ms", percentile(all.latency_ms, 0.99))
      .add("max_ms", percentile(all.latency_ms, 1.0))
      .add("setup_p50_ms", percentile(all.setup_ms, 0.50))
      .add("setup_p99_ms", percentile(all.setup_ms, 0.99))
      .add("attempted", all.attempted)
      .add("dropped_while_held", all.dropped)
      .add("concurrency", o.concurrency)
      .add("threads", o.threads)
      .add("timed_out", shared.timed_out.load());
  if (!all.error_kinds.empty()) out.add("error_kinds", all.error_kinds);
  if (!all.drop_kinds.empty()) out.add("drop_kinds", all.drop_kinds);
  if (!shared.stop_reason.empty()) out.add("stopped_opening", shared.stop_reason);
  std::printf("%s\n", out.str().c_str());
  std::fflush(stdout);
  return all.connected == o.clients && !shared.timed_out ? 0 : 1;
}
