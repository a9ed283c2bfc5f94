#include "imock/net/syn_tarpit.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace imock::net {

std::error_code syn_tarpit::open(const boost::asio::ip::tcp::endpoint& at) {
  close();
  const auto fail = [this] {
    const std::error_code ec(errno, std::system_category());
    close();
    return ec;
  };
  const int family = at.protocol().family();
  listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return fail();
  const int on = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(listen_fd_, at.data(), static_cast<socklen_t>(at.size())) != 0) return fail();
  // Backlog 0: the accept queue holds one connection; the filler takes that place.
  if (::listen(listen_fd_, 0) != 0) return fail();
  filler_fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (filler_fd_ < 0) return fail();
  // Blocking, on loopback or a local address: the kernel completes the handshake at
  // once because the queue still has room.
  auto target = at;
  if (target.address().is_unspecified()) {
    target.address(at.address().is_v6()
                       ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                       : boost::asio::ip::address(boost::asio::ip::address_v4::loopback()));
  }
  if (::connect(filler_fd_, target.data(), static_cast<socklen_t>(target.size())) != 0) {
    return fail();
  }
  return {};
}

void syn_tarpit::close() noexcept {
  if (filler_fd_ >= 0) ::close(filler_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  filler_fd_ = -1;
  listen_fd_ = -1;
}

}  // namespace imock::net
