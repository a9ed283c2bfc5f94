// libFuzzer target for the admin and fault API (docs/admin-api.md, server/admin_api.cpp,
// server/admin_requests.cpp), driven through endpoints (server/endpoints.hpp) on a real
// hub holding a few sessions, so that kicks, drops, blackholes and faults act on
// something. What the admin API asks of the I/O layer goes to a control that counts it.
//
// Input layout (the seeds in corpus/admin_api/ follow it):
//   byte 0  bits 0-2: n, sessions opened before the requests; bit 7: the I/O layer
//           carries out closes (every close or reset action is followed by on_closed)
//   n bytes one per session: bits 0-1 the user (alice, bob, carol, dave); bit 2 no
//           CONNECT (the session stays not logged in); bit 3 the imock-messages
//           capability; bits 4-5 the transport; bits 6-7 keep alive 0, 5, 30, 600 s
//   then up to 8 requests, each:
//   byte    the path: an index into k_paths (GET ones, then POST ones); past the end,
//           "/admin/" and a short string
//   byte    flags: bit 0 the other method (GET for POST, POST for GET); bit 1 a query
//           string follows (short string); bit 2 a client connects after the request
//           (bits 3-4 its user); bits 5-7 the time step: 10 ms << (2 * value)
//   2 bytes the body's length (mod 4096), then the body (meant as JSON, any bytes)
//
// Checked for every answer: an HTTP status the admin API has (200, 400, 404, 405) on
// the right paths and methods; a JSON object whose "code" is the status, an error with
// a non-empty "error" (the one non-JSON answer: GET /admin/events with format=text);
// a refused request and a GET change nothing (sessions, faults, the navigation fault,
// the control); kick, drop, block and restart close exactly the sessions they count as
// affected. After each request and tick: connected_count() <= session_count(), and
// GET /admin/status and GET /admin/sessions still answer 200 with the hub's numbers.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/protocol/messages.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/endpoints.hpp"

namespace {

namespace json = boost::json;
namespace server = imock::server;
using imock::fuzz::check;

constexpr std::int64_t k_start_ms = 1'700'000'000'000;
constexpr std::string_view k_app = "app";
constexpr std::string_view k_secret = "secret";
constexpr std::string_view k_users[] = {"alice", "bob", "carol", "dave"};
constexpr std::uint16_t k_keep_alives[] = {0, 5, 30, 600};
constexpr std::size_t k_max_requests = 8;
constexpr std::size_t k_max_body = 4096;

constexpr std::size_t k_read_count = 6;  // the first k_read_count paths take GET
constexpr std::string_view k_paths[] = {
    "/admin/sessions",      "/admin/events",         "/admin/faults",
    "/admin/navigation",    "/admin/clock",          "/admin/status",
    "/admin/kick",          "/admin/users/block",    "/admin/users/unblock",
    "/admin/tokens/expire", "/admin/apps/state",     "/admin/drop",
    "/admin/blackhole",     "/admin/release",        "/admin/faults",
    "/admin/refuse",        "/admin/delay",          "/admin/faults/remove",
    "/admin/faults/clear",  "/admin/navigation",     "/admin/stop-accepting",
    "/admin/resume-accepting", "/admin/restart",     "/admin/shutdown",
    "/admin/seed",
};
constexpr std::size_t k_path_count = std::size(k_paths);

bool is_read_path(std::string_view p) {
  for (std::size_t i = 0; i < k_read_count; ++i) {
    if (k_paths[i] == p) return true;
  }
  return false;
}

bool is_write_path(std::string_view p) {
  for (std::size_t i = k_read_count; i < k_path_count; ++i) {
    if (k_paths[i] == p) return true;
  }
  return false;
}

// What the admin API asked of the I/O layer: counted, and the sessions it closed noted
// for the target to close (when the input asks for it).
class recording_control final : public server::server_control {
 public:
  void apply(server::actions&& todo) override {
    applied += todo.size();
    for (const auto& a : todo) {
      if (a.close || a.reset) to_close.push_back(a.session);
    }
  }
  void set_accept_mode(accept_mode m) override { mode = m; }
  [[nodiscard]] bool accepting() const override { return mode == accept_mode::accept; }
  void resume_accepting_after(std::int64_t) override { ++resumes; }
  void request_shutdown() override { ++shutdowns; }

