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

}  // namespace

void FigureHistory::Add(TimePoint now, const std::optional<FigureSample>& sample) {
  const TimePoint slot = SlotOf(now);
  if (!points_.empty() && slot <= points_.back().slot) {
    // The same slot; or the clock stepped back, and the answer stands for the newest
    // slot so that the points stay in order.
    points_.back().sample = sample;
  } else {
    points_.push_back({.slot = slot, .sample = sample});
  }
  // The newest point's slot began at most kInterval before now (or after it, the clock
  // having stepped back): it is never dropped.
  while (!Recent(points_.front(), now)) points_.pop_front();
}

std::vector<FigurePoint> FigureHistory::Read(TimePoint now) const {
  const auto first = std::find_if(points_.begin(), points_.end(),
                                  [&](const FigurePoint& point) { return Recent(point, now); });
  return {first, points_.end()};
}

}  // namespace mk::keda
