#include "imock/harness/loader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imock/harness/scenario.hpp"
#include "imock/server/config.hpp"

namespace imock::harness {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

scenario parse_ok(std::string_view yaml) {
  std::vector<load_error> errors;
  auto s = parse_scenario(yaml, "x.yaml", errors);
  std::string all;
  for (const auto& e : errors) {
    all += e.to_string() + "\n";
  }
  EXPECT_TRUE(s.has_value()) << all;
  EXPECT_TRUE(errors.empty()) << all;
  return s.value_or(scenario{});
}

// Every error line, or a marker when the text loaded: assertions compare strings.
std::vector<std::string> errors_of(std::string_view yaml) {
  std::vector<load_error> errors;
  if (parse_scenario(yaml, "x.yaml", errors)) {
    return {"(loaded without error)"};
  }
  std::vector<std::string> out;
  out.reserve(errors.size());
  for (const auto& e : errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// The one error of `yaml` (several are joined, so the assertion shows them all).
std::string error_of(std::string_view yaml) {
  std::string out;
  for (const auto& e : errors_of(yaml)) {
    out += (out.empty() ? "" : "\n") + e;
  }
  return out;
}

// Lines 1-6; the first step is on line 7, its kind at column 5.
constexpr std::string_view k_head =
    "name: t\n"
    "description: d\n"
    "clients:\n"
    "  alice:\n"
    "  carol:\n"
    "steps:\n";

std::string with_steps(std::string_view steps) { return std::string(k_head) + std::string(steps); }

template <class T>
const T& body_as(const step& st) {
  const auto* b = std::get_if<T>(&st.body);
  if (b == nullptr) {
    ADD_FAILURE() << "step '" << st.text << "' holds another kind of body";
    static const T empty{};
    return empty;
  }
  return *b;
}

// A server action's body against the JSON expected, whatever the key order.
void expect_action(const step& st, std::string_view name, std::string_view path,
                   std::string_view body) {
  SCOPED_TRACE(st.text);
  const auto& a = body_as<server_action>(st);
  EXPECT_EQ(a.name, name);
  EXPECT_EQ(a.path, path);
  boost::system::error_code ec;
  const auto got = json::parse(a.json_body, ec);
  ASSERT_FALSE(ec) << a.json_body;
  EXPECT_EQ(got, json::parse(body)) << a.json_body;
}

void expect_api(const step& st, std::string_view app, std::string_view path, std::string_view form,
                std::optional<int> expect_code) {
  SCOPED_TRACE(st.text);
  const auto& a = body_as<api_action>(st);
  EXPECT_EQ(a.app, app);
  EXPECT_EQ(a.path, path);
  EXPECT_EQ(a.form, form);
  EXPECT_EQ(a.expect_code, expect_code);
}

void expect_client_action(const step& st, client_action::kind what, std::string_view client) {
  SCOPED_TRACE(st.text);
  const auto& a = body_as<client_action>(st);
  EXPECT_EQ(a.what, what);
  EXPECT_EQ(a.client, client);
}

client_event_match client_event(std::string event, std::optional<int> status = std::nullopt,
                                std::optional<int> code = std::nullopt,
                                std::optional<std::string> user = std::nullopt) {
  return client_event_match{std::move(event), status, code, std::move(user)};
}

void expect_same(const client_event_match& got, const client_event_match& want) {
  EXPECT_EQ(got.event, want.event);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.user, want.user);
}

void expect_same(const server_event_match& got, const server_event_match& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.user, want.user);
  EXPECT_EQ(got.device, want.device);
  EXPECT_EQ(got.detail_contains, want.detail_contains);
}

constexpr std::string_view k_every_step = R"(name: every-step
description: Every step kind once, with every parameter.
tags: [kick, terminal]
seed: 7
speed: 2.5
server:
  apps:
    - key: app-one
      secret: s1
    - key: app-two
      secret: s2
      token_lifetime: 1h
clients:
  alice:
    app: app-two
    user: alice-id
    device: phone-a
    platform: android
    transport: wss
    reconnect_kick: true
    heartbeat: 2m
    time_limit: -1
    schedule: [50ms, 1.5s]
    database: false
  bob:
steps:
  - init: alice
  - connect: bob
    note: the first login
  - connect: {client: alice, token: expired, time_limit: 5s}
  - connect: {client: alice, token_text: "abc"}
  - connect: {client: bob, init: false}
  - disconnect: alice
  - logout: alice
  - network_down: alice
  - network_up: alice
  - foreground: alice
  - reconnect_kick: {client: alice, on: true}
  - kick: {user: u1, code: 31010}
  - kick: {client: alice}
  - block: {user: alice, for: 10m}
  - unblock: {client: alice}
  - expire_tokens: {user: bob, app: app-two}
  - app_state: {state: blocked}
  - drop: {user: alice, disconnect: false, reason: 0x8E}
  - drop: all
  - blackhole: {user: alice, include_new: false}
  - release: all
  - delay: {for: 2s, count: 1}
  - refuse: {count: 2, code: 31003, user: alice, every: 3, probability: 0.5}
  - fault: {on: connack, action: drop, send_disconnect: false, delay: 2s, nth: 2, every: 0, probability: 1, times: 1, code: 31010, user: u, device: d}
  - stop_accepting: {}
  - resume_accepting:
  - restart: {down: 5s}
  - clear_faults: {}
  - api: {call: getToken, user: alice, name: Alice Liddell}
  - api: {call: token_expire, user: alice, time: now}
  - api: {call: block, user: [a, b], minute: 10, expect: 200}
  - api: {call: unblock, client: alice}
  - api: {call: block_query}
  - api: {call: check_online, user: alice, expect: 1002}
  - wait: 5s
  - expect: {client: alice, status: 10, within: 1s}
  - expect: {client: alice, status: 6, code: 31010}
  - expect: {client: alice, error: 31004}
  - expect: {client: alice, success: true}
  - expect: {client: alice, success: alice-id}
  - expect: {client: alice, db_opened: 0}
  - expect: {client: alice, attempt: true}
  - expect: {client: alice, sequence: [{status: 10}, {status: 0}, {success: true}], within: 2s}
  - expect: {server: connect, code: 31004, user: alice, within: 1s}
  - expect: {server: kick, code: 31010, device: phone-a, detail: admin}
  - absent: {client: alice, attempt: true, for: 60s}
  - absent: {server: connect, client: alice, for: 10s}
  - count: {client: alice, attempt: true, equals: 3, within: 10s}
  - count: {server: connect, at_least: 1, at_most: 4, within: 10s}
  - schedule: {client: alice, intervals: documented, count: 10, tolerance: 200ms}
  - schedule: {client: alice, intervals: [1s, 2s], within: 30s}
  - status: {client: alice, is: 0}
)";

