#include "imock/server/event_log.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "imock/base/utf8.hpp"
#include "imock/protocol/transport.hpp"

namespace imock::server {

std::string to_text(const event& e) {
  char head[64];
  std::snprintf(head, sizeof head, "%lld.%03lld ", static_cast<long long>(e.t_ms / 1000),
                static_cast<long long>(e.t_ms % 1000));
  std::string out = head;
  out += k_event_kind_names.of(e.kind);
  if (e.session != 0) {
    out += " #" + std::to_string(e.session);
  }
  if (!e.app.empty() || !e.user.empty() || !e.device.empty()) {
    out += " " + e.app + "/" + e.user + "/" + e.device;
  }
  if (!e.transport.empty()) {
    out += ' ';
    out += e.transport;
  }
  if (e.code != 0) {
    out += " code=" + std::to_string(e.code);
  }
  if (!e.detail.empty()) {
    out += " " + e.detail;
  }
  return out;
}

std::string to_json(const event& e) {
  boost::json::object o;
  o["seq"] = e.seq;
  o["t_ms"] = e.t_ms;
  o["kind"] = k_event_kind_names.of(e.kind);
  if (e.session != 0) o["session"] = e.session;
  if (!e.app.empty()) o["app"] = as_utf8(e.app);
  if (!e.user.empty()) o["user"] = as_utf8(e.user);
  if (!e.device.empty()) o["device"] = as_utf8(e.device);
  if (!e.transport.empty()) o["transport"] = e.transport;
  o["code"] = e.code;
  if (!e.detail.empty()) o["detail"] = as_utf8(e.detail);
  return boost::json::serialize(o);
}

namespace {
std::uint16_t short_size(std::string_view s) {
  return static_cast<std::uint16_t>(std::min<std::size_t>(s.size(), 0xffff));
}
}  // namespace

char* event_log::text_for(record& r, std::size_t n) {
  if (blocks_.empty() || blocks_.back().size - blocks_.back().used < n) {
    const std::size_t size = std::max(n, k_text_block);
    blocks_.push_back({.data = std::make_unique_for_overwrite<char[]>(size), .size = size});
    block_bytes_ += size;
  }
  auto& b = blocks_.back();
  r.block = first_block_ + static_cast<std::uint32_t>(blocks_.size() - 1);
  r.offset = static_cast<std::uint32_t>(b.used);  // < k_text_block, or 0 in a block of its own
  b.used += n;
  ++b.events;
  return b.data.get() + r.offset;
}

// The oldest event goes, and its text block with it if no other kept event's text is
// there. Events fill blocks in order, so that block is the front one.
void event_log::drop_oldest() {
  const auto& old = events_.front();
  text_bytes_ -= std::size_t{old.app_size} + old.user_size + old.device_size + old.detail_size;
  auto& b = block_of(old);
  if (--b.events == 0) {
    if (blocks_.size() > 1) {
      block_bytes_ -= b.size;
      blocks_.pop_front();
      ++first_block_;
    } else {
      b.used = 0;  // the one block, empty: filled again from its start
    }
  }
  events_.pop_front();
  ++first_seq_;
}

event_log::record event_log::compact(const event& e) {
  static_assert(sizeof(record) <= 40, "an event log record stays compact");
  record r;
  r.t_ms = e.t_ms;
  r.session = e.session;
  if (const auto t = k_transport_names.parse(e.transport)) r.transport = static_cast<std::uint8_t>(*t);
  r.code = static_cast<std::int32_t>(e.code);
  r.kind = e.kind;
  r.app_size = short_size(e.app);
  r.user_size = short_size(e.user);
  r.device_size = short_size(e.device);
  r.detail_size = static_cast<std::uint32_t>(std::min<std::size_t>(e.detail.size(), 0xffff'ffff));
  const std::size_t n = std::size_t{r.app_size} + r.user_size + r.device_size + r.detail_size;
  char* out = text_for(r, n);
  out = std::copy_n(e.app.data(), r.app_size, out);
  out = std::copy_n(e.user.data(), r.user_size, out);
  out = std::copy_n(e.device.data(), r.device_size, out);
  std::copy_n(e.detail.data(), r.detail_size, out);
  return r;
}

event event_log::expand(const record& r, std::uint64_t seq) const {
  event e;
  e.seq = seq;
  e.t_ms = r.t_ms;
  e.kind = r.kind;
  e.session = r.session;
  e.code = r.code;
  if (r.transport != k_no_transport) e.transport = to_string(static_cast<transport>(r.transport));
  const char* in = block_of(r).data.get() + r.offset;
  e.app.assign(in, r.app_size);
  in += r.app_size;
  e.user.assign(in, r.user_size);
  in += r.user_size;
  e.device.assign(in, r.device_size);
  in += r.device_size;
  e.detail.assign(in, r.detail_size);
  return e;
}

std::uint64_t event_log::add(event e) {
  e.seq = next_seq_++;
  for (const auto& l : listeners_) l(e);
  auto r = compact(e);
  text_bytes_ += std::size_t{r.app_size} + r.user_size + r.device_size + r.detail_size;
  events_.push_back(std::move(r));
  while (events_.size() > capacity_) drop_oldest();
  return e.seq;
}

std::vector<event> event_log::since(std::uint64_t after_seq, std::size_t limit) const {
  std::vector<event> out;
  if (events_.empty() || after_seq >= last_seq()) {
    return out;
  }
  // Sequence numbers are dense within the deque: index arithmetic, no search.
  std::size_t i = after_seq < first_seq_ ? 0 : static_cast<std::size_t>(after_seq - first_seq_ + 1);
  out.reserve(std::min(limit, events_.size() - i));
  for (; i < events_.size() && out.size() < limit; ++i) {
    out.push_back(expand(events_[i], first_seq_ + i));
  }
  return out;
}

}  // namespace imock::server
