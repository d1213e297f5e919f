#include "replay/report.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mk::replay {
namespace {

std::string Cell(const std::optional<double>& value) {
  return value ? absl::StrFormat("%.6g", *value) : std::string();
}

}  // namespace

std::string ClockTime(int64_t seconds) {
  return absl::StrFormat("%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

std::string TimelineText(const ReplayResult& result) {
  std::string text = absl::StrCat("== ", result.name, " ==\n");
  for (const std::string& warning : result.warnings)
    absl::StrAppend(&text, "warning: ", warning, "\n");
  if (result.events.empty())
    absl::StrAppend(&text, "  (no scaling: the count stays as it started)\n");
  for (const ScaleEvent& event : result.events) {
    absl::StrAppendFormat(&text, "  %s  %-4s %3d -> %-3d %s\n", ClockTime(event.time),
                          ActorName(event.actor), event.from, event.to, event.reason);
  }
  const Summary& s = result.summary;
  absl::StrAppendFormat(&text,
                        "  replica-hours %.3f | above target %d s (%.1f %%) | waiting worst %.1f, "
                        "p95 %.1f | scale events %d (%d up, %d down) | flapping %.2f /h | most "
                        "replicas %d\n",
                        s.replica_hours, s.seconds_above_target, s.above_target_percent(),
                        s.worst_waiting, s.p95_waiting, s.scale_ups + s.scale_downs, s.scale_ups,
                        s.scale_downs, s.flaps_per_hour, s.max_replicas);
  return text;
}

std::string SampledTimeline(const ReplayResult& result, int64_t every) {
  std::string text = absl::StrFormat("  %-8s %8s %8s %6s %10s %9s\n", "time", "demand", "replicas",
                                     "ready", "figure", "waiting");
  for (const Second& second : result.seconds) {
    if (every <= 0 || second.time % every != 0) continue;
    const std::optional<double> figure =
        second.triggers.empty() ? std::nullopt : second.triggers.front().figure;
    absl::StrAppendFormat(&text, "  %-8s %8s %8d %6d %10s %9.1f\n", ClockTime(second.time),
                          second.demand ? absl::StrFormat("%.3f", *second.demand) : "-",
                          second.replicas, second.ready,
                          figure ? absl::StrFormat("%.3f", *figure) : "-", second.waiting);
  }
  return text;
}

std::string SummaryTable(std::span<const ReplayResult> results) {
  std::string text =
      absl::StrFormat("%-24s %13s %17s %10s %9s %7s %8s %5s\n", "setting", "replica-hours",
                      "above target", "worst wait", "p95 wait", "events", "flaps/h", "most");
  for (const ReplayResult& result : results) {
    const Summary& s = result.summary;
    absl::StrAppendFormat(&text, "%-24s %13.3f %9d s %5.1f%% %10.1f %9.1f %7d %8.2f %5d\n",
                          result.name, s.replica_hours, s.seconds_above_target,
                          s.above_target_percent(), s.worst_waiting, s.p95_waiting,
                          s.scale_ups + s.scale_downs, s.flaps_per_hour, s.max_replicas);
  }
  return text;
}

std::string TimelineCsv(const ReplayResult& result, const autoscaling::ScaledObjectSpec& object,
                        TimelineRows rows) {
  std::string text = "time,demand,replicas,ready,unit_load,waiting";
  for (size_t i = 0; i < object.triggers.size(); ++i) {
    absl::StrAppend(&text, ",trigger", i, "_figure,trigger", i, "_target");
  }
  text += "\n";
  // Each second's cells after its time: equal cells, an unchanged second.
  std::vector<std::string> values;
  values.reserve(result.seconds.size());
  for (const Second& second : result.seconds) {
    std::string& cells = values.emplace_back();
    absl::StrAppend(&cells, ",", Cell(second.demand), ",", second.replicas, ",", second.ready, ",",
                    Cell(second.unit_load), ",", Cell(second.waiting));
    for (size_t i = 0; i < object.triggers.size(); ++i) {
      const std::string figure = i < second.triggers.size() ? Cell(second.triggers[i].figure) : "";
      const autoscaling::TriggerSpec& trigger = object.triggers[i];
      absl::StrAppend(&cells, ",", figure, ",",
                      Cell(trigger.scaler ? trigger.scaler->threshold : trigger.threshold));
    }
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const bool kept = rows == TimelineRows::kEverySecond || i == 0 || i + 1 == values.size() ||
                      values[i] != values[i - 1] || values[i] != values[i + 1];
    if (kept) absl::StrAppend(&text, result.seconds[i].time, values[i], "\n");
  }
  return text;
}

}  // namespace mk::replay
