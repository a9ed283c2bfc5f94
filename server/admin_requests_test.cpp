// The typed admin requests: what the admin API and the scenario loader both read.
#include "imock/server/admin_requests.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace imock::server::admin {
namespace {

namespace json = boost::json;

parsed parse(std::string_view path, std::string_view body) {
  return parse_admin_request(path, json::parse(body).as_object());
}

// "field: message" for each problem, in order.
std::vector<std::string> problems(std::string_view path, std::string_view body) {
  std::vector<std::string> out;
  for (const auto& p : parse(path, body).problems) out.push_back(p.field + ": " + p.message);
  return out;
}

TEST(AdminRequests, EveryPostEndpointReadsAnEmptyOrMinimalBody) {
  for (const auto* path : {"/admin/kick", "/admin/drop", "/admin/blackhole", "/admin/release",
                           "/admin/faults/clear", "/admin/stop-accepting", "/admin/resume-accepting",
                           "/admin/restart", "/admin/shutdown", "/admin/seed", "/admin/refuse"}) {
    EXPECT_TRUE(parse(path, "{}").value.has_value()) << path;
  }
  EXPECT_FALSE(is_write_path("/admin/sessions"));
  EXPECT_FALSE(is_write_path("/admin/nothing"));
}

TEST(AdminRequests, ReadsTheTypedValuesWithDefaults) {
  const auto k = std::get<kick>(*parse("/admin/kick", R"({"user":"u","code":31010,"session":7})").value);
  EXPECT_EQ(k.filter.user, "u");
  EXPECT_EQ(k.filter.session, 7u);
  EXPECT_EQ(k.code, rc::code::disconn_kick);

  const auto f = std::get<add_fault>(*parse("/admin/refuse", R"({"count":3,"code":31004})").value);
  EXPECT_EQ(f.rule.action, fault_action::refuse);
  EXPECT_EQ(f.rule.times, 3u);
  EXPECT_EQ(f.rule.code, rc::code::conn_token_incorrect);
  EXPECT_EQ(f.via, "refuse");

  const auto b = std::get<block>(*parse("/admin/users/block", R"({"app":"a","user":"u","minutes":2})").value);
  EXPECT_EQ(b.duration_ms, 120'000);

  const auto d = std::get<drop>(*parse("/admin/drop", R"({"disconnect":true,"reason":142})").value);
  EXPECT_EQ(d.how, hub::drop_how::with_disconnect);
  EXPECT_EQ(d.reason, 142);
}

TEST(AdminRequests, ValuesSpelledAsStringsAreReadAsAQueryStringCarriesThem) {
  const auto d = std::get<drop>(*parse("/admin/drop", R"({"reset":"true","session":"4"})").value);
  EXPECT_EQ(d.how, hub::drop_how::reset);
  EXPECT_EQ(d.filter.session, 4u);
  const auto f = std::get<add_fault>(*parse("/admin/refuse", R"({"probability":"0.5"})").value);
  EXPECT_DOUBLE_EQ(f.rule.probability, 0.5);
}

TEST(AdminRequests, MessageFaultsKeepToTheirTriggers) {
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"delivery","action":"duplicate"})").empty());
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"delivery","action":"reorder"})").empty());
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"delivery","action":"delay","delay_ms":5})").empty());
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"send","action":"drop_ack"})").empty());
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"sync","action":"delay","delay_ms":5})").empty());
  EXPECT_EQ(problems("/admin/faults", R"({"on":"connect","action":"duplicate"})"),
            std::vector<std::string>{"on: action duplicate only works with on: delivery"});
  EXPECT_EQ(problems("/admin/faults", R"({"on":"delivery","action":"drop_ack"})"),
            std::vector<std::string>{"on: action drop_ack only works with on: send"});
  EXPECT_EQ(problems("/admin/faults", R"({"on":"sync","action":"blackhole"})"),
            std::vector<std::string>{"action: on: sync takes delay (hold the sync), drop or kick"});
}

