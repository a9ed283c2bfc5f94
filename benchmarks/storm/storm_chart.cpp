#include "imock/benchmarks/storm/storm_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "imock/base/markup.hpp"

namespace imock::storm {
namespace {

constexpr double k_width = 960;
constexpr double k_left = 70;  // room for y labels
constexpr double k_right = 20;
constexpr double k_top = 56;     // title and the first panel's label
constexpr double k_panel = 200;  // height of each panel
constexpr double k_gap = 50;     // between panels (x labels of the first)
constexpr double k_bottom = 70;  // x labels and legend

std::string num(double x) {
  char buf[32];
  if (std::fabs(x - std::round(x)) < 1e-9) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", x);
  }
  return buf;
}

// Axis label: 15000 -> "15k", 1500 -> "1.5k".
std::string short_num(double x) {
  if (x >= 1e6) return num(std::round(x / 1e5) / 10) + "M";
  if (x >= 1e3) return num(std::round(x / 1e2) / 10) + "k";
  return num(x);
}

struct panel {
  double y0;  // top in pixels
  double y_max;
  double x_max_s;
  [[nodiscard]] double x(double s) const {
    return k_left + (k_width - k_left - k_right) * (x_max_s <= 0 ? 0 : s / x_max_s);
  }
  [[nodiscard]] double y(double v) const {
    return y0 + k_panel - k_panel * (y_max <= 0 ? 0 : std::min(v, y_max) / y_max);
  }
};

void axes(std::string& out, const panel& p, const std::vector<double>& xt,
          const std::vector<double>& yt, const std::string& label) {
  // Grid and y labels.
  for (const double v : yt) {
    const double y = p.y(v);
    out += "<line x1=\"" + num(k_left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(k_width - k_right) +
           "\" y2=\"" + num(y) + "\" stroke=\"#e3e3e3\"/>\n";
    out += "<text x=\"" + num(k_left - 6) + "\" y=\"" + num(y + 4) +
           "\" text-anchor=\"end\" font-size=\"11\">" + short_num(v) + "</text>\n";
  }
  for (const double s : xt) {
    const double x = p.x(s);
    out += "<line x1=\"" + num(x) + "\" y1=\"" + num(p.y0) + "\" x2=\"" + num(x) + "\" y2=\"" +
           num(p.y0 + k_panel) + "\" stroke=\"#f0f0f0\"/>\n";
    out += "<text x=\"" + num(x) + "\" y=\"" + num(p.y0 + k_panel + 15) +
           "\" text-anchor=\"middle\" font-size=\"11\">" + num(s) + "</text>\n";
  }
  out += "<rect x=\"" + num(k_left) + "\" y=\"" + num(p.y0) + "\" width=\"" +
         num(k_width - k_left - k_right) + "\" height=\"" + num(k_panel) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
  out += "<text x=\"" + num(k_left) + "\" y=\"" + num(p.y0 - 6) +
         "\" font-size=\"12\" font-weight=\"bold\">" + xml_escape(label) + "</text>\n";
}

// A step line through per-bucket values (value i covers [i, i+1) buckets).
std::string steps(const panel& p, const std::vector<double>& v, double bucket_s) {
  std::string pts;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double x0 = p.x(static_cast<double>(i) * bucket_s);
    const double x1 = p.x(static_cast<double>(i + 1) * bucket_s);
    const double y = p.y(v[i]);
    pts += num(x0) + "," + num(y) + " " + num(x1) + "," + num(y) + " ";
  }
  return pts;
}

}  // namespace

std::vector<double> axis_ticks(double max, int target) {
  if (!(max > 0) || !std::isfinite(max)) return {0, 1};
  const double raw = max / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> out;
  for (double v = 0; v < max + step * 0.999; v += step) out.push_back(v);
  if (out.size() < 2) out.push_back(step);
  return out;
}

