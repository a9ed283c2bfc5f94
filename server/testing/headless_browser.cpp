#include "imock/server/testing/headless_browser.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "imock/base/process.hpp"
#include "imock/net/http_client.hpp"

namespace imock::server::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tail(const std::string& s, std::size_t n = 1500) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

void set(std::string* why, std::string message) {
  if (why != nullptr) *why = std::move(message);
}

// A JavaScript string literal of `s` (JSON's is one).
std::string js_string(const std::string& s) { return json::serialize(json::value(s)); }

}  // namespace

struct headless_browser::impl {
  std::filesystem::path profile;
  std::unique_ptr<child_process> process;
  asio::io_context io;
  std::unique_ptr<beast::websocket::stream<asio::ip::tcp::socket>> ws;
  std::int64_t next_id = 1;

  std::string log() const { return tail(slurp(profile / "chromium.log")); }
};

headless_browser::headless_browser() : impl_(std::make_unique<impl>()) {}

headless_browser::~headless_browser() {
  if (impl_->ws) {
    std::string ignored;
    call("Browser.close", {}, &ignored);
    boost::system::error_code ec;
    impl_->ws->next_layer().close(ec);
  }
  if (impl_->process) impl_->process->wait_exit(5s);
  impl_->process.reset();  // killed and reaped if still running
  std::error_code ec;
  if (!impl_->profile.empty()) std::filesystem::remove_all(impl_->profile, ec);
}

std::unique_ptr<headless_browser> headless_browser::launch(std::string* why, int width, int height) {
  std::unique_ptr<headless_browser> b(new headless_browser());
  auto& i = *b->impl_;
  const char* env = std::getenv("IMOCK_CHROMIUM");
  const std::string binary = env != nullptr && *env != '\0' ? env : "chromium";
  std::string dir_template = (std::filesystem::temp_directory_path() / "imock-chromium-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    set(why, "cannot make a profile folder under " + std::filesystem::temp_directory_path().string());
    return nullptr;
  }
  i.profile = dir_template;
  i.process = child_process::spawn(
      {binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
       "--no-first-run", "--no-default-browser-check", "--disable-extensions",
       "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
       "--user-data-dir=" + i.profile.string(),
       "--window-size=" + std::to_string(width) + "," + std::to_string(height), "about:blank"},
      {.out = spawn_options::stream::file,
       .err = spawn_options::stream::as_out,
       .out_file = i.profile / "chromium.log"});
  if (!i.process) {
    set(why, "cannot start '" + binary + "' (Debian's package is `chromium`: scripts/install-deps)");
    return nullptr;
  }
  // Chromium writes its DevTools port (and the browser's path) once it listens.
  std::string port;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto text = slurp(i.profile / "DevToolsActivePort");
    if (const auto nl = text.find('\n'); nl != std::string::npos) {
      port = text.substr(0, nl);
      break;
    }
    if (i.process->wait_exit(50ms)) {
      set(why, "'" + binary + "' exited at start (Debian's package is `chromium`): " + i.log());
      return nullptr;
    }
  }
  if (port.empty()) {
    set(why, "chromium wrote no DevToolsActivePort within 30 s: " + i.log());
    return nullptr;
  }
  // The page it opened: its WebSocket URL from /json/list.
  std::string ws_path;
  for (int attempt = 0; attempt < 50 && ws_path.empty(); ++attempt) {
    const auto list = net::http_request("127.0.0.1:" + port, "GET", "/json/list", {}, {}, {}, 5s);
    boost::system::error_code ec;
    const auto v = json::parse(list.body, ec);
    if (!ec && v.is_array()) {
      for (const auto& t : v.as_array()) {
        if (t.is_object() && t.as_object().if_contains("type") && t.at("type") == "page") {
          const std::string url(t.at("webSocketDebuggerUrl").as_string());
          ws_path = url.substr(url.find('/', std::string_view("ws://").size()));
          break;
        }
      }
    }
    if (ws_path.empty()) std::this_thread::sleep_for(100ms);
  }
  if (ws_path.empty()) {
    set(why, "chromium at port " + port + " listed no page: " + i.log());
    return nullptr;
  }
  try {
    asio::ip::tcp::socket socket(i.io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(std::stoi(port))});
    // Every read and write of the protocol is bounded: 20 s, then an error.
    timeval tv{.tv_sec = 20, .tv_usec = 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    i.ws = std::make_unique<beast::websocket::stream<asio::ip::tcp::socket>>(std::move(socket));
    i.ws->read_message_max(64 * 1024 * 1024);  // screenshots
    i.ws->handshake("127.0.0.1:" + port, ws_path);
  } catch (const std::exception& e) {
    set(why, std::string("cannot open chromium's DevTools socket: ") + e.what());
    return nullptr;
  }
  for (const char* domain : {"Page.enable", "Runtime.enable"}) {
    if (!b->call(domain, {}, why)) return nullptr;
  }
  return b;
}

