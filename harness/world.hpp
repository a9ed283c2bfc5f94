// Where a scenario runs. The steps (steps.cpp) are the same in every mode; a world
// supplies the server, the clients and the clock they share:
//  - sim_world: the hub and the reference connection machines (or client programs in
//    virtual time) on one discrete-event clock, joined by an in-memory network (no
//    sockets, no threads, exact time);
//  - real_world: imock-server on loopback sockets and, per client, one of three
//    adapters: the reference SDK in-process, another SDK through a client program, or
//    an app run by hand (imock-harness serve), on wall-clock time sped up `speed` times.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "imock/harness/scenario.hpp"
#include "imock/harness/trace.hpp"
#include "imock/server/server_api.hpp"

namespace imock::harness {

/// A client under test, whatever implements it. What it does shows up in the trace.
/// Each call returns what went wrong carrying it out ("" when nothing did); an app run
/// by hand, say, may not connect within the time it is given.
class harness_client {
 public:
  virtual ~harness_client() = default;
  virtual std::string init() = 0;
  virtual std::string connect(const std::string& token, int time_limit_s, bool init_first) = 0;
  virtual std::string disconnect() = 0;
  virtual std::string logout() = 0;
  virtual std::string network(bool up) = 0;
  virtual std::string foreground() = 0;
  virtual std::string reconnect_kick(bool on) = 0;
  // Messages (docs/scenarios.md, "Messages"): what follows shows up in the trace as
  // message, sent, send_error and sync_completed events.
  /// sendMessage of `content` (`object_name`) to the user `to`.
  virtual std::string send_message(const std::string& to, const std::string& object_name,
                                   const std::string& content) = 0;
  /// resendMessage of the message `id` (a send_error's "#id").
  virtual std::string resend(std::int64_t id) = 0;
  /// The app is killed and started again: a new SDK object, the same local database.
  /// Nothing is initialised until the next init or connect.
  virtual std::string relaunch() = 0;
  /// Asks for the conversation with `peer` in the local database; the answer is a
  /// "history" event (detail: the peer; text: a JSON array of the messages' texts).
  virtual std::string history(const std::string& peer) = 0;
  /// Whether events of this kind (status, error, attempt, ...) reach the trace. An
  /// app run by hand is seen only through the server: its connect attempts. The
  /// steps skip, and say so, an expectation about events a client cannot show.
  [[nodiscard]] virtual bool shows(std::string_view event) const {
    (void)event;
    return true;
  }
};

class world {
 public:
  virtual ~world() = default;

  /// Starts the server (and whatever the world needs before the first step).
  virtual void start() = 0;
  /// Stops everything; no trace entry is added afterwards.
  virtual void stop() = 0;

  /// Scenario time: ms since the run started.
  virtual std::int64_t now_ms() = 0;
  /// The server's clock (ms since the epoch): token issue times, `time: now`.
  virtual std::int64_t server_now_ms() = 0;
  /// Lets scenario time pass until `until_ms`, or until `done()` holds (checked
  /// whenever the trace grows). True when done() ended the wait.
  virtual bool wait(std::int64_t until_ms, const std::function<bool()>& done) = 0;

  /// An admin or server API request, handled by the server's own endpoints.
  virtual server::api_response request(const server::api_request& r) = 0;
  /// The client of `spec` (made on first use).
  virtual harness_client& client(const client_spec& spec) = 0;

  /// What the report says about timing: "simulated, exact" or the slack in force.
  virtual std::string timing_note() const = 0;
  /// Says something to the person running the scenario, now (an app run by hand
  /// needs instructions); the default says nothing.
  virtual void note(const std::string& line) { (void)line; }

  trace_log& trace() noexcept { return trace_; }

 protected:
  // Entries are stamped with now_ms() (virtual: called only after construction).
  world() : trace_([this] { return now_ms(); }) {}

 private:
  trace_log trace_;
};

}  // namespace imock::harness
