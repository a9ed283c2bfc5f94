// The trace of a scenario run: stamping, searching and waiting on it, the entries of
// server events, the matchers expectations use, and the text and JSON rendered from it.
#include "imock/harness/trace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "imock/harness/scenario.hpp"
#include "imock/protocol/codes.hpp"
#include "imock/server/event_log.hpp"

namespace imock::harness {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

trace_entry client_entry(std::string source, std::string kind, int status = -1, int code = 0) {
  return trace_entry{
      .source = std::move(source), .kind = std::move(kind), .status = status, .code = code};
}

trace_entry server_entry(std::string kind, int code, std::string user, std::string device,
                         std::string detail) {
  return trace_entry{.source = "server",
                     .kind = std::move(kind),
                     .code = code,
                     .user = std::move(user),
                     .device = std::move(device),
                     .detail = std::move(detail)};
}

trace_log::pred status_is(int status) {
  return [status](const trace_entry& e) { return e.kind == "status" && e.status == status; };
}

// Each line of `jsonl` parsed; fails the test for a line that is not a JSON object or
// for text after the last newline.
std::vector<json::object> parse_lines(const std::string& jsonl) {
  std::vector<json::object> out;
  std::size_t begin = 0;
  while (begin < jsonl.size()) {
    const auto end = jsonl.find('\n', begin);
    if (end == std::string::npos) {
      ADD_FAILURE() << "no newline after the last line: " << jsonl.substr(begin);
      break;
    }
    const auto line = jsonl.substr(begin, end - begin);
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << line;
    } else {
      out.push_back(v.as_object());
    }
    begin = end + 1;
  }
  return out;
}

// --- trace_log ---------------------------------------------------------------------

TEST(TraceLog, AddStampsEachEntryWithTheInjectedClock) {
  std::int64_t now = 100;
  trace_log log([&] { return now; });
  log.add(client_entry("alice", "status", 10));
  now = 250;
  trace_entry late = client_entry("alice", "status", 0);
  late.t_ms = 999'999;  // the caller's time is replaced by the clock's
  log.add(late);
  now = 1'000;  // moving the clock later does not restamp what is there
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log.at(0).t_ms, 100);
  EXPECT_EQ(log.at(1).t_ms, 250);
}

TEST(TraceLog, AddKeepsEveryFieldButTheTime) {
  trace_log log([] { return std::int64_t{7}; });
  log.add(trace_entry{.t_ms = 1,
                      .source = "alice",
                      .kind = "attempt",
                      .status = 10,
                      .code = 31004,
                      .user = "alice",
                      .device = "phone",
                      .detail = "tcp",
                      .client_ms = 4'321});
  const auto e = log.at(0);
  EXPECT_EQ(e.t_ms, 7);
  EXPECT_EQ(e.source, "alice");
  EXPECT_EQ(e.kind, "attempt");
  EXPECT_EQ(e.status, 10);
  EXPECT_EQ(e.code, 31004);
  EXPECT_EQ(e.user, "alice");
  EXPECT_EQ(e.device, "phone");
  EXPECT_EQ(e.detail, "tcp");
  EXPECT_EQ(e.client_ms, 4'321);
}

TEST(TraceLog, SnapshotAtAndSizeGiveTheEntriesInTheOrderAdded) {
  std::int64_t now = 0;
  trace_log log([&] { return now; });
  EXPECT_EQ(log.size(), 0U);
  EXPECT_TRUE(log.snapshot().empty());
  EXPECT_THROW((void)log.at(0), std::out_of_range);

  log.add(client_entry("alice", "status", 10));
  now = 5;
  log.add(client_entry("bob", "success"));
  now = 9;
  log.add(server_entry("connect", 0, "alice", "phone", ""));
  EXPECT_EQ(log.size(), 3U);
  EXPECT_EQ(log.at(1).source, "bob");
  EXPECT_THROW((void)log.at(3), std::out_of_range);

  const auto snap = log.snapshot();
  ASSERT_EQ(snap.size(), 3U);
  EXPECT_EQ(snap[0].source, "alice");
  EXPECT_EQ(snap[1].source, "bob");
  EXPECT_EQ(snap[2].source, "server");
  EXPECT_EQ(snap[2].t_ms, 9);

  // A snapshot is a copy: later additions do not show in it.
  log.add(client_entry("carol", "status", 10));
  EXPECT_EQ(snap.size(), 3U);
  EXPECT_EQ(log.size(), 4U);
}

TEST(TraceLog, FindStartsAtTheIndexAndKeepsToTheSource) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));  // 0
  log.add(client_entry("bob", "status", 10));    // 1
  log.add(client_entry("alice", "status", 13));  // 2
  log.add(client_entry("alice", "status", 10));  // 3
  log.add(client_entry("bob", "status", 13));    // 4

  EXPECT_EQ(log.find("alice", 0, status_is(10)), 0U);
  EXPECT_EQ(log.find("alice", 1, status_is(10)), 3U);  // skips bob's at 1
  EXPECT_EQ(log.find("alice", 3, status_is(10)), 3U);  // `from` itself is searched
  EXPECT_EQ(log.find("alice", 4, status_is(10)), std::nullopt);
  EXPECT_EQ(log.find("bob", 0, status_is(10)), 1U);
  EXPECT_EQ(log.find("bob", 0, status_is(13)), 4U);
  EXPECT_EQ(log.find("alice", 0, status_is(13)), 2U);
  EXPECT_EQ(log.find("carol", 0, status_is(10)), std::nullopt);
  EXPECT_EQ(log.find("alice", 0, status_is(6)), std::nullopt);
  EXPECT_EQ(log.find("alice", 5, status_is(10)), std::nullopt);    // at the end
  EXPECT_EQ(log.find("alice", 100, status_is(10)), std::nullopt);  // past the end
}

