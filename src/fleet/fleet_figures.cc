#include "fleet/fleet_figures.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "absl/status/status.h"

namespace mk::fleet {
namespace {

double Clamp01(double x) { return std::clamp(x, 0.0, 1.0); }

double Ratio(uint64_t part, uint64_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

std::string_view MetricName(FleetMetric metric) {
  switch (metric) {
    case FleetMetric::kLoadAvg:
      return "llm_load_avg";
    case FleetMetric::kKvBlocksUsagePercent:
      return "llm_kv_blocks_usage_percent";
    case FleetMetric::kRequestSlotsUsagePercent:
      return "llm_request_slots_usage_percent";
    case FleetMetric::kRequestsWaiting:
      return "llm_requests_waiting";
  }
  return "";
}

std::optional<FleetMetric> MetricNamed(std::string_view name) {
  for (FleetMetric metric : kAllFleetMetrics) {
    if (MetricName(metric) == name) return metric;
  }
  return std::nullopt;
}

UnitFigures FiguresOf(const dynamo::WorkerLoad& unit) {
  UnitFigures figures;
  figures.kv_usage = unit.kv_total_blocks > 0
                         ? Clamp01(Ratio(unit.kv_active_blocks, unit.kv_total_blocks))
                         : Clamp01(unit.gpu_cache_usage_perc.value_or(0));
  if (unit.request_total_slots > 0) {
    figures.slot_usage = Clamp01(Ratio(unit.request_active_slots, unit.request_total_slots));
  }
  figures.load = std::max(figures.kv_usage, figures.slot_usage.value_or(0));
  figures.waiting = static_cast<double>(unit.num_requests_waiting);
  return figures;
}

FleetFigures Aggregate(std::span<const Unit> units) {
  FleetFigures fleet;
  double load_sum = 0, kv_usage_sum = 0, waiting_sum = 0;
  // Block and slot sums in double: a sum of u64 counts may exceed 2^64.
  double kv_active = 0, kv_total = 0, slots_active = 0, slots_total = 0;
  std::array<size_t, dynamo::kDropReasonCount> unreadable_by_reason{};
  for (const Unit& unit : units) {
    fleet.units += unit.units;
    if (!unit.report) {
      fleet.unreadable_units += unit.units;
      if (unit.drop_reason) {
        unreadable_by_reason[static_cast<size_t>(*unit.drop_reason)] += unit.units;
      }
      continue;
    }
    const dynamo::WorkerLoad& report = *unit.report;
    ++fleet.reporting_units;
    const UnitFigures figures = FiguresOf(report);
    load_sum += figures.load;
    kv_usage_sum += figures.kv_usage;
    waiting_sum += figures.waiting;
    if (report.kv_total_blocks > 0) {
      ++fleet.kv_units;
      // Clamped like kv_usage, so one over-reporting unit cannot pass 100 %.
      kv_active += static_cast<double>(std::min(report.kv_active_blocks, report.kv_total_blocks));
      kv_total += static_cast<double>(report.kv_total_blocks);
    }
    if (report.request_total_slots > 0) {
      ++fleet.slot_units;
      slots_active +=
          static_cast<double>(std::min(report.request_active_slots, report.request_total_slots));
      slots_total += static_cast<double>(report.request_total_slots);
    }
  }
  const auto most = std::max_element(unreadable_by_reason.begin(), unreadable_by_reason.end());
  if (*most > 0) {
    fleet.main_unreadable_reason =
        static_cast<dynamo::DropReason>(most - unreadable_by_reason.begin());
  }
  if (fleet.reporting_units == 0) {
    fleet.request_slots_usage_percent = 0;
    return fleet;
  }
  const double n = static_cast<double>(fleet.reporting_units);
  fleet.load_avg = load_sum / n;
  // Ratio first, then scale: (100 * x) / x can round to 100.00000000000001, and a
  // saturated fleet must read exactly 100 %.
  if (kv_total > 0) {
    fleet.kv_blocks_usage_percent = 100 * (kv_active / kv_total);
  } else {
    fleet.kv_units = fleet.reporting_units;
    fleet.kv_blocks_usage_percent = 100 * (kv_usage_sum / n);
  }
  if (slots_total > 0) fleet.request_slots_usage_percent = 100 * (slots_active / slots_total);
  fleet.requests_waiting_avg = waiting_sum / n;
  return fleet;
}

absl::StatusOr<double> FleetFigures::Value(FleetMetric metric) const {
  if (units_refused > 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{} is undefined: the fleet has more worker units than --max-workers-per-target allows "
        "({} kept, {} more refused), so every figure would undercount it",
        MetricName(metric), units, units_refused));
  }
  if (units > 0 && reporting_units == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{} is undefined: all {} present worker units are unreadable (their reports are "
        "dropped; main reason: {})",
        MetricName(metric), unreadable_units,
        main_unreadable_reason ? dynamo::DropReasonName(*main_unreadable_reason) : "unknown"));
  }
  switch (metric) {
    case FleetMetric::kLoadAvg:
      return load_avg;
    case FleetMetric::kKvBlocksUsagePercent:
      return kv_blocks_usage_percent;
    case FleetMetric::kRequestSlotsUsagePercent:
      if (!request_slots_usage_percent) {
        return absl::FailedPreconditionError(
            "llm_request_slots_usage_percent is undefined: no reporting worker has a request "
            "slot total (request_total_slots is 0 on every worker)");
      }
      return *request_slots_usage_percent;
    case FleetMetric::kRequestsWaiting:
      return requests_waiting_avg;
  }
  return absl::InvalidArgumentError("unknown metric");
}

size_t FleetFigures::UnitsDefining(FleetMetric metric) const {
  switch (metric) {
    case FleetMetric::kKvBlocksUsagePercent:
      return kv_units;
    case FleetMetric::kRequestSlotsUsagePercent:
      return slot_units;
    case FleetMetric::kLoadAvg:
    case FleetMetric::kRequestsWaiting:
      break;
  }
  return reporting_units;
}

}  // namespace mk::fleet
