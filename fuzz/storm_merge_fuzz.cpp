// libFuzzer target for imock-storm's results (benchmarks/storm/storm_report.hpp): what
// `imock-storm merge` and the storm parent do with shard results they read back, from
// a child's line (json::serialize) or a file (pretty_json): from_json, merge, to_json,
// pretty_json, summary_text and the chart.
//
// Input layout: up to 4 JSON documents separated by NUL bytes (JSON text never holds a
// raw NUL, so any document can be a piece; a fifth NUL and what follows stay in the
// fourth). A piece that is not JSON is skipped, as the tool refuses it before from_json.
//
// Checks, for any input:
//   - from_json either loads or says why (a non-empty error), with or without an
//     error string to fill;
//   - a loaded result is consistent as to_json writes them: every timeline series as
//     long as `attempts`, histograms whose count, min and max agree with their buckets;
//   - round trips (differential): to_json is stable; from_json(to_json(r)) writes the
//     same JSON again; the file path, pretty_json -> parse -> from_json, loads and
//     writes the same text, and pretty_json(parse(text)) is that text;
//   - time_to_share never reaches a larger share sooner, percentiles are in order;
//   - merge of the loaded results (storm_test.cpp's expectations): counts add up over
//     the parts (clients, ramp, attempts, failures and stopped by code, tool memory,
//     traffic, per storm index), shards are the sorted union, times are the earliest
//     start and the latest end, storms sorted by index, timelines add up unless a
//     note says which were left out, no note is lost or doubled; merge of the merged
//     is itself;
//   - the merged result survives the same round trips, and summary_text, render_svg and
//     render_html run on every result; the SVG and HTML are well-formed (tags nest,
//     attributes quoted, only XML entities), whatever the strings in the input.
#include <algorithm>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "imock/base/json_exact.hpp"
#include "imock/benchmarks/storm/storm_chart.hpp"
#include "imock/benchmarks/storm/storm_report.hpp"
#include "imock/fuzz/fuzz_input.hpp"

namespace {

using imock::fuzz::check;
namespace json = boost::json;
namespace json_exact = imock::json_exact;
namespace storm = imock::storm;

constexpr std::size_t k_max_documents = 4;

std::vector<std::string_view> documents(std::string_view input) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < k_max_documents) {
    const auto nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  out.push_back(input);
  return out;
}

std::optional<storm::run_result> load(const json::value& v) {
  std::string why;
  auto r = storm::from_json(v, &why);
  check(r.has_value() == why.empty());
  check(storm::from_json(v, nullptr).has_value() == r.has_value());
  return r;
}

std::string text_of(const storm::run_result& r) { return json::serialize(storm::to_json(r)); }

// A histogram as to_json writes one: empty with zeros, or min and max in the first and
// last used buckets.
void check_histogram(const storm::histogram& h) {
  const auto v = h.to_json();
  const auto& buckets = v.at("buckets").as_array();
  if (h.empty()) {
    check(buckets.empty() && h.max() == 0 && v.at("sum").to_number<std::uint64_t>() == 0);
    return;
  }
  check(!buckets.empty() && h.min() <= h.max());
  const auto first = buckets.front().as_array()[0].to_number<std::uint64_t>();
  const auto last = buckets.back().as_array()[0].to_number<std::uint64_t>();
  check(storm::histogram::lower_bound(storm::histogram::index_of(h.min())) == first);
  check(storm::histogram::lower_bound(storm::histogram::index_of(h.max())) == last);
  const auto p50 = h.percentile(0.5);
  const auto p99 = h.percentile(0.99);
  check(h.min() <= p50 && p50 <= p99 && p99 <= h.max());
}

void check_timeline(const storm::timeline& tl) {
  const auto n = tl.size();
  check(tl.connected.size() == n && tl.successes.size() == n && tl.failures.size() == n);
  for (const auto& [code, v] : tl.failures_by_code) check(v.size() == n);
  if (tl.with_messages) check(tl.delivered.size() == n && tl.delivery_max_us.size() == n);
}

// A larger share of the clients is never back sooner than a smaller one.
void check_shares(const storm::storm_result& s, const storm::timeline& tl) {
  const auto sum = storm::summarize(s, tl);
  const std::optional<double> shares[] = {sum.t50_s, sum.t90_s, sum.t99_s, sum.t100_s};
  for (std::size_t i = 1; i < 4; ++i) {
    if (shares[i]) check(shares[i - 1] && *shares[i - 1] <= *shares[i]);
  }
  check(sum.latency_p50_ms <= sum.latency_p99_ms && sum.latency_p99_ms <= sum.latency_max_ms);
}

