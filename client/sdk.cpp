// The Asio driver of the reference SDK: runs client::connection over real sockets.
// Each client lives on one of the runtime's event loops (an io_context run by one
// thread, so the client's handlers never run at once and need no strand); callbacks
// go to the runtime's callback thread in order.
#include "imock/client/sdk.hpp"

#include <sqlite3.h>

#include <array>
#include <atomic>
#include <deque>
#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "imock/client/inbox.hpp"
#include "imock/client/messaging.hpp"
#include "imock/client/navigation.hpp"
#include "imock/net/client_stream.hpp"
#include "imock/net/clock.hpp"
#include "imock/net/http_exchange.hpp"
#include "imock/net/tls.hpp"
#include "imock/protocol/token.hpp"

namespace imock::client {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
// The loop's own executor type, not any_io_executor: 8 bytes per timer and pending
// operation instead of a type-erased executor, with thousands of clients per loop.
using loop_executor = asio::io_context::executor_type;
using loop_timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                              asio::wait_traits<std::chrono::steady_clock>,
                                              loop_executor>;

// One prepared statement of the user's database, finalized when it goes. Binds by
// position (1-based, text and blobs copied); a statement that did not prepare is false
// and does nothing.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (db != nullptr && sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) {
      sqlite3_finalize(st_);
      st_ = nullptr;
    }
  }
  ~statement() { sqlite3_finalize(st_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  explicit operator bool() const noexcept { return st_ != nullptr; }

  statement& text(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& blob(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  statement& integer(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  /// Runs it: true while it gives rows (SQLITE_ROW); done() tells a completed write.
  bool row() { return st_ != nullptr && sqlite3_step(st_) == SQLITE_ROW; }
  bool done() { return st_ != nullptr && sqlite3_step(st_) == SQLITE_DONE; }

  /// Column `i` of the current row: text or blob as bytes, or an integer.
  std::string bytes(int i) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, i));
    return p == nullptr ? std::string()
                        : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, i)));
  }
  std::int64_t number(int i) const { return sqlite3_column_int64(st_, i); }

 private:
  sqlite3_stmt* st_ = nullptr;
};

// The user's SQLite database as the message path's store (client/inbox.hpp): table
// im_messages (docs/client.md "Messages").
class sqlite_store final : public message_store {
 public:
  explicit sqlite_store(sqlite3*& db) : db_(db) {}

  std::int64_t add(const message& m, const std::string& client_msg_id) override {
    statement q(db_,
                "INSERT INTO im_messages(direction, peer, sender, uid, object_name, content, "
                "client_msg_id, sent_status, sent_ms, received_ms, offline) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    q.integer(1, m.direction).text(2, m.peer).text(3, m.sender).text(4, m.uid);
    q.text(5, m.object_name).blob(6, m.content).text(7, client_msg_id);
    q.integer(8, m.sent_status).integer(9, m.sent_ms).integer(10, m.received_ms);
    q.integer(11, m.offline ? 1 : 0);
    return q.done() ? sqlite3_last_insert_rowid(db_) : 0;
  }

  void set_sent(std::int64_t id, int sent_status, const std::string& uid,
                std::int64_t sent_ms) override {
    statement q(db_,
                "UPDATE im_messages SET sent_status = ?2, uid = CASE WHEN ?3 = '' THEN uid ELSE "
                "?3 END, sent_ms = CASE WHEN ?4 = 0 THEN sent_ms ELSE ?4 END WHERE id = ?1");
    q.integer(1, id).integer(2, sent_status).text(3, uid).integer(4, sent_ms);
    (void)q.done();
  }

  std::optional<message> find(std::int64_t id) override {
    auto rows = select("WHERE id = ?1", [id](statement& q) { q.integer(1, id); });
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  std::vector<incoming_message> similar(const incoming_message& in) override {
    std::vector<incoming_message> out;
    statement q(db_,
                "SELECT uid, sender, object_name, content, client_msg_id, sent_ms "
                "FROM im_messages WHERE direction = 2 AND (uid = ?1 OR (sender = ?2 AND "
                "content = ?3))");
    q.text(1, in.uid).text(2, in.from).blob(3, in.content);
    while (q.row()) {
      out.push_back({.uid = q.bytes(0),
                     .from = q.bytes(1),
                     .object_name = q.bytes(2),
                     .content = q.bytes(3),
                     .client_msg_id = q.bytes(4),
                     .sent_ms = q.number(5)});
    }
    return out;
  }

  std::vector<message> history(const std::string& peer, std::size_t limit) override {
    return select("WHERE peer = ?1 ORDER BY sent_ms, id LIMIT ?2", [&](statement& q) {
      q.text(1, peer).integer(
          2, static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000)));
    });
  }

