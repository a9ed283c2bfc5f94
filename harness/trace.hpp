// The trace of a scenario run: every client event, server event and step, in the
// order they happened, stamped with scenario time. Expectations are checked against
// it (the matchers below), reports and JSON-lines files are rendered from it.
// Thread-safe: in real-socket runs, client and server threads append while the
// step thread reads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "imock/harness/scenario.hpp"
#include "imock/server/event_log.hpp"

namespace imock::harness {

/// One line of the trace. `t_ms` is scenario time since the scenario started.
struct trace_entry {
  std::int64_t t_ms = 0;
  std::string source;  // a client's name, "server", or "step"
  /// Client events: status, db_opened, success, error, attempt, returned, trace,
  /// message, sent, send_error, sync_completed, history;
  /// server events: the event log's kinds; step.
  std::string kind;
  int status = -1;
  int code = 0;
  std::string user;
  std::string device;
  std::string detail;
  std::int64_t client_ms = 0;  // for attempts: the client's own clock
  // Messages (message, sent, send_error; history: a JSON array of texts): the text
  // (scenario.hpp, message_text), and a received message's listener arguments.
  std::string text;
  std::optional<int> left;
  std::optional<bool> offline;
  std::optional<bool> has_package;
};

class trace_log {
 public:
  /// `now` gives the scenario time an entry is stamped with when it is added.
  explicit trace_log(std::function<std::int64_t()> now) : now_(std::move(now)) {}

  /// Appends `e` stamped with now; wakes waiters.
  void add(trace_entry e);

  using pred = std::function<bool(const trace_entry&)>;
  /// The first entry of `source` at index >= from that satisfies `p`.
  [[nodiscard]] std::optional<std::size_t> find(const std::string& source, std::size_t from,
                                                const pred& p) const;
  /// How many entries of `source` at index >= from satisfy `p`.
  [[nodiscard]] int count(const std::string& source, std::size_t from, const pred& p) const;

  [[nodiscard]] std::vector<trace_entry> snapshot() const;
  [[nodiscard]] trace_entry at(std::size_t i) const;
  [[nodiscard]] std::size_t size() const;

  /// Blocks until the trace holds more than `size` entries or `deadline` passes
  /// (wall clock; for real-socket runs). True when it grew.
  bool wait_growth(std::size_t size, std::chrono::steady_clock::time_point deadline);

 private:
  std::function<std::int64_t()> now_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<trace_entry> entries_;
};

/// The trace entry of a server event; nullopt for the kinds traces leave out (start,
/// accept, api: server::left_out_of_traces).
std::optional<trace_entry> trace_entry_of(const server::event& e);

// --- matching ----------------------------------------------------------------------

bool matches(const client_event_match& m, const trace_entry& e);
bool matches(const server_event_match& m, const trace_entry& e);

// --- text ------------------------------------------------------------------------------

/// "status 13 Suspend (cause 32061)", "connect code=31004 alice/phone refused ...".
std::string describe(const trace_entry& e);
/// What an expectation looks for: "status 6 KickedOfflineByOtherClient cause 31010".
std::string describe(const client_event_match& m);
std::string describe(const server_event_match& m);
/// `text` cut to `max` bytes, saying how long it was ("abc... (131072 bytes)").
std::string shortened(const std::string& text, std::size_t max = 48);
/// "1.250 s"
std::string format_ms(std::int64_t ms);
std::string status_name(int status);

/// "     12.345  alice      status 10 Connecting" lines (time, the source padded to 10
/// characters, the entry) for the whole trace or the window [from, to).
std::string render_trace(const std::vector<trace_entry>& trace, std::size_t from = 0,
                         std::size_t to = static_cast<std::size_t>(-1));
/// One JSON object per line.
std::string trace_jsonl(const std::vector<trace_entry>& trace);

}  // namespace imock::harness
