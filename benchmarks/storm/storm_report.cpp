#include "imock/benchmarks/storm/storm_report.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <type_traits>

#include "imock/base/json_fields.hpp"
#include "imock/protocol/codes.hpp"

namespace imock::storm {
namespace json = boost::json;

namespace {

constexpr std::uint64_t k_exact = 128;  // values below are their own bucket
constexpr unsigned k_sub_bits = 6;      // 64 buckets per power of two above
constexpr std::size_t k_max_index = k_exact + std::size_t{63 - 7} * 64 + 63;

std::string format(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

// "1.06 s", "320 ms": seconds with a sensible number of digits.
std::string seconds_text(double s) {
  if (s < 1) return format("%.0f ms", s * 1000);
  if (s < 10) return format("%.2f s", s);
  return format("%.1f s", s);
}

std::string ms_text(double ms) {
  if (ms < 10) return format("%.2f ms", ms);
  if (ms < 100) return format("%.1f ms", ms);
  return format("%.0f ms", ms);
}

// Seconds from epoch ms `from` to `to`, in double: times read from a file may be so far
// apart that their int64 difference overflows.
double seconds_between(std::int64_t from, std::int64_t to) {
  return (static_cast<double>(to) - static_cast<double>(from)) / 1000;
}

std::string mb_text(std::uint64_t kb) { return format("%.1f MB", static_cast<double>(kb) / 1024); }

std::string code_text(int code) {
  const auto* info = rc::find(code);
  return std::to_string(code) + (info != nullptr ? " " + std::string(info->name) : "");
}

// --- JSON reading helpers ---------------------------------------------------------------

struct reader {
  std::string* error;
  bool ok = true;

  bool fail(const std::string& why) {
    if (ok && error != nullptr) *error = why;
    ok = false;
    return false;
  }
  const json::object* obj(const json::value& v, std::string_view what) {
    if (!v.is_object()) {
      fail(std::string(what) + ": expected an object");
      return nullptr;
    }
    return &v.as_object();
  }
  // The first problem of a strict read (base/json_fields), or the value.
  template <typename T>
  T take(const json_fields::field_reader& in, std::optional<T> v, T fallback) {
    if (!in.ok()) fail(in.problems().front().message);
    return v.value_or(fallback);
  }
  template <typename T>
  T num(const json::object& o, std::string_view key, T fallback, bool required = false) {
    json_fields::field_reader in(o);
    std::optional<T> out;
    const auto* raw = o.if_contains(key);
    if constexpr (std::is_floating_point_v<T>) {
      if (const auto v = in.number(key, required)) out = static_cast<T>(*v);
    } else if (std::is_unsigned_v<T> && raw != nullptr && raw->is_uint64()) {
      out = static_cast<T>(raw->as_uint64());  // above INT64_MAX: to_json writes these too
    } else if (const auto v = in.integer(key, required)) {
      if (std::is_unsigned_v<T> && *v < 0) {
        in.problem(key, "'" + std::string(key) + "' must not be negative");
      } else {
        out = static_cast<T>(*v);
      }
    }
    return take(in, out, fallback);
  }
  std::string str(const json::object& o, std::string_view key) {
    json_fields::field_reader in(o);
    const auto v = in.string(key);
    return take(in, v, std::string());
  }
  bool flag(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->as_bool();
  }
  template <typename T>
  std::vector<T> series(const json::object& o, std::string_view key) {
    std::vector<T> out;
    const auto* v = o.if_contains(key);
    if (v == nullptr) return out;
    if (!v->is_array()) {
      fail("'" + std::string(key) + "' must be an array");
      return out;
    }
    out.reserve(v->as_array().size());
    for (const auto& x : v->as_array()) {
      if (x.is_int64()) {
        out.push_back(static_cast<T>(x.as_int64()));
      } else if (x.is_uint64()) {
        out.push_back(static_cast<T>(x.as_uint64()));
      } else {
        fail("'" + std::string(key) + "' must hold integers");
        return out;
      }
    }
    return out;
  }
  std::map<int, std::uint64_t> codes(const json::object& o, std::string_view key) {
    std::map<int, std::uint64_t> out;
    const auto* v = o.if_contains(key);
    if (v == nullptr) return out;
    const auto* m = obj(*v, key);
    if (m == nullptr) return out;
    for (const auto& [k, x] : *m) {
      int code = 0;
      const auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), code);
      if (k.empty() || ec != std::errc() || end != k.data() + k.size()) {
        fail("'" + std::string(key) + "': key '" + std::string(k) + "' is not a code");
        continue;
      }
      out[code] += num<std::uint64_t>(*m, k, 0);
    }
    return out;
  }
  histogram hist(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return {};
    std::string why;
    auto h = histogram::from_json(*v, &why);
    if (!h) {
      fail("'" + std::string(key) + "': " + why);
      return {};
    }
    return *h;
  }
};

json::object codes_json(const std::map<int, std::uint64_t>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[std::to_string(k)] = v;
  return o;
}

template <typename T>
json::array array_of(const std::vector<T>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& x : v) a.emplace_back(x);
  return a;
}

