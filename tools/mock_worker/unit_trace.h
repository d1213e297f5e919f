// The per-unit load trace that replay reads, written offline by the mock worker
// (--write-trace): a header, then one row per simulated worker per time,
//   time,unit,kv_used,kv_total,slots_used,slots_total,waiting
// with each worker's figures computed by the very code its live stats replies, events
// and pages publish them with (WorkerLoadShare, FiguresForLoad), so that replaying
// the trace shows the scaler what it would have read from the running fleet. Pure;
// safe to call from any thread.
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_UNIT_TRACE_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_UNIT_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mock_worker/load_pattern.h"

namespace mk::mock {

inline constexpr std::string_view kUnitTraceHeader =
    "time,unit,kv_used,kv_total,slots_used,slots_total,waiting\n";

// The simulated fleet as the trace needs it.
struct UnitTraceFleet {
  std::vector<uint64_t> worker_ids;  // each worker's lease id, in worker order
  double spread = 0;
  uint64_t kv_total_blocks = 0;
  uint64_t slots_total = 0;
};

// Appends the rows of `time` seconds into `pattern`, one per worker in worker order,
// each ending in '\n'; the unit is the worker's lease id as Dynamo prints it
// (LeaseHex). Appends to `out` so that a writer can reuse one buffer.
void AppendUnitTraceRows(std::string& out, uint64_t time, const LoadPattern& pattern,
                         const UnitTraceFleet& fleet);

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_UNIT_TRACE_H_
