// The message steps (docs/scenarios.md, "Messages"): send (from a client's SDK or
// through the server API), resend and relaunch are read in read_client_action; this
// file reads send, inbox and history.
#include <string>
#include <utility>
#include <vector>

#include "imock/harness/loader_reader.hpp"
#include "imock/protocol/api_request.hpp"

namespace imock::harness::detail {
namespace {

// Where a send goes in: the sender's SDK, or one of the server API's publish calls.
constexpr std::array<std::string_view, 4> k_send_via = {"client", "api", "system", "status"};

// The largest content a scenario may send: room for the 128 KB limit and past it.
constexpr std::uint64_t k_max_content_bytes = 1024 * 1024;

// The codes a server API publish may answer (docs/server-api.md).
constexpr std::array<int, 7> k_publish_codes = {200, 1002, 1004, 1005, 1008, 1009, 20604};

}  // namespace

// The user of a client named in `e`.
std::optional<std::string> reader::user_of(const entry& e) {
  const auto name = client_name(e);
  if (!name) return std::nullopt;
  const auto* spec = spec_of(*name);
  return spec != nullptr ? spec->user : *name;
}

std::optional<step_body> reader::read_send(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for send (e.g. send: {client: alice, to: bob, text: hello}), got " +
                    describe(e.value));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in send", k_p_send);
  std::string via = "client";
  if (const auto* p = find(params, "via")) {
    const auto v = read_choice(*p, k_send_via);
    if (!v) return std::nullopt;  // the rest depends on it
    via = *v;
  }
  std::string text;
  if (const auto* p = required(params, e.value.Mark(), "send", "text")) {
    text = read_non_empty(*p).value_or("");
  }
  std::size_t size = 0;
  if (const auto* p = find(params, "size")) {
    size = static_cast<std::size_t>(read_unsigned(*p, 1, k_max_content_bytes).value_or(0));
  }
  std::string object_name = "RC:TxtMsg";
  if (const auto* p = find(params, "object_name")) {
    object_name = read_non_empty(*p).value_or(object_name);
  }
  const std::string content = text_content(text, size);
  if (size > 0 && content.size() != size && errors_.size() == before) {
    error_at(*find(params, "size"), "size " + std::to_string(size) + " is smaller than the message " +
                                        "with its text (" + std::to_string(content.size()) +
                                        " bytes)");
  }
  if (via == "client") {
    for (const auto* p : {find(params, "from"), find(params, "expect")}) {
      if (p != nullptr) {
        error(p->key.Mark(), "'" + p->name + "' goes with via: api, system or status (a " +
                                 "client's send is from its own user and its outcome is a " +
                                 "sent or send_error event)");
      }
    }
    client_action a;
    a.what = client_action::kind::send_message;
    if (const auto* c = required(params, e.value.Mark(), "send", "client")) {
      a.client = client_name(*c).value_or("");
    }
    if (const auto* t = required(params, e.value.Mark(), "send", "to")) {
      a.to = user_of(*t).value_or("");
    }
    a.object_name = object_name;
    a.content = content;
    if (errors_.size() != before) return std::nullopt;
    return a;
  }
  // Through the server API: signed with the sender's app.
  if (const auto* c = find(params, "client")) {
    error(c->key.Mark(), "client: is the sender of a client's send; through the server API " +
                             std::string("the sender is from: NAME"));
  }
  api_action a;
  a.path = via == "api"      ? "/message/private/publish.json"
           : via == "system" ? "/message/system/publish.json"
                             : "/statusmessage/private/publish.json";
  std::vector<std::pair<std::string, std::string>> form;
  if (const auto* f = required(params, e.value.Mark(), "send", "from")) {
    if (const auto user = user_of(*f)) {
      form.emplace_back("fromUserId", *user);
      if (const auto* spec = spec_of(f->value.Scalar())) a.app = spec->app;
    }
  }
  if (const auto* t = required(params, e.value.Mark(), "send", "to")) {
    if (t->value.IsSequence()) {
      if (t->value.size() == 0) error_at(*t, "expected at least one client for to, got an empty list");
      for (const auto& item : t->value) {
        if (const auto user = user_of(entry{"to", item, item})) form.emplace_back("toUserId", *user);
      }
    } else if (const auto user = user_of(*t)) {
      form.emplace_back("toUserId", *user);
    }
  }
  form.emplace_back("objectName", object_name);
  form.emplace_back("content", content);
  if (const auto* p = find(params, "expect")) {
    if (const auto v = read_unsigned(*p, 0, k_max_int)) {
      if (std::find(k_publish_codes.begin(), k_publish_codes.end(), static_cast<int>(*v)) ==
          k_publish_codes.end()) {
        std::string codes;
        for (const int c : k_publish_codes) codes += (codes.empty() ? "" : ", ") + std::to_string(c);
        error_at(*p, "bad expect " + std::to_string(*v) + " for send (expected a server API code: " +
                         codes + "; see docs/server-api.md)");
      } else {
        a.expect_code = static_cast<int>(*v);
      }
    }
  }
  for (const auto& [key, value] : form) {
    a.form += (a.form.empty() ? "" : "&") + key + "=" + form_escape(value);
  }
  if (errors_.size() != before) return std::nullopt;
  return a;
}

// `messages: [m1, m2]`: the texts, in order ([] for none).
std::vector<std::string> reader::read_texts(const entry& e) {
  std::vector<std::string> out;
  if (!e.value.IsSequence()) {
    error_at(e, "expected a list of message texts for messages (e.g. messages: [m1, m2], or [] "
                "for none), got " + describe(e.value));
    return out;
  }
  for (const auto& item : e.value) {
    if (auto t = read_non_empty(entry{"messages", item, item})) out.push_back(std::move(*t));
  }
  return out;
}

std::optional<step_body> reader::read_inbox(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for inbox (e.g. inbox: {client: bob, messages: [m1, m2]}), got " +
                    describe(e.value));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in inbox", k_p_inbox);
  inbox_step x;
  if (const auto* c = required(params, e.value.Mark(), "inbox", "client")) {
    x.client = client_name(*c).value_or("");
  }
  if (const auto* m = required(params, e.value.Mark(), "inbox", "messages")) x.texts = read_texts(*m);
  if (const auto* f = find(params, "from")) x.from = user_of(*f);
  if (const auto* w = find(params, "within")) x.within_ms = read_duration(*w).value_or(0);
  if (errors_.size() != before) return std::nullopt;
  return x;
}

std::optional<step_body> reader::read_history(const entry& e) {
  if (!e.value.IsMap()) {
    error_at(e, "expected a map for history (e.g. history: {client: bob, with: alice, messages: "
                "[m1]}), got " + describe(e.value));
    return std::nullopt;
  }
  const auto before = errors_.size();
  const auto params = read_map(e.value, "in history", k_p_history);
  history_step x;
  if (const auto* c = required(params, e.value.Mark(), "history", "client")) {
    x.client = client_name(*c).value_or("");
  }
  if (const auto* w = required(params, e.value.Mark(), "history", "with")) {
    x.peer = user_of(*w).value_or("");
  }
  if (const auto* m = required(params, e.value.Mark(), "history", "messages")) x.texts = read_texts(*m);
  if (const auto* w = find(params, "within")) x.within_ms = read_duration(*w).value_or(0);
  if (errors_.size() != before) return std::nullopt;
  return x;
}

}  // namespace imock::harness::detail
