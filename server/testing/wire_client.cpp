#include "imock/server/testing/wire_client.hpp"

#include <boost/asio/io_context.hpp>
#include <charconv>

#include "imock/net/address.hpp"
#include "imock/net/client_stream.hpp"
#include "imock/net/tls.hpp"

namespace imock::server::testing {
namespace {

namespace asio = boost::asio;

// A net::client_stream on a private io_context, run for a bounded time by each call.
class client_impl final : public wire_client {
 public:
  // What the stream says, kept for the blocking calls to look at.
  struct events final : net::stream_events {
    bool up = false;
    bool down = false;
    std::string why;  // "connect: Connection refused"
    std::string inbox;
    void on_stream_up() override { up = true; }
    void on_stream_bytes(std::string_view bytes) override { inbox.append(bytes); }
    void on_stream_down(net::stream_stage at, const boost::system::error_code& ec) override {
      down = true;
      why = std::string(net::to_string(at)) + ": " + ec.message();
    }
  };

  // Connects and handshakes, within `timeout`; "" or what went wrong.
  std::string open(net::stream_target target, std::chrono::milliseconds timeout) {
    stream_ = net::make_client_stream(io_.get_executor(), std::move(target), events_);
    stream_->start();
    run_until([&] { return events_->up || events_->down; }, timeout);
    if (events_->up) return "";
    return events_->down ? events_->why : "no connection within the time-out";
  }

  ~client_impl() override {
    if (stream_) stream_->close();
  }

  bool send_bytes(std::string_view bytes) override {
    if (closed_ || events_->down) return false;
    stream_->send(bytes);
    // Written before this returns, as a blocking write would be: a test that sends
    // and then closes has sent.
    run_until([&] { return stream_->queued() == 0 || events_->down; }, std::chrono::seconds(5));
    return stream_->queued() == 0 && !events_->down;
  }

 protected:
  std::string read_some(std::chrono::milliseconds timeout) override {
    run_until([&] { return !events_->inbox.empty() || events_->down; }, timeout);
    if (events_->inbox.empty() && events_->down) closed_ = true;
    std::string out;
    out.swap(events_->inbox);
    return out;
  }

 private:
  template <typename Done>
  void run_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_one_for(deadline - std::chrono::steady_clock::now());
    }
  }

  asio::io_context io_;
  std::shared_ptr<events> events_ = std::make_shared<events>();
  std::shared_ptr<net::client_stream> stream_;
};

}  // namespace

std::unique_ptr<wire_client> wire_client::open(transport via, const bound_addresses& bound,
                                               std::string* error,
                                               std::string_view ws_subprotocol) {
  auto fail = [&](std::string why) -> std::unique_ptr<wire_client> {
    if (error != nullptr) *error = std::move(why);
    return nullptr;
  };
  std::optional<std::string> where;
  switch (via) {
    case transport::tcp: where = bound.mqtt; break;
    case transport::tls: where = bound.mqtts; break;
    case transport::ws: where = bound.http; break;
    case transport::wss: where = bound.https; break;
  }
  if (!where) return fail("no " + std::string(to_string(via)) + " listener");
  std::string bad;
  const auto hp = net::parse_host_port(*where, &bad);
  if (!hp) return fail(*where + ": " + bad);
  static const auto tls = net::make_client_context(false);
  net::stream_target target{.via = via,
                            .host = hp->host,
                            .port = hp->port,
                            .path = "/mqtt",
                            .ws_subprotocol = std::string(ws_subprotocol),
                            .user_agent = "imock-wire-client",
                            .tls = tls};
  auto c = std::make_unique<client_impl>();
  if (auto why = c->open(std::move(target), std::chrono::seconds(5)); !why.empty()) {
    return fail(std::move(why));
  }
  return c;
}

std::optional<mqtt::packet> wire_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::error_code ec;
  while (true) {
    if (auto p = decoder_.next(ec)) return p;
    if (ec || closed_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    decoder_.feed(read_some(left));
  }
}

bool wire_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    (void)read_some(left);
  }
  return true;
}

mqtt::connect connect_packet(std::string_view app_key, std::string_view token,
                             std::string_view device, bool reconnect, bool reconnect_kick,
                             std::string_view platform, std::uint16_t keep_alive) {
  mqtt::connect c;
  c.client_id = std::string(device);
  c.keep_alive = keep_alive;
  c.username = std::string(app_key);
  c.password = std::string(token);
  c.props.user_properties = {{"imock-reconnect", reconnect ? "1" : "0"},
                             {"imock-reconnect-kick", reconnect_kick ? "1" : "0"},
                             {"imock-platform", std::string(platform)}};
  return c;
}

std::string verdict::to_string() const {
  return packet + " reason=" + std::to_string(reason) + " rc-code=" + std::to_string(rc);
}

verdict verdict_of(const std::optional<mqtt::packet>& p) {
  verdict v;
  if (!p) {
    v.packet = "none";
    return v;
  }
  v.packet = std::string(mqtt::type_name(mqtt::type_of(*p)));
  const mqtt::properties* props = nullptr;
  if (const auto* a = std::get_if<mqtt::connack>(&*p)) {
    v.reason = a->reason;
    props = &a->props;
  } else if (const auto* d = std::get_if<mqtt::disconnect>(&*p)) {
    v.reason = d->reason;
    props = &d->props;
  }
  if (props != nullptr) {
    if (const auto* rc = props->find_user_property("rc-code")) v.rc = std::stoi(*rc);
  }
  return v;
}

http_result server_api_call(const std::string& host_port, std::string_view app_key,
                            std::string_view app_secret, std::string_view path,
                            std::string_view form_body) {
  static std::uint64_t counter = 0;
  const std::string nonce = "n" + std::to_string(++counter);
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  return http_request(host_port, "POST", path, form_body, "application/x-www-form-urlencoded",
                      signed_headers(app_key, app_secret, nonce, ts));
}

std::uint64_t metric_sum(std::string_view prometheus_text, std::string_view family) {
  std::uint64_t total = 0;
  while (!prometheus_text.empty()) {
    const auto eol = prometheus_text.find('\n');
    const auto line = prometheus_text.substr(0, eol);
    prometheus_text.remove_prefix(eol == std::string_view::npos ? prometheus_text.size() : eol + 1);
    if (!line.starts_with(family) || line.size() <= family.size()) continue;
    if (line[family.size()] != ' ' && line[family.size()] != '{') continue;
    const auto value = line.substr(line.rfind(' ') + 1);
    std::uint64_t n = 0;
    std::from_chars(value.data(), value.data() + value.size(), n);
    total += n;
  }
  return total;
}

}  // namespace imock::server::testing
