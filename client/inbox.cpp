#include "imock/client/inbox.hpp"

#include <algorithm>

namespace imock::client {

// --- memory_store ---

std::int64_t memory_store::add(const message& m, const std::string& client_msg_id) {
  rows_.push_back({m, client_msg_id});
  rows_.back().m.id = static_cast<std::int64_t>(rows_.size());
  return rows_.back().m.id;
}

void memory_store::set_sent(std::int64_t id, int sent_status, const std::string& uid,
                            std::int64_t sent_ms) {
  if (id < 1 || id > static_cast<std::int64_t>(rows_.size())) return;
  auto& m = rows_[static_cast<std::size_t>(id - 1)].m;
  m.sent_status = sent_status;
  if (!uid.empty()) m.uid = uid;
  if (sent_ms != 0) m.sent_ms = sent_ms;
}

std::optional<message> memory_store::find(std::int64_t id) {
  if (id < 1 || id > static_cast<std::int64_t>(rows_.size())) return std::nullopt;
  return rows_[static_cast<std::size_t>(id - 1)].m;
}

std::vector<incoming_message> memory_store::similar(const incoming_message& in) {
  std::vector<incoming_message> out;
  for (const auto& r : rows_) {
    if (r.m.direction != 2) continue;
    if (r.m.uid == in.uid || (r.m.sender == in.from && r.m.content == in.content)) {
      out.push_back({.uid = r.m.uid,
                     .from = r.m.sender,
                     .object_name = r.m.object_name,
                     .content = r.m.content,
                     .client_msg_id = r.client_msg_id,
                     .sent_ms = r.m.sent_ms});
    }
  }
  return out;
}

std::vector<message> memory_store::history(const std::string& peer, std::size_t limit) {
  std::vector<message> out;
  for (const auto& r : rows_) {
    if (r.m.peer == peer) out.push_back(r.m);
  }
  std::stable_sort(out.begin(), out.end(), [](const message& a, const message& b) {
    return a.sent_ms != b.sent_ms ? a.sent_ms < b.sent_ms : a.id < b.id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

// --- inbox ---

message inbox::attach(const outgoing_message& m, const std::string& self, std::int64_t now_ms) {
  message row{.peer = m.to,
              .sender = self,
              .direction = 1,
              .sent_status = 10,
              .object_name = m.object_name,
              .content = m.content,
              .sent_ms = now_ms};
  if (store_ != nullptr) {
    row.id = store_->add(row, "");
  } else {
    row.id = ++memory_ids_;
    memory_.push_back(row);
  }
  return row;
}

std::optional<message> inbox::sent_row(std::int64_t id) {
  std::optional<message> row;
  if (store_ != nullptr) {
    row = store_->find(id);
  } else {
    const auto it = std::find_if(memory_.begin(), memory_.end(),
                                 [id](const message& m) { return m.id == id; });
    if (it != memory_.end()) row = *it;
  }
  if (row && row->direction != 1) row.reset();
  return row;
}

void inbox::sent(std::int64_t id, const std::string& uid, std::int64_t sent_ms) {
  if (store_ != nullptr) store_->set_sent(id, 30, uid, sent_ms);
}

void inbox::failed(std::int64_t id) {
  if (store_ != nullptr) store_->set_sent(id, 20, "", 0);
}

std::optional<message> inbox::receive(const incoming_message& in, std::int64_t now_ms) {
  // A status message is shown, never stored (SPEC.md §8.5), and "typing" may well repeat.
  if (!in.status && seen_before(in)) return std::nullopt;
  message m{.uid = in.uid,
            .peer = in.from,
            .sender = in.from,
            .direction = 2,
            .sent_status = 40,
            .object_name = in.object_name,
            .content = in.content,
            .sent_ms = in.sent_ms,
            .received_ms = now_ms,
            .offline = in.offline};
  if (in.status) return m;
  m.id = store_ != nullptr ? store_->add(m, in.client_msg_id) : ++memory_ids_;
  recent_.push_back(in);
  if (recent_.size() > k_recent) recent_.pop_front();
  return m;
}

// SPEC.md §8.5: the same messageUId, or a sender's resend (is_duplicate), among the
// messages received before: the latest in memory, then the database's.
bool inbox::seen_before(const incoming_message& in) {
  for (const auto& earlier : recent_) {
    if (is_duplicate(in, earlier)) return true;
  }
  if (store_ == nullptr) return false;
  const auto similar = store_->similar(in);
  return std::any_of(similar.begin(), similar.end(),
                     [&](const incoming_message& earlier) { return is_duplicate(in, earlier); });
}

std::vector<message> inbox::history(const std::string& peer, std::size_t limit) {
  return store_ != nullptr ? store_->history(peer, limit) : std::vector<message>{};
}

}  // namespace imock::client
