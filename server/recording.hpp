// Recording a session by hand (docs/console.md, "Recording"): between a start and a
// stop, what was done to the server (admin actions and server API calls, with their
// parameters, time and answer) and what the clients did as the server saw it (the
// event log's events of that span). A stopped recording is one JSON document, and
// scenario_from_recording turns it into a scenario file: the devices seen are the
// clients, the actions are the steps, the events that followed each action are its
// expectations. Sans-IO: endpoints.cpp feeds it; the console and `imock-harness
// record` read it.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imock/server/event_log.hpp"

namespace imock::server {

class recorder {
 public:
  /// Calls past this many in one recording are counted, not kept.
  static constexpr std::size_t k_max_calls = 100'000;

  [[nodiscard]] bool recording() const noexcept { return on_; }

  /// Starts a new recording at `now_ms`; events after `last_seq` belong to it.
  /// `sessions`: those connected then (objects with session, app, user, device,
  /// transport, platform), since a tester presses Record with the app already online.
  /// A recording already running starts again.
  void start(std::int64_t now_ms, std::uint64_t last_seq, boost::json::array sessions = {});

  /// One admin action or server API call, after it was answered. `via`: "admin" or
  /// "api"; `params`: what the request carried (query and body), `after_seq`: the
  /// event log's last seq before the call (its own events come after it); `app`: the
  /// app key a server API call was signed for.
  void note_call(std::int64_t now_ms, std::string_view via, std::string_view path,
                 boost::json::object params, int http_status, int code, std::uint64_t after_seq,
                 std::string_view app = {});

  /// Stops and keeps the recording (see last()); its events are read from `log`.
  /// Without a recording running: nullopt.
  std::optional<boost::json::object> stop(std::int64_t now_ms, const event_log& log);

  /// GET /admin/record: whether one runs, since when, how much it holds so far.
  [[nodiscard]] boost::json::object status(const event_log& log) const;

  /// The last stopped recording, if any.
  [[nodiscard]] const std::optional<boost::json::object>& last() const noexcept { return last_; }

 private:
  bool on_ = false;
  std::int64_t started_ms_ = 0;
  std::uint64_t first_seq_ = 0;  // events with seq > first_seq_ are in it
  boost::json::array sessions_;  // connected at the start
  boost::json::array calls_;
  std::uint64_t calls_lost_ = 0;
  std::optional<boost::json::object> last_;
};

struct scenario_options {
  std::string name = "recorded";
  /// A line of the scenario's description (where it was recorded, the field report).
  std::string description;
};

/// The scenario (YAML text) a recording becomes. Deterministic: the same recording
/// gives the same text. Errors (not a recording) leave `why` set and return "".
/// What it does, and why (docs/console.md, "From a recording to a scenario"):
///  - clients: every (app, user, device) connected at the start or that sent a
///    CONNECT, named after its device;
///  - steps: `connect: NAME` first for those connected at the start (with their
///    connect expected), where a client first connected for the others; then each action
///    converted to its scenario step, in order;
///  - after each: `expect: {server: KIND, ...}` for the client events that followed
///    (connect with its code, kick, disconnect, timeout, protocol_error, slow_reader),
///    `within` the observed delay plus max(1 s, half of it);
///  - the quiet time before the next action: `absent: {server: connect, for: T}`
///    (a client that reconnects when it should not fails there).
std::string scenario_from_recording(const boost::json::object& recording,
                                    const scenario_options& options, std::string* why);

}  // namespace imock::server
