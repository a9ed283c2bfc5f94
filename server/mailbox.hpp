// The server's store of one-to-one messages, sans-IO (docs/protocol.md §9): for each
// user, the messages not yet taken, in the order they reached the server, each with
// where it is on its way to. The hub decides when to deliver; this keeps the order,
// the retention and the bound.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "imock/protocol/messages.hpp"

namespace imock::server {

struct stored_message {
  std::string uid;  // "5FGT-7VA9-G4DD-4V5P": unique per server run
  std::string app;
  std::string from;
  std::string to;
  messages::conversation type = messages::conversation::private_chat;
  std::string object_name;
  std::string content;
  std::string push_content;
  std::string client_msg_id;  // the sender's own id, when a client sent it
  std::int64_t sent_ms = 0;   // server time it arrived: the order and sentTime
  bool offline = false;       // no device of the recipient was online when it arrived
  std::uint32_t deliveries = 0;          // times it went out (more than one: redelivered)
  std::vector<std::uint64_t> in_flight;  // sessions it is on its way to, unacknowledged
  std::vector<std::string> taken_by;     // devices that acknowledged it (multi-device sync)
};

class mailbox {
 public:
  /// `multi_device`: messages stay until they expire and each device takes its own
  /// copy; otherwise the first device to acknowledge takes the message for good.
  mailbox(std::uint32_t max_per_user, bool multi_device)
      : max_per_user_(max_per_user), multi_device_(multi_device) {}

  /// Appends `m` to its recipient's messages. When that user already holds
  /// max_per_user, the oldest is removed and returned (it is dropped).
  std::optional<stored_message> add(stored_message m);

  /// The user's messages `device` (on `session`) still has to get and that are not on
  /// their way (without multi-device sync: to anyone; with it: to this session), in
  /// order, at most `limit`.
  std::vector<stored_message*> pending(std::string_view app, std::string_view user,
                                       std::string_view device, std::uint64_t session,
                                       std::size_t limit);
  /// How many such messages there are (for hasPackage).
  [[nodiscard]] std::size_t pending_count(std::string_view app, std::string_view user,
                                          std::string_view device, std::uint64_t session) const;

  /// `device` (on `session`) acknowledged `uid`. False when there is no such message
  /// (acknowledged already, or expired meanwhile).
  bool taken(std::string_view app, std::string_view user, std::string_view uid,
             std::string_view device, std::uint64_t session);
  /// `session` is gone: what it had not acknowledged is pending again.
  void release(std::string_view app, std::string_view user, std::uint64_t session);

  /// Removes and returns the messages that arrived before `cutoff_ms`.
  std::vector<stored_message> expire(std::int64_t cutoff_ms);
  /// When expire() next has something to do: the earliest sent_ms held (nullopt: none).
  [[nodiscard]] std::optional<std::int64_t> oldest_ms() const;

  [[nodiscard]] std::size_t size() const noexcept { return total_; }
  [[nodiscard]] std::size_t size_of(std::string_view app, std::string_view user) const;

 private:
  using queue = std::deque<stored_message>;
  static std::string key(std::string_view app, std::string_view user);
  queue* find(std::string_view app, std::string_view user);
  const queue* find(std::string_view app, std::string_view user) const;
  bool owes(const stored_message& m, std::string_view device, std::uint64_t session) const;

  std::uint32_t max_per_user_;
  bool multi_device_;
  std::unordered_map<std::string, queue> queues_;
  std::size_t total_ = 0;
};

/// A message the server API hands the hub: one content for one or more users.
struct publish_request {
  std::string app;
  std::string from;
  std::vector<std::string> to;
  messages::conversation type = messages::conversation::private_chat;
  std::string object_name;
  std::string content;
  std::string push_content;
  bool status = false;  // a status message: to devices online now, never stored
};

/// The messageUID a recipient's copy got (docs/server-api.md).
struct recipient_uid {
  std::string user;
  std::string uid;
};

/// "XXXX-XXXX-XXXX-XXXX" from a counter and a seed: distinct for distinct counters,
/// in the vendor's shape (16 characters of [0-9A-Z] in four groups).
std::string message_uid(std::uint64_t seed, std::uint64_t counter);

}  // namespace imock::server