TEST(TraceLog, FindAsksThePredicateOnlyAboutTheSourcesEntries) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));
  log.add(client_entry("bob", "status", 10));
  log.add(client_entry("alice", "status", 13));
  std::vector<std::string> asked;
  const auto found = log.find("alice", 0, [&](const trace_entry& e) {
    asked.push_back(e.source);
    return false;
  });
  EXPECT_EQ(found, std::nullopt);
  EXPECT_EQ(asked, (std::vector<std::string>{"alice", "alice"}));
}

TEST(TraceLog, CountHonoursFromAndSource) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));  // 0
  log.add(client_entry("bob", "status", 10));    // 1
  log.add(client_entry("alice", "status", 13));  // 2
  log.add(client_entry("alice", "status", 10));  // 3
  log.add(client_entry("alice", "status", 10));  // 4

  EXPECT_EQ(log.count("alice", 0, status_is(10)), 3);
  EXPECT_EQ(log.count("alice", 1, status_is(10)), 2);
  EXPECT_EQ(log.count("alice", 4, status_is(10)), 1);  // `from` itself counts
  EXPECT_EQ(log.count("alice", 5, status_is(10)), 0);
  EXPECT_EQ(log.count("alice", 100, status_is(10)), 0);
  EXPECT_EQ(log.count("bob", 0, status_is(10)), 1);
  EXPECT_EQ(log.count("bob", 2, status_is(10)), 0);
  EXPECT_EQ(log.count("alice", 0, status_is(13)), 1);
  EXPECT_EQ(log.count("carol", 0, status_is(10)), 0);
  EXPECT_EQ(log.count("alice", 0, [](const trace_entry&) { return true; }), 4);
}

TEST(TraceLog, WaitGrowthReturnsTrueWhenAnotherThreadAdds) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));
  std::thread adder([&] {
    // Most likely the waiter is asleep by then, so the add has to wake it; the test
    // passes whichever comes first (an add before the wait is seen at once).
    std::this_thread::sleep_for(20ms);
    log.add(client_entry("alice", "status", 0));
  });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  const bool grew = log.wait_growth(1, deadline);
  const auto returned = std::chrono::steady_clock::now();
  adder.join();
  EXPECT_TRUE(grew);
  // Woken by the add, not by the deadline (which would also see the entry).
  EXPECT_LT(returned, deadline);
  EXPECT_EQ(log.size(), 2U);
}

