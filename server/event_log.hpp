// What the server saw and did, in order: connect attempts and their results,
// kicks, drops, faults fired, API, navigation and admin calls. The harness asserts on it;
// the admin API serves it (GET /admin/events). Bounded: the oldest events are
// dropped past `capacity` (sequence numbers keep counting, so a reader sees the gap).
// Kept compact: a record of 40 bytes and one allocation of exactly its text (app, user,
// device and detail side by side), so a kept connect costs about 150 bytes, not the
// 260 of an `event` with four strings (benchmarks/README.md, "The event log's share").
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imock/base/names.hpp"

namespace imock::server {

/// What an event is about (docs/admin-api.md, "Event log"). Each kind's name is what
/// GET /admin/events, traces and scenario files (`server: KIND`) call it.
enum class event_kind : std::uint8_t {
  start,           // the server listens
  accept,          // a TCP connection (or WebSocket upgrade) was accepted
  connect,         // a CONNECT and its answer (code 0: accepted)
  kick,            // a session was kicked (DISCONNECT with a code)
  disconnect,      // the client sent DISCONNECT
  closed,          // a connection closed
  timeout,         // keep alive or CONNECT time-out at the server
  protocol_error,  // bytes that are not MQTT 5, or a packet out of place
  slow_reader,     // the outbound queue overflowed: closed
  drop,            // an admin drop
  blackhole,       // sessions blackholed
  release,         // sessions answered again
  fault,           // a fault rule fired
  admin,           // an admin call
  accept_backoff,  // out of file descriptors: accepting paused
  shutdown,        // DISCONNECT 0x8B to everyone
  error,           // something the server could not do (a port it cannot bind again)
  ping,            // a PINGREQ
  api,             // a server API call
  navigation,      // a navigation request (POST /navi.json) and the code its answer gives
  // One-to-one messages (docs/protocol.md §9); user is the recipient.
  message_sent,         // the server took a message (from a client or the server API)
  message_stored,       // kept for a recipient with no device online
  message_delivered,    // sent to a device for the first time
  message_redelivered,  // sent again: the last delivery was not acknowledged
  message_expired,      // past messages.retention before anyone took it: gone
  message_dropped,      // the recipient held messages.max_stored_per_user: the oldest went
};

inline constexpr names<event_kind, 26> k_event_kind_names{{{
    {"start", event_kind::start},
    {"accept", event_kind::accept},
    {"connect", event_kind::connect},
    {"kick", event_kind::kick},
    {"disconnect", event_kind::disconnect},
    {"closed", event_kind::closed},
    {"timeout", event_kind::timeout},
    {"protocol_error", event_kind::protocol_error},
    {"slow_reader", event_kind::slow_reader},
    {"drop", event_kind::drop},
    {"blackhole", event_kind::blackhole},
    {"release", event_kind::release},
    {"fault", event_kind::fault},
    {"admin", event_kind::admin},
    {"accept_backoff", event_kind::accept_backoff},
    {"shutdown", event_kind::shutdown},
    {"error", event_kind::error},
    {"ping", event_kind::ping},
    {"api", event_kind::api},
    {"navigation", event_kind::navigation},
    {"message_sent", event_kind::message_sent},
    {"message_stored", event_kind::message_stored},
    {"message_delivered", event_kind::message_delivered},
    {"message_redelivered", event_kind::message_redelivered},
    {"message_expired", event_kind::message_expired},
    {"message_dropped", event_kind::message_dropped},
}}};

/// Kinds a scenario's trace leaves out (the harness's noise): start, accept, api.
inline constexpr bool left_out_of_traces(event_kind k) noexcept {
  return k == event_kind::start || k == event_kind::accept || k == event_kind::api;
}

struct event {
  std::uint64_t seq = 0;
  std::int64_t t_ms = 0;      // server time (scenario time under the harness)
  event_kind kind = event_kind::admin;  // its name: k_event_kind_names.of(kind)
  std::uint64_t session = 0;  // 0: not about one session
  std::string app;
  std::string user;
  std::string device;
  std::string_view transport;  // empty or to_string(transport): static storage
  int code = 0;                // documented rc code where one applies (0 = success/none)
  std::string detail;          // human-readable rest
};

/// One line a person can read: "12.345 connect #7 app/alice/phone tcp -> 31004 (token ...)".
std::string to_text(const event& e);
/// One JSON object (no newline). Always valid JSON: a field's bytes that are not UTF-8
/// (a client's header, a query string's %XX) come out as '?'.
std::string to_json(const event& e);

class event_log {
 public:
  explicit event_log(std::size_t capacity = 100'000) : capacity_(capacity) {}

  /// Appends `e` (seq assigned here) and tells every listener. Returns the seq.
  std::uint64_t add(event e);

  /// Events with seq > after_seq that are still kept, oldest first, at most `limit`
  /// (made again from the compact records).
  [[nodiscard]] std::vector<event> since(std::uint64_t after_seq, std::size_t limit = 10'000) const;

  [[nodiscard]] std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
  [[nodiscard]] std::size_t size() const noexcept { return events_.size(); }
  /// Heap bytes the kept events hold (records and their text; allocator overhead aside).
  [[nodiscard]] std::size_t bytes() const noexcept {
    return events_.size() * sizeof(record) + text_bytes_;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes of the blocks the kept events' text is in, unused ends included.
  [[nodiscard]] std::size_t text_block_bytes() const noexcept { return block_bytes_; }
  /// Events no longer kept: the oldest go once `capacity` are held.
  [[nodiscard]] std::uint64_t dropped() const noexcept { return last_seq() - events_.size(); }

  /// Called synchronously for each new event, on the server's thread, in the order
  /// listeners were added (the harness's trace, the server's --events echo).
  using listener = std::function<void(const event&)>;
  void add_listener(listener l) { listeners_.push_back(std::move(l)); }

 private:
  // One kept event. Its seq is first_seq_ plus its index; its text is app, user, device
  // and detail one after the other (lengths below; a longer field is cut at 65,535),
  // at `offset` in text block number `block`.
  struct record {
    std::int64_t t_ms = 0;
    std::uint64_t session = 0;
    std::uint32_t block = 0;
    std::uint32_t offset = 0;
    std::int32_t code = 0;
    std::uint32_t detail_size = 0;
    std::uint16_t app_size = 0, user_size = 0, device_size = 0;
    event_kind kind = event_kind::admin;
    std::uint8_t transport = k_no_transport;  // a transport's index in k_transport_names
  };
  static constexpr std::uint8_t k_no_transport = 0xff;
  // The kept events' text, oldest first, in blocks of k_text_block bytes (a longer
  // text gets a block of its own): one allocation per block, not per event, and
  // blocks go first in, first out, as the events do, so they leave no holes between
  // the sessions' allocations. A block goes with the last event whose text it holds.
  struct text_block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
    std::size_t used = 0;
    std::size_t events = 0;  // kept events whose text is here
  };
  static constexpr std::size_t k_text_block = 64 * 1024;
  [[nodiscard]] record compact(const event& e);
  [[nodiscard]] event expand(const record& r, std::uint64_t seq) const;
  char* text_for(record& r, std::size_t n);  // n bytes for r's text, r.block/offset set
  void drop_oldest();
  [[nodiscard]] text_block& block_of(const record& r) { return blocks_[r.block - first_block_]; }
  [[nodiscard]] const text_block& block_of(const record& r) const {
    return blocks_[r.block - first_block_];
  }

  std::deque<record> events_;
  std::deque<text_block> blocks_;
  std::uint32_t first_block_ = 0;  // number of blocks_.front() (wraps; differences stay right)
  std::size_t block_bytes_ = 0;
  std::uint64_t first_seq_ = 1;  // seq of events_.front()
  std::size_t text_bytes_ = 0;
  std::size_t capacity_;
  std::uint64_t next_seq_ = 1;
  std::vector<listener> listeners_;
};

}  // namespace imock::server
