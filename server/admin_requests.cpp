#include "imock/server/admin_requests.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <limits>

namespace imock::server::admin {
namespace {

using json_fields::field_problem;
using json_fields::field_reader;

// Reads one request's fields; `in` keeps the problems.
class reader {
 public:
  explicit reader(const boost::json::object& body) : in(body, /*spelled=*/true) {}

  std::string text(std::string_view key, bool required = false) {
    auto v = in.string(key, required);
    if (required && v && v->empty()) in.problem(key, "'" + std::string(key) + "' is required");
    return v.value_or("");
  }

  template <class T>
  T count(std::string_view key, T fallback) {
    const auto v = in.integer(key);
    if (!v) return fallback;
    if (*v < 0 || static_cast<std::uint64_t>(*v) > std::numeric_limits<T>::max()) {
      in.problem(key, "'" + std::string(key) + "' must be 0.." +
                          std::to_string(std::numeric_limits<T>::max()));
      return fallback;
    }
    return static_cast<T>(*v);
  }

  bool flag(std::string_view key, bool fallback) { return in.boolean(key).value_or(fallback); }

  session_filter filter() { return read_filter(in); }

  rc::code code(std::string_view key, rc::code fallback) {
    const auto v = in.integer(key);
    if (!v) return fallback;
    const auto* row = *v > 0 && *v <= std::numeric_limits<int>::max()
                          ? rc::find(static_cast<int>(*v))
                          : nullptr;
    if (row == nullptr) {
      in.problem(key, "'" + std::string(key) + "': " + std::to_string(*v) +
                          " is not a documented code (see docs/codes.md)");
      return fallback;
    }
    return row->value;
  }

  template <class E, std::size_t N>
  std::optional<E> choice(std::string_view key, const names<E, N>& table, bool required,
                          std::string_view what) {
    const auto s = in.string(key);
    if (!s) {
      if (required) {
        in.problem(key, "'" + std::string(key) + "' is required (expected one of: " + table.list() + ")");
      }
      return std::nullopt;
    }
    const auto v = table.parse(*s);
    if (!v) {
      in.problem(key, "'" + std::string(key) + "': '" + *s + "' is not " + std::string(what) +
                          " (expected one of: " + table.list() + ")");
    }
    return v;
  }

