#include "imock/server/faults.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace imock::server {
namespace {



bool filter_ok(const std::string& want, std::string_view got) {
  return want.empty() || want == got;
}

}  // namespace


std::uint64_t fault_set::add(fault_rule rule) {
  rule.id = next_id_++;
  rule.matched = 0;
  rule.fired = 0;
  rules_.push_back(std::move(rule));
  return rules_.back().id;
}

bool fault_set::remove(std::uint64_t id) {
  const auto it =
      std::find_if(rules_.begin(), rules_.end(), [&](const fault_rule& r) { return r.id == id; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  return true;
}

void fault_set::set_navigation(navigation_fault_rule r) {
  r.fired = 0;
  navigation_ = r.fail == navigation_fault::none ? navigation_fault_rule{} : std::move(r);
}

navigation_fault fault_set::take_navigation(std::string_view app_key) {
  const auto fail = navigation_.fail;
  if (fail == navigation_fault::none || !filter_ok(navigation_.app, app_key)) {
    return navigation_fault::none;
  }
  ++navigation_.fired;
  if (navigation_.count > 0 && --navigation_.count == 0) navigation_ = {};
  return fail;
}

bool fault_set::any_for(fault_trigger t) const noexcept {
  return std::any_of(rules_.begin(), rules_.end(), [&](const fault_rule& r) { return r.on == t; });
}

std::optional<fault_rule> fault_set::match(const fault_event& e) {
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    auto& r = *it;
    if (r.on != e.on || !filter_ok(r.app, e.app) || !filter_ok(r.user, e.user) ||
        !filter_ok(r.device, e.device)) {
      continue;
    }
    const bool per_session = e.on == fault_trigger::packet || e.on == fault_trigger::delivery;
    if (per_session) {
      // For packets and deliveries, nth counts those of the session, not matches
      // across sessions.
      if (r.nth != 0 && e.packet_count != r.nth) continue;
      ++r.matched;
    } else {
      ++r.matched;
      if (r.nth != 0 && r.matched != r.nth) continue;
    }
    if (r.every > 1 && r.matched % r.every != 0) continue;
    if (r.probability < 1.0) {
      std::uniform_real_distribution<double> coin(0.0, 1.0);
      if (!(coin(rng_) < r.probability)) continue;
    }
    ++r.fired;
    fault_rule fired = r;
    const bool used_up =
        (r.times != 0 && r.fired >= r.times) || (!per_session && r.nth != 0);
    if (used_up) {
      rules_.erase(it);
    }
    return fired;
  }
  return std::nullopt;
}

}  // namespace imock::server