void check_consistent(const storm::run_result& r) {
  check_timeline(r.tl);
  for (const auto* h : {&r.ramp_latency_us, &r.latency_us}) check_histogram(*h);
  for (const auto& s : r.storms) {
    for (const auto* h :
         {&s.recovery_us, &s.latency_us, &s.delivery_during_us, &s.delivery_after_us}) {
      check_histogram(*h);
    }
    check_shares(s, r.tl);
  }
  if (r.traffic) {
    for (const auto* h : {&r.traffic->before_us, &r.traffic->during_us, &r.traffic->after_us}) {
      check_histogram(*h);
    }
  }
}

// A minimal well-formedness check (storm_test.cpp's): tags nest and close, attributes
// are quoted, entities are the five XML ones.
bool well_formed_xml(std::string_view doc) {
  std::vector<std::string_view> open;
  std::size_t i = 0;
  while ((i = doc.find('<', i)) != std::string_view::npos) {
    const auto end = doc.find('>', i);
    if (end == std::string_view::npos) return false;
    const auto tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("?") || tag.starts_with("!")) continue;
    const bool closing = tag.starts_with("/");
    auto name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /\n"));
    if (closing) {
      if (open.empty() || open.back() != name) return false;
      open.pop_back();
    } else if (!tag.ends_with("/")) {
      open.push_back(name);
    }
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return false;
  }
  if (!open.empty()) return false;
  for (auto a = doc.find('&'); a != std::string_view::npos; a = doc.find('&', a + 1)) {
    const auto rest = doc.substr(a, 6);
    if (!rest.starts_with("&amp;") && !rest.starts_with("&lt;") && !rest.starts_with("&gt;") &&
        !rest.starts_with("&quot;") && !rest.starts_with("&apos;")) {
      return false;
    }
  }
  return true;
}

void check_rendering(const storm::run_result& r) {
  const auto summary = storm::summary_text(r);
  check(!summary.empty());
  // The title carries the input's strings, as storm.cpp's chart_title does.
  const auto title = "imock-storm: " + r.policy + " policy, " + r.trigger + " -> " + r.target;
  check(well_formed_xml(storm::render_svg(r, title)));
  const auto html = storm::render_html(r, title, summary);
  check(html.starts_with("<!DOCTYPE html>\n"));
  check(well_formed_xml(std::string_view(html).substr(html.find('\n') + 1)));
}

// Both ways a result travels: a child's line and a file.
void check_round_trips(const storm::run_result& r) {
  check_consistent(r);
  const auto j = storm::to_json(r);
  const auto line = json::serialize(j);
  check(text_of(r) == line);
  const auto back = load(j);
  check(back.has_value() && text_of(*back) == line);

  const auto file = storm::pretty_json(j);
  json::error_code ec;
  const auto parsed = json_exact::parse(file, ec);
  check(!ec);
  check(storm::pretty_json(parsed) == file);
  const auto from_file = load(parsed);
  check(from_file.has_value());
  check(storm::pretty_json(storm::to_json(*from_file)) == file);
}

void add_codes(std::map<int, std::uint64_t>& into, const std::map<int, std::uint64_t>& from) {
  for (const auto& [k, v] : from) into[k] += v;
}

// Sums over every storm of every part with that index.
struct storm_totals {
  std::uint64_t clients = 0, affected = 0, recovered = 0, lost = 0, attempts = 0, recoveries = 0;
  bool complete = true;
};

std::map<int, storm_totals> storms_by_index(const std::vector<storm::run_result>& parts) {
  std::map<int, storm_totals> out;
  for (const auto& p : parts) {
    for (const auto& s : p.storms) {
      auto& t = out[s.index];
      t.clients += s.clients;
      t.affected += s.affected;
      t.recovered += s.recovered;
      t.lost += s.lost;
      t.attempts += s.attempts;
      t.recoveries += s.recovery_us.count();
      t.complete = t.complete && s.complete;
    }
  }
  return out;
}

void check_storms(const storm::run_result& m, const std::vector<storm::run_result>& parts) {
  const auto totals = storms_by_index(parts);
  check(m.storms.size() == totals.size());
  auto it = totals.begin();
  for (const auto& s : m.storms) {  // sorted by index, one per index: the map's order
    const auto& [index, t] = *it++;
    check(s.index == index);
    check(s.clients == t.clients && s.affected == t.affected && s.recovered == t.recovered);
    check(s.lost == t.lost && s.attempts == t.attempts && s.complete == t.complete);
    check(s.recovery_us.count() == t.recoveries);
  }
}

// Per series, the total over all buckets; unsigned so that sums wrap as the merge's do.
struct timeline_totals {
  std::uint64_t connected = 0, attempts = 0, successes = 0, failures = 0, delivered = 0;
  friend bool operator==(const timeline_totals&, const timeline_totals&) = default;
};