 private:
  template <typename Bind>
  std::vector<message> select(const std::string& where, Bind bind) {
    std::vector<message> out;
    const std::string sql =
        "SELECT id, uid, peer, sender, direction, sent_status, object_name, content, sent_ms, "
        "received_ms, offline FROM im_messages " + where;
    statement q(db_, sql.c_str());
    bind(q);
    while (q.row()) {
      out.push_back({.id = q.number(0),
                     .uid = q.bytes(1),
                     .peer = q.bytes(2),
                     .sender = q.bytes(3),
                     .direction = static_cast<int>(q.number(4)),
                     .sent_status = static_cast<int>(q.number(5)),
                     .object_name = q.bytes(6),
                     .content = q.bytes(7),
                     .sent_ms = q.number(8),
                     .received_ms = q.number(9),
                     .offline = q.number(10) != 0});
    }
    return out;
  }

  sqlite3*& db_;
};

// How a failed connect or a broken connection is reported to the state machine.
rc::code code_for_error(const boost::system::error_code& ec, bool was_up) {
  if (ec == asio::error::connection_refused) return rc::code::connection_refused;
  if (ec == asio::error::connection_reset) return rc::code::connection_reset;
  if (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable) {
    return rc::code::network_unavailable;
  }
  return was_up ? rc::code::socket_disconnected : rc::code::socket_not_connected;
}

}  // namespace

// --- runtime ------------------------------------------------------------------------

class runtime::impl {
 public:
  // One event loop per thread, each client on one of them: a client's events never
  // wake another thread, and no two threads contend for one loop's queue (thousands
  // of clients in the storm tool).
  explicit impl(runtime_options o)
      : options(o), clock(o.speed), cb_work(asio::make_work_guard(callbacks)) {
    const unsigned n = std::max(1u, o.io_threads);
    loops.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
      auto& l = loops.emplace_back(std::make_unique<loop>());
      l->thread = std::thread([&io = l->io] { io.run(); });
    }
    if (!o.inline_callbacks) callback_thread = std::thread([this] { callbacks.run(); });
  }
  ~impl() {
    for (auto& l : loops) {
      l->work.reset();
      l->io.stop();
    }
    for (auto& l : loops) l->thread.join();
    cb_work.reset();
    callbacks.stop();
    if (callback_thread.joinable()) callback_thread.join();
  }

  /// The event loop for a new client: each in turn.
  asio::io_context& next_loop() {
    return loops[next.fetch_add(1, std::memory_order_relaxed) % loops.size()]->io;
  }

  /// One TLS context per (verify, CA) setting, shared by the clients that use it.
  std::shared_ptr<ssl::context> tls_context(const sdk_options& o) {
    const std::string key = std::string(o.tls_verify ? "v" : "n") + "|" +
                            (o.ca_file ? o.ca_file->string() : "") + "|" + o.ca_pem;
    std::lock_guard lock(tls_mutex);
    auto& ctx = tls_contexts[key];
    if (!ctx) ctx = net::make_client_context(o.tls_verify, o.ca_file, o.ca_pem);
    return ctx;
  }

  /// Runs `fn` where callbacks run: the callback thread, or inline.
  template <typename Fn>
  void deliver(Fn&& fn) {
    if (options.inline_callbacks) {
      fn();
    } else {
      asio::post(callbacks, std::forward<Fn>(fn));
    }
  }

  runtime_options options;
  net::scaled_clock clock;
  struct loop {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::thread thread;
  };
  std::vector<std::unique_ptr<loop>> loops;
  std::atomic<unsigned> next{0};
  asio::io_context callbacks{1};
  asio::executor_work_guard<asio::io_context::executor_type> cb_work;
  std::thread callback_thread;
  std::mutex tls_mutex;
  std::map<std::string, std::shared_ptr<ssl::context>> tls_contexts;
};

runtime::runtime(runtime_options options) : impl_(std::make_unique<impl>(options)) {}
runtime::~runtime() = default;
runtime& runtime::default_runtime() {
  static runtime rt;
  return rt;
}
std::int64_t runtime::now_ms() const { return impl_->clock.now_ms(); }
double runtime::speed() const { return impl_->clock.speed(); }