TEST(LoaderParse, EveryStepKindParsesIntoTheExactModel) {
  const auto s = parse_ok(k_every_step);
  EXPECT_EQ(s.name, "every-step");
  EXPECT_EQ(s.description, "Every step kind once, with every parameter.");
  EXPECT_EQ(s.tags, (std::vector<std::string>{"kick", "terminal"}));
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.speed, 2.5);
  EXPECT_EQ(s.file, "x.yaml");
  ASSERT_EQ(s.server.apps.size(), 2u);
  EXPECT_EQ(s.server.apps[1].key, "app-two");
  EXPECT_EQ(s.server.apps[1].token_lifetime_ms, 3'600'000);

  ASSERT_EQ(s.clients.size(), 2u);
  const auto& alice = s.clients.at("alice");
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.app, "app-two");
  EXPECT_EQ(alice.user, "alice-id");
  EXPECT_EQ(alice.device, "phone-a");
  EXPECT_EQ(alice.platform, "android");
  EXPECT_EQ(alice.transport, transport::wss);
  EXPECT_TRUE(alice.reconnect_kick);
  EXPECT_EQ(alice.heartbeat_ms, 120'000);
  EXPECT_EQ(alice.time_limit_ms, -1000);
  EXPECT_EQ(alice.schedule_ms, (std::vector<std::int64_t>{50, 1500}));
  EXPECT_FALSE(alice.database);
  EXPECT_EQ(alice.where.to_string(), "x.yaml:14:3");
  const auto& bob = s.clients.at("bob");
  EXPECT_EQ(bob.app, "app-one");  // the first app
  EXPECT_EQ(bob.user, "bob");
  EXPECT_EQ(bob.device, "bob");

  const auto& st = s.steps;
  ASSERT_EQ(st.size(), 52u);
  using ck = client_action::kind;
  std::size_t i = 0;
  expect_client_action(st[i++], ck::init, "alice");
  expect_client_action(st[i], ck::connect, "bob");
  EXPECT_EQ(body_as<client_action>(st[i]).token, token_kind::fresh);
  EXPECT_EQ(body_as<client_action>(st[i]).time_limit_ms, std::nullopt);
  EXPECT_TRUE(body_as<client_action>(st[i++]).init_first);
  {
    const auto& a = body_as<client_action>(st[i++]);
    EXPECT_EQ(a.token, token_kind::expired);
    EXPECT_EQ(a.time_limit_ms, 5000);
  }
  {
    const auto& a = body_as<client_action>(st[i++]);
    EXPECT_EQ(a.token, token_kind::literal);
    EXPECT_EQ(a.token_text, "abc");
  }
  EXPECT_FALSE(body_as<client_action>(st[i++]).init_first);
  expect_client_action(st[i++], ck::disconnect, "alice");
  expect_client_action(st[i++], ck::logout, "alice");
  expect_client_action(st[i++], ck::network_down, "alice");
  expect_client_action(st[i++], ck::network_up, "alice");
  expect_client_action(st[i++], ck::foreground, "alice");
  expect_client_action(st[i], ck::set_reconnect_kick, "alice");
  EXPECT_TRUE(body_as<client_action>(st[i++]).on);

  expect_action(st[i++], "kick", "/admin/kick", R"({"user":"u1","code":31010})");
  expect_action(st[i++], "kick", "/admin/kick",
                R"({"app":"app-two","user":"alice-id","device":"phone-a"})");
  expect_action(st[i++], "block", "/admin/users/block",
                R"({"app":"app-one","user":"alice","duration_ms":600000})");
  expect_action(st[i++], "unblock", "/admin/users/unblock",
                R"({"app":"app-two","user":"alice-id"})");
  expect_action(st[i++], "expire_tokens", "/admin/tokens/expire",
                R"({"app":"app-two","user":"bob"})");
  expect_action(st[i++], "app_state", "/admin/apps/state",
                R"({"app":"app-one","state":"blocked"})");
  expect_action(st[i++], "drop", "/admin/drop",
                R"({"user":"alice","disconnect":false,"reason":142})");
  expect_action(st[i++], "drop", "/admin/drop", "{}");
  expect_action(st[i++], "blackhole", "/admin/blackhole",
                R"({"user":"alice","include_new":false})");
  expect_action(st[i++], "release", "/admin/release", "{}");
  expect_action(st[i++], "delay", "/admin/delay", R"({"ms":2000,"count":1})");
  expect_action(st[i++], "refuse", "/admin/refuse",
                R"({"count":2,"code":31003,"user":"alice","every":3,"probability":0.5})");
  expect_action(st[i++], "fault", "/admin/faults",
                R"({"on":"connack","action":"drop","send_disconnect":false,"delay_ms":2000,
                    "nth":2,"every":0,"probability":1.0,"times":1,"code":31010,"user":"u",
                    "device":"d"})");
  expect_action(st[i++], "stop_accepting", "/admin/stop-accepting", "{}");
  expect_action(st[i++], "resume_accepting", "/admin/resume-accepting", "{}");
  expect_action(st[i++], "restart", "/admin/restart", R"({"down_ms":5000})");
  expect_action(st[i++], "clear_faults", "/admin/faults/clear", "{}");

  expect_api(st[i++], "app-one", "/user/getToken.json", "userId=alice&name=Alice%20Liddell",
             std::nullopt);
  expect_api(st[i++], "app-one", "/user/token/expire.json", "userId=alice&time={now}",
             std::nullopt);
  expect_api(st[i++], "app-one", "/user/block.json", "userId=a&userId=b&minute=10", 200);
  expect_api(st[i++], "app-two", "/user/unblock.json", "userId=alice-id", std::nullopt);
  expect_api(st[i++], "app-one", "/user/block/query.json", "", std::nullopt);
  expect_api(st[i++], "app-one", "/user/checkOnline.json", "userId=alice", 1002);
  EXPECT_EQ(body_as<wait_action>(st[i++]).ms, 5000);

  const auto expect_client = [&](std::size_t k, const client_event_match& want,
                                 std::int64_t within) {
    SCOPED_TRACE(st[k].text);
    const auto& x = body_as<expect_step>(st[k]);
    EXPECT_EQ(x.client, "alice");
    ASSERT_EQ(x.client_events.size(), 1u);
    expect_same(x.client_events[0], want);
    EXPECT_TRUE(x.server_events.empty());
    EXPECT_EQ(x.within_ms, within);
  };
  expect_client(i++, client_event("status", 10), 1000);
  expect_client(i++, client_event("status", 6, 31010), 5000);
  expect_client(i++, client_event("error", std::nullopt, 31004), 5000);
  expect_client(i++, client_event("success"), 5000);
  expect_client(i++, client_event("success", std::nullopt, std::nullopt, "alice-id"), 5000);
  expect_client(i++, client_event("db_opened", std::nullopt, 0), 5000);
  expect_client(i++, client_event("attempt"), 5000);
  {
    const auto& x = body_as<expect_step>(st[i++]);
    ASSERT_EQ(x.client_events.size(), 3u);
    expect_same(x.client_events[0], client_event("status", 10));
    expect_same(x.client_events[1], client_event("status", 0));
    expect_same(x.client_events[2], client_event("success"));
    EXPECT_EQ(x.within_ms, 2000);
  }
  {
    const auto& x = body_as<expect_step>(st[i++]);
    EXPECT_EQ(x.client, "");
    EXPECT_TRUE(x.client_events.empty());
    ASSERT_EQ(x.server_events.size(), 1u);
    expect_same(x.server_events[0], server_event_match{"connect", 31004, "alice"});
    EXPECT_EQ(x.within_ms, 1000);
  }
  {
    const auto& x = body_as<expect_step>(st[i++]);
    ASSERT_EQ(x.server_events.size(), 1u);
    expect_same(x.server_events[0],
                server_event_match{"kick", 31010, std::nullopt, "phone-a", "admin"});
  }
  {
    const auto& x = body_as<absent_step>(st[i++]);
    EXPECT_EQ(x.client, "alice");
    ASSERT_TRUE(x.client_event.has_value());
    expect_same(*x.client_event, client_event("attempt"));
    EXPECT_FALSE(x.server_event.has_value());
    EXPECT_EQ(x.for_ms, 60'000);
  }
  {
    const auto& x = body_as<absent_step>(st[i++]);
    EXPECT_EQ(x.client, "");
    ASSERT_TRUE(x.server_event.has_value());
    // client: alice in a server expectation = alice's user and device.
    expect_same(*x.server_event,
                server_event_match{"connect", std::nullopt, "alice-id", "phone-a"});
    EXPECT_EQ(x.for_ms, 10'000);
  }
  {
    const auto& x = body_as<count_step>(st[i++]);
    EXPECT_EQ(x.client, "alice");
    expect_same(x.client_event.value_or(client_event_match{}), client_event("attempt"));
    EXPECT_EQ(x.equals, 3);
    EXPECT_EQ(x.at_least, std::nullopt);
    EXPECT_EQ(x.at_most, std::nullopt);
    EXPECT_EQ(x.within_ms, 10'000);
  }
  {
    const auto& x = body_as<count_step>(st[i++]);
    expect_same(x.server_event.value_or(server_event_match{}), server_event_match{"connect"});
    EXPECT_EQ(x.equals, std::nullopt);
    EXPECT_EQ(x.at_least, 1);
    EXPECT_EQ(x.at_most, 4);
  }
  {
    const auto& x = body_as<schedule_step>(st[i++]);
    EXPECT_EQ(x.client, "alice");
    EXPECT_EQ(x.intervals_ms, documented_intervals(10));
    EXPECT_EQ(x.tolerance_ms, 200);
    EXPECT_EQ(x.within_ms, 0);
  }
  {
    const auto& x = body_as<schedule_step>(st[i++]);
    EXPECT_EQ(x.intervals_ms, (std::vector<std::int64_t>{1000, 2000}));
    EXPECT_EQ(x.tolerance_ms, 300);
    EXPECT_EQ(x.within_ms, 30'000);
  }
  {
    const auto& x = body_as<status_step>(st[i++]);
    EXPECT_EQ(x.client, "alice");
    EXPECT_EQ(x.status, 0);
  }
  EXPECT_EQ(i, st.size());
}

TEST(LoaderParse, StepTextIsTheStepAsWrittenOnOneLineAndWhereIsItsMark) {
  const auto s = parse_ok(k_every_step);
  ASSERT_EQ(s.steps.size(), 52u);
  EXPECT_EQ(s.steps[0].text, "init: alice");
  EXPECT_EQ(s.steps[0].where.to_string(), "x.yaml:27:5");
  EXPECT_EQ(s.steps[1].text, "connect: bob");  // the note is not part of the step
  EXPECT_EQ(s.steps[2].text, "connect: {client: alice, token: expired, time_limit: 5s}");
  EXPECT_EQ(s.steps[2].where.to_string(), "x.yaml:30:5");
  EXPECT_EQ(s.steps[3].text, R"(connect: {client: alice, token_text: "abc"})");  // quotes kept
  EXPECT_EQ(s.steps[18].text, "drop: all");
  EXPECT_EQ(s.steps[25].text, "resume_accepting");  // written with nothing after it
  EXPECT_EQ(s.steps[42].text,
            "expect: {client: alice, sequence: [{status: 10}, {status: 0}, {success: true}], "
            "within: 2s}");
}

TEST(LoaderParse, BlockStyleStepsRenderInFlowStyle) {
  const auto s =
      parse_ok(with_steps("  - connect:\n"
                          "      client: alice\n"
                          "      token_text: 'a, b'\n"
                          "  - api: {call: getToken, user: 'x+y z'}\n"));
  ASSERT_EQ(s.steps.size(), 2u);
  EXPECT_EQ(s.steps[0].text, R"(connect: {client: alice, token_text: "a, b"})");
  EXPECT_EQ(s.steps[0].where.to_string(), "x.yaml:7:5");
  // Form values are percent-encoded: '+' would read as a space.
  EXPECT_EQ(body_as<api_action>(s.steps[1]).form, "userId=x%2By%20z");
}

TEST(LoaderDefaults, AMinimalScenarioGetsTheDocumentedDefaults) {
  const auto s = parse_ok(
      "name: minimal\n"
      "description: d\n"
      "clients:\n"
      "  alice:\n"
      "steps:\n"
      "  - connect: alice\n"
      "  - expect: {client: alice, status: 0}\n"
      "  - schedule: {client: alice, intervals: [1s]}\n");
  EXPECT_TRUE(s.tags.empty());
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.speed, std::nullopt);
  EXPECT_TRUE(s.server == server::default_config());
  const auto& c = s.clients.at("alice");
  EXPECT_EQ(c.app, "imock-demo-key");
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.device, "alice");
  EXPECT_EQ(c.platform, "ios");
  EXPECT_EQ(c.transport, transport::tcp);
  EXPECT_FALSE(c.reconnect_kick);
  EXPECT_EQ(c.heartbeat_ms, 30'000);
  EXPECT_EQ(c.time_limit_ms, 0);
  EXPECT_EQ(c.schedule_ms, std::nullopt);
  EXPECT_TRUE(c.database);
  ASSERT_EQ(s.steps.size(), 3u);
  const auto& connect = body_as<client_action>(s.steps[0]);
  EXPECT_EQ(connect.token, token_kind::fresh);
  EXPECT_EQ(connect.time_limit_ms, std::nullopt);
  EXPECT_TRUE(connect.init_first);
  EXPECT_EQ(body_as<expect_step>(s.steps[1]).within_ms, 5000);
  EXPECT_EQ(body_as<schedule_step>(s.steps[2]).tolerance_ms, 300);
  EXPECT_EQ(body_as<schedule_step>(s.steps[2]).within_ms, 0);
}

TEST(LoaderDefaults, AnEmptyServerSectionIsTheDefaultConfig) {
  const auto s =
      parse_ok("name: t\ndescription: d\nserver:\nclients: {alice: }\nsteps:\n  - init: alice\n");
  EXPECT_TRUE(s.server == server::default_config());
}

TEST(LoaderDefaults, AllNullAndEmptyMapMeanEverySessionAndANameMeansThatClient) {
  const auto s =
      parse_ok(with_steps("  - drop: all\n"
                          "  - drop:\n"
                          "  - kick: {}\n"
                          "  - blackhole: alice\n"
                          "  - refuse: all\n"
                          "  - stop_accepting:\n"));
  ASSERT_EQ(s.steps.size(), 6u);
  expect_action(s.steps[0], "drop", "/admin/drop", "{}");
  expect_action(s.steps[1], "drop", "/admin/drop", "{}");
  expect_action(s.steps[2], "kick", "/admin/kick", "{}");
  expect_action(s.steps[3], "blackhole", "/admin/blackhole",
                R"({"app":"imock-demo-key","user":"alice","device":"alice"})");
  expect_action(s.steps[4], "refuse", "/admin/refuse", "{}");
  expect_action(s.steps[5], "stop_accepting", "/admin/stop-accepting", "{}");
}

TEST(LoaderDefaults, UserActionsDefaultToTheFirstAppAndTokenExpireToNow) {
  const auto s =
      parse_ok(with_steps("  - expire_tokens: {user: someone}\n"
                          "  - unblock: carol\n"
                          "  - api: {call: token_expire, user: carol}\n"
                          "  - api: {call: token_expire, user: [a, b], time: 1700000000000}\n"));
  ASSERT_EQ(s.steps.size(), 4u);
  expect_action(s.steps[0], "expire_tokens", "/admin/tokens/expire",
                R"({"app":"imock-demo-key","user":"someone"})");
  expect_action(s.steps[1], "unblock", "/admin/users/unblock",
                R"({"app":"imock-demo-key","user":"carol"})");
  // The runner replaces {now} with the server's clock when it sends the call.
  expect_api(s.steps[2], "imock-demo-key", "/user/token/expire.json", "userId=carol&time={now}",
             std::nullopt);
  expect_api(s.steps[3], "imock-demo-key", "/user/token/expire.json",
             "userId=a&userId=b&time=1700000000000", std::nullopt);
}

TEST(LoaderDefaults, ZeroAndNegativeTimeLimitsKeepTrying) {
  const auto s = parse_ok(
      "name: t\ndescription: d\n"
      "clients:\n"
      "  a: {time_limit: 0}\n"
      "  b: {time_limit: -1}\n"
      "  c: {time_limit: 1m}\n"
      "steps:\n"
      "  - connect: {client: a, time_limit: -5s}\n");
  EXPECT_EQ(s.clients.at("a").time_limit_ms, 0);
  EXPECT_EQ(s.clients.at("b").time_limit_ms, -1000);
  EXPECT_EQ(s.clients.at("c").time_limit_ms, 60'000);
  EXPECT_EQ(body_as<client_action>(s.steps.at(0)).time_limit_ms, -5000);
}

// --- errors: one class each, the exact line ---

constexpr std::string_view k_kinds =
    "init, connect, disconnect, logout, network_down, network_up, foreground, reconnect_kick, "
    "resend, relaunch, send, inbox, history, kick, block, unblock, expire_tokens, app_state, drop, blackhole, release, delay, refuse, "
    "fault, stop_accepting, resume_accepting, restart, clear_faults, navigation, api, wait, expect, absent, "
    "count, schedule, status";

TEST(LoaderErrors, UnknownTopLevelKeyNamesItsPlaceAndTheExpectedKeys) {
  EXPECT_EQ(error_of(std::string(k_head) + "  - init: alice\nspeeed: 2\n"),
            "x.yaml:8:1: unknown key 'speeed' at the top level (expected one of: name, "
            "description, tags, seed, speed, server, clients, steps)");
}

TEST(LoaderErrors, AMisspeltRequiredKeyIsReportedOnceAsUnknown) {
  EXPECT_EQ(error_of("name: t\ndescripton: d\nclients: {a: }\nsteps:\n  - init: a\n"),
            "x.yaml:2:1: unknown key 'descripton' at the top level (expected one of: name, "
            "description, tags, seed, speed, server, clients, steps)");
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, sequense: [{status: 0}]}\n")),
            "x.yaml:7:29: unknown key 'sequense' in expect (expected one of: client, status, "
            "code, error, success, db_opened, attempt, returned, message, sent, send_error, "
            "sync_completed, from, offline, left, has_package, sequence, within, not_before)");
  // A key that is merely missing is still reported.
  EXPECT_EQ(errors_of("name: t\ncolour: red\nclients: {a: }\nsteps:\n  - init: a\n"),
            (std::vector<std::string>{
                "x.yaml:1:1: the scenario is missing required key 'description'",
                "x.yaml:2:1: unknown key 'colour' at the top level (expected one of: name, "
                "description, tags, seed, speed, server, clients, steps)",
            }));
}

TEST(LoaderErrors, UnknownClientKey) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  alice: {transprt: tls}\n"
                     "steps:\n  - init: alice\n"),
            "x.yaml:4:11: unknown key 'transprt' in client 'alice' (expected one of: app, user, "
            "device, platform, transport, reconnect_kick, heartbeat, time_limit, schedule, "
            "database, latency, navigation)");
}

