#include "imock/harness/steps.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "imock/protocol/token.hpp"
#include "imock/server/server_api.hpp"

namespace imock::harness {
namespace {

namespace json = boost::json;
using wall_clock = std::chrono::steady_clock;

class executor {
 public:
  executor(const scenario& s, world& w, const step_options& o) : s_(s), w_(w), options_(o) {}

  scenario_result go() {
    scenario_result r;
    r.name = s_.name;
    r.file = s_.file;
    r.timing = w_.timing_note();
    const auto wall_start = wall_clock::now();
    std::string failure;
    std::size_t failed_at_trace = 0;
    try {
      w_.start();
      for (std::size_t i = 0; i < s_.steps.size() && failure.empty(); ++i) {
        const auto& st = s_.steps[i];
        trace().add({.source = "step", .kind = "step", .detail = st.text});
        failure = std::visit([&](const auto& body) { return do_step(body); }, st.body);
        if (!failure.empty()) {
          r.failed_step = st.where.to_string() + ": " + st.text;
          failed_at_trace = trace().size();
        }
      }
    } catch (const std::exception& e) {
      failure = std::string("the run broke: ") + e.what();
      failed_at_trace = trace().size();
    }
    w_.stop();
    r.passed = failure.empty();
    r.failure = failure;
    r.failed_index = failed_at_trace;
    r.trace = trace().snapshot();
    r.wall_seconds = std::chrono::duration<double>(wall_clock::now() - wall_start).count();
    return r;
  }

 private:
  trace_log& trace() { return w_.trace(); }

  // The first entry of `source` after `from` matching `p`, letting time pass until
  // scenario time `until_ms`.
  std::optional<std::size_t> wait_for(const std::string& source, std::size_t from,
                                      const trace_log::pred& p, std::int64_t until_ms) {
    std::optional<std::size_t> found;
    w_.wait(until_ms, [&] {
      found = trace().find(source, from, p);
      return found.has_value();
    });
    return found;
  }

  // --- tokens and server API calls ---
  const server::app_config* app_of(const std::string& key) const { return s_.server.find_app(key); }

  server::api_response api_call(const std::string& app_key, const std::string& path,
                                const std::string& form) {
    const auto* app = app_of(app_key);
    const std::string nonce = std::to_string(++nonce_);
    const std::string ts = std::to_string(w_.server_now_ms());
    server::api_request req{
        .method = "POST",
        .path = path,
        .content_type = "application/x-www-form-urlencoded",
        .headers = {{"app-key", app_key},
                    {"nonce", nonce},
                    {"timestamp", ts},
                    {"signature",
                     server::api_signature(app != nullptr ? app->secret : "", nonce, ts)}},
        .body = form};
    return w_.request(req);
  }

  std::string make_token(const client_spec& spec, const client_action& a) {
    const auto* app = app_of(spec.app);
    const std::string secret = app != nullptr ? app->secret : "unknown-app-secret";
    const std::int64_t lifetime = app != nullptr ? app->token_lifetime_ms : 0;
    const auto now = w_.server_now_ms();
    switch (a.token) {
      case token_kind::fresh:
        return token::issue(spec.app, spec.user, secret, now, lifetime).value_or("");
      case token_kind::api: {
        const auto r = api_call(spec.app, "/user/getToken.json", "userId=" + spec.user);
        boost::system::error_code ec;
        const auto v = json::parse(r.body, ec);
        if (!ec && v.is_object()) {
          if (const auto* t = v.as_object().if_contains("token"); t != nullptr && t->is_string()) {
            return std::string(t->as_string());
          }
        }
        return "";
      }
      case token_kind::expired:
        return token::issue(spec.app, spec.user, secret, now - 3'600'000, 1000).value_or("");
      case token_kind::tampered: {
        auto t = token::issue(spec.app, spec.user, secret, now, lifetime).value_or("");
        if (!t.empty()) t[t.size() - 2] = t[t.size() - 2] == 'A' ? 'B' : 'A';
        return t;
      }
      case token_kind::other_app:
        return token::issue("imock-other-app", spec.user, "other-secret", now).value_or("");
      case token_kind::unreadable:
        return "this-is-not-a-token";
      case token_kind::empty:
        return "";
      case token_kind::literal:
        return a.token_text;
      case token_kind::previous: {
        const auto it = last_token_.find(spec.name);
        return it != last_token_.end() ? it->second : "";
      }
    }
    return "";
  }

