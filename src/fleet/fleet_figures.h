// The load figures of one worker unit and of a whole fleet, exactly as the design
// defines them. Pure arithmetic over decoded reports; no I/O, no clocks.
#ifndef METRICS_KEDA_FLEET_FLEET_FIGURES_H_
#define METRICS_KEDA_FLEET_FLEET_FIGURES_H_

#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "dynamo/worker_load.h"

namespace mk::fleet {

// The fleet figures a trigger can scale on.
enum class FleetMetric {
  kLoadAvg,                   // llm_load_avg
  kKvBlocksUsagePercent,      // llm_kv_blocks_usage_percent
  kRequestSlotsUsagePercent,  // llm_request_slots_usage_percent
  kRequestsWaiting,           // llm_requests_waiting
};
inline constexpr FleetMetric kAllFleetMetrics[] = {
    FleetMetric::kLoadAvg, FleetMetric::kKvBlocksUsagePercent,
    FleetMetric::kRequestSlotsUsagePercent, FleetMetric::kRequestsWaiting};

std::string_view MetricName(FleetMetric metric);
std::optional<FleetMetric> MetricNamed(std::string_view name);

struct UnitFigures {
  double kv_usage = 0;               // [0, 1]
  std::optional<double> slot_usage;  // [0, 1]; none when the unit reports no slot total
  double load = 0;                   // the tightest resource: max(kv, slots)
  double waiting = 0;
};
UnitFigures FiguresOf(const dynamo::WorkerLoad& unit);

struct FleetFigures {
  size_t units = 0;
  double load_avg = 0;
  double kv_blocks_usage_percent = 0;
  // None when units report but none has a slot total: the figure is undefined.
  std::optional<double> request_slots_usage_percent;
  double requests_waiting_avg = 0;

  // The figure F of `metric`; FAILED_PRECONDITION when the fleet cannot define it.
  absl::StatusOr<double> Value(FleetMetric metric) const;
};

// With no units every figure is 0: an empty, healthy fleet is idle.
FleetFigures Aggregate(std::span<const dynamo::WorkerLoad> units);

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_FLEET_FIGURES_H_
