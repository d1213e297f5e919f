#include "replay/plot.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "fleet/fleet_figures.h"
#include "replay/report.h"

namespace mk::replay {
namespace {

// A string gnuplot reads back as given: single quotes, with '' for a quote.
std::string Quoted(const std::string& text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

std::string FigureName(const autoscaling::TriggerSpec& trigger) {
  if (trigger.scaler) return std::string(fleet::MetricName(trigger.scaler->metric));
  return trigger.name;
}

}  // namespace

std::string GnuplotScript(std::span<const PlotPanel> panels, const std::string& output_path,
                          PlotFormat format) {
  int64_t duration = 0;
  for (const PlotPanel& panel : panels) {
    duration = std::max<int64_t>(duration, static_cast<int64_t>(panel.result->seconds.size()));
  }
  // Hours read best for a day, minutes for a burst.
  const bool hours = duration > 2 * 3600;
  const double scale = hours ? 3600 : 60;
  const std::string unit = hours ? "hours" : "minutes";
  const int columns = std::max<int>(1, static_cast<int>(panels.size()));
  const int width = 560 * columns;
  constexpr int kHeight = 680;
  std::string script;
  if (format == PlotFormat::kSvg) {
    absl::StrAppendFormat(
        &script,
        "set terminal svg size %d,%d dynamic noenhanced font 'sans,11' background '#ffffff'\n",
        width, kHeight);
  } else {
    absl::StrAppendFormat(&script, "set terminal pngcairo size %d,%d noenhanced font 'sans,10'\n",
                          width, kHeight);
  }
  absl::StrAppend(&script, "set output ", Quoted(output_path), "\n");
  absl::StrAppend(&script,
                  "set datafile separator ','\n"
                  "set grid lc rgb '#dddddd'\n"
                  // Above each panel, in a row: a key inside would hide the lines it names.
                  "set key above horizontal samplen 2\n"
                  "set style line 1 lc rgb '#1f77b4' lw 2\n"       // figure
                  "set style line 2 lc rgb '#d62728' lw 2 dt 2\n"  // target
                  "set style line 3 lc rgb '#2ca02c' lw 2.5\n"     // replicas
                  "set style line 4 lc rgb '#98df8a' lw 1.5\n"     // ready
                  "set style line 5 lc rgb '#555555' lw 1.5\n"     // demand
                  "set style fill transparent solid 0.3 noborder\n"
                  // Headroom, so that lines at their maximum do not sit on the frame.
                  "set offsets 0, 0, graph 0.06, 0\n");
  // The trace's span exactly, so that side-by-side panels share their time axis.
  absl::StrAppendFormat(&script, "set xrange [0:%g]\n",
                        static_cast<double>(std::max<int64_t>(duration - 1, 1)) / scale);
  absl::StrAppendFormat(&script, "set multiplot layout 2,%d columnsfirst\n", columns);
  // The data inline, as datablocks, and only the seconds where something changes:
  // a day of per-second rows would make a 14 MB SVG of points on top of each other.
  for (size_t i = 0; i < panels.size(); ++i) {
    absl::StrAppend(&script, "$panel", i, " << EOD\n",
                    TimelineCsv(*panels[i].result, *panels[i].object, TimelineRows::kChanges),
                    "EOD\n");
  }
  for (size_t i = 0; i < panels.size(); ++i) {
    const PlotPanel& panel = panels[i];
    const auto& trigger = panel.object->triggers.front();
    const std::string data = absl::StrCat("$panel", i);
    const std::string x = absl::StrFormat("($1/%g)", scale);
    absl::StrAppend(
        &script, "set title ",
        Quoted(absl::StrCat(panel.result->name, ": ", FigureName(trigger), " vs target")), "\n");
    absl::StrAppend(&script, "unset y2tics\nunset y2label\nset ytics nomirror\n");
    absl::StrAppend(&script, "set xlabel ", Quoted(unit), "\nset ylabel ",
                    Quoted(FigureName(trigger)), "\nset yrange [0:*]\n");
    absl::StrAppend(&script, "plot ", data, " every ::1 using ", x, ":7 with lines ls 1 title ",
                    Quoted(FigureName(trigger) + " (per pod)"), ", ", data, " every ::1 using ", x,
                    ":8 with lines ls 2 title 'target'\n");
    absl::StrAppend(&script, "set title ", Quoted(absl::StrCat(panel.result->name, ": pods")),
                    "\n");
    absl::StrAppend(&script,
                    "set ylabel 'pods'\nset y2label 'waiting requests'\nset y2tics\n"
                    "set y2range [0:1<*]\n");
    // The queue filled, and drawn again as a line where it is not empty: a queue of
    // a minute is under a pixel wide on a day's plot, and must still show.
    absl::StrAppend(&script, "plot ", data, " every ::1 using ", x,
                    ":6 axes x1y2 with filledcurves x1 lc rgb '#ff9896' title 'waiting requests', ",
                    data, " every ::1 using ", x,
                    ":($6 > 0 ? $6 : 1/0) axes x1y2 with impulses lc rgb '#d62728' notitle, ", data,
                    " every ::1 using ", x,
                    ":2 with lines ls 5 title 'demand (pods at full load)', ", data,
                    " every ::1 using ", x, ":4 with steps ls 4 title 'ready', ", data,
                    " every ::1 using ", x, ":3 with steps ls 3 title 'replicas'\n");
  }
  script += "unset multiplot\n";
  return script;
}

}  // namespace mk::replay