TEST(LoaderErrors, UnknownStepKind) {
  EXPECT_EQ(
      error_of(with_steps("  - conect: alice\n")),
      "x.yaml:7:5: unknown step kind 'conect' (expected one of: " + std::string(k_kinds) + ")");
}

TEST(LoaderErrors, UnknownKeyInsideAStep) {
  EXPECT_EQ(error_of(with_steps("  - connect: {client: alice, tokn: expired}\n")),
            "x.yaml:7:30: unknown key 'tokn' in connect (expected one of: client, token, "
            "token_text, time_limit, init)");
}

TEST(LoaderErrors, StepWithTwoKinds) {
  EXPECT_EQ(error_of(with_steps("  - connect: alice\n    wait: 1s\n")),
            "x.yaml:8:5: a step has one kind: 'wait' follows 'connect' in the same step (start "
            "a new step with '- ')");
}

TEST(LoaderErrors, StepWithNoKind) {
  EXPECT_EQ(error_of(with_steps("  - note: just a note\n")),
            "x.yaml:7:5: step has no kind (expected one of: " + std::string(k_kinds) + ")");
}

TEST(LoaderErrors, ParameterNextToTheKindSaysItGoesInside) {
  EXPECT_EQ(error_of(with_steps("  - connect: alice\n    token: expired\n")),
            "x.yaml:8:5: key 'token' next to connect: a step's parameters go inside its map "
            "(connect: {..., token: ...})");
}

