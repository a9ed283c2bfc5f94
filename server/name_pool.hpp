// Strings that many session records hold the same value of (the app key, the platform
// name), stored once per distinct value. A record keeps an 8-byte handle instead of a
// 32-byte std::string; 10,000 sessions of one app hold one copy of its key.
//
// The values come from clients, so the pool may not grow without bound: each entry
// counts its holders, and entries nobody holds are swept once the pool has doubled
// since the last sweep (amortised O(1) per new value). Single-threaded: a pool belongs
// to one hub and must outlive every handle taken from it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace imock::server {

class shared_name {
 public:
  shared_name() noexcept = default;  // ""
  shared_name(const shared_name& o) noexcept : e_(o.e_) { hold(); }
  shared_name(shared_name&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
  shared_name& operator=(const shared_name& o) noexcept {
    if (e_ != o.e_) {
      release();
      e_ = o.e_;
      hold();
    }
    return *this;
  }
  shared_name& operator=(shared_name&& o) noexcept {
    if (this != &o) {
      release();
      e_ = o.e_;
      o.e_ = nullptr;
    }
    return *this;
  }
  ~shared_name() { release(); }

  [[nodiscard]] const std::string& str() const noexcept { return e_ ? e_->first : empty_text(); }
  operator const std::string&() const noexcept { return str(); }  // NOLINT: reads as a string
  operator std::string_view() const noexcept { return str(); }    // NOLINT
  [[nodiscard]] bool empty() const noexcept { return e_ == nullptr; }

  friend bool operator==(const shared_name& a, const shared_name& b) noexcept {
    return a.str() == b.str();
  }
  friend bool operator==(const shared_name& a, std::string_view b) noexcept {
    return std::string_view(a.str()) == b;
  }

 private:
  friend class name_pool;
  using entry = std::pair<const std::string, std::size_t>;  // the text, its holders
  explicit shared_name(entry* e) noexcept : e_(e) { hold(); }
  void hold() noexcept {
    if (e_) ++e_->second;
  }
  void release() noexcept {
    if (e_) --e_->second;
    e_ = nullptr;
  }
  static const std::string& empty_text() noexcept;

  entry* e_ = nullptr;
};

class name_pool {
 public:
  /// The handle of `text` ("" gives the empty handle, which holds nothing).
  shared_name get(std::string_view text);
  /// Distinct values kept, held or waiting for the next sweep.
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  static constexpr std::size_t k_first_sweep = 64;
  std::unordered_map<std::string, std::size_t> entries_;
  std::size_t sweep_at_ = k_first_sweep;
};

}  // namespace imock::server
