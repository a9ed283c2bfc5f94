#include "imock/harness/client_program.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <mutex>

#include "imock/base/json_fields.hpp"

namespace imock::harness {

namespace json = boost::json;

client_program::~client_program() {
  if (!child_) return;
  child_->write(json::serialize(json::object{{"cmd", "quit"}}) + "\n", std::chrono::milliseconds(100));
  child_->close_stdin();
  // Bounded: its output ends when it exits; what it says meanwhile is not read any more.
  const auto deadline = clock_type::now() + std::chrono::seconds(1);
  while (!child_->output_closed() && clock_type::now() < deadline) child_->read_line(deadline);
  if (!child_->wait_exit(std::chrono::milliseconds(200))) child_->stop(std::chrono::milliseconds(100));
}

bool client_program::start() {
  // The program must not inherit the harness's sockets (a listening socket held open
  // by a child keeps "stop accepting" from refusing connections): spawn closes them.
  child_ = child_process::shell(
      command_, {.in = spawn_options::stream::pipe, .out = spawn_options::stream::pipe});
  return child_ != nullptr;
}

bool client_program::send(const json::object& command, std::chrono::milliseconds timeout) {
  return child_ && child_->write(json::serialize(command) + "\n", timeout);
}

std::optional<std::string> client_program::read_line(clock_type::time_point deadline) {
  return child_ ? child_->read_line(deadline) : std::nullopt;
}

void warn_no_ready(const std::string& command, std::chrono::milliseconds waited,
                   const std::string& source, trace_log& trace, bool ended) {
  const std::string warning =
      (ended ? std::string("the program's output ended before a {\"event\":\"ready\"} line")
             : "no {\"event\":\"ready\"} line within " + std::to_string(waited.count()) + " ms") +
      ": print it once the program reads commands (docs/scenarios.md, \"Other clients\")";
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

std::string event_name(const json::object& line) { return json_fields::string_or(line, "event"); }

std::optional<trace_entry> trace_entry_of(const std::string& source, const json::object& line) {
  const std::string event = event_name(line);
  trace_entry e{.source = source, .kind = event};
  if (event == "status") {
    e.status = static_cast<int>(json_fields::int_or(line, "status", -1));
    e.code = static_cast<int>(json_fields::int_or(line, "code"));
  } else if (event == "error" || event == "db_opened") {
    e.code = static_cast<int>(json_fields::int_or(line, "code"));
  } else if (event == "success") {
    e.user = json_fields::string_or(line, "user");
  } else if (event == "returned") {
    e.detail = json_fields::string_or(line, "call");
    e.code = static_cast<int>(json_fields::int_or(line, "code"));
  } else if (event == "attempt") {
    e.detail = "#" + std::to_string(json_fields::int_or(line, "n"));
    e.client_ms = json_fields::int_or(line, "t_ms");
  } else if (event == "message") {
    e.user = json_fields::string_or(line, "from");
    e.detail = json_fields::string_or(line, "uid");
    e.text = message_text(json_fields::string_or(line, "content"));
    e.offline = json_fields::bool_or(line, "offline", false);
    e.left = static_cast<int>(json_fields::int_or(line, "left"));
    e.has_package = json_fields::bool_or(line, "has_package", false);
  } else if (event == "sent" || event == "send_error") {
    e.detail = "#" + std::to_string(json_fields::int_or(line, "id"));
    e.text = message_text(json_fields::string_or(line, "content"));
    if (event == "send_error") e.code = static_cast<int>(json_fields::int_or(line, "code"));
  } else if (event == "sync_completed") {
    // nothing more to it
  } else if (event == "history") {
    e.detail = json_fields::string_or(line, "peer");
    boost::json::array texts;
    if (const auto* m = line.if_contains("messages"); m != nullptr && m->is_array()) {
      for (const auto& row : m->as_array()) {
        texts.emplace_back(row.is_object() ? message_text(json_fields::string_or(row.as_object(), "content"))
                                           : std::string());
      }
    }
    e.text = boost::json::serialize(texts);
  } else {
    return std::nullopt;
  }
  return e;
}

}  // namespace imock::harness
