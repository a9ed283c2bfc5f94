// Binding a client socket to a chosen local address (127.0.0.x), so that many
// connections to one server port do not run out of ephemeral ports. Used by every
// client stream (net/client_stream.hpp) and the SDK's navigation request.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace imock::net {

/// Opens `sock` for a connect to `ep`, bound to `source` when it is not empty
/// (IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect() by the whole 4-tuple).
/// The error of socket(), of a `source` that is not an address, or of bind().
boost::system::error_code open_socket(boost::asio::ip::tcp::socket& sock,
                                      const boost::asio::ip::tcp::endpoint& ep,
                                      const std::string& source);

}  // namespace imock::net
