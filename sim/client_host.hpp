// The reference SDK in the simulation: one client::connection machine (the very
// state machine the Asio SDK runs) in a client::virtual_host, its timers events of
// the discrete-event clock, its transport a link of the simulated network. What the app would see
// (callbacks, status changes) and every connection attempt go to an observer, synchronously, at
// virtual time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/client/connection.hpp"
#include "imock/client/virtual_host.hpp"
#include "imock/protocol/mqtt.hpp"
#include "imock/sim/scheduler.hpp"
#include "imock/sim/server_host.hpp"

namespace imock::sim {

class client_host final : public client_end, private client::link_network {
 public:

  /// Every action the machine emits, with the virtual time; the observer sees
  /// open_transport (an attempt), the callbacks and the status changes among them.
  using observer = client::virtual_host::observer;

  client_host(scheduler& clock, server_host& server, server::transport via, latency lat);
  ~client_host() override;
  client_host(const client_host&) = delete;
  client_host& operator=(const client_host&) = delete;

  void set_observer(observer o) { host_.set_observer(std::move(o)); }
  /// Whether the local database opens (false: the driver reports 33002).
  void set_database_ok(bool ok) noexcept { host_.set_database_ok(ok); }

  // --- the SDK's calls, at the current virtual time ---
  rc::code init(std::shared_ptr<const client::options> opts, std::uint64_t seed);
  void connect(std::string_view token, int time_limit_s);
  rc::code disconnect();  // 33001 before init
  rc::code logout();
  void network(bool available);
  void foreground();
  rc::code set_reconnect_kick(bool on) { return host_.set_reconnect_kick(on); }

  // --- messages (client/virtual_host.hpp) ---
  void set_message_observer(client::virtual_host::message_observer o) {
    host_.set_message_observer(std::move(o));
  }
  void set_message_store(client::message_store* store) noexcept { host_.set_message_store(store); }
  std::int64_t send_message(const std::string& to, const std::string& object_name,
                            const std::string& content);
  bool resend_message(std::int64_t id);
  std::vector<client::message> history(const std::string& peer) { return host_.history(peer); }

  [[nodiscard]] const client::connection& machine() const noexcept { return host_.machine(); }

  // --- client_end ---
  void on_connected(std::uint64_t link) override;
  void on_refused(std::uint64_t link) override;
  void on_bytes(std::uint64_t link, std::string_view bytes) override;
  void on_closed(std::uint64_t link) override;
  void on_reset(std::uint64_t link) override;

 private:
  // --- client::link_network: the host's links are links of the simulated network ---
  /// `server` empty: the simulated server over the client's transport; a URL: see
  /// sim/addresses.hpp (another host than the server's is refused).
  std::uint64_t open(const std::string& server) override;
  /// To the server's host: its /navi.json handler (server/endpoints), `up` ms there and
  /// `down` ms back; any other host: no answer (30005) after as long.
  std::uint64_t navigate(const client::navigation_request& r) override;
  void send(std::uint64_t link, std::string bytes) override {
    if (!nowhere(link)) server_.send(link, std::move(bytes));
  }
  void close(std::uint64_t link) override {
    if (!nowhere(link)) server_.close(link);
  }
  // Links to hosts that do not exist get ids of their own, apart from the server's.
  static constexpr std::uint64_t k_nowhere_bit = 1ULL << 63;
  static bool nowhere(std::uint64_t link) noexcept { return (link & k_nowhere_bit) != 0; }

  /// Keeps one scheduler event at the host's next timer.
  void wake_at_next_timer();

  scheduler& clock_;
  server_host& server_;
  server::transport via_;
  latency lat_;
  client::virtual_host host_{*this};
  std::optional<std::int64_t> wake_at_;
  std::uint64_t next_nowhere_ = 0;
  std::uint64_t next_request_ = 0;
  std::uint64_t wake_generation_ = 0;  // an event of an older generation is stale
  // Events in the scheduler hold this; it is reset on destruction so a late event
  // finds no client (the scheduler never runs after the world is gone, but a client
  // may be dropped earlier).
  std::shared_ptr<client_host*> self_;
};

}  // namespace imock::sim
