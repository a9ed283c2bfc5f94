// A blocking driver for headless Chromium over the DevTools protocol, for end-to-end
// tests of the console (server/console/): Debian's `chromium` as a real process, one
// page, driven by JavaScript evaluated in it. Every wait is bounded; failures come back
// as messages (with the tail of the browser's own log), never as crashes. Not a
// general CDP client: it does what the console's tests need.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace imock::server::testing {

class headless_browser {
 public:
  /// Starts `chromium --headless=new` (or $IMOCK_CHROMIUM) with a fresh profile and
  /// attaches to its page. nullptr and `why` set when it cannot (not installed: the
  /// message names Debian's package).
  static std::unique_ptr<headless_browser> launch(std::string* why, int width = 1280,
                                                  int height = 900);
  ~headless_browser();
  headless_browser(const headless_browser&) = delete;
  headless_browser& operator=(const headless_browser&) = delete;

  /// Opens `url` and waits (up to 15 s) until the document has loaded.
  bool navigate(const std::string& url, std::string* why = nullptr);

  /// The value of a JavaScript expression (a promise is awaited), as JSON; nullopt and
  /// `why` on an exception.
  std::optional<boost::json::value> evaluate(const std::string& js, std::string* why = nullptr);

  /// Evaluates `js` every 50 ms until it is truthy, up to `timeout`. false and `why`
  /// (the last value or exception) on time-out.
  bool wait_for(const std::string& js, std::chrono::milliseconds timeout, std::string* why = nullptr);

  /// Clicks the first element that matches `css_selector`; false when none does.
  bool click(const std::string& css_selector, std::string* why = nullptr);

  /// Sets the value of the <input> or <select> matching `css_selector`, as typing would
  /// (input and change events).
  bool set_value(const std::string& css_selector, const std::string& value, std::string* why = nullptr);

  /// The page as a PNG file.
  bool screenshot(const std::filesystem::path& path, std::string* why = nullptr);

  /// Files the page downloads (an <a download> clicked) go to `dir`.
  bool allow_downloads(const std::filesystem::path& dir, std::string* why = nullptr);

  /// What the page logged (console calls, uncaught exceptions), for failure reports.
  [[nodiscard]] const std::vector<std::string>& console() const noexcept { return console_; }

 private:
  headless_browser();
  std::optional<boost::json::value> call(const std::string& method, boost::json::object params,
                                         std::string* why);

  struct impl;
  std::unique_ptr<impl> impl_;
  std::vector<std::string> console_;
};

}  // namespace imock::server::testing
