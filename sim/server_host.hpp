// imock-server in the simulation: the same hub, server API and admin API as the
// real server (server/endpoints), on a simulated network instead of sockets.
//
// The network model, per client link (one TCP connection):
//  - connect: the SYN reaches the server after `up` ms. If the server accepts (not
//    stopped, not restarting), the hub opens a session then and the client learns
//    the connection is up `down` ms later; otherwise the client learns it was
//    refused (32061) `down` ms later.
//  - bytes travel in order, `up` ms to the server, `down` ms back; both sides run
//    them through the real MQTT codec.
//  - a close by either side reaches the other side after the link's delay; a server
//    close (kick, drop, refusal) is reported to the hub as "closed by server" once
//    the client's FIN is back, a client close as "peer closed".
//  - hub actions with delay_ms (delayed CONNACK) are carried out that much later.
//  - the hub's keep-alive and CONNECT deadlines are ticked exactly when they fall due.
//
// By default the server has no capacity limits: every SYN is answered and accepted
// at once. A connect_model (imock-storm --sim) adds the kernel's listen queue, the
// client kernel's SYN retransmission and a server that accepts one connection at a
// time, taking a fixed service time for each:
//  - a SYN that finds the accept queue full (`backlog` connections handshaken and not
//    yet accepted) is dropped; the client's kernel sends it again after each wait of
//    `syn_retry_ms` in turn, and after the last one the connect fails (refused).
//  - otherwise the handshake completes: the client learns the link is up `down` ms
//    later and may send at once; what it sends waits in the socket until the server
//    accepts the connection.
//  - the server accepts queued connections in order, one every `service_us`
//    (accept, the CONNECT, the token check and the CONNACK together); the hub opens
//    the session at the accept, and the bytes waiting are read then.
//  - a close the hub asks for (a drop, a kick) takes `close_us` of that same server
//    time; the closes of one admin call are done, in order, before the next accept.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "imock/protocol/mqtt.hpp"
#include "imock/server/config.hpp"
#include "imock/server/endpoints.hpp"
#include "imock/server/hub.hpp"
#include "imock/sim/scheduler.hpp"

namespace imock::sim {

/// One-way delays of a client's link: client -> server (`up_ms`) and back (`down_ms`).
struct latency {
  std::int64_t up_ms = 0;
  std::int64_t down_ms = 0;
};

/// What the client's end of a link hears, after the link's delay.
class client_end {
 public:
  virtual ~client_end() = default;
  virtual void on_connected(std::uint64_t link) = 0;
  virtual void on_refused(std::uint64_t link) = 0;
  virtual void on_bytes(std::uint64_t link, std::string_view bytes) = 0;
  virtual void on_closed(std::uint64_t link) = 0;
  /// The server reset the link (RST): nothing more arrives on it.
  virtual void on_reset(std::uint64_t link) = 0;
};

/// Capacity of the server's accept path (see above). The defaults: none.
struct connect_model {
  std::size_t backlog = 0;       // 0: no listen-queue limit
  std::int64_t service_us = 0;   // 0: accepted at once, at no cost
  /// Server time per close the hub asks for (kick, drop: the DISCONNECT, the
  /// shutdown, the FIN); 0: at once. Closes come before accepts, in the order asked.
  std::int64_t close_us = 0;
  /// Waits before each SYN retransmission (Linux: tcp_syn_retries 6, RTO from 1 s,
  /// doubling: 1, 2, 4, 8, 16, 32 s).
  std::vector<std::int64_t> syn_retry_ms = {1000, 2000, 4000, 8000, 16000, 32000};
  /// > 0: the hub's deadlines are checked by a sweep this often, as imock-server does
  /// (250 ms), instead of exactly when each falls due. Finding the next deadline
  /// looks at every session, which a storm of a million cannot afford per event.
  std::int64_t sweep_ms = 0;
};

/// What the accept path did (connect_model): for reports and tests.
struct connect_counts {
  std::uint64_t syns = 0;          // SYNs that arrived, retransmissions included
  std::uint64_t syns_dropped = 0;  // found the accept queue full
  std::uint64_t accepted = 0;      // connections the server accepted
  std::uint64_t gave_up = 0;       // connects that failed after the last retransmission
  std::size_t queue_peak = 0;      // most connections waiting to be accepted at once
};

class server_host final : public server::server_control {
 public:
  /// Server time is the scheduler's time. `clock` must outlive this object, and no
  /// event may run after it is gone.
  server_host(scheduler& clock, const server::server_config& config, std::uint64_t fault_seed);
  ~server_host() override;
  server_host(const server_host&) = delete;
  server_host& operator=(const server_host&) = delete;