TEST(TraceLog, WaitGrowthReturnsTrueAtOnceWhenTheTraceIsAlreadyLarger) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));
  log.add(client_entry("alice", "status", 0));
  // A deadline already past: only the size decides.
  const auto past = std::chrono::steady_clock::now() - 1s;
  EXPECT_TRUE(log.wait_growth(0, past));
  EXPECT_TRUE(log.wait_growth(1, past));
  EXPECT_FALSE(log.wait_growth(2, past));
}

TEST(TraceLog, WaitGrowthReturnsFalseAtTheDeadline) {
  trace_log log([] { return std::int64_t{0}; });
  log.add(client_entry("alice", "status", 10));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(log.wait_growth(1, start + 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_EQ(log.size(), 1U);
}

TEST(TraceLog, AddFromManyThreadsKeepsEveryEntry) {
  trace_log log([] { return std::int64_t{3}; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i) log.add(client_entry("c" + std::to_string(t), "attempt"));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log.size(), 2'000U);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(log.count("c" + std::to_string(t), 0,
                        [](const trace_entry& e) { return e.kind == "attempt" && e.t_ms == 3; }),
              500);
  }
}

// --- trace_entry_of ----------------------------------------------------------------

TEST(TraceEntryOf, LeavesOutStartAcceptAndApi) {
  for (const auto kind :
       {server::event_kind::start, server::event_kind::accept, server::event_kind::api}) {
    server::event e{.kind = kind, .user = "alice", .device = "phone", .code = 31004};
    EXPECT_EQ(trace_entry_of(e), std::nullopt) << server::k_event_kind_names.of(kind);
  }
}

TEST(TraceEntryOf, KeepsEveryOtherKindUnderItsEventLogName) {
  int kept = 0;
  for (const auto& [name, kind] : server::k_event_kind_names.rows) {
    const auto entry = trace_entry_of(server::event{.kind = kind});
    EXPECT_EQ(entry.has_value(), !server::left_out_of_traces(kind)) << name;
    if (entry) {
      ++kept;
      EXPECT_EQ(entry->kind, name);
      EXPECT_EQ(entry->source, "server") << name;
    }
  }
  EXPECT_EQ(kept, static_cast<int>(server::k_event_kind_names.rows.size()) - 3);
}

TEST(TraceEntryOf, CarriesKindCodeUserDeviceAndDetail) {
  const server::event e{.seq = 42,
                        .t_ms = 1'234,
                        .kind = server::event_kind::connect,
                        .session = 7,
                        .app = "app1",
                        .user = "alice",
                        .device = "phone",
                        .transport = "tcp",
                        .code = 31004,
                        .detail = "token expired"};
  const auto entry = trace_entry_of(e);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->source, "server");
  EXPECT_EQ(entry->kind, "connect");
  EXPECT_EQ(entry->code, 31004);
  EXPECT_EQ(entry->user, "alice");
  EXPECT_EQ(entry->device, "phone");
  EXPECT_EQ(entry->detail, "token expired");
  EXPECT_EQ(entry->status, -1);  // server events have no client status
  EXPECT_EQ(entry->client_ms, 0);
}

// --- matches(client_event_match) ---------------------------------------------------

// An entry every client match below is written to accept.
trace_entry client_base() {
  return trace_entry{.t_ms = 500,
                     .source = "alice",
                     .kind = "returned",
                     .status = 13,
                     .code = 31010,
                     .user = "alice",
                     .device = "phone",
                     .detail = "disconnect",
                     .client_ms = 77};
}

TEST(ClientEventMatch, WithOnlyTheEventMatchesAnyFields) {
  const client_event_match m{.event = "returned"};
  EXPECT_TRUE(matches(m, client_base()));
  auto other = client_base();
  other.status = 0;
  other.code = 0;
  other.user = "zed";
  other.device = "";
  other.detail = "logout";
  other.source = "bob";
  other.t_ms = 0;
  other.client_ms = 0;
  EXPECT_TRUE(matches(m, other));
  EXPECT_TRUE(matches(m, trace_entry{.kind = "returned"}));
}

TEST(ClientEventMatch, EventRejectsAnotherKind) {
  auto e = client_base();
  e.kind = "error";
  EXPECT_FALSE(matches(client_event_match{.event = "returned"}, e));
  EXPECT_FALSE(matches(client_event_match{.event = ""}, client_base()));
}

