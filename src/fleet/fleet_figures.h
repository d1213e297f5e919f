// The load figures of one worker unit and of a whole fleet, exactly as the design
// defines them. Pure arithmetic over decoded reports; no I/O, no clocks.
#ifndef METRICS_KEDA_FLEET_FLEET_FIGURES_H_
#define METRICS_KEDA_FLEET_FLEET_FIGURES_H_

#include <optional>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "dynamo/drop_reason.h"
#include "dynamo/worker_load.h"
#include "fleet/unit.h"

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

// N and F of design.md: N counts every present unit, readable or not; each figure
// F is computed over the units that define it (its `*_units` count), so that
// N x F extrapolates F to the whole fleet.
struct FleetFigures {
  size_t units = 0;             // N: present units
  size_t reporting_units = 0;   // units with a readable report: load and waiting are over these
  size_t unreadable_units = 0;  // present, but every recent report dropped
  std::optional<dynamo::DropReason> main_unreadable_reason;  // the most common among them
  size_t kv_units = 0;    // units the KV figure is over (those with a block capacity, if any)
  size_t slot_units = 0;  // units with a request slot total
  // New units refused over the per-target limit by the round that made the
  // picture: the fleet is larger than N says, and every figure would undercount.
  size_t units_refused = 0;
  double load_avg = 0;
  double kv_blocks_usage_percent = 0;
  // None when units report but none has a slot total: the figure is undefined.
  std::optional<double> request_slots_usage_percent;
  double requests_waiting_avg = 0;

  // The figure F of `metric`. FAILED_PRECONDITION when the fleet cannot define it:
  // units refused over the limit, every present unit unreadable (naming how many
  // and the main reason), or no reporting unit with a slot total.
  absl::StatusOr<double> Value(FleetMetric metric) const;
  // How many units F of `metric` is computed over.
  size_t UnitsDefining(FleetMetric metric) const;
};

// With no units every figure is 0: an empty, healthy fleet is idle. Figures are
// over the reporting units; unreadable ones only count in N.
FleetFigures Aggregate(std::span<const Unit> units);

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_FLEET_FIGURES_H_
