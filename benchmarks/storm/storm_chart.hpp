// imock-storm's chart: connected clients and connection attempts per second over
// time, each trigger marked. Self-contained SVG (no scripts, no fonts to fetch),
// or an HTML page embedding it with the text summary. Pure: strings in and out.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "imock/benchmarks/storm/storm_report.hpp"

namespace imock::storm {

/// The most points a line of the chart has; a longer timeline is drawn in groups of
/// buckets, each point the group's highest value.
inline constexpr std::size_t k_max_chart_points = 2000;

/// "Nice" axis ticks from 0 to at least `max` (steps of 1, 2 or 5 x 10^k, about
/// `target` of them). Always at least {0, something > 0}.
std::vector<double> axis_ticks(double max, int target = 5);

/// The chart as an SVG document. `title` goes on top.
std::string render_svg(const run_result& r, const std::string& title);

/// An HTML page: the title, the SVG inline, the summary text.
std::string render_html(const run_result& r, const std::string& title, const std::string& summary);

}  // namespace imock::storm
