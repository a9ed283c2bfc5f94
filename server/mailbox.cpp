#include "imock/server/mailbox.hpp"

#include <algorithm>

namespace imock::server {

std::string mailbox::key(std::string_view app, std::string_view user) {
  std::string k(app);
  k += '\x1f';
  k += user;
  return k;
}

mailbox::queue* mailbox::find(std::string_view app, std::string_view user) {
  const auto it = queues_.find(key(app, user));
  return it == queues_.end() ? nullptr : &it->second;
}

const mailbox::queue* mailbox::find(std::string_view app, std::string_view user) const {
  const auto it = queues_.find(key(app, user));
  return it == queues_.end() ? nullptr : &it->second;
}

bool mailbox::owes(const stored_message& m, std::string_view device,
                   std::uint64_t session) const {
  if (!multi_device_) return m.in_flight.empty();  // still here: nobody has taken it
  // Each device takes its own copy: not taken by this device, not on its way to it.
  return std::find(m.taken_by.begin(), m.taken_by.end(), device) == m.taken_by.end() &&
         std::find(m.in_flight.begin(), m.in_flight.end(), session) == m.in_flight.end();
}

std::optional<stored_message> mailbox::add(stored_message m) {
  auto& q = queues_[key(m.app, m.to)];
  std::optional<stored_message> dropped;
  if (max_per_user_ > 0 && q.size() >= max_per_user_) {
    dropped = std::move(q.front());
    q.pop_front();
    --total_;
  }
  q.push_back(std::move(m));
  ++total_;
  return dropped;
}

std::vector<stored_message*> mailbox::pending(std::string_view app, std::string_view user,
                                              std::string_view device, std::uint64_t session,
                                              std::size_t limit) {
  std::vector<stored_message*> out;
  auto* q = find(app, user);
  if (q == nullptr) return out;
  for (auto& m : *q) {
    if (out.size() >= limit) break;
    if (owes(m, device, session)) out.push_back(&m);
  }
  return out;
}

std::size_t mailbox::pending_count(std::string_view app, std::string_view user,
                                   std::string_view device, std::uint64_t session) const {
  const auto* q = find(app, user);
  if (q == nullptr) return 0;
  return static_cast<std::size_t>(
      std::count_if(q->begin(), q->end(), [&](const auto& m) { return owes(m, device, session); }));
}

bool mailbox::taken(std::string_view app, std::string_view user, std::string_view uid,
                    std::string_view device, std::uint64_t session) {
  auto* q = find(app, user);
  if (q == nullptr) return false;
  const auto it = std::find_if(q->begin(), q->end(), [&](const auto& m) { return m.uid == uid; });
  if (it == q->end()) return false;
  std::erase(it->in_flight, session);
  if (!multi_device_) {
    q->erase(it);
    --total_;
    if (q->empty()) queues_.erase(key(app, user));
    return true;
  }
  if (std::find(it->taken_by.begin(), it->taken_by.end(), device) == it->taken_by.end()) {
    it->taken_by.emplace_back(device);
  }
  return true;
}

void mailbox::release(std::string_view app, std::string_view user, std::uint64_t session) {
  auto* q = find(app, user);
  if (q == nullptr) return;
  for (auto& m : *q) std::erase(m.in_flight, session);
}

std::vector<stored_message> mailbox::expire(std::int64_t cutoff_ms) {
  std::vector<stored_message> out;
  for (auto it = queues_.begin(); it != queues_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front().sent_ms < cutoff_ms) {
      out.push_back(std::move(q.front()));
      q.pop_front();
      --total_;
    }
    it = q.empty() ? queues_.erase(it) : std::next(it);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.sent_ms < b.sent_ms; });
  return out;
}

std::optional<std::int64_t> mailbox::oldest_ms() const {
  std::optional<std::int64_t> oldest;
  for (const auto& [k, q] : queues_) {
    if (!q.empty() && (!oldest || q.front().sent_ms < *oldest)) oldest = q.front().sent_ms;
  }
  return oldest;
}

std::size_t mailbox::size_of(std::string_view app, std::string_view user) const {
  const auto* q = find(app, user);
  return q == nullptr ? 0 : q->size();
}

std::string message_uid(std::uint64_t seed, std::uint64_t counter) {
  // A bijective mix (splitmix64's finaliser) of seed and counter, written as its last
  // 13 base-36 digits (36^13 > 2^64: distinct mixes stay distinct as text), behind 3
  // digits from a second mix so the text does not start with zeros.
  const auto mix = [](std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
  };
  std::uint64_t x = mix(counter + seed * 0x9E3779B97F4A7C15ULL);
  std::uint64_t head = mix(x ^ 0xD6E8FEB86659FD93ULL);
  static constexpr char k_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  char digits[16];
  for (int i = 15; i >= 3; --i) {
    digits[i] = k_digits[x % 36];
    x /= 36;
  }
  for (int i = 2; i >= 0; --i) {
    digits[i] = k_digits[head % 36];
    head /= 36;
  }
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += digits[i];
  }
  return out;
}

}  // namespace imock::server