  field_reader in;
};

// The refusing and kicking codes a fault rule takes by default.
rc::code default_code(fault_action a) {
  return a == fault_action::kick ? rc::code::disconn_kick : rc::code::conn_server_unavailable;
}

request read_fault(reader& r) {
  fault_rule rule;
  rule.on = r.choice("on", k_fault_trigger_names, false, "a trigger").value_or(fault_trigger::connect);
  rule.action = r.choice("action", k_fault_action_names, true, "an action").value_or(fault_action::refuse);
  const auto f = r.filter();
  rule.app = f.app;
  rule.user = f.user;
  rule.device = f.device;
  rule.nth = r.count<std::uint32_t>("nth", 0);
  rule.every = r.count<std::uint32_t>("every", 0);
  rule.probability = r.in.number("probability").value_or(1.0);
  rule.times = r.count<std::uint32_t>("times", 1);
  rule.code = r.code("code", default_code(rule.action));
  rule.delay_ms = r.in.integer("delay_ms").value_or(0);
  rule.send_disconnect = r.flag("send_disconnect", true);
  return add_fault{std::move(rule)};
}

// The shortcuts' rule: on connect, for the filter's app, user and device.
fault_rule connect_rule(reader& r, fault_action action) {
  const auto f = r.filter();
  return {.on = fault_trigger::connect, .action = action, .app = f.app, .user = f.user, .device = f.device};
}

request read_refuse(reader& r) {
  auto rule = connect_rule(r, fault_action::refuse);
  rule.times = r.count<std::uint32_t>("count", 1);
  rule.every = r.count<std::uint32_t>("every", 0);
  rule.probability = r.in.number("probability").value_or(1.0);
  rule.code = r.code("code", rc::code::conn_server_unavailable);
  return add_fault{std::move(rule), "refuse"};
}

request read_delay(reader& r) {
  auto rule = connect_rule(r, fault_action::delay);
  rule.times = r.count<std::uint32_t>("count", 1);
  if (const auto ms = r.in.integer("ms", /*required=*/true)) rule.delay_ms = *ms;
  return add_fault{std::move(rule), "delay"};
}

request read_block(reader& r) {
  block b{.app = r.text("app", true), .user = r.text("user", true)};
  if (const auto ms = r.in.integer("duration_ms")) {
    b.duration_ms = *ms;
  } else if (const auto minutes = r.in.integer("minutes")) {
    b.duration_ms = *minutes > std::numeric_limits<std::int64_t>::max() / 60'000 ? -1 : *minutes * 60'000;
  }
  return b;
}

request read_drop(reader& r) {
  drop d{.filter = r.filter()};
  const bool with = r.flag("disconnect", false);
  const bool reset = r.flag("reset", false);
  if (with && reset) {
    r.in.problem("reset", "'disconnect' and 'reset' exclude each other (a reset sends nothing)");
  }
  d.how = reset ? hub::drop_how::reset : with ? hub::drop_how::with_disconnect : hub::drop_how::silently;
  d.reason = r.count<std::uint8_t>("reason", 0x80);
  return d;
}

request read_navigation(reader& r) {
  navigation_fault_rule rule;
  rule.fail = r.choice("fail", k_navigation_fault_names, true, "a navigation fault")
                  .value_or(navigation_fault::none);
  rule.count = r.count<std::uint32_t>("count", 0);
  rule.app = r.text("app");
  return set_navigation{std::move(rule)};
}

struct endpoint {
  std::string_view path;
  std::initializer_list<std::string_view> keys;
  request (*read)(reader&);
};

const std::array<endpoint, 19>& endpoints() {
  static const std::array<endpoint, 19> table{{
      {"/admin/kick", {"app", "user", "device", "session", "code"},
       [](reader& r) -> request { return kick{r.filter(), r.code("code", rc::code::disconn_kick)}; }},
      {"/admin/users/block", {"app", "user", "duration_ms", "minutes"}, read_block},
      {"/admin/users/unblock", {"app", "user"},
       [](reader& r) -> request { return unblock{r.text("app", true), r.text("user", true)}; }},
      {"/admin/tokens/expire", {"app", "user", "before_ms"},
       [](reader& r) -> request {
         return expire_tokens{r.text("app", true), r.text("user", true), r.in.integer("before_ms")};
       }},
      {"/admin/apps/state", {"app", "state"},
       [](reader& r) -> request {
         const auto app = r.text("app", true);
         const auto state = r.choice("state", k_app_state_names, true, "an app state");
         return set_app_state{app, state.value_or(app_state::active)};
       }},
      {"/admin/drop", {"app", "user", "device", "session", "disconnect", "reset", "reason"}, read_drop},
      {"/admin/blackhole", {"app", "user", "device", "session", "include_new"},
       [](reader& r) -> request { return blackhole{r.filter(), true, r.flag("include_new", true)}; }},
      {"/admin/release", {"app", "user", "device", "session", "include_new"},
       [](reader& r) -> request { return blackhole{r.filter(), false, r.flag("include_new", true)}; }},
      {"/admin/faults",
       {"on", "action", "app", "user", "device", "nth", "every", "probability", "times", "code",
        "delay_ms", "send_disconnect"},
       read_fault},
      {"/admin/refuse", {"app", "user", "device", "count", "every", "probability", "code"}, read_refuse},
      {"/admin/delay", {"app", "user", "device", "count", "ms"}, read_delay},
      {"/admin/faults/remove", {"id"},
       [](reader& r) -> request {
         return remove_fault{r.count<std::uint64_t>("id", 0)};
       }},
      {"/admin/faults/clear", {}, [](reader&) -> request { return clear_faults{}; }},
      {"/admin/navigation", {"fail", "count", "app"}, read_navigation},
      {"/admin/stop-accepting", {"silent"},
       [](reader& r) -> request { return stop_accepting{r.flag("silent", false)}; }},
      {"/admin/resume-accepting", {}, [](reader&) -> request { return resume_accepting{}; }},
      {"/admin/restart", {"down_ms"},
       [](reader& r) -> request { return restart{r.in.integer("down_ms").value_or(0)}; }},
      {"/admin/shutdown", {}, [](reader&) -> request { return shutdown{}; }},
      {"/admin/seed", {"seed"},
       [](reader& r) -> request { return reseed{r.count<std::uint64_t>("seed", 1)}; }},
  }};
  return table;
}

const endpoint* find_endpoint(std::string_view path) noexcept {
  for (const auto& e : endpoints()) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

// The longest delay or downtime an admin request may ask for: a day is more than any
// test holds a CONNACK, a sync or a restart, and far from overflowing server time.
constexpr std::int64_t k_max_wait_ms = std::int64_t{24} * 60 * 60 * 1000;

struct validator {
  std::vector<field_problem>& out;

  // A delay or a downtime: 0 .. one day.
  void wait_ms(std::string_view field, std::int64_t v) {
    if (v < 0 || v > k_max_wait_ms) {
      out.push_back({std::string(field), "'" + std::string(field) +
                                             "' must be 0 .. 86400000 (one day, in ms)"});
    }
  }

  void operator()(const block& b) {
    if (b.duration_ms <= 0) out.push_back({"duration_ms", "give 'minutes' or 'duration_ms' > 0"});
  }
  void operator()(const add_fault& f) {
    const auto& r = f.rule;
    if (!(r.probability > 0.0 && r.probability <= 1.0)) {
      out.push_back({"probability", "'probability' must be in (0, 1], e.g. 0.5"});
    }
    wait_ms(f.via == "delay" ? "ms" : "delay_ms", r.delay_ms);
    const bool delay_on = r.on == fault_trigger::connect || r.on == fault_trigger::delivery ||
                          r.on == fault_trigger::sync;
    if (r.action == fault_action::delay && !delay_on) {
      out.push_back({"on", "action delay only works with on: connect, delivery or sync (after a "
                           "CONNACK or on a packet, use kick, drop or blackhole)"});
    }
    if ((r.action == fault_action::duplicate || r.action == fault_action::reorder) &&
        r.on != fault_trigger::delivery) {
      out.push_back({"on", "action " + std::string(to_string(r.action)) +
                               " only works with on: delivery"});
    }
    if (r.action == fault_action::drop_ack && r.on != fault_trigger::send) {
      out.push_back({"on", "action drop_ack only works with on: send"});
    }
    if (r.on == fault_trigger::sync && r.action != fault_action::delay &&
        r.action != fault_action::drop && r.action != fault_action::kick) {
      out.push_back({"action", "on: sync takes delay (hold the sync), drop or kick"});
    }
    if (r.action == fault_action::refuse && r.on != fault_trigger::connect) {
      out.push_back({"on", "action refuse only works with on: connect (after a CONNACK or on "
                           "a packet, use kick, drop or blackhole)"});
    }
  }
  void operator()(const restart& r) { wait_ms("down_ms", r.down_ms); }
  template <class T>
  void operator()(const T&) {}
};

}  // namespace

session_filter read_filter(field_reader& in) {
  session_filter f{.app = in.string("app").value_or(""),
                   .user = in.string("user").value_or(""),
                   .device = in.string("device").value_or("")};
  if (const auto id = in.integer("session")) f.session = static_cast<session_id>(*id);
  return f;
}

bool is_write_path(std::string_view path) noexcept {
  return find_endpoint(path) != nullptr;
}

std::vector<field_problem> validate(const request& r) {
  std::vector<field_problem> out;
  std::visit(validator{out}, r);
  return out;
}

parsed parse_admin_request(std::string_view path, const boost::json::object& body) {
  parsed out;
  reader r(body);
  const auto* e = find_endpoint(path);
  if (e == nullptr) {
    out.problems.push_back({"", "no admin endpoint " + std::string(path) + " (see docs/admin-api.md)"});
    return out;
  }
  const auto keys = e->keys;
  std::optional<request> value = e->read(r);
  for (const auto& kv : body) {
    if (std::find(keys.begin(), keys.end(), kv.key()) == keys.end()) {
      std::string expected;
      for (const auto k : keys) expected += (expected.empty() ? "" : ", ") + std::string(k);
      r.in.problem(kv.key(), "unknown key '" + std::string(kv.key()) + "' for " + std::string(path) +
                                 (keys.size() == 0 ? " (it takes none)" : " (expected: " + expected + ")"));
    }
  }
  out.problems = r.in.problems();
  if (out.problems.empty()) {
    out.problems = validate(*value);
    if (out.problems.empty()) out.value = std::move(value);
  }
  return out;
}

std::string describe(const std::vector<field_problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p.message;
  return out;
}

}  // namespace imock::server::admin