  std::size_t applied = 0;
  accept_mode mode = accept_mode::accept;
  std::size_t resumes = 0;
  std::size_t shutdowns = 0;
  std::vector<server::session_id> to_close;
};

server::server_config config() {
  server::server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  return c;
}

// What a refused request must leave as it was.
struct snapshot {
  std::size_t sessions = 0;
  std::size_t connected = 0;
  std::size_t listed = 0;  // sessions not closing
  std::size_t faults = 0;
  server::navigation_fault navigation = server::navigation_fault::none;
  std::size_t applied = 0;
  server::server_control::accept_mode mode = server::server_control::accept_mode::accept;
  std::size_t resumes = 0;
  std::size_t shutdowns = 0;
  friend bool operator==(const snapshot&, const snapshot&) = default;
};

class admin_run {
 public:
  admin_run() : hub_(config_, 1, k_start_ms), endpoints_(hub_, control_) {}

  void run(imock::fuzz::input& in) {
    const std::uint8_t setup = in.byte();
    carry_out_closes_ = (setup & 0x80) != 0;
    for (std::size_t n = setup & 7; n > 0; --n) open_session(in.byte());
    settle();
    for (std::size_t i = 0; i < k_max_requests && !in.empty(); ++i) one(in);
  }

 private:
  void open_session(std::uint8_t bits) {
    const auto via = static_cast<server::transport>((bits >> 4) & 3);
    const auto id = hub_.open(via, "192.0.2.1:" + std::to_string(40000 + sessions_opened_), now_);
    ++sessions_opened_;
    if (bits & 4) return;  // never logs in: the CONNECT timeout's business
    imock::mqtt::connect c;
    c.client_id = "device-" + std::to_string(sessions_opened_);
    c.keep_alive = k_keep_alives[bits >> 6];
    c.username = std::string(k_app);
    c.password = imock::token::issue(
        {.app_key = std::string(k_app), .user_id = std::string(k_users[bits & 3]),
         .issued_at_ms = now_, .nonce = sessions_opened_},
        k_secret);
    if (bits & 8) {
      c.props.user_properties.emplace_back(std::string(imock::messages::k_capability), "1");
    }
    control_.apply(hub_.on_packet(id, std::move(c), now_));
  }

  snapshot take_snapshot() {
    return {.sessions = hub_.session_count(),
            .connected = hub_.connected_count(),
            .listed = hub_.sessions({}).size(),
            .faults = hub_.faults().rules().size(),
            .navigation = hub_.faults().navigation().fail,
            .applied = control_.applied,
            .mode = control_.mode,
            .resumes = control_.resumes,
            .shutdowns = control_.shutdowns};
  }

  void one(imock::fuzz::input& in) {
    const std::size_t which = in.pick(k_path_count + 1);
    const std::uint8_t flags = in.byte();
    server::api_request r;
    r.path = which < k_path_count ? std::string(k_paths[which])
                                  : "/admin/" + std::string(in.short_string());
    const std::string bare = r.path.substr(0, r.path.find('?'));
    const bool natural_get = which < k_read_count || (which == k_path_count && !is_write_path(bare));
    const bool get = natural_get != ((flags & 1) != 0);
    r.method = get ? "GET" : "POST";
    if (flags & 2) r.path += "?" + std::string(in.short_string());
    r.content_type = "application/json";
    r.body = std::string(in.take(in.u16() % k_max_body));
    now_ += std::int64_t{10} << (2 * (flags >> 5));

    const auto before = take_snapshot();
    const auto answer = endpoints_.handle(r, now_);
    const auto after = take_snapshot();
    check_answer(bare, get, answer);
    if (answer.http_status != 200 || get) {
      check(after == before);
    } else {
      check_effect(bare, answer, before, after);
    }

    if (flags & 4) connect_client((flags >> 3) & 3);
    settle();
  }

  // A client arrives after the request: faults armed for connects fire, blocks refuse.
  void connect_client(std::size_t user) {
    open_session(static_cast<std::uint8_t>(user | 0xc8));  // keep alive 600 s, messages
  }