std::optional<json::value> headless_browser::call(const std::string& method, json::object params,
                                                   std::string* why) {
  auto& i = *impl_;
  const auto id = i.next_id++;
  try {
    i.ws->write(asio::buffer(json::serialize(
        json::object{{"id", id}, {"method", method}, {"params", std::move(params)}})));
    // Events come between; the answer carries our id. Bounded by the socket's time-out
    // per read, and by a count.
    for (int frames = 0; frames < 100'000; ++frames) {
      beast::flat_buffer buffer;
      i.ws->read(buffer);
      const auto v = json::parse(beast::buffers_to_string(buffer.data()));
      const auto& o = v.as_object();
      if (const auto* m = o.if_contains("method")) {
        if (*m == "Runtime.consoleAPICalled") {
          std::string line = std::string(o.at("params").at("type").as_string()) + ":";
          for (const auto& a : o.at("params").at("args").as_array()) {
            const auto* value = a.as_object().if_contains("value");
            line += " " + (value != nullptr ? (value->is_string() ? std::string(value->as_string())
                                                                  : json::serialize(*value))
                                            : std::string("[object]"));
          }
          console_.push_back(std::move(line));
        } else if (*m == "Runtime.exceptionThrown") {
          console_.push_back("exception: " + json::serialize(o.at("params").at("exceptionDetails")));
        }
        continue;
      }
      if (o.if_contains("id") == nullptr || o.at("id").to_number<std::int64_t>() != id) continue;
      if (const auto* error = o.if_contains("error")) {
        set(why, method + ": " + json::serialize(*error));
        return std::nullopt;
      }
      return o.if_contains("result") ? o.at("result") : json::value(json::object{});
    }
    set(why, method + ": no answer among 100,000 frames");
  } catch (const std::exception& e) {
    set(why, method + ": " + e.what() + " (chromium: " + i.log() + ")");
  }
  return std::nullopt;
}

bool headless_browser::navigate(const std::string& url, std::string* why) {
  // The document now is marked: the new one, once loaded, is not (a same-document
  // navigation, to another #fragment, has no loaderId and nothing to wait for).
  if (!evaluate("window.__imock_previous_document = true", why)) return false;
  const auto r = call("Page.navigate", {{"url", url}}, why);
  if (!r) return false;
  if (const auto* error = r->as_object().if_contains("errorText")) {
    set(why, "navigate to " + url + ": " + std::string(error->as_string()));
    return false;
  }
  if (!r->as_object().contains("loaderId")) return true;
  return wait_for("!window.__imock_previous_document && document.readyState === 'complete'", 15s, why);
}

std::optional<json::value> headless_browser::evaluate(const std::string& js, std::string* why) {
  const auto r = call("Runtime.evaluate",
                      {{"expression", js}, {"returnByValue", true}, {"awaitPromise", true}}, why);
  if (!r) return std::nullopt;
  const auto& o = r->as_object();
  if (const auto* ex = o.if_contains("exceptionDetails")) {
    const auto* desc = ex->as_object().if_contains("exception");
    set(why, "JavaScript: " + (desc != nullptr && desc->as_object().if_contains("description")
                                   ? std::string(desc->at("description").as_string())
                                   : json::serialize(*ex)));
    return std::nullopt;
  }
  const auto& result = o.at("result").as_object();
  if (const auto* value = result.if_contains("value")) return *value;
  return json::value(nullptr);  // undefined
}

bool headless_browser::wait_for(const std::string& js, std::chrono::milliseconds timeout,
                                std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "(not evaluated)";
  do {
    std::string err;
    const auto v = evaluate("!!(" + js + ")", &err);
    if (v && v->is_bool() && v->as_bool()) return true;
    last = v ? json::serialize(*v) : err;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < deadline);
  set(why, "not true within " + std::to_string(timeout.count()) + " ms: " + js + " (last: " + last + ")");
  return false;
}

bool headless_browser::click(const std::string& css_selector, std::string* why) {
  const auto v = evaluate("(() => { const e = document.querySelector(" + js_string(css_selector) +
                              "); if (!e) return false; e.scrollIntoView({block: 'center'}); "
                              "e.click(); return true; })()",
                          why);
  if (v && v->is_bool() && v->as_bool()) return true;
  if (v) set(why, "no element matches " + css_selector);
  return false;
}

bool headless_browser::set_value(const std::string& css_selector, const std::string& value,
                                 std::string* why) {
  const auto v = evaluate(
      "(() => { const e = document.querySelector(" + js_string(css_selector) +
          "); if (!e) return false; e.value = " + js_string(value) +
          "; e.dispatchEvent(new Event('input', {bubbles: true})); "
          "e.dispatchEvent(new Event('change', {bubbles: true})); return e.value === " +
          js_string(value) + "; })()",
      why);
  if (v && v->is_bool() && v->as_bool()) return true;
  if (v) set(why, "no element matches " + css_selector + " (or it does not take '" + value + "')");
  return false;
}

bool headless_browser::screenshot(const std::filesystem::path& path, std::string* why) {
  const auto r = call("Page.captureScreenshot", {{"format", "png"}}, why);
  if (!r) return false;
  const auto& data = r->at("data").as_string();
  std::string png(beast::detail::base64::decoded_size(data.size()), '\0');
  const auto [written, read] = beast::detail::base64::decode(png.data(), data.data(), data.size());
  png.resize(written);
  // decode() stops at the '=' padding: what it read plus that is all of it.
  std::size_t padding = 0;
  while (padding < 2 && padding < data.size() && data[data.size() - 1 - padding] == '=') ++padding;
  if (read + padding != data.size() || !png.starts_with("\x89PNG")) {
    set(why, "Page.captureScreenshot gave no PNG");
    return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << png;
  if (!out.flush()) {
    set(why, "cannot write " + path.string());
    return false;
  }
  return true;
}

bool headless_browser::allow_downloads(const std::filesystem::path& dir, std::string* why) {
  return call("Browser.setDownloadBehavior",
              {{"behavior", "allow"}, {"downloadPath", std::filesystem::absolute(dir).string()}}, why)
      .has_value();
}

}  // namespace imock::server::testing
