// The load model of replay: a fleet's demand is conserved and spread evenly over
// the ready units. Each unit runs demand / ready of one unit's capacity, at most all
// of it; the excess waits, as requests queued on the units. Turns a demand into the
// per-unit records the scaler's figure code reads, and per-unit records back into a
// demand. Pure; thread-safe.
#ifndef METRICS_KEDA_REPLAY_LOAD_MODEL_H_
#define METRICS_KEDA_REPLAY_LOAD_MODEL_H_

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "dynamo/worker_load.h"

namespace mk::replay {

struct LoadModel {
  // Requests one unit runs at full load (its request slots): converts queued demand
  // into waiting requests and back. 64 is a typical vLLM max_num_seqs for a large model.
  double slots_per_unit = 64;
};

// How a demand lands on `ready` units.
struct SpreadDemand {
  double unit_load = 0;  // each ready unit's load, in [0, 1]
  double served = 0;     // ready x unit_load: demand being served
  double waiting = 0;    // requests queued, (demand - served) x slots_per_unit
  size_t ready_units = 0;
};
// `demand` >= 0 in worker capacities. With no ready unit every request waits.
SpreadDemand Spread(double demand, size_t ready_units, const LoadModel& model);

// The records of the ready units as their workers would report them: KV usage
// exactly unit_load (a usage fraction, so that no block rounding moves a figure),
// request slots used rounded down (slot usage never reads above the load), and the
// waiting requests shared out whole, their sum the spread's total rounded.
std::vector<dynamo::WorkerLoad> UnitRecords(const SpreadDemand& spread, const LoadModel& model);

// The demand behind units' records, the inverse of the above: the sum of the units'
// loads (FiguresOf(...).load) plus their waiting requests / slots_per_unit (a unit's
// own slot total where it reports one). None when a unit's load is not defined.
std::optional<double> DemandOf(std::span<const dynamo::WorkerLoad> units, const LoadModel& model);

}  // namespace mk::replay

#endif  // METRICS_KEDA_REPLAY_LOAD_MODEL_H_