  // A client that cannot show events of this kind (an app run by hand shows only its
  // connect attempts, through the server): the expectation is skipped, and said.
  bool skip_unseen(const std::string& client, const std::string& event, const std::string& what) {
    if (client.empty() || w_.client(s_.clients.at(client)).shows(event)) return false;
    const std::string line = "(skipped, client-side: " + client + " " + what + ")";
    w_.note("  " + line);
    trace().add({.source = "step", .kind = "skipped", .detail = line});
    return true;
  }

  // --- actions ---
  std::string do_step(const client_action& a) {
    const auto& spec = s_.clients.at(a.client);
    auto& c = w_.client(spec);
    switch (a.what) {
      case client_action::kind::init:
        if (auto why = c.init(); !why.empty()) {
          return "client " + a.client + " could not be initialised: " + why;
        }
        break;
      case client_action::kind::connect: {
        const auto token = make_token(spec, a);
        last_token_[spec.name] = token;
        const auto limit_ms = a.time_limit_ms.value_or(spec.time_limit_ms);
        // Whole seconds, as the SDK takes them: a negative limit rounds away from 0.
        return c.connect(
            token,
            static_cast<int>(limit_ms <= 0 ? limit_ms / 1000 - (limit_ms % 1000 != 0 ? 1 : 0)
                                           : (limit_ms + 999) / 1000),
            a.init_first);
      }
      case client_action::kind::disconnect:
        return c.disconnect();
      case client_action::kind::logout:
        return c.logout();
      case client_action::kind::network_down:
        return c.network(false);
      case client_action::kind::network_up:
        return c.network(true);
      case client_action::kind::foreground:
        return c.foreground();
      case client_action::kind::set_reconnect_kick:
        return c.reconnect_kick(a.on);
      case client_action::kind::send_message:
        return c.send_message(a.to, a.object_name, a.content);
      case client_action::kind::resend: {
        // The client's latest failed send, by the id its send_error said.
        const auto all = trace().snapshot();
        for (auto it = all.rbegin(); it != all.rend(); ++it) {
          if (it->source == a.client && it->kind == "send_error" && it->detail.size() > 1) {
            return c.resend(std::stoll(it->detail.substr(1)));
          }
        }
        return "client " + a.client + " has no failed send to resend (no send_error so far)";
      }
      case client_action::kind::relaunch:
        return c.relaunch();
    }
    return {};
  }

  std::string do_step(const server_action& a) {
    server::api_request req{.method = "POST", .path = a.path, .body = a.json_body};
    const auto r = w_.request(req);
    if (r.http_status != 200) {
      return "admin call " + a.path + " " + a.json_body + " failed: HTTP " +
             std::to_string(r.http_status) + " " + r.body;
    }
    return {};
  }

  std::string do_step(const api_action& a) {
    std::string form = a.form;
    if (const auto pos = form.find("{now}"); pos != std::string::npos) {
      form.replace(pos, 5, std::to_string(w_.server_now_ms() + 1));
    }
    // Signed with the step's app (the client's, or the first app by default).
    const std::string app = !a.app.empty()           ? a.app
                            : s_.server.apps.empty() ? std::string()
                                                     : s_.server.apps.front().key;
    const auto r = api_call(app, a.path, form);
    const int want = a.expect_code.value_or(200);
    boost::system::error_code ec;
    const auto v = json::parse(r.body, ec);
    int got = -1;
    if (!ec && v.is_object()) {
      if (const auto* c = v.as_object().if_contains("code"); c != nullptr && c->is_number()) {
        got = c->to_number<int>();
      }
    }
    if (got != want) {
      return "server API " + a.path + " answered code " + std::to_string(got) + ", expected " +
             std::to_string(want) + ": " + r.body;
    }
    return {};
  }

  std::string do_step(const wait_action& a) {
    w_.wait(w_.now_ms() + a.ms, {});
    return {};
  }

  // --- messages ---

  // The texts of the messages `client`'s app was shown since the run began.
  std::vector<std::string> shown(const std::string& client, const std::optional<std::string>& from) {
    std::vector<std::string> out;
    for (const auto& e : trace().snapshot()) {
      if (e.source == client && e.kind == "message" && (!from || e.user == *from)) {
        out.push_back(e.text);
      }
    }
    return out;
  }

  static std::string quoted(const std::vector<std::string>& texts) {
    std::string out;
    for (const auto& t : texts) out += (out.empty() ? "" : ", ") + shortened(t, 32);
    return "[" + out + "]";
  }

