// A client program that the harness drives through JSON lines (docs/scenarios.md,
// "Other clients"): started with /bin/sh -c, commands written to its stdin, events
// read from its stdout, one JSON object per line. Every read and write is bounded
// in wall-clock time, so a program that hangs or stops reading cannot hang the
// harness. Used by both worlds: real sockets (events read on a thread) and the
// simulation (virtual time: every command answered up to an "idle" line).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "imock/base/process.hpp"
#include "imock/harness/trace.hpp"

namespace imock::harness {

class client_program {
 public:
  using clock_type = child_process::clock_type;

  explicit client_program(std::string command) : command_(std::move(command)) {}
  /// Sends "quit", waits up to a second for the exit, then kills the program.
  ~client_program();
  client_program(const client_program&) = delete;
  client_program& operator=(const client_program&) = delete;

  /// Starts the program; false when it cannot be started.
  bool start();
  [[nodiscard]] bool started() const noexcept { return child_ != nullptr; }
  [[nodiscard]] const std::string& command() const noexcept { return command_; }

  /// Writes one command line; false when the program is gone or did not take the
  /// line within `timeout` (it stopped reading its stdin).
  bool send(const boost::json::object& command,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// The next line of the program's stdout, waiting until `deadline`. nullopt on
  /// timeout or at the end of its output (closed() tells which).
  std::optional<std::string> read_line(clock_type::time_point deadline);
  [[nodiscard]] bool closed() const noexcept { return child_ && child_->output_closed(); }

 private:
  std::string command_;
  std::unique_ptr<child_process> child_;
};

/// A line of a client program parsed: its JSON object, or nullopt when the line is
/// not a JSON object.
std::optional<boost::json::object> parse_program_line(const std::string& line);

/// The event named by the line's "event" field ("" when it has none).
std::string event_name(const boost::json::object& line);

/// The trace entry of an event line that belongs in the trace (status, db_opened,
/// success, error, returned, attempt), attributed to client `source`; nullopt for
/// the others (ready, init, idle, link events, chatter).
std::optional<trace_entry> trace_entry_of(const std::string& source,
                                          const boost::json::object& line);

/// Says (in the trace of `source`, and once per process on stderr) that the program
/// printed no {"event":"ready"} line within `waited`, or (`ended`) that its output ended
/// before one, and how to fix that.
void warn_no_ready(const std::string& command, std::chrono::milliseconds waited,
                   const std::string& source, trace_log& trace, bool ended = false);

}  // namespace imock::harness
