#include "imock/base/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace imock {
namespace {

int ms_until(child_process::clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - child_process::clock_type::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left.count(), 1000));
}

// The program to exec: a path as given, or the first executable of that name in PATH.
std::string resolve(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    const std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return program;  // exec fails: exit status 127
}

void close_pair(int (&fds)[2]) noexcept {
  for (int& fd : fds) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

}  // namespace

std::unique_ptr<child_process> child_process::shell(const std::string& command,
                                                    const spawn_options& options,
                                                    std::string* error) {
  return spawn({"/bin/sh", "-c", command}, options, error);
}

std::unique_ptr<child_process> child_process::spawn(const std::vector<std::string>& argv,
                                                    const spawn_options& o, std::string* error) {
  using stream = spawn_options::stream;
  const auto fail = [&](const std::string& why) -> std::unique_ptr<child_process> {
    if (error != nullptr) *error = why;
    return nullptr;
  };
  if (argv.empty()) return fail("no program to start");
  if (o.in == stream::file || o.in == stream::as_out || o.out == stream::as_out) {
    return fail("spawn_options: stdin cannot be a file or as_out, stdout cannot be as_out");
  }
  // Everything the child needs is made here: between fork and exec it may only make
  // async-signal-safe calls (this process has other threads).
  const std::string program = resolve(argv.front());
  std::vector<std::string> args = argv;
  std::vector<char*> c_args;
  for (auto& a : args) c_args.push_back(a.data());
  c_args.push_back(nullptr);

  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int in_fd = -1;
  int out_fd = -1;
  int err_fd = -1;
  const auto cleanup = [&] {
    close_pair(in_pipe);
    close_pair(out_pipe);
    for (int fd : {in_fd, out_fd, err_fd}) {
      if (fd >= 0) ::close(fd);
    }
  };
  const auto open_target = [&](stream s, const std::filesystem::path& file, int& fd) {
    if (s == stream::null) fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (s == stream::file) fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return (s != stream::null && s != stream::file) || fd >= 0;
  };
  if ((o.in == stream::pipe && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
      (o.out == stream::pipe && ::pipe2(out_pipe, O_CLOEXEC) != 0)) {
    const std::string why = std::string("pipe: ") + std::strerror(errno);
    cleanup();
    return fail(why);
  }
  if (!open_target(o.in, {}, in_fd) || !open_target(o.out, o.out_file, out_fd) ||
      !open_target(o.err, o.err_file, err_fd)) {
    const std::string why = "cannot open " +
                            (o.err == stream::file ? o.err_file : o.out_file).string() + ": " +
                            std::strerror(errno);
    cleanup();
    return fail(why);
  }
  if (o.in == stream::pipe) in_fd = in_pipe[0];
  if (o.out == stream::pipe) out_fd = out_pipe[1];
  rlimit limit{};
  const bool set_limit = o.open_files_limit.has_value();
  if (set_limit) {
    limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(*o.open_files_limit);
  }
  rlimit own{};
  ::getrlimit(RLIMIT_NOFILE, &own);
  const int highest_fd = own.rlim_cur == RLIM_INFINITY
                             ? 65'536
                             : static_cast<int>(std::min<rlim_t>(own.rlim_cur, 1 << 20));
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string why = std::string("fork: ") + std::strerror(errno);
    if (o.in == stream::pipe) in_fd = -1;
    if (o.out == stream::pipe) out_fd = -1;
    cleanup();
    return fail(why);
  }
  if (pid == 0) {
    if (o.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
    }
    if (in_fd >= 0) ::dup2(in_fd, 0);
    if (out_fd >= 0) ::dup2(out_fd, 1);
    if (o.err == stream::as_out) {
      ::dup2(1, 2);
    } else if (err_fd >= 0) {
      ::dup2(err_fd, 2);
    }
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < highest_fd; ++fd) ::close(fd);
    }
    if (set_limit) ::setrlimit(RLIMIT_NOFILE, &limit);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(program.c_str(), c_args.data());
    ::_exit(127);
  }
  auto c = std::unique_ptr<child_process>(new child_process());
  c->pid_ = pid;
  if (o.in == stream::pipe) {
    c->in_ = in_pipe[1];
    in_pipe[1] = -1;
    // Writes never block this process: a full pipe is waited for with poll, bounded.
    ::fcntl(c->in_, F_SETFL, ::fcntl(c->in_, F_GETFL) | O_NONBLOCK);
    ::signal(SIGPIPE, SIG_IGN);  // a child that exits turns a write into EPIPE, not death
    in_fd = -1;                  // in_pipe[0], closed by cleanup()
  }
  if (o.out == stream::pipe) {
    c->out_ = out_pipe[0];
    out_pipe[0] = -1;
    out_fd = -1;  // out_pipe[1], closed by cleanup()
  }
  cleanup();
  return c;
}

child_process::~child_process() {
  close_stdin();
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (out_ >= 0) ::close(out_);
}

bool child_process::write(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (in_ < 0) return false;
  const auto deadline = clock_type::now() + timeout;
  while (!bytes.empty()) {
    const auto n = ::write(in_, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    if (clock_type::now() >= deadline) return false;
    pollfd p{.fd = in_, .events = POLLOUT, .revents = 0};
    ::poll(&p, 1, ms_until(deadline));
  }
  return true;
}

void child_process::close_stdin() noexcept {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

bool child_process::fill(clock_type::time_point deadline) {
  while (!eof_ && out_ >= 0) {
    pollfd p{.fd = out_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, ms_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (clock_type::now() >= deadline) return false;
      continue;
    }
    char chunk[4096];
    const auto n = ::read(out_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  return false;
}

std::optional<std::string> child_process::read_line(clock_type::time_point deadline) {
  while (true) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    // A last line without its newline is dropped: lines end with '\n'.
    if (!fill(deadline)) return std::nullopt;
  }
}

bool child_process::wait_output(std::string_view text, std::chrono::milliseconds timeout,
                                std::size_t from) {
  const auto deadline = clock_type::now() + timeout;
  while (buffer_.find(text, from) == std::string::npos) {
    if (!fill(deadline)) return false;
  }
  return true;
}

const std::string& child_process::read_all(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (fill(deadline)) {
  }
  return buffer_;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  const auto deadline = clock_type::now() + timeout;
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  while (true) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (r < 0 && errno != EINTR) {
      status_ = -1;  // not our child any more (reaped elsewhere)
      break;
    }
    if (clock_type::now() >= deadline) break;
    if (fd >= 0) {
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      ::poll(&p, 1, ms_until(deadline));
    } else {
      ::poll(nullptr, 0, 5);  // no pidfd (kernel < 5.3): look again shortly
    }
  }
  if (fd >= 0) ::close(fd);
  return status_;
}

bool child_process::running() { return !wait_exit(std::chrono::milliseconds(0)).has_value(); }

void child_process::signal(int sig) noexcept {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

int child_process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (const auto s = wait_exit(grace)) return *s;
  signal(SIGKILL);
  return wait_exit(std::chrono::seconds(10)).value_or(-1);
}

}  // namespace imock
