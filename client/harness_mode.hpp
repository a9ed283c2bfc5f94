// imock-client --harness: drive the reference SDK with JSON lines on stdin/stdout.
#pragma once

namespace imock::client {

/// Runs until stdin closes or a {"cmd":"quit"} line. Returns the exit status.
int run_harness_mode();

}  // namespace imock::client
