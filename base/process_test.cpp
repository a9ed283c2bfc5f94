#include "imock/base/process.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace imock {
namespace {

using namespace std::chrono_literals;
using stream = spawn_options::stream;

child_process::clock_type::time_point in(std::chrono::milliseconds ms) {
  return child_process::clock_type::now() + ms;
}

TEST(ChildProcess, LinesOutAndTheExitStatus) {
  auto c = child_process::shell("printf 'one\\ntwo\\nthree'; exit 3", {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->read_line(in(5s)), "one");
  EXPECT_EQ(c->read_line(in(5s)), "two");
  EXPECT_EQ(c->read_line(in(5s)), std::nullopt);  // "three" has no newline
  EXPECT_TRUE(c->output_closed());
  EXPECT_EQ(c->wait_exit(5s), 3);
  EXPECT_FALSE(c->running());
}

TEST(ChildProcess, StdinRoundTripAndEndOfFile) {
  auto c = child_process::spawn({"cat"}, {.in = stream::pipe});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->write("hello\n"));
  EXPECT_EQ(c->read_line(in(5s)), "hello");
  c->close_stdin();
  EXPECT_EQ(c->read_line(in(5s)), std::nullopt);
  EXPECT_EQ(c->wait_exit(5s), 0);
  EXPECT_FALSE(c->write("late\n"));  // stdin is closed
}

TEST(ChildProcess, ATimeOutIsNotAnEnd) {
  auto c = child_process::spawn({"cat"}, {.in = stream::pipe});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->read_line(in(50ms)), std::nullopt);
  EXPECT_FALSE(c->output_closed());
  EXPECT_EQ(c->wait_exit(50ms), std::nullopt);
  EXPECT_TRUE(c->running());
}

TEST(ChildProcess, StopSendsTermThenKill) {
  auto polite = child_process::spawn({"sleep", "30"}, {});
  ASSERT_TRUE(polite);
  EXPECT_EQ(polite->stop(5s), 128 + SIGTERM);
  auto stubborn = child_process::shell("trap '' TERM; echo ready; while :; do :; done", {});
  ASSERT_TRUE(stubborn);
  ASSERT_TRUE(stubborn->wait_output("ready", 5s));
  EXPECT_EQ(stubborn->stop(100ms), 128 + SIGKILL);
}

TEST(ChildProcess, OutputToFilesAndStderrWithStdout) {
  const auto dir = std::filesystem::temp_directory_path() / ("imock-process-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto c = child_process::shell("echo out; echo err >&2",
                                {.out = stream::file, .err = stream::as_out, .out_file = dir / "log"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->wait_exit(5s), 0);
  std::ifstream f(dir / "log");
  std::stringstream s;
  s << f.rdbuf();
  EXPECT_EQ(s.str(), "out\nerr\n");
  std::filesystem::remove_all(dir);
}

TEST(ChildProcess, OpenFilesLimitAndNoInheritedDescriptors) {
  auto c = child_process::shell("ulimit -n; ls /proc/self/fd | wc -l", {.open_files_limit = 512});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->read_line(in(5s)), "512");
  // 0, 1, 2 and the descriptor ls reads the folder with: nothing of this process's.
  EXPECT_EQ(c->read_line(in(5s)), "4");
  EXPECT_EQ(c->wait_exit(5s), 0);
}

TEST(ChildProcess, AProgramThatDoesNotExistExitsWith127) {
  auto c = child_process::spawn({"/nonexistent/imock-no-such-program"}, {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->wait_exit(5s), 127);
  std::string error;
  EXPECT_FALSE(child_process::spawn({}, {}, &error));
  EXPECT_EQ(error, "no program to start");
}

TEST(ChildProcess, WaitOutputKeepsWhatItRead) {
  auto c = child_process::shell("echo starting; echo 'listening on 1234'; exec sleep 30", {});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->wait_output("listening on", 5s));
  EXPECT_NE(c->output().find("starting\n"), std::string::npos);
  EXPECT_FALSE(c->wait_output("never printed", 50ms));
}

}  // namespace
}  // namespace imock
