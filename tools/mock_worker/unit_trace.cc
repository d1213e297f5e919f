#include "mock_worker/unit_trace.h"

#include "mock_worker/worker_payloads.h"

namespace mk::mock {

void AppendUnitTraceRows(std::string& out, uint64_t time, const LoadPattern& pattern,
                         const UnitTraceFleet& fleet) {
  const double fleet_load = pattern.At(static_cast<double>(time));
  const std::string time_text = std::to_string(time);
  const size_t count = fleet.worker_ids.size();
  for (size_t i = 0; i < count; ++i) {
    const WorkerFigures f = FiguresForLoad(WorkerLoadShare(fleet_load, fleet.spread, i, count),
                                           fleet.kv_total_blocks, fleet.slots_total);
    out.append(time_text);
    out.push_back(',');
    out.append(LeaseHex(fleet.worker_ids[i]));
    for (const uint64_t value : {f.kv_active_blocks, f.kv_total_blocks, f.request_active_slots,
                                 f.request_total_slots, f.num_requests_waiting}) {
      out.push_back(',');
      out.append(std::to_string(value));
    }
    out.push_back('\n');
  }
}

}  // namespace mk::mock