TEST(LoaderErrors, AStepThatIsNotAMap) {
  EXPECT_EQ(error_of(with_steps("  - stop_accepting\n")),
            "x.yaml:7:5: expected a step (a map with one kind, e.g. connect: alice), got "
            "'stop_accepting' (write stop_accepting: ... with a colon)");
}

TEST(LoaderErrors, UnknownClientInAStepListsTheDeclaredOnes) {
  EXPECT_EQ(error_of(with_steps("  - connect: bob\n")),
            "x.yaml:7:14: unknown client 'bob' (declared: alice, carol)");
  EXPECT_EQ(error_of(with_steps("  - expect: {client: bob, status: 0}\n")),
            "x.yaml:7:22: unknown client 'bob' (declared: alice, carol)");
  EXPECT_EQ(error_of(with_steps("  - drop: bob\n")),
            "x.yaml:7:11: unknown client 'bob' (declared: alice, carol)");
}

TEST(LoaderErrors, UndocumentedCode) {
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, error: 31011}\n")),
            "x.yaml:7:36: 31011 is not a documented code (see docs/codes.md)");
  EXPECT_EQ(error_of(with_steps("  - refuse: {code: 31011}\n")),
            "x.yaml:7:20: 31011 is not a documented code (see docs/codes.md)");
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, error: oops}\n")),
            "x.yaml:7:36: bad code 'oops' for error (expected a documented code, e.g. 31004, "
            "see docs/codes.md)");
}

