// Child processes for tests: spawn, read their stdout, wait for their exit, all
// with poll(2) and a timeout (no sleeps, every wait bounded). Killed on destruction.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace imock::server::testing {

struct child {
  int pid = -1;
  int out = -1;      // the child's stdout (a pipe)
  std::string seen;  // stdout read so far

  /// The exit status (128 + signal when killed), or -1 if still running after `timeout`.
  int wait_exit(std::chrono::milliseconds timeout);
  /// Reads stdout until `text` appears; false on EOF or timeout.
  bool wait_output(std::string_view text, std::chrono::milliseconds timeout);
  /// Reads what stdout has until EOF or `timeout`.
  std::string read_all(std::chrono::milliseconds timeout);

  child() = default;
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child();
};

/// Starts `program` with `args`; stdout is a pipe (child::out), stderr goes to
/// `err_file` (or is inherited when empty). nullptr if it cannot start.
std::unique_ptr<child> spawn(const std::filesystem::path& program, std::vector<std::string> args,
                             const std::string& err_file = {});

}  // namespace imock::server::testing
