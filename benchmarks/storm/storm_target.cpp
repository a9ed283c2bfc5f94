#include "benchmarks/storm/storm_target.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "net/address.hpp"

namespace imock::storm {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::uint16_t free_loopback_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

bool port_accepts(std::uint16_t port) {
  asio::io_context io;
  tcp::socket s(io);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  return !ec;
}

bool exited(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

proc_stats read_proc(pid_t pid) {
  proc_stats out;
  const std::string dir = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
  std::ifstream status(dir + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> out.rss_kb;
      out.ok = true;
    } else if (key == "VmHWM:") {
      status >> out.peak_kb;
    }
    status.ignore(4096, '\n');
  }
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name (which may hold spaces, inside parentheses).
    const auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(line.substr(close + 2));
      std::string field;
      std::uint64_t utime = 0, stime = 0;
      // state(3) ... utime is field 14, stime 15: the 12th and 13th after ')'.
      for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
      }
      const auto ticks = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
      out.cpu_ms = ticks == 0 ? 0 : (utime + stime) * 1000 / ticks;
    }
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto a = asio::ip::make_address(std::string(host), ec);
  return !ec && a.is_loopback();
}

std::filesystem::path self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("imock-storm") : p;
}

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log,
            std::uint64_t fd_limit, std::string& error, std::uint64_t* got_limit) {
  if (argv.empty()) {
    error = "nothing to run";
    return -1;
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd = -1;
  if (!log.empty()) {
    log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      error = "cannot write " + log.string() + ": " + std::strerror(errno);
      return -1;
    }
  }
  // The limit the child will get: as much as asked, else as much as allowed.
  rlimit want{};
  ::getrlimit(RLIMIT_NOFILE, &want);
  rlimit asked{static_cast<rlim_t>(fd_limit), static_cast<rlim_t>(fd_limit)};
  if (fd_limit > want.rlim_max) {
    // Raising the hard limit needs CAP_SYS_RESOURCE; try it here first so the
    // answer is known (and reported) before the fork.
    rlimit saved = want;
    if (::setrlimit(RLIMIT_NOFILE, &asked) == 0) {
      ::setrlimit(RLIMIT_NOFILE, &saved);  // lowering the hard limit back needs nothing
      want = asked;
    } else {
      want.rlim_cur = want.rlim_max;
    }
  } else {
    want.rlim_cur = std::max<rlim_t>(want.rlim_cur, static_cast<rlim_t>(fd_limit));
  }
  if (got_limit != nullptr) *got_limit = want.rlim_cur;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    return -1;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::setrlimit(RLIMIT_NOFILE, &want);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  return pid;
}

// --- HTTP ---------------------------------------------------------------------------

std::string http_result::what() const {
  if (!error.empty()) return error;
  return "HTTP " + std::to_string(status) + " " + body.substr(0, 200);
}

struct admin_client::impl {
  std::string host;
  std::string port;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

admin_client::admin_client(const std::string& base) : impl_(std::make_unique<impl>()) {
  constexpr std::string_view scheme = "http://";
  if (base.rfind(scheme, 0) != 0) {
    throw std::invalid_argument("admin URL must be http://HOST:PORT, got '" + base + "'");
  }
  auto rest = std::string_view(base).substr(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos)
    rest = rest.substr(0, slash);
  std::string why;
  const auto hp = net::parse_host_port(rest, &why);
  if (!hp) throw std::invalid_argument("admin URL '" + base + "': " + why);
  impl_->host = hp->host;
  impl_->port = std::to_string(hp->port);
}

admin_client::~admin_client() = default;

http_result admin_client::post(std::string_view path, std::string_view json_body, int timeout_ms) {
  return request(true, path, json_body, timeout_ms);
}

http_result admin_client::get(std::string_view target, int timeout_ms) {
  return request(false, target, {}, timeout_ms);
}

http_result admin_client::request(bool post, std::string_view target, std::string_view body,
                                  int timeout_ms) {
  auto& d = *impl_;
  http_result out;
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get,
                                       std::string(target), 11};
  req.set(http::field::host, d.host + ":" + d.port);
  req.set(http::field::user_agent, "imock-storm");
  req.keep_alive(true);
  if (post) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
    req.prepare_payload();
  }
  // One retry: a kept connection the server closed meanwhile fails the first time.
  for (int round = 0; round < 2; ++round) {
    const bool fresh = !d.stream.has_value();
    if (fresh) d.stream.emplace(d.io);
    http::response<http::string_body> res;
    boost::system::error_code failure;
    bool done = false;
    auto read_response = [&] {
      http::async_read(*d.stream, d.buffer, res, [&](boost::system::error_code ec, std::size_t) {
        failure = ec;
        done = true;
      });
    };
    auto write_request = [&] {
      http::async_write(*d.stream, req, [&](boost::system::error_code ec, std::size_t) {
        if (ec) {
          failure = ec;
          done = true;
          return;
        }
        read_response();
      });
    };
    d.stream->expires_after(std::chrono::milliseconds(timeout_ms));
    if (fresh) {
      tcp::resolver resolver(d.io);
      boost::system::error_code rec;
      const auto results = resolver.resolve(d.host, d.port, rec);
      if (rec) {
        d.stream.reset();
        out.error = "resolve " + d.host + ": " + rec.message();
        return out;
      }
      d.buffer.clear();
      d.stream->async_connect(results, [&](boost::system::error_code ec, const tcp::endpoint&) {
        if (ec) {
          failure = ec;
          done = true;
          return;
        }
        write_request();
      });
    } else {
      write_request();
    }
    d.io.restart();
    d.io.run_for(std::chrono::milliseconds(timeout_ms + 1000));
    if (!done) failure = asio::error::timed_out;
    if (!failure) {
      out.status = static_cast<int>(res.result_int());
      out.body = std::move(res.body());
      if (!res.keep_alive()) d.stream.reset();
      return out;
    }
    d.stream.reset();
    d.io.restart();
    d.io.poll();  // let cancelled handlers finish
    if (fresh) {
      out.error =
          "http://" + d.host + ":" + d.port + std::string(target) + ": " + failure.message();
      return out;
    }
  }
  out.error = "http://" + d.host + ":" + d.port + std::string(target) + ": failed";
  return out;
}

