#include "imock/server/name_pool.hpp"

#include <algorithm>

namespace imock::server {

const std::string& shared_name::empty_text() noexcept {
  static const std::string empty;
  return empty;
}

shared_name name_pool::get(std::string_view text) {
  if (text.empty()) return {};
  const auto inserted = entries_.try_emplace(std::string(text), 0);
  const auto it = inserted.first;  // not a structured binding: clang 14 cannot capture one
  if (inserted.second && entries_.size() > sweep_at_) {
    std::erase_if(entries_, [it](const auto& e) { return e.second == 0 && &e != &*it; });
    sweep_at_ = std::max(k_first_sweep, 2 * entries_.size());
  }
  return shared_name(&*it);
}

}  // namespace imock::server