void add_codes(std::map<int, std::uint64_t>& into, const std::map<int, std::uint64_t>& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

template <typename T>
void min_opt(std::optional<T>& into, const std::optional<T>& from) {
  if (from && (!into || *from < *into)) into = from;
}
template <typename T>
void first_opt(std::optional<T>& into, const std::optional<T>& from) {
  if (!into) into = from;
}

// JSON writer with readable numbers.
void write_json(std::string& out, const json::value& v, int indent) {
  const auto pad = [&](int n) { out.append(static_cast<std::size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.as_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      out += std::to_string(v.as_int64());
      break;
    case json::kind::uint64:
      out += std::to_string(v.as_uint64());
      break;
    case json::kind::double_: {
      const double d = v.as_double();
      if (!std::isfinite(d)) {
        out += "null";
      } else if (d == 0) {
        out += '0';  // not "-0", which reads back as the integer 0 and writes as "0"
      } else if (std::fabs(d) >= 1e9) {
        // Shortest exact form. "%.6f" would print more digits than a double holds (15 are
        // exact), and the file would not read back to the same text.
        out += json::serialize(v);
      } else if (d == std::floor(d)) {
        out += format("%.0f", d);
      } else {
        std::string s = format("%.6f", d);
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
        if (s == "0" || s == "-0") s = format("%.6g", d);  // tiny values keep their digits
        out += s;
      }
      break;
    }
    case json::kind::string:
      out += json::serialize(v.as_string());
      break;
    case json::kind::array: {
      const auto& a = v.as_array();
      // Arrays of scalars (series, bucket pairs) stay on one line.
      const bool flat = std::all_of(a.begin(), a.end(), [](const json::value& x) {
        return !x.is_object() &&
               (!x.is_array() || std::all_of(x.as_array().begin(), x.as_array().end(),
                                             [](const json::value& y) { return y.is_number(); }));
      });
      if (a.empty()) {
        out += "[]";
      } else if (flat) {
        out += '[';
        for (std::size_t i = 0; i < a.size(); ++i) {
          if (i > 0) out += ',';
          write_json(out, a[i], indent);
        }
        out += ']';
      } else {
        out += "[\n";
        for (std::size_t i = 0; i < a.size(); ++i) {
          pad(indent + 1);
          write_json(out, a[i], indent + 1);
          out += i + 1 < a.size() ? ",\n" : "\n";
        }
        pad(indent);
        out += ']';
      }
      break;
    }
    case json::kind::object: {
      const auto& o = v.as_object();
      if (o.empty()) {
        out += "{}";
        break;
      }
      out += "{\n";
      std::size_t i = 0;
      for (const auto& [k, x] : o) {
        pad(indent + 1);
        out += json::serialize(json::string(k));
        out += ": ";
        write_json(out, x, indent + 1);
        out += ++i < o.size() ? ",\n" : "\n";
      }
      pad(indent);
      out += '}';
      break;
    }
  }
}

double ms_of(const histogram& h, double p) {
  return std::round(static_cast<double>(h.percentile(p)) / 10) / 100;
}

json::value opt_json(const std::optional<double>& x) {
  if (!x) return nullptr;
  return std::round(*x * 1000) / 1000;
}

}  // namespace

// --- histogram ------------------------------------------------------------------------

std::size_t histogram::index_of(std::uint64_t value) noexcept {
  if (value < k_exact) return static_cast<std::size_t>(value);
  const auto e = static_cast<unsigned>(std::bit_width(value) - 1);  // >= 7
  const auto sub = static_cast<std::size_t>((value >> (e - k_sub_bits)) & 63);
  return k_exact + std::size_t{e - 7} * 64 + sub;
}

std::uint64_t histogram::lower_bound(std::size_t index) noexcept {
  if (index < k_exact) return index;
  const std::size_t j = index - k_exact;
  const auto e = static_cast<unsigned>(7 + j / 64);
  const std::uint64_t sub = j % 64;
  return (64 + sub) << (e - k_sub_bits);
}

std::uint64_t histogram::upper_bound(std::size_t index) noexcept {
  if (index >= k_max_index) return std::numeric_limits<std::uint64_t>::max();
  return lower_bound(index + 1) - 1;
}

void histogram::add(std::uint64_t value, std::uint64_t count) {
  if (count == 0) return;
  const auto i = index_of(value);
  if (counts_.size() <= i) counts_.resize(i + 1, 0);
  counts_[i] += count;
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  count_ += count;
  sum_ += value * count;
}

void histogram::merge(const histogram& other) {
  if (other.count_ == 0) return;
  if (counts_.size() < other.counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

std::uint64_t histogram::at_rank(std::uint64_t rank) const noexcept {
  if (count_ == 0) return 0;
  if (rank >= count_) return max_;
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const auto lo = lower_bound(i);
      const auto mid = lo + (upper_bound(i) - lo) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

std::uint64_t histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (p >= 1.0) return max_;
  if (p <= 0.0) return min_;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count_) - 1e-9));
  return at_rank(std::max<std::uint64_t>(rank, 1));
}

json::value histogram::to_json() const {
  json::array buckets;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) buckets.push_back(json::array{lower_bound(i), counts_[i]});
  }
  return json::object{{"count", count_},
                      {"min", min()},
                      {"max", max_},
                      {"sum", sum_},
                      {"buckets", std::move(buckets)}};
}

std::optional<histogram> histogram::from_json(const json::value& v, std::string* error) {
  reader rd{error};
  const auto* o = rd.obj(v, "histogram");
  if (o == nullptr) return std::nullopt;
  histogram h;
  const auto* b = o->if_contains("buckets");
  if (b == nullptr || !b->is_array()) {
    rd.fail("histogram: 'buckets' must be an array");
    return std::nullopt;
  }
  std::uint64_t total = 0;
  for (const auto& pair : b->as_array()) {
    if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_number() ||
        !pair.as_array()[1].is_number()) {
      rd.fail("histogram: each bucket is [lower_bound, count]");
      return std::nullopt;
    }
    const auto lo = pair.as_array()[0].to_number<std::uint64_t>();
    const auto n = pair.as_array()[1].to_number<std::uint64_t>();
    const auto i = index_of(lo);
    if (lower_bound(i) != lo) {
      rd.fail("histogram: " + std::to_string(lo) + " is not a bucket's lower bound");
      return std::nullopt;
    }
    if (n > std::numeric_limits<std::uint64_t>::max() - total) {
      rd.fail("histogram: bucket counts overflow");
      return std::nullopt;
    }
    if (h.counts_.size() <= i) h.counts_.resize(i + 1, 0);
    h.counts_[i] += n;
    total += n;
  }
  h.count_ = rd.num<std::uint64_t>(*o, "count", 0, true);
  h.min_ = rd.num<std::uint64_t>(*o, "min", 0);
  h.max_ = rd.num<std::uint64_t>(*o, "max", 0);
  h.sum_ = rd.num<std::uint64_t>(*o, "sum", 0);
  if (!rd.ok) return std::nullopt;
  if (total != h.count_) {
    rd.fail("histogram: bucket counts add up to " + std::to_string(total) + ", not " +
            std::to_string(h.count_));
    return std::nullopt;
  }
  // As to_json() writes them: zeros when empty, else min and max in the first and last
  // used buckets (percentiles clamp to [min, max], so a min above max breaks them).
  if (h.count_ == 0 ? h.min_ != 0 || h.max_ != 0 || h.sum_ != 0 : !h.bounds_match_buckets()) {
    rd.fail("histogram: min, max and sum do not match the buckets");
    return std::nullopt;
  }
  return h;
}

bool histogram::bounds_match_buckets() const noexcept {
  const auto used = [](std::uint64_t n) { return n != 0; };
  const auto first = std::find_if(counts_.begin(), counts_.end(), used);
  const auto last = std::find_if(counts_.rbegin(), counts_.rend(), used);
  if (first == counts_.end()) return false;
  return min_ <= max_ && index_of(min_) == static_cast<std::size_t>(first - counts_.begin()) &&
         index_of(max_) == static_cast<std::size_t>(counts_.rend() - last - 1);
}

