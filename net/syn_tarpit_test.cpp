#include "imock/net/syn_tarpit.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace imock::net {
namespace {

using boost::asio::ip::tcp;

// A free loopback port: bind port 0, read it back, let it go.
tcp::endpoint free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return {boost::asio::ip::address_v4::loopback(), ntohs(a.sin_port)};
}

// What a non-blocking connect to `at` comes to within `wait_ms`: 0 connected,
// an errno (ECONNREFUSED ...), or -1 still pending.
int connect_outcome(const tcp::endpoint& at, int wait_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int result = -1;
  if (::connect(fd, at.data(), static_cast<socklen_t>(at.size())) == 0) {
    result = 0;
  } else if (errno == EINPROGRESS) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, wait_ms) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      result = err;
    }
  } else {
    result = errno;
  }
  ::close(fd);
  return result;
}

TEST(SynTarpit, AConnectNeitherSucceedsNorIsRefusedThenTheClosedPortRefuses) {
  const auto at = free_port();
  EXPECT_EQ(connect_outcome(at, 200), ECONNREFUSED);  // nobody listens
  syn_tarpit t;
  ASSERT_FALSE(t.open(at)) << "cannot open the tarpit";
  EXPECT_TRUE(t.is_open());
  EXPECT_EQ(connect_outcome(at, 300), -1);  // the SYN is dropped: still pending
  t.close();
  EXPECT_FALSE(t.is_open());
  EXPECT_EQ(connect_outcome(at, 200), ECONNREFUSED);
}

TEST(SynTarpit, APortInUseIsAnError) {
  const auto at = free_port();
  syn_tarpit a;
  ASSERT_FALSE(a.open(at));
  syn_tarpit b;
  EXPECT_TRUE(b.open(at));  // EADDRINUSE
  EXPECT_FALSE(b.is_open());
}

}  // namespace
}  // namespace imock::net