TEST(LoaderErrors, UndocumentedStatus) {
  EXPECT_EQ(error_of(with_steps("  - status: {client: alice, is: 42}\n")),
            "x.yaml:7:33: 42 is not a documented status (see docs/codes.md)");
}

TEST(LoaderErrors, BadDurationQuotesTheTextAndGivesExamples) {
  EXPECT_EQ(error_of(with_steps("  - wait: 5 s\n")),
            "x.yaml:7:11: bad duration '5 s' for wait (expected e.g. 250ms, 1.5s, 2m, 1h, 7d)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {heartbeat: 1.5s}\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:4:18: bad duration '1.5s' for heartbeat (expected whole seconds, at most "
            "65535s, e.g. 30s, 2m)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {time_limit: 2.5s}\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:4:19: bad duration '2.5s' for time_limit (expected whole seconds, e.g. 10s, "
            "1m; 0 or a negative number such as -1 keeps trying)");
}

TEST(LoaderErrors, BadTransport) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {transport: udp}\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:4:18: bad value 'udp' for transport (expected one of: tcp, tls, ws, wss)");
}

TEST(LoaderErrors, WrongType) {
  EXPECT_EQ(error_of(with_steps("  - wait: [1s]\n")),
            "x.yaml:7:11: expected a duration (e.g. 250ms, 1.5s, 2m, 1h, 7d) for wait, got a "
            "list");
  EXPECT_EQ(error_of(with_steps("  - reconnect_kick: {client: alice, on: yes}\n")),
            "x.yaml:7:41: bad boolean 'yes' for on (expected true or false)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients: [alice]\nsteps:\n  - init: alice\n"),
            "x.yaml:3:10: expected a map of clients for clients (e.g. clients: {alice: {}}), got "
            "a list");
}

TEST(LoaderErrors, MissingNameDescriptionClientsAndSteps) {
  EXPECT_EQ(errors_of("tags: [x]\n"),
            (std::vector<std::string>{
                "x.yaml:1:1: the scenario is missing required key 'name'",
                "x.yaml:1:1: the scenario is missing required key 'description'",
                "x.yaml:1:1: the scenario is missing required key 'clients'",
                "x.yaml:1:1: the scenario is missing required key 'steps'",
            }));
}

TEST(LoaderErrors, EmptyStepsList) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients: {a: }\nsteps: []\n"),
            "x.yaml:4:8: steps is empty (expected a list of at least one step)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients: {a: }\nsteps:\n"),
            "x.yaml:4:1: steps is empty (expected a list of at least one step)");
}

TEST(LoaderErrors, DuplicateClientNames) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  alice:\n  alice: {user: x}\n"
                     "steps:\n  - init: alice\n"),
            "x.yaml:5:3: duplicate client 'alice' (first at line 4)");
}

TEST(LoaderErrors, DuplicateKeysInAMap) {
  EXPECT_EQ(error_of(with_steps("  - connect: {client: alice, token: api, token: fresh}\n")),
            "x.yaml:7:42: duplicate key 'token' in connect (first at line 7)");
}

TEST(LoaderErrors, ListenSectionIsRefused) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nserver:\n  listen: {mqtt: 127.0.0.1:1883}\n"
                     "clients: {a: }\nsteps:\n  - init: a\n"),
            "x.yaml:4:3: listen is not allowed in a scenario's server section: the harness "
            "binds its own ephemeral ports (remove it)");
}