  // The I/O layer's part after each request: a tick, and (if asked) the closes.
  void settle() {
    control_.apply(hub_.tick(now_));
    if (carry_out_closes_) {
      const auto ids = std::move(control_.to_close);
      control_.to_close.clear();
      for (const auto id : ids) hub_.on_closed(id, "closed by the fuzz target", now_);
    }
    control_.to_close.clear();
    check(hub_.connected_count() <= hub_.session_count());
    check_status();
  }

  static std::optional<json::object> object_of(std::string_view body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
  }

  void check_answer(const std::string& bare, bool get, const server::api_response& a) {
    const int s = a.http_status;
    check(s == 200 || s == 400 || s == 404 || s == 405);
    const bool known = is_read_path(bare) || is_write_path(bare);
    if (!known) check(s == 404);
    if (known) check(s != 404);
    check((s == 405) == (known && (get ? !is_read_path(bare) : !is_write_path(bare))));
    const auto body = object_of(a.body);
    if (!body) {
      // Text on request, the one answer that is not JSON.
      check(s == 200 && get && bare == "/admin/events");
      check(a.body.empty() || a.body.back() == '\n');
      return;
    }
    const auto* code = body->if_contains("code");
    check(code != nullptr && code->is_int64() && code->as_int64() == s);
    if (s != 200) {
      const auto* error = body->if_contains("error");
      check(error != nullptr && error->is_string() && !error->as_string().empty());
    }
  }

  static std::int64_t affected(const server::api_response& a) {
    const auto body = object_of(a.body);
    check(body.has_value());
    const auto* n = body->if_contains("affected");
    check(n != nullptr && n->is_number());
    return n->to_number<std::int64_t>();
  }

  void check_effect(const std::string& path, const server::api_response& a, const snapshot& before,
                    const snapshot& after) {
    // Each affected session is one the hub no longer lists: it is closing.
    if (path == "/admin/kick" || path == "/admin/users/block" || path == "/admin/drop" ||
        path == "/admin/restart") {
      const auto n = affected(a);
      check(n >= 0 && static_cast<std::size_t>(n) <= before.listed);
      check(after.listed == before.listed - static_cast<std::size_t>(n));
      check(after.applied == before.applied + static_cast<std::size_t>(n));
      // Kicks and blocks reach logged-in sessions only; drops and restarts any.
      if (path == "/admin/kick" || path == "/admin/users/block") {
        check(static_cast<std::size_t>(n) <= before.connected);
      }
    }
    if (path == "/admin/restart") check(after.listed == 0);
    if (path == "/admin/faults" || path == "/admin/refuse" || path == "/admin/delay") {
      check(after.faults == before.faults + 1);
    }
    if (path == "/admin/faults/clear") {
      check(after.faults == 0 && after.navigation == server::navigation_fault::none);
    }
    if (path == "/admin/stop-accepting") check(!control_.accepting());
    if (path == "/admin/resume-accepting") check(control_.accepting());
    if (path == "/admin/shutdown") check(after.shutdowns == before.shutdowns + 1);
  }

  server::api_response get(std::string path) {
    return endpoints_.handle({.method = "GET", .path = std::move(path)}, now_);
  }

  // The status and session list still answer, and say what the hub holds.
  void check_status() {
    const auto status = get("/admin/status");
    check(status.http_status == 200);
    const auto s = object_of(status.body);
    check(s.has_value());
    check(s->at("sessions").to_number<std::size_t>() == hub_.session_count());
    check(s->at("connected").to_number<std::size_t>() == hub_.connected_count());
    check(s->at("accepting").as_bool() == control_.accepting());
    check(s->at("faults").to_number<std::size_t>() == hub_.faults().rules().size());

    const auto sessions = get("/admin/sessions");
    check(sessions.http_status == 200);
    const auto l = object_of(sessions.body);
    check(l.has_value());
    const auto& list = l->at("sessions").as_array();
    check(list.size() <= hub_.session_count());
    std::size_t connected = 0;
    for (const auto& v : list) connected += v.as_object().at("connected").as_bool() ? 1 : 0;
    check(connected <= hub_.connected_count());
  }

  const server::server_config config_ = config();
  server::hub hub_;
  recording_control control_;
  server::endpoints endpoints_;
  std::int64_t now_ = k_start_ms;
  std::uint64_t sessions_opened_ = 0;
  bool carry_out_closes_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  imock::fuzz::input in(data, size);
  admin_run run;
  run.run(in);
  return 0;
}
