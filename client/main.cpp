// imock-client: the reference SDK on the command line. Connects, prints every
// callback, status change and received message with a timestamp, sends messages given
// as flags or as lines on stdin, and stays connected (reconnecting by the documented
// schedule) until Ctrl-C, which disconnects cleanly.
#include <signal.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "imock/client/harness_mode.hpp"
#include "imock/client/sdk.hpp"
#include "imock/client/token_fetch.hpp"

namespace {

using namespace imock;

std::mutex g_out_mutex;
bool g_json = false;

std::string wall_time() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms.count() % 1000));
  return out;
}

// One line per event: "12:00:01.234 status 10 Connecting" or a JSON object.
void emit(std::string_view event, boost::json::object fields, const std::string& text) {
  std::lock_guard lock(g_out_mutex);
  if (g_json) {
    fields["t"] = wall_time();
    fields["event"] = event;
    std::printf("%s\n", boost::json::serialize(fields).c_str());
  } else {
    std::printf("%s %s\n", wall_time().c_str(), text.c_str());
  }
  std::fflush(stdout);
}

std::string code_text(rc::code c) {
  return std::to_string(static_cast<int>(c)) + " " + std::string(rc::name(c));
}

// The text of an RC:TxtMsg ({"content": "..."}), or the content as it is.
std::string text_of(const std::string& content) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(content, ec);
  if (!ec && v.is_object()) {
    if (const auto* t = v.as_object().if_contains("content"); t != nullptr && t->is_string()) {
      return std::string(t->as_string());
    }
  }
  return content;
}

// "bob:hello" (a --send) or "bob hello there" (a stdin line): the user and the text.
std::optional<std::pair<std::string, std::string>> split_send(const std::string& s, char sep) {
  const auto at = s.find(sep);
  if (at == std::string::npos || at == 0 || at + 1 >= s.size()) return std::nullopt;
  return std::pair{s.substr(0, at), s.substr(at + 1)};
}

// What the process waits for before it disconnects by itself (--exit-when-done).
struct work_left {
  std::mutex mutex;
  int sends = 0;          // sends without their callback yet
  bool stdin_open = false;
  int failed = 0;
  int messages_wanted = 0;  // --exit-after-messages
  int messages = 0;
  bool sends_done() const { return sends == 0 && !stdin_open; }
};