// --- transports ------------------------------------------------------------------

// What a transport tells its client. `generation` lets the client ignore events of
// a transport it has already closed.
class transport_owner {
 public:
  virtual ~transport_owner() = default;
  virtual void on_transport_up(std::uint64_t generation) = 0;
  virtual void on_transport_bytes(std::uint64_t generation, std::string_view bytes) = 0;
  virtual void on_transport_down(std::uint64_t generation, rc::code why) = 0;
};

namespace {

// Carries one stream's events to its client, tagged with the generation it was
// opened in: the client ignores a stream it has already replaced.
class stream_link final : public net::stream_events {
 public:
  stream_link(std::weak_ptr<transport_owner> owner, std::uint64_t generation)
      : owner_(std::move(owner)), generation_(generation) {}

  void on_stream_up() override {
    if (auto o = owner_.lock()) o->on_transport_up(generation_);
  }
  void on_stream_bytes(std::string_view bytes) override {
    if (auto o = owner_.lock()) o->on_transport_bytes(generation_, bytes);
  }
  void on_stream_down(net::stream_stage at, const boost::system::error_code& ec) override {
    if (auto o = owner_.lock()) o->on_transport_down(generation_, code_for(at, ec));
  }

 private:
  // How a failed connect or a broken connection is reported to the state machine.
  static rc::code code_for(net::stream_stage at, const boost::system::error_code& ec) {
    switch (at) {
      case net::stream_stage::open:
      case net::stream_stage::connect: return code_for_error(ec, false);
      case net::stream_stage::read:
      case net::stream_stage::write: return code_for_error(ec, true);
      case net::stream_stage::resolve:
      case net::stream_stage::tls_handshake:
      case net::stream_stage::ws_handshake: break;
    }
    return rc::code::socket_not_connected;
  }
  std::weak_ptr<transport_owner> owner_;
  std::uint64_t generation_;
};

}  // namespace

// --- the client's state -------------------------------------------------------------

