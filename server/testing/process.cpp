#include "server/testing/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace imock::server::testing {

int child::wait_exit(std::chrono::milliseconds timeout) {
  if (pid <= 0) return -1;
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  const int ready = poll(&p, 1, static_cast<int>(timeout.count()));
  close(fd);
  int status = 0;
  if (ready != 1 || waitpid(pid, &status, 0) != pid) return -1;
  pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool child::wait_output(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (seen.find(text) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = out, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    char buf[4096];
    const auto n = read(out, buf, sizeof buf);
    if (n <= 0) return false;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

std::string child::read_all(std::chrono::milliseconds timeout) {
  // An empty needle is found at once; use one that never appears to read to EOF.
  wait_output(std::string_view("\x01\x02never\x03"), timeout);
  return seen;
}

child::~child() {
  if (pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  if (out >= 0) close(out);
}

std::unique_ptr<child> spawn(const std::filesystem::path& program, std::vector<std::string> args,
                             const std::string& err_file) {
  std::string path = program.string();
  std::vector<char*> argv{path.data()};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return nullptr;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  if (!err_file.empty()) {
    posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  auto c = std::make_unique<child>();
  const int rc = posix_spawnp(&c->pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  c->out = fds[0];
  if (rc != 0) {
    c->pid = -1;
    return nullptr;
  }
  return c;
}

}  // namespace imock::server::testing
