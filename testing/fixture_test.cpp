// imock::testing as a user's test would use it, and what its failures say.
#include "imock/testing/fixture.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace imock::testing {
namespace {

const std::filesystem::path k_root = IMOCK_SOURCE_DIR;

class Fixture : public server_fixture {};

TEST_F(Fixture, AKickReachesTheAppAsStatus6AndTheServerLogsIt) {
  recorder app;
  auto c = client("phone", app);
  connect(*c, token_for("alice"), app);
  ASSERT_TRUE(app.wait_for("success alice"));
  EXPECT_TRUE(wait_for_event(server::event_kind::connect, "alice"));
  ASSERT_EQ(admin("/admin/kick", R"({"user":"alice","code":31010})").http_status, 200);
  EXPECT_TRUE(app.wait_for("status 6 31010"));
  EXPECT_TRUE(wait_for_event(server::event_kind::kick, "alice"));
  EXPECT_TRUE(app.count_stays("status 10 0", 1, 200ms)) << "a kicked client stays down";
}

TEST_F(Fixture, FailedWaitsSayWhatWasSeenInstead) {
  recorder app;
  app.add("status 10 0");
  const auto r = app.wait_for("status 0 0", 10ms);
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("saw: [status 10 0]"), std::string::npos) << r.message();
  const auto e = wait_for_event(server::event_kind::kick, "nobody", 10ms);
  EXPECT_FALSE(e);
  EXPECT_NE(std::string(e.message()).find("waited 10 ms for a server event 'kick' of user 'nobody'"),
            std::string::npos)
      << e.message();
  app.add("status 10 0");
  EXPECT_FALSE(app.count_stays("status 10 0", 1, 10ms));
}

class TlsFixture : public server_fixture {
 protected:
  server::server_config config() const override {
    auto c = server::default_config();
    c.listen.mqtts = "127.0.0.1:0";
    return c;
  }
};

TEST_F(TlsFixture, AConfigWithTlsGetsTlsPortsWithASelfSignedCertificate) {
  recorder app;
  auto c = client("phone", app, transport::tls);
  connect(*c, token_for("bob"), app);
  EXPECT_TRUE(app.wait_for("success bob"));
}

TEST(RunScenarioFile, APassingFilePassesAndABrokenOneSaysWhere) {
  EXPECT_TRUE(run_scenario_file(k_root / "scenarios/kick-by-login-elsewhere-31010.yaml"));
  EXPECT_TRUE(run_scenario_file(k_root / "scenarios/navigation-fallback.yaml", /*real_sockets=*/true));
  const auto dir = std::filesystem::temp_directory_path() / "imock-testing-scenarios";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad.yaml";
  {
    std::ofstream(bad) << "name: bad\ndescription: d\nclients:\n  alice:\nsteps:\n"
                          "  - connect: alice\n  - expect: {client: alice, status: 6, within: 1s}\n";
  }
  const auto failed = run_scenario_file(bad);
  EXPECT_FALSE(failed);
  EXPECT_NE(std::string(failed.message()).find("bad.yaml:7:5"), std::string::npos)
      << failed.message();
  {
    std::ofstream(bad) << "name: bad\ndescription: d\nclients:\n  alice:\nsteps:\n  - conect: alice\n";
  }
  const auto unloadable = run_scenario_file(bad);
  EXPECT_FALSE(unloadable);
  EXPECT_NE(std::string(unloadable.message()).find("does not load"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace imock::testing
