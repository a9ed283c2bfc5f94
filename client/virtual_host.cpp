#include "imock/client/virtual_host.hpp"

#include "imock/client/navigation.hpp"

#include <system_error>
#include <type_traits>
#include <utility>

namespace imock::client {

virtual_host::~virtual_host() {
  if (link_) net_.close(*link_);
}

rc::code virtual_host::init(std::shared_ptr<const options> opts, std::uint64_t seed) {
  const auto rc = machine_.init(opts, seed);
  if (rc == rc::code::ok) options_ = std::move(opts);
  return rc;
}

void virtual_host::connect(std::string_view token, int time_limit_s, std::int64_t now_ms) {
  actions out;
  machine_.connect(token, time_limit_s, now_ms, out);
  handle(out, now_ms);
}

rc::code virtual_host::disconnect(std::int64_t now_ms) {
  actions out;
  const auto rc = machine_.disconnect(now_ms, out);
  handle(out, now_ms);
  return rc;
}

rc::code virtual_host::logout(std::int64_t now_ms) {
  actions out;
  const auto rc = machine_.logout(now_ms, out);
  handle(out, now_ms);
  return rc;
}

void virtual_host::network_changed(bool available, std::int64_t now_ms) {
  actions out;
  machine_.network_changed(available, now_ms, out);
  handle(out, now_ms);
}

void virtual_host::foreground(std::int64_t now_ms) {
  actions out;
  machine_.foreground(now_ms, out);
  handle(out, now_ms);
}

void virtual_host::handle(actions& todo, std::int64_t now_ms) {
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const action a = todo[i];  // a copy: handlers append to `todo`
    if (observer_) observer_(a, now_ms);
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, open_transport>) {
            close_link(now_ms);
            rx_ = mqtt::decoder();
            link_ = net_.open(x.server);
          } else if constexpr (std::is_same_v<T, navigate>) {
            close_link(now_ms);
            navigation_ = net_.navigate(
                {.url = x.url,
                 .app_key = options_->app_key,
                 .body = navigation_body(x.token, options_->device_id, options_->platform)});
          } else if constexpr (std::is_same_v<T, store_servers>) {
            if (database_ok_) stored_[machine_.user_id()] = x.list;
          } else if constexpr (std::is_same_v<T, send>) {
            std::string bytes;
            if (link_ && mqtt::encode(x.packet, bytes)) net_.send(*link_, std::move(bytes));
          } else if constexpr (std::is_same_v<T, close_transport>) {
            close_link(now_ms);
          } else if constexpr (std::is_same_v<T, start_timer>) {
            // The machine keeps the deadline (connection::deadline); only the order of
            // starts is ours to keep.
            started_seq_[static_cast<std::size_t>(x.id)] = next_seq_++;
          } else if constexpr (std::is_same_v<T, open_database>) {
            if (!database_ok_) {
              machine_.database_opened(rc::code::database_error, now_ms, todo);
            } else {
              const auto stored = stored_.find(x.user_id);
              machine_.database_opened(
                  rc::code::ok, stored == stored_.end() ? server_list() : stored->second, now_ms,
                  todo);
            }
          }
          // cancel_timer: the machine forgets the deadline; callbacks: the observer.
        },
        a);
  }
}

std::optional<std::int64_t> virtual_host::next_timer() const noexcept {
  std::optional<std::int64_t> next = message_deadline_;
  for (std::size_t i = 0; i < k_timer_count; ++i) {
    const auto d = machine_.deadline(static_cast<timer_id>(i));
    if (d && (!next || *d < *next)) next = d;
  }
  return next;
}

void virtual_host::advance(std::int64_t now_ms) {
  // Bounded: a machine that re-arms a timer at `now` forever (a bug under test) leaves
  // next_timer() <= now, and the driver's own guard sees time not moving.
  for (int fired = 0; fired < k_max_timers_per_advance; ++fired) {
    // The earliest due timer; at the same deadline, the one started first.
    std::optional<timer_id> due;
    std::int64_t due_at = 0;
    for (std::size_t i = 0; i < k_timer_count; ++i) {
      const auto id = static_cast<timer_id>(i);
      const auto d = machine_.deadline(id);
      if (!d || *d > now_ms) continue;
      if (!due || *d < due_at ||
          (*d == due_at && started_seq_[i] < started_seq_[static_cast<std::size_t>(*due)])) {
        due = id;
        due_at = *d;
      }
    }
    if (!due) {
      if (message_deadline_ && *message_deadline_ <= now_ms) {
        const auto at = *message_deadline_;
        message_deadline_.reset();
        message_actions out;
        messages_.timer_fired(at, out);
        run_messages(out, at);
        continue;
      }
      return;
    }
    // Time passes through each deadline: a timer fires at its own time, and what it
    // starts (an attempt, its time-out) counts from then, not from `now_ms`.
    actions out;
    machine_.timer_fired(*due, due_at, out);
    handle(out, due_at);
  }
}

