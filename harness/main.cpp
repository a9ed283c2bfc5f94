// imock-harness: runs scenario files against imock-server and the reference SDK (or
// another client program), checks them, and writes the conformance matrix.
//   imock-harness run scenarios/ [--speed 20] [--junit out.xml] [--trace-dir traces/]
//   imock-harness check scenarios/*.yaml
//   imock-harness matrix scenarios/ [--run] [--out docs/conformance.md]
//   imock-harness serve FILE [--listen-mqtt HOST:PORT] ...   (an app run by hand)
//   imock-harness record RECORDING.json [-o FILE.yaml]       (a recording to a scenario)
#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "imock/base/parse.hpp"
#include "imock/harness/loader.hpp"
#include "imock/base/markup.hpp"
#include "imock/harness/matrix.hpp"
#include "imock/harness/runner.hpp"
#include "imock/base/json_exact.hpp"
#include "imock/base/yaml_read.hpp"
#include "imock/server/recording.hpp"

namespace {

using namespace imock::harness;
using imock::xml_escape;

void write_junit(const std::filesystem::path& file, const std::vector<scenario_result>& results) {
  int failures = 0;
  double total = 0;
  for (const auto& r : results) {
    failures += r.passed ? 0 : 1;
    total += r.wall_seconds;
  }
  std::ofstream out(file, std::ios::trunc);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites><testsuite name=\"imock-harness\" tests=\"" << results.size()
      << "\" failures=\"" << failures << "\" time=\"" << total << "\">\n";
  for (const auto& r : results) {
    out << "  <testcase classname=\"scenarios\" name=\"" << xml_escape(r.name) << "\" file=\""
        << xml_escape(r.file) << "\" time=\"" << r.wall_seconds << "\"";
    if (r.passed) {
      out << "/>\n";
    } else {
      out << ">\n    <failure message=\"" << xml_escape(r.failure.substr(0, r.failure.find('\n')))
          << "\">" << xml_escape(render_failure(r)) << "</failure>\n  </testcase>\n";
    }
  }
  out << "</testsuite></testsuites>\n";
}

std::vector<std::filesystem::path> as_paths(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

// Loads every file; prints load errors. Returns the scenarios that loaded.
std::vector<scenario> load_all(const std::vector<std::filesystem::path>& files, int& bad) {
  std::vector<scenario> out;
  for (const auto& f : files) {
    std::vector<load_error> errors;
    auto s = load_scenario(f, errors);
    if (!s) {
      ++bad;
      for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      continue;
    }
    out.push_back(std::move(*s));
  }
  return out;
}

// imock-harness record: a recording (the console's, GET /admin/record/last, or serve
// --record's) to a scenario file, checked by the loader before it is kept.
int record_to_scenario(const std::string& in, const std::string& out, const std::string& name,
                       const std::string& description) {
  const auto text = imock::yaml_read::read_file(in, "recording");
  if (!text.value) {
    std::fprintf(stderr, "imock-harness record: %s: %s\n", in.c_str(), text.error.c_str());
    return 2;
  }
  boost::system::error_code ec;
  const auto v = imock::json_exact::parse(*text.value, ec);
  if (ec || !v.is_object()) {
    std::fprintf(stderr, "imock-harness record: %s: not JSON: %s\n", in.c_str(),
                 ec ? ec.message().c_str() : "not an object");
    return 2;
  }
  imock::server::scenario_options o;
  if (!name.empty()) o.name = name;
  o.description = description;
  std::string why;
  const auto yaml = imock::server::scenario_from_recording(v.as_object(), o, &why);
  if (yaml.empty()) {
    std::fprintf(stderr, "imock-harness record: %s: %s\n", in.c_str(), why.c_str());
    return 2;
  }
  std::vector<load_error> errors;
  if (!parse_scenario(yaml, out.empty() ? "-" : out, errors)) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "imock-harness record: the scenario made from %s does not load (a bug: "
                         "please report it with the recording)\n%s", in.c_str(), yaml.c_str());
    return 1;
  }
  if (out.empty() || out == "-") {
    std::printf("%s", yaml.c_str());
    return 0;
  }
  std::ofstream f(out, std::ios::trunc);
  f << yaml;
  if (!f.flush()) {
    std::fprintf(stderr, "imock-harness record: cannot write %s\n", out.c_str());
    return 2;
  }
  std::fprintf(stderr, "scenario written to %s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "imock-harness: run YAML scenarios (docs/scenarios.md) against imock-server and a client "
      "SDK,\nand report what happened.",
      "imock-harness"};
  app.require_subcommand(1);

