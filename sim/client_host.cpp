#include "imock/sim/client_host.hpp"

#include <utility>

#include "imock/sim/addresses.hpp"

namespace imock::sim {

client_host::client_host(scheduler& clock, server_host& server, server::transport via, latency lat)
    : clock_(clock),
      server_(server),
      via_(via),
      lat_(lat),
      self_(std::make_shared<client_host*>(this)) {}

client_host::~client_host() { *self_ = nullptr; }

rc::code client_host::init(std::shared_ptr<const client::options> opts, std::uint64_t seed) {
  return host_.init(std::move(opts), seed);
}

void client_host::connect(std::string_view token, int time_limit_s) {
  host_.connect(token, time_limit_s, clock_.now());
  wake_at_next_timer();
}

rc::code client_host::disconnect() {
  const auto rc = host_.disconnect(clock_.now());
  wake_at_next_timer();
  return rc;
}

rc::code client_host::logout() {
  const auto rc = host_.logout(clock_.now());
  wake_at_next_timer();
  return rc;
}

void client_host::network(bool available) {
  host_.network_changed(available, clock_.now());
  wake_at_next_timer();
}

void client_host::foreground() {
  host_.foreground(clock_.now());
  wake_at_next_timer();
}

std::int64_t client_host::send_message(const std::string& to, const std::string& object_name,
                                      const std::string& content) {
  const auto id = host_.send_message(to, object_name, content, clock_.now());
  wake_at_next_timer();
  return id;
}

bool client_host::resend_message(std::int64_t id) {
  const bool ok = host_.resend_message(id, clock_.now());
  wake_at_next_timer();
  return ok;
}

void client_host::on_connected(std::uint64_t link) {
  host_.link_up(link, clock_.now());
  wake_at_next_timer();
}

void client_host::on_refused(std::uint64_t link) {
  host_.link_refused(link, clock_.now());
  wake_at_next_timer();
}

void client_host::on_bytes(std::uint64_t link, std::string_view bytes) {
  host_.link_bytes(link, bytes, clock_.now());
  wake_at_next_timer();
}

void client_host::on_closed(std::uint64_t link) {
  host_.link_closed(link, clock_.now());
  wake_at_next_timer();
}

void client_host::on_reset(std::uint64_t link) {
  host_.link_reset(link, clock_.now());
  wake_at_next_timer();
}

std::uint64_t client_host::open(const std::string& server) {
  if (const auto via = server_transport(server, via_)) return server_.connect(*this, *via, lat_);
  const std::uint64_t link = k_nowhere_bit | ++next_nowhere_;
  // A host that does not exist, or that nothing listens on: refused a round trip later.
  clock_.after(lat_.up_ms + lat_.down_ms, [self = self_, link] {
    if (client_host* c = *self; c != nullptr) c->on_refused(link);
  });
  return link;
}

std::uint64_t client_host::navigate(const client::navigation_request& r) {
  const std::uint64_t id = ++next_request_;
  server_.navigate(r.url, r.app_key, r.body, lat_,
                   [self = self_, id](std::optional<server::api_response> answer) {
                     client_host* c = *self;
                     if (c == nullptr) return;
                     if (answer) {
                       c->host_.navigation_answer(id, answer->http_status, answer->body,
                                                  c->clock_.now());
                     } else {
                       c->host_.navigation_unanswered(id, c->clock_.now());
                     }
                     c->wake_at_next_timer();
                   });
  return id;
}

void client_host::wake_at_next_timer() {
  const auto next = host_.next_timer();
  if (next == wake_at_) return;  // the pending event (or none) is still right
  wake_at_ = next;
  const auto generation = ++wake_generation_;
  if (!next) return;
  clock_.at(*next, [self = self_, generation] {
    client_host* c = *self;
    if (c == nullptr || generation != c->wake_generation_) return;
    c->wake_at_.reset();
    c->host_.advance(c->clock_.now());
    c->wake_at_next_timer();
  });
}

}  // namespace imock::sim
