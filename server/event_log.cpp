#include "imock/server/event_log.hpp"

#include <boost/json.hpp>

#include <cstdio>

#include "imock/base/utf8.hpp"

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

std::uint64_t event_log::add(event e) {
  e.seq = next_seq_++;
  for (const auto& l : listeners_) l(e);
  events_.push_back(std::move(e));
  while (events_.size() > capacity_) {
    events_.pop_front();
  }
  return next_seq_ - 1;
}

std::vector<event> event_log::since(std::uint64_t after_seq, std::size_t limit) const {
  std::vector<event> out;
  if (events_.empty() || after_seq >= events_.back().seq) {
    return out;
  }
  // Sequence numbers are dense within the deque: index arithmetic, no search.
  const std::uint64_t first = events_.front().seq;
  std::size_t i = after_seq < first ? 0 : static_cast<std::size_t>(after_seq - first + 1);
  for (; i < events_.size() && out.size() < limit; ++i) {
    out.push_back(events_[i]);
  }
  return out;
}

}  // namespace imock::server