  std::vector<std::string> run_paths;
  double speed = k_default_speed;
  std::string junit, trace_dir, client_cmd;
  bool quiet = false, verbose = false, sim = false;
  std::int64_t slack_ms = -1;
  auto* run = app.add_subcommand("run", "run scenario files or folders");
  run->add_option("paths", run_paths, "scenario files or folders")->required();
  auto* speed_opt = run->add_option("--speed", speed,
                                    "scenario time runs this much faster than the wall clock "
                                    "(default: the scenario's speed, else 20)")
                        ->check(CLI::PositiveNumber);
  run->add_option("--junit", junit, "write a JUnit XML report here");
  run->add_option("--trace-dir", trace_dir, "write one JSON-lines trace per scenario here");
  run->add_option("--client-cmd", client_cmd,
                  "drive clients through this program (JSON lines on stdin/stdout) instead of "
                  "the in-process reference SDK, e.g. \"imock-client --harness\"; with --sim the "
                  "program runs in virtual time (docs/scenarios.md, \"Virtual time\")");
  run->add_flag("--sim", sim,
                "run in simulation: the hub and the reference client's connection machines (or "
                "the --client-cmd programs) on one virtual clock, no sockets; exact timing, "
                "deterministic");
  run->add_option("--slack-ms", slack_ms,
                  "real sockets: slack added to timing checks, in ms of scenario time "
                  "(default: 40 ms of wall time x speed, 100 ms with --client-cmd)")
      ->check(CLI::NonNegativeNumber);
  run->add_flag("--quiet", quiet, "print failures only");
  run->add_flag("--verbose", verbose, "print the trace of passing scenarios too");

  std::vector<std::string> check_paths;
  auto* check = app.add_subcommand("check", "validate scenario files without running them");
  check->add_option("paths", check_paths, "scenario files or folders")->required();

  std::vector<std::string> matrix_paths{"scenarios"};
  std::string matrix_out;
  bool matrix_run = false;
  auto* matrix =
      app.add_subcommand("matrix",
                         "write the conformance matrix: every documented code and status, the "
                         "scenarios covering it, and (with --run) their results");
  matrix->add_option("paths", matrix_paths, "scenario files or folders (default: scenarios)");
  matrix->add_option("--out", matrix_out, "write the Markdown here (default: stdout)");
  matrix->add_flag("--run", matrix_run, "run the scenarios and show their results");
  matrix->add_option("--speed", speed, "as for run")->check(CLI::PositiveNumber);
  matrix->add_flag("--sim", sim, "as for run");
  std::string mutants_file;
  matrix
      ->add_option("--mutants", mutants_file,
                   "add the mutation score: the results scripts/mutants --out wrote")
      ->check(CLI::ExistingFile);

