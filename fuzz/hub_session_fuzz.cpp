// libFuzzer target for the server's session logic (server/hub.hpp): what any number of
// clients may send, as the I/O layer hands it to the hub. Sans-IO, so fast: each input
// is a script of operations on one hub, played at a server time the input advances.
//
// Input layout: one operation per step, byte op % 9, then its operands:
//   0 open       transport
//   1 login      session, user (of 3), device (of 3), flags (takes messages, reconnect,
//                reconnect-kick), keep alive: a CONNECT with a valid token, so the
//                input reaches the logged-in paths without forging HMACs
//   2 bytes      session, a short string fed to that session's MQTT decoder (chunks
//                as a socket would give them); a decode error goes to on_decode_error.
//                The packets of the other operations go through the same decoder.
//   3 send       session, recipient (of 3), packet id, object name, content: a client's
//                message PUBLISH on imock/send with the envelope's user properties
//   4 puback     session, packet id
//   5 tick       time step (u16 x 16 ms)
//   6 close      session (the peer went away)
//   7 publish    recipient, content, status flag: a message from the server API
//   8 slow       session (its outbound queue overflowed)
// Byte 0 before the script picks the app's login policy and multi-device sync.
//
// Checks, for any input:
//   - no crash, no UB, no leak;
//   - every packet the hub asks to send encodes, and decodes back to itself: the
//     server never writes a malformed packet, whatever it was sent;
//   - an action only names a session that is open (delayed ones: open when due);
//   - connected <= sessions, and the hub's session count is the number of sessions
//     opened and not yet closed;
//   - once every session is closed the hub has none, connected or not.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "imock/fuzz/fuzz_input.hpp"
#include "imock/protocol/messages.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/hub.hpp"

namespace {

using imock::fuzz::check;
namespace server = imock::server;
namespace mqtt = imock::mqtt;
namespace msg = imock::messages;

constexpr std::string_view k_app = "app";
constexpr std::string_view k_secret = "secret";
constexpr std::int64_t k_t0 = 1'700'000'000'000;
constexpr std::string_view k_users[] = {"alice", "bob", "carol"};
constexpr std::string_view k_devices[] = {"phone", "pad", "web"};

server::server_config config_for(std::uint8_t choice) {
  server::server_config c;
  c.apps = {{.key = std::string(k_app), .secret = std::string(k_secret)}};
  if (choice & 1) c.apps[0].policy = server::login_policy::multi_device;
  c.messages.multi_device_sync = (choice & 2) != 0;
  c.messages.package_size = (choice & 4) ? 2 : 200;  // small packages: more sync paths
  return c;
}

class player {
 public:
  explicit player(std::uint8_t choice) : hub_(config_for(choice), 1, k_t0) {}

  void run(imock::fuzz::input& in) {
    for (int step = 0; step < 256 && !in.empty(); ++step) {
      switch (in.pick(9)) {
        case 0: open(in.pick(imock::k_transport_count)); break;
        case 1: login(in); break;
        case 2: bytes(in); break;
        case 3: send_message(in); break;
        case 4: puback(in); break;
        case 5: advance(std::int64_t{in.u16()} * 16); break;
        case 6: if (const auto id = pick_session(in)) peer_closed(*id); break;
        case 7: publish(in); break;
        case 8: if (const auto id = pick_session(in)) slow_reader(*id); break;
      }
      check_counts();
    }
    // The peers all leave: the hub forgets everyone.
    while (!decoders_.empty()) peer_closed(decoders_.begin()->first);
    check(hub_.session_count() == 0 && hub_.connected_count() == 0);
  }

 private:
  std::optional<server::session_id> pick_session(imock::fuzz::input& in) {
    if (decoders_.empty()) return std::nullopt;
    auto it = decoders_.begin();
    std::advance(it, in.pick(decoders_.size()));
    return it->first;
  }

  void open(std::size_t via) {
    if (decoders_.size() >= 16) return;
    const auto id = hub_.open(static_cast<server::transport>(via), "192.0.2.1:40000", now_);
    check(!decoders_.contains(id));
    decoders_.emplace(id, mqtt::decoder(hub_.config().limits.max_packet_size));
  }

  void login(imock::fuzz::input& in) {
    const auto id = pick_session(in);
    const auto user = k_users[in.pick(3)];
    const auto device = k_devices[in.pick(3)];
    const auto flags = in.byte();
    const auto keep_alive = in.byte();
    if (!id) return;
    mqtt::connect c;
    c.client_id = std::string(device);
    c.keep_alive = keep_alive;
    c.username = std::string(k_app);
    c.password = imock::token::issue(k_app, user, k_secret, now_ - 1).value_or("");
    auto& props = c.props.user_properties;
    if (flags & 1) props.emplace_back(msg::k_capability, "1");
    if (flags & 2) props.emplace_back("imock-reconnect", "1");
    props.emplace_back("imock-reconnect-kick", (flags & 4) ? "1" : "0");
    props.emplace_back("imock-platform", (flags & 8) ? "web" : "ios");
    deliver(*id, c);
  }