TEST(AdminRequests, EveryProblemIsNamedInOnePass) {
  EXPECT_EQ(problems("/admin/faults", R"({"action":"explode","nth":-1,"probability":"x"})"),
            (std::vector<std::string>{
                "action: 'action': 'explode' is not an action (expected one of: refuse, delay, drop, "
                "blackhole, kick, duplicate, reorder, drop_ack)",
                "nth: 'nth' must be 0..4294967295",
                "probability: 'probability' must be a number"}));
}

TEST(AdminRequests, AKeyTheEndpointDoesNotTakeIsAProblemNotIgnored) {
  EXPECT_EQ(problems("/admin/refuse", R"({"cout":3})"),
            (std::vector<std::string>{"cout: unknown key 'cout' for /admin/refuse (expected: app, user, "
                                      "device, count, every, probability, code)"}));
  EXPECT_EQ(problems("/admin/shutdown", R"({"now":true})"),
            (std::vector<std::string>{"now: unknown key 'now' for /admin/shutdown (it takes none)"}));
}

TEST(AdminRequests, TheRulesBetweenFieldsAreValidatedOnce) {
  EXPECT_EQ(problems("/admin/drop", R"({"disconnect":true,"reset":true})"),
            (std::vector<std::string>{
                "reset: 'disconnect' and 'reset' exclude each other (a reset sends nothing)"}));
  EXPECT_EQ(problems("/admin/faults", R"({"on":"packet","action":"refuse"})"),
            (std::vector<std::string>{"on: action refuse only works with on: connect (after a CONNACK "
                                      "or on a packet, use kick, drop or blackhole)"}));
  EXPECT_EQ(problems("/admin/faults", R"({"on":"connack","action":"delay"})").size(), 1u);
  EXPECT_EQ(problems("/admin/refuse", R"({"probability":0})"),
            (std::vector<std::string>{"probability: 'probability' must be in (0, 1], e.g. 0.5"}));
  EXPECT_EQ(problems("/admin/users/block", R"({"app":"a","user":"u"})"),
            (std::vector<std::string>{"duration_ms: give 'minutes' or 'duration_ms' > 0"}));
  EXPECT_EQ(problems("/admin/restart", R"({"down_ms":-5})"),
            (std::vector<std::string>{"down_ms: 'down_ms' must be 0 .. 86400000 (one day, in ms)"}));
  // A delay past a day is refused: server time plus it must not overflow (the fuzzer
  // found delay_ms near INT64_MAX reaching the hub and the timers).
  EXPECT_EQ(problems("/admin/delay", R"({"ms":9223372036854775807})"),
            (std::vector<std::string>{"ms: 'ms' must be 0 .. 86400000 (one day, in ms)"}));
  EXPECT_EQ(problems("/admin/faults", R"({"on":"sync","action":"delay","delay_ms":86400001})"),
            (std::vector<std::string>{"delay_ms: 'delay_ms' must be 0 .. 86400000 (one day, in ms)"}));
  EXPECT_TRUE(problems("/admin/faults", R"({"on":"sync","action":"delay","delay_ms":86400000})").empty());
  EXPECT_EQ(problems("/admin/restart", R"({"down_ms":86400001})").size(), 1u);
  EXPECT_EQ(problems("/admin/delay", "{}"), (std::vector<std::string>{"ms: 'ms' is required"}));
  // validate() alone says the same of a request built in code.
  add_fault f;
  f.rule.probability = 2;
  EXPECT_EQ(validate(f).size(), 1u);
}

TEST(AdminRequests, ADropReasonMustFitAByte) {
  EXPECT_EQ(problems("/admin/drop", R"({"reason":256})"),
            (std::vector<std::string>{"reason: 'reason' must be 0..255"}));
}

}  // namespace
}  // namespace imock::server::admin