void add_timeline(timeline_totals& t, const storm::timeline& tl) {
  for (std::size_t i = 0; i < tl.size(); ++i) {
    t.connected += static_cast<std::uint64_t>(tl.connected[i]);
    t.attempts += tl.attempts[i];
    t.successes += tl.successes[i];
    t.failures += tl.failures[i];
    if (i < tl.delivered.size()) t.delivered += tl.delivered[i];
  }
}

void check_timelines(const storm::run_result& m, const std::vector<storm::run_result>& parts) {
  std::set<std::int64_t> bucket_sizes;
  timeline_totals expected;
  for (const auto& p : parts) {
    if (p.tl.size() == 0) continue;
    bucket_sizes.insert(p.tl.bucket_ms);
    add_timeline(expected, p.tl);
  }
  const auto noted = [&](std::string_view note) {
    return std::find(m.notes.begin(), m.notes.end(), note) != m.notes.end();
  };
  if (bucket_sizes.size() > 1) {
    check(noted("timelines with different bucket sizes were not merged"));
  }
  // A timeline left out is named in a note; with none left out, the counts add up.
  if (bucket_sizes.size() > 1 || noted("timelines too far apart in time were not merged")) return;
  timeline_totals merged;
  add_timeline(merged, m.tl);
  check(merged == expected);
}

void check_merge(const storm::run_result& m, const std::vector<storm::run_result>& parts) {
  std::uint64_t clients = 0, ramp_connected = 0, ramp_attempts = 0, latencies = 0;
  std::uint64_t processes = 0, peak_kb = 0, clients_connected = 0, sent = 0, lost = 0;
  std::size_t shard_count = 0;
  std::int64_t start = parts.front().start_ms, end = parts.front().end_ms;
  std::map<int, std::uint64_t> failures, stopped;
  std::set<std::size_t> shards;
  std::set<std::string> notes;
  bool traffic = false;
  for (const auto& p : parts) {
    clients += p.clients;
    ramp_connected += p.ramp_connected;
    ramp_attempts += p.ramp_attempts;
    latencies += p.latency_us.count();
    processes += p.tool.processes;
    peak_kb += p.tool.peak_kb;
    clients_connected += p.tool.clients_connected;
    shard_count = std::max(shard_count, p.shard_count);
    start = std::min(start, p.start_ms);
    end = std::max(end, p.end_ms);
    add_codes(failures, p.failures);
    add_codes(stopped, p.stopped);
    shards.insert(p.shards.begin(), p.shards.end());
    notes.insert(p.notes.begin(), p.notes.end());
    if (p.traffic) {
      traffic = true;
      sent += p.traffic->sent;
      lost += p.traffic->lost;
    }
  }
  check(m.clients == clients && m.ramp_connected == ramp_connected);
  check(m.ramp_attempts == ramp_attempts && m.latency_us.count() == latencies);
  check(m.tool.processes == static_cast<unsigned>(processes) && m.tool.peak_kb == peak_kb);
  check(m.tool.clients_connected == clients_connected && m.shard_count == shard_count);
  check(m.start_ms == start && m.end_ms == end);
  check(m.failures == failures && m.stopped == stopped);
  check(m.shards == std::vector<std::size_t>(shards.begin(), shards.end()));
  check(m.traffic.has_value() == traffic);
  if (traffic) check(m.traffic->sent == sent && m.traffic->lost == lost);
  const std::set<std::string> merged_notes(m.notes.begin(), m.notes.end());
  check(merged_notes.size() == m.notes.size());  // no note twice
  for (const auto& n : notes) check(merged_notes.contains(n));
  check_storms(m, parts);
  check_timelines(m, parts);
  check(text_of(storm::merge({m})) == text_of(m));
}

}  // namespace

// Merged timelines longer than this skip the round trips and the chart (see below).
constexpr std::size_t k_round_trip_buckets = 50'000;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<storm::run_result> parts;
  for (const auto doc : documents(input)) {
    json::error_code ec;
    const auto v = json_exact::parse(doc, ec);
    if (ec) continue;
    auto r = load(v);
    if (!r) continue;
    check_round_trips(*r);
    check_rendering(*r);
    parts.push_back(std::move(*r));
  }
  if (parts.empty()) return 0;
  const auto merged = storm::merge(parts);
  check_merge(merged, parts);
  // Shards far apart in time merge into a timeline of up to a million buckets: the
  // sums above check it, but writing, reading and drawing it again takes seconds per
  // input under the sanitizers (libFuzzer's 10 s time-out on a busy machine) and tries
  // no code that a shorter one does not.
  if (merged.tl.size() > k_round_trip_buckets) return 0;
  check_round_trips(merged);
  check_rendering(merged);
  return 0;
}