  // What is wrong with `got` against `want`: lost, shown twice, unexpected, out of order.
  static std::string differences(const std::vector<std::string>& want,
                                 const std::vector<std::string>& got) {
    std::map<std::string, int> w, g;
    for (const auto& t : want) ++w[t];
    for (const auto& t : got) ++g[t];
    std::vector<std::string> lost, twice, extra;
    for (const auto& [t, n] : w) {
      if (g[t] < n) lost.push_back(t);
      if (g[t] > n) twice.push_back(t + " (" + std::to_string(g[t]) + "x)");
    }
    for (const auto& [t, n] : g) {
      if (!w.contains(t)) extra.push_back(t);
    }
    std::string out;
    if (!lost.empty()) out += "\n  lost: " + quoted(lost);
    if (!twice.empty()) out += "\n  shown more than once: " + quoted(twice);
    if (!extra.empty()) out += "\n  not expected: " + quoted(extra);
    if (out.empty()) out = "\n  every message is there, in another order";
    return out;
  }

  std::string do_step(const inbox_step& a) {
    if (skip_unseen(a.client, "message", "inbox " + quoted(a.texts))) return {};
    const auto until = w_.now_ms() + a.within_ms + options_.slack_ms;
    // The inbox only grows: once it is not the start of the list it can never become
    // the list, and the step fails then; else it is checked when the window ends, so
    // a message still on its way at the first match (a late copy) counts too.
    std::vector<std::string> got;
    w_.wait(until, [&] {
      got = shown(a.client, a.from);
      return got.size() > a.texts.size() ||
             !std::equal(got.begin(), got.end(), a.texts.begin());
    });
    got = shown(a.client, a.from);
    if (got == a.texts) return {};
    // Wrong: the rest of the window, so the report shows the whole inbox (a message
    // that only came late is not "lost").
    w_.wait(until, {});
    got = shown(a.client, a.from);
    return "expected the inbox of " + a.client + (a.from ? " (from " + *a.from + ")" : "") +
           " to be exactly " + quoted(a.texts) + " within " + format_ms(a.within_ms) +
           "\nit is " + quoted(got) + differences(a.texts, got);
  }

  std::string do_step(const history_step& a) {
    if (skip_unseen(a.client, "history", "history with " + a.peer)) return {};
    auto& c = w_.client(s_.clients.at(a.client));
    const auto from = trace().size();
    if (auto why = c.history(a.peer); !why.empty()) return why;
    const std::string peer = a.peer;
    const auto found = wait_for(
        a.client, from, [peer](const trace_entry& e) { return e.kind == "history" && e.detail == peer; },
        w_.now_ms() + a.within_ms + options_.slack_ms);
    if (!found) {
      return "client " + a.client + " did not answer the history call within " +
             format_ms(a.within_ms);
    }
    std::vector<std::string> got;
    boost::system::error_code ec;
    const auto v = json::parse(trace().at(*found).text, ec);
    if (!ec && v.is_array()) {
      for (const auto& t : v.as_array()) {
        got.emplace_back(t.is_string() ? std::string(t.as_string()) : json::serialize(t));
      }
    }
    if (got == a.texts) return {};
    return "expected the history of " + a.client + " with " + a.peer + " to be exactly " +
           quoted(a.texts) + "\nit is " + quoted(got) + differences(a.texts, got);
  }

  // --- expectations ---
  std::size_t& cursor(const std::string& source) { return cursors_[source]; }

  std::string seen_after(const std::string& source, std::size_t from) {
    std::string out;
    int n = 0;
    const auto all = trace().snapshot();
    for (std::size_t i = from; i < all.size(); ++i) {
      if (all[i].source != source) continue;
      if (++n > 12) {
        out += ", ...";
        break;
      }
      out += (out.empty() ? "" : ", ") + describe(all[i]) + " at " + format_ms(all[i].t_ms);
    }
    return out.empty() ? "nothing" : out;
  }