// --- shards ---------------------------------------------------------------------------

client_range shard_range(std::size_t total, std::size_t index, std::size_t count) noexcept {
  if (count == 0 || index >= count) return {};
  // floor(total * i / count) without overflowing total * i.
  const std::size_t q = total / count;
  const std::size_t r = total % count;
  const auto at = [&](std::size_t i) { return q * i + r * i / count; };
  return {at(index), at(index + 1)};
}

std::optional<std::pair<std::size_t, std::size_t>> parse_shard(std::string_view text,
                                                               std::string* error) {
  const auto fail = [&](std::string why) -> std::optional<std::pair<std::size_t, std::size_t>> {
    if (error != nullptr) *error = "bad shard '" + std::string(text) + "': " + std::move(why);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return fail("expected I/N, e.g. 0/4");
  const auto number = [](std::string_view s) -> std::optional<std::size_t> {
    if (s.empty() || s.size() > 9) return std::nullopt;
    std::size_t n = 0;
    for (const char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    return n;
  };
  const auto i = number(text.substr(0, slash));
  const auto n = number(text.substr(slash + 1));
  if (!i || !n) return fail("I and N must be whole numbers");
  if (*n == 0) return fail("N must be at least 1");
  if (*i >= *n) return fail("I must be below N (shards are numbered from 0)");
  return std::pair{*i, *n};
}

// --- timeline -------------------------------------------------------------------------

void timeline::resize(std::size_t n) {
  connected.resize(n, 0);
  attempts.resize(n, 0);
  successes.resize(n, 0);
  failures.resize(n, 0);
  for (auto& [code, v] : failures_by_code) v.resize(n, 0);
  if (with_messages) {
    delivered.resize(n, 0);
    delivery_max_us.resize(n, 0);
  }
}

double timeline::per_second(std::uint64_t count) const noexcept {
  return bucket_ms <= 0 ? 0.0
                        : static_cast<double>(count) * 1000.0 / static_cast<double>(bucket_ms);
}

std::int64_t timeline::bucket_of(std::int64_t t_ms) const noexcept {
  if (bucket_ms <= 0) return 0;
  std::int64_t d = 0;
  if (__builtin_sub_overflow(t_ms, t0_ms, &d)) {  // far out of range either way
    return t_ms < t0_ms ? std::numeric_limits<std::int64_t>::min()
                        : std::numeric_limits<std::int64_t>::max();
  }
  return d >= 0 ? d / bucket_ms : -(-(d + 1) / bucket_ms) - 1;  // floor, without -INT64_MIN
}

bool timeline::merge(const timeline& other) {
  if (other.size() == 0) return true;
  if (size() == 0) {
    *this = other;
    return true;
  }
  if (bucket_ms != other.bucket_ms) return false;
  const std::int64_t t0 = std::min(t0_ms, other.t0_ms);
  // Offsets in whole buckets (shards start at different ms; round to the nearest).
  // Timelines too far apart (another run's, a corrupt file's) are refused, not
  // allocated: no overflow, no bucket past k_max_timeline_buckets.
  std::int64_t gap = 0;
  if (__builtin_sub_overflow(std::max(t0_ms, other.t0_ms), t0, &gap)) return false;
  const auto offset = [&](std::int64_t t) {
    const std::int64_t d = t - t0;  // 0 or gap
    return static_cast<std::size_t>(d / bucket_ms + (d % bucket_ms >= bucket_ms - bucket_ms / 2));
  };
  if (gap / bucket_ms >= static_cast<std::int64_t>(k_max_timeline_buckets)) return false;
  const std::size_t mine = offset(t0_ms);
  const std::size_t theirs = offset(other.t0_ms);
  const std::size_t n = std::max(mine + size(), theirs + other.size());
  if (n > k_max_timeline_buckets) return false;
  timeline out;
  out.t0_ms = t0;
  out.bucket_ms = bucket_ms;
  for (const auto& [code, v] : failures_by_code) out.failures_by_code[code];
  for (const auto& [code, v] : other.failures_by_code) out.failures_by_code[code];
  out.with_messages = with_messages || other.with_messages;
  out.resize(n);
  const auto add = [](const timeline& from, std::size_t at, timeline& to) {
    for (std::size_t i = 0; i < from.size(); ++i) {
      // Wrapping, as the unsigned series add: a file's counts can be anything, and an
      // int64 overflow would be undefined.
      const std::int64_t c = i < from.connected.size() ? from.connected[i] : 0;
      to.connected[at + i] = static_cast<std::int64_t>(
          static_cast<std::uint64_t>(to.connected[at + i]) + static_cast<std::uint64_t>(c));
      to.attempts[at + i] += from.attempts[i];
      to.successes[at + i] += i < from.successes.size() ? from.successes[i] : 0;
      to.failures[at + i] += i < from.failures.size() ? from.failures[i] : 0;
      if (i < from.delivered.size()) to.delivered[at + i] += from.delivered[i];
      if (i < from.delivery_max_us.size()) {
        to.delivery_max_us[at + i] = std::max(to.delivery_max_us[at + i], from.delivery_max_us[i]);
      }
    }
    for (const auto& [code, v] : from.failures_by_code) {
      auto& dst = to.failures_by_code[code];
      for (std::size_t i = 0; i < v.size() && at + i < dst.size(); ++i) dst[at + i] += v[i];
    }
  };
  add(*this, mine, out);
  add(other, theirs, out);
  *this = std::move(out);
  return true;
}

// --- derived figures ------------------------------------------------------------------

double tool_memory::per_client_bytes() const noexcept {
  if (clients_connected == 0 || rss_connected_kb < rss_before_kb) return 0;
  return static_cast<double>(rss_connected_kb - rss_before_kb) * 1024.0 /
         static_cast<double>(clients_connected);
}

std::optional<double> time_to_share(const storm_result& s, double share) {
  if (s.clients == 0) return std::nullopt;
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(share * static_cast<double>(s.clients) - 1e-9)));
  const std::uint64_t unaffected = s.clients > s.affected ? s.clients - s.affected : 0;
  if (rank <= unaffected) return 0.0;
  const auto r = rank - unaffected;
  if (r > s.recovery_us.count()) return std::nullopt;
  return static_cast<double>(s.recovery_us.at_rank(r)) / 1e6;
}