void virtual_host::close_link(std::int64_t now_ms) {
  const bool had = link_.has_value();
  if (link_) net_.close(*link_);
  link_.reset();
  navigation_.reset();  // an answer still on its way is stale
  if (had) lose_link(now_ms);
}

void virtual_host::lose_link(std::int64_t now_ms) {
  message_actions out;
  messages_.link_lost(now_ms, out);
  run_messages(out, now_ms);
}

// --- messages ---

std::int64_t virtual_host::send_message(const std::string& to, const std::string& object_name,
                                        const std::string& content, std::int64_t now_ms) {
  outgoing_message m{.to = to, .object_name = object_name, .content = content};
  m.local_id = inbox_.attach(m, machine_.user_id(), now_ms).id;
  go(m, now_ms);
  return m.local_id;
}

bool virtual_host::resend_message(std::int64_t id, std::int64_t now_ms) {
  const auto row = inbox_.sent_row(id);
  if (!row) return false;
  go({.local_id = id, .to = row->peer, .object_name = row->object_name, .content = row->content,
      .push_content = ""},
     now_ms);
  return true;
}

void virtual_host::go(const outgoing_message& m, std::int64_t now_ms) {
  message_actions out;
  messages_.send_message(m, machine_.current_status() == rc::status::connected, now_ms, out);
  run_messages(out, now_ms);
}

void virtual_host::run_messages(message_actions& todo, std::int64_t now_ms) {
  for (auto& a : todo) {
    if (auto* p = std::get_if<message_packet>(&a)) {
      std::string bytes;
      if (link_ && mqtt::encode(p->packet, bytes)) net_.send(*link_, std::move(bytes));
      continue;
    }
    if (auto* t = std::get_if<message_timer>(&a)) {
      message_deadline_ = t->at_ms;
      continue;
    }
    if (auto* ok = std::get_if<message_sent>(&a)) {
      inbox_.sent(ok->local_id, ok->uid, ok->sent_ms);
    } else if (auto* bad = std::get_if<send_failed>(&a)) {
      inbox_.failed(bad->local_id);
    } else if (auto* r = std::get_if<message_received>(&a)) {
      if (!inbox_.receive(r->message, now_ms)) continue;  // a duplicate: the app never sees it
    }
    if (message_observer_) message_observer_(a, now_ms);
  }
}

void virtual_host::navigation_answer(std::uint64_t request, int http_status, std::string_view body,
                                     std::int64_t now_ms) {
  if (navigation_ != request || options_ == nullptr) return;
  navigation_.reset();
  actions out;
  machine_.navigation_answered(
      read_navigation_answer(http_status, body, options_->navigation_transports), now_ms, out);
  handle(out, now_ms);
}

void virtual_host::navigation_unanswered(std::uint64_t request, std::int64_t now_ms) {
  if (navigation_ != request) return;
  navigation_.reset();
  actions out;
  machine_.navigation_answered(client::navigation_unanswered(), now_ms, out);
  handle(out, now_ms);
}

void virtual_host::link_up(std::uint64_t link, std::int64_t now_ms) {
  if (!current(link)) return;
  actions out;
  machine_.transport_up(now_ms, out);
  handle(out, now_ms);
}

void virtual_host::link_refused(std::uint64_t link, std::int64_t now_ms) {
  if (!current(link)) return;
  link_.reset();
  lose_link(now_ms);
  actions out;
  machine_.transport_failed(rc::code::connection_refused, now_ms, out);
  handle(out, now_ms);
}

void virtual_host::link_bytes(std::uint64_t link, std::string_view bytes, std::int64_t now_ms) {
  if (!current(link)) return;
  rx_.feed(bytes);
  std::error_code ec;
  while (current(link)) {
    auto p = rx_.next(ec);
    actions out;
    if (ec) {  // as the SDK does: a packet it cannot read ends the connection
      close_link(now_ms);
      machine_.transport_failed(rc::code::socket_disconnected, now_ms, out);
      handle(out, now_ms);
      return;
    }
    if (!p) return;
    if (message_actions mout; takes_messages() && messages_.packet_received(*p, now_ms, mout)) {
      run_messages(mout, now_ms);
      continue;
    }
    machine_.packet_received(*p, now_ms, out);
    handle(out, now_ms);
  }
}

void virtual_host::link_reset(std::uint64_t link, std::int64_t now_ms) {
  if (!current(link)) return;
  link_.reset();
  lose_link(now_ms);
  actions out;
  machine_.transport_failed(rc::code::connection_reset, now_ms, out);
  handle(out, now_ms);
}

void virtual_host::link_closed(std::uint64_t link, std::int64_t now_ms) {
  if (!current(link)) return;
  link_.reset();
  lose_link(now_ms);
  actions out;
  machine_.transport_closed(now_ms, out);
  handle(out, now_ms);
}

}  // namespace imock::client