class client::state final : public transport_owner,
                            public std::enable_shared_from_this<client::state> {
 public:
  explicit state(runtime::impl& rt)
      : rt_(rt), loop_(rt.next_loop().get_executor()), timer_(loop_), message_timer_(loop_) {}

  ~state() override { close_database(); }

  // Runs `fn` on the client's loop (never inline: the caller is the app's thread, or a
  // callback that must not re-enter the machine).
  template <typename Fn>
  void on_loop(Fn&& fn) {
    asio::post(loop_, [self = shared_from_this(), fn = std::forward<Fn>(fn)]() mutable {
      if (!self->detached_) fn(*self);
    });
  }

  std::int64_t now() const { return rt_.clock.now_ms(); }

  void handle(actions&& todo) {
    // Handlers of some actions feed events back into the machine; their actions are
    // appended to `todo` and run in order after the current ones.
    for (std::size_t i = 0; i < todo.size(); ++i) {
      action a = std::move(todo[i]);
      if (trace_) trace_line(to_string(a));
      if (const auto n = attempt_begun(a); n && attempt_listener_) {
        deliver([cb = attempt_listener_, t = now(), n = *n] { cb(t, n); });
      }
      std::visit([&](auto& x) { run(x, todo); }, a);
    }
  }

  // --- actions ---
  void run(const open_transport& a, actions& out) {
    close_transport_now();
    std::optional<server_url> navigated;
    if (!a.server.empty()) {
      navigated = parse_server_url(a.server);
      if (!navigated) {  // a stored list gone bad: a failed attempt, the list moves on
        machine_.transport_failed(rc::code::socket_not_connected, now(), out);
        return;
      }
    }
    if (!navigated && urls_.empty()) {
      machine_.transport_failed(rc::code::socket_not_connected, now(), out);
      return;
    }
    const auto& url =
        navigated ? *navigated : urls_[(a.attempt == 0 ? 0 : a.attempt - 1) % urls_.size()];
    const auto gen = ++generation_;
    net::stream_target target{.via = url.via,
                              .host = url.host,
                              .port = url.port,
                              .path = url.path,
                              .user_agent = "imock-client",
                              .source = sdk_.source_address};
    try {
      if (url.via == transport::tls || url.via == transport::wss) target.tls = rt_.tls_context(sdk_);
      link_ = std::make_shared<stream_link>(weak_from_this(), gen);
      transport_ = net::make_client_stream(loop_, std::move(target), link_);
    } catch (const std::exception& e) {
      if (trace_) trace_line(std::string("transport: ") + e.what());
      machine_.transport_failed(rc::code::socket_not_connected, now(), out);
      return;
    }
    decoder_ = mqtt::decoder();
    transport_->start();
  }
  void run(const navigate& a, actions& out) {
    close_transport_now();
    const auto url = net::parse_http_url(a.url);
    if (!url) {
      machine_.navigation_answered(navigation_unanswered(), now(), out);
      return;
    }
    const auto gen = generation_;
    std::weak_ptr<state> weak = shared_from_this();
    // The time-out is the machine's (navigation_timeout_ms): it closes the exchange.
    navigation_ = net::make_http_exchange(
        loop_, {.url = *url,
                  .target = url->path + std::string(k_navigation_path),
                  .headers = {{std::string(k_navigation_app_key_header), app_key_}},
                  .body = navigation_body(a.token, machine_options_->device_id,
                                          machine_options_->platform),
                  .source = sdk_.source_address});
    navigation_->start([weak, gen](int status, std::string body) {
      auto self = weak.lock();
      if (!self || self->detached_ || gen != self->generation_) return;
      self->navigation_.reset();
      if (self->trace_) self->trace_line("navigation answered " + std::to_string(status));
      actions next;
      self->machine_.navigation_answered(
          read_navigation_answer(status, body, self->machine_options_->navigation_transports),
          self->now(), next);
      self->handle(std::move(next));
    });
  }
  void run(const store_servers& a, actions&) { store_server_list(a.list); }
  void run(const send& a, actions&) {
    if (!transport_) return;
    std::string bytes;
    if (mqtt::encode(a.packet, bytes)) transport_->send(bytes);
  }
  void run(const close_transport&, actions&) { close_transport_now(); }
  void run(const start_timer& a, actions&) {
    deadlines_[static_cast<std::size_t>(a.id)] = a.at_ms;
    rearm();
  }
  void run(const cancel_timer& a, actions&) {
    deadlines_[static_cast<std::size_t>(a.id)] = k_unarmed;
    rearm();
  }
  void run(const open_database& a, actions& out) {
    const auto rc = open_database_for(a.user_id);
    machine_.database_opened(rc, rc == rc::code::ok ? stored_server_list() : server_list(), now(),
                             out);
  }
  void run(const db_opened& a, actions&) {
    deliver([cb = on_db_opened_, code = a.code] {
      if (cb) cb(code);
    });
  }
  void run(const success& a, actions&) {
    deliver([cb = on_success_, user = a.user_id] {
      if (cb) cb(user);
    });
  }
  void run(const error& a, actions&) {
    deliver([cb = on_error_, code = a.code] {
      if (cb) cb(code);
    });
  }
  void run(const status_changed& a, actions&) {
    status_.store(static_cast<int>(a.value));
    deliver([cb = listener_, st = a.value, cause = a.cause] {
      if (cb) cb(st, cause);
    });
  }

  // --- transport events (on the client's loop) ---
  void on_transport_up(std::uint64_t gen) override {
    if (gen != generation_ || detached_) return;
    if (trace_) trace_line("transport up");
    actions out;
    machine_.transport_up(now(), out);
    handle(std::move(out));
  }
  void on_transport_bytes(std::uint64_t gen, std::string_view bytes) override {
    if (gen != generation_ || detached_) return;
    decoder_.feed(bytes);
    std::error_code ec;
    while (gen == generation_) {
      auto p = decoder_.next(ec);
      if (ec) {
        if (trace_) trace_line("bad packet from server: " + decoder_.error_detail());
        close_transport_now();
        actions out;
        machine_.transport_failed(rc::code::socket_disconnected, now(), out);
        handle(std::move(out));
        return;
      }
      if (!p) break;
      if (trace_) trace_line("received " + std::string(mqtt::type_name(mqtt::type_of(*p))));
      if (message_actions mout; messages_.packet_received(*p, now(), mout)) {
        run_messages(std::move(mout));
        continue;
      }
      actions out;
      machine_.packet_received(*p, now(), out);
      handle(std::move(out));
    }
  }
  void on_transport_down(std::uint64_t gen, rc::code why) override {
    if (gen != generation_ || detached_) return;
    if (trace_) trace_line("transport down: " + std::to_string(static_cast<int>(why)));
    transport_.reset();
    link_.reset();
    lose_link();
    actions out;
    if (why == rc::code::socket_disconnected) {
      machine_.transport_closed(now(), out);
    } else {
      machine_.transport_failed(why, now(), out);
    }
    handle(std::move(out));
  }

  // --- messages (client/messaging.hpp), on the client's loop ---
  void send_message(outgoing_message m, attached_fn attached, sent_fn sent, send_error_fn failed) {
    const message row = inbox_.attach(m, machine_.user_id(), now());
    m.local_id = row.id;
    deliver([cb = std::move(attached), row] {
      if (cb) cb(row);
    });
    go(std::move(m), std::move(sent), std::move(failed));
  }

  // resendMessage: the row again, under its own id, so a receiver that got the first
  // copy drops the second (SPEC.md §8.5).
  void resend_message(std::int64_t id, sent_fn sent, send_error_fn failed) {
    const auto row = inbox_.sent_row(id);
    if (!row) {
      deliver([cb = std::move(failed), id] {
        if (cb) cb(static_cast<int>(rc::code::invalid_parameter), id);
      });
      return;
    }
    go({.local_id = id, .to = row->peer, .object_name = row->object_name, .content = row->content,
        .push_content = ""},
       std::move(sent), std::move(failed));
  }

  void go(outgoing_message m, sent_fn sent, send_error_fn failed) {
    sends_[m.local_id] = {std::move(sent), std::move(failed)};
    message_actions out;
    messages_.send_message(m, status_.load() == static_cast<int>(rc::status::connected), now(), out);
    run_messages(std::move(out));
  }

  void lose_link() {
    message_actions out;
    messages_.link_lost(now(), out);
    run_messages(std::move(out));
  }

  void run_messages(message_actions&& todo) {
    for (auto& a : todo) {
      if (auto* p = std::get_if<message_packet>(&a)) {
        std::string bytes;
        if (transport_ && mqtt::encode(p->packet, bytes)) transport_->send(bytes);
      } else if (auto* ok = std::get_if<message_sent>(&a)) {
        inbox_.sent(ok->local_id, ok->uid, ok->sent_ms);
        finish_send(ok->local_id, 0);
      } else if (auto* bad = std::get_if<send_failed>(&a)) {
        inbox_.failed(bad->local_id);
        finish_send(bad->local_id, bad->code);
      } else if (auto* r = std::get_if<message_received>(&a)) {
        receive(r->message);
      } else if (std::holds_alternative<sync_completed>(a)) {
        if (trace_) trace_line("offline sync completed");
        deliver([cb = on_sync_] {
          if (cb) cb();
        });
      } else if (auto* t = std::get_if<message_timer>(&a)) {
        arm_message_timer(t->at_ms);
      }
    }
  }

  void finish_send(std::int64_t id, int code) {
    const auto it = sends_.find(id);
    if (it == sends_.end()) return;
    auto cbs = std::move(it->second);
    sends_.erase(it);
    if (trace_) trace_line("message " + std::to_string(id) + (code == 0 ? " sent" : " failed " + std::to_string(code)));
    deliver([cbs = std::move(cbs), id, code] {
      if (code == 0 && cbs.sent) cbs.sent(id);
      if (code != 0 && cbs.failed) cbs.failed(code, id);
    });
  }

  void receive(const incoming_message& in) {
    const auto m = inbox_.receive(in, now());
    if (!m) {
      if (trace_) trace_line("duplicate message dropped: " + in.uid);
      return;
    }
    deliver([cb = on_receive_, m = *m, left = static_cast<int>(in.left), in] {
      if (cb) cb(m, left, in.offline, in.has_package);
    });
  }

  std::vector<message> history(const std::string& peer, std::size_t limit) {
    return inbox_.history(peer, limit);
  }

  void arm_message_timer(std::optional<std::int64_t> at) {
    message_timer_.cancel();
    if (!at) return;
    message_timer_.expires_after(rt_.clock.real(std::max<std::int64_t>(0, *at - now())));
    message_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->detached_) return;
      message_actions out;
      self->messages_.timer_fired(self->now(), out);
      self->run_messages(std::move(out));
    });
  }

  void detach() {
    detached_ = true;
    alive_->store(false);
    close_transport_now();
    timer_.cancel();
    message_timer_.cancel();
    close_database();
  }

  runtime::impl& rt_;
  loop_executor loop_;
  connection machine_;
  sdk_options sdk_;
  std::vector<server_url> urls_;
  std::shared_ptr<const options> machine_options_;
  std::string app_key_;
  db_opened_fn on_db_opened_;
  success_fn on_success_;
  error_fn on_error_;
  status_fn listener_;
  trace_fn trace_;
  attempt_fn attempt_listener_;
  receive_fn on_receive_;
  sync_completed_fn on_sync_;
  std::atomic<int> status_{static_cast<int>(rc::status::unconnected)};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

 private:
  static constexpr std::int64_t k_unarmed = std::numeric_limits<std::int64_t>::max();

  template <typename Fn>
  void deliver(Fn&& fn) {
    rt_.deliver([alive = alive_, fn = std::forward<Fn>(fn)]() mutable {
      if (alive->load()) fn();
    });
  }

  void trace_line(const std::string& line) {
    rt_.deliver([alive = alive_, cb = trace_, t = now(), line] {
      if (alive->load() && cb) cb(t, line);
    });
  }

  void close_transport_now() {
    ++generation_;
    if (navigation_) {
      navigation_->close();
      navigation_.reset();
    }
    if (transport_) {
      transport_->close();
      transport_.reset();
      link_.reset();
      lose_link();
    }
  }

  void rearm() {
    std::int64_t next = k_unarmed;
    for (auto d : deadlines_) next = std::min(next, d);
    if (next == k_unarmed) {
      timer_.cancel();
      // Forget what was armed: a later deadline at that same millisecond must arm
      // the timer again (keeping armed_at_ here once lost such a timer for good).
      armed_at_ = k_unarmed;
      return;
    }
    if (next == armed_at_) return;
    armed_at_ = next;
    timer_.expires_after(rt_.clock.real(std::max<std::int64_t>(0, next - now())));
    timer_.async_wait([self = shared_from_this(), next](boost::system::error_code ec) {
      if (ec || self->detached_ || self->armed_at_ != next) return;
      self->armed_at_ = k_unarmed;
      self->fire_due();
    });
  }

  void fire_due() {
    const auto t = now();
    actions out;
    for (std::size_t i = 0; i < deadlines_.size(); ++i) {
      if (deadlines_[i] <= t) {
        deadlines_[i] = k_unarmed;
        machine_.timer_fired(static_cast<timer_id>(i), t, out);
      }
    }
    handle(std::move(out));
    rearm();
  }

  rc::code open_database_for(const std::string& user_id) {
    if (sdk_.data_dir.empty()) return rc::code::ok;
    close_database();
    std::error_code fs_ec;
    const auto dir = sdk_.data_dir / app_key_ / user_id;
    std::filesystem::create_directories(dir, fs_ec);
    if (fs_ec) return rc::code::database_error;
    const auto file = (dir / "imock.db").string();
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      close_database();
      return rc::code::database_error;
    }
    // The local message store (docs/client.md "Messages"): one row per message sent or
    // received, the conversation by `peer`; `meta` keeps the navigation list.
    const char* schema =
        "CREATE TABLE IF NOT EXISTS im_messages(id INTEGER PRIMARY KEY, direction INTEGER NOT "
        "NULL, peer TEXT NOT NULL, sender TEXT NOT NULL, uid TEXT NOT NULL DEFAULT '', "
        "object_name TEXT NOT NULL, content BLOB NOT NULL, client_msg_id TEXT NOT NULL DEFAULT "
        "'', sent_status INTEGER NOT NULL, sent_ms INTEGER NOT NULL, received_ms INTEGER NOT "
        "NULL DEFAULT 0, offline INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS im_messages_uid ON im_messages(uid);"
        "CREATE INDEX IF NOT EXISTS im_messages_peer ON im_messages(peer, sent_ms);"
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);";
    if (sqlite3_exec(db_, schema, nullptr, nullptr, nullptr) != SQLITE_OK) {
      close_database();
      return rc::code::database_error;
    }
    inbox_.set_store(&store_);
    return rc::code::ok;
  }

  // The navigation list lives in the meta table: one row, JSON (navigation.hpp).
  void store_server_list(const server_list& list) {
    statement q(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('servers', ?1)");
    q.text(1, server_list_to_text(list));
    (void)q.done();
  }

  server_list stored_server_list() {
    statement q(db_, "SELECT value FROM meta WHERE key = 'servers'");
    return q.row() ? server_list_from_text(q.bytes(0)) : server_list();
  }

  void close_database() {
    inbox_.set_store(nullptr);
    if (db_ != nullptr) {
      sqlite3_close(db_);
      db_ = nullptr;
    }
  }

  loop_timer timer_;
  loop_timer message_timer_;
  messaging messages_;
  struct send_callbacks {
    sent_fn sent;
    send_error_fn failed;
  };
  std::map<std::int64_t, send_callbacks> sends_;  // by local id, until success or error
  sqlite_store store_{db_};
  inbox inbox_;  // its store is store_ while the database is open
  std::array<std::int64_t, 4> deadlines_{k_unarmed, k_unarmed, k_unarmed, k_unarmed};
  std::int64_t armed_at_ = k_unarmed;
  std::shared_ptr<net::client_stream> transport_;
  std::shared_ptr<stream_link> link_;  // the stream's events, while it is ours
  std::shared_ptr<net::http_exchange> navigation_;
  std::uint64_t generation_ = 0;
  mqtt::decoder decoder_;
  sqlite3* db_ = nullptr;
  bool detached_ = false;
};