TEST(ClientEventMatch, StatusRejectsAnotherStatus) {
  const client_event_match m{.event = "returned", .status = 13};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.status = 10;
  EXPECT_FALSE(matches(m, e));
  e.status = -1;
  EXPECT_FALSE(matches(m, e));
}

TEST(ClientEventMatch, StatusZeroIsAConstraintNotUnset) {
  const client_event_match m{.event = "status", .status = 0};
  EXPECT_TRUE(matches(m, client_entry("alice", "status", 0)));
  EXPECT_FALSE(matches(m, client_entry("alice", "status", 10)));
}

TEST(ClientEventMatch, CodeRejectsAnotherCode) {
  const client_event_match m{.event = "returned", .code = 31010};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.code = 31023;
  EXPECT_FALSE(matches(m, e));
}

TEST(ClientEventMatch, CodeZeroIsAConstraintNotUnset) {
  const client_event_match m{.event = "db_opened", .code = 0};
  EXPECT_TRUE(matches(m, client_entry("alice", "db_opened", -1, 0)));
  EXPECT_FALSE(matches(m, client_entry("alice", "db_opened", -1, 33002)));
}

TEST(ClientEventMatch, UserRejectsAnotherUser) {
  const client_event_match m{.event = "returned", .user = "alice"};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.user = "bob";
  EXPECT_FALSE(matches(m, e));
  e.user = "";
  EXPECT_FALSE(matches(m, e));
}

// `success:` with no user in a scenario: any user.
TEST(ClientEventMatch, EmptyUserMatchesAnyUser) {
  const client_event_match m{.event = "returned", .user = ""};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.user = "bob";
  EXPECT_TRUE(matches(m, e));
}

TEST(ClientEventMatch, CallRejectsAnotherDetail) {
  const client_event_match m{.event = "returned", .call = "disconnect"};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.detail = "logout";
  EXPECT_FALSE(matches(m, e));
  e.detail = "disconnect now";  // the whole detail, not a part of it
  EXPECT_FALSE(matches(m, e));
}

TEST(ClientEventMatch, WithEveryFieldSetRejectsAnEntryThatDiffersInAnyOne) {
  const client_event_match m{
      .event = "returned", .status = 13, .code = 31010, .user = "alice", .call = "disconnect"};
  EXPECT_TRUE(matches(m, client_base()));
  auto e = client_base();
  e.kind = "error";
  EXPECT_FALSE(matches(m, e)) << "event";
  e = client_base();
  e.status = 14;
  EXPECT_FALSE(matches(m, e)) << "status";
  e = client_base();
  e.code = 31011;
  EXPECT_FALSE(matches(m, e)) << "code";
  e = client_base();
  e.user = "bob";
  EXPECT_FALSE(matches(m, e)) << "user";
  e = client_base();
  e.detail = "logout";
  EXPECT_FALSE(matches(m, e)) << "call";
  // What a client match cannot constrain does not matter.
  e = client_base();
  e.source = "bob";
  e.device = "tablet";
  e.t_ms = 9;
  e.client_ms = 9;
  EXPECT_TRUE(matches(m, e));
}

// --- matches(server_event_match) ---------------------------------------------------

trace_entry server_base() {
  return server_entry("connect", 31004, "alice", "phone", "refused: token expired");
}

TEST(ServerEventMatch, WithOnlyTheKindMatchesAnyFields) {
  const server_event_match m{.kind = "connect"};
  EXPECT_TRUE(matches(m, server_base()));
  EXPECT_TRUE(matches(m, server_entry("connect", 0, "", "", "")));
  EXPECT_TRUE(matches(m, server_entry("connect", 31010, "bob", "tablet", "anything")));
}

TEST(ServerEventMatch, KindRejectsAnotherKind) {
  EXPECT_FALSE(matches(server_event_match{.kind = "kick"}, server_base()));
  EXPECT_FALSE(matches(server_event_match{.kind = ""}, server_base()));
}

TEST(ServerEventMatch, CodeRejectsAnotherCode) {
  const server_event_match m{.kind = "connect", .code = 31004};
  EXPECT_TRUE(matches(m, server_base()));
  auto e = server_base();
  e.code = 31005;
  EXPECT_FALSE(matches(m, e));
}