TEST(LoaderErrors, ServerSectionErrorsKeepTheirFileLineAndColumn) {
  EXPECT_EQ(error_of("name: t\n"
                     "description: d\n"
                     "server:\n"
                     "  apps:\n"
                     "    - key: k\n"
                     "      secrte: s\n"
                     "clients: {a: }\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:6:7: unknown key 'secrte' in app (expected one of: key, secret, state, "
            "token_lifetime, login_policy, revoked_token_code, max_users)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nserver:\n  limits: {connect_timeout: soon}\n"
                     "clients: {a: }\nsteps:\n  - init: a\n"),
            "x.yaml:4:29: bad duration 'soon' for connect_timeout (expected e.g. 250ms, 1.5s, 2m, "
            "1h, 7d)");
}

TEST(LoaderErrors, AppsMustExistForStepsButAClientMayUseAnUnknownOne) {
  // A client with an app key the server does not know is how a scenario gets 31002.
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {app: nope}\n"
                     "steps:\n  - app_state: {app: zzz, state: blocked}\n"),
            "x.yaml:6:22: unknown app 'zzz' (the server section has: imock-demo-key)");
}

TEST(LoaderErrors, ClientAndAFilterKeyConflict) {
  EXPECT_EQ(error_of(with_steps("  - kick: {client: alice, user: x}\n")),
            "x.yaml:7:27: client: sets app, user and device already (expected either client or "
            "app/user/device)");
}

TEST(LoaderErrors, CodeGoesWithStatusOnly) {
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, error: 31004, code: 31004}\n")),
            "x.yaml:7:43: code goes with status (the cause of a status change); the code of "
            "error is its value, e.g. error: 31004");
}

TEST(LoaderErrors, OneEventPerExpectation) {
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, error: 31004, status: 0}\n")),
            "x.yaml:7:43: 'error' and 'status' in one expect (expected one event; use sequence: "
            "[...] for several in order)");
}

TEST(LoaderErrors, FaultRefuseOnlyOnConnect) {
  EXPECT_EQ(error_of(with_steps("  - fault: {on: connack, action: refuse}\n")),
            "x.yaml:7:17: action refuse only works with on: connect (after a CONNACK or on a "
            "packet, use kick, drop or blackhole)");
}

// These rules are the admin API's (server/admin_requests.hpp): the loader asks it.
TEST(LoaderErrors, TheServersRulesForAnAdminCallAreSaidAtTheLine) {
  EXPECT_EQ(error_of(with_steps("  - drop: {client: alice, disconnect: true, reset: true}\n")),
            "x.yaml:7:52: 'disconnect' and 'reset' exclude each other (a reset sends nothing)");
  EXPECT_EQ(error_of(with_steps("  - refuse: {count: 2, probability: 1.5}\n")),
            "x.yaml:7:37: 'probability' must be in (0, 1], e.g. 0.5");
}

TEST(LoaderErrors, YamlSyntaxErrorIsOneErrorAtTheParserMark) {
  EXPECT_EQ(errors_of(with_steps("  - init: [alice\n  - wait: 1s\n")),
            (std::vector<std::string>{"x.yaml:8:9: YAML syntax error: end of sequence flow not "
                                      "found"}));
}

TEST(LoaderErrors, EmptyFileAndSecondDocument) {
  EXPECT_EQ(error_of("# only a comment\n"),
            "x.yaml:1:1: the file is empty (expected a scenario: a map with keys name, "
            "description, tags, seed, speed, server, clients, steps)");
  EXPECT_EQ(error_of(with_steps("  - init: alice\n---\nname: other\n")),
            "x.yaml:9:1: a second YAML document (expected one scenario per file)");
  EXPECT_EQ(error_of(with_steps("  - init: alice\n---\n")),
            "(loaded without error)");  // an empty one is harmless
}

TEST(LoaderErrors, SeveralErrorsAreCollectedInFileOrder) {
  EXPECT_EQ(errors_of("name: Bad_Name\n"                              // 1
                      "description: d\n"                              // 2
                      "clients:\n"                                    // 3
                      "  alice: {transport: udp, heartbeat: 1.5s}\n"  // 4
                      "steps:\n"                                      // 5
                      "  - connect: bob\n"                            // 6
                      "  - expect: {client: alice, error: 31011}\n"   // 7
                      "  - wait: soon\n"                              // 8
                      "  - init: alice\n"                             // 9
                      "colour: red\n"),                               // 10
            (std::vector<std::string>{
                ("x.yaml:1:7: bad name 'Bad_Name' (expected a-z, 0-9 and '-', starting with a "
                 "letter or digit, e.g. kick-by-login-elsewhere)"),
                "x.yaml:4:22: bad value 'udp' for transport (expected one of: tcp, tls, ws, wss)",
                ("x.yaml:4:38: bad duration '1.5s' for heartbeat (expected whole seconds, at "
                 "most 65535s, e.g. 30s, 2m)"),
                "x.yaml:6:14: unknown client 'bob' (declared: alice)",
                "x.yaml:7:36: 31011 is not a documented code (see docs/codes.md)",
                "x.yaml:8:11: bad duration 'soon' for wait (expected e.g. 250ms, 1.5s, 2m, 1h, 7d)",
                ("x.yaml:10:1: unknown key 'colour' at the top level (expected one of: name, "
                 "description, tags, seed, speed, server, clients, steps)"),
            }));
}