storm_summary summarize(const storm_result& s, const timeline& tl) {
  storm_summary out;
  out.t50_s = time_to_share(s, 0.50);
  out.t90_s = time_to_share(s, 0.90);
  out.t99_s = time_to_share(s, 0.99);
  out.t100_s = time_to_share(s, 1.0);
  out.amplification =
      s.clients == 0 ? 0.0 : static_cast<double>(s.attempts) / static_cast<double>(s.clients);
  const auto first = std::max<std::int64_t>(0, tl.bucket_of(s.armed_ms));
  const auto last =
      std::min<std::int64_t>(static_cast<std::int64_t>(tl.size()) - 1, tl.bucket_of(s.end_ms));
  std::uint64_t peak = 0;
  for (auto i = first; i <= last; ++i)
    peak = std::max(peak, tl.attempts[static_cast<std::size_t>(i)]);
  out.peak_attempts_per_s = tl.per_second(peak);
  out.latency_p50_ms = static_cast<double>(s.latency_us.percentile(0.50)) / 1000;
  out.latency_p99_ms = static_cast<double>(s.latency_us.percentile(0.99)) / 1000;
  out.latency_max_ms = static_cast<double>(s.latency_us.max()) / 1000;
  return out;
}

// --- JSON -----------------------------------------------------------------------------

json::value to_json(const run_result& r) {
  json::object o;
  o["tool"] = "imock-storm";
  o["format"] = 1;
  o["clients"] = r.clients;
  o["target"] = r.target;
  o["target_kind"] = r.target_kind;
  o["policy"] = r.policy;
  o["trigger"] = r.trigger;
  o["shard_count"] = r.shard_count;
  o["shards"] = array_of(r.shards);
  o["stopped_by"] = r.stopped_by;

  // Derived figures first: what a person or a script looks for.
  json::object summary;
  summary["ramp_s"] = r.ramp_end_ms > r.start_ms ? seconds_between(r.start_ms, r.ramp_end_ms) : 0.0;
  summary["ramp_connected"] = r.ramp_connected;
  summary["latency_p50_ms"] = static_cast<double>(r.latency_us.percentile(0.5)) / 1000;
  summary["latency_p99_ms"] = static_cast<double>(r.latency_us.percentile(0.99)) / 1000;
  summary["latency_max_ms"] = static_cast<double>(r.latency_us.max()) / 1000;
  json::array storms;
  for (const auto& s : r.storms) {
    const auto sum = summarize(s, r.tl);
    json::object x{{"index", s.index},
                   {"clients", s.clients},
                   {"t50_s", opt_json(sum.t50_s)},
                   {"t90_s", opt_json(sum.t90_s)},
                   {"t99_s", opt_json(sum.t99_s)},
                   {"t100_s", opt_json(sum.t100_s)},
                   {"lost", s.lost},
                   {"attempts", s.attempts},
                   {"amplification", std::round(sum.amplification * 1000) / 1000},
                   {"peak_attempts_per_s", sum.peak_attempts_per_s},
                   {"latency_p50_ms", sum.latency_p50_ms},
                   {"latency_p99_ms", sum.latency_p99_ms},
                   {"latency_max_ms", sum.latency_max_ms}};
    if (s.server_rss_after_kb) x["server_rss_after_kb"] = *s.server_rss_after_kb;
    if (r.traffic) {
      x["delivery_during_p50_ms"] = ms_of(s.delivery_during_us, 0.5);
      x["delivery_during_p99_ms"] = ms_of(s.delivery_during_us, 0.99);
      x["delivery_after_p50_ms"] = ms_of(s.delivery_after_us, 0.5);
      x["delivery_after_p99_ms"] = ms_of(s.delivery_after_us, 0.99);
    }
    storms.push_back(std::move(x));
  }
  summary["storms"] = std::move(storms);
  if (r.traffic) {
    const auto& t = *r.traffic;
    summary["messages"] = json::object{{"sent", t.sent},
                                       {"delivered", t.delivered},
                                       {"lost", t.lost},
                                       {"duplicates", t.duplicates},
                                       {"send_failures", t.send_failures},
                                       {"unconfirmed", t.unconfirmed},
                                       {"before_p50_ms", ms_of(t.before_us, 0.5)},
                                       {"before_p99_ms", ms_of(t.before_us, 0.99)},
                                       {"during_p50_ms", ms_of(t.during_us, 0.5)},
                                       {"during_p99_ms", ms_of(t.during_us, 0.99)},
                                       {"after_p50_ms", ms_of(t.after_us, 0.5)},
                                       {"after_p99_ms", ms_of(t.after_us, 0.99)}};
  }
  summary["tool_rss_per_client_bytes"] = std::round(r.tool.per_client_bytes());
  summary["tool_peak_kb"] = r.tool.peak_kb;
  o["summary"] = std::move(summary);

  o["config"] = r.config;
  o["start_ms"] = r.start_ms;
  o["end_ms"] = r.end_ms;
  o["notes"] = array_of(r.notes);
  o["ramp"] = json::object{{"end_ms", r.ramp_end_ms},
                           {"connected", r.ramp_connected},
                           {"attempts", r.ramp_attempts},
                           {"latency_us", r.ramp_latency_us.to_json()}};
  o["latency_us"] = r.latency_us.to_json();
  o["failures"] = codes_json(r.failures);
  o["stopped"] = codes_json(r.stopped);
  json::array storm_list;
  for (const auto& s : r.storms) {
    json::object x{{"index", s.index},
                   {"trigger", s.trigger},
                   {"armed_ms", s.armed_ms},
                   {"origin_ms", s.origin_ms},
                   {"end_ms", s.end_ms},
                   {"clients", s.clients},
                   {"affected", s.affected},
                   {"recovered", s.recovered},
                   {"lost", s.lost},
                   {"attempts", s.attempts},
                   {"complete", s.complete},
                   {"recovery_us", s.recovery_us.to_json()},
                   {"latency_us", s.latency_us.to_json()},
                   {"failures", codes_json(s.failures)}};
    if (r.traffic) {
      x["delivery_during_us"] = s.delivery_during_us.to_json();
      x["delivery_after_us"] = s.delivery_after_us.to_json();
    }
    json::object server;
    if (s.server_rss_before_kb) server["rss_before_kb"] = *s.server_rss_before_kb;
    if (s.server_rss_peak_kb) server["rss_peak_kb"] = *s.server_rss_peak_kb;
    if (s.server_rss_after_kb) server["rss_after_kb"] = *s.server_rss_after_kb;
    if (s.server_cpu_ms) server["cpu_ms"] = *s.server_cpu_ms;
    if (!server.empty()) x["server"] = std::move(server);
    storm_list.push_back(std::move(x));
  }
  o["storms"] = std::move(storm_list);
  json::object tl{{"t0_ms", r.tl.t0_ms},
                  {"bucket_ms", r.tl.bucket_ms},
                  {"connected", array_of(r.tl.connected)},
                  {"attempts", array_of(r.tl.attempts)},
                  {"successes", array_of(r.tl.successes)},
                  {"failures", array_of(r.tl.failures)}};
  json::object by_code;
  for (const auto& [code, v] : r.tl.failures_by_code) by_code[std::to_string(code)] = array_of(v);
  tl["failures_by_code"] = std::move(by_code);
  if (r.tl.with_messages) {
    tl["delivered"] = array_of(r.tl.delivered);
    tl["delivery_max_us"] = array_of(r.tl.delivery_max_us);
  }
  o["timeline"] = std::move(tl);
  if (r.server_pid || !r.server_samples.empty()) {
    json::array samples;
    for (const auto& s : r.server_samples)
      samples.push_back(json::array{s.t_ms, s.rss_kb, s.cpu_ms});
    json::object server{{"samples", std::move(samples)}};
    if (r.server_pid) server["pid"] = *r.server_pid;
    o["server"] = std::move(server);
  }
  if (r.traffic) {
    const auto& t = *r.traffic;
    o["messages"] = json::object{{"per_client_per_s", t.per_client_per_s},
                                 {"sent", t.sent},
                                 {"send_failures", t.send_failures},
                                 {"unconfirmed", t.unconfirmed},
                                 {"delivered", t.delivered},
                                 {"duplicates", t.duplicates},
                                 {"lost", t.lost},
                                 {"before_us", t.before_us.to_json()},
                                 {"during_us", t.during_us.to_json()},
                                 {"after_us", t.after_us.to_json()}};
  }
  o["tool_memory"] = json::object{{"processes", r.tool.processes},
                                  {"rss_before_kb", r.tool.rss_before_kb},
                                  {"rss_connected_kb", r.tool.rss_connected_kb},
                                  {"peak_kb", r.tool.peak_kb},
                                  {"clients_connected", r.tool.clients_connected},
                                  {"per_client_bytes", std::round(r.tool.per_client_bytes())}};
  return o;
}

