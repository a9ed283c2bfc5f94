// The app's side of the message path (SPEC.md §8.4, §8.5), the part every driver of
// the reference SDK shares: what goes into the user's local database and what the
// receive listener is shown. A message repeating one received before (the same
// messageUId, or a sender's resend: client/messaging.hpp, is_duplicate) is dropped
// before the app sees it; everything else is stored first, then shown. A status
// message is shown and never stored.
//
// The database is a message_store: the SDK's SQLite file (sdk.cpp), or memory_store in
// the simulation, which the simulated app's relaunch keeps the way a file is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "imock/client/message.hpp"
#include "imock/client/messaging.hpp"

namespace imock::client {

/// The user's local database of messages, as the message path uses it.
class message_store {
 public:
  virtual ~message_store() = default;
  /// Adds `m` (its id is not read) with the sender's own id of it; returns the new id.
  virtual std::int64_t add(const message& m, const std::string& client_msg_id) = 0;
  /// A sent message's outcome: its status, and the server's uid and time ("" / 0: kept).
  virtual void set_sent(std::int64_t id, int sent_status, const std::string& uid,
                        std::int64_t sent_ms) = 0;
  /// The row `id`, if there is one.
  virtual std::optional<message> find(std::int64_t id) = 0;
  /// The received messages that may repeat `in`: the same uid, or the same sender and
  /// content (is_duplicate decides).
  virtual std::vector<incoming_message> similar(const incoming_message& in) = 0;
  /// The conversation with `peer`, oldest first (by sentTime, then id), at most `limit`.
  virtual std::vector<message> history(const std::string& peer, std::size_t limit) = 0;
};

/// A message_store in memory (the simulation's database, or a test's).
class memory_store final : public message_store {
 public:
  std::int64_t add(const message& m, const std::string& client_msg_id) override;
  void set_sent(std::int64_t id, int sent_status, const std::string& uid,
                std::int64_t sent_ms) override;
  std::optional<message> find(std::int64_t id) override;
  std::vector<incoming_message> similar(const incoming_message& in) override;
  std::vector<message> history(const std::string& peer, std::size_t limit) override;
  [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }

 private:
  struct row {
    message m;
    std::string client_msg_id;
  };
  std::vector<row> rows_;
};

class inbox {
 public:
  /// `store`: the user's database; nullptr when there is none (no data_dir, or it did
  /// not open): messages then live in memory for as long as this inbox does.
  explicit inbox(message_store* store = nullptr) : store_(store) {}
  void set_store(message_store* store) noexcept { store_ = store; }

  /// sendMessage, before it goes: the row as attached reports it (SENDING), with its id.
  message attach(const outgoing_message& m, const std::string& self, std::int64_t now_ms);
  /// The row of a message sent before, for resendMessage; nullopt when `id` is not one.
  std::optional<message> sent_row(std::int64_t id);
  /// A send's outcome.
  void sent(std::int64_t id, const std::string& uid, std::int64_t sent_ms);
  void failed(std::int64_t id);

  /// A delivery from the server: the message as stored, for the receive listener, or
  /// nullopt when it repeats one received before (dropped, SPEC.md §8.5).
  std::optional<message> receive(const incoming_message& in, std::int64_t now_ms);

  std::vector<message> history(const std::string& peer, std::size_t limit);

  /// Received messages kept in memory for duplicate checks (besides the database's).
  static constexpr std::size_t k_recent = 256;

 private:
  bool seen_before(const incoming_message& in);

  message_store* store_;
  std::deque<incoming_message> recent_;
  std::vector<message> memory_;  // sent rows without a database, for resends
  std::int64_t memory_ids_ = 0;
};

}  // namespace imock::client