  // --- the network, seen from a client -------------------------------------------

  /// Opens a link (a TCP connect); its events go to `end`. Returns the link's id.
  std::uint64_t connect(client_end& end, server::transport via, latency lat);
  /// Sends bytes on an open link.
  void send(std::uint64_t link, std::string bytes);
  /// The client closes its end.
  void close(std::uint64_t link);

  // --- the HTTP port ---------------------------------------------------------------

  /// An admin or server API request, at the current time.
  server::api_response request(const server::api_request& r);

  /// A navigation request of a client (POST /navi.json to `url`) over a link with
  /// `lat`: `answer` runs `up` + `down` ms later with the server's answer, or with
  /// nullopt when `url` is not the server's host (sim/addresses.hpp). `answer` must
  /// check that its client still exists.
  using navigation_answer = std::function<void(std::optional<server::api_response>)>;
  void navigate(const std::string& url, const std::string& app_key, const std::string& body,
                latency lat, navigation_answer answer);

  /// Sets the accept path's capacity; call before the first connect.
  void set_connect_model(connect_model m) { model_ = std::move(m); }
  [[nodiscard]] const connect_counts& accept_counts() const noexcept { return counts_; }

  server::hub& hub() noexcept { return hub_; }
  [[nodiscard]] std::int64_t now_ms() const noexcept { return clock_.now(); }
  [[nodiscard]] std::size_t open_links() const noexcept { return links_.size(); }

  // --- server_control (what the admin API asks of the I/O layer) --------------
  void apply(server::actions&& todo) override;
  void set_accept_mode(accept_mode m) override;
  [[nodiscard]] bool accepting() const override { return accept_mode_ == accept_mode::accept; }
  void resume_accepting_after(std::int64_t after_ms) override;
  void request_shutdown() override;

 private:
  struct link_state {
    mqtt::decoder rx;  // the server's decoder
    client_end* end = nullptr;
    latency lat;
    server::transport via = server::transport::tcp;
    server::session_id session = 0;  // 0 until the SYN arrives and is accepted
    bool client_open = true;         // the client has not closed its end
    bool server_open = true;         // the server has not closed its end
    bool queued = false;             // handshaken, waiting in the accept queue
    std::uint8_t syn_sent = 0;       // retransmissions so far (connect_model)
    std::string unread;              // bytes that arrived before the accept
  };

  link_state* find(std::uint64_t link);
  void on_syn(std::uint64_t link);
  void refuse(std::uint64_t link);          // refused (RST to the SYN), `down` ms later
  void open_session(std::uint64_t link);  // the server accepts the link
  void accept_next();                     // connect_model: the next queued link
  void apply_now(server::actions&& todo);  // apply() without the close queue
  void schedule_accept(bool continuing = false);
  void receive(std::uint64_t link, const std::string& bytes);
  void server_close(std::uint64_t link);
  void server_reset(std::uint64_t link);
  void forget_if_done(std::uint64_t link);
  void keep_ticking();

  scheduler& clock_;
  server::hub hub_;
  server::endpoints endpoints_;
  std::unordered_map<std::uint64_t, link_state> links_;
  std::unordered_map<server::session_id, std::uint64_t> link_of_session_;
  std::uint64_t next_link_ = 1;
  std::optional<std::int64_t> tick_at_;
  accept_mode accept_mode_ = accept_mode::accept;
  bool shut_down_ = false;
  connect_model model_;
  connect_counts counts_;
  std::deque<std::uint64_t> accept_queue_;  // handshaken links, oldest first
  std::deque<server::action> close_work_;   // closes the server has yet to do
  std::int64_t busy_until_us_ = 0;          // the server's work is done by then
  bool accept_scheduled_ = false;
};

}  // namespace imock::sim
