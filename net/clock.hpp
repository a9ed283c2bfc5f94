// Server and client time under the harness: wall-clock time sped up `speed`
// times, so a 64 s reconnect interval or a token lifetime costs milliseconds.
// Cores never read a clock; the I/O edge reads this one and passes `now` in.
#pragma once

#include <chrono>
#include <cstdint>

namespace imock::net {

class scaled_clock {
 public:
  explicit scaled_clock(double speed = 1.0)
      : speed_(speed > 0 ? speed : 1.0),
        start_(std::chrono::steady_clock::now()),
        epoch_start_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()) {}

  /// Milliseconds since the Unix epoch in scaled time (starts at the real time).
  [[nodiscard]] std::int64_t now_ms() const noexcept {
    const auto real = std::chrono::steady_clock::now() - start_;
    return epoch_start_ms_ + static_cast<std::int64_t>(
                                 std::chrono::duration<double, std::milli>(real).count() * speed_);
  }

  /// The wall-clock duration of `scaled_ms` milliseconds of scaled time.
  [[nodiscard]] std::chrono::nanoseconds real(std::int64_t scaled_ms) const noexcept {
    return std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(scaled_ms) * 1e6 / speed_));
  }

  [[nodiscard]] double speed() const noexcept { return speed_; }

 private:
  double speed_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t epoch_start_ms_;
};

}  // namespace imock::net