namespace {
std::optional<run_result> read_result(const json::value& v, std::string* error);
}  // namespace

std::optional<run_result> from_json(const json::value& v, std::string* error) {
  try {
    return read_result(v, error);
  } catch (const std::exception& e) {  // to_number() on a negative or fractional count
    if (error != nullptr) *error = std::string("bad number: ") + e.what();
    return std::nullopt;
  }
}

namespace {
std::optional<run_result> read_result(const json::value& v, std::string* error) {
  reader rd{error};
  const auto* o = rd.obj(v, "result");
  if (o == nullptr) return std::nullopt;
  if (rd.str(*o, "tool") != "imock-storm") {
    rd.fail("not an imock-storm result (no \"tool\": \"imock-storm\")");
    return std::nullopt;
  }
  run_result r;
  if (const auto* c = o->if_contains("config"); c != nullptr && c->is_object()) {
    r.config = c->as_object();
  }
  r.clients = rd.num<std::uint64_t>(*o, "clients", 0, true);
  r.target = rd.str(*o, "target");
  r.target_kind = rd.str(*o, "target_kind");
  r.policy = rd.str(*o, "policy");
  r.trigger = rd.str(*o, "trigger");
  r.shard_count = rd.num<std::size_t>(*o, "shard_count", 1);
  r.shards = rd.series<std::size_t>(*o, "shards");
  r.stopped_by = rd.str(*o, "stopped_by");
  r.start_ms = rd.num<std::int64_t>(*o, "start_ms", 0, true);
  r.end_ms = rd.num<std::int64_t>(*o, "end_ms", 0);
  if (const auto* n = o->if_contains("notes"); n != nullptr && n->is_array()) {
    for (const auto& x : n->as_array()) {
      if (x.is_string()) r.notes.emplace_back(x.as_string());
    }
  }
  if (const auto* ramp = o->if_contains("ramp"); ramp != nullptr) {
    if (const auto* ro = rd.obj(*ramp, "ramp"); ro != nullptr) {
      r.ramp_end_ms = rd.num<std::int64_t>(*ro, "end_ms", 0);
      r.ramp_connected = rd.num<std::uint64_t>(*ro, "connected", 0);
      r.ramp_attempts = rd.num<std::uint64_t>(*ro, "attempts", 0);
      r.ramp_latency_us = rd.hist(*ro, "latency_us");
    }
  }
  r.latency_us = rd.hist(*o, "latency_us");
  r.failures = rd.codes(*o, "failures");
  r.stopped = rd.codes(*o, "stopped");
  if (const auto* storms = o->if_contains("storms"); storms != nullptr && storms->is_array()) {
    for (const auto& sv : storms->as_array()) {
      const auto* so = rd.obj(sv, "storm");
      if (so == nullptr) break;
      storm_result s;
      s.index = rd.num<int>(*so, "index", 0, true);
      s.trigger = rd.str(*so, "trigger");
      s.armed_ms = rd.num<std::int64_t>(*so, "armed_ms", 0);
      s.origin_ms = rd.num<std::int64_t>(*so, "origin_ms", 0);
      s.end_ms = rd.num<std::int64_t>(*so, "end_ms", 0);
      s.clients = rd.num<std::uint64_t>(*so, "clients", 0);
      s.affected = rd.num<std::uint64_t>(*so, "affected", 0);
      s.recovered = rd.num<std::uint64_t>(*so, "recovered", 0);
      s.lost = rd.num<std::uint64_t>(*so, "lost", 0);
      s.attempts = rd.num<std::uint64_t>(*so, "attempts", 0);
      s.complete = rd.flag(*so, "complete");
      s.recovery_us = rd.hist(*so, "recovery_us");
      s.latency_us = rd.hist(*so, "latency_us");
      s.failures = rd.codes(*so, "failures");
      if (so->contains("delivery_during_us")) s.delivery_during_us = rd.hist(*so, "delivery_during_us");
      if (so->contains("delivery_after_us")) s.delivery_after_us = rd.hist(*so, "delivery_after_us");
      if (const auto* sv2 = so->if_contains("server"); sv2 != nullptr && sv2->is_object()) {
        const auto& srv = sv2->as_object();
        const auto opt = [&](std::string_view k) -> std::optional<std::uint64_t> {
          if (!srv.contains(k)) return std::nullopt;
          return rd.num<std::uint64_t>(srv, k, 0);
        };
        s.server_rss_before_kb = opt("rss_before_kb");
        s.server_rss_peak_kb = opt("rss_peak_kb");
        s.server_rss_after_kb = opt("rss_after_kb");
        s.server_cpu_ms = opt("cpu_ms");
      }
      r.storms.push_back(std::move(s));
    }
  }
  if (const auto* mv = o->if_contains("messages"); mv != nullptr) {
    if (const auto* mo = rd.obj(*mv, "messages"); mo != nullptr) {
      traffic_result t;
      t.per_client_per_s = mo->contains("per_client_per_s") && mo->at("per_client_per_s").is_number()
                               ? mo->at("per_client_per_s").to_number<double>()
                               : 0.0;
      t.sent = rd.num<std::uint64_t>(*mo, "sent", 0);
      t.send_failures = rd.num<std::uint64_t>(*mo, "send_failures", 0);
      t.unconfirmed = rd.num<std::uint64_t>(*mo, "unconfirmed", 0);
      t.delivered = rd.num<std::uint64_t>(*mo, "delivered", 0);
      t.duplicates = rd.num<std::uint64_t>(*mo, "duplicates", 0);
      t.lost = rd.num<std::uint64_t>(*mo, "lost", 0);
      t.before_us = rd.hist(*mo, "before_us");
      t.during_us = rd.hist(*mo, "during_us");
      t.after_us = rd.hist(*mo, "after_us");
      r.traffic = std::move(t);
    }
  }
  if (const auto* tl = o->if_contains("timeline"); tl != nullptr) {
    if (const auto* to = rd.obj(*tl, "timeline"); to != nullptr) {
      r.tl.t0_ms = rd.num<std::int64_t>(*to, "t0_ms", 0);
      r.tl.bucket_ms = rd.num<std::int64_t>(*to, "bucket_ms", 100);
      if (r.tl.bucket_ms <= 0) rd.fail("timeline: bucket_ms must be positive");
      r.tl.connected = rd.series<std::int64_t>(*to, "connected");
      r.tl.attempts = rd.series<std::uint64_t>(*to, "attempts");
      r.tl.successes = rd.series<std::uint64_t>(*to, "successes");
      r.tl.failures = rd.series<std::uint64_t>(*to, "failures");
      if (const auto* bc = to->if_contains("failures_by_code"); bc != nullptr && bc->is_object()) {
        for (const auto& [k, x] : bc->as_object()) {
          try {
            r.tl.failures_by_code[std::stoi(std::string(k))] =
                rd.series<std::uint64_t>(bc->as_object(), k);
          } catch (const std::exception&) {
            rd.fail("timeline.failures_by_code: '" + std::string(k) + "' is not a code");
          }
        }
      }
      if (to->contains("delivered")) {
        r.tl.with_messages = true;
        r.tl.delivered = rd.series<std::uint64_t>(*to, "delivered");
        r.tl.delivery_max_us = rd.series<std::uint64_t>(*to, "delivery_max_us");
      }
      r.tl.resize(r.tl.attempts.size());  // tolerate shorter series
    }
  }
  if (const auto* srv = o->if_contains("server"); srv != nullptr && srv->is_object()) {
    const auto& so = srv->as_object();
    if (so.contains("pid")) r.server_pid = rd.num<std::int64_t>(so, "pid", 0);
    if (const auto* samples = so.if_contains("samples");
        samples != nullptr && samples->is_array()) {
      for (const auto& x : samples->as_array()) {
        if (!x.is_array() || x.as_array().size() != 3) {
          rd.fail("server.samples: each is [t_ms, rss_kb, cpu_ms]");
          break;
        }
        const auto& a = x.as_array();
        r.server_samples.push_back({a[0].to_number<std::int64_t>(), a[1].to_number<std::uint64_t>(),
                                    a[2].to_number<std::uint64_t>()});
      }
    }
  }
  if (const auto* tm = o->if_contains("tool_memory"); tm != nullptr && tm->is_object()) {
    const auto& t = tm->as_object();
    r.tool.processes = rd.num<unsigned>(t, "processes", 0);
    r.tool.rss_before_kb = rd.num<std::uint64_t>(t, "rss_before_kb", 0);
    r.tool.rss_connected_kb = rd.num<std::uint64_t>(t, "rss_connected_kb", 0);
    r.tool.peak_kb = rd.num<std::uint64_t>(t, "peak_kb", 0);
    r.tool.clients_connected = rd.num<std::uint64_t>(t, "clients_connected", 0);
  }
  if (!rd.ok) return std::nullopt;
  return r;
}
}  // namespace

