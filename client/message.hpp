// A message as the app sees it (RCMessage, SPEC.md §8.4): the row of the user's local
// database that sendMessage's callbacks, the receive listener and history() hand out.
#pragma once

#include <cstdint>
#include <string>

namespace imock::client {

struct message {
  std::int64_t id = 0;  // messageId: the row in the local database (0 without one)
  std::string uid;      // messageUId; "" until the server took it
  std::string peer;     // targetId: the other user of the conversation
  std::string sender;   // senderUserId
  int direction = 1;    // 1 SEND, 2 RECEIVE
  int sent_status = 10;  // 10 SENDING, 20 FAILED, 30 SENT, 40 RECEIVED
  std::string object_name;
  std::string content;
  std::int64_t sent_ms = 0;      // the server's time (a send's own time until then)
  std::int64_t received_ms = 0;  // the local time it arrived (received messages)
  bool offline = false;          // stored by the server while this user was offline
};

}  // namespace imock::client
