// Fault rules: what the server does wrong on purpose, and when (docs/admin-api.md).
// Sans-IO: the hub asks match() at each protocol event; the rule decides whether it
// fires (nth / every / probability with a seeded generator / times left).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "imock/base/names.hpp"
#include "imock/protocol/codes.hpp"

namespace imock::server {

/// The protocol event a rule waits for.
enum class fault_trigger {
  connect,  // a CONNECT arrived (before any check)
  connack,  // right after a successful CONNACK was sent
  packet,   // a packet arrived on a connected session (nth = its count on that session)
  // Messages (docs/protocol.md §9):
  delivery,  // a message is about to go to a session (nth = its count on that session)
  send,      // a client's send (PUBLISH imock/send) arrived
  sync,      // the offline sync is about to start, right after a successful CONNACK
};

/// What the rule does when it fires.
enum class fault_action {
  refuse,     // CONNACK with `code` (connect only)
  delay,      // hold the CONNACK for delay_ms (connect only), then go on normally
  drop,       // close the connection, with a DISCONNECT (send_disconnect) or without
  blackhole,  // keep the TCP connection, answer nothing from now on
  kick,       // DISCONNECT 0x8E with rc-code `code` (default 31010)
  // Messages:
  duplicate,  // deliver the message twice (delivery only)
  reorder,    // hold the message back until the session's next delivery has gone (delivery)
  drop_ack,   // take the client's message but send no PUBACK, so it resends (send only)
};

inline constexpr names<fault_trigger, 6> k_fault_trigger_names{{{
    {"connect", fault_trigger::connect},
    {"connack", fault_trigger::connack},
    {"packet", fault_trigger::packet},
    {"delivery", fault_trigger::delivery},
    {"send", fault_trigger::send},
    {"sync", fault_trigger::sync},
}}};
inline constexpr names<fault_action, 8> k_fault_action_names{{{
    {"refuse", fault_action::refuse},
    {"delay", fault_action::delay},
    {"drop", fault_action::drop},
    {"blackhole", fault_action::blackhole},
    {"kick", fault_action::kick},
    {"duplicate", fault_action::duplicate},
    {"reorder", fault_action::reorder},
    {"drop_ack", fault_action::drop_ack},
}}};
inline std::string_view to_string(fault_trigger t) noexcept { return k_fault_trigger_names.of(t); }
inline std::string_view to_string(fault_action a) noexcept { return k_fault_action_names.of(a); }

struct fault_rule {
  std::uint64_t id = 0;  // assigned by fault_set::add
  fault_trigger on = fault_trigger::connect;
  fault_action action = fault_action::refuse;
  // Filters: empty = any.
  std::string app;
  std::string user;
  std::string device;
  // When among the matching events it fires:
  std::uint32_t nth = 0;     // only the nth matching event (1-based); for `packet`, the nth
                             // packet of each session; 0 = any
  std::uint32_t every = 0;   // every Nth matching event; 0 = each
  double probability = 1.0;  // fire with this probability (seeded generator)
  std::uint32_t times = 1;   // how many times it may fire; 0 = unlimited
  // Parameters:
  rc::code code = rc::code::conn_server_unavailable;  // refuse / kick
  std::int64_t delay_ms = 0;                          // delay
  bool send_disconnect = true;                        // drop
  // Book-keeping:
  std::uint64_t matched = 0;
  std::uint64_t fired = 0;
};

/// How the navigation server misbehaves (docs/admin-api.md, "Navigation";
/// docs/protocol.md §8 says which code a client derives from each).
enum class navigation_fault : std::uint8_t {
  none,      // answer normally (also: clear the navigation fault)
  resource,  // 200 {"code":200,"cacheSeconds":N} without "servers": 30004
  request,   // close the connection without an answer: 30005
  response,  // 200 with a body that is not JSON: 30006
  node,      // 200 with "servers":[]: 30007
  app_key,   // 403 {"code":30008}: 30008
  server,    // 500 {"code":30009}: 30009
  dead,      // 200 with servers that refuse every connection: 32061 at connect
};

inline constexpr names<navigation_fault, 8> k_navigation_fault_names{{{
    {"resource", navigation_fault::resource},
    {"request", navigation_fault::request},
    {"response", navigation_fault::response},
    {"node", navigation_fault::node},
    {"app_key", navigation_fault::app_key},
    {"server", navigation_fault::server},
    {"dead", navigation_fault::dead},
    {"none", navigation_fault::none},
}}};
inline std::string_view to_string(navigation_fault f) noexcept {
  return k_navigation_fault_names.of(f);
}

/// The armed navigation fault: one at a time (arming another replaces it).
struct navigation_fault_rule {
  navigation_fault fail = navigation_fault::none;
  std::uint32_t count = 0;  // requests it still answers; 0 = until cleared
  std::string app;          // only requests naming this app key; empty = any
  std::uint64_t fired = 0;
};

/// What a protocol event looks like to the rules.
struct fault_event {
  fault_trigger on;
  std::string_view app;
  std::string_view user;
  std::string_view device;
  std::uint64_t packet_count = 0;  // `packet`: packets received on the session so far;
                                   // `delivery`: messages sent to the session so far
};

class fault_set {
 public:
  explicit fault_set(std::uint64_t seed = 1) : rng_(seed) {}

  std::uint64_t add(fault_rule rule);
  bool remove(std::uint64_t id);
  /// Removes every rule and the navigation fault.
  void clear() noexcept {
    rules_.clear();
    navigation_ = {};
  }
  void reseed(std::uint64_t seed) { rng_.seed(seed); }

  /// The first rule that fires for `e` (its counters updated), or nullopt.
  /// Rules that have used up their `times` are removed.
  std::optional<fault_rule> match(const fault_event& e);

  [[nodiscard]] const std::vector<fault_rule>& rules() const noexcept { return rules_; }
  [[nodiscard]] bool any_for(fault_trigger t) const noexcept;

  /// Arms `r` in place of the navigation fault there was (fail `none` clears it).
  void set_navigation(navigation_fault_rule r);
  [[nodiscard]] const navigation_fault_rule& navigation() const noexcept { return navigation_; }
  /// The fault a navigation request naming `app_key` gets (none when no fault is armed
  /// or its filter does not match). Counts it; a fault whose count runs out is cleared.
  navigation_fault take_navigation(std::string_view app_key);

 private:
  std::vector<fault_rule> rules_;
  navigation_fault_rule navigation_;
  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 1;
};

}  // namespace imock::server
