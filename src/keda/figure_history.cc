#include "keda/figure_history.h"

#include <algorithm>

namespace mk::keda {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint SlotOf(TimePoint time) {
  const int64_t slots =
      std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()) / FigureHistory::kInterval;
  return TimePoint(slots * FigureHistory::kInterval);
}

// Whether `point` is within the hour before `now`.
bool Recent(const FigurePoint& point, TimePoint now) {
  return point.slot > now - FigureHistory::kSpan;
}

SeriesLabel LabelOf(const std::string& scaled_object, const TriggerConfig& config) {
  return {.scaled_object = scaled_object,
          .metric = std::string(fleet::MetricName(config.metric)),
          .target = config.target.ToString(),
          .metric_type = std::string(MetricTypeName(config.metric_type)),
          .threshold = config.threshold};
}

}  // namespace

FigureHistory::FigureHistory(size_t max_series) : max_series_(max_series) {}

void FigureHistory::Add(const std::string& key, const std::string& scaled_object,
                        const TriggerConfig& config, TimePoint now,
                        const std::optional<FigureSample>& sample) {
  const TimePoint slot = SlotOf(now);
  std::lock_guard lock(mutex_);
  auto it = series_.find(key);
  if (it == series_.end()) {
    // Make room: first the triggers unheard of for an hour, then the one heard of
    // least recently.
    std::erase_if(series_,
                  [&](const auto& entry) { return !Recent(entry.second.points.back(), now); });
    if (series_.size() >= max_series_) {
      series_.erase(std::min_element(series_.begin(), series_.end(), [](auto& a, auto& b) {
        return a.second.points.back().slot < b.second.points.back().slot;
      }));
    }
    it = series_.emplace(key, Series{.label = LabelOf(scaled_object, config), .points = {}}).first;
  }
  std::deque<FigurePoint>& points = it->second.points;
  if (!points.empty() && slot <= points.back().slot) {
    // The same slot; or the clock stepped back, and the answer stands for the newest
    // slot so that the points stay in order.
    points.back().sample = sample;
  } else {
    points.push_back({.slot = slot, .sample = sample});
  }
  // The newest point's slot began at most kInterval before now (or after it, the clock
  // having stepped back): it is never dropped, and a series is never empty.
  while (!Recent(points.front(), now)) points.pop_front();
}

FigureHistoryView FigureHistory::Read(TimePoint now) const {
  FigureHistoryView view{.now = now, .series = {}};
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, series] : series_) {
      const auto first = std::find_if(series.points.begin(), series.points.end(),
                                      [&](const FigurePoint& point) { return Recent(point, now); });
      if (first == series.points.end()) continue;
      view.series.push_back({.label = series.label, .points = {first, series.points.end()}});
    }
  }
  std::stable_sort(view.series.begin(), view.series.end(), [](const auto& a, const auto& b) {
    return a.points.back().slot > b.points.back().slot;
  });
  return view;
}

}  // namespace mk::keda
