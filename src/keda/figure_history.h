// The last hour of each trigger's answers, for the status page's charts: one point
// per 10 s slot with the fleet figure F, the present units N and the replicas the
// HPA would aim at (as TriggerLog computes them), beside the trigger's threshold.
// An answer that failed is a point without values, never zeros, so that a chart
// shows a gap where the scaler could not say. Bounded: at most `max_series` triggers
// (the one heard of least recently goes first), each with at most kPoints points.
// Thread-safe. TriggerLog::Record feeds it on the path of every RPC, so Add only
// stores; the status page reads it (Read). Time is passed in by the caller: no
// clock inside.
#ifndef METRICS_KEDA_KEDA_FIGURE_HISTORY_H_
#define METRICS_KEDA_KEDA_FIGURE_HISTORY_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "keda/trigger_config.h"

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

  explicit FigureHistory(size_t max_series);

  // An answer at `now` for the trigger `key` (of `scaled_object`, with `config`), or
  // a failed one (`sample` none). The last answer in a slot stands for it.
  void Add(const std::string& key, const std::string& scaled_object, const TriggerConfig& config,
           std::chrono::system_clock::time_point now, const std::optional<FigureSample>& sample);

  // The points of the hour before `now`; triggers with none are left out.
  FigureHistoryView Read(std::chrono::system_clock::time_point now) const;

 private:
  struct Series {
    SeriesLabel label;
    std::deque<FigurePoint> points;
  };

  const size_t max_series_;
  mutable std::mutex mutex_;
  std::map<std::string, Series> series_;
};

}  // namespace mk::keda

#endif  // METRICS_KEDA_KEDA_FIGURE_HISTORY_H_
