#include "imock/harness/trace.hpp"

#include <boost/json.hpp>
#include <cstdio>

#include "imock/protocol/codes.hpp"

namespace imock::harness {

namespace json = boost::json;

void trace_log::add(trace_entry e) {
  std::lock_guard lock(mutex_);
  e.t_ms = now_();
  entries_.push_back(std::move(e));
  changed_.notify_all();
}

std::optional<std::size_t> trace_log::find(const std::string& source, std::size_t from,
                                           const pred& p) const {
  std::lock_guard lock(mutex_);
  for (std::size_t i = from; i < entries_.size(); ++i) {
    if (entries_[i].source == source && p(entries_[i])) return i;
  }
  return std::nullopt;
}

int trace_log::count(const std::string& source, std::size_t from, const pred& p) const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (std::size_t i = from; i < entries_.size(); ++i) {
    if (entries_[i].source == source && p(entries_[i])) ++n;
  }
  return n;
}

std::vector<trace_entry> trace_log::snapshot() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

trace_entry trace_log::at(std::size_t i) const {
  std::lock_guard lock(mutex_);
  return entries_.at(i);
}

std::size_t trace_log::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

bool trace_log::wait_growth(std::size_t size, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return entries_.size() > size; });
}

// --- matching ----------------------------------------------------------------------

bool matches(const client_event_match& m, const trace_entry& e) {
  if (e.kind != m.event) return false;
  if (m.status && e.status != *m.status) return false;
  if (m.code && e.code != *m.code) return false;
  if (m.user && !m.user->empty() && e.user != *m.user) return false;
  if (m.call && e.detail != *m.call) return false;
  if (m.text && e.text != *m.text) return false;
  if (m.from && e.user != *m.from) return false;
  if (m.offline && e.offline != m.offline) return false;
  if (m.left && e.left != m.left) return false;
  if (m.has_package && e.has_package != m.has_package) return false;
  return true;
}

bool matches(const server_event_match& m, const trace_entry& e) {
  if (e.kind != m.kind) return false;
  if (m.code && e.code != *m.code) return false;
  if (m.user && e.user != *m.user) return false;
  if (m.device && e.device != *m.device) return false;
  if (m.detail_contains && e.detail.find(*m.detail_contains) == std::string::npos) return false;
  return true;
}

// --- text ------------------------------------------------------------------------------

std::string shortened(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  return text.substr(0, max) + "... (" + std::to_string(text.size()) + " bytes)";
}

std::string status_name(int s) {
  const auto* row = rc::find_status(s);
  return row != nullptr ? std::string(row->name) : "?";
}

std::optional<trace_entry> trace_entry_of(const server::event& e) {
  if (server::left_out_of_traces(e.kind)) return std::nullopt;
  return trace_entry{.source = "server",
                     .kind = std::string(server::k_event_kind_names.of(e.kind)),
                     .code = e.code,
                     .user = e.user,
                     .device = e.device,
                     .detail = e.detail};
}

std::string describe(const trace_entry& e) {
  std::string out = e.kind;
  if (e.kind == "status") {
    out += " " + std::to_string(e.status) + " " + status_name(e.status);
    if (e.code != 0) out += " (cause " + std::to_string(e.code) + ")";
    return out;
  }
  const bool client = e.source != "server" && e.source != "step";
  if (client && (e.kind == "error" || e.kind == "db_opened")) {
    return out + " " + std::to_string(e.code);
  }
  if (e.kind == "returned") return out + " " + e.detail + " -> " + std::to_string(e.code);
  if (e.kind == "success") return out + " " + e.user;
  if (client && e.kind == "message") {
    out += " '" + shortened(e.text) + "' from " + e.user;
    if (e.offline) out += *e.offline ? " offline" : " online";
    if (e.left) out += " left=" + std::to_string(*e.left);
    if (e.has_package && *e.has_package) out += " hasPackage";
    return out;
  }
  if (client && (e.kind == "sent" || e.kind == "send_error")) {
    if (e.kind == "send_error") out += " " + std::to_string(e.code);
    return out + " '" + shortened(e.text) + "'" + (e.detail.empty() ? "" : " " + e.detail);
  }
  if (client && e.kind == "history") return out + " " + e.detail + ": " + shortened(e.text, 200);
  if (e.code != 0) out += " code=" + std::to_string(e.code);
  if (!e.user.empty() || !e.device.empty()) out += " " + e.user + "/" + e.device;
  if (!e.detail.empty()) out += " " + e.detail;
  return out;
}

std::string describe(const client_event_match& m) {
  std::string out = m.event;
  if (m.text) out += " '" + shortened(*m.text) + "'";
  if (m.from) out += " from " + *m.from;
  if (m.offline) out += *m.offline ? " offline" : " online";
  if (m.left) out += " left=" + std::to_string(*m.left);
  if (m.has_package) out += *m.has_package ? " hasPackage" : " no package after";
  if (m.call) out += " " + *m.call;
  if (m.status) out += " " + std::to_string(*m.status) + " " + status_name(*m.status);
  if (m.code) out += (m.event == "status" ? " cause " : " ") + std::to_string(*m.code);
  if (m.user && !m.user->empty()) out += " " + *m.user;
  return out;
}

std::string describe(const server_event_match& m) {
  std::string out = "server " + m.kind;
  if (m.code) out += " code=" + std::to_string(*m.code);
  if (m.user) out += " user=" + *m.user;
  if (m.device) out += " device=" + *m.device;
  if (m.detail_contains) out += " detail~'" + *m.detail_contains + "'";
  return out;
}

std::string format_ms(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string render_trace(const std::vector<trace_entry>& trace, std::size_t from, std::size_t to) {
  std::string out;
  to = std::min(to, trace.size());
  for (std::size_t i = from; i < to; ++i) {
    const auto& e = trace[i];
    char time[32];
    std::snprintf(time, sizeof time, "  %9.3f  ", static_cast<double>(e.t_ms) / 1000.0);
    out += time;
    out += e.source;  // any length: a long client name pushes the text right, whole
    if (e.source.size() < 10) out.append(10 - e.source.size(), ' ');
    out += ' ';
    out += e.kind == "step" ? "> " + e.detail : describe(e);
    out += "\n";
  }
  return out;
}

std::string trace_jsonl(const std::vector<trace_entry>& trace) {
  std::string out;
  for (const auto& e : trace) {
    json::object o{{"t_ms", e.t_ms}, {"source", e.source}, {"kind", e.kind}};
    if (e.status >= 0) o["status"] = e.status;
    if (e.code != 0) o["code"] = e.code;
    if (!e.user.empty()) o["user"] = e.user;
    if (!e.device.empty()) o["device"] = e.device;
    if (!e.detail.empty()) o["detail"] = e.detail;
    if (e.client_ms != 0) o["client_ms"] = e.client_ms;
    if (!e.text.empty()) o["text"] = e.text;
    if (e.left) o["left"] = *e.left;
    if (e.offline) o["offline"] = *e.offline;
    if (e.has_package) o["has_package"] = *e.has_package;
    out += json::serialize(o) + "\n";
  }
  return out;
}

}  // namespace imock::harness