  std::string do_step(const expect_step& a) {
    const auto start = w_.now_ms();
    const auto until = start + a.within_ms + options_.slack_ms;
        for (const auto& m : a.client_events) {
      if (skip_unseen(a.client, m.event, describe(m))) return {};
    }
    const std::string source = a.client.empty() ? "server" : a.client;
    auto& at = cursor(source);
    const auto from = at;
    const std::size_t n = a.client.empty() ? a.server_events.size() : a.client_events.size();
    for (std::size_t k = 0; k < n; ++k) {
      trace_log::pred p;
      std::string want;
      if (a.client.empty()) {
        const auto m = a.server_events[k];
        p = [m](const trace_entry& e) { return matches(m, e); };
        want = describe(m);
      } else {
        const auto m = a.client_events[k];
        p = [m](const trace_entry& e) { return matches(m, e); };
        want = describe(m);
      }
      const auto found = wait_for(source, at, p, until);
      if (!found) {
        return "expected " + source + ": " + want +
               (n > 1 ? " (event " + std::to_string(k + 1) + " of " + std::to_string(n) + ")"
                      : "") +
               " within " + format_ms(a.within_ms) + "\nsaw instead (" + source +
               ", after the previous match): " + seen_after(source, from);
      }
      if (a.not_before_ms > 0) {
        const auto t = trace().at(*found).t_ms;
        if (t < start + a.not_before_ms - options_.slack_ms) {
          return "expected " + source + ": " + want + " not before " + format_ms(a.not_before_ms) +
                 " into the step, but it came at " + format_ms(t - start) + " (" + format_ms(t) +
                 ")";
        }
      }
      at = *found + 1;
      last_match_[source] = *found;
    }
    return {};
  }

    trace_log::pred pred_of(const std::optional<client_event_match>& c,
                          const std::optional<server_event_match>& s) {
    if (c) {
      return [m = *c](const trace_entry& e) { return matches(m, e); };
    }
    return [m = *s](const trace_entry& e) { return matches(m, e); };
  }

    std::string do_step(const absent_step& a) {
    if (a.client_event &&
        skip_unseen(a.client, a.client_event->event, "absent " + describe(*a.client_event))) {
      return {};
    }
    const std::string source = a.client.empty() ? "server" : a.client;
    const auto from = cursor(source);
    const auto found =
        wait_for(source, from, pred_of(a.client_event, a.server_event), w_.now_ms() + a.for_ms);
    if (found) {
      const auto e = trace().at(*found);
      return "expected no " +
             (a.client_event ? describe(*a.client_event) : describe(*a.server_event)) + " from " +
             source + " for " + format_ms(a.for_ms) + ", but saw " + describe(e) + " at " +
             format_ms(e.t_ms);
    }
    // The window is consumed: later expectations look after it.
    cursor(source) = trace().size();
    return {};
  }

    std::string do_step(const count_step& a) {
    if (a.client_event &&
        skip_unseen(a.client, a.client_event->event, "count " + describe(*a.client_event))) {
      return {};
    }
    const std::string source = a.client.empty() ? "server" : a.client;
    const auto from = cursor(source);
    const auto p = pred_of(a.client_event, a.server_event);
    // Slack only widens a window that can only help: a lower bound alone.
    const bool lower_only = a.at_least && !a.equals && !a.at_most;
    const auto until = w_.now_ms() + a.within_ms + (lower_only ? options_.slack_ms : 0);
    // Stop early only when the answer cannot change any more: at_least reached
    // (and no upper bound), or an upper bound exceeded.
    int n = 0;
    w_.wait(until, [&] {
      n = trace().count(source, from, p);
      if ((a.equals && n > *a.equals) || (a.at_most && n > *a.at_most)) return true;
      return lower_only && n >= *a.at_least;
    });
    n = trace().count(source, from, p);
    const std::string what = a.client_event ? describe(*a.client_event) : describe(*a.server_event);
    auto fail = [&](const std::string& bound) {
      return "expected " + bound + " x " + what + " from " + source + " within " +
             format_ms(a.within_ms) + ", saw " + std::to_string(n) + ": " +
             seen_after(source, from);
    };
    if (a.equals && n != *a.equals) return fail("exactly " + std::to_string(*a.equals));
    if (a.at_least && n < *a.at_least) return fail("at least " + std::to_string(*a.at_least));
    if (a.at_most && n > *a.at_most) return fail("at most " + std::to_string(*a.at_most));
    cursor(source) = trace().size();
    return {};
  }