TEST(ServerEventMatch, CodeZeroIsAConstraintNotUnset) {
  const server_event_match m{.kind = "connect", .code = 0};
  EXPECT_TRUE(matches(m, server_entry("connect", 0, "alice", "phone", "")));
  EXPECT_FALSE(matches(m, server_base()));
}

TEST(ServerEventMatch, UserRejectsAnotherUser) {
  const server_event_match m{.kind = "connect", .user = "alice"};
  EXPECT_TRUE(matches(m, server_base()));
  auto e = server_base();
  e.user = "bob";
  EXPECT_FALSE(matches(m, e));
}

// Unlike a client match, an empty user is a constraint: events about no user.
TEST(ServerEventMatch, EmptyUserMatchesOnlyEventsWithoutAUser) {
  const server_event_match m{.kind = "connect", .user = ""};
  EXPECT_FALSE(matches(m, server_base()));
  EXPECT_TRUE(matches(m, server_entry("connect", 31004, "", "phone", "")));
}

TEST(ServerEventMatch, DeviceRejectsAnotherDevice) {
  const server_event_match m{.kind = "connect", .device = "phone"};
  EXPECT_TRUE(matches(m, server_base()));
  auto e = server_base();
  e.device = "tablet";
  EXPECT_FALSE(matches(m, e));
}

TEST(ServerEventMatch, DetailContainsLooksForAPartOfTheDetail) {
  EXPECT_TRUE(
      matches(server_event_match{.kind = "connect", .detail_contains = "token"}, server_base()));
  EXPECT_TRUE(
      matches(server_event_match{.kind = "connect", .detail_contains = "refused"}, server_base()));
  EXPECT_TRUE(
      matches(server_event_match{.kind = "connect", .detail_contains = "refused: token expired"},
              server_base()));
  EXPECT_TRUE(matches(server_event_match{.kind = "connect", .detail_contains = ""}, server_base()));
  EXPECT_FALSE(
      matches(server_event_match{.kind = "connect", .detail_contains = "blocked"}, server_base()));
  EXPECT_FALSE(matches(server_event_match{.kind = "connect", .detail_contains = "Token"},
                       server_base()));  // case counts
  auto e = server_base();
  e.detail = "";
  EXPECT_FALSE(matches(server_event_match{.kind = "connect", .detail_contains = "token"}, e));
}

TEST(ServerEventMatch, WithEveryFieldSetRejectsAnEntryThatDiffersInAnyOne) {
  const server_event_match m{.kind = "connect",
                             .code = 31004,
                             .user = "alice",
                             .device = "phone",
                             .detail_contains = "token"};
  EXPECT_TRUE(matches(m, server_base()));
  auto e = server_base();
  e.kind = "kick";
  EXPECT_FALSE(matches(m, e)) << "kind";
  e = server_base();
  e.code = 31010;
  EXPECT_FALSE(matches(m, e)) << "code";
  e = server_base();
  e.user = "bob";
  EXPECT_FALSE(matches(m, e)) << "user";
  e = server_base();
  e.device = "tablet";
  EXPECT_FALSE(matches(m, e)) << "device";
  e = server_base();
  e.detail = "refused: blocked";
  EXPECT_FALSE(matches(m, e)) << "detail_contains";
  // What a server match cannot constrain does not matter.
  e = server_base();
  e.source = "alice";
  e.status = 10;
  e.t_ms = 9;
  e.client_ms = 9;
  EXPECT_TRUE(matches(m, e));
}

// --- describe ----------------------------------------------------------------------

TEST(DescribeEntry, StatusGivesTheValueItsNameAndTheCause) {
  EXPECT_EQ(describe(client_entry("alice", "status", 13, 32061)),
            "status 13 Suspend (cause 32061)");
  EXPECT_EQ(describe(client_entry("alice", "status", 10)), "status 10 Connecting");
  EXPECT_EQ(describe(client_entry("alice", "status", 0)), "status 0 Connected");
  EXPECT_EQ(describe(client_entry("alice", "status", 99)), "status 99 ?");
}

