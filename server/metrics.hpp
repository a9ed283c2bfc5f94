// /metrics in the Prometheus text exposition format (version 0.0.4).
#pragma once

#include <cstdint>
#include <string>

namespace imock::server {

class hub;

struct metrics_extras {
  bool accepting = true;
  std::uint64_t accept_backoffs = 0;
  std::uint64_t memory_trims = 0;
};

std::string render_metrics(const hub& h, const metrics_extras& extras);

}  // namespace imock::server