// --- client -------------------------------------------------------------------------

client::client(runtime& rt) : runtime_(rt), state_(std::make_shared<state>(rt.get())) {}

client::~client() {
  // Detach on the client's loop and wait, so nothing of this client runs afterwards.
  std::promise<void> done;
  auto s = state_;
  asio::post(s->loop_, [s, &done] {
    s->detach();
    done.set_value();
  });
  done.get_future().wait();
}

rc::code client::init(std::string app_key, sdk_options options) {
  std::vector<server_url> urls;
  for (const auto& u : options.urls) {
    auto parsed = parse_server_url(u);
    if (!parsed) return rc::code::invalid_parameter;
    urls.push_back(std::move(*parsed));
  }
  if (urls.empty() && options.navigation.empty()) return rc::code::invalid_parameter;
  for (const auto& n : options.navigation) {
    if (!net::parse_http_url(n)) return rc::code::invalid_parameter;
  }
  auto mopts = std::make_shared<::imock::client::options>();
  mopts->app_key = app_key;
  mopts->device_id = options.device_id;
  if (mopts->device_id.empty()) {
    std::random_device rd;
    mopts->device_id = "imock-" + std::to_string(rd()) + std::to_string(rd());
  }
  mopts->platform = options.platform;
  mopts->heartbeat_s = options.heartbeat_s;
  if (!options.schedule_ms.empty()) mopts->schedule_ms = options.schedule_ms;
  mopts->schedule_tail_ms = options.schedule_tail_ms;
  mopts->jitter = options.jitter;
  mopts->jitter_seed = options.jitter_seed;
  mopts->reconnect_kick = options.reconnect_kick;
  mopts->connect_ack_timeout_ms = options.connect_ack_timeout_ms;
  mopts->plain = options.plain;
  mopts->navigation = options.navigation;
  mopts->navigation_timeout_ms = options.navigation_timeout_ms;
  mopts->navigation_transports = options.navigation_transports;
  mopts->messages = options.messages;
  if (validate(*mopts) != rc::code::ok) return rc::code::invalid_parameter;
  if (options.tls_verify || options.ca_file || !options.ca_pem.empty()) {
    try {
      (void)runtime_.get().tls_context(options);
    } catch (const std::exception&) {
      return rc::code::invalid_parameter;
    }
  }
  std::promise<rc::code> result;
  auto s = state_;
  asio::post(s->loop_, [s, &result, mopts, urls = std::move(urls), app_key,
                          options = std::move(options)]() mutable {
    const auto rc = s->machine_.init(mopts, std::random_device{}());
    if (rc == rc::code::ok) {
      s->sdk_ = std::move(options);
      s->urls_ = std::move(urls);
      s->machine_options_ = mopts;
      s->app_key_ = std::move(app_key);
    }
    result.set_value(rc);
  });
  const auto rc = result.get_future().get();
  if (rc == rc::code::ok) inited_ = true;
  return rc;
}

