#include "imock/benchmarks/storm/storm_driver.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

#include "imock/base/json_exact.hpp"
#include "imock/benchmarks/storm/storm_sim.hpp"
#include "imock/client/sdk.hpp"

namespace imock::storm {
namespace json = boost::json;

namespace {

constexpr std::int64_t k_status_timeout_ms = 60'000;
// Followers: matching events closer together than this belong to one storm (shard 0
// pauses --between, at least a second, between storms).
constexpr std::int64_t k_storm_gap_ms = 500;

client::jitter_kind jitter_of(const std::string& policy) {
  if (policy == "full-jitter") return client::jitter_kind::full;
  if (policy == "decorrelated") return client::jitter_kind::decorrelated;
  return client::jitter_kind::none;
}

// --- the clients in this process -------------------------------------------------------

class local_population final : public population {
 public:
  explicit local_population(const group_options& g) : group_(g) {}

  std::string prepare() override { return group_.prepare(); }
  void start_ramp() override { group_.start_ramp(); }
  group_status status(std::int64_t at_us) override {
    group_.sample(at_us);
    return group_.status();
  }
  void end_ramp(std::int64_t at_us) override {
    group_.end_ramp(at_us);
    memory_.at_ramp_end(group_.status().connected);
  }
  void arm(int index, const std::string& trigger, std::int64_t at_us) override {
    group_.arm(index, trigger, at_us);
  }
  void set_origin(std::int64_t at_us) override { group_.set_origin(at_us); }
  void end_storm(std::int64_t at_us) override { group_.end_storm(at_us); }
  void set_network(bool available) override { group_.set_network(available); }
  std::string finish(run_result& r) override {
    group_.finish(r);
    memory_.fill(r.tool);
    return {};
  }

 private:
  process_memory memory_;  // first: read before the clients exist
  client_group group_;
};

// --- the clients in child processes (--procs) -----------------------------------------

// One child: itself, its stdin and stdout pipes (base/process.hpp).
using child_proc = std::unique_ptr<child_process>;

class child_population final : public population {
 public:
  child_population(const options& o, std::string url) : o_(o), url_(std::move(url)) {}
  ~child_population() override {
    for (auto& c : children_) {
      c->close_stdin();
      c->stop(std::chrono::seconds(5));
    }
  }