    std::string serve_file, client_wait = "5m", ready_file;
  std::string listen_mqtt = "127.0.0.1:18830", listen_http = "127.0.0.1:18080";
  std::string listen_mqtts, listen_https, tls_cert, tls_key;
  bool tls_self_signed = false, echo_events = false;
  double serve_speed = 1.0;
  std::uint64_t serve_seed = 0;
  auto* serve = app.add_subcommand(
      "serve",
      "play a scenario's server side for an app you run yourself (a phone, an emulator, "
      "another SDK's sample) and check what it does that the server can see "
      "(docs/scenarios.md, \"Checking an app you run yourself\")");
  serve->add_option("file", serve_file, "the scenario file")->required()->check(CLI::ExistingFile);
  serve->add_option("--listen-mqtt", listen_mqtt, "MQTT over TCP, HOST:PORT (default 127.0.0.1:18830)");
  serve->add_option("--listen-http", listen_http,
                    "HTTP: server API, admin API, WebSocket /mqtt (default 127.0.0.1:18080)");
  serve->add_option("--listen-mqtts", listen_mqtts, "MQTT over TLS, HOST:PORT");
  serve->add_option("--listen-https", listen_https, "HTTPS and WSS, HOST:PORT");
  serve->add_option("--tls-cert", tls_cert, "PEM certificate chain for the TLS listeners")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", tls_key, "PEM private key for the TLS listeners")
      ->check(CLI::ExistingFile);
  serve->add_flag("--tls-self-signed", tls_self_signed, "generate a certificate at start");
  serve->add_option("--client-wait", client_wait,
                    "how long a connect or disconnect step waits for your app (default 5m)");
  serve->add_option("--speed", serve_speed,
                    "scenario time runs this much faster than the wall clock (default 1: your "
                    "app runs on real time)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--seed", serve_seed, "seed of probabilistic faults (default: the scenario's)");
  serve->add_option("--ready-file", ready_file,
                    "write every bound address as JSON to this file once the server listens");
  serve->add_flag("--events", echo_events, "print the server's event log to stderr as well");
  std::string admin_token;
  serve->add_option("--admin-token", admin_token,
                    "bearer token the admin API requires; needed when --listen-http is not on "
                    "loopback (so a phone on the LAN can reach the server)")
      ->envname("IMOCK_ADMIN_TOKEN");

  std::string record_file;
  serve->add_option("--record", record_file,
                    "record the run (actions, API calls, what the clients did) and write the "
                    "recording to FILE at the end; `imock-harness record FILE` makes it a scenario");

  std::string record_in, record_out, record_name, record_description;
  auto* record = app.add_subcommand(
      "record", "turn a recording (the console's Record, serve --record) into a scenario file "
                "(docs/console.md)");
  record->add_option("recording", record_in, "the recording (JSON)")->required()->check(CLI::ExistingFile);
  record->add_option("-o,--out", record_out, "write the scenario here (default: stdout)");
  record->add_option("--name", record_name, "the scenario's name (default: recorded)");
  record->add_option("--description", record_description, "the scenario's description");

  CLI11_PARSE(app, argc, argv);

  if (*record) return record_to_scenario(record_in, record_out, record_name, record_description);

  if (*serve) {
    int bad = 0;
    const auto loaded = load_all({serve_file}, bad);
    if (loaded.empty()) return 2;
    const auto wait_ms = imock::parse_duration_ms(client_wait);
    if (!wait_ms || *wait_ms <= 0) {
      std::fprintf(stderr, "imock-harness serve: --client-wait: bad duration '%s' (e.g. 30s, 5m)\n",
                   client_wait.c_str());
      return 2;
    }
    run_options opts{.speed = serve_speed, .force_speed = true};
    opts.by_hand = hand_clients{.wait_ms = *wait_ms};
    imock::server::listen_config listen{.mqtt = listen_mqtt, .http = listen_http};
    if (!listen_mqtts.empty()) listen.mqtts = listen_mqtts;
    if (!listen_https.empty()) listen.https = listen_https;
    if (!tls_cert.empty()) listen.tls_cert = tls_cert;
    if (!tls_key.empty()) listen.tls_key = tls_key;
    listen.tls_self_signed = tls_self_signed;
    listen.admin_token = admin_token;
    if (auto why = imock::server::admin_token_problem(listen)) {
      std::fprintf(stderr, "imock-harness serve: %s\n", why->c_str());
      return 2;
    }
    opts.listen = listen;
    opts.ready_file = ready_file;
    opts.echo_events = echo_events;
    opts.record_file = record_file;
    if (serve->count("--seed") > 0) opts.seed = serve_seed;
    const auto r = run_scenario(loaded.front(), opts);
    if (r.passed) {
      std::printf("PASS %s: your client did what the scenario's server side expects\n",
                  r.name.c_str());
      return 0;
    }
    std::printf("%s", render_failure(r).c_str());
    return 1;
  }

