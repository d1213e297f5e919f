// The load figures of one worker unit and of a whole fleet, exactly as the design
// defines them. Pure arithmetic over decoded reports; no I/O, no clocks.
#ifndef METRICS_KEDA_FLEET_FLEET_FIGURES_H_
#define METRICS_KEDA_FLEET_FLEET_FIGURES_H_

#include <array>
#include <iterator>
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
  kPrefillTokensQueued,       // llm_prefill_tokens_queued
};
inline constexpr FleetMetric kAllFleetMetrics[] = {
    FleetMetric::kLoadAvg, FleetMetric::kKvBlocksUsagePercent,
    FleetMetric::kRequestSlotsUsagePercent, FleetMetric::kRequestsWaiting,
    FleetMetric::kPrefillTokensQueued};
inline constexpr size_t kFleetMetricCount = std::size(kAllFleetMetrics);

std::string_view MetricName(FleetMetric metric);
std::optional<FleetMetric> MetricNamed(std::string_view name);

// One unit's figures (design.md, "Units and their figures"). Each is none where
// the unit's record does not define it: never a zero standing for "unknown".
struct UnitFigures {
  std::optional<double> kv_usage;    // [0, 1]; none without a capacity or a usage fraction
  std::optional<double> slot_usage;  // [0, 1]; none without a slot total
  std::optional<double> load;        // the tightest defined resource: max(kv, slots)
  std::optional<double> waiting;     // requests queued
  std::optional<double> prefill_tokens_queued;
};
UnitFigures FiguresOf(const dynamo::WorkerLoad& unit);

// N and F of design.md: N counts every present unit, whatever its state; each figure
// F is computed over the units that define it (UnitsDefining), so that N x F
// extrapolates F to the whole fleet.
struct FleetFigures {
  size_t units = 0;             // N: present units
  size_t reporting_units = 0;   // units with known figures (a readable record, or idle)
  size_t pending_units = 0;     // present, nothing known yet (settling)
  size_t unreadable_units = 0;  // present, but every recent record dropped
  std::optional<dynamo::DropReason> main_unreadable_reason;  // the most common among them
  // New units refused over the per-target limit: the fleet is larger than N says,
  // and every figure would undercount.
  size_t units_refused = 0;
  // Per metric (index: FleetMetric): F, none when no unit defines it; and how many
  // units it is over (for KV usage: those with a block capacity, if any has one).
  std::array<std::optional<double>, kFleetMetricCount> figure{};
  std::array<size_t, kFleetMetricCount> defining{};

  // The figure F of `metric`. FAILED_PRECONDITION when the fleet cannot define it:
  // units refused over the limit, every present unit unreadable (naming how many
  // and the main reason), or no unit with known figures defining it. UNAVAILABLE
  // while every present unit is pending or unreadable with one pending at least
  // ("settling").
  absl::StatusOr<double> Value(FleetMetric metric) const;
  size_t UnitsDefining(FleetMetric metric) const { return defining[Index(metric)]; }

  static size_t Index(FleetMetric metric) { return static_cast<size_t>(metric); }
};

// With no units every figure is 0: an empty, healthy fleet is idle. Figures are
// over the reporting units; pending and unreadable ones only count in N.
FleetFigures Aggregate(std::span<const Unit> units);

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_FLEET_FIGURES_H_
