#include "imock/server/metrics.hpp"

#include "imock/server/hub.hpp"

namespace imock::server {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, std::uint64_t value,
            const std::string& labels = {}) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

}  // namespace

std::string render_metrics(const hub& h, const metrics_extras& extras) {
  const auto& c = h.counters();
  std::string out;
  out.reserve(4096);
  constexpr transport k_all[] = {transport::tcp, transport::tls, transport::ws, transport::wss};

  family(out, "imock_connections", "gauge", "Open MQTT connections by transport.");
  for (auto t : k_all) {
    sample(out, "imock_connections", h.count_by_transport(t),
           "transport=\"" + std::string(to_string(t)) + "\"");
  }
  family(out, "imock_connected_sessions", "gauge", "Sessions past a successful CONNACK.");
  sample(out, "imock_connected_sessions", h.connected_count());
  family(out, "imock_accepted_total", "counter", "Accepted MQTT connections by transport.");
  for (auto t : k_all) {
    sample(out, "imock_accepted_total", c.accepted[static_cast<std::size_t>(t)],
           "transport=\"" + std::string(to_string(t)) + "\"");
  }
  family(out, "imock_closed_total", "counter",
         "Closed MQTT connections by transport (accepted = closed + open).");
  for (auto t : k_all) {
    sample(out, "imock_closed_total", c.closed[static_cast<std::size_t>(t)],
           "transport=\"" + std::string(to_string(t)) + "\"");
  }
  family(out, "imock_connects_total", "counter",
         "CONNECT results by documented code (0 = accepted).");
  for (const auto& [code, n] : c.connects_by_code) {
    sample(out, "imock_connects_total", n, "code=\"" + std::to_string(code) + "\"");
  }
  family(out, "imock_kicks_total", "counter", "Sessions kicked (login elsewhere, admin, block).");
  sample(out, "imock_kicks_total", c.kicks);
  family(out, "imock_faults_fired_total", "counter", "Fault rules that fired.");
  sample(out, "imock_faults_fired_total", c.faults_fired);
  family(out, "imock_keep_alive_timeouts_total", "counter", "Sessions closed for silence.");
  sample(out, "imock_keep_alive_timeouts_total", c.keep_alive_timeouts);
  family(out, "imock_connect_timeouts_total", "counter", "Connections without CONNECT in time.");
  sample(out, "imock_connect_timeouts_total", c.connect_timeouts);
  family(out, "imock_protocol_errors_total", "counter", "Malformed or out-of-order packets.");
  sample(out, "imock_protocol_errors_total", c.protocol_errors);
  family(out, "imock_slow_reader_drops_total", "counter", "Sessions closed: outbound queue full.");
  sample(out, "imock_slow_reader_drops_total", c.slow_reader_drops);
  family(out, "imock_packets_received_total", "counter", "MQTT packets received.");
  sample(out, "imock_packets_received_total", c.packets_in);
  family(out, "imock_bytes_received_total", "counter", "MQTT bytes received.");
  sample(out, "imock_bytes_received_total", c.bytes_in);
  family(out, "imock_bytes_sent_total", "counter", "MQTT bytes sent.");
  sample(out, "imock_bytes_sent_total", c.bytes_out);
  family(out, "imock_accept_backoffs_total", "counter", "Accept failures for lack of descriptors.");
  sample(out, "imock_accept_backoffs_total", extras.accept_backoffs);
  family(out, "imock_memory_trims_total", "counter",
         "Free heap pages returned to the system (malloc_trim) after a burst of closes.");
  sample(out, "imock_memory_trims_total", extras.memory_trims);
  family(out, "imock_accepting", "gauge", "1 while the MQTT listeners accept connections.");
  sample(out, "imock_accepting", extras.accepting ? 1 : 0);
  family(out, "imock_messages_total", "counter",
         "One-to-one messages by what happened to them (docs/protocol.md §9).");
  const std::pair<const char*, std::uint64_t> messages[] = {
      {"sent", c.messages_sent},           {"stored", c.messages_stored},
      {"delivered", c.messages_delivered}, {"redelivered", c.messages_redelivered},
      {"expired", c.messages_expired},     {"dropped", c.messages_dropped},
      {"refused", c.messages_refused}};
  for (const auto& [what, n] : messages) {
    sample(out, "imock_messages_total", n, "outcome=\"" + std::string(what) + "\"");
  }
  family(out, "imock_messages_stored", "gauge", "Messages held for users, not yet taken.");
  sample(out, "imock_messages_stored", h.stored_messages());
  family(out, "imock_events_total", "counter", "Events written to the event log.");
  sample(out, "imock_events_total", h.events().last_seq());
  family(out, "imock_events_kept", "gauge",
         "Events /admin/events still holds (at most limits.event_log).");
  sample(out, "imock_events_kept", h.events().size());
  family(out, "imock_events_kept_bytes", "gauge",
         "Heap bytes the kept events hold: their records and text, allocator overhead aside.");
  sample(out, "imock_events_kept_bytes", h.events().bytes());
  family(out, "imock_events_dropped_total", "counter",
         "Events dropped from the log because it was at capacity (the oldest go first).");
  sample(out, "imock_events_dropped_total", h.events().dropped());
  return out;
}

}  // namespace imock::server
