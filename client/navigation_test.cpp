// Navigation from the client's side: reading answers into codes (docs/protocol.md §8)
// and the machine's decisions (connection.hpp, "Navigation"): hosts in order within an
// attempt, the list's lifetime, a list dropped after every server refused, the codes
// recoverable on the schedule.
#include "imock/client/navigation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "imock/protocol/token.hpp"

namespace imock::client {
namespace {

constexpr std::int64_t k_t0 = 1'700'000'000'000;
constexpr std::int64_t k_s = 1000;
constexpr std::string_view k_list =
    R"({"code":200,"servers":["mqtt://10.0.0.1:1883","ws://10.0.0.1:80/mqtt"],"cacheSeconds":60})";

rc::code code_of(int status, std::string_view body, std::vector<transport> t = {}) {
  return read_navigation_answer(status, body, t).code;
}

TEST(NavigationAnswer, EveryDocumentedFailureHasItsCode) {
  EXPECT_EQ(code_of(0, ""), rc::code::navi_request_error);
  EXPECT_EQ(code_of(403, R"({"code":30008})"), rc::code::navi_appkey_error);
  EXPECT_EQ(code_of(401, ""), rc::code::navi_appkey_error);
  EXPECT_EQ(code_of(500, ""), rc::code::navi_server_error);
  EXPECT_EQ(code_of(503, "busy"), rc::code::navi_server_error);
  EXPECT_EQ(code_of(404, "{}"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(400, R"({"code":30006})"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, "<html>"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"(["mqtt://a:1"])"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"({"servers":["mqtt://a:1"]})"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"({"code":500,"servers":["mqtt://a:1"]})"), rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"servers":["mqtt://a:1"],"cacheSeconds":-1})"),
            rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"servers":["mqtt://a:1"],"cacheSeconds":"1"})"),
            rc::code::navi_response_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"cacheSeconds":60})"), rc::code::navi_resource_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"servers":"mqtt://a:1"})"), rc::code::navi_resource_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"servers":["gopher://a", 7]})"),
            rc::code::navi_resource_error);
  EXPECT_EQ(code_of(200, R"({"code":200,"servers":[]})"), rc::code::navi_respond_error);
}

TEST(NavigationAnswer, AListKeepsItsOrderItsLifetimeAndOnlyTheTransportsAsked) {
  const auto all = read_navigation_answer(200, k_list, {});
  ASSERT_EQ(all.code, rc::code::ok);
  EXPECT_EQ(all.servers, (std::vector<std::string>{"mqtt://10.0.0.1:1883", "ws://10.0.0.1:80/mqtt"}));
  EXPECT_EQ(all.lifetime_ms, 60 * k_s);
  const auto ws = read_navigation_answer(200, k_list, {transport::ws});
  EXPECT_EQ(ws.servers, (std::vector<std::string>{"ws://10.0.0.1:80/mqtt"}));
  EXPECT_EQ(code_of(200, k_list, {transport::tls}), rc::code::navi_resource_error);
  // No cacheSeconds: SPEC.md §7's "about 2 hours".
  EXPECT_EQ(read_navigation_answer(200, R"({"code":200,"servers":["mqtt://a:1"]})", {}).lifetime_ms,
            2 * 60 * 60 * k_s);
}

TEST(NavigationAnswer, TheStoredListReadsBackAndGarbageIsNoList) {
  const server_list list{{"mqtt://a:1", "ws://b:2/mqtt"}, k_t0 + 5};
  EXPECT_EQ(server_list_from_text(server_list_to_text(list)), list);
  EXPECT_TRUE(server_list_from_text("").servers.empty());
  EXPECT_TRUE(server_list_from_text(R"({"servers":["x"]})").servers.empty());
  EXPECT_EQ(navigation_body("t+k=", "dev", "ios"), "token=t%2Bk%3D&device=dev&platform=ios");
}

// --- the machine ---------------------------------------------------------------

class NavigatingMachine : public ::testing::Test {
 protected:
  NavigatingMachine() {
    options o;
    o.app_key = "demo-key";
    o.device_id = "phone";
    o.navigation = {"http://nav-1", "http://nav-2"};
    o.navigation_timeout_ms = 3 * k_s;
    EXPECT_EQ(m_.init(std::move(o)), rc::code::ok);
  }

  // connect() and the database opening: the actions up to the first navigate.
  actions start(std::int64_t now = k_t0) {
    actions out;
    m_.connect(*token::issue("demo-key", "alice", "secret", k_t0), 0, now, out);
    m_.database_opened(rc::code::ok, now, out);
    return out;
  }

  template <class T>
  static std::vector<T> all_of(const actions& out) {
    std::vector<T> found;
    for (const auto& a : out) {
      if (const auto* x = std::get_if<T>(&a)) found.push_back(*x);
    }
    return found;
  }

  static navigation_result list(std::int64_t lifetime_ms = 60 * k_s) {
    return {.servers = {"mqtt://s1:1883", "mqtt://s2:1883"}, .lifetime_ms = lifetime_ms};
  }

  connection m_;
};

TEST_F(NavigatingMachine, AsksTheFirstHostThenConnectsToTheFirstServerAndStoresTheList) {
  auto out = start();
  const auto asks = all_of<navigate>(out);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].url, "http://nav-1");
  EXPECT_EQ(asks[0].host, 1u);
  EXPECT_EQ(attempt_begun(action{asks[0]}), 1u);
  EXPECT_TRUE(all_of<open_transport>(out).empty()) << "no socket before navigation answers";
  out.clear();
  m_.navigation_answered(list(), k_t0 + 10, out);
  const auto opens = all_of<open_transport>(out);
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_EQ(opens[0].server, "mqtt://s1:1883");
  EXPECT_FALSE(attempt_begun(action{opens[0]})) << "the navigate began this attempt";
  const auto stored = all_of<store_servers>(out);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].list.expires_at_ms, k_t0 + 10 + 60 * k_s);
}

