// imock-storm: the reconnect-storm load generator. Runs N reference-SDK clients
// (client::client, the SDK's own state machine) over real sockets (or, with --sim,
// on the virtual-time engine: benchmarks/storm/storm_sim.hpp) against
// imock-server (started here, or given by URL) or any MQTT 5 broker, fires a
// trigger (drop-all, restart, blackhole, rolling kicks, a network flap) and
// measures how the clients come back. docs/storm.md has every flag and how to
// read the output.
//
//   imock-storm --clients 15000 --procs 2 --trigger drop-all
//   imock-storm --broker mosquitto --clients 5000 --trigger restart --chart storm.svg
//   imock-storm merge shard-*.json --chart all.html
#include <CLI/CLI.hpp>

#include <atomic>
#include <boost/json.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "imock/base/json_exact.hpp"
#include "imock/benchmarks/storm/storm_chart.hpp"
#include "imock/benchmarks/storm/storm_driver.hpp"
#include "imock/benchmarks/storm/storm_report.hpp"
#include "imock/benchmarks/storm/storm_target.hpp"
#include "imock/client/sdk.hpp"
#include "imock/net/fd_limit.hpp"
#include "imock/net/url.hpp"

namespace {

using namespace imock::storm;
namespace json = boost::json;
namespace json_exact = imock::json_exact;

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

int fail(const std::string& why) {
  std::fprintf(stderr, "imock-storm: %s\n", why.c_str());
  return 2;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

std::string chart_title(const run_result& r) {
  return "imock-storm: " + std::to_string(r.clients) + " clients, " + r.policy + " policy, " +
         r.trigger + " -> " + target_name(r, r.target);
}

// Summary on stdout (stderr with --json), JSON, chart. Returns the exit code.
int emit(const run_result& r, bool as_json, const std::string& json_out, const std::string& chart) {
  const auto summary = summary_text(r);
  const auto doc = pretty_json(to_json(r));
  if (as_json) {
    std::fputs(doc.c_str(), stdout);
    std::fputs(summary.c_str(), stderr);
  } else {
    std::fputs(summary.c_str(), stdout);
  }
  std::fflush(stdout);
  int rc = 0;
  if (!json_out.empty() && !write_file(json_out, doc)) {
    std::fprintf(stderr, "imock-storm: cannot write %s\n", json_out.c_str());
    rc = 2;
  }
  if (!chart.empty()) {
    const bool html = chart.ends_with(".html") || chart.ends_with(".htm");
    const auto text =
        html ? render_html(r, chart_title(r), summary) : render_svg(r, chart_title(r));
    if (!write_file(chart, text)) {
      std::fprintf(stderr, "imock-storm: cannot write %s\n", chart.c_str());
      rc = 2;
    }
  }
  if (rc != 0) return rc;
  if (r.stopped_by == "error") return 2;
  bool clean = r.stopped_by == "done" && r.ramp_connected == r.clients;
  for (const auto& s : r.storms) clean = clean && s.complete && s.lost == 0;
  return clean ? 0 : 1;
}

int merge_main(int argc, char** argv) {
  CLI::App app{
      "imock-storm merge: combine the JSON results of storm shards (--shard I/N, e.g. the pods\n"
      "of docker/storm-job.yaml) into one report. Timelines are summed on epoch time and\n"
      "percentiles recomputed from the merged histograms.",
      "imock-storm merge"};
  std::vector<std::string> files;
  bool as_json = false;
  std::string json_out, chart;
  app.add_option("files", files, "result files written by imock-storm --json ('-': stdin)")
      ->required();
  app.add_flag("--json", as_json, "print the merged JSON on stdout (the summary goes to stderr)");
  app.add_option("--json-out", json_out, "also write the merged JSON to FILE");
  app.add_option("--chart", chart, "write a chart: FILE.svg, or FILE.html with the summary");
  CLI11_PARSE(app, argc, argv);
  std::vector<run_result> parts;
  for (const auto& f : files) {
    std::stringstream text;
    if (f == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(f);
      if (!in) return fail("cannot read " + f);
      text << in.rdbuf();
    }
    boost::system::error_code ec;
    const auto v = json_exact::parse(text.str(), ec);
    if (ec) return fail(f + ": not JSON: " + ec.message());
    std::string why;
    auto r = from_json(v, &why);
    if (!r) return fail(f + ": " + why);
    parts.push_back(std::move(*r));
  }
  const auto merged = merge(parts);
  return emit(merged, as_json, json_out, chart);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "merge") return merge_main(argc - 1, argv + 1);

  options o;
  CLI::App app{
      "imock-storm: a reconnect storm made of N reference-SDK clients over real sockets\n"
      "(or, with --sim, on the virtual-time engine: imock-server's hub and the SDK's machine).\n"
      "Connects them (ramp), holds, fires a trigger, measures how they come back, repeats\n"
      "(--storms). Starts imock-server itself unless --target is given. Loopback only unless\n"
      "--allow-remote; every run ends by itself (--duration-limit).\n"
      "  imock-storm merge FILES... combines shard results. Docs: docs/storm.md",
      "imock-storm"};
  app.set_help_flag("-h,--help", "this help (imock-storm merge --help for merge)");

  auto* tg = "Target";
  app.add_option("--target", o.target,
                 "broker URL (mqtt://HOST:PORT, ws://HOST:PORT/mqtt, ...); default: start one")
      ->group(tg);
  app.add_option("--broker", o.broker, "broker to start without --target")
      ->check(CLI::IsMember({"imock", "mosquitto"}))
      ->capture_default_str()
      ->group(tg);
  app.add_option("--server-bin", o.server_bin,
                 "imock-server to start (default: next to imock-storm, or ../server/)")
      ->group(tg);
  app.add_option("--mosquitto-bin", o.mosquitto_bin, "mosquitto to start")
      ->capture_default_str()
      ->group(tg);
  app.add_option("--admin", o.admin,
                 "http://HOST:PORT of imock-server's admin API, for server-side triggers on a "
                 "--target")
      ->group(tg);
  app.add_option("--admin-token", o.admin_token,
                 "bearer token of that admin API, when the server has one (docs/admin-api.md)")
      ->envname("IMOCK_ADMIN_TOKEN")
      ->group(tg);
  auto* plain = app.add_flag("--plain", o.plain,
                             "send no imock-* CONNECT properties (default with --broker mosquitto)")
                    ->group(tg);
  app.add_flag("--navigation", o.navigation,
               "clients ask imock-server's navigation (its HTTP port) for the server first "
               "(docs/client.md, Navigation)")
      ->group(tg);
  app.add_option("--navigation-cache", o.navigation_cache,
                 "seconds clients may reuse the server list: the cache_lifetime of the "
                 "imock-server imock-storm starts (0: ask navigation on every attempt)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(tg);
  app.add_option("--navigation-url", o.navigation_url, "(internal) the navigation server")
      ->group("");
  app.add_flag("--allow-remote", o.allow_remote, "allow a target that is not loopback")->group(tg);
  app.add_option("--app-key", o.app_key, "CONNECT user name")->capture_default_str()->group(tg);
  app.add_option("--app-secret", o.app_secret, "mints each client's token locally")
      ->capture_default_str()
      ->group(tg);

  auto* cg = "Clients";
  app.add_option("-n,--clients", o.clients, "clients in all (all shards and processes)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(cg);
  app.add_option("--shard", o.shard_text,
                 "I/N: run shard I of N (clients split evenly); shard 0 fires server-side "
                 "triggers, the others follow the server's event log")
      ->group(cg);
  app.add_option("--procs", o.procs,
                 "split the clients over P child processes (past one process's open-file limit)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u))
      ->group(cg);
  app.add_option("--threads", o.threads,
                 "SDK event-loop threads per process (0: 2, or 1 with --procs)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 64u))
      ->group(cg);
  app.add_option("--source-ips", o.source_ips,
                 "client i binds 127.0.0.(1 + i % K) (IPv4 loopback targets only)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 254u))
      ->group(cg);
  app.add_option("--ramp", o.ramp, "connects per second at the start, all shards (0: all at once)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(cg);
  app.add_option("--messages-per-s", o.messages_per_s,
                 "message traffic: each client sends this many one-to-one messages a second to "
                 "a partner, across the storms; the report counts sent, delivered, lost and "
                 "duplicates shown, and the delivery latency (imock-server only; default 0: none)")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--heartbeat", o.heartbeat, "client keep alive, seconds")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535))
      ->group(cg);
  app.add_option("--connect-timeout", o.connect_timeout,
                 "seconds an attempt may take before the SDK gives up on it (30010/31000)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(cg);
  app.add_option("--user-prefix", o.user_prefix, "user ids are PREFIX-SHARD-I")
      ->capture_default_str()
      ->group(cg);

  auto* pg = "Policy";
  app.add_option(
         "--policy", o.policy,
         "documented: the schedule 0.05, 0.25, 0.5, 1, 2 ... 32 s, then 64 s; "
         "full-jitter: uniform in [0, step]; decorrelated: uniform in [50 ms, 3 x previous]")
      ->check(CLI::IsMember({"documented", "full-jitter", "decorrelated"}))
      ->capture_default_str()
      ->group(pg);
  app.add_option("--seed", o.seed, "jitter seed (each client derives its own)")
      ->capture_default_str()
      ->group(pg);

  auto* trg = "Trigger";
  app.add_option("--trigger", o.trigger,
                 "drop-all (admin /drop), restart, blackhole (then release), kicks (rolling), "
                 "flap (clients' network off/on), navigation-outage (navigation fails, then "
                 "drop-all; needs --navigation), none")
      ->check(CLI::IsMember(
          {"drop-all", "restart", "blackhole", "kicks", "flap", "navigation-outage", "none"}))
      ->capture_default_str()
      ->group(trg);
  app.add_option("--storms", o.storms, "trigger + recovery this many times in a row")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000))
      ->group(trg);
  app.add_option("--hold", o.hold, "seconds all connected before the first trigger")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--restart-down", o.restart_down_ms, "restart: ms the broker stays down")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--restart-mode", o.restart_mode,
                 "admin (imock-server's /admin/restart) or process (stop and start the broker "
                 "imock-storm started); default admin for imock-server, process otherwise")
      ->check(CLI::IsMember({"admin", "process"}))
      ->group(trg);
  app.add_option("--blackhole-for", o.blackhole_for,
                 "blackhole: seconds before the release (0: 2 heartbeats + 2 s)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--kick-rate", o.kick_rate, "kicks: users kicked per second")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(trg);
  app.add_option("--kick-code", o.kick_code,
                 "kicks: the code sent (31003 is recoverable: clients reconnect; 31010 stops them)")
      ->capture_default_str()
      ->group(trg);
  app.add_option("--outage", o.outage,
                 "navigation-outage: seconds navigation answers HTTP 500 (30009) after the drop")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--flap-down", o.flap_down_ms, "flap: ms the clients' network is off")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--recovery-timeout", o.recovery_timeout,
                 "seconds after a trigger before a storm ends with clients still away (lost)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(trg);
  app.add_option("--between", o.between, "seconds between storms")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);
  app.add_option("--duration-limit", o.duration_limit,
                 "the whole run stops after this many seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(trg);
  app.add_option("--wait-all", o.wait_all,
                 "shard 0 of several: seconds to wait for every shard's clients before the hold")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(trg);

  auto* sg = "Simulation";
  app.add_flag("--sim", o.sim,
                   "run the storms on the virtual-time engine instead of sockets: imock-server's "
                   "hub and N reference connection machines on a simulated network (a million "
                   "clients in about a minute; docs/storm.md, Simulation)")
      ->group(sg);
  app.add_option("--sim-backlog", o.sim_backlog,
                 "--sim: the listen queues' room (imock-server: 4 queues of net.core.somaxconn "
                 "4096); a SYN that finds it full is dropped and sent again by the client's "
                 "kernel after 1, 2, 4 ... 32 s")
      ->capture_default_str()
      ->check(CLI::Range(1ul, 1ul << 20))
      ->group(sg);
  app.add_option("--sim-service-us", o.sim_service_us,
                 "--sim: server time per connect (accept, CONNECT, token, CONNACK); 0: the "
                 "calibrated " +
                     std::to_string(static_cast<int>(k_sim_default_service_us)) + " us")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6))
      ->group(sg);
  app.add_option("--sim-close-us", o.sim_close_us,
                 "--sim: server time per close it does (a drop, a kick); 0: the calibrated " +
                     std::to_string(static_cast<int>(k_sim_default_close_us)) + " us")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6))
      ->group(sg);
  app.add_option("--sim-rtt-ms", o.sim_rtt_ms, "--sim: every client link's round trip")
      ->capture_default_str()
      ->check(CLI::Range(0, 10'000))
      ->group(sg);

  auto* og = "Output";
  app.add_flag("--json", o.json, "print one JSON document on stdout (the summary goes to stderr)")
      ->group(og);
  app.add_option("--json-out", o.json_out, "also write the JSON document to FILE")->group(og);
  app.add_option("--chart", o.chart,
                 "write a chart of connected clients and attempts/s: FILE.svg, or FILE.html "
                 "(the SVG and the summary)")
      ->group(og);
  app.add_flag("--progress", o.progress, "progress on stderr even when it is not a terminal")
      ->group(og);
  app.add_flag("--no-progress", o.no_progress, "no progress line")->group(og);
  app.add_option("--bucket-ms", o.bucket_ms, "timeline resolution")
      ->capture_default_str()
      ->check(CLI::Range(10, 10'000))
      ->group(og);

  app.add_flag("--child", o.child)->group("");
  app.add_option("--t0-ms", o.t0_ms)->group("");
  CLI11_PARSE(app, argc, argv);

  // --- checks ---
  if (o.sim) {
    const auto* given = [&]() -> const char* {
      for (const char* name : {"--target", "--admin", "--shard", "--server-bin", "--mosquitto-bin",
                               "--source-ips", "--threads", "--messages-per-s"}) {
        if (app.count(name) > 0) return name;
      }
      if (o.broker != "imock") return "--broker";
      if (o.procs > 1) return "--procs";
      if (o.restart_mode == "process") return "--restart-mode process";
      return nullptr;
    }();
    if (given != nullptr) {
      return fail(std::string(given) +
                  " does not apply to --sim: the simulation runs imock-server's hub and every "
                  "client in this one process, on a simulated network (docs/storm.md)");
    }
  } else if (app.count("--sim-backlog") + app.count("--sim-service-us") +
                 app.count("--sim-close-us") + app.count("--sim-rtt-ms") >
             0) {
    return fail("--sim-backlog, --sim-service-us, --sim-close-us and --sim-rtt-ms need --sim");
  }
  if (!o.shard_text.empty()) {
    std::string why;
    const auto s = parse_shard(o.shard_text, &why);
    if (!s) return fail("--shard: " + why);
    o.shard = s->first;
    o.shards = s->second;
  }
  if (o.procs > 1 && o.shards > 1 && !o.child) {
    return fail("--procs and --shard do not combine: run one process per shard, or --procs alone");
  }
  if (o.shards > 1 && o.between < 1) {
    return fail(
        "--between must be at least 1 s with --shard: the other shards tell storms "
        "apart by the pause in the server's event log");
  }
  if (o.clients < std::max<std::size_t>(o.shards, o.procs)) {
    return fail("--clients must be at least the number of shards and processes");
  }
  if (o.threads == 0) o.threads = o.procs > 1 || o.child ? 1 : 2;
  if (o.broker == "mosquitto" && o.target.empty() && plain->count() == 0) o.plain = true;
  if (o.messages_per_s > 0 && (o.plain || (o.target.empty() && o.broker != "imock"))) {
    return fail("--messages-per-s needs imock-server: its messages are imock's (docs/protocol.md "
                "9); a plain MQTT broker has none");
  }
  if (!o.target.empty()) {
    std::string why;
    const auto url = imock::client::parse_server_url(o.target, &why);
    if (!url) return fail("--target: " + why);
    if (!o.allow_remote && !is_loopback_host(url->host)) {
      return fail("--target " + o.target +
                  " is not loopback; imock-storm storms loopback unless --allow-remote");
    }
  }
  if (!o.admin.empty()) {
    std::string why;
    const auto admin = imock::net::parse_http_url(o.admin, &why);
    if (!admin) return fail("--admin: " + why);
    if (!o.allow_remote && !is_loopback_host(admin->host)) {
      return fail("--admin " + o.admin + " is not loopback; give --allow-remote");
    }
  }
  // Triggers: what each needs, said before anything starts.
  const bool own_imock = o.target.empty() && o.broker == "imock";
  const bool admin_api = own_imock || !o.admin.empty();
  if (o.shards > 1 && !o.child && o.target.empty()) {
    return fail(
        "--shard needs --target (and --admin for server-side triggers): the shards "
        "share one broker");
  }
  if (o.trigger == "navigation-outage" && !o.navigation && !o.child) {
    return fail("--trigger navigation-outage needs --navigation (clients that use navigation)");
  }
  if (o.navigation && !admin_api && !o.child) {
    return fail(
        "--navigation needs imock-server's HTTP port: let imock-storm start imock-server (no "
        "--target), or give --admin http://HOST:PORT with --target");
  }
  if ((o.trigger == "drop-all" || o.trigger == "blackhole" || o.trigger == "kicks" ||
       o.trigger == "navigation-outage") &&
      !admin_api &&
      !o.child) {
    return fail("--trigger " + o.trigger +
                " needs imock-server's admin API: let imock-storm start imock-server (no "
                "--target), or give --admin http://HOST:PORT with --target" +
                (o.broker == "mosquitto" || !o.target.empty()
                     ? ". Other brokers have no such API: use --trigger restart (imock-storm "
                       "restarts a broker it started) or --trigger flap"
                     : ""));
  }
  if (o.trigger == "restart" && !o.child) {
    if (!o.target.empty() && o.admin.empty()) {
      return fail(
          "--trigger restart on a --target needs --admin (imock-server's "
          "/admin/restart); imock-storm restarts only a broker it started (no --target, "
          "--broker imock|mosquitto)");
    }
    if (o.restart_mode == "process" && !o.target.empty()) {
      return fail("--restart-mode process needs a broker imock-storm started (no --target)");
    }
    if (o.restart_mode == "admin" && !admin_api) {
      return fail("--restart-mode admin needs imock-server's admin API");
    }
    if (o.shards > 1 && o.shard != 0 && o.admin.empty()) {
      return fail(
          "--shard I/N with I > 0 follows the trigger in imock-server's event log: "
          "give --admin");
    }
  }
  if (o.shards > 1 && o.shard != 0 && !o.child && o.admin.empty() && o.trigger != "flap" &&
      o.trigger != "none") {
    return fail(
        "--shard I/N with I > 0 learns when shard 0 fired the trigger from imock-server's "
        "event log: give --admin http://HOST:PORT");
  }

  // Open files: each client holds one socket; the rest of the process needs a few more.
  const auto fd_limit = imock::net::raise_open_files_limit();
  const std::size_t parts = o.child ? o.shards : (o.procs > 1 ? o.procs : o.shards);
  const std::size_t per_process =
      shard_range(o.clients, 0, parts).size();  // the largest share (shard 0)
  const std::size_t need = per_process + 100;
  if (need > fd_limit && !o.sim) {
    const auto per = fd_limit > 100 ? fd_limit - 100 : 1;
    const auto procs = (o.clients + per - 1) / per;
    return fail(std::to_string(per_process) + " clients in one process need about " +
                std::to_string(need) + " open files, but a process may open " +
                std::to_string(fd_limit) + " here (RLIMIT_NOFILE): use --procs " +
                std::to_string(procs) + " or more" + (o.shards > 1 ? " (or more shards)" : ""));
  }

  if (o.child) return child_main(o);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const auto result = run_storm(o, g_stop);
  return emit(result, o.json, o.json_out, o.chart);
}