TEST(DescribeEntry, ClientErrorAndDbOpenedGiveTheCode) {
  EXPECT_EQ(describe(client_entry("alice", "error", -1, 34006)), "error 34006");
  EXPECT_EQ(describe(client_entry("alice", "db_opened", -1, 0)), "db_opened 0");
}

TEST(DescribeEntry, ServerErrorUsesTheServerForm) {
  EXPECT_EQ(describe(server_entry("error", 0, "", "", "cannot bind 8443")),
            "error cannot bind 8443");
  EXPECT_EQ(describe(server_entry("error", 30001, "", "", "cannot bind")),
            "error code=30001 cannot bind");
}

TEST(DescribeEntry, ReturnedGivesTheCallAndItsCode) {
  auto e = client_entry("alice", "returned", -1, 0);
  e.detail = "disconnect";
  EXPECT_EQ(describe(e), "returned disconnect -> 0");
  e.detail = "reconnect_kick";
  e.code = 33001;
  EXPECT_EQ(describe(e), "returned reconnect_kick -> 33001");
}

TEST(DescribeEntry, SuccessGivesTheUser) {
  auto e = client_entry("phone", "success");
  e.user = "alice";
  e.device = "phone";  // not shown
  EXPECT_EQ(describe(e), "success alice");
}

TEST(DescribeEntry, ServerEventGivesCodeUserDeviceAndDetail) {
  EXPECT_EQ(describe(server_entry("connect", 31004, "alice", "phone", "refused token")),
            "connect code=31004 alice/phone refused token");
  EXPECT_EQ(describe(server_entry("connect", 0, "alice", "phone", "")), "connect alice/phone");
  EXPECT_EQ(describe(server_entry("kick", 31010, "alice", "", "")), "kick code=31010 alice/");
  EXPECT_EQ(describe(server_entry("closed", 0, "", "phone", "")), "closed /phone");
  EXPECT_EQ(describe(server_entry("blackhole", 0, "", "", "2 sessions")), "blackhole 2 sessions");
  EXPECT_EQ(describe(server_entry("shutdown", 0, "", "", "")), "shutdown");
}

TEST(DescribeEntry, OtherClientEventsUseTheGeneralForm) {
  auto e = client_entry("alice", "attempt", -1, 0);
  e.detail = "tcp 127.0.0.1:1883";
  EXPECT_EQ(describe(e), "attempt tcp 127.0.0.1:1883");
}

TEST(DescribeClientMatch, GivesWhatTheExpectationLooksFor) {
  EXPECT_EQ(describe(client_event_match{.event = "status", .status = 6, .code = 31010}),
            "status 6 KickedOfflineByOtherClient cause 31010");
  EXPECT_EQ(describe(client_event_match{.event = "status", .status = 13}), "status 13 Suspend");
  EXPECT_EQ(describe(client_event_match{.event = "status", .status = 42}), "status 42 ?");
  EXPECT_EQ(describe(client_event_match{.event = "error", .code = 34006}), "error 34006");
  EXPECT_EQ(describe(client_event_match{.event = "success", .user = "alice"}), "success alice");
  EXPECT_EQ(describe(client_event_match{.event = "success", .user = ""}), "success");
  EXPECT_EQ(describe(client_event_match{.event = "returned", .call = "disconnect"}),
            "returned disconnect");
  EXPECT_EQ(describe(client_event_match{.event = "returned", .code = 0, .call = "logout"}),
            "returned logout 0");
  EXPECT_EQ(describe(client_event_match{.event = "attempt"}), "attempt");
}

TEST(DescribeServerMatch, GivesEveryFieldThatIsSet) {
  EXPECT_EQ(describe(server_event_match{.kind = "connect",
                                        .code = 31004,
                                        .user = "alice",
                                        .device = "phone",
                                        .detail_contains = "token"}),
            "server connect code=31004 user=alice device=phone detail~'token'");
  EXPECT_EQ(describe(server_event_match{.kind = "closed"}), "server closed");
  EXPECT_EQ(describe(server_event_match{.kind = "kick", .code = 0}), "server kick code=0");
  EXPECT_EQ(describe(server_event_match{.kind = "ping", .device = "phone"}),
            "server ping device=phone");
  EXPECT_EQ(describe(server_event_match{.kind = "ping", .user = ""}), "server ping user=");
}