TEST_F(NavigatingMachine, FallsBackThroughTheHostsWithinOneAttemptThenSuspendsWithTheLastCode) {
  auto out = start();
  out.clear();
  m_.navigation_answered({.code = rc::code::navi_server_error}, k_t0 + 5, out);
  auto asks = all_of<navigate>(out);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].url, "http://nav-2");
  EXPECT_FALSE(attempt_begun(action{asks[0]})) << "the same attempt";
  EXPECT_EQ(m_.attempts(), 1u);
  out.clear();
  m_.navigation_answered({.code = rc::code::navi_appkey_error}, k_t0 + 9, out);
  EXPECT_TRUE(all_of<error>(out).empty()) << "navigation codes never reach the error callback";
  const auto st = all_of<status_changed>(out);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].value, rc::status::suspend);
  EXPECT_EQ(st[0].cause, rc::code::navi_appkey_error);
  EXPECT_EQ(m_.deadline(timer_id::reconnect), k_t0 + 9 + 50) << "the schedule goes on";
  out.clear();
  m_.timer_fired(timer_id::reconnect, k_t0 + 59, out);
  asks = all_of<navigate>(out);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].url, "http://nav-1") << "each attempt starts with the first host";
}

TEST_F(NavigatingMachine, AHostThatDoesNotAnswerInTimeIs30005AndTheNextHostIsAsked) {
  auto out = start();
  out.clear();
  m_.timer_fired(timer_id::ack, k_t0 + 3 * k_s, out);
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(std::holds_alternative<close_transport>(out[0])) << "the request is abandoned";
  ASSERT_EQ(all_of<navigate>(out).size(), 1u);
  out.clear();
  m_.timer_fired(timer_id::ack, k_t0 + 6 * k_s, out);
  const auto st = all_of<status_changed>(out);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].cause, rc::code::navi_request_error);
}

TEST_F(NavigatingMachine, AFreshListIsReusedAndAnExpiredOneIsNot) {
  auto out = start();
  m_.navigation_answered(list(60 * k_s), k_t0, out);
  m_.transport_failed(rc::code::socket_disconnected, k_t0 + 1, out);  // a drop, not a refusal
  out.clear();
  m_.timer_fired(timer_id::reconnect, k_t0 + 51, out);
  EXPECT_TRUE(all_of<navigate>(out).empty()) << "within the lifetime: no navigation";
  ASSERT_EQ(all_of<open_transport>(out).size(), 1u);
  EXPECT_EQ(all_of<open_transport>(out)[0].server, "mqtt://s1:1883");
  EXPECT_EQ(attempt_begun(out.back()), std::nullopt);
  m_.transport_failed(rc::code::socket_disconnected, k_t0 + 60 * k_s, out);
  out.clear();
  m_.timer_fired(timer_id::reconnect, k_t0 + 60 * k_s + 250, out);
  EXPECT_EQ(all_of<navigate>(out).size(), 1u) << "past the lifetime: ask again";
}

TEST_F(NavigatingMachine, EveryServerRefusingDropsTheListAndTheNextAttemptNavigates) {
  auto out = start();
  m_.navigation_answered(list(), k_t0, out);
  m_.transport_failed(rc::code::connection_refused, k_t0 + 1, out);
  out.clear();
  m_.timer_fired(timer_id::reconnect, k_t0 + 51, out);
  ASSERT_EQ(all_of<open_transport>(out).size(), 1u);
  EXPECT_EQ(all_of<open_transport>(out)[0].server, "mqtt://s2:1883") << "the next server";
  out.clear();
  m_.transport_failed(rc::code::connection_refused, k_t0 + 52, out);
  const auto stored = all_of<store_servers>(out);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0].list.servers.empty()) << "the list is forgotten";
  out.clear();
  m_.timer_fired(timer_id::reconnect, k_t0 + 52 + 250, out);
  EXPECT_EQ(all_of<navigate>(out).size(), 1u);
}

TEST_F(NavigatingMachine, TheStoredListOfTheDatabaseIsUsedAndAnotherUsersListIsNot) {
  actions out;
  m_.connect(*token::issue("demo-key", "alice", "secret", k_t0), 0, k_t0, out);
  m_.database_opened(rc::code::ok, server_list{{"mqtt://cached:1"}, k_t0 + 10 * k_s}, k_t0, out);
  ASSERT_EQ(all_of<open_transport>(out).size(), 1u);
  EXPECT_EQ(all_of<open_transport>(out)[0].server, "mqtt://cached:1");
  EXPECT_TRUE(all_of<navigate>(out).empty());
  (void)m_.disconnect(k_t0 + 1, out);
  out.clear();
  m_.connect(*token::issue("demo-key", "bob", "secret", k_t0), 0, k_t0 + 2, out);
  m_.database_opened(rc::code::ok, k_t0 + 2, out);
  EXPECT_EQ(all_of<navigate>(out).size(), 1u) << "alice's list is not bob's";
}

TEST_F(NavigatingMachine, TheTimeLimitCountsNavigationAndAbandonsIt) {
  actions out;
  m_.connect(*token::issue("demo-key", "alice", "secret", k_t0), 2, k_t0, out);
  m_.database_opened(rc::code::ok, k_t0, out);
  out.clear();
  m_.timer_fired(timer_id::time_limit, k_t0 + 2 * k_s, out);
  EXPECT_TRUE(std::holds_alternative<close_transport>(out.at(0)));
  EXPECT_EQ(all_of<error>(out).at(0).code, rc::code::connect_timeout);
}

}  // namespace
}  // namespace imock::client
