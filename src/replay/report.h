// What replay prints and writes: each setting's scale events as a timeline, its
// summary figures, a side-by-side table of settings, and the per-second timeline as
// CSV (the plots' data). Pure text; the caller does the I/O.
#ifndef METRICS_KEDA_REPLAY_REPORT_H_
#define METRICS_KEDA_REPLAY_REPORT_H_

#include <span>
#include <string>

#include "autoscaling/scaled_object.h"
#include "replay/simulation.h"

namespace mk::replay {

// "HH:MM:SS" (hours past 99 widen) for seconds since the trace's start.
std::string ClockTime(int64_t seconds);

// The scale events, one line each: time, actor, from -> to, reason; then the
// warnings and the summary line.
std::string TimelineText(const ReplayResult& result);

// Every `every` seconds: time, demand, replicas, ready, the first trigger's figure
// and the waiting requests, as a table.
std::string SampledTimeline(const ReplayResult& result, int64_t every);

// One row per setting: replica-hours, time above target (seconds and share),
// worst and p95 waiting requests, scale events, flapping, largest count.
std::string SummaryTable(std::span<const ReplayResult> results);

// Which seconds TimelineCsv writes: all, or only those where a value changes (the
// rows on both sides of each change, and the first and last): the same lines and
// steps when drawn, in a fraction of the rows (a day sampled each minute: 1/30).
enum class TimelineRows { kEverySecond, kChanges };

// One row per second: time,demand,replicas,ready,unit_load,waiting and, per
// trigger i, trigger<i>_figure and trigger<i>_target (the threshold the figure is
// held against). Empty cells where a value is unknown.
std::string TimelineCsv(const ReplayResult& result, const autoscaling::ScaledObjectSpec& object,
                        TimelineRows rows = TimelineRows::kEverySecond);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_REPORT_H_