TEST(LoaderErrors, ErrorsAreAppendedToTheCallersList) {
  std::vector<load_error> errors{load_error{source_mark{"before.yaml", 1, 1}, "earlier"}};
  EXPECT_FALSE(parse_scenario(with_steps("  - wait: soon\n"), "x.yaml", errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "earlier");
  EXPECT_EQ(errors[1].where.to_string(), "x.yaml:7:11");
  // And a good file after a bad one still loads.
  EXPECT_TRUE(parse_scenario(with_steps("  - wait: 1s\n"), "y.yaml", errors));
  EXPECT_EQ(errors.size(), 2u);
}

TEST(LoaderErrors, AFileThatCannotBeReadSaysWhy) {
  std::vector<load_error> errors;
  EXPECT_FALSE(load_scenario("/nonexistent/imock/x.yaml", errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "/nonexistent/imock/x.yaml:1:1: cannot open the scenario file: No such file or "
            "directory");
}

TEST(LoaderErrors, ATenMegabyteFileIsRefusedWithItsSizeBeforeParsing) {
  // 10 MB of a valid scenario (a long comment): refused as a file, not parsed for
  // minutes; a file just under the limit still loads.
  const auto dir =
      std::filesystem::temp_directory_path() / ("imock-loader-big-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string body = with_steps("  - wait: 1s\n");
  const auto write = [&](const std::filesystem::path& p, std::size_t bytes) {
    std::ofstream out(p);
    out << body;
    const std::string line = "# " + std::string(97, 'x') + "\n";  // 100 bytes
    for (std::size_t n = body.size(); n + line.size() <= bytes; n += line.size()) out << line;
  };
  write(dir / "big.yaml", std::size_t{10} * 1000 * 1000);
  write(dir / "fits.yaml", std::size_t{4} * 1024 * 1024 - 200);
  std::vector<load_error> errors;
  EXPECT_FALSE(load_scenario(dir / "big.yaml", errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            (dir / "big.yaml").string() +
                ":1:1: the scenario file is 9.5 MiB; at most 4.0 MiB is read (split it, or check "
                "that it is the file you meant)");
  errors.clear();
  EXPECT_TRUE(load_scenario(dir / "fits.yaml", errors));
  EXPECT_TRUE(errors.empty()) << errors[0].to_string();
  // A device that never ends is cut off at the limit too.
  EXPECT_FALSE(load_scenario("/dev/zero", errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.back().message.find("larger than 4.0 MiB"), std::string::npos)
      << errors.back().message;
  std::filesystem::remove_all(dir);
}

// --- coverage ---

TEST(LoaderCoverage, OnlyExpectationsCountAsCoverage) {
  const auto s =
      parse_ok(with_steps("  - refuse: {code: 31003}\n"  // an action: not coverage
                          "  - kick: {user: alice, code: 31010}\n"
                          "  - fault: {action: refuse, code: 31008}\n"
                          "  - expect: {client: alice, status: 6, code: 31023}\n"
                          "  - expect: {client: alice, sequence: [{status: 10}, {error: 31004}]}\n"
                          "  - expect: {client: alice, db_opened: 0}\n"  // 0 is success, not a code
                          "  - expect: {client: alice, db_opened: 33002}\n"
                          "  - expect: {server: connect, code: 31020}\n"
                          "  - expect: {server: connect, code: 0}\n"
                          // absent, and a count that allows none: they show only that
                          // a code does not happen
                          "  - absent: {client: alice, error: 31010, for: 1s}\n"
                          "  - count: {server: kick, code: 31009, at_most: 0, within: 1s}\n"
                          "  - count: {client: carol, status: 1, equals: 1, within: 1s}\n"
                          "  - status: {client: alice, is: 12}\n"));
  EXPECT_EQ(codes_covered(s), (std::vector<int>{31004, 31020, 31023, 33002}));
  EXPECT_EQ(statuses_covered(s), (std::vector<int>{1, 6, 10, 12}));
}

// --- files ---

class LoaderFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("imock-loader-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  fs::path write(const fs::path& relative, std::string_view text) {
    auto path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  fs::path root_;
};

TEST_F(LoaderFiles, FoldersAreSearchedRecursivelyForYamlAndYmlAndTheListIsSorted) {
  const auto b = write("b.yaml", "");
  const auto a = write("sub/deeper/a.yml", "");
  const auto c = write("sub/c.yaml", "");
  write("sub/readme.md", "");
  write("sub/d.yaml.bak", "");
  const auto other = write("elsewhere/notes.txt", "");
  const auto missing = root_ / "missing.yaml";
  const auto files =
      scenario_files({root_ / "sub", other, root_ / "b.yaml", missing, root_ / "b.yaml"});
  // Files as given (any name, even missing ones: loading them says so), folders searched,
  // sorted, each once.
  std::vector<fs::path> want{b, other, missing, a, c};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files, want);
  EXPECT_TRUE(scenario_files({}).empty());
}

TEST_F(LoaderFiles, LoadScenarioReadsAFileAndNamesItInErrors) {
  const auto good = write("good.yaml", with_steps("  - init: alice\n"));
  const auto bad = write("bad.yaml", with_steps("  - init: bob\n"));
  std::vector<load_error> errors;
  const auto s = load_scenario(good, errors);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(s->file, good.string());
  EXPECT_EQ(s->steps.at(0).where.to_string(), good.string() + ":7:5");
  EXPECT_FALSE(load_scenario(bad, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            bad.string() + ":7:11: unknown client 'bob' (declared: alice, carol)");
}

TEST(LoaderMessages, SendFromAClientOrThroughTheServerApiInboxAndHistory) {
  const auto s = parse_ok(
      "name: t\ndescription: d\nclients:\n  a: {user: ua}\n  b: {user: ub}\nsteps:\n"
      "  - send: {client: a, to: b, text: hi}\n"
      "  - send: {via: api, from: a, to: [b, a], text: x, expect: 1008}\n"
      "  - send: {via: status, from: a, to: b, text: typing}\n"
      "  - send: {client: a, to: b, text: big, size: 100}\n"
      "  - resend: a\n  - relaunch: b\n"
      "  - inbox: {client: b, messages: [hi, x], from: a, within: 2s}\n"
      "  - history: {client: b, with: a, messages: []}\n"
      "  - expect: {client: b, sequence: [{message: hi, from: a, offline: true, left: 0, "
      "has_package: false}, {sync_completed: true}]}\n"
      "  - expect: {client: a, send_error: 30003}\n");
  const auto& send = std::get<client_action>(s.steps.at(0).body);
  EXPECT_EQ(send.what, client_action::kind::send_message);
  EXPECT_EQ(send.to, "ub");
  EXPECT_EQ(send.content, R"({"content":"hi"})");
  const auto& api = std::get<api_action>(s.steps.at(1).body);
  EXPECT_EQ(api.path, "/message/private/publish.json");
  EXPECT_EQ(api.form, "fromUserId=ua&toUserId=ub&toUserId=ua&objectName=RC%3ATxtMsg&content="
                      "%7B%22content%22%3A%22x%22%7D");
  EXPECT_EQ(api.expect_code, 1008);
  EXPECT_EQ(std::get<api_action>(s.steps.at(2).body).path, "/statusmessage/private/publish.json");
  EXPECT_EQ(std::get<client_action>(s.steps.at(3).body).content.size(), 100u);
  EXPECT_EQ(std::get<client_action>(s.steps.at(4).body).what, client_action::kind::resend);
  EXPECT_EQ(std::get<client_action>(s.steps.at(5).body).what, client_action::kind::relaunch);
  const auto& inbox = std::get<inbox_step>(s.steps.at(6).body);
  EXPECT_EQ(inbox.texts, (std::vector<std::string>{"hi", "x"}));
  EXPECT_EQ(inbox.from, "ua");
  EXPECT_EQ(inbox.within_ms, 2000);
  const auto& history = std::get<history_step>(s.steps.at(7).body);
  EXPECT_EQ(history.peer, "ua");
  EXPECT_TRUE(history.texts.empty());
  const auto& seq = std::get<expect_step>(s.steps.at(8).body).client_events;
  ASSERT_EQ(seq.size(), 2u);
  EXPECT_EQ(seq[0].text, "hi");
  EXPECT_EQ(seq[0].from, "ua");
  EXPECT_EQ(seq[0].offline, true);
  EXPECT_EQ(seq[0].left, 0);
  EXPECT_EQ(seq[0].has_package, false);
  EXPECT_EQ(seq[1].event, "sync_completed");
  EXPECT_EQ(std::get<expect_step>(s.steps.at(9).body).client_events.at(0).code, 30003);
}

TEST(LoaderMessages, MistakesInMessageStepsNameTheirPlace) {
  EXPECT_EQ(error_of(with_steps("  - send: {client: alice, to: bob, text: hi}\n")),
            "x.yaml:7:31: unknown client 'bob' (declared: alice, carol)");
  EXPECT_EQ(error_of(with_steps("  - send: {client: alice, to: carol}\n")),
            "x.yaml:7:11: send is missing required key 'text'");
  EXPECT_EQ(error_of(with_steps("  - send: {client: alice, from: carol, to: carol, text: x}\n")),
            "x.yaml:7:27: 'from' goes with via: api, system or status (a client's send is from "
            "its own user and its outcome is a sent or send_error event)");
  EXPECT_EQ(error_of(with_steps("  - send: {client: alice, to: carol, text: hello, size: 5}\n")),
            "x.yaml:7:57: size 5 is smaller than the message with its text (19 bytes)");
  EXPECT_EQ(error_of(with_steps("  - send: {via: post, from: alice, to: carol, text: x}\n")),
            "x.yaml:7:17: bad value 'post' for via (expected one of: client, api, system, status)");
  EXPECT_EQ(error_of(with_steps("  - inbox: {client: alice, messages: m1}\n")),
            "x.yaml:7:38: expected a list of message texts for messages (e.g. messages: [m1, m2], "
            "or [] for none), got 'm1'");
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, status: 0, left: 1}\n")),
            "x.yaml:7:40: 'left' goes with message (what the receive listener was told), not "
            "with status");
  EXPECT_EQ(error_of(with_steps("  - expect: {client: alice, message: false}\n")),
            "x.yaml:7:38: bad value 'false' for message (expected true, or the message's text, "
            "e.g. message: hello)");
}

TEST(LoaderIntervals, DocumentedIntervalsFollowTheSpecThenRepeat64Seconds) {
  EXPECT_TRUE(documented_intervals(0).empty());
  EXPECT_EQ(documented_intervals(3), (std::vector<std::int64_t>{50, 250, 500}));
  EXPECT_EQ(documented_intervals(12),
            (std::vector<std::int64_t>{50, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000,
                                       64000, 64000}));
}

// The YAML examples of docs/scenarios.md that are whole scenarios load as written.
TEST(LoaderDocs, TheScenariosInDocsScenariosMdLoad) {
  std::ifstream in(std::string(IMOCK_SOURCE_DIR) + "/docs/scenarios.md");
  ASSERT_TRUE(in) << "docs/scenarios.md not found";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  int checked = 0;
  for (std::size_t at = doc.find("```yaml\n"); at != std::string::npos;
       at = doc.find("```yaml\n", at + 1)) {
    const auto start = at + 8;
    const auto end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    const auto block = doc.substr(start, end - start);
    if (!block.starts_with("name:")) {
      continue;  // a fragment, not a scenario
    }
    const auto line =
        1 + std::count(doc.begin(), doc.begin() + static_cast<std::ptrdiff_t>(start), '\n');
    std::vector<load_error> errors;
    EXPECT_TRUE(parse_scenario(block, "docs/scenarios.md", errors))
        << "the example at line " << line << ": "
        << (errors.empty() ? std::string() : errors.front().to_string());
    ++checked;
  }
  EXPECT_GE(checked, 2);
}

}  // namespace
}  // namespace imock::harness

namespace imock::harness {
namespace {

TEST(LoaderNavigation, ClientsTakeTrueOrAListOfHostsAndTheStepBuildsTheAdminBody) {
  const auto s = parse_ok(
      "name: t\ndescription: d\nserver:\n  navigation: {cache_lifetime: 1m}\n"
      "clients:\n  a: {navigation: true}\n  b: {navigation: [dead, server]}\n  c:\n"
      "steps:\n  - navigation: {fail: app_key, count: 2}\n  - navigation: {fail: none}\n");
  EXPECT_EQ(s.clients.at("a").navigation, std::vector<navigation_host>{navigation_host::server});
  EXPECT_EQ(s.clients.at("b").navigation,
            (std::vector<navigation_host>{navigation_host::dead, navigation_host::server}));
  EXPECT_TRUE(s.clients.at("c").navigation.empty());
  EXPECT_EQ(s.server.navigation.cache_lifetime_ms, 60'000);
  expect_action(s.steps.at(0), "navigation", "/admin/navigation", R"({"fail":"app_key","count":2})");
  expect_action(s.steps.at(1), "navigation", "/admin/navigation", R"({"fail":"none"})");
}

TEST(LoaderNavigation, BadHostsFaultsAndAServerListAreErrorsWithTheirPlace) {
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {navigation: [server, gone]}\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:4:28: bad value 'gone' for navigation (expected one of: server, dead)");
  EXPECT_EQ(error_of("name: t\ndescription: d\nclients:\n  a: {navigation: []}\n"
                     "steps:\n  - init: a\n"),
            "x.yaml:4:19: expected true, false or a non-empty list of navigation hosts (server, "
            "dead) for navigation, e.g. navigation: [dead, server]; got an empty list");
  EXPECT_EQ(error_of(with_steps("  - navigation: {fail: slow}\n")),
            "x.yaml:7:24: bad value 'slow' for fail (expected one of: resource, request, response, "
            "node, app_key, server, dead, none)");
  EXPECT_EQ(error_of(with_steps("  - navigation: {count: 1}\n")),
            "x.yaml:7:17: navigation is missing required key 'fail'");
  EXPECT_EQ(error_of("name: t\ndescription: d\nserver:\n  navigation: {servers: [mqtt://a:1]}\n"
                     "clients: {a: }\nsteps:\n  - init: a\n"),
            "x.yaml:4:25: navigation.servers is not allowed in a scenario's server section: the "
            "harness binds its own ports (set the clients' navigation instead; cache_lifetime "
            "is fine)");
}

}  // namespace
}  // namespace imock::harness
