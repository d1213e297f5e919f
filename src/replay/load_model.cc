#include "replay/load_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fleet/fleet_figures.h"

namespace mk::replay {

SpreadDemand Spread(double demand, size_t ready_units, const LoadModel& model) {
  SpreadDemand spread;
  spread.ready_units = ready_units;
  const double positive = std::max(demand, 0.0);
  if (ready_units > 0) {
    spread.unit_load = std::min(positive / static_cast<double>(ready_units), 1.0);
    spread.served = spread.unit_load * static_cast<double>(ready_units);
  }
  spread.waiting = std::max(positive - spread.served, 0.0) * model.slots_per_unit;
  return spread;
}

std::vector<dynamo::WorkerLoad> UnitRecords(const SpreadDemand& spread, const LoadModel& model) {
  std::vector<dynamo::WorkerLoad> units(spread.ready_units);
  if (units.empty()) return units;
  const auto slots = static_cast<uint64_t>(std::max(std::floor(model.slots_per_unit), 1.0));
  const auto waiting_total = static_cast<uint64_t>(std::llround(spread.waiting));
  const uint64_t share = waiting_total / units.size();
  const uint64_t remainder = waiting_total % units.size();
  for (size_t i = 0; i < units.size(); ++i) {
    dynamo::WorkerLoad& unit = units[i];
    unit.key.lease_id = i + 1;
    unit.gpu_cache_usage_perc = spread.unit_load;
    unit.request_total_slots = slots;
    unit.request_active_slots = std::min(
        slots, static_cast<uint64_t>(std::floor(spread.unit_load * static_cast<double>(slots))));
    unit.num_requests_waiting = share + (i < remainder ? 1 : 0);
  }
  return units;
}

std::optional<double> DemandOf(std::span<const dynamo::WorkerLoad> units, const LoadModel& model) {
  double demand = 0;
  for (const dynamo::WorkerLoad& unit : units) {
    const fleet::UnitFigures figures = fleet::FiguresOf(unit);
    if (!figures.load) return std::nullopt;
    const double slots = unit.request_total_slots > 0
                             ? static_cast<double>(unit.request_total_slots)
                             : model.slots_per_unit;
    demand += *figures.load + figures.waiting.value_or(0) / slots;
  }
  return demand;
}

}  // namespace mk::replay