std::string render_svg(const run_result& r, const std::string& title) {
  const auto& tl = r.tl;
  const double bucket_s = static_cast<double>(tl.bucket_ms) / 1000;
  const double span_s = std::max(bucket_s, static_cast<double>(tl.size()) * bucket_s);
  const auto xt = axis_ticks(span_s, 10);
  const double x_max = xt.back();

  std::vector<double> connected, attempts, successes, failures;
  double max_conn = static_cast<double>(r.clients), max_rate = 0;
  for (std::size_t i = 0; i < tl.size(); ++i) {
    connected.push_back(static_cast<double>(i < tl.connected.size() ? tl.connected[i] : 0));
    attempts.push_back(tl.per_second(tl.attempts[i]));
    successes.push_back(tl.per_second(i < tl.successes.size() ? tl.successes[i] : 0));
    failures.push_back(tl.per_second(i < tl.failures.size() ? tl.failures[i] : 0));
    max_conn = std::max(max_conn, connected.back());
    max_rate = std::max({max_rate, attempts.back(), successes.back(), failures.back()});
  }
  // With message traffic, two more panels: messages shown per second, and the slowest
  // delivery in each bucket.
  std::vector<double> delivered, slowest_ms;
  double max_delivered = 0, max_slowest = 0;
  if (tl.with_messages) {
    for (std::size_t i = 0; i < tl.size(); ++i) {
      delivered.push_back(tl.per_second(i < tl.delivered.size() ? tl.delivered[i] : 0));
      slowest_ms.push_back(
          static_cast<double>(i < tl.delivery_max_us.size() ? tl.delivery_max_us[i] : 0) / 1000);
      max_delivered = std::max(max_delivered, delivered.back());
      max_slowest = std::max(max_slowest, slowest_ms.back());
    }
  }
  // The chart is 1,000 px wide: past k_max_chart_points a line only makes the file
  // bigger (a long run in 10 ms buckets has hundreds of thousands; a merged timeline may
  // have a million). Each point then stands for `group` buckets and shows their highest.
  std::size_t group = 1;
  if (tl.size() > k_max_chart_points)
    group = (tl.size() + k_max_chart_points - 1) / k_max_chart_points;
  const auto thin = [group](std::vector<double>& v) {
    if (group == 1 || v.empty()) return;
    std::vector<double> out;
    out.reserve(v.size() / group + 1);
    for (std::size_t i = 0; i < v.size(); i += group) {
      const auto end = v.begin() + static_cast<std::ptrdiff_t>(std::min(v.size(), i + group));
      out.push_back(*std::max_element(v.begin() + static_cast<std::ptrdiff_t>(i), end));
    }
    v = std::move(out);
  };
  for (auto* v : {&connected, &attempts, &successes, &failures, &delivered, &slowest_ms}) thin(*v);
  const double point_s = bucket_s * static_cast<double>(group);

  const int panels = tl.with_messages ? 4 : 2;
  const auto yt1 = axis_ticks(max_conn, 5);
  const auto yt2 = axis_ticks(max_rate, 5);
  const auto yt3 = axis_ticks(max_delivered, 5);
  const auto yt4 = axis_ticks(max_slowest, 5);
  const panel top{k_top, yt1.back(), x_max};
  const panel bottom{k_top + k_panel + k_gap, yt2.back(), x_max};
  const panel third{k_top + 2 * (k_panel + k_gap), yt3.back(), x_max};
  const panel fourth{k_top + 3 * (k_panel + k_gap), yt4.back(), x_max};
  const panel& last = tl.with_messages ? fourth : bottom;
  const double height = k_top + panels * k_panel + (panels - 1) * k_gap + k_bottom;

  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(k_width) + "\" height=\"" +
         num(height) + "\" viewBox=\"0 0 " + num(k_width) + " " + num(height) +
         "\" font-family=\"sans-serif\">\n";
  out += "<title>" + xml_escape(title) + "</title>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += "<text x=\"" + num(k_left) + "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" +
         xml_escape(title) + "</text>\n";
  axes(out, top, xt, yt1, "connected clients");
  axes(out, bottom, xt, yt2, "per second: attempts (blue), successes (green), failures (red)");
  if (tl.with_messages) {
    axes(out, third, xt, yt3, "messages shown per second");
    axes(out, fourth, xt, yt4, "slowest delivery in the bucket, ms (send to shown)");
  }
  out += "<text x=\"" + num((k_left + k_width - k_right) / 2) + "\" y=\"" +
         num(last.y0 + k_panel + 34) +
         "\" text-anchor=\"middle\" font-size=\"12\">seconds since start</text>\n";

  // Triggers: a dashed line at each origin, across both panels, with its label.
  for (const auto& s : r.storms) {
    // In double: times from a file may be too far apart for an int64 difference.
    const double at = (static_cast<double>(s.origin_ms) - static_cast<double>(tl.t0_ms)) / 1000;
    if (at < 0 || at > x_max) continue;
    const double x = top.x(at);
    out += "<line x1=\"" + num(x) + "\" y1=\"" + num(top.y0) + "\" x2=\"" + num(x) + "\" y2=\"" +
           num(last.y0 + k_panel) +
           "\" stroke=\"#d08000\" stroke-dasharray=\"4,3\" stroke-width=\"1.2\"/>\n";
    if (r.storms.size() <= 12) {
      out += "<text x=\"" + num(x + 3) + "\" y=\"" + num(top.y0 + 28) +
             "\" font-size=\"10\" fill=\"#b06000\">#" + std::to_string(s.index) + " " +
             xml_escape(s.trigger) + "</text>\n";
    }
  }

  if (!connected.empty()) {
    out += "<polyline fill=\"none\" stroke=\"#2a7\" stroke-width=\"1.5\" points=\"" +
           steps(top, connected, point_s) + "\"/>\n";
    out += "<polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"1.2\" points=\"" +
           steps(bottom, attempts, point_s) + "\"/>\n";
    out += "<polyline fill=\"none\" stroke=\"#2a7\" stroke-width=\"1\" points=\"" +
           steps(bottom, successes, point_s) + "\"/>\n";
    out += "<polyline fill=\"none\" stroke=\"#c33\" stroke-width=\"1\" points=\"" +
           steps(bottom, failures, point_s) + "\"/>\n";
  }
  if (!delivered.empty()) {
    out += "<polyline fill=\"none\" stroke=\"#84c\" stroke-width=\"1.2\" points=\"" +
           steps(third, delivered, point_s) + "\"/>\n";
    out += "<polyline fill=\"none\" stroke=\"#d08000\" stroke-width=\"1.2\" points=\"" +
           steps(fourth, slowest_ms, point_s) + "\"/>\n";
  }
  const std::string legend =
      std::to_string(r.clients) + " clients, policy " + r.policy + ", trigger " + r.trigger + ", " +
      num(bucket_s * 1000) + " ms buckets" +
      (group > 1 ? " (a point: the highest of " + std::to_string(group) + ")" : std::string()) +
      "; dashed: trigger";
  out += "<text x=\"" + num(k_left) + "\" y=\"" + num(height - 12) +
         "\" font-size=\"11\" fill=\"#555\">" + xml_escape(legend) + "</text>\n";
  out += "</svg>\n";
  return out;
}

std::string render_html(const run_result& r, const std::string& title, const std::string& summary) {
  std::string svg = render_svg(r, title);
  // Inline SVG in HTML takes no XML declaration.
  if (svg.rfind("<?xml", 0) == 0) svg = svg.substr(svg.find('\n') + 1);
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  out += "<title>" + xml_escape(title) + "</title>\n";
  out +=
      "<style>body{font-family:sans-serif;margin:1.5em}pre{font-size:12px;"
      "background:#f6f6f6;padding:1em;overflow-x:auto}</style>\n";
  out += "</head>\n<body>\n<h1>" + xml_escape(title) + "</h1>\n";
  out += svg;
  out += "<pre>" + xml_escape(summary) + "</pre>\n</body>\n</html>\n";
  return out;
}

}  // namespace imock::storm
