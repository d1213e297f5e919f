#include "keda/metric_answer.h"

#include <cmath>
#include <limits>
#include <string>

namespace mk::keda {

absl::StatusOr<MetricAnswer> AnswerFor(const TriggerConfig& config,
                                       const fleet::FleetFigures& figures) {
  absl::StatusOr<double> figure = figures.Value(config.metric);
  if (!figure.ok()) {
    return absl::Status(figure.status().code(), "target " + config.target.ToString() + ": " +
                                                    std::string(figure.status().message()));
  }
  MetricAnswer answer;
  answer.figure = *figure;
  answer.units = figures.units;
  answer.figure_units = figures.UnitsDefining(config.metric);
  answer.reporting_units = figures.reporting_units;
  answer.unreadable_units = figures.unreadable_units;
  answer.main_unreadable_reason = figures.main_unreadable_reason;
  answer.value = config.metric_type == MetricType::kValue
                     ? *figure
                     : static_cast<double>(figures.units) * *figure;
  answer.active = *figure > config.activation_threshold;
  return answer;
}

absl::StatusOr<MetricAnswer> AnswerFor(const TriggerConfig& config,
                                       const fleet::Snapshot& snapshot) {
  const fleet::FleetFigures* figures = snapshot.FiguresFor(config.source);
  if (figures == nullptr) {
    std::string_view why = "nothing heard from it within the staleness bound";
    if (config.source == fleet::SourceView::kStats) {
      why = "no scrape succeeded within the staleness bound";
    } else if (config.source == fleet::SourceView::kEvents) {
      why = "the event plane has not been connected within the staleness bound";
    } else if (config.source == fleet::SourceView::kMetrics) {
      why = "no worker /metrics page read within the staleness bound";
    }
    return absl::UnavailableError("target " + config.target.ToString() + ": trigger reads source " +
                                  std::string(fleet::SourceViewName(config.source)) +
                                  " alone, which is not servable now (" + std::string(why) + ")");
  }
  return AnswerFor(config, *figures);
}

int64_t CeilToInt64(double x) {
  constexpr double kMax = 9223372036854775808.0;  // 2^63, the first double above INT64_MAX
  if (std::isnan(x)) return 0;
  const double up = std::ceil(x);
  if (up >= kMax) return std::numeric_limits<int64_t>::max();
  if (up <= -kMax) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(up);
}

}  // namespace mk::keda
