// One trigger's answers over the last hour, for the status page's charts: one point
// per 10 s slot with the fleet figure F, the present units N and the replicas the
// HPA would aim at (as TriggerLog computes them). An answer that failed is a point
// without values, never zeros, so that a chart shows a gap where the scaler could not
// say. Bounded: at most kPoints points. Not thread-safe: TriggerLog keeps one per
// trigger beside its record and adds to it under its own lock, in the same lookup
// as the record (Record is on the path of every RPC). Time is passed in by the
// caller: no clock inside.
#ifndef METRICS_KEDA_KEDA_FIGURE_HISTORY_H_
#define METRICS_KEDA_KEDA_FIGURE_HISTORY_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace mk::keda {

// What one answer said.
struct FigureSample {
  double figure = 0;  // F
  size_t units = 0;   // N
  int64_t desired_replicas = 0;
};

struct FigurePoint {
  std::chrono::system_clock::time_point slot;  // the start of its 10 s slot
  std::optional<FigureSample> sample;          // none: the answer failed
};

// What a chart is titled with: fixed for a trigger (its metadata is part of its key).
struct SeriesLabel {
  std::string scaled_object;  // namespace/name
  std::string metric;         // metricName, e.g. llm_load_avg
  std::string target;         // namespace/component/endpoint
  std::string metric_type;    // AverageValue or Value
  double threshold = 0;
};

struct FigureSeries {
  SeriesLabel label;
  std::vector<FigurePoint> points;  // oldest first, one per slot that saw an answer
};

struct FigureHistoryView {
  std::chrono::system_clock::time_point now;
  std::vector<FigureSeries> series;  // the trigger heard of most recently first
};

class FigureHistory {
 public:
  // 10 s: finer than the HPA's 15 s sync period (the default rate of GetMetrics), so
  // no two of its decisions share a point, and the period at which current Dynamo
  // workers republish their load; an hour is then 360 points a trigger, few enough
  // to hold for every trigger and draw at once.
  static constexpr std::chrono::seconds kInterval{10};
  static constexpr std::chrono::seconds kSpan{3600};
  static constexpr size_t kPoints = kSpan / kInterval;

  // An answer at `now`, or a failed one (`sample` none). The last answer in a slot
  // stands for it.
  void Add(std::chrono::system_clock::time_point now, const std::optional<FigureSample>& sample);

  // The points of the hour before `now`, oldest first; empty when there are none.
  std::vector<FigurePoint> Read(std::chrono::system_clock::time_point now) const;

 private:
  std::deque<FigurePoint> points_;
};

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_FIGURE_HISTORY_H_