// Ends the sigwait in main: the work is done.
void finish() { kill(getpid(), SIGUSR1); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "imock-client: the imock reference SDK on the command line.\n"
      "Connects with a token, prints every callback and status change, reconnects by the\n"
      "documented schedule, and disconnects cleanly on Ctrl-C.\n"
      "Example: imock-client --url mqtt://127.0.0.1:18830 --app-key imock-demo-key \\\n"
      "           --user alice --app-secret imock-demo-secret --api http://127.0.0.1:18080",
      "imock-client"};
  std::vector<std::string> urls, navigation;
  std::string app_key, token, user, secret, api = "http://127.0.0.1:18080", device,
                                            platform = "ios";
  std::string data_dir, ca_file;
  int time_limit = 0;
  int heartbeat = 30;
  bool reconnect_kick = false, insecure = false, trace = false, harness = false;
  std::vector<std::string> sends;
  bool send_stdin = false, exit_when_done = false;
  int exit_after_messages = 0;
  // Checked before parsing: the harness mode takes no other flags.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--harness") return client::run_harness_mode();
  }
  auto* url_opt = app.add_option("--url", urls,
                                 "server URL: mqtt://, mqtts://, ws://HOST:PORT/mqtt, wss:// "
                                 "(repeat for fallbacks)");
  auto* nav_opt = app.add_option(
      "--navigation", navigation,
      "ask this navigation server (http://HOST:PORT) for the server URLs first; repeat for "
      "fallbacks (docs/client.md, Navigation)");
  url_opt->excludes(nav_opt);
  app.add_option("--app-key", app_key, "the app key")->required();
  (void)harness;
  auto* token_opt = app.add_option("--token", token, "the token to connect with");
  auto* user_opt = app.add_option("--user", user,
                                  "fetch a token for this user id through the signed server "
                                  "API (needs --app-secret)");
  app.add_option("--app-secret", secret, "the app secret, to sign the server API call");
  app.add_option("--api", api, "the server API base URL (default http://127.0.0.1:18080)");
  app.add_option("--device", device, "device id (MQTT client id; default: random)");
  app.add_option("--platform", platform, "ios, android, web, desktop (default ios)");
  app.add_option("--time-limit", time_limit,
                 "seconds to try before error 34006; <= 0 keeps trying (default 0)");
  app.add_option("--heartbeat", heartbeat, "PINGREQ interval in seconds (default 30)")
      ->check(CLI::Range(0, 65535));
  app.add_flag("--reconnect-kick", reconnect_kick,
               "refuse my reconnect if another device logged in meanwhile (31023)");
  app.add_option("--data-dir", data_dir, "open the local database under this folder");
  app.add_flag("--insecure", insecure, "do not verify the server's TLS certificate");
  app.add_option("--ca-file", ca_file, "trust this CA (PEM) for mqtts:// and wss://")
      ->check(CLI::ExistingFile);
  app.add_option("--send", sends,
                 "send USER:TEXT (an RC:TxtMsg) once connected; repeat for more, sent in order");
  app.add_flag("--send-stdin", send_stdin,
               "send each stdin line 'USER TEXT' once connected (until the end of stdin)");
  app.add_flag("--exit-when-done", exit_when_done,
               "disconnect and exit once every --send / --send-stdin message has its callback "
               "(exit 1 if one failed)");
  app.add_option("--exit-after-messages", exit_after_messages,
                 "disconnect and exit after receiving this many messages")
      ->check(CLI::Range(1, 1'000'000));
  app.add_flag("--json", g_json, "print JSON lines instead of text");
  app.add_flag("--trace", trace, "also print every state-machine action");
  app.add_flag("--harness", harness,
               "speak imock-harness's JSON-lines protocol on stdin/stdout (docs/scenarios.md); "
               "all other flags are ignored");
  token_opt->excludes(user_opt);
  CLI11_PARSE(app, argc, argv);
  std::vector<std::pair<std::string, std::string>> to_send;
  for (const auto& s : sends) {
    const auto parsed = split_send(s, ':');
    if (!parsed) {
      std::fprintf(stderr, "imock-client: bad --send '%s' (expected USER:TEXT, e.g. bob:hello)\n",
                   s.c_str());
      return 2;
    }
    to_send.push_back(*parsed);
  }
  if (exit_when_done && to_send.empty() && !send_stdin) {
    std::fprintf(stderr, "imock-client: --exit-when-done needs --send or --send-stdin\n");
    return 2;
  }
  if (urls.empty() && navigation.empty()) {
    std::fprintf(stderr, "imock-client: give --url (the server) or --navigation\n");
    return 2;
  }

  if (token.empty()) {
    if (user.empty() || secret.empty()) {
      std::fprintf(stderr, "imock-client: give --token, or --user with --app-secret\n");
      return 2;
    }
    auto fetched = client::fetch_token(api, app_key, secret, user);
    if (fetched.token.empty()) {
      std::fprintf(stderr, "imock-client: %s\n", fetched.error.c_str());
      return 1;
    }
    token = fetched.token;
    emit("token", {{"user", user}}, "token fetched for " + user + " from " + api);
  }

  // Ctrl-C and SIGTERM are taken with sigwait on this thread; block them before any
  // thread starts so none of the SDK's threads receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // finish(): the work asked for is done
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  client::sdk_options opts{.urls = urls,
                           .tls_verify = !insecure,
                           .device_id = device,
                           .platform = platform,
                           .heartbeat_s = static_cast<std::uint16_t>(heartbeat),
                           .reconnect_kick = reconnect_kick,
                           .navigation = navigation};
  if (!ca_file.empty()) opts.ca_file = ca_file;
  if (!data_dir.empty()) opts.data_dir = data_dir;

  client::client c;
  if (const auto rc = c.init(app_key, opts); rc != rc::code::ok) {
    std::fprintf(stderr, "imock-client: init refused: %s (check --url, --navigation and --app-key)\n",
                 code_text(rc).c_str());
    return 2;
  }
  c.set_connection_status_listener([](rc::status s, rc::code cause) {
    std::string text =
        "status " + std::to_string(static_cast<int>(s)) + " " + std::string(rc::name(s));
    if (cause != rc::code::ok) text += " (" + code_text(cause) + ")";
    emit("status",
         {{"status", static_cast<int>(s)},
          {"name", rc::name(s)},
          {"android", rc::to_android(s).value_or(-99)},
          {"code", static_cast<int>(cause)}},
         text);
  });
  work_left left;
  left.messages_wanted = exit_after_messages;
  left.stdin_open = send_stdin;
  c.set_receive_listener([&left](const client::message& m, int n, bool offline, bool has_package) {
    const auto text = text_of(m.content);
    emit("message",
         {{"from", m.sender},
          {"uid", m.uid},
          {"object_name", m.object_name},
          {"content", m.content},
          {"text", text},
          {"sent_ms", m.sent_ms},
          {"offline", offline},
          {"left", n},
          {"has_package", has_package}},
         "message from " + m.sender + ": " + text + " (" + m.uid + (offline ? ", offline" : "") +
             ", left " + std::to_string(n) + (has_package ? ", more packages" : "") + ")");
    std::lock_guard lock(left.mutex);
    if (left.messages_wanted > 0 && ++left.messages == left.messages_wanted) finish();
  });
  c.set_offline_sync_listener([] { emit("sync_completed", {}, "offline message sync completed"); });
  // A send and its callbacks; with --exit-when-done the last one ends the process.
  const auto send_one = [&](const std::string& to, const std::string& text) {
    {
      std::lock_guard lock(left.mutex);
      ++left.sends;
    }
    const auto done = [&left, exit_when_done](bool ok) {
      std::lock_guard lock(left.mutex);
      --left.sends;
      if (!ok) ++left.failed;
      if (exit_when_done && left.sends_done()) finish();
    };
    const auto content = boost::json::serialize(boost::json::object{{"content", text}});
    const auto rc = c.send_message(
        to, "RC:TxtMsg", content, "", nullptr,
        [to, text, done](std::int64_t id) {
          emit("sent", {{"id", id}, {"to", to}, {"text", text}},
               "sent #" + std::to_string(id) + " to " + to + ": " + text);
          done(true);
        },
        [to, text, done](int code, std::int64_t id) {
          emit("send_error", {{"id", id}, {"to", to}, {"text", text}, {"code", code}},
               "send_error " + std::to_string(code) + " #" + std::to_string(id) + " to " + to +
                   ": " + text);
          done(false);
        });
    if (rc != rc::code::ok) done(false);
  };
  std::once_flag sent_flags;
  std::thread stdin_reader;
  const auto on_connected = [&] {
    // Once, at the first success: the --send messages, then the stdin lines.
    std::call_once(sent_flags, [&] {
      for (const auto& [to, text] : to_send) send_one(to, text);
      if (!send_stdin) return;
      stdin_reader = std::thread([&] {
        std::string line;
        while (std::getline(std::cin, line)) {
          if (line.empty()) continue;
          if (const auto parsed = split_send(line, ' ')) {
            send_one(parsed->first, parsed->second);
          } else {
            emit("bad_line", {{"line", line}}, "stdin: expected 'USER TEXT', got '" + line + "'");
          }
        }
        std::lock_guard lock(left.mutex);
        left.stdin_open = false;
        if (exit_when_done && left.sends_done()) finish();
      });
    });
  };
  if (trace) {
    c.set_trace([](std::int64_t, const std::string& line) {
      emit("trace", {{"line", line}}, "trace " + line);
    });
  }
  c.connect(
      token, time_limit,
      [](rc::code code) {
        emit("db_opened", {{"code", static_cast<int>(code)}}, "db_opened " + code_text(code));
      },
      [&on_connected](const std::string& user_id) {
        emit("success", {{"user", user_id}}, "success user " + user_id);
        on_connected();
      },
      [](rc::code code) {
        emit("error", {{"code", static_cast<int>(code)}, {"name", rc::name(code)}},
             "error " + code_text(code));
      });

  int sig = 0;
  sigwait(&signals, &sig);
  if (sig == SIGUSR1) {
    emit("done", {}, "done: disconnecting");
  } else {
    emit("signal", {{"signal", sig}}, "signal " + std::to_string(sig) + ": disconnecting");
  }
  c.disconnect();
  // Give the DISCONNECT and the SignOut status a moment to go out (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (c.current_status() != rc::status::sign_out &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A reader still blocked on stdin (Ctrl-C before its end) goes with the process.
  if (stdin_reader.joinable()) stdin_reader.detach();
  std::lock_guard lock(left.mutex);
  return sig == SIGUSR1 && left.failed > 0 ? 1 : 0;
}