  std::string prepare() override {
    const auto exe = self_exe().string();
    for (unsigned i = 0; i < o_.procs; ++i) {
      std::string why;
      auto c = child_process::spawn(
          child_argv(exe, i),
          {.in = spawn_options::stream::pipe, .out = spawn_options::stream::pipe}, &why);
      if (!c) return "cannot start a client process: " + why;
      children_.push_back(std::move(c));
    }
    return broadcast("prepare", 120'000);
  }
  void start_ramp() override { error_ = broadcast("ramp"); }
  group_status status(std::int64_t at_us) override {
    group_status sum;
    sum.groups = 0;
    for (auto& c : children_) {
      const auto reply = ask(c, "status " + std::to_string(at_us), k_status_timeout_ms);
      std::istringstream in(reply);
      std::string word;
      group_status g;
      in >> word >> g.clients >> g.started >> g.connected >> g.alive >> g.attempts >> g.at_arm >>
          g.affected >> g.recovered >> g.groups >> g.origin_set >> g.rss_kb;
      if (word != "status") {
        if (error_.empty()) error_ = "child " + std::to_string(c->pid()) + ": " + reply;
        continue;
      }
      sum += g;
    }
    return sum;
  }
  void end_ramp(std::int64_t at_us) override {
    error_ = broadcast("end_ramp " + std::to_string(at_us));
  }
  void arm(int index, const std::string& trigger, std::int64_t at_us) override {
    error_ =
        broadcast("arm " + std::to_string(index) + " " + trigger + " " + std::to_string(at_us));
  }
  void set_origin(std::int64_t at_us) override {
    error_ = broadcast("origin " + std::to_string(at_us));
  }
  void end_storm(std::int64_t at_us) override {
    error_ = broadcast("end_storm " + std::to_string(at_us));
  }
  void set_network(bool available) override {
    error_ = broadcast(std::string("network ") + (available ? "1" : "0"));
  }
  std::string finish(run_result& r) override {
    std::vector<run_result> parts;
    std::string err;
    for (auto& c : children_) {
      const auto reply = ask(c, "finish", 120'000);
      if (reply.rfind("result ", 0) != 0) {
        err = "child " + std::to_string(c->pid()) + " sent no result: " + reply;
        continue;
      }
      std::string why;
      boost::system::error_code ec;
      const auto v = json_exact::parse(std::string_view(reply).substr(7), ec);
      auto part = ec ? std::nullopt : from_json(v, &why);
      if (!part) {
        err = "child " + std::to_string(c->pid()) + ": bad result: " + (ec ? ec.message() : why);
        continue;
      }
      parts.push_back(std::move(*part));
    }
    for (auto& c : children_) {
      c->close_stdin();
      c->wait_exit(std::chrono::seconds(60));
    }
    if (!parts.empty()) r = merge(parts);
    if (err.empty()) err = error_;
    return err;
  }

 private:
  std::vector<std::string> child_argv(const std::string& exe, unsigned i) const {
    auto num = [](auto x) {
      std::ostringstream s;
      s << x;
      return s.str();
    };
    std::vector<std::string> a = {exe,
                                  "--child",
                                  "--target",
                                  url_,
                                  "--clients",
                                  num(o_.clients),
                                  "--shard",
                                  num(i) + "/" + num(o_.procs),
                                  "--threads",
                                  num(o_.threads),
                                  "--source-ips",
                                  num(o_.source_ips),
                                  "--ramp",
                                  num(o_.ramp),
                                  "--heartbeat",
                                  num(o_.heartbeat),
                                  "--connect-timeout",
                                  num(o_.connect_timeout),
                                  "--messages-per-s",
                                  num(o_.messages_per_s),
                                  "--policy",
                                  o_.policy,
                                  "--seed",
                                  num(o_.seed),
                                  "--app-key",
                                  o_.app_key,
                                  "--app-secret",
                                  o_.app_secret,
                                  "--user-prefix",
                                  o_.user_prefix,
                                  "--bucket-ms",
                                  num(o_.bucket_ms),
                                  "--duration-limit",
                                  num(o_.duration_limit),
                                  "--t0-ms",
                                  num(o_.t0_ms),
                                  "--allow-remote"};
    if (o_.plain) a.emplace_back("--plain");
    if (!o_.navigation_url.empty()) {
      a.emplace_back("--navigation-url");
      a.emplace_back(o_.navigation_url);
    }
    return a;
  }

  static bool write_line(child_proc& c, const std::string& line) { return c->write(line + "\n"); }

  std::string read_line(child_proc& c, std::int64_t timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (auto line = c->read_line(deadline)) return std::move(*line);
    if (c->output_closed()) return "error: the child exited";
    return "error: no answer within " + std::to_string(timeout_ms) + " ms";
  }

  std::string ask(child_proc& c, const std::string& line, std::int64_t timeout_ms) {
    if (!write_line(c, line)) return "error: the child is gone";
    return read_line(c, timeout_ms);
  }

  // Sends `line` to every child, then collects every answer.
  std::string broadcast(const std::string& line, std::int64_t timeout_ms = k_status_timeout_ms) {
    std::string err;
    for (auto& c : children_) {
      if (!write_line(c, line) && err.empty()) err = "a child is gone";
    }
    for (auto& c : children_) {
      const auto reply = read_line(c, timeout_ms);
      if (reply != "ok" && err.empty()) err = "child " + std::to_string(c->pid()) + ": " + reply;
    }
    return err;
  }

  const options& o_;
  std::string url_;
  std::vector<child_proc> children_;
  std::string error_;
};

// --- the run --------------------------------------------------------------------------

enum class role { solo, leader, follower };

// Real runs' time: the monotonic clock in epoch units (storm_clients.hpp).
class wall_clock final : public run_clock {
 public:
  std::int64_t now_us() override { return storm::now_us(); }
  void wait_until(std::int64_t t_us) override {
    const auto now = storm::now_us();
    if (t_us > now) std::this_thread::sleep_for(std::chrono::microseconds(t_us - now));
  }
};

struct trigger_rules {
  bool server_side = false;  // needs the admin API (or, for restart, our own broker)
  bool need_all = true;      // every client is expected to lose its connection
};

trigger_rules rules_for(const std::string& trigger) {
  if (trigger == "blackhole") return {true, false};
  if (trigger == "flap" || trigger == "none") return {false, true};
  return {true, true};  // drop-all, restart, kicks, navigation-outage
}

class driver {
 public:
  driver(const options& o, std::atomic<bool>& stop) : o_(o), stop_(stop) {}

  run_result run();

 private:
  std::string setup_target();
  bool tick();  // one sampling step; false: stop now (duration limit or signal)
  bool wait_for(double seconds);
  void progress(const group_status& s, bool force = false);
  void sample_server(std::int64_t at_us);
  std::string fire(int index, std::int64_t& origin_us, std::int64_t& last_kick_us);
  void kick_all(std::int64_t& last_kick_us);
  bool wait_event(int index, std::int64_t& origin_us);
  std::vector<std::string> all_users() const;
  void note(const std::string& text) {
    result_.notes.push_back(text);
    if (!o_.json) std::fprintf(stderr, "imock-storm: %s\n", text.c_str());
  }
  // The run's time: the wall clock's, or the simulation's.
  [[nodiscard]] std::int64_t now_us() const { return clock_->now_us(); }
  [[nodiscard]] std::int64_t now_ms() const { return now_us() / 1000; }
  [[nodiscard]] double elapsed_s() const { return static_cast<double>(now_us() - start_us_) / 1e6; }
  [[nodiscard]] double left_s() const { return o_.duration_limit - elapsed_s(); }

  const options& o_;
  std::atomic<bool>& stop_;
  role role_ = role::solo;
  run_result result_;
  std::string url_;
  std::string kind_;  // imock, mosquitto, url
  std::string admin_base_;
  wall_clock wall_;
  std::unique_ptr<sim_world> sim_;  // --sim: the clock, the server and the clients' world
  run_clock* clock_ = &wall_;
  std::unique_ptr<broker_process> broker_;
  std::unique_ptr<admin_client> http_admin_;
  admin_api* admin_ = nullptr;  // http_admin_ or sim_
  std::unique_ptr<population> pop_;
  std::int64_t start_us_ = 0;
  std::int64_t next_tick_us_ = 0;
  std::int64_t last_progress_us_ = 0;
  group_status last_;                          // at the last progress line
  group_status last_status_;                   // at the last tick
  std::vector<storm_result> server_by_storm_;  // server readings per storm
  std::string phase_ = "start";
  bool tty_ = false;
  bool show_progress_ = false;
  std::uint64_t events_since_ = 0;
  std::int64_t last_match_ms_ = INT64_MIN / 2;  // last trigger event seen (server ms)
  std::size_t total_clients_ = 0;               // this run's population (all procs)
};

std::string driver::setup_target() {
  if (sim_) {
    url_ = sim_->mqtt_url();
    kind_ = "imock";
    admin_base_ = sim_->http_base();
    return {};
  }
  if (!o_.target.empty()) {
    url_ = o_.target;
    kind_ = "url";
    admin_base_ = o_.admin;
    if (!admin_base_.empty()) kind_ = "imock";
    return {};
  }
  broker_options b;
  b.kind = o_.broker == "mosquitto" ? broker_kind::mosquitto : broker_kind::imock;
  if (b.kind == broker_kind::imock) {
    b.binary = o_.server_bin;
    if (b.binary.empty()) {
      const auto dir = self_exe().parent_path();
      for (const auto& p : {dir / "imock-server", dir / ".." / "server" / "imock-server"}) {
        if (::access(p.c_str(), X_OK) == 0) {
          b.binary = std::filesystem::weakly_canonical(p).string();
          break;
        }
      }
      if (b.binary.empty()) {
        return "cannot find imock-server next to imock-storm (" + dir.string() +
               "/imock-server or ../server/imock-server): give --server-bin, or --target";
      }
    }
  } else {
    b.binary = o_.mosquitto_bin;
  }
  b.max_connections = o_.clients + 1000;
  b.navigation_cache_s = static_cast<std::int64_t>(o_.navigation_cache);
  b.fd_limit = o_.clients + 1000;
  b.work_dir =
      std::filesystem::temp_directory_path() / ("imock-storm-" + std::to_string(::getpid()));
  broker_ = std::make_unique<broker_process>(b);
  if (auto err = broker_->start(); !err.empty()) return err;
  if (broker_->fd_limit() < o_.clients + 64) {
    return o_.broker + " may open only " + std::to_string(broker_->fd_limit()) +
           " files, too few for " + std::to_string(o_.clients) +
           " connections (one process of this machine holds at most about " +
           std::to_string(broker_->fd_limit() - 64) + ")";
  }
  url_ = broker_->mqtt_url();
  kind_ = o_.broker;
  admin_base_ = broker_->http_base();
  return {};
}

void driver::sample_server(std::int64_t at_us) {
  if (!broker_ || !broker_->running()) return;
  const auto p = read_proc(broker_->pid());
  if (!p.ok) return;
  result_.server_samples.push_back({at_us / 1000, p.rss_kb, p.cpu_ms});
}

void driver::progress(const group_status& s, bool force) {
  if (!show_progress_) return;
  const auto now = now_us();
  const auto period = tty_ ? 250'000 : 1'000'000;
  if (!force && now - last_progress_us_ < period) return;
  const double dt = last_progress_us_ == 0 ? 0 : static_cast<double>(now - last_progress_us_) / 1e6;
  const double rate = dt > 0 ? static_cast<double>(s.attempts - last_.attempts) / dt : 0;
  last_progress_us_ = now;
  last_ = s;
  char line[256];
  std::snprintf(line, sizeof line,
                "[%6.1fs] %-14s connected %llu/%llu  attempts %6.0f/s  affected %llu  back %llu",
                elapsed_s(), phase_.c_str(), static_cast<unsigned long long>(s.connected),
                static_cast<unsigned long long>(s.alive), rate,
                static_cast<unsigned long long>(s.affected),
                static_cast<unsigned long long>(s.recovered));
  if (tty_) {
    std::fprintf(stderr, "\r%s\x1b[K", line);
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
  std::fflush(stderr);
}

bool driver::tick() {
  const auto period = static_cast<std::int64_t>(o_.bucket_ms) * 1000;
  auto now = now_us();
  if (next_tick_us_ == 0) next_tick_us_ = now;
  if (now < next_tick_us_) {
    clock_->wait_until(next_tick_us_);
    now = now_us();
  }
  // Sample in the middle of a bucket so a late tick still lands in the right one.
  next_tick_us_ = std::max(next_tick_us_ + period, now + period / 4);
  const auto s = pop_->status(now);
  sample_server(now);
  progress(s);
  last_status_ = s;
  if (stop_.load()) {
    if (result_.stopped_by == "done") result_.stopped_by = "interrupted";
    return false;
  }
  if (sim_ && !sim_->error().empty()) {
    result_.stopped_by = "error";
    note(sim_->error());
    return false;
  }
  if (left_s() <= 0) {
    if (result_.stopped_by == "done") result_.stopped_by = "duration-limit";
    return false;
  }
  return true;
}

bool driver::wait_for(double seconds) {
  const auto until = now_us() + static_cast<std::int64_t>(seconds * 1e6);
  while (now_us() < until) {
    if (!tick()) return false;
  }
  return true;
}

std::vector<std::string> driver::all_users() const {
  // The users of every process or shard of this run, as group_for names them.
  std::vector<std::string> users;
  const std::size_t parts = o_.procs > 1 ? o_.procs : o_.shards;
  for (std::size_t p = 0; p < parts; ++p) {
    const auto range = shard_range(o_.clients, p, parts);
    for (std::size_t i = 0; i < range.size(); ++i) users.push_back(user_id(o_.user_prefix, p, i));
  }
  return users;
}

void driver::kick_all(std::int64_t& last_kick_us) {
  // Rolling kicks at kick_rate per second, on this thread, sampling between batches.
  const auto users = all_users();
  const auto start = now_us();
  std::size_t done = 0;
  std::size_t failed = 0;
  std::string first_error;
  while (done < users.size()) {
    const double due_s = static_cast<double>(now_us() - start) / 1e6;
    const auto due = std::min(users.size(), static_cast<std::size_t>(due_s * o_.kick_rate) + 1);
    while (done < due) {
      const auto res =
          admin_->post("/admin/kick", "{\"user\":" + json::serialize(json::string(users[done])) +
                                          ",\"code\":" + std::to_string(o_.kick_code) + "}");
      if (!res.ok()) {
        ++failed;
        if (first_error.empty()) first_error = res.what();
      }
      ++done;
    }
    last_kick_us = now_us();
    if (done < users.size() && !tick()) break;
  }
  if (failed > 0) {
    note(std::to_string(failed) + " of " + std::to_string(users.size()) +
         " kicks failed, first: " + first_error);
  }
}

std::string driver::fire(int index, std::int64_t& origin_us, std::int64_t& last_kick_us) {
  const auto& t = o_.trigger;
  const auto admin_call = [&](std::string_view path, const std::string& body) -> std::string {
    const auto res = admin_->post(path, body);
    return res.ok() ? std::string() : std::string(path) + ": " + res.what();
  };
  if (t == "drop-all") return admin_call("/admin/drop", "{}");
  if (t == "restart") {
    const bool process =
        o_.restart_mode == "process" || (o_.restart_mode.empty() && (kind_ != "imock" || !admin_));
    if (!process) {
      return admin_call("/admin/restart",
                        "{\"down_ms\":" + std::to_string(o_.restart_down_ms) + "}");
    }
    broker_->stop(5'000);
    // Down time counts from the exit (stopping takes a while with many connections).
    const auto down_until = now_us() + static_cast<std::int64_t>(o_.restart_down_ms) * 1000;
    while (now_us() < down_until) {
      if (!tick()) break;
    }
    if (auto err = broker_->start(); !err.empty()) return "restart: " + err;
    result_.server_pid = broker_->pid();
    return {};
  }
  if (t == "blackhole") {
    if (auto err = admin_call("/admin/blackhole", "{}"); !err.empty()) return err;
    const double hold = o_.blackhole_for > 0 ? o_.blackhole_for : 2.0 * o_.heartbeat + 2;
    wait_for(hold);  // even when stopping, release below
    origin_us = now_us();
    return admin_call("/admin/release", "{}");
  }
  if (t == "kicks") {
    kick_all(last_kick_us);
    return {};
  }
  if (t == "navigation-outage") {
    // Navigation fails (HTTP 500: 30009) from just before the drop until `outage` after
    // it; recovery counts from the drop. Clients whose cached list is fresh do not
    // notice (docs/client.md, Navigation); the others wait for the outage's end.
    if (auto err = admin_call("/admin/navigation", R"({"fail":"server"})"); !err.empty()) {
      return err;
    }
    if (auto err = admin_call("/admin/drop", "{}"); !err.empty()) return err;
    origin_us = now_us();
    wait_for(o_.outage);
    return admin_call("/admin/navigation", R"({"fail":"none"})");
  }
  if (t == "flap") {
    pop_->set_network(false);
    wait_for(static_cast<double>(o_.flap_down_ms) / 1000);
    origin_us = now_us();
    pop_->set_network(true);
    return {};
  }
  (void)index;
  return {};
}

// Shards other than 0 learn when the trigger fired from imock-server's event log.
bool driver::wait_event(int index, std::int64_t& origin_us) {
  const auto& t = o_.trigger;
  const auto matches = [&](const json::object& e) {
    const auto kind = std::string(e.at("kind").as_string());
    const auto* d = e.if_contains("detail");
    const std::string detail = d != nullptr && d->is_string() ? std::string(d->as_string()) : "";
    if (t == "blackhole") return kind == "release";
    if (kind != "admin") return false;
    if (t == "drop-all" || t == "navigation-outage") return detail.rfind("drop", 0) == 0;
    if (t == "restart") return detail.rfind("restart", 0) == 0;
    if (t == "kicks") return detail.rfind("kick", 0) == 0;
    return false;
  };
  phase_ = "wait trigger " + std::to_string(index);
  while (tick()) {
    const auto res =
        admin_->get("/admin/events?since=" + std::to_string(events_since_) + "&limit=20000");
    if (!res.ok()) continue;
    boost::system::error_code ec;
    const auto v = json::parse(res.body, ec);
    if (ec || !v.is_object()) continue;
    const auto* events = v.as_object().if_contains("events");
    if (events == nullptr || !events->is_array()) continue;
    for (const auto& e : events->as_array()) {
      if (!e.is_object()) continue;
      const auto& eo = e.as_object();
      events_since_ =
          std::max<std::uint64_t>(events_since_, eo.at("seq").to_number<std::uint64_t>());
      if (!matches(eo)) continue;
      // One storm can log many matching events (a kick per user, a release per
      // session): a storm starts at a match more than k_storm_gap_ms after the last.
      const auto t = eo.at("t_ms").to_number<std::int64_t>();
      const bool starts = t - last_match_ms_ > k_storm_gap_ms;
      last_match_ms_ = t;
      if (starts) {
        origin_us = t * 1000;
        return true;
      }
    }
  }
  return false;
}

run_result driver::run() {
  if (o_.sim) {
    sim_ = std::make_unique<sim_world>(o_);
    clock_ = sim_.get();
  }
  start_us_ = now_us();
  tty_ = ::isatty(2) != 0;
  show_progress_ = !o_.no_progress && (o_.progress || tty_);
  role_ = o_.shards <= 1 ? role::solo : (o_.shard == 0 ? role::leader : role::follower);
  result_.config = to_json(o_);
  result_.policy = o_.policy;
  result_.trigger = o_.trigger;
  result_.start_ms = start_us_ / 1000;
  result_.shard_count = o_.procs > 1 ? o_.procs : o_.shards;
  const auto finish_with_error = [&](const std::string& why) {
    result_.stopped_by = "error";
    note(why);
    result_.end_ms = now_ms();
    return result_;
  };

  if (auto err = setup_target(); !err.empty()) return finish_with_error(err);
  result_.target = url_;
  result_.target_kind = sim_ ? "sim" : kind_;
  if (broker_) result_.server_pid = broker_->pid();
  if (sim_) {
    admin_ = sim_.get();
  } else if (!admin_base_.empty()) {
    try {
      http_admin_ = std::make_unique<admin_client>(admin_base_, o_.admin_token);
      admin_ = http_admin_.get();
    } catch (const std::exception& e) {
      return finish_with_error(e.what());
    }
  }
  const auto rules = rules_for(o_.trigger);
  if (rules.server_side && !admin_) {
    const bool own_restart = o_.trigger == "restart" && broker_ && role_ == role::solo;
    if (!own_restart) {
      return finish_with_error(
          "--trigger " + o_.trigger + " needs imock-server's admin API: give --admin " +
          "http://HOST:PORT with --target, or let imock-storm start imock-server (no --target)" +
          (kind_ == "mosquitto" || o_.broker == "mosquitto"
               ? "; mosquitto has none: use --trigger restart (imock-storm restarts the "
                 "mosquitto it started) or --trigger flap"
               : ""));
    }
  }
  if (o_.trigger == "restart" && o_.restart_mode == "process" && !broker_) {
    return finish_with_error("--restart-mode process needs a broker imock-storm started itself");
  }
  if (role_ == role::follower && admin_) {
    const auto res = admin_->get("/admin/status");
    boost::system::error_code ec;
    const auto v = json::parse(res.body, ec);
    if (!res.ok() || ec) return finish_with_error("admin API: " + res.what());
    events_since_ = v.at("last_event").to_number<std::uint64_t>();
  }

  // Clients.
  const std::int64_t t0 = o_.t0_ms != 0 ? o_.t0_ms : result_.start_ms;
  options effective = o_;
  effective.t0_ms = t0;
  if (o_.navigation && effective.navigation_url.empty()) effective.navigation_url = admin_base_;
  if (o_.procs > 1) {
    pop_ = make_child_population(effective, url_);
    total_clients_ = o_.clients;
  } else {
    auto g = group_for(effective, url_, o_.shard, o_.shards);
    total_clients_ = g.count;
    pop_ = sim_ ? sim_->make_population(g) : make_local_population(g);
  }
  phase_ = "prepare";
  if (auto err = pop_->prepare(); !err.empty()) return finish_with_error(err);

  // Ramp: connect everyone, wait until all are connected (or give up).
  phase_ = "ramp";
  pop_->start_ramp();
  const double ramp_share = o_.shards > 1 ? o_.ramp / static_cast<double>(o_.shards) : o_.ramp;
  const double ramp_limit =
      (ramp_share > 0 ? static_cast<double>(total_clients_) / ramp_share : 0) + 30;
  bool go_on = true;
  while ((go_on = tick())) {
    if (last_status_.started >= last_status_.clients &&
        last_status_.connected >= last_status_.alive) {
      break;
    }
    if (elapsed_s() > ramp_limit) {
      note("ramp: only " + std::to_string(last_status_.connected) + " of " +
           std::to_string(last_status_.clients) + " clients connected after " +
           std::to_string(static_cast<int>(ramp_limit)) + " s; going on with them");
      break;
    }
  }
  pop_->end_ramp(now_us());
  progress(last_status_, true);
  if (go_on && last_status_.connected == 0) {
    note(
        "no client connected in the ramp (see failures and stopped: a wrong --app-secret "
        "gives 31004); no storm fired");
    go_on = false;
  }

  // Shard 0 of several waits for the other shards' clients (as the server counts them),
  // before the hold and before every later storm.
  const auto wait_for_shards = [&] {
    if (role_ != role::leader || !admin_) return true;
    phase_ = "wait shards";
    const auto until = now_us() + static_cast<std::int64_t>(o_.wait_all * 1e6);
    bool all = false;
    while (!all && now_us() < until) {
      if (!tick()) return false;
      const auto res = admin_->get("/admin/status");
      boost::system::error_code ec;
      const auto v = json::parse(res.body, ec);
      if (res.ok() && !ec) all = v.at("connected").to_number<std::uint64_t>() >= o_.clients;
    }
    if (!all) note("not every shard's clients were connected after --wait-all; going on");
    return true;
  };
  if (go_on) go_on = wait_for_shards();

  // Followers arm at once: the trigger comes when shard 0 decides.
  phase_ = "hold";
  if (go_on && role_ != role::follower) go_on = wait_for(o_.hold);

  const int storms = o_.trigger == "none" ? 0 : o_.storms;
  for (int k = 1; go_on && k <= storms; ++k) {
    if (left_s() < 3) {
      note("--duration-limit reached before storm " + std::to_string(k));
      result_.stopped_by = "duration-limit";
      break;
    }
    const auto before = broker_ && broker_->running() ? read_proc(broker_->pid()) : proc_stats{};
    const auto armed = now_us();
    phase_ = "storm " + std::to_string(k) + "/" + std::to_string(storms);
    pop_->arm(k, o_.trigger, armed);
    std::int64_t origin = armed;
    std::int64_t last_kick = armed;
    if (role_ == role::follower && rules.server_side) {
      if (!wait_event(k, origin)) break;
    } else if (auto err = fire(k, origin, last_kick); !err.empty()) {
      note("storm " + std::to_string(k) + ": " + err);
      if (!broker_ || broker_->running()) {
        pop_->set_origin(origin);
        pop_->end_storm(now_us());
      }
      result_.stopped_by = "error";
      break;
    }
    pop_->set_origin(origin);
    // Recovery: until every client is back, or the recovery limit.
    const double kick_span = o_.trigger == "kicks" && role_ == role::follower
                                 ? static_cast<double>(o_.clients) / o_.kick_rate
                                 : 0;
    while ((go_on = tick())) {
      if (storm_complete(last_status_, rules.need_all)) break;
      const auto since = static_cast<double>(now_us() - std::max(origin, last_kick)) / 1e6;
      if (since > o_.recovery_timeout + kick_span) {
        note("storm " + std::to_string(k) +
             ": not every client was back after --recovery-timeout " +
             std::to_string(static_cast<int>(o_.recovery_timeout)) + " s");
        break;
      }
    }
    const auto end = now_us();
    pop_->end_storm(end);
    if (broker_ && broker_->running()) {
      const auto after = read_proc(broker_->pid());
      storm_result s;
      s.index = k;
      s.server_rss_before_kb = before.rss_kb;
      s.server_rss_after_kb = after.rss_kb;
      std::uint64_t peak = std::max(before.rss_kb, after.rss_kb);
      for (const auto& x : result_.server_samples) {
        if (x.t_ms >= armed / 1000 && x.t_ms <= end / 1000) peak = std::max(peak, x.rss_kb);
      }
      s.server_rss_peak_kb = peak;
      if (after.cpu_ms >= before.cpu_ms && before.ok)
        s.server_cpu_ms = after.cpu_ms - before.cpu_ms;
      server_by_storm_.push_back(s);
    }
    progress(last_status_, true);
    if (k < storms && go_on && role_ != role::follower) {
      phase_ = "between";
      go_on = wait_for(o_.between);
      if (go_on) go_on = wait_for_shards();
    }
  }
  if (tty_ && show_progress_) std::fprintf(stderr, "\n");

  // Collect.
  run_result clients;
  const auto err = pop_->finish(clients);
  if (!err.empty()) note(err);
  result_.clients = clients.clients;
  result_.shards = o_.procs > 1 ? clients.shards : std::vector<std::size_t>{o_.shard};
  result_.ramp_end_ms = clients.ramp_end_ms;
  result_.ramp_connected = clients.ramp_connected;
  result_.ramp_attempts = clients.ramp_attempts;
  result_.ramp_latency_us = clients.ramp_latency_us;
  result_.latency_us = clients.latency_us;
  result_.tl = clients.tl;
  result_.storms = clients.storms;
  result_.failures = clients.failures;
  result_.stopped = clients.stopped;
  result_.tool = clients.tool;
  result_.traffic = clients.traffic;
  for (const auto& n : clients.notes) result_.notes.push_back(n);
  for (auto& s : result_.storms) {
    for (const auto& x : server_by_storm_) {
      if (x.index != s.index) continue;
      s.server_rss_before_kb = x.server_rss_before_kb;
      s.server_rss_peak_kb = x.server_rss_peak_kb;
      s.server_rss_after_kb = x.server_rss_after_kb;
      s.server_cpu_ms = x.server_cpu_ms;
    }
  }
  if (broker_) {
    sample_server(now_us());
    broker_->stop();
  }
  result_.end_ms = now_ms();
  if (sim_) {
    result_.notes.push_back(sim_->model_notes());
    if (o_.clients >= 100'000) {
      // The process ends right after the report; freeing millions of small objects
      // one by one would add seconds to a run of a million clients.
      (void)pop_.release();
      (void)sim_.release();
    }
  }
  return result_;
}

}  // namespace

// --- public -----------------------------------------------------------------------------

json::object to_json(const options& o) {
  json::object j{{"clients", o.clients},
                 {"shard", std::to_string(o.shard) + "/" + std::to_string(o.shards)},
                 {"procs", o.procs},
                 {"threads", o.threads},
                 {"source_ips", o.source_ips},
                 {"ramp_per_s", o.ramp},
                 {"heartbeat_s", o.heartbeat},
                 {"connect_timeout_s", o.connect_timeout},
                 {"messages_per_s", o.messages_per_s},
                 {"policy", o.policy},
                 {"seed", o.seed},
                 {"trigger", o.trigger},
                 {"storms", o.storms},
                 {"hold_s", o.hold},
                 {"recovery_timeout_s", o.recovery_timeout},
                 {"between_s", o.between},
                 {"duration_limit_s", o.duration_limit},
                 {"bucket_ms", o.bucket_ms},
                 {"plain", o.plain},
                 {"broker", o.sim              ? std::string("sim")
                            : o.target.empty() ? o.broker
                                               : std::string("url")}};
  if (o.sim) {
    j["sim_backlog"] = o.sim_backlog;
    j["sim_service_us"] = o.sim_service_us > 0 ? o.sim_service_us : k_sim_default_service_us;
    j["sim_close_us"] = o.sim_close_us > 0 ? o.sim_close_us : k_sim_default_close_us;
    j["sim_rtt_ms"] = o.sim_rtt_ms;
  }
  if (o.trigger == "restart") {
    j["restart_down_ms"] = o.restart_down_ms;
    j["restart_mode"] = o.restart_mode.empty() ? "auto" : o.restart_mode;
  }
  if (o.trigger == "blackhole") j["blackhole_for_s"] = o.blackhole_for;
  if (o.trigger == "kicks") {
    j["kick_rate"] = o.kick_rate;
    j["kick_code"] = o.kick_code;
  }
  if (o.trigger == "flap") j["flap_down_ms"] = o.flap_down_ms;
  if (o.navigation) j["navigation_cache_s"] = o.navigation_cache;
  if (o.trigger == "navigation-outage") j["outage_s"] = o.outage;
  j["navigation"] = o.navigation;
  return j;
}

group_options group_for(const options& o, const std::string& url, std::size_t shard,
                        std::size_t shards) {
  const auto range = shard_range(o.clients, shard, shards);
  group_options g;
  g.shard = shard;
  g.first = range.begin;
  g.count = range.size();
  g.url = url;
  g.navigation = o.navigation_url;
  g.app_key = o.app_key;
  g.app_secret = o.app_secret;
  g.user_prefix = o.user_prefix;
  g.threads = o.threads;
  // Source addresses only make sense towards an IPv4 loopback target.
  const auto parsed = client::parse_server_url(url);
  const bool v4_loopback = parsed && parsed->host.rfind("127.", 0) == 0;
  g.source_ips = v4_loopback ? o.source_ips : 1;
  g.ramp_per_s = shards > 0 ? o.ramp / static_cast<double>(shards) : o.ramp;
  g.jitter = jitter_of(o.policy);
  g.seed = o.seed;
  g.heartbeat_s = o.heartbeat;
  g.connect_timeout_ms = static_cast<std::int64_t>(o.connect_timeout * 1000);
  g.messages_per_s = o.messages_per_s;
  g.plain = o.plain;
  g.t0_ms = o.t0_ms;
  g.bucket_ms = o.bucket_ms;
  g.max_buckets =
      static_cast<std::size_t>(o.duration_limit * 1000 / std::max(1, o.bucket_ms)) + 200;
  return g;
}

std::unique_ptr<population> make_local_population(const group_options& g) {
  return std::make_unique<local_population>(g);
}

std::unique_ptr<population> make_child_population(const options& o, const std::string& url) {
  return std::make_unique<child_population>(o, url);
}

int child_main(const options& o) {
  std::signal(SIGINT, SIG_IGN);  // the parent decides when to stop
  std::signal(SIGPIPE, SIG_IGN);
  local_population pop(group_for(o, o.target, o.shard, o.shards));
  std::string line;
  const auto reply = [](const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "prepare") {
      const auto err = pop.prepare();
      reply(err.empty() ? "ok" : "error " + err);
    } else if (cmd == "ramp") {
      pop.start_ramp();
      reply("ok");
    } else if (cmd == "status") {
      std::int64_t at = 0;
      in >> at;
      const auto s = pop.status(at);
      std::ostringstream out;
      out << "status " << s.clients << ' ' << s.started << ' ' << s.connected << ' ' << s.alive
          << ' ' << s.attempts << ' ' << s.at_arm << ' ' << s.affected << ' ' << s.recovered << ' '
          << s.groups << ' ' << s.origin_set << ' ' << s.rss_kb;
      reply(out.str());
    } else if (cmd == "end_ramp") {
      std::int64_t at = 0;
      in >> at;
      pop.end_ramp(at);
      reply("ok");
    } else if (cmd == "arm") {
      int index = 0;
      std::string trigger;
      std::int64_t at = 0;
      in >> index >> trigger >> at;
      pop.arm(index, trigger, at);
      reply("ok");
    } else if (cmd == "origin") {
      std::int64_t at = 0;
      in >> at;
      pop.set_origin(at);
      reply("ok");
    } else if (cmd == "end_storm") {
      std::int64_t at = 0;
      in >> at;
      pop.end_storm(at);
      reply("ok");
    } else if (cmd == "network") {
      int up = 1;
      in >> up;
      pop.set_network(up != 0);
      reply("ok");
    } else if (cmd == "finish") {
      run_result r;
      r.config = to_json(o);
      r.shard_count = o.shards;
      r.shards = {o.shard};
      r.target = o.target;
      r.policy = o.policy;
      r.trigger = o.trigger;
      r.start_ms = o.t0_ms;
      pop.finish(r);
      r.end_ms = now_ms();
      reply("result " + json::serialize(to_json(r)));
      return 0;
    } else {
      reply("error unknown command '" + cmd + "'");
    }
  }
  return 0;  // the parent went away
}

run_result run_storm(const options& o, std::atomic<bool>& stop) {
  driver d(o, stop);
  return d.run();
}

}  // namespace imock::storm