// --- brokers --------------------------------------------------------------------------

broker_process::broker_process(broker_options o) : o_(std::move(o)) {}

broker_process::~broker_process() {
  stop(2'000);
  std::error_code ec;
  std::filesystem::remove_all(o_.work_dir, ec);  // config, ready file, log
}

std::string broker_process::mqtt_url() const {
  return "mqtt://127.0.0.1:" + std::to_string(mqtt_port_);
}

std::string broker_process::http_base() const {
  if (o_.kind != broker_kind::imock || http_port_ == 0) return {};
  return "http://127.0.0.1:" + std::to_string(http_port_);
}

std::string broker_process::write_config() {
  std::error_code ec;
  std::filesystem::create_directories(o_.work_dir, ec);
  if (o_.kind == broker_kind::imock) {
    const auto path = o_.work_dir / "imock-server.yaml";
    std::ofstream out(path, std::ios::trunc);
    out << "# written by imock-storm: the demo app, room for every client, loopback only\n"
        << "limits:\n"
        << "  max_connections: " << o_.max_connections << "\n"
        << "  keep_alive_max: 600s\n"
        << "listen:\n"
        << "  mqtt: 127.0.0.1:" << mqtt_port_ << "\n"
        << "  http: 127.0.0.1:" << http_port_ << "\n";
    return out ? path.string() : std::string();
  }
  if (mqtt_port_ == 0) mqtt_port_ = free_loopback_port();
  const auto path = o_.work_dir / "mosquitto.conf";
  std::ofstream out(path, std::ios::trunc);
  out << "# written by imock-storm (as benchmarks/server_vs_mosquitto.sh does)\n";
  if (::geteuid() == 0) out << "user root\n";  // else mosquitto switches to user mosquitto
  out << "persistence false\n"
      << "log_dest stderr\n"
      << "log_type error\n"
      << "log_type warning\n"
      << "allow_anonymous true\n"
      << "max_connections -1\n"
      << "set_tcp_nodelay true\n"
      << "listener " << mqtt_port_ << " 127.0.0.1\n";
  return out ? path.string() : std::string();
}

std::string broker_process::start(int timeout_ms) {
  if (pid_ > 0) return {};
  const auto config = write_config();
  if (config.empty()) return "cannot write a config file in " + o_.work_dir.string();
  const auto log =
      o_.work_dir / (o_.kind == broker_kind::imock ? "imock-server.log" : "mosquitto.log");
  const auto ready = o_.work_dir / "ready.json";
  std::filesystem::remove(ready);
  std::vector<std::string> argv;
  if (o_.kind == broker_kind::imock) {
    argv = {o_.binary, "--config", config, "--ready-file", ready.string(), "--log-level", "warn"};
  } else {
    argv = {o_.binary, "-c", config};
  }
  std::string error;
  pid_ = spawn(argv, log, o_.fd_limit, error, &fd_limit_);
  if (pid_ < 0) {
    pid_ = 0;
    return "cannot start " + o_.binary + ": " + error;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (exited(pid_)) {
      pid_ = 0;
      return o_.binary + " exited at start: " + log_tail();
    }
    if (o_.kind == broker_kind::imock) {
      std::error_code ec;
      if (std::filesystem::exists(ready, ec)) {
        std::ifstream in(ready);
        std::stringstream text;
        text << in.rdbuf();
        try {
          const auto v = boost::json::parse(text.str());
          const auto port = [&](const char* key) {
            const std::string hp(v.at(key).as_string());
            return static_cast<std::uint16_t>(std::stoi(hp.substr(hp.rfind(':') + 1)));
          };
          mqtt_port_ = port("mqtt");
          http_port_ = port("http");
          return {};
        } catch (const std::exception&) {
          // Not complete yet (the server renames it into place, but be safe).
        }
      }
    } else if (port_accepts(mqtt_port_)) {
      return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop(1'000);
  return o_.binary + " did not start within " + std::to_string(timeout_ms) + " ms: " + log_tail();
}

void broker_process::stop(int grace_ms) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (exited(pid_)) {
      pid_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = 0;
}

std::string broker_process::log_tail(std::size_t lines) const {
  const auto log =
      o_.work_dir / (o_.kind == broker_kind::imock ? "imock-server.log" : "mosquitto.log");
  std::ifstream in(log);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += (out.empty() ? "" : " | ") + l;
  return out.empty() ? "(no output)" : out;
}

}  // namespace imock::storm