  void bytes(imock::fuzz::input& in) {
    const auto id = pick_session(in);
    const auto piece = in.short_string();
    if (id) feed(*id, piece);
  }

  // Bytes from the peer, through the session's decoder as the I/O layer reads them.
  void feed(server::session_id id, std::string_view piece) {
    auto& dec = decoders_.at(id);
    dec.feed(piece);
    std::error_code ec;
    while (auto p = dec.next(ec)) {
      apply(hub_.on_packet(id, std::move(*p), now_));
      if (!decoders_.contains(id)) return;  // that packet closed it
    }
    if (ec) {
      apply(hub_.on_decode_error(id, ec, dec.error_detail(), now_));
      if (decoders_.contains(id)) peer_closed(id);
    }
  }

  void send_message(imock::fuzz::input& in) {
    const auto id = pick_session(in);
    const auto to = k_users[in.pick(3)];
    const auto packet_id = in.u16();
    const auto object_name = in.short_string();
    const auto content = in.short_string();
    if (!id) return;
    mqtt::publish p;
    p.topic = std::string(msg::k_send_topic);
    p.qos = 1;
    p.packet_id = packet_id;
    p.payload = std::string(content);
    auto& props = p.props.user_properties;
    props.emplace_back(msg::k_to, to);
    props.emplace_back(msg::k_object_name, object_name);
    props.emplace_back(msg::k_client_msg_id, std::to_string(packet_id));
    deliver(*id, p);
  }

  void puback(imock::fuzz::input& in) {
    const auto id = pick_session(in);
    const auto packet_id = in.u16();
    if (id) deliver(*id, mqtt::puback{.packet_id = packet_id});
  }

  void publish(imock::fuzz::input& in) {
    server::publish_request r;
    r.app = std::string(k_app);
    r.from = "system";
    r.to = {std::string(k_users[in.pick(3)])};
    r.object_name = "RC:TxtMsg";
    r.content = std::string(in.short_string());
    r.status = (in.byte() & 1) != 0;
    std::vector<server::recipient_uid> uids;
    apply(hub_.publish(r, now_, uids));
    check(uids.size() == r.to.size() || r.status);
  }

  void slow_reader(server::session_id id) {
    hub_.on_slow_reader(id, now_);
    if (decoders_.contains(id)) peer_closed(id);
  }

  // A packet the target built goes over the wire too: encoded, then decoded by the
  // session's decoder, so the hub only ever sees what a real client could send (a
  // built packet with, say, a property that is not UTF-8 never reaches it).
  void deliver(server::session_id id, const mqtt::packet& p) {
    std::string wire;
    if (mqtt::encode(p, wire)) feed(id, wire);
  }

  void advance(std::int64_t ms) {
    now_ += ms;
    // Delayed actions fall due in order, as the I/O layer's timers would fire them.
    std::stable_sort(delayed_.begin(), delayed_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<server::action> due;
    while (!delayed_.empty() && delayed_.front().first <= now_) {
      due.push_back(std::move(delayed_.front().second));
      delayed_.erase(delayed_.begin());
    }
    for (auto& a : due) {
      if (decoders_.contains(a.session)) carry_out(a);
    }
    apply(hub_.tick(now_));
  }

  void apply(server::actions&& todo) {
    for (auto& a : todo) {
      if (a.delay_ms > 0) {
        delayed_.emplace_back(now_ + a.delay_ms, std::move(a));
        delayed_.back().second.delay_ms = 0;
        continue;
      }
      check(decoders_.contains(a.session));
      carry_out(a);
    }
  }

  // What the I/O layer does with one action: encode the packet, then close.
  void carry_out(const server::action& a) {
    if (a.send) {
      std::string wire;
      check(mqtt::encode(*a.send, wire));
      std::error_code ec;
      const auto back = mqtt::decode_one(wire, ec);
      check(back.has_value() && *back == *a.send);
    }
    if (a.close || a.reset) peer_closed(a.session);
  }

  void peer_closed(server::session_id id) {
    if (decoders_.erase(id) == 0) return;
    hub_.on_closed(id, "peer closed", now_);
  }

  void check_counts() {
    check(hub_.connected_count() <= hub_.session_count());
    check(hub_.session_count() == decoders_.size());
  }

  server::hub hub_;
  std::int64_t now_ = k_t0;
  std::map<server::session_id, mqtt::decoder> decoders_;  // the open sessions
  std::vector<std::pair<std::int64_t, server::action>> delayed_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  imock::fuzz::input in(data, size);
  const auto choice = in.byte();
  player(choice).run(in);
  return 0;
}