  std::string do_step(const schedule_step& a) {
    const bool of_server = a.server_event.has_value();
        const std::string source = of_server ? "server" : a.client;
    const auto from = cursor(source);
    std::int64_t total = 0;
    for (auto ms : a.intervals_ms) total += ms;
    const auto within = (a.within_ms > 0 ? a.within_ms : total + total / 10 + 5'000);
    const auto until = w_.now_ms() + within + options_.slack_ms;
    const auto tolerance = a.tolerance_ms + options_.slack_ms;
        const trace_log::pred is_attempt =
        of_server ? trace_log::pred([m = *a.server_event](const trace_entry& e) { return matches(m, e); })
                  : trace_log::pred([](const trace_entry& e) { return e.kind == "attempt"; });
    const std::string what = of_server ? describe(*a.server_event) + " events" : "connect attempts";
    // An attempt the previous expectation of this client matched is the first one.
    std::vector<trace_entry> attempts;
    bool from_matched = false;
    if (const auto it = last_match_.find(source);
        it != last_match_.end() && it->second + 1 == from) {
      const auto e = trace().at(it->second);
      if (is_attempt(e)) {
        attempts.push_back(e);
        from_matched = true;
      }
    }
    const int need = static_cast<int>(a.intervals_ms.size()) + 1;
    const int have = from_matched ? 1 : 0;
    w_.wait(until, [&] { return trace().count(source, from, is_attempt) + have >= need; });
    std::size_t last_index = from;
    {
      const auto all = trace().snapshot();
      for (std::size_t i = from; i < all.size() && static_cast<int>(attempts.size()) < need; ++i) {
        if (all[i].source == source && is_attempt(all[i])) {
          attempts.push_back(all[i]);
          last_index = i;
        }
      }
    }
    if (static_cast<int>(attempts.size()) < need) {
      return "expected " + std::to_string(need) + " " + what + " from " + source + " within " +
             format_ms(within) + ", saw " + std::to_string(attempts.size()) + ": " +
             seen_after(source, from);
    }
    std::string report;
    bool ok = true;
    for (std::size_t k = 0; k < a.intervals_ms.size(); ++k) {
      // Prefer the client's own clock (when it reports one): it does not include the
      // delivery delay of the callback thread.
      const bool client_clock = attempts[k].client_ms != 0 && attempts[k + 1].client_ms != 0;
      const auto gap = client_clock ? attempts[k + 1].client_ms - attempts[k].client_ms
                                    : attempts[k + 1].t_ms - attempts[k].t_ms;
      const auto want = a.intervals_ms[k];
      const bool good = std::llabs(gap - want) <= tolerance;
      ok = ok && good;
      report += "\n  gap " + std::to_string(k + 1) + ": expected " + format_ms(want) + ", got " +
                format_ms(gap) + (good ? "" : "   <-- off by more than " + format_ms(tolerance));
    }
    if (!ok) {
      return (of_server ? "the gaps between " + what + " of " + a.client + " are off:"
                        : "reconnect schedule of " + source + " is off:") +
             report;
    }
    // Leave the cursor after the last attempt checked.
    if (static_cast<int>(attempts.size()) > have) cursor(source) = last_index + 1;
    return {};
  }

  std::string do_step(const status_step& a) {
        if (skip_unseen(a.client, "status", "status " + std::to_string(a.status))) return {};
    // The latest status the client reported, waiting up to 1 s of scenario time
    // for one that matches.
    const auto latest = [&] {
      int last = -1;
      for (const auto& e : trace().snapshot()) {
        if (e.source == a.client && e.kind == "status") last = e.status;
      }
      return last;
    };
    w_.wait(w_.now_ms() + 1000 + options_.slack_ms, [&] { return latest() == a.status; });
    const int last = latest();
    if (last != a.status) {
      return "expected " + a.client + "'s status to be " + std::to_string(a.status) + " " +
             status_name(a.status) + ", it is " + std::to_string(last) + " " + status_name(last);
    }
    return {};
  }

  const scenario& s_;
  world& w_;
  step_options options_;
  std::map<std::string, std::size_t> cursors_;
  std::map<std::string, std::size_t> last_match_;  // trace index an expect last matched
  std::map<std::string, std::string> last_token_;
  std::uint64_t nonce_ = 0;
};

}  // namespace

scenario_result run_steps(const scenario& s, world& w, const step_options& options) {
  executor e(s, w, options);
  return e.go();
}

std::string render_failure(const scenario_result& r) {
  std::string out = "FAIL " + r.name + " (" + r.file + ")\n";
  if (!r.failed_step.empty()) out += "  step  " + r.failed_step + "\n";
  std::string failure = r.failure;
  for (std::size_t pos = 0; (pos = failure.find('\n', pos)) != std::string::npos; pos += 3) {
    failure.replace(pos, 1, "\n  ");
  }
  out += "  " + failure + "\n";
  if (!r.timing.empty()) out += "  timing: " + r.timing + "\n";
  const std::size_t end = std::min(r.trace.size(), r.failed_index + 2);
  const std::size_t begin = end > 40 ? end - 40 : 0;
  out += "  trace (scenario time, last " + std::to_string(end - begin) + " entries):\n";
  out += render_trace(r.trace, begin, end);
  return out;
}

}  // namespace imock::harness
