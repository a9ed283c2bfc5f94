// The reference SDK in the simulation: one client::connection machine (the very
// state machine the Asio SDK runs) driven on the virtual clock, its transport a link
// of the simulated network. What the app would see (callbacks, status changes) and
// every connection attempt go to an observer, synchronously, at virtual time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/connection.hpp"
#include "protocol/mqtt.hpp"
#include "sim/scheduler.hpp"
#include "sim/server_host.hpp"

namespace imock::sim {

class client_host final : public client_end {
 public:
  /// Every action the machine emits, with the virtual time; the observer sees
  /// open_transport (an attempt), the callbacks and the status changes among them.
  using observer = std::function<void(const client::action& a, std::int64_t now_ms)>;

  client_host(scheduler& clock, server_host& server, server::transport via, latency lat);
  ~client_host() override;
  client_host(const client_host&) = delete;
  client_host& operator=(const client_host&) = delete;

  void set_observer(observer o) { observer_ = std::move(o); }
  /// Whether the local database opens (false: the driver reports 33002).
  void set_database_ok(bool ok) noexcept { database_ok_ = ok; }

  // --- the SDK's calls, at the current virtual time ---
  rc::code init(std::shared_ptr<const client::options> opts, std::uint64_t seed);
  void connect(std::string_view token, int time_limit_s);
  rc::code disconnect();  // 33001 before init
  rc::code logout();
  void network(bool available);
  void foreground();
  rc::code set_reconnect_kick(bool on);

  [[nodiscard]] const client::connection& machine() const noexcept { return machine_; }

  // --- client_end ---
  void on_connected(std::uint64_t link) override;
  void on_refused(std::uint64_t link) override;
  void on_bytes(std::uint64_t link, std::string_view bytes) override;
  void on_closed(std::uint64_t link) override;

 private:
  /// Carries out actions in order; events they cause append to `todo`.
  void handle(client::actions& todo);
  void close_link();
  [[nodiscard]] bool current(std::uint64_t link) const noexcept { return link_ && *link_ == link; }

  scheduler& clock_;
  server_host& server_;
  server::transport via_;
  latency lat_;
  client::connection machine_;
  observer observer_;
  std::optional<std::uint64_t> link_;
  mqtt::decoder rx_;
  // Timer events in the scheduler hold this; it is reset on destruction so a
  // late event finds no client (the scheduler never runs after the world is gone,
  // but a client may be dropped earlier).
  std::shared_ptr<client_host*> self_;
  bool database_ok_ = true;
};

}  // namespace imock::sim
