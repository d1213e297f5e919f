// The units a scrape round still waits for before it may end early: every unit
// (worker and data-parallel rank) known from recent rounds. A reply without a
// rank (a `data: null` report carries none) cannot say which rank it is from, so
// it stands for a reply due from its worker's rank-less unit if one is still
// due, else for one of the worker's ranks: a worker whose ranks all answer that
// way still lets the round end. Pure; not thread-safe.
#ifndef METRICS_KEDA_FLEET_PENDING_UNITS_H_
#define METRICS_KEDA_FLEET_PENDING_UNITS_H_

#include <cstddef>
#include <map>

#include "dynamo/worker_load.h"

namespace mk::fleet {

class PendingUnits {
 public:
  // `expected`: per unit, how many replies (WorkerTable::ExpectedReplies).
  explicit PendingUnits(std::map<dynamo::WorkerKey, size_t> expected)
      : pending_(std::move(expected)) {}

  // A reply (readable or not) of the unit `key`.
  void Heard(const dynamo::WorkerKey& key);

  // True once every expected unit has replied; never for an empty expectation,
  // since then nobody can tell when everyone has replied.
  bool AllReplied() const { return !expected_none_ && pending_.empty(); }

 private:
  std::map<dynamo::WorkerKey, size_t> pending_;  // replies still due, per unit
  bool expected_none_ = pending_.empty();
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_PENDING_UNITS_H_
