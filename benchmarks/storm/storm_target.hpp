// What imock-storm points its clients at: a broker it starts itself as a child
// process (imock-server, or Debian's mosquitto), read through /proc; and the
// admin API of imock-server over HTTP for the server-side triggers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/base/process.hpp"
#include "imock/net/http_client.hpp"

namespace imock::storm {

/// One /proc reading of a process.
struct proc_stats {
  bool ok = false;
  std::uint64_t rss_kb = 0;   // VmRSS
  std::uint64_t peak_kb = 0;  // VmHWM
  std::uint64_t cpu_ms = 0;   // utime + stime
};
proc_stats read_proc(pid_t pid);  // pid 0: this process

/// True when `host` is a loopback address literal or "localhost".
bool is_loopback_host(std::string_view host);

struct http_result {
  int status = 0;
  std::string body;
  std::string error;  // transport failure (then status is 0)
  [[nodiscard]] bool ok() const { return error.empty() && status / 100 == 2; }
  [[nodiscard]] std::string what() const;  // for messages
};

/// imock-server's admin API as imock-storm calls it: over HTTP (admin_client), or
/// inside the simulation (storm_sim).
class admin_api {
 public:
  virtual ~admin_api() = default;
  /// POST `path` with a JSON body; every call is bounded by `timeout_ms`.
  virtual http_result post(std::string_view path, std::string_view json_body,
                           int timeout_ms = 10'000) = 0;
  /// GET `target` (path and query).
  virtual http_result get(std::string_view target, int timeout_ms = 10'000) = 0;
};

/// A small blocking HTTP/1.1 client for imock-server's admin API, keeping one
/// connection open between calls (rolling kicks make hundreds per second).
/// Not thread-safe: one per thread.
class admin_client final : public admin_api {
 public:
  /// `base` is http://HOST:PORT. Throws std::invalid_argument when it is not.
  /// A non-empty `token` goes with every call as "Authorization: Bearer TOKEN".
  explicit admin_client(const std::string& base, const std::string& token = {});

  http_result post(std::string_view path, std::string_view json_body,
                   int timeout_ms = 10'000) override;
  http_result get(std::string_view target, int timeout_ms = 10'000) override;

 private:
  net::http_client http_;
  net::http_headers headers_;
};

enum class broker_kind { imock, mosquitto };

struct broker_options {
  broker_kind kind = broker_kind::imock;
  std::string binary;  // imock-server or mosquitto executable
  std::uint64_t max_connections = 19'000;
  std::filesystem::path work_dir;   // config, ready file and log go here
  std::uint64_t fd_limit = 20'000;  // RLIMIT_NOFILE wanted for the broker
  std::int64_t navigation_cache_s = 7200;  // imock-server's navigation.cache_lifetime
};

/// A broker run as a child process on loopback. The first start binds ephemeral
/// ports; restarts reuse them, so clients reconnect to the same address. The child
/// gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
class broker_process {
 public:
  explicit broker_process(broker_options o);
  ~broker_process();  // stops it and removes work_dir
  broker_process(const broker_process&) = delete;
  broker_process& operator=(const broker_process&) = delete;

  /// Starts the broker and waits until it listens. Empty, or what went wrong.
  std::string start(int timeout_ms = 15'000);
  /// SIGTERM, then SIGKILL after `grace_ms`; waits for the exit.
  void stop(int grace_ms = 5'000);
  [[nodiscard]] bool running() const { return child_ != nullptr; }
  [[nodiscard]] pid_t pid() const { return child_ ? child_->pid() : 0; }
  [[nodiscard]] std::string mqtt_url() const;
  /// http://HOST:PORT of imock-server's HTTP listener (admin API); empty for mosquitto.
  [[nodiscard]] std::string http_base() const;
  /// The open-file limit the broker actually got.
  [[nodiscard]] std::uint64_t fd_limit() const { return fd_limit_; }
  /// The last lines of the broker's log (for error messages).
  [[nodiscard]] std::string log_tail(std::size_t lines = 8) const;

 private:
  std::string write_config();
  broker_options o_;
  std::unique_ptr<child_process> child_;
  std::uint16_t mqtt_port_ = 0;
  std::uint16_t http_port_ = 0;
  std::uint64_t fd_limit_ = 0;
};

/// The open-file limit a child can get when it wants `wanted`: that much when this
/// process may raise its hard limit (or is allowed that much), else its hard limit.
std::uint64_t open_files_limit_for_child(std::uint64_t wanted);

/// Full path of this executable (/proc/self/exe).
std::filesystem::path self_exe();

}  // namespace imock::storm
