// This process's open-file limit (RLIMIT_NOFILE): load tools hold one descriptor per
// connection and raise their soft limit to the hard one before they start.
#pragma once

#include <cstdint>

namespace imock::net {

/// Raises the soft limit to the hard limit; returns the soft limit then in force
/// (RLIM_INFINITY when unlimited, 0 when it cannot be read).
std::uint64_t raise_open_files_limit();

}  // namespace imock::net
