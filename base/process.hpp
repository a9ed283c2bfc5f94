// Child processes: start a program, talk to it through pipes, wait for it, stop it.
// Every wait is bounded (poll(2) with a deadline; no sleeps), and a child still
// running when its handle goes is killed and reaped. Used by the harness (client
// programs), imock-storm (its servers and its client processes) and the tests that
// run imock's programs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imock {

struct spawn_options {
  /// Where the child's stdin comes from, and where its stdout and stderr go.
  enum class stream : std::uint8_t {
    inherit,  // this process's own
    pipe,     // a pipe to or from the handle (write() / read_line() ...)
    null,     // /dev/null
    file,     // `out_file` / `err_file` (created or truncated)
    as_out,   // stderr only: wherever stdout goes
  };
  stream in = stream::null;
  stream out = stream::pipe;
  stream err = stream::inherit;
  std::filesystem::path out_file;
  std::filesystem::path err_file;
  /// RLIMIT_NOFILE of the child (soft and hard), when given; it may not exceed this
  /// process's hard limit unless the process may raise it.
  std::optional<std::uint64_t> open_files_limit;
  /// The child gets SIGTERM when this process dies, so no load generator or server
  /// outlives a crashed test.
  bool die_with_parent = true;
};

class child_process {
 public:
  using clock_type = std::chrono::steady_clock;

  /// Starts `argv[0]` (searched in PATH when it has no '/') with `argv`. Every other
  /// descriptor of this process is closed in the child. nullptr and `error` set when
  /// the program cannot be started (an exec failure shows as exit status 127).
  static std::unique_ptr<child_process> spawn(const std::vector<std::string>& argv,
                                              const spawn_options& options,
                                              std::string* error = nullptr);
  /// `/bin/sh -c command`.
  static std::unique_ptr<child_process> shell(const std::string& command,
                                              const spawn_options& options,
                                              std::string* error = nullptr);

  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  // --- stdin (stream::pipe) ---
  /// Writes all of `bytes`; false when the child is gone or did not take them within
  /// `timeout` (it stopped reading).
  bool write(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Closes the pipe: the child reads end-of-file.
  void close_stdin() noexcept;

  // --- stdout (stream::pipe) ---
  /// The next line (without its '\n'), waiting until `deadline`; nullopt on time-out or
  /// at the end of the output (output_closed() tells which).
  std::optional<std::string> read_line(clock_type::time_point deadline);
  /// Reads until `text` has appeared in the output at or after offset `from`, or
  /// `timeout`; everything read stays in output(). Use either this or read_line() on one
  /// child. `from = output().size()` waits for a new occurrence.
  bool wait_output(std::string_view text, std::chrono::milliseconds timeout, std::size_t from = 0);
  /// Reads until the end of the output or `timeout`; returns all of output().
  const std::string& read_all(std::chrono::milliseconds timeout);
  [[nodiscard]] const std::string& output() const noexcept { return buffer_; }
  [[nodiscard]] bool output_closed() const noexcept { return eof_; }

  // --- the end ---
  /// The exit status (128 + N when killed by signal N), or nullopt while it runs after
  /// `timeout`. Once it has exited, the status is kept.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();
  /// Sends `signal` (nothing once it has exited).
  void signal(int signal) noexcept;
  /// SIGTERM, up to `grace` for it to exit, then SIGKILL; the exit status.
  int stop(std::chrono::milliseconds grace);

 private:
  child_process() = default;
  /// Reads what is there within `deadline` into buffer_; false at EOF or time-out.
  bool fill(clock_type::time_point deadline);

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> status_;
};

}  // namespace imock
