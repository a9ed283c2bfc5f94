// What the server saw and did, in order: connect attempts and their results,
// kicks, drops, faults fired, API and admin calls. The harness asserts on it;
// the admin API serves it (GET /admin/events). Bounded: the oldest events are
// dropped past `capacity` (sequence numbers keep counting, so a reader sees the gap).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace imock::server {

struct event {
  std::uint64_t seq = 0;
  std::int64_t t_ms = 0;      // server time (scenario time under the harness)
  std::string kind;           // accept, connect, kick, drop, closed, fault, api, admin, ...
  std::uint64_t session = 0;  // 0: not about one session
  std::string app;
  std::string user;
  std::string device;
  std::string_view transport;  // a name from to_string(transport): static storage
  int code = 0;                // documented rc code where one applies (0 = success/none)
  std::string detail;          // human-readable rest
};

/// One line a person can read: "12.345 connect #7 app/alice/phone tcp -> 31004 (token ...)".
std::string to_text(const event& e);
/// One JSON object (no newline).
std::string to_json(const event& e);

class event_log {
 public:
  explicit event_log(std::size_t capacity = 100'000) : capacity_(capacity) {}

  /// Appends `e` (seq assigned here) and tells every listener. Returns the seq.
  std::uint64_t add(event e);

  /// Events with seq > after_seq that are still kept, oldest first, at most `limit`.
  [[nodiscard]] std::vector<event> since(std::uint64_t after_seq, std::size_t limit = 10'000) const;

  [[nodiscard]] std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
  [[nodiscard]] std::size_t size() const noexcept { return events_.size(); }

  /// Called synchronously for each new event, on the server's thread.
  using listener = std::function<void(const event&)>;
  void set_listener(listener l) { listener_ = std::move(l); }

  /// Also print each event to stderr as text (the --log-level debug view).
  void set_echo(bool on) noexcept { echo_ = on; }

 private:
  std::deque<event> events_;
  std::size_t capacity_;
  std::uint64_t next_seq_ = 1;
  listener listener_;
  bool echo_ = false;
};

}  // namespace imock::server
