#include "imock/benchmarks/storm/storm_target.hpp"

#include "imock/net/http_client.hpp"

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

#include "imock/net/address.hpp"

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

std::uint64_t open_files_limit_for_child(std::uint64_t wanted) {
  // As much as asked, else as much as allowed: raising the hard limit needs
  // CAP_SYS_RESOURCE, so try it here first and put it back (lowering needs nothing).
  rlimit own{};
  ::getrlimit(RLIMIT_NOFILE, &own);
  if (wanted <= own.rlim_max) return std::max<std::uint64_t>(own.rlim_cur, wanted);
  const rlimit asked{static_cast<rlim_t>(wanted), static_cast<rlim_t>(wanted)};
  if (::setrlimit(RLIMIT_NOFILE, &asked) == 0) {
    ::setrlimit(RLIMIT_NOFILE, &own);
    return wanted;
  }
  return own.rlim_max;
}

// --- HTTP ---------------------------------------------------------------------------

std::string http_result::what() const {
  if (!error.empty()) return error;
  return "HTTP " + std::to_string(status) + " " + body.substr(0, 200);
}

namespace {

net::http_url admin_url(const std::string& base) {
  std::string why;
  auto url = net::parse_http_url(base, &why);
  if (!url) throw std::invalid_argument("admin URL: " + why);
  return std::move(*url);
}

http_result from(net::http_response r) {
  return {.status = r.status, .body = std::move(r.body), .error = std::move(r.error)};
}

}  // namespace

admin_client::admin_client(const std::string& base, const std::string& token)
    : http_(admin_url(base)) {
  if (!token.empty()) headers_.emplace_back("Authorization", "Bearer " + token);
}

http_result admin_client::post(std::string_view path, std::string_view json_body, int timeout_ms) {
  return from(http_.post_json(path, json_body, headers_, std::chrono::milliseconds(timeout_ms)));
}

http_result admin_client::get(std::string_view target, int timeout_ms) {
  return from(
      http_.request("GET", target, {}, {}, headers_, std::chrono::milliseconds(timeout_ms)));
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
        << "navigation:\n"
        << "  cache_lifetime: " << o_.navigation_cache_s << "s\n"
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
  if (child_) return {};
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
  fd_limit_ = open_files_limit_for_child(o_.fd_limit);
  child_ = child_process::spawn(argv,
                                {.in = spawn_options::stream::null,
                                 .out = spawn_options::stream::file,
                                 .err = spawn_options::stream::as_out,
                                 .out_file = log,
                                 .open_files_limit = fd_limit_},
                                &error);
  if (!child_) return "cannot start " + o_.binary + ": " + error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    // Also the pause between looks: returns at once when the broker exits.
    if (child_->wait_exit(std::chrono::milliseconds(50))) {
      child_.reset();
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
  }
  stop(1'000);
  return o_.binary + " did not start within " + std::to_string(timeout_ms) + " ms: " + log_tail();
}

void broker_process::stop(int grace_ms) {
  if (!child_) return;
  child_->stop(std::chrono::milliseconds(grace_ms));
  child_.reset();
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
