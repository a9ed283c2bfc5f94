// The admin API's write requests as types (docs/admin-api.md): one struct per POST
// endpoint, read from its JSON body by one parser and checked by one validate(). The
// admin API reads every request through parse_admin_request(); the scenario loader
// hands it the body it built from a step, so a rule (a range, two keys that exclude
// each other) is written once and a scenario is refused at load time for the same
// reason the server would refuse the call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/fwd.hpp>

#include "imock/base/json_fields.hpp"
#include "imock/server/config.hpp"
#include "imock/server/faults.hpp"
#include "imock/server/hub.hpp"

namespace imock::server::admin {

struct kick {
  session_filter filter;
  rc::code code = rc::code::disconn_kick;
};
/// block, unblock and expire name one user of one app.
struct block {
  std::string app;
  std::string user;
  std::int64_t duration_ms = 0;  // > 0: 'duration_ms', or 'minutes' x 60,000
};
struct unblock {
  std::string app;
  std::string user;
};
struct expire_tokens {
  std::string app;
  std::string user;
  std::optional<std::int64_t> before_ms;  // default: every token issued until now
};
struct set_app_state {
  std::string app;
  app_state state = app_state::active;
};
struct drop {
  session_filter filter;
  hub::drop_how how = hub::drop_how::silently;
  std::uint8_t reason = 0x80;  // the DISCONNECT's reason code (with_disconnect)
};
/// /admin/blackhole (on) and /admin/release (off).
struct blackhole {
  session_filter filter;
  bool on = true;
  bool include_new = true;
};
/// /admin/faults, /admin/refuse and /admin/delay: a rule for the fault set.
struct add_fault {
  fault_rule rule;
  std::string_view via = "fault";  // the endpoint's word for it: fault, refuse or delay
};
struct remove_fault {
  std::uint64_t id = 0;
};
struct clear_faults {};
struct set_navigation {
  navigation_fault_rule rule;
};
struct stop_accepting {
  bool silent = false;
};
struct resume_accepting {};
struct restart {
  std::int64_t down_ms = 0;
};
struct shutdown {};
struct reseed {
  std::uint64_t seed = 1;
};

using request = std::variant<kick, block, unblock, expire_tokens, set_app_state, drop, blackhole,
                             add_fault, remove_fault, clear_faults, set_navigation, stop_accepting,
                             resume_accepting, restart, shutdown, reseed>;

/// Is `path` (without a query string) one of the POST endpoints?
[[nodiscard]] bool is_write_path(std::string_view path) noexcept;

struct parsed {
  std::optional<request> value;                    // set when `problems` is empty
  std::vector<json_fields::field_problem> problems;  // by the body's key ("" for the body)
};

/// Reads the body of a POST to `path` (one of is_write_path's) and validates it.
/// Values may be spelled as strings ("3", "true"), as query strings carry them. A key
/// the endpoint does not take is a problem, so a typo is not silently ignored.
parsed parse_admin_request(std::string_view path, const boost::json::object& body);

/// The rules between fields and the ranges: what parse_admin_request also checks.
std::vector<json_fields::field_problem> validate(const request& r);

/// A session filter's fields (app, user, device, session) from `in`: for the POSTs
/// above and for GET /admin/sessions.
session_filter read_filter(json_fields::field_reader& in);

/// "'count' must be an integer; 'probability' must be in (0, 1]".
std::string describe(const std::vector<json_fields::field_problem>& problems);

}  // namespace imock::server::admin
