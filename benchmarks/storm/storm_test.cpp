// The pure parts of imock-storm: histogram and percentile math, shard arithmetic,
// the timeline, JSON round trips and merging, the summary, the chart's markup.
#include "imock/benchmarks/storm/storm_report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "imock/benchmarks/storm/storm_chart.hpp"
#include "imock/client/connection.hpp"
#include "imock/protocol/token.hpp"

namespace imock::storm {
namespace {

namespace json = boost::json;

// --- histogram ------------------------------------------------------------------------

TEST(Histogram, BucketsAreExactBelow128AndWithin2PercentAbove) {
  for (std::uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(histogram::lower_bound(histogram::index_of(v)), v);
    EXPECT_EQ(histogram::upper_bound(histogram::index_of(v)), v);
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const auto idx = histogram::index_of(v);
    const auto lo = histogram::lower_bound(idx);
    const auto hi = histogram::upper_bound(idx);
    ASSERT_LE(lo, v) << v;
    ASSERT_GE(hi, v) << v;
    if (v >= 128) {
      ASSERT_LE(static_cast<double>(hi - lo), static_cast<double>(lo) / 63.0) << v;
    }
  }
  // Buckets tile the line: each starts right after the previous one ends.
  for (std::size_t i = 0; i + 1 < 3000; ++i) {
    ASSERT_EQ(histogram::upper_bound(i) + 1, histogram::lower_bound(i + 1)) << i;
  }
  EXPECT_EQ(histogram::upper_bound(histogram::index_of(UINT64_MAX)), UINT64_MAX);
}

TEST(Histogram, NearestRankPercentilesOfSmallExactValues) {
  histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.add(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(0.50), 50u);
  EXPECT_EQ(h.percentile(0.90), 90u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_EQ(h.percentile(1.0), 100u);
  EXPECT_EQ(h.percentile(0.0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, PercentilesOfLargeValuesAreWithinTheBucketError) {
  histogram h;
  std::vector<std::uint64_t> values;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(8.0, 2.0);  // microseconds, a long tail
  for (int i = 0; i < 20'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.add(v);
  }
  std::sort(values.begin(), values.end());
  for (const double p : {0.5, 0.9, 0.99, 0.999}) {
    const auto exact = values[static_cast<std::size_t>(std::ceil(p * 20'000)) - 1];
    const auto got = h.percentile(p);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(exact),
                std::max(1.0, static_cast<double>(exact) * 0.016))
        << p;
  }
  EXPECT_EQ(h.percentile(1.0), values.back());
}

TEST(Histogram, EmptyGivesZeros) {
  histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(Histogram, MergeEqualsAddingEverything) {
  histogram a, b, all;
  for (std::uint64_t v = 0; v < 5000; v += 3) {
    a.add(v * 17);
    all.add(v * 17);
  }
  for (std::uint64_t v = 1; v < 9000; v += 7) {
    b.add(v * 101, 2);
    all.add(v * 101, 2);
  }
  a.merge(b);
  EXPECT_EQ(a, all);
  EXPECT_EQ(a.percentile(0.99), all.percentile(0.99));
}

TEST(Histogram, JsonRoundTrip) {
  histogram h;
  for (std::uint64_t v : {0, 5, 127, 128, 1000, 123456, 99999999}) h.add(v, v % 3 + 1);
  std::string why;
  const auto back = histogram::from_json(h.to_json(), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, h);
}

TEST(Histogram, JsonWithWrongCountsIsRefused) {
  auto v = histogram{}.to_json();
  v.as_object()["count"] = 3;
  std::string why;
  EXPECT_FALSE(histogram::from_json(v, &why));
  EXPECT_NE(why.find("add up"), std::string::npos) << why;
  json::value bad = json::parse(R"({"count":1,"buckets":[[129,1]]})");
  EXPECT_FALSE(histogram::from_json(bad, &why));  // 129 is inside the bucket [128,129]
}

// --- shards ---------------------------------------------------------------------------

TEST(Shards, RangesTileAllClientsAndDifferByAtMostOne) {
  for (std::size_t total : {1u, 7u, 100u, 15000u, 20001u}) {
    for (std::size_t n : {1u, 2u, 3u, 7u}) {
      if (n > total) continue;
      std::size_t next = 0, smallest = total, largest = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto r = shard_range(total, i, n);
        EXPECT_EQ(r.begin, next);
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, total);
      EXPECT_LE(largest - smallest, 1u);
    }
  }
  EXPECT_EQ(shard_range(10, 3, 3), (client_range{0, 0}));  // out of range: empty
}

TEST(Shards, ParsesIndexOverCount) {
  std::string why;
  EXPECT_EQ(parse_shard("0/1", &why), (std::pair<std::size_t, std::size_t>{0, 1}));
  EXPECT_EQ(parse_shard("3/4", &why), (std::pair<std::size_t, std::size_t>{3, 4}));
  EXPECT_FALSE(parse_shard("4/4", &why));
  EXPECT_NE(why.find("below N"), std::string::npos);
  EXPECT_FALSE(parse_shard("1/0", &why));
  EXPECT_FALSE(parse_shard("a/2", &why));
  EXPECT_FALSE(parse_shard("2", &why));
  EXPECT_FALSE(parse_shard("-1/2", &why));
}

// --- timeline -------------------------------------------------------------------------

timeline make_timeline(std::int64_t t0, const std::vector<std::uint64_t>& attempts) {
  timeline t;
  t.t0_ms = t0;
  t.bucket_ms = 100;
  t.resize(attempts.size());
  t.attempts = attempts;
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    t.connected[i] = static_cast<std::int64_t>(10 * (i + 1));
  }
  return t;
}

TEST(Timeline, MergeAlignsOnEpochTime) {
  auto a = make_timeline(1'000'000, {1, 2, 3});
  auto b = make_timeline(1'000'200, {10, 20, 30});  // starts two buckets later
  b.failures_by_code[31003] = {0, 5, 0};
  ASSERT_TRUE(a.merge(b));
  EXPECT_EQ(a.t0_ms, 1'000'000);
  EXPECT_EQ(a.attempts, (std::vector<std::uint64_t>{1, 2, 13, 20, 30}));
  EXPECT_EQ(a.connected, (std::vector<std::int64_t>{10, 20, 40, 20, 30}));
  EXPECT_EQ(a.failures_by_code.at(31003), (std::vector<std::uint64_t>{0, 0, 0, 5, 0}));
  EXPECT_EQ(a.size(), 5u);
}

TEST(Timeline, MergeRoundsStartsToTheNearestBucket) {
  auto a = make_timeline(1'000'000, {1, 1});
  auto b = make_timeline(1'000'040, {2, 2});  // 40 ms later: same bucket
  ASSERT_TRUE(a.merge(b));
  EXPECT_EQ(a.attempts, (std::vector<std::uint64_t>{3, 3}));
}

TEST(Timeline, MergeRefusesDifferentBucketSizes) {
  auto a = make_timeline(0, {1});
  auto b = make_timeline(0, {1});
  b.bucket_ms = 250;
  EXPECT_FALSE(a.merge(b));
}

TEST(Timeline, BucketOfAndRates) {
  timeline t;
  t.t0_ms = 5000;
  t.bucket_ms = 100;
  EXPECT_EQ(t.bucket_of(5000), 0);
  EXPECT_EQ(t.bucket_of(5099), 0);
  EXPECT_EQ(t.bucket_of(5100), 1);
  EXPECT_EQ(t.bucket_of(4999), -1);
  EXPECT_DOUBLE_EQ(t.per_second(7), 70.0);
}

// --- storms ---------------------------------------------------------------------------

storm_result make_storm(std::uint64_t clients, const std::vector<std::uint64_t>& recovery_ms,
                        std::uint64_t lost = 0) {
  storm_result s;
  s.index = 1;
  s.trigger = "drop-all";
  s.armed_ms = 1'000'000;
  s.origin_ms = 1'000'000;
  s.end_ms = 1'003'000;
  s.clients = clients;
  s.affected = recovery_ms.size() + lost;
  s.recovered = recovery_ms.size();
  s.lost = lost;
  s.attempts = clients * 2;
  s.complete = lost == 0;
  for (const auto ms : recovery_ms) s.recovery_us.add(ms * 1000);
  return s;
}

TEST(Storm, TimeToShareCountsUnaffectedClientsAsBackAtOnce) {
  std::vector<std::uint64_t> ms(90);
  std::iota(ms.begin(), ms.end(), 1);  // 1..90 ms
  const auto s = make_storm(100, ms);  // 10 never disconnected
  EXPECT_DOUBLE_EQ(*time_to_share(s, 0.05), 0.0);
  // Rank 50 = the 40th recovery (40 ms), within the histogram's 1.6%.
  EXPECT_NEAR(*time_to_share(s, 0.50), 0.040, 0.040 * 0.016);
  EXPECT_DOUBLE_EQ(*time_to_share(s, 1.0), 0.090);
}

TEST(Storm, TimeToShareIsNeverWhenTooManyAreLost) {
  std::vector<std::uint64_t> ms(98, 50);
  const auto s = make_storm(100, ms, 2);
  EXPECT_TRUE(time_to_share(s, 0.98));
  EXPECT_FALSE(time_to_share(s, 0.99));
  EXPECT_FALSE(time_to_share(s, 1.0));
}

TEST(Storm, SummaryFindsThePeakAttemptRateInsideTheStorm) {
  auto s = make_storm(4, {10, 20, 30, 40});
  s.latency_us.add(500);
  s.latency_us.add(1500);
  timeline t = make_timeline(999'000, std::vector<std::uint64_t>(60, 1));
  t.attempts[5] = 999;  // before the storm (ramp): not counted
  t.attempts[12] = 40;  // inside
  const auto sum = summarize(s, t);
  EXPECT_DOUBLE_EQ(sum.peak_attempts_per_s, 400.0);
  EXPECT_DOUBLE_EQ(sum.amplification, 2.0);
  EXPECT_DOUBLE_EQ(sum.latency_max_ms, 1.5);
  EXPECT_DOUBLE_EQ(*sum.t100_s, 0.040);
}

run_result make_run(std::size_t shard, std::int64_t t0, std::uint64_t clients) {
  run_result r;
  r.config = json::object{{"clients", clients * 2}};
  r.shard_count = 2;
  r.shards = {shard};
  r.clients = clients;
  r.target = "mqtt://127.0.0.1:1883";
  r.target_kind = "imock";
  r.policy = "documented";
  r.trigger = "drop-all";
  r.start_ms = t0;
  r.end_ms = t0 + 5000;
  r.ramp_end_ms = t0 + 1000;
  r.ramp_connected = clients;
  r.ramp_attempts = clients;
  for (std::uint64_t i = 0; i < clients; ++i) {
    r.ramp_latency_us.add(300 + i);
    r.latency_us.add(300 + i);
  }
  r.tl = make_timeline(t0, {clients, 0, 0, 0, 0});
  std::vector<std::uint64_t> ms;
  for (std::uint64_t i = 0; i < clients; ++i) ms.push_back(50 + i * (shard + 1));
  auto s = make_storm(clients, ms);
  s.failures[32061] = shard + 1;
  r.storms.push_back(s);
  r.failures[32061] = shard + 1;
  r.tool.processes = 1;
  r.tool.rss_before_kb = 1000;
  r.tool.rss_connected_kb = 1000 + clients * 4;
  r.tool.peak_kb = 2000 + clients * 4;
  r.tool.clients_connected = clients;
  if (shard == 0) {
    r.server_pid = 4242;
    r.server_samples = {{t0, 1000, 10}, {t0 + 100, 2000, 30}};
    r.storms[0].server_rss_after_kb = 1500;
  }
  r.notes = {"shard " + std::to_string(shard) + " says hi"};
  return r;
}

TEST(Result, JsonRoundTripKeepsEverything) {
  const auto r = make_run(0, 1'700'000'000'000, 50);
  std::string why;
  const auto text = pretty_json(to_json(r));
  const auto back = from_json(json::parse(text), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->clients, r.clients);
  EXPECT_EQ(back->latency_us, r.latency_us);
  EXPECT_EQ(back->tl, r.tl);
  ASSERT_EQ(back->storms.size(), 1u);
  EXPECT_EQ(back->storms[0].recovery_us, r.storms[0].recovery_us);
  EXPECT_EQ(back->storms[0].failures, r.storms[0].failures);
  EXPECT_EQ(back->storms[0].server_rss_after_kb, 1500u);
  EXPECT_EQ(back->server_samples, r.server_samples);
  EXPECT_EQ(back->server_pid, 4242);
  EXPECT_EQ(back->notes, r.notes);
  EXPECT_EQ(back->tool.per_client_bytes(), r.tool.per_client_bytes());
  EXPECT_EQ(back->config, r.config);
  // Writing what was read gives the same text.
  EXPECT_EQ(pretty_json(json::parse(text)), text);
}

TEST(Result, FromJsonRejectsOtherDocuments) {
  std::string why;
  EXPECT_FALSE(from_json(json::parse(R"({"clients":1})"), &why));
  EXPECT_NE(why.find("imock-storm"), std::string::npos);
  EXPECT_FALSE(from_json(json::parse(R"([1,2])"), &why));
  EXPECT_FALSE(from_json(json::parse(R"({"tool":"imock-storm","clients":-5,"start_ms":1})"), &why));
}

TEST(Result, MergeSumsShardsAndRecomputesPercentiles) {
  const auto a = make_run(0, 1'700'000'000'000, 100);
  const auto b = make_run(1, 1'700'000'000'100, 60);
  const auto m = merge({a, b});
  EXPECT_EQ(m.clients, 160u);
  EXPECT_EQ(m.shards, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(m.start_ms, a.start_ms);
  EXPECT_EQ(m.end_ms, b.end_ms);
  EXPECT_EQ(m.ramp_connected, 160u);
  EXPECT_EQ(m.tl.attempts[0], 100u);
  EXPECT_EQ(m.tl.attempts[1], 60u);
  ASSERT_EQ(m.storms.size(), 1u);
  const auto& s = m.storms[0];
  EXPECT_EQ(s.clients, 160u);
  EXPECT_EQ(s.recovered, 160u);
  EXPECT_EQ(s.failures.at(32061), 3u);
  EXPECT_EQ(s.server_rss_after_kb, 1500u);
  // Percentiles of the union, not an average of the shards' percentiles.
  histogram all = a.storms[0].recovery_us;
  all.merge(b.storms[0].recovery_us);
  EXPECT_EQ(s.recovery_us, all);
  EXPECT_DOUBLE_EQ(*time_to_share(s, 1.0), static_cast<double>(all.max()) / 1e6);
  EXPECT_EQ(m.server_pid, 4242);
  EXPECT_EQ(m.tool.processes, 2u);
  EXPECT_EQ(m.tool.clients_connected, 160u);
  EXPECT_DOUBLE_EQ(m.tool.per_client_bytes(), 4.0 * 1024);
  EXPECT_EQ(m.notes.size(), 2u);
  EXPECT_EQ(m.failures.at(32061), 3u);
}

TEST(Result, MergeOfOneIsItself) {
  const auto a = make_run(0, 1'700'000'000'000, 10);
  const auto m = merge({a});
  EXPECT_EQ(to_json(m), to_json(a));
}

// Message traffic: its counts and delivery histograms go through JSON and add up
// over shards; the summary says lost and duplicates.
TEST(Result, TrafficSurvivesJsonAndMergesOverShards) {
  auto a = make_run(0, 1'700'000'000'000, 10);
  auto b = make_run(1, 1'700'000'000'000, 10);
  for (auto* r : {&a, &b}) {
    traffic_result t{.per_client_per_s = 1, .sent = 100, .send_failures = 3, .delivered = 99,
                     .duplicates = 0, .lost = 1};
    t.before_us.add(1000);
    t.during_us.add(50'000);
    t.after_us.add(2000);
    r->traffic = t;
    r->storms[0].delivery_during_us.add(50'000);
    r->storms[0].delivery_after_us.add(2000);
  }
  std::string why;
  const auto back = from_json(json::parse(pretty_json(to_json(a))), &why);
  ASSERT_TRUE(back) << why;
  ASSERT_TRUE(back->traffic);
  EXPECT_EQ(back->traffic->sent, 100u);
  EXPECT_EQ(back->traffic->lost, 1u);
  EXPECT_EQ(back->traffic->send_failures, 3u);
  EXPECT_EQ(back->traffic->during_us, a.traffic->during_us);
  EXPECT_EQ(back->storms[0].delivery_after_us, a.storms[0].delivery_after_us);
  const auto m = merge({a, b});
  ASSERT_TRUE(m.traffic);
  EXPECT_EQ(m.traffic->sent, 200u);
  EXPECT_EQ(m.traffic->delivered, 198u);
  EXPECT_EQ(m.traffic->lost, 2u);
  EXPECT_EQ(m.traffic->during_us.count(), 2u);
  EXPECT_EQ(m.storms[0].delivery_during_us.count(), 2u);
  const auto text = summary_text(m);
  EXPECT_NE(text.find("sent 200, delivered 198, lost 2, duplicates shown 0"), std::string::npos)
      << text;
  EXPECT_NE(text.find("during 50.0 ms / 50.0 ms"), std::string::npos) << text;
  EXPECT_FALSE(merge({make_run(0, 1'700'000'000'000, 10)}).traffic) << "no traffic: none made up";
}

TEST(Result, SummaryMentionsTheFiguresPeopleLookFor) {
  const auto text = summary_text(make_run(0, 1'700'000'000'000, 100));
  for (const char* s : {"100 clients", "reconnected 50%", "99%", "100%", "lost 0", "per client",
                        "32061", "KB per client", "checks"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
}

TEST(Result, ManyStormsGiveATable) {
  auto r = make_run(0, 1'700'000'000'000, 10);
  for (int i = 2; i <= 5; ++i) {
    auto s = r.storms[0];
    s.index = i;
    r.storms.push_back(s);
  }
  const auto text = summary_text(r);
  EXPECT_NE(text.find("storm  clients"), std::string::npos) << text;
  EXPECT_NE(text.find("in 5/5 storms"), std::string::npos) << text;
}

TEST(PrettyJson, NumbersAsPeopleWriteThem) {
  const json::value v =
      json::object{{"a", 1.5}, {"b", 2.0}, {"c", json::array{1, 2}}, {"d", 0.000012}};
  const auto text = pretty_json(v);
  EXPECT_NE(text.find("\"a\": 1.5"), std::string::npos) << text;
  EXPECT_NE(text.find("\"b\": 2"), std::string::npos) << text;
  EXPECT_NE(text.find("[1,2]"), std::string::npos) << text;
  EXPECT_EQ(text.find('E'), std::string::npos) << text;
  EXPECT_EQ(json::parse(text).at("d").as_double(), 0.000012);
}

// --- chart ----------------------------------------------------------------------------

// A minimal well-formedness check: tags nest and close, attributes are quoted,
// entities are the five XML ones.
::testing::AssertionResult well_formed_xml(const std::string& doc) {
  std::vector<std::string> open;
  std::size_t i = 0;
  while ((i = doc.find('<', i)) != std::string::npos) {
    const auto end = doc.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed < at " << i;
    std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("?") || tag.starts_with("!")) continue;
    const bool closing = tag.starts_with("/");
    const bool self = tag.ends_with("/");
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /\n"));
    if (closing) {
      if (open.empty() || open.back() != name) {
        return ::testing::AssertionFailure()
               << "</" << name << "> closes " << (open.empty() ? "nothing" : open.back());
      }
      open.pop_back();
    } else if (!self) {
      open.push_back(name);
    }
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) {
      return ::testing::AssertionFailure() << "odd quotes in <" << tag << ">";
    }
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> not closed";
  for (std::size_t a = doc.find('&'); a != std::string::npos; a = doc.find('&', a + 1)) {
    const auto rest = doc.substr(a, 6);
    if (!rest.starts_with("&amp;") && !rest.starts_with("&lt;") && !rest.starts_with("&gt;") &&
        !rest.starts_with("&quot;") && !rest.starts_with("&apos;")) {
      return ::testing::AssertionFailure() << "bare & at " << a;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Chart, SvgIsWellFormedAndMarksEveryTrigger) {
  auto r = make_run(0, 1'700'000'000'000, 100);
  r.trigger = "drop-all <&> \"quoted\"";
  r.storms[0].trigger = r.trigger;
  r.storms[0].origin_ms = r.start_ms + 200;
  const auto svg = render_svg(r, "title with <angle> & ampersand");
  EXPECT_TRUE(well_formed_xml(svg)) << svg;
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // the trigger line
  EXPECT_NE(svg.find("#1 drop-all &lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST(Chart, ALongTimelineIsDrawnInGroupsOfBucketsKeepingEachGroupsPeak) {
  // 200,000 buckets (a 33-minute run in 10 ms buckets): at most k_max_chart_points points
  // a line, and a one-bucket spike still reaches the top of its panel.
  auto r = make_run(0, 1'700'000'000'000, 10);
  r.tl.bucket_ms = 10;
  r.tl.resize(200'000);
  r.tl.attempts.assign(r.tl.size(), 1);
  r.tl.attempts[123'457] = 5'000;
  const auto svg = render_svg(r, "long");
  EXPECT_TRUE(well_formed_xml(svg));
  EXPECT_LT(svg.size(), std::size_t{1'000'000});
  EXPECT_NE(svg.find("(a point: the highest of 100)"), std::string::npos);
  // Each line of points is "x,y x,y ": two pairs a point.
  const auto blue = svg.find("stroke=\"#36c\"");
  ASSERT_NE(blue, std::string::npos);
  const auto from = svg.find("points=\"", blue) + 8;
  const auto line = svg.substr(from, svg.find('"', from) - from);
  EXPECT_EQ(static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')),
            2 * k_max_chart_points);
  // The spike's rate (5,000 in 10 ms: 500,000/s) tops the rate axis, and the thinned
  // line still reaches it: its highest point is at the 500k tick.
  const auto label = svg.find(">500k<");
  ASSERT_NE(label, std::string::npos) << "no tick at the spike's height";
  const auto y_at = svg.rfind(" y=\"", label) + 4;
  const double tick_y = std::stod(svg.substr(y_at)) - 4;  // labels sit 4 px below the line
  double top = 1e9;
  std::istringstream points(line);
  for (std::string xy; points >> xy;) top = std::min(top, std::stod(xy.substr(xy.find(',') + 1)));
  EXPECT_NEAR(top, tick_y, 0.01);
}

TEST(Chart, TrafficAddsTheMessagePanelsAndItsSeriesMergeAndRoundTrip) {
  auto r = make_run(0, 1'700'000'000'000, 50);
  EXPECT_EQ(render_svg(r, "t").find("messages shown per second"), std::string::npos);
  r.tl.with_messages = true;
  r.tl.resize(r.tl.size());
  r.tl.delivered.assign(r.tl.size(), 10);
  r.tl.delivery_max_us.assign(r.tl.size(), 2500);
  const auto svg = render_svg(r, "traffic");
  EXPECT_TRUE(well_formed_xml(svg));
  EXPECT_NE(svg.find("messages shown per second"), std::string::npos);
  EXPECT_NE(svg.find("slowest delivery in the bucket, ms"), std::string::npos);
  std::string why;
  const auto back = from_json(json::parse(pretty_json(to_json(r))), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->tl, r.tl);
  auto other = make_run(1, 1'700'000'000'000, 50);  // no traffic
  auto merged = r.tl;
  ASSERT_TRUE(merged.merge(other.tl));
  EXPECT_TRUE(merged.with_messages);
  EXPECT_EQ(merged.delivered[0], 10u);
  auto both = r.tl;
  ASSERT_TRUE(both.merge(r.tl));
  EXPECT_EQ(both.delivered[0], 20u);
  EXPECT_EQ(both.delivery_max_us[0], 2500u) << "the slowest of both, not a sum";
}

TEST(Chart, EmptyRunStillGivesAWellFormedChart) {
  run_result r;
  EXPECT_TRUE(well_formed_xml(render_svg(r, "empty")));
}

TEST(Chart, HtmlEmbedsTheSvgAndTheSummary) {
  const auto r = make_run(0, 1'700'000'000'000, 10);
  const auto html = render_html(r, "t", "line <1>\n");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("line &lt;1&gt;"), std::string::npos);
  EXPECT_TRUE(well_formed_xml(html.substr(html.find('\n') + 1)));
}

TEST(Chart, AxisTicksAreNiceAndCoverTheMaximum) {
  EXPECT_EQ(axis_ticks(15000, 5), (std::vector<double>{0, 5000, 10000, 15000}));
  EXPECT_EQ(axis_ticks(7, 5), (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(axis_ticks(0, 5), (std::vector<double>{0, 1}));
  const auto t = axis_ticks(123.4, 10);
  EXPECT_GE(t.back(), 123.4);
  EXPECT_LE(t.size(), 15u);
}

// --- the SDK option the storm adds --------------------------------------------------------

// What the state machine sends once the transport is up, with or without `plain`.
mqtt::connect first_connect(bool plain) {
  client::options o;
  o.app_key = "imock-demo-key";
  o.device_id = "dev-0-1";
  o.plain = plain;
  client::connection c;
  EXPECT_EQ(c.init(o), rc::code::ok);
  const auto tok = token::issue("imock-demo-key", "user-0-1", "secret", 1000);
  client::actions out;
  c.connect(*tok, 0, 1000, out);
  c.database_opened(rc::code::ok, 1000, out);
  out.clear();
  c.transport_up(1001, out);
  for (const auto& a : out) {
    if (const auto* s = std::get_if<client::send>(&a)) {
      if (const auto* p = std::get_if<mqtt::connect>(&s->packet)) return *p;
    }
  }
  ADD_FAILURE() << "no CONNECT sent";
  return {};
}

TEST(SdkPlain, PlainConnectCarriesNoImockUserProperties) {
  const auto plain = first_connect(true);
  EXPECT_TRUE(plain.props.user_properties.empty());
  EXPECT_EQ(plain.username, "imock-demo-key");  // the rest is as usual
  EXPECT_EQ(plain.client_id, "dev-0-1");
  EXPECT_FALSE(plain.password.value_or("").empty());
  const auto normal = first_connect(false);
  EXPECT_FALSE(normal.props.user_properties.empty());
  EXPECT_NE(normal.props.find_user_property("imock-platform"), nullptr);
}

}  // namespace
}  // namespace imock::storm