void client::connect(std::string token, int time_limit_s, db_opened_fn on_db_opened,
                     success_fn on_success, error_fn on_error) {
  state_->on_loop([token = std::move(token), time_limit_s, on_db_opened = std::move(on_db_opened),
                     on_success = std::move(on_success),
                     on_error = std::move(on_error)](state& s) mutable {
    actions out;
    const bool idle = s.machine_.current_phase() == phase::idle;
    if (idle) {
      // A new connect() call: its callbacks replace the previous call's. A refused
      // call (34001) reports to its own error callback and leaves the active one alone.
      s.on_db_opened_ = std::move(on_db_opened);
      s.on_success_ = std::move(on_success);
      s.on_error_ = std::move(on_error);
      s.machine_.connect(token, time_limit_s, s.now(), out);
      s.handle(std::move(out));
      return;
    }
    s.machine_.connect(token, time_limit_s, s.now(), out);
    for (const auto& a : out) {
      if (const auto* e = std::get_if<error>(&a)) {
        s.rt_.deliver([alive = s.alive_, cb = on_error, code = e->code] {
          if (alive->load() && cb) cb(code);
        });
      }
    }
  });
}

rc::code client::disconnect() {
  if (!inited_) return rc::code::client_not_init;
  state_->on_loop([](state& s) {
    actions out;
    (void)s.machine_.disconnect(s.now(), out);
    s.handle(std::move(out));
  });
  return rc::code::ok;
}

