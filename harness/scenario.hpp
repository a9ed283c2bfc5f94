// A scenario: one story about the connection layer, told in YAML (docs/scenarios.md):
// the server's config, named clients, and an ordered list of steps -- actions and
// expectations. This is the loaded model; loader.hpp reads it, runner.hpp runs it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imock/protocol/codes.hpp"
#include "imock/protocol/transport.hpp"
#include "imock/server/config.hpp"

namespace imock::harness {

/// Where something was written: "file.yaml:12:5" in messages.
struct source_mark {
  std::string file;
  int line = 0;  // 1-based
  int column = 0;
  [[nodiscard]] std::string to_string() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

/// A navigation host of a client: the scenario's server, or one where nothing listens.
enum class navigation_host : std::uint8_t { server, dead };
inline constexpr names<navigation_host, 2> k_navigation_host_names{{{
    {"server", navigation_host::server},
    {"dead", navigation_host::dead},
}}};

struct client_spec {
  std::string name;
  std::string app;     // app key; default: the first app of the server section
  std::string user;    // default: the client's name
  std::string device;  // default: the client's name
  std::string platform = "ios";
  imock::transport transport = imock::transport::tcp;
  bool reconnect_kick = false;
  std::int64_t heartbeat_ms = 30'000;                    // whole seconds
  std::int64_t time_limit_ms = 0;                        // default for connect; <= 0: keep trying
  std::optional<std::vector<std::int64_t>> schedule_ms;  // reconnect schedule override
  bool database = true;                                  // open the local SQLite database
  /// Navigation hosts in the order the SDK asks them (docs/scenarios.md, `navigation`);
  /// empty: no navigation, the server's URL directly.
  std::vector<navigation_host> navigation;
  // One-way delays of its link in simulation (client -> server, server -> client).
  std::int64_t latency_up_ms = 0;
  std::int64_t latency_down_ms = 0;
  source_mark where;
};

// --- actions ---------------------------------------------------------------------

/// Token a connect uses.
enum class token_kind {
  fresh,       // issued by the harness now with the app's secret and lifetime
  api,         // fetched through the signed server API (getToken)
  expired,     // issued an hour ago, lifetime 1 s
  tampered,    // a fresh token with one byte of its signature changed
  other_app,   // a fresh token signed for another app key
  unreadable,  // not a token at all (the SDK cannot read a user id: 33002)
  empty,       // "" (33003)
  literal,     // `token_text`
  previous,    // the token this client connected with last time
};

/// "fresh", "api", ..., "literal": the spelling of scenario files.
std::string_view to_string(token_kind t) noexcept;

struct client_action {
  enum class kind {
    init,
    connect,
    disconnect,
    logout,
    network_down,
    network_up,
    foreground,
    set_reconnect_kick,
    send_message,  // sendMessage (docs/scenarios.md, "Messages")
    resend,        // resendMessage of the client's latest failed send
    relaunch,      // the app is killed and started again: a new SDK, the same database
  } what = kind::connect;
  std::string client;
  // connect:
  token_kind token = token_kind::fresh;
  std::string token_text;
  std::optional<std::int64_t> time_limit_ms;  // default: the client's
  bool init_first = true;                     // false: connect before init (33001)
  // set_reconnect_kick:
  bool on = false;
  // send_message: to the user `to`, `content` (RC:TxtMsg: {"content": text}).
  std::string to;
  std::string object_name = "RC:TxtMsg";
  std::string content;
};

/// An admin or fault call on the server (docs/admin-api.md), as path + JSON body.
struct server_action {
  std::string name;  // the step's key: kick, block, drop, refuse, ...
  std::string path;  // /admin/kick
  std::string json_body;
};

/// A signed server API call (docs/server-api.md).
struct api_action {
  std::string app;   // the app key whose secret signs the call (default: the first app)
  std::string path;  // /user/block.json
  std::string form;  // userId=alice&minute=10
  std::optional<int> expect_code;  // the JSON "code" expected (default: 200)
};

struct wait_action {
  std::int64_t ms = 0;
};

// --- expectations -------------------------------------------------------------------

/// What an expectation looks for in a client's events.
struct client_event_match {
  /// status, db_opened, success, error, attempt, returned; messages: message, sent,
  /// send_error, sync_completed
  std::string event;
  std::optional<int> status;        // status value (iOS numbering)
  std::optional<int> code;          // error / db_opened code, or a status change's cause
  std::optional<std::string> user;  // success
  std::optional<std::string> call;  // returned: the call (disconnect, logout, reconnect_kick)
  // message / sent / send_error:
  std::optional<std::string> text;  // the message's text (message_text)
  std::optional<std::string> from;  // message: the sender's user id
  std::optional<bool> offline;
  std::optional<int> left;
  std::optional<bool> has_package;
};

/// ... and in the server's event log.
struct server_event_match {
  std::string kind;  // connect, kick, closed, timeout, fault, ...
  std::optional<int> code;
  std::optional<std::string> user;
  std::optional<std::string> device;
  std::optional<std::string> detail_contains;
};

struct expect_step {
  std::string client;                             // empty: a server expectation
  std::vector<client_event_match> client_events;  // one, or an ordered sequence
  std::vector<server_event_match> server_events;
  std::int64_t within_ms = 5'000;
  /// The (each) matched event must come at least this long after the step began:
  /// with `within`, a window; with within == not_before, an instant.
  std::int64_t not_before_ms = 0;
};

/// No matching event during `for_ms`.
struct absent_step {
  std::string client;
  std::optional<client_event_match> client_event;
  std::optional<server_event_match> server_event;
  std::int64_t for_ms = 0;
};

/// Exactly / at least / at most N matching events within a window.
struct count_step {
  std::string client;
  std::optional<client_event_match> client_event;
  std::optional<server_event_match> server_event;
  std::optional<int> equals;
  std::optional<int> at_least;
  std::optional<int> at_most;
  std::int64_t within_ms = 0;
};

/// The times between a client's consecutive connect attempts follow a schedule.
struct schedule_step {
  std::string client;
  /// Set: the gaps between these server events about the client (e.g. its pings);
  /// unset: between the client's connect attempts.
  std::optional<server_event_match> server_event;
  std::vector<std::int64_t> intervals_ms;  // expected gaps between attempts, in order
  std::int64_t tolerance_ms = 300;
  std::int64_t within_ms = 0;  // default: sum of intervals + slack
};

/// Every message a client's app was shown since the run began, across drops, kicks
/// and relaunches: exactly these texts, in this order (none lost, none twice).
struct inbox_step {
  std::string client;
  std::optional<std::string> from;  // only messages from this user
  std::vector<std::string> texts;
  std::int64_t within_ms = 5'000;   // how long the inbox may take to get there
};

/// The conversation with `peer` in a client's local database (history): these texts.
struct history_step {
  std::string client;
  std::string peer;  // a user id
  std::vector<std::string> texts;
  std::int64_t within_ms = 5'000;  // for the answer
};

/// The client's current status.
struct status_step {
  std::string client;
  int status = 0;
};

using step_body = std::variant<client_action, server_action, api_action, wait_action, expect_step,
                               absent_step, count_step, schedule_step, status_step, inbox_step,
                               history_step>;

struct step {
  step_body body;
  std::string text;  // the step as written, one line, for reports
  source_mark where;
};

struct scenario {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  std::uint64_t seed = 1;
  std::optional<double> speed;  // overrides the harness's default
  server::server_config server;
  std::map<std::string, client_spec> clients;
  std::vector<step> steps;
  std::string file;
};

/// The text a scenario gives a message: the "content" of an RC:TxtMsg's JSON, or the
/// content itself when it is not such JSON.
std::string message_text(std::string_view content);
/// The content of an RC:TxtMsg with `text`; with `size` > 0, padded to `size` bytes
/// (an "extra" field) when that is longer.
std::string text_content(std::string_view text, std::size_t size = 0);

/// Every documented code a step of `s` expects (to build the conformance matrix).
std::vector<int> codes_covered(const scenario& s);
/// Every status value a step of `s` expects.
std::vector<int> statuses_covered(const scenario& s);

}  // namespace imock::harness
