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
    case FleetMetric::kPrefillTokensQueued:
      return "llm_prefill_tokens_queued";
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
  if (unit.kv_total_blocks > 0) {
    figures.kv_usage = Clamp01(Ratio(unit.kv_active_blocks, unit.kv_total_blocks));
  } else if (unit.gpu_cache_usage_perc) {
    figures.kv_usage = Clamp01(*unit.gpu_cache_usage_perc);
  }
  if (unit.request_total_slots > 0) {
    figures.slot_usage = Clamp01(Ratio(unit.request_active_slots, unit.request_total_slots));
  }
  if (figures.kv_usage || figures.slot_usage) {
    figures.load = std::max(figures.kv_usage.value_or(0), figures.slot_usage.value_or(0));
  }
  if (unit.num_requests_waiting) figures.waiting = static_cast<double>(*unit.num_requests_waiting);
  if (unit.prefill_tokens_queued) {
    figures.prefill_tokens_queued = static_cast<double>(*unit.prefill_tokens_queued);
  }
  return figures;
}

namespace {

// A mean built one defined value at a time.
struct Mean {
  double sum = 0;
  size_t count = 0;
  void Add(const std::optional<double>& value) {
    if (!value) return;
    sum += *value;
    ++count;
  }
  std::optional<double> Get() const {
    if (count == 0) return std::nullopt;
    return sum / static_cast<double>(count);
  }
};

}  // namespace

FleetFigures Aggregate(std::span<const Unit> units) {
  FleetFigures fleet;
  Mean load, kv_usage, waiting, prefill;
  // Block and slot sums in double: a sum of u64 counts may exceed 2^64.
  double kv_active = 0, kv_total = 0, slots_active = 0, slots_total = 0;
  size_t kv_capacity_units = 0, slot_units = 0;
  std::array<size_t, dynamo::kDropReasonCount> unreadable_by_reason{};
  for (const Unit& unit : units) {
    fleet.units += unit.units;
    if (unit.state == UnitState::kPending) {
      fleet.pending_units += unit.units;
      continue;
    }
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
    load.Add(figures.load);
    kv_usage.Add(figures.kv_usage);
    waiting.Add(figures.waiting);
    prefill.Add(figures.prefill_tokens_queued);
    if (report.kv_total_blocks > 0) {
      ++kv_capacity_units;
      // Clamped like kv_usage, so one over-reporting unit cannot pass 100 %.
      kv_active += static_cast<double>(std::min(report.kv_active_blocks, report.kv_total_blocks));
      kv_total += static_cast<double>(report.kv_total_blocks);
    }
    if (report.request_total_slots > 0) {
      ++slot_units;
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
  auto set = [&](FleetMetric metric, std::optional<double> value, size_t over) {
    fleet.figure[FleetFigures::Index(metric)] = value;
    fleet.defining[FleetFigures::Index(metric)] = value ? over : 0;
  };
  if (fleet.units == 0) {
    // An empty, healthy fleet is idle: every figure is 0.
    for (FleetMetric metric : kAllFleetMetrics) set(metric, 0.0, 0);
    return fleet;
  }
  set(FleetMetric::kLoadAvg, load.Get(), load.count);
  // Ratio first, then scale: (100 * x) / x can round to 100.00000000000001, and a
  // saturated fleet must read exactly 100 %.
  if (kv_total > 0) {
    set(FleetMetric::kKvBlocksUsagePercent, 100 * (kv_active / kv_total), kv_capacity_units);
  } else if (kv_usage.count > 0) {
    set(FleetMetric::kKvBlocksUsagePercent, 100 * *kv_usage.Get(), kv_usage.count);
  }
  if (slots_total > 0) {
    set(FleetMetric::kRequestSlotsUsagePercent, 100 * (slots_active / slots_total), slot_units);
  }
  set(FleetMetric::kRequestsWaiting, waiting.Get(), waiting.count);
  set(FleetMetric::kPrefillTokensQueued, prefill.Get(), prefill.count);
  return fleet;
}

namespace {

// Why no present unit defines `metric`, for the FAILED_PRECONDITION message.
std::string_view WhyUndefined(FleetMetric metric) {
  switch (metric) {
    case FleetMetric::kLoadAvg:
      return "no reporting unit has a KV capacity, a KV usage fraction or a request slot total";
    case FleetMetric::kKvBlocksUsagePercent:
      return "no reporting unit has a KV capacity or a KV usage fraction (give the capacity with "
             "trigger metadata kvTotalBlocks)";
    case FleetMetric::kRequestSlotsUsagePercent:
      return "no reporting unit has a request slot total (request_total_slots is 0 or unknown "
             "on every unit)";
    case FleetMetric::kRequestsWaiting:
      return "no reporting unit says how many requests wait (waiting_requests or "
             "ForwardPassMetrics queued requests)";
    case FleetMetric::kPrefillTokensQueued:
      return "no reporting unit publishes ForwardPassMetrics (queued prefill tokens; start the "
             "workers with --enable-forward-pass-metrics)";
  }
  return "unknown metric";
}

}  // namespace

absl::StatusOr<double> FleetFigures::Value(FleetMetric metric) const {
  if (units_refused > 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{} is undefined: the fleet has more worker units than --max-workers-per-target allows "
        "({} kept, {} more refused), so every figure would undercount it",
        MetricName(metric), units, units_refused));
  }
  if (units > 0 && reporting_units == 0 && pending_units > 0) {
    return absl::UnavailableError(fmt::format(
        "{} is not known yet: settling, {} of {} present worker units have not been heard "
        "since the scaler subscribed",
        MetricName(metric), pending_units, units));
  }
  if (units > 0 && reporting_units == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{} is undefined: all {} present worker units are unreadable (their reports are "
        "dropped; main reason: {})",
        MetricName(metric), unreadable_units,
        main_unreadable_reason ? dynamo::DropReasonName(*main_unreadable_reason) : "unknown"));
  }
  const std::optional<double>& value = figure[Index(metric)];
  if (!value) {
    return absl::FailedPreconditionError(
        fmt::format("{} is undefined: {}", MetricName(metric), WhyUndefined(metric)));
  }
  return *value;
}

}  // namespace mk::fleet