rc::code client::logout() {
  if (!inited_) return rc::code::client_not_init;
  state_->on_loop([](state& s) {
    actions out;
    (void)s.machine_.logout(s.now(), out);
    s.handle(std::move(out));
  });
  return rc::code::ok;
}

void client::set_connection_status_listener(status_fn listener) {
  state_->on_loop(
      [listener = std::move(listener)](state& s) mutable { s.listener_ = std::move(listener); });
}

rc::code client::send_message(std::string to, std::string object_name, std::string content,
                              std::string push_content, attached_fn on_attached, sent_fn on_sent,
                              send_error_fn on_error) {
  if (!inited_) return rc::code::client_not_init;
  state_->on_loop([m = outgoing_message{.to = std::move(to),
                                          .object_name = std::move(object_name),
                                          .content = std::move(content),
                                          .push_content = std::move(push_content)},
                     a = std::move(on_attached), ok = std::move(on_sent),
                     bad = std::move(on_error)](state& s) mutable {
    s.send_message(std::move(m), std::move(a), std::move(ok), std::move(bad));
  });
  return rc::code::ok;
}

rc::code client::resend_message(std::int64_t message_id, sent_fn on_sent, send_error_fn on_error) {
  if (!inited_) return rc::code::client_not_init;
  state_->on_loop([message_id, ok = std::move(on_sent), bad = std::move(on_error)](state& s) mutable {
    s.resend_message(message_id, std::move(ok), std::move(bad));
  });
  return rc::code::ok;
}