// --- format_ms and status_name -------------------------------------------------------

TEST(FormatMs, GivesSecondsWithThreeDecimals) {
  EXPECT_EQ(format_ms(1'250), "1.250 s");
  EXPECT_EQ(format_ms(0), "0.000 s");
  EXPECT_EQ(format_ms(1), "0.001 s");
  EXPECT_EQ(format_ms(999), "0.999 s");
  EXPECT_EQ(format_ms(61'000), "61.000 s");
  EXPECT_EQ(format_ms(12'345'678), "12345.678 s");
}

TEST(FormatMs, GivesNegativeTimesWithASign) {
  EXPECT_EQ(format_ms(-1'250), "-1.250 s");
  EXPECT_EQ(format_ms(-1), "-0.001 s");
}

TEST(StatusName, NamesEveryDocumentedStatus) {
  EXPECT_EQ(status_name(0), "Connected");
  EXPECT_EQ(status_name(6), "KickedOfflineByOtherClient");
  EXPECT_EQ(status_name(13), "Suspend");
  EXPECT_EQ(status_name(19), "UserAbandon");
  for (const auto& row : rc::all_statuses()) {
    EXPECT_EQ(status_name(static_cast<int>(row.value)), row.name);
  }
}

TEST(StatusName, GivesAQuestionMarkForAnUnknownStatus) {
  EXPECT_EQ(status_name(2), "?");
  EXPECT_EQ(status_name(18), "?");
  EXPECT_EQ(status_name(99), "?");
  EXPECT_EQ(status_name(-1), "?");
}

// --- render_trace --------------------------------------------------------------------

std::vector<trace_entry> four_entries() {
  auto a = client_entry("alice", "status", 10);
  a.t_ms = 12'345;
  auto b = server_entry("connect", 31004, "alice", "phone", "refused");
  b.t_ms = 12'400;
  auto c = trace_entry{.t_ms = 13'000, .source = "step", .kind = "step", .detail = "drop: alice"};
  auto d = client_entry("alice", "status", 13, 32061);
  d.t_ms = 13'001;
  return {a, b, c, d};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const auto end = text.find('\n', begin);
    if (end == std::string::npos) {
      ADD_FAILURE() << "no newline after the last line: " << text.substr(begin);
      break;
    }
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

TEST(RenderTrace, GivesOneLinePerEntryWithTimeSourceAndDescription) {
  const auto lines = lines_of(render_trace(four_entries()));
  ASSERT_EQ(lines.size(), 4U);
  // "  %9.3f  %-10s " then the description.
  EXPECT_EQ(lines[0], "     12.345  alice      status 10 Connecting");
  EXPECT_EQ(lines[1], "     12.400  server     connect code=31004 alice/phone refused");
  EXPECT_EQ(lines[3], "     13.001  alice      status 13 Suspend (cause 32061)");
}

TEST(RenderTrace, ShowsAStepAsItsText) {
  const auto lines = lines_of(render_trace(four_entries()));
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(lines[2], "     13.000  step       > drop: alice");
}

TEST(RenderTrace, KeepsALongSourceNameWholeAndApartFromTheText) {
  const std::string name(63, 'x');
  trace_entry e{.t_ms = 1000, .source = name, .kind = "status", .status = 10};
  const auto lines = lines_of(render_trace({e}));
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], "      1.000  " + name + " status 10 Connecting");
}

TEST(RenderTrace, RendersOnlyTheWindowFromTo) {
  const auto all = four_entries();
  const auto whole = lines_of(render_trace(all));
  ASSERT_EQ(whole.size(), 4U);

  const auto window = lines_of(render_trace(all, 1, 3));
  ASSERT_EQ(window.size(), 2U);
  EXPECT_EQ(window[0], whole[1]);
  EXPECT_EQ(window[1], whole[2]);

  EXPECT_EQ(render_trace(all, 2), render_trace(all, 2, 4));
  EXPECT_EQ(lines_of(render_trace(all, 2)), (std::vector<std::string>{whole[2], whole[3]}));
  EXPECT_EQ(render_trace(all, 0, 100), render_trace(all));  // `to` past the end: the end
  EXPECT_EQ(render_trace(all, 2, 2), "");
  EXPECT_EQ(render_trace(all, 3, 1), "");
  EXPECT_EQ(render_trace(all, 4), "");
  EXPECT_EQ(render_trace(all, 10, 20), "");
  EXPECT_EQ(render_trace({}), "");
}

// --- trace_jsonl ---------------------------------------------------------------------

TEST(TraceJsonl, WritesOneJsonObjectPerLine) {
  const auto text = trace_jsonl(four_entries());
  const auto objects = parse_lines(text);
  ASSERT_EQ(objects.size(), 4U);
  EXPECT_EQ(objects[0].at("source").as_string(), "alice");
  EXPECT_EQ(objects[1].at("source").as_string(), "server");
  EXPECT_EQ(objects[2].at("kind").as_string(), "step");
  EXPECT_EQ(objects[3].at("t_ms").to_number<std::int64_t>(), 13'001);
  EXPECT_EQ(trace_jsonl({}), "");
}

TEST(TraceJsonl, WritesEveryFieldThatIsSet) {
  const trace_entry e{.t_ms = 1'500,
                      .source = "alice",
                      .kind = "attempt",
                      .status = 10,
                      .code = 31004,
                      .user = "alice",
                      .device = "phone",
                      .detail = "tcp",
                      .client_ms = 1'480};
  const auto objects = parse_lines(trace_jsonl({e}));
  ASSERT_EQ(objects.size(), 1U);
  const auto& o = objects[0];
  EXPECT_EQ(o.size(), 9U);
  EXPECT_EQ(o.at("t_ms").to_number<std::int64_t>(), 1'500);
  EXPECT_EQ(o.at("source").as_string(), "alice");
  EXPECT_EQ(o.at("kind").as_string(), "attempt");
  EXPECT_EQ(o.at("status").to_number<int>(), 10);
  EXPECT_EQ(o.at("code").to_number<int>(), 31004);
  EXPECT_EQ(o.at("user").as_string(), "alice");
  EXPECT_EQ(o.at("device").as_string(), "phone");
  EXPECT_EQ(o.at("detail").as_string(), "tcp");
  EXPECT_EQ(o.at("client_ms").to_number<std::int64_t>(), 1'480);
}

TEST(TraceJsonl, LeavesOutFieldsThatAreUnset) {
  const trace_entry e{.t_ms = 0, .source = "server", .kind = "shutdown"};
  const auto objects = parse_lines(trace_jsonl({e}));
  ASSERT_EQ(objects.size(), 1U);
  const auto& o = objects[0];
  EXPECT_EQ(o.size(), 3U);
  EXPECT_EQ(o.at("t_ms").to_number<std::int64_t>(), 0);  // time is always written
  EXPECT_EQ(o.at("source").as_string(), "server");
  EXPECT_EQ(o.at("kind").as_string(), "shutdown");
  for (const char* key : {"status", "code", "user", "device", "detail", "client_ms"}) {
    EXPECT_FALSE(o.contains(key)) << key;
  }
}

TEST(TraceJsonl, KeepsStatusZeroButNotCodeZero) {
  const auto objects = parse_lines(trace_jsonl({client_entry("alice", "status", 0, 0)}));
  ASSERT_EQ(objects.size(), 1U);
  ASSERT_TRUE(objects[0].contains("status"));
  EXPECT_EQ(objects[0].at("status").to_number<int>(), 0);
  EXPECT_FALSE(objects[0].contains("code"));
}

TEST(TraceJsonl, EscapesQuotesBackslashesAndNewlinesInTheDetail) {
  const std::string detail = "said \"no\" to C:\\tmp\nsecond line\ttab";
  const auto e = server_entry("fault", 0, "alice", "", detail);
  const auto text = trace_jsonl({e});
  // The newline inside the detail is escaped: one entry, one line.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const auto objects = parse_lines(text);
  ASSERT_EQ(objects.size(), 1U);
  EXPECT_EQ(objects[0].at("detail").as_string(), detail);
  EXPECT_EQ(objects[0].at("user").as_string(), "alice");
}

}  // namespace
}  // namespace imock::harness
