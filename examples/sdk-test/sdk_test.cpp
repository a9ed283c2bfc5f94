// What a team's SDK test looks like with imock: imock::testing starts the mock on
// port 0 for each test; the test points a client at it, makes the server do something
// hard (a kick), and checks what the app saw, with bounded waits that say what was
// seen instead when they fail. The second test runs a scenario file.
#include <gtest/gtest.h>

#include <imock/testing/fixture.hpp>

namespace {

using imock::testing::recorder;

class SdkAgainstImock : public imock::testing::server_fixture {};

TEST_F(SdkAgainstImock, KickedByTheServerTheAppSeesTheDocumentedStatus) {
  recorder app;  // "status 0 0", "success alice", ...: what the app's callbacks saw
  // The reference client here; a team's own SDK is pointed at url() the same way.
  auto phone = client("phone", app);
  imock::testing::connect(*phone, token_for("alice"), app, /*time_limit_s=*/10);
  ASSERT_TRUE(app.wait_for("success alice"));

  // The admin API, in-process: kick alice as another device's login would.
  const auto r = admin("/admin/kick", R"({"user":"alice","code":31010})");
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_TRUE(app.wait_for("status 6 31010"));  // KickedOfflineByOtherClient, cause 31010
  EXPECT_TRUE(wait_for_event(imock::server::event_kind::kick, "alice"));
}

TEST(SdkScenarios, TheKickScenarioPasses) {
  EXPECT_TRUE(imock::testing::run_scenario_file(SCENARIO_DIR "/kick.yaml"));
}

}  // namespace
