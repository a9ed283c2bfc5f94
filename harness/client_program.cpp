#include "harness/client_program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <mutex>

extern char** environ;

namespace imock::harness {

namespace json = boost::json;

namespace {

int ms_until(client_program::clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - client_program::clock_type::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left.count(), 1000));
}

}  // namespace

client_program::~client_program() {
  if (pid_ > 0) {
    send({{"cmd", "quit"}}, std::chrono::milliseconds(100));
    ::close(in_);
    in_ = -1;
    // Bounded: wait for its output to end (it exits), then for the exit itself.
    const auto deadline = clock_type::now() + std::chrono::seconds(1);
    while (!eof_ && clock_type::now() < deadline) read_line(deadline);
    bool reaped = false;
    while (!reaped && clock_type::now() < deadline) {
      reaped = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!reaped) poll(nullptr, 0, 10);  // a child that closed stdout but not yet exited
    }
    if (!reaped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  if (in_ >= 0) ::close(in_);
  if (out_ >= 0) ::close(out_);
}

bool client_program::start() {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return false;
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  // The program must not inherit the harness's sockets (a listening socket held open
  // by a child keeps "stop accepting" from refusing connections).
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};
  const int rc = posix_spawn(&pid_, "/bin/sh", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(to_child[0]);
  ::close(from_child[1]);
  in_ = to_child[1];
  out_ = from_child[0];
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  // Writes never block the harness: a full pipe is waited for with poll, bounded.
  fcntl(in_, F_SETFL, fcntl(in_, F_GETFL) | O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);
  return true;
}

bool client_program::send(const json::object& command, std::chrono::milliseconds timeout) {
  if (in_ < 0) return false;
  const std::string line = json::serialize(command) + "\n";
  const auto deadline = clock_type::now() + timeout;
  std::size_t done = 0;
  while (done < line.size()) {
    const auto n = ::write(in_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    pollfd p{.fd = in_, .events = POLLOUT, .revents = 0};
    if (clock_type::now() >= deadline) return false;
    poll(&p, 1, ms_until(deadline));
  }
  return true;
}

std::optional<std::string> client_program::read_line(clock_type::time_point deadline) {
  while (true) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_ || out_ < 0) return std::nullopt;
    pollfd p{.fd = out_, .events = POLLIN, .revents = 0};
    const int ready = poll(&p, 1, ms_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (clock_type::now() >= deadline) return std::nullopt;
      continue;
    }
    char chunk[4096];
    const auto n = ::read(out_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      continue;  // a last line without its newline is dropped: lines end with \n
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void warn_no_ready(const std::string& command, std::chrono::milliseconds waited,
                   const std::string& source, trace_log& trace) {
  const std::string warning = "no {\"event\":\"ready\"} line within " +
                              std::to_string(waited.count()) +
                              " ms: print it once the program reads commands "
                              "(docs/scenarios.md, \"Other clients\")";
  trace.add({.source = source, .kind = "trace", .detail = warning});
  static std::once_flag warned;
  std::call_once(warned, [&] {
    std::fprintf(stderr, "imock-harness: warning: client program '%s': %s\n", command.c_str(),
                 warning.c_str());
  });
}

std::optional<json::object> parse_program_line(const std::string& line) {
  boost::system::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string event_name(const json::object& line) { return string_field(line, "event"); }

std::int64_t int_field(const json::object& line, const char* key, std::int64_t fallback) {
  const auto* x = line.if_contains(key);
  if (x == nullptr || !x->is_number()) return fallback;
  boost::system::error_code ec;
  const auto v = x->to_number<std::int64_t>(ec);
  return ec ? fallback : v;
}

std::string string_field(const json::object& line, const char* key) {
  const auto* x = line.if_contains(key);
  return x != nullptr && x->is_string() ? std::string(x->as_string()) : std::string();
}

std::optional<trace_entry> trace_entry_of(const std::string& source, const json::object& line) {
  const std::string event = event_name(line);
  trace_entry e{.source = source, .kind = event};
  if (event == "status") {
    e.status = static_cast<int>(int_field(line, "status", -1));
    e.code = static_cast<int>(int_field(line, "code"));
  } else if (event == "error" || event == "db_opened") {
    e.code = static_cast<int>(int_field(line, "code"));
  } else if (event == "success") {
    e.user = string_field(line, "user");
  } else if (event == "returned") {
    e.detail = string_field(line, "call");
    e.code = static_cast<int>(int_field(line, "code"));
  } else if (event == "attempt") {
    e.detail = "#" + std::to_string(int_field(line, "n"));
    e.client_ms = int_field(line, "t_ms");
  } else {
    return std::nullopt;
  }
  return e;
}

}  // namespace imock::harness
