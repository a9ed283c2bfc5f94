#include "sim/client_host.hpp"

#include <system_error>
#include <type_traits>
#include <utility>

namespace imock::sim {

client_host::client_host(scheduler& clock, server_host& server, server::transport via, latency lat)
    : clock_(clock),
      server_(server),
      via_(via),
      lat_(lat),
      self_(std::make_shared<client_host*>(this)) {}

client_host::~client_host() {
  *self_ = nullptr;
  close_link();
}

rc::code client_host::init(std::shared_ptr<const client::options> opts, std::uint64_t seed) {
  return machine_.init(std::move(opts), seed);
}

void client_host::connect(std::string_view token, int time_limit_s) {
  client::actions out;
  machine_.connect(token, time_limit_s, clock_.now(), out);
  handle(out);
}

rc::code client_host::disconnect() {
  client::actions out;
  const auto rc = machine_.disconnect(clock_.now(), out);
  handle(out);
  return rc;
}

rc::code client_host::logout() {
  client::actions out;
  const auto rc = machine_.logout(clock_.now(), out);
  handle(out);
  return rc;
}

void client_host::network(bool available) {
  client::actions out;
  machine_.network_changed(available, clock_.now(), out);
  handle(out);
}

void client_host::foreground() {
  client::actions out;
  machine_.foreground(clock_.now(), out);
  handle(out);
}

rc::code client_host::set_reconnect_kick(bool on) { return machine_.set_reconnect_kick(on); }

void client_host::handle(client::actions& todo) {
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const client::action a = todo[i];  // a copy: handlers append to `todo`
    if (observer_) observer_(a, clock_.now());
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, client::open_transport>) {
            close_link();
            rx_ = mqtt::decoder();
            link_ = server_.connect(*this, via_, lat_);
          } else if constexpr (std::is_same_v<T, client::send>) {
            std::string bytes;
            if (link_ && mqtt::encode(x.packet, bytes)) server_.send(*link_, std::move(bytes));
          } else if constexpr (std::is_same_v<T, client::close_transport>) {
            close_link();
          } else if constexpr (std::is_same_v<T, client::start_timer>) {
            // One event per start; the machine ignores a firing that is stale
            // (cancelled or replaced), as the driver contract allows.
            clock_.at(x.at_ms, [self = self_, id = x.id] {
              client_host* c = *self;
              if (c == nullptr) return;
              client::actions out;
              c->machine_.timer_fired(id, c->clock_.now(), out);
              c->handle(out);
            });
          } else if constexpr (std::is_same_v<T, client::open_database>) {
            machine_.database_opened(database_ok_ ? rc::code::ok : rc::code::database_error,
                                     clock_.now(), todo);
          }
          // cancel_timer: nothing to do (see start_timer); callbacks: the observer.
        },
        a);
  }
}

void client_host::close_link() {
  if (link_) server_.close(*link_);
  link_.reset();
}

void client_host::on_connected(std::uint64_t link) {
  if (!current(link)) return;
  client::actions out;
  machine_.transport_up(clock_.now(), out);
  handle(out);
}

void client_host::on_refused(std::uint64_t link) {
  if (!current(link)) return;
  link_.reset();
  client::actions out;
  machine_.transport_failed(rc::code::connection_refused, clock_.now(), out);
  handle(out);
}

void client_host::on_bytes(std::uint64_t link, std::string_view bytes) {
  if (!current(link)) return;
  rx_.feed(bytes);
  std::error_code ec;
  while (current(link)) {
    auto p = rx_.next(ec);
    client::actions out;
    if (ec) {  // as the SDK does: a packet it cannot read ends the connection
      close_link();
      machine_.transport_failed(rc::code::socket_disconnected, clock_.now(), out);
      handle(out);
      return;
    }
    if (!p) return;
    machine_.packet_received(*p, clock_.now(), out);
    handle(out);
  }
}

void client_host::on_closed(std::uint64_t link) {
  if (!current(link)) return;
  link_.reset();
  client::actions out;
  machine_.transport_closed(clock_.now(), out);
  handle(out);
}

}  // namespace imock::sim