void client::set_receive_listener(receive_fn listener) {
  state_->on_loop(
      [listener = std::move(listener)](state& s) mutable { s.on_receive_ = std::move(listener); });
}

void client::set_offline_sync_listener(sync_completed_fn listener) {
  state_->on_loop(
      [listener = std::move(listener)](state& s) mutable { s.on_sync_ = std::move(listener); });
}

std::vector<message> client::history(const std::string& peer, std::size_t limit) {
  std::promise<std::vector<message>> result;
  auto s = state_;
  asio::post(s->loop_, [s, &result, &peer, limit] { result.set_value(s->history(peer, limit)); });
  return result.get_future().get();
}

void client::set_trace(trace_fn trace) {
  state_->on_loop([trace = std::move(trace)](state& s) mutable { s.trace_ = std::move(trace); });
}

void client::set_attempt_listener(attempt_fn listener) {
  state_->on_loop([listener = std::move(listener)](state& s) mutable {
    s.attempt_listener_ = std::move(listener);
  });
}

rc::status client::current_status() const {
  return static_cast<rc::status>(state_->status_.load());
}

rc::code client::set_reconnect_kick_enable(bool on) {
  if (!inited_) return rc::code::client_not_init;
  state_->on_loop([on](state& s) { (void)s.machine_.set_reconnect_kick(on); });
  return rc::code::ok;
}

void client::set_network_available(bool available) {
  state_->on_loop([available](state& s) {
    actions out;
    s.machine_.network_changed(available, s.now(), out);
    s.handle(std::move(out));
  });
}

void client::app_foreground() {
  state_->on_loop([](state& s) {
    actions out;
    s.machine_.foreground(s.now(), out);
    s.handle(std::move(out));
  });
}

}  // namespace imock::client