// --- merge ----------------------------------------------------------------------------

run_result merge(const std::vector<run_result>& parts) {
  if (parts.empty()) return {};
  run_result out = parts.front();
  out.shards.clear();
  out.clients = 0;
  out.ramp_connected = 0;
  out.ramp_attempts = 0;
  out.ramp_latency_us = {};
  out.latency_us = {};
  out.tl = {};
  out.tl.bucket_ms = parts.front().tl.bucket_ms;
  out.storms.clear();
  out.failures.clear();
  out.stopped.clear();
  out.tool = {};
  out.notes.clear();
  out.server_pid.reset();
  out.server_samples.clear();
  out.traffic.reset();
  std::set<std::size_t> shards;
  std::set<std::string> notes;
  for (const auto& p : parts) {
    for (auto s : p.shards) shards.insert(s);
    out.shard_count = std::max(out.shard_count, p.shard_count);
    out.clients += p.clients;
    out.start_ms = std::min(out.start_ms, p.start_ms);
    out.end_ms = std::max(out.end_ms, p.end_ms);
    out.ramp_end_ms = std::max(out.ramp_end_ms, p.ramp_end_ms);
    out.ramp_connected += p.ramp_connected;
    out.ramp_attempts += p.ramp_attempts;
    out.ramp_latency_us.merge(p.ramp_latency_us);
    out.latency_us.merge(p.latency_us);
    if (!out.tl.merge(p.tl)) {
      notes.insert(out.tl.bucket_ms != p.tl.bucket_ms
                       ? "timelines with different bucket sizes were not merged"
                       : "timelines too far apart in time were not merged");
    }
    add_codes(out.failures, p.failures);
    add_codes(out.stopped, p.stopped);
    if (out.stopped_by == "done" && p.stopped_by != "done") out.stopped_by = p.stopped_by;
    if (!out.server_pid && p.server_pid) {
      out.server_pid = p.server_pid;
      out.server_samples = p.server_samples;
    }
    out.tool.processes += p.tool.processes;
    out.tool.rss_before_kb += p.tool.rss_before_kb;
    out.tool.rss_connected_kb += p.tool.rss_connected_kb;
    out.tool.peak_kb += p.tool.peak_kb;
    out.tool.clients_connected += p.tool.clients_connected;
    if (p.traffic) {
      if (!out.traffic) out.traffic = traffic_result{.per_client_per_s = p.traffic->per_client_per_s};
      auto& t = *out.traffic;
      t.sent += p.traffic->sent;
      t.send_failures += p.traffic->send_failures;
      t.unconfirmed += p.traffic->unconfirmed;
      t.delivered += p.traffic->delivered;
      t.duplicates += p.traffic->duplicates;
      t.lost += p.traffic->lost;
      t.before_us.merge(p.traffic->before_us);
      t.during_us.merge(p.traffic->during_us);
      t.after_us.merge(p.traffic->after_us);
    }
    for (const auto& n : p.notes) {
      if (notes.insert(n).second) out.notes.push_back(n);
    }
    for (const auto& s : p.storms) {
      auto it = std::find_if(out.storms.begin(), out.storms.end(),
                             [&](const storm_result& x) { return x.index == s.index; });
      if (it == out.storms.end()) {
        out.storms.push_back(s);
        continue;
      }
      auto& m = *it;
      m.armed_ms = std::min(m.armed_ms, s.armed_ms);
      m.origin_ms = std::min(m.origin_ms, s.origin_ms);
      m.end_ms = std::max(m.end_ms, s.end_ms);
      m.clients += s.clients;
      m.affected += s.affected;
      m.recovered += s.recovered;
      m.lost += s.lost;
      m.attempts += s.attempts;
      m.complete = m.complete && s.complete;
      m.recovery_us.merge(s.recovery_us);
      m.latency_us.merge(s.latency_us);
      m.delivery_during_us.merge(s.delivery_during_us);
      m.delivery_after_us.merge(s.delivery_after_us);
      add_codes(m.failures, s.failures);
      first_opt(m.server_rss_before_kb, s.server_rss_before_kb);
      first_opt(m.server_rss_peak_kb, s.server_rss_peak_kb);
      first_opt(m.server_rss_after_kb, s.server_rss_after_kb);
      first_opt(m.server_cpu_ms, s.server_cpu_ms);
    }
  }
  for (const auto& n : notes) {
    if (std::find(out.notes.begin(), out.notes.end(), n) == out.notes.end()) out.notes.push_back(n);
  }
  out.shards.assign(shards.begin(), shards.end());
  std::sort(out.storms.begin(), out.storms.end(),
            [](const storm_result& a, const storm_result& b) { return a.index < b.index; });
  return out;
}

