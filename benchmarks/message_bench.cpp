// imock-message-bench: one-to-one QoS 1 messages per second through a broker, from
// senders to receivers over TCP, counted when the receiver has them. The same program
// measures imock-server (PUBLISH imock/send with `to`, delivered on imock/msg,
// docs/protocol.md §9) and a plain MQTT broker such as mosquitto (PUBLISH QoS 1 to
// bench/RECEIVER, which the receiver subscribed to with QoS 1), so the two figures
// come from one client and one clock. benchmarks/messages_vs_mosquitto.sh runs both.
//
//   imock-message-bench --broker imock --mqtt 127.0.0.1:1883 --messages 20000
//   imock-message-bench --broker mqtt  --mqtt 127.0.0.1:1884 --messages 20000
//
// Each pair is a sender thread (at most --window messages sent and not yet received) and
// a receiver thread (a PUBACK for each message). Prints one JSON line.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "imock/protocol/messages.hpp"
#include "imock/protocol/token.hpp"
#include "imock/server/testing/wire_client.hpp"

namespace {

using namespace imock;
using clock_type = std::chrono::steady_clock;
namespace msg = imock::messages;

struct settings {
  std::string broker = "imock";  // imock | mqtt
  std::string mqtt = "127.0.0.1:1883";
  std::string app_key = "imock-demo-key";
  std::string app_secret = "imock-demo-secret";
  std::size_t messages = 20'000;  // per pair
  std::size_t pairs = 1;
  std::size_t window = 32;
  std::size_t payload = 64;
  double timeout_s = 120;
};

// A connected client: imock gets a token and (receivers) the messages capability.
std::unique_ptr<server::testing::wire_client> login(const settings& s, const std::string& user,
                                                    bool receiver, std::string& error) {
  auto c = server::testing::wire_client::open(transport::tcp, server::bound_addresses{.mqtt = s.mqtt},
                                              &error);
  if (!c) return nullptr;
  mqtt::connect connect;
  connect.client_id = user;
  connect.keep_alive = 60;
  if (s.broker == "imock") {
    connect.username = s.app_key;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    connect.password = token::issue(s.app_key, user, s.app_secret, now).value_or("");
    if (receiver) connect.props.user_properties.emplace_back(std::string(msg::k_capability), "1");
  }
  c->send(connect);
  const auto ack = c->receive(std::chrono::seconds(10));
  const auto* connack = ack ? std::get_if<mqtt::connack>(&*ack) : nullptr;
  if (connack == nullptr || connack->reason != 0) {
    error = user + ": no successful CONNACK (" + server::testing::verdict_of(ack).to_string() + ")";
    return nullptr;
  }
  if (receiver && s.broker != "imock") {
    mqtt::subscribe sub{.packet_id = 1};
    sub.subscriptions.push_back({.topic_filter = "bench/" + user, .options = 1});  // QoS 1
    c->send(sub);
    const auto suback = c->receive(std::chrono::seconds(10));
    if (!suback || !std::holds_alternative<mqtt::suback>(*suback)) {
      error = user + ": no SUBACK";
      return nullptr;
    }
  }
  return c;
}

// One sender and its receiver. The window bounds messages sent and not yet received
// (end to end), not only those without a PUBACK: a broker acknowledges on receipt, and
// a sender that only waited for PUBACKs would outrun the receiver into the broker's
// queue limits (mosquitto drops beyond max_queued_messages).
struct pair_state {
  std::atomic<std::size_t> received{0};
  std::size_t acked = 0;  // the sender's
  std::mutex mu;
  std::condition_variable progress;  // the receiver got one
  std::atomic<bool> receiver_done{false};
  std::string sender_error, receiver_error;
};

void run_sender(const settings& s, server::testing::wire_client& c, const std::string& to,
                pair_state& r) {
  const std::string payload(s.payload, 'x');
  std::size_t sent = 0;
  std::uint16_t next_id = 0;
  while (r.acked < s.messages && r.sender_error.empty()) {
    while (sent < s.messages && sent - r.acked < s.window && sent - r.received < s.window) {
      next_id = static_cast<std::uint16_t>(next_id == 0xFFFF ? 1 : next_id + 1);
      mqtt::publish p{.qos = 1, .packet_id = next_id};
      p.payload = payload;
      if (s.broker == "imock") {
        p.topic = std::string(msg::k_send_topic);
        p.props.user_properties.emplace_back(std::string(msg::k_to), to);
        p.props.user_properties.emplace_back(std::string(msg::k_object_name), "RC:TxtMsg");
        p.props.user_properties.emplace_back(std::string(msg::k_client_msg_id),
                                             std::to_string(sent + 1));
      } else {
        p.topic = "bench/" + to;
      }
      if (!c.send(p)) {
        r.sender_error = "sender: write failed";
        return;
      }
      ++sent;
    }
    if (r.acked == sent) {  // every PUBACK in: the receiver is the one behind
      std::unique_lock lock(r.mu);
      if (!r.progress.wait_for(lock, std::chrono::seconds(10), [&] {
            return sent - r.received < s.window || r.receiver_done.load();
          })) {
        r.sender_error = "sender: the receiver got nothing for 10 s";
      }
      if (r.receiver_done.load() && sent - r.received >= s.window) return;
      continue;
    }
    const auto in = c.receive(std::chrono::seconds(10));
    if (!in) {
      r.sender_error = "sender: no PUBACK within 10 s (" + std::to_string(r.acked) + " acknowledged)";
      return;
    }
    if (const auto* ack = std::get_if<mqtt::puback>(&*in)) {
      if (ack->reason != 0) {
        r.sender_error = "sender: PUBACK refused with reason " + std::to_string(ack->reason) +
                         " (imock-server: is messages.client_send_rate_per_s 0?)";
        return;
      }
      ++r.acked;
    }
  }
}

void run_receiver(const settings& s, server::testing::wire_client& c, pair_state& r) {
  while (r.received < s.messages) {
    const auto in = c.receive(std::chrono::seconds(10));
    if (!in) {
      r.receiver_error = "receiver: nothing within 10 s (" + std::to_string(r.received) + " received)";
      break;
    }
    if (const auto* p = std::get_if<mqtt::publish>(&*in)) {
      if (p->qos == 1) c.send(mqtt::puback{.packet_id = p->packet_id});
      if (s.broker != "imock" || p->topic == msg::k_message_topic) {
        {
          std::lock_guard lock(r.mu);
          r.received.fetch_add(1);
        }
        r.progress.notify_one();
      }
    }
  }
  {
    std::lock_guard lock(r.mu);
    r.receiver_done = true;
  }
  r.progress.notify_one();
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"imock-message-bench: one-to-one QoS 1 messages per second through a broker"};
  app.add_option("--broker", s.broker, "imock (imock-server's messages) or mqtt (any MQTT 5 broker)")
      ->check(CLI::IsMember({"imock", "mqtt"}));
  app.add_option("--mqtt", s.mqtt, "HOST:PORT of the broker's TCP listener");
  app.add_option("--app-key", s.app_key, "imock: the app key");
  app.add_option("--app-secret", s.app_secret, "imock: its secret, to mint tokens");
  app.add_option("--messages", s.messages, "messages per pair")->check(CLI::Range(1, 10'000'000));
  app.add_option("--pairs", s.pairs, "sender/receiver pairs, each two threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--window", s.window, "PUBLISHes a sender keeps without their PUBACK")
      ->check(CLI::Range(1, 60'000));
  app.add_option("--payload", s.payload, "bytes per message")->check(CLI::Range(1, 100'000));
  CLI11_PARSE(app, argc, argv);

  std::vector<std::unique_ptr<server::testing::wire_client>> senders, receivers;
  for (std::size_t i = 0; i < s.pairs; ++i) {
    std::string error;
    auto rx = login(s, "bench-rx-" + std::to_string(i), true, error);
    auto tx = rx ? login(s, "bench-tx-" + std::to_string(i), false, error) : nullptr;
    if (!rx || !tx) {
      std::fprintf(stderr, "imock-message-bench: %s\n", error.c_str());
      return 1;
    }
    receivers.push_back(std::move(rx));
    senders.push_back(std::move(tx));
  }
  std::vector<pair_state> pairs(s.pairs);
  std::vector<std::thread> threads;
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < s.pairs; ++i) {
    threads.emplace_back(run_receiver, std::cref(s), std::ref(*receivers[i]), std::ref(pairs[i]));
    threads.emplace_back(run_sender, std::cref(s), std::ref(*senders[i]),
                         "bench-rx-" + std::to_string(i), std::ref(pairs[i]));
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::size_t received = 0;
  std::string error;
  for (const auto& p : pairs) {
    received += p.received.load();
    // The sender's error is the cause when both have one (a refusal starves the receiver).
    if (error.empty()) error = !p.sender_error.empty() ? p.sender_error : p.receiver_error;
  }
  std::printf(
      "{\"tool\":\"imock-message-bench\",\"broker\":\"%s\",\"pairs\":%zu,\"messages\":%zu,"
      "\"window\":%zu,\"payload\":%zu,\"received\":%zu,\"seconds\":%.3f,\"per_s\":%.0f%s%s%s}\n",
      s.broker.c_str(), s.pairs, s.messages * s.pairs, s.window, s.payload, received, seconds,
      seconds > 0 ? static_cast<double>(received) / seconds : 0.0, error.empty() ? "" : ",\"error\":\"",
      error.c_str(), error.empty() ? "" : "\"");
  return error.empty() && received == s.messages * s.pairs ? 0 : 1;
}