  if (*check) {
    int bad = 0;
    const auto files = scenario_files(as_paths(check_paths));
    const auto loaded = load_all(files, bad);
    std::printf("%zu scenario files, %zu valid, %d with errors\n", files.size(), loaded.size(),
                bad);
    return bad == 0 && !files.empty() ? 0 : 1;
  }

  const bool running = *run || matrix_run;
  const auto files = scenario_files(as_paths(*run ? run_paths : matrix_paths));
  if (files.empty()) {
    std::fprintf(stderr, "imock-harness: no scenario files found\n");
    return 2;
  }
  int bad = 0;
  const auto scenarios = load_all(files, bad);

  std::vector<scenario_result> results;
  if (running) {
    run_options opts{.mode = sim ? run_mode::sim : run_mode::real,
                     .speed = speed,
                     .force_speed = speed_opt->count() > 0};
    if (slack_ms >= 0) opts.slack_ms = slack_ms;
    if (!client_cmd.empty()) opts.client_cmd = client_cmd;
    if (!trace_dir.empty()) std::filesystem::create_directories(trace_dir);
    int passed = 0;
    for (const auto& s : scenarios) {
      auto r = run_scenario(s, opts);
      if (r.passed) {
        ++passed;
        if (!quiet) {
          std::printf("PASS %-48s %6.2f s  %s\n", r.name.c_str(), r.wall_seconds, r.mode.c_str());
        }
        if (verbose) std::printf("%s", render_trace(r.trace).c_str());
      } else {
        std::printf("%s\n", render_failure(r).c_str());
      }
      std::fflush(stdout);
      if (!trace_dir.empty()) {
        std::ofstream(std::filesystem::path(trace_dir) / (r.name + ".jsonl"), std::ios::trunc)
            << trace_jsonl(r.trace);
      }
      results.push_back(std::move(r));
    }
    if (!junit.empty()) write_junit(junit, results);
    std::printf("%d passed, %d failed", passed, static_cast<int>(results.size()) - passed + bad);
    if (!results.empty()) std::printf("  (%s)", results.front().timing.c_str());
    std::printf("\n");
  }

  if (*matrix) {
    std::vector<mutant_result> mutants;
    if (!mutants_file.empty()) {
      std::ifstream in(mutants_file);
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      std::vector<std::string> errors;
      mutants = parse_mutant_results(text, errors);
      for (const auto& e : errors) std::fprintf(stderr, "%s:%s\n", mutants_file.c_str(), e.c_str());
      if (!errors.empty() || mutants.empty()) {
        std::fprintf(stderr, "imock-harness: %s holds no mutant results (scripts/mutants --out)\n",
                     mutants_file.c_str());
        return 2;
      }
    }
    const std::string md = render_matrix(scenarios, results, mutants);
    if (matrix_out.empty()) {
      std::printf("\n%s", md.c_str());
    } else {
      std::ofstream(matrix_out, std::ios::trunc) << md;
      std::printf("conformance matrix written to %s\n", matrix_out.c_str());
    }
    const auto missing = uncovered_codes(scenarios);
    if (!missing.empty()) {
      std::string list;
      for (int c : missing) list += " " + std::to_string(c);
      std::fprintf(stderr, "imock-harness: documented codes without a scenario:%s\n", list.c_str());
      return 1;
    }
    if (const auto unchecked = uncovered_message_behaviours(scenarios); !unchecked.empty()) {
      std::string list;
      for (const auto& b : unchecked) list += (list.empty() ? " " : "; ") + b;
      std::fprintf(stderr, "imock-harness: message behaviours without a scenario:%s\n",
                   list.c_str());
      return 1;
    }
  }

  bool all_passed = bad == 0;
  for (const auto& r : results) all_passed = all_passed && r.passed;
  return all_passed ? 0 : 1;
}