// --- summary --------------------------------------------------------------------------

namespace {

std::string opt_s(const std::optional<double>& x) { return x ? seconds_text(*x) : "never"; }

std::string failures_text(const std::map<int, std::uint64_t>& m) {
  if (m.empty()) return "none";
  std::vector<std::pair<std::uint64_t, int>> v;
  v.reserve(m.size());
  for (const auto& [k, n] : m) v.emplace_back(n, k);
  std::sort(v.rbegin(), v.rend());
  std::string out;
  for (const auto& [n, k] : v) {
    if (!out.empty()) out += ", ";
    out += code_text(k) + " x" + std::to_string(n);
  }
  return out;
}

std::string table_cell(const std::optional<double>& x) { return x ? format("%.2f", *x) : "-"; }

}  // namespace

std::string target_name(const run_result& r, const std::string& other) {
  if (r.target_kind == "imock") return "imock-server";
  if (r.target_kind == "sim") return "imock-server (simulated)";
  if (r.target_kind == "mosquitto") return "mosquitto";
  return other;
}

std::string summary_text(const run_result& r) {
  std::string out;
  const auto line = [&](std::string_view head, const std::string& text) {
    std::string h(head);
    h.resize(11, ' ');
    out += h + " " + text + "\n";
  };
  line("imock-storm", std::to_string(r.clients) + " clients -> " + target_name(r, "broker") + " " +
                          r.target);
  std::string setup = "policy " + r.policy + ", trigger " + r.trigger;
  if (!r.storms.empty()) setup += " x" + std::to_string(r.storms.size());
  if (r.shard_count > 1) {
    setup +=
        ", " + std::to_string(r.shards.size()) + " of " + std::to_string(r.shard_count) + " shards";
  }
  setup += ", run " + seconds_text(seconds_between(r.start_ms, r.end_ms));
  if (r.stopped_by != "done") setup += " (stopped: " + r.stopped_by + ")";
  line("", setup);

  if (r.stopped_by == "error" && r.ramp_connected == 0) {  // nothing ran
    for (const auto& n : r.notes) line("error", n);
    return out;
  }
  const double ramp_s = r.ramp_end_ms > r.start_ms ? seconds_between(r.start_ms, r.ramp_end_ms) : 0;
  line("ramp", std::to_string(r.ramp_connected) + "/" + std::to_string(r.clients) +
                   " connected in " + seconds_text(ramp_s) + " (" +
                   std::to_string(r.ramp_attempts) + " attempts); connect latency p50 " +
                   ms_text(static_cast<double>(r.ramp_latency_us.percentile(0.5)) / 1000) +
                   ", p99 " +
                   ms_text(static_cast<double>(r.ramp_latency_us.percentile(0.99)) / 1000) +
                   ", max " + ms_text(static_cast<double>(r.ramp_latency_us.max()) / 1000));

  if (r.storms.size() <= 3) {
    for (const auto& s : r.storms) {
      const auto sum = summarize(s, r.tl);
      line("storm " + std::to_string(s.index),
           s.trigger + " at " + seconds_text(seconds_between(r.start_ms, s.origin_ms)) + ": " +
               std::to_string(s.clients) + " clients; reconnected 50% " + opt_s(sum.t50_s) +
               ", 90% " + opt_s(sum.t90_s) + ", 99% " + opt_s(sum.t99_s) + ", 100% " +
               opt_s(sum.t100_s) + "; lost " + std::to_string(s.lost) +
               (s.affected < s.clients
                    ? " (" + std::to_string(s.clients - s.affected) + " never disconnected)"
                    : ""));
      line("", "attempts " + std::to_string(s.attempts) + " = " +
                   format("%.2f", sum.amplification) + " per client, peak " +
                   format("%.0f", sum.peak_attempts_per_s) +
                   " attempts/s; failed attempts: " + failures_text(s.failures));
      std::string lat = "connect latency p50 " + ms_text(sum.latency_p50_ms) + ", p99 " +
                        ms_text(sum.latency_p99_ms) + ", max " + ms_text(sum.latency_max_ms);
      if (s.server_rss_after_kb) {
        lat += "; server RSS " + mb_text(s.server_rss_before_kb.value_or(0)) + " before, " +
               mb_text(s.server_rss_peak_kb.value_or(0)) + " peak, " +
               mb_text(*s.server_rss_after_kb) + " after";
        if (s.server_cpu_ms) {
          lat += ", CPU " + seconds_text(static_cast<double>(*s.server_cpu_ms) / 1000);
        }
      }
      line("", lat);
    }
  } else {
    out +=
        "storm  clients    t50 s   t90 s   t99 s  t100 s   lost  att/client  peak att/s  p99 ms"
        "  server RSS after\n";
    for (const auto& s : r.storms) {
      const auto sum = summarize(s, r.tl);
      char buf[256];
      std::snprintf(buf, sizeof buf, "%5d %8llu %8s %7s %7s %7s %6llu %11.2f %11.0f %7.1f  %s\n",
                    s.index, static_cast<unsigned long long>(s.clients),
                    table_cell(sum.t50_s).c_str(), table_cell(sum.t90_s).c_str(),
                    table_cell(sum.t99_s).c_str(), table_cell(sum.t100_s).c_str(),
                    static_cast<unsigned long long>(s.lost), sum.amplification,
                    sum.peak_attempts_per_s, sum.latency_p99_ms,
                    s.server_rss_after_kb ? mb_text(*s.server_rss_after_kb).c_str() : "-");
      out += buf;
    }
  }

  if (!r.server_samples.empty()) {
    std::uint64_t peak = 0;
    std::uint64_t cpu_ms = 0;  // positive steps only: a restarted broker starts from 0
    for (std::size_t i = 0; i < r.server_samples.size(); ++i) {
      const auto& s = r.server_samples[i];
      peak = std::max(peak, s.rss_kb);
      if (i > 0 && s.cpu_ms >= r.server_samples[i - 1].cpu_ms) {
        cpu_ms += s.cpu_ms - r.server_samples[i - 1].cpu_ms;
      } else if (i > 0) {
        cpu_ms += s.cpu_ms;
      }
    }
    const auto& first = r.server_samples.front();
    const auto& last = r.server_samples.back();
    line("server", target_name(r, "broker") + (r.server_pid ? " pid " + std::to_string(*r.server_pid) : "") + ": RSS " +
                       mb_text(first.rss_kb) + " at start, peak " + mb_text(peak) + ", " +
                       mb_text(last.rss_kb) + " at the end; CPU " +
                       seconds_text(static_cast<double>(cpu_ms) / 1000) + " during the run");
  }
  if (r.tool.processes > 0) {
    line("tool", "RSS " + mb_text(r.tool.rss_connected_kb) + " with " +
                     std::to_string(r.tool.clients_connected) +
                     " clients connected = " + format("%.1f", r.tool.per_client_bytes() / 1024) +
                     " KB per client (before clients " + mb_text(r.tool.rss_before_kb) +
                     "); peak " + mb_text(r.tool.peak_kb) + "; " +
                     std::to_string(r.tool.processes) +
                     (r.tool.processes == 1 ? " process" : " processes"));
  }
  if (r.traffic) {
    const auto& t = *r.traffic;
    const auto p = [](const histogram& h) {
      return h.empty() ? std::string("-")
                       : ms_text(static_cast<double>(h.percentile(0.5)) / 1000) + " / " +
                             ms_text(static_cast<double>(h.percentile(0.99)) / 1000);
    };
    line("messages", format("%g", t.per_client_per_s) + " per client per s: sent " +
                         std::to_string(t.sent) + ", delivered " + std::to_string(t.delivered) +
                         ", lost " + std::to_string(t.lost) + ", duplicates shown " +
                         std::to_string(t.duplicates) + " (send errors resent: " +
                         std::to_string(t.send_failures) + ", unconfirmed " +
                         std::to_string(t.unconfirmed) + ")");
    line("", "delivery p50 / p99: before the storms " + p(t.before_us) + ", during " +
                 p(t.during_us) + ", after " + p(t.after_us));
  }
  line("failures", failures_text(r.failures) + " (failed attempts over the whole run)");
  if (!r.stopped.empty()) line("stopped", failures_text(r.stopped) + " (terminal codes)");

  if (!r.storms.empty()) {
    std::size_t within2 = 0, none_lost = 0;
    double worst99 = 0;
    bool worst_known = true;
    for (const auto& s : r.storms) {
      const auto t = time_to_share(s, 0.99);
      if (t && *t <= 2.0) ++within2;
      if (s.lost == 0 && s.complete) ++none_lost;
      if (t) {
        worst99 = std::max(worst99, *t);
      } else {
        worst_known = false;
      }
    }
    std::string v = "99% back within 2 s in " + std::to_string(within2) + "/" +
                    std::to_string(r.storms.size()) + " storms (worst " +
                    (worst_known ? seconds_text(worst99) : std::string("never")) +
                    "); none lost in " + std::to_string(none_lost) + "/" +
                    std::to_string(r.storms.size());
    const auto& f = r.storms.front();
    const auto& l = r.storms.back();
    // Idle: all connected after the ramp, before the first trigger. Settled: --between
    // after the storm before the last, when the server has freed what the storm took;
    // RSS "after" is read the moment the last client is back, before that.
    if (r.storms.size() > 1 && f.server_rss_before_kb && l.server_rss_before_kb &&
        *f.server_rss_before_kb > 0) {
      char ratio[32];
      std::snprintf(ratio, sizeof ratio, "%.2fx",
                    static_cast<double>(*l.server_rss_before_kb) /
                        static_cast<double>(*f.server_rss_before_kb));
      v += "; server RSS idle after the ramp " + mb_text(*f.server_rss_before_kb) +
           ", settled after storm " + std::to_string(l.index - 1) + " " +
           mb_text(*l.server_rss_before_kb) + " (" + ratio + ")";
    } else if (r.storms.size() > 1 && f.server_rss_after_kb && l.server_rss_after_kb) {
      v += "; server RSS after storm 1 " + mb_text(*f.server_rss_after_kb) + ", after storm " +
           std::to_string(l.index) + " " + mb_text(*l.server_rss_after_kb);
    }
    line("checks", v);
  }
  for (const auto& n : r.notes) line("note", n);
  return out;
}

std::string pretty_json(const json::value& v) {
  std::string out;
  write_json(out, v, 0);
  out += '\n';
  return out;
}

}  // namespace imock::storm
