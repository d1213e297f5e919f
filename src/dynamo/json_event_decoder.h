// Decodes the JSON events Dynamo workers published on NATS subject
// `namespace.<ns>.kv_metrics` before the MessagePack event plane (Aug 2025 - Jan
// 2026). Two forms share that subject, told apart by the `data` key:
//   - Aug - Dec 2025, LoadEvent: {"worker_id": <i64 or u64>, "data": <ForwardPassMetrics>},
//     the data in the flat or nested form of the `$SRV.STATS` reply, read by the very
//     reader the stats decoder uses (forward_pass_json.h) into the same WorkerLoad;
//   - Dec 2025 - Jan 2026, ActiveLoad: {"worker_id": <u64>, "dp_rank": <u32>,
//     "active_decode_blocks": <u64|null>, "active_prefill_tokens": <u64|null>}, read
//     into the ActiveLoad of the MessagePack event plane and classified by the same
//     rule (active_load.h); kv_used_blocks and waiting_requests are read too if present.
// Worker ids are 64-bit unsigned: negative ones are dropped (bad_worker_id).
//
// A JsonEventDecoder reuses its parser's buffers and is not thread-safe: one per
// thread. Any input may be given: malformed JSON is dropped, unknown values are
// skipped without recursion, and a ForwardPassMetrics group inside a group is dropped,
// never followed.
#ifndef METRICS_KEDA_DYNAMO_JSON_EVENT_DECODER_H_
#define METRICS_KEDA_DYNAMO_JSON_EVENT_DECODER_H_

#include <memory>
#include <string_view>
#include <variant>

#include "dynamo/active_load.h"
#include "dynamo/decoded.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo {

// A decoded kv_metrics JSON event: a LoadEvent's report (keyed by the event's
// worker_id and the report's data_parallel_rank, none when it has none) or an
// ActiveLoad.
using JsonKvMetricsEvent = std::variant<WorkerLoad, ActiveLoad>;

class JsonEventDecoder {
 public:
  JsonEventDecoder();
  ~JsonEventDecoder();
  JsonEventDecoder(const JsonEventDecoder&) = delete;
  JsonEventDecoder& operator=(const JsonEventDecoder&) = delete;

  // Decodes one message body. Unknown keys are ignored. Drops:
  //   malformed_json: not one JSON object (invalid, truncated, trailing bytes);
  //   missing_field: no worker_id; a LoadEvent whose data lacks a required field;
  //     an ActiveLoad without a load figure;
  //   bad_worker_id: a negative worker_id;
  //   wrong_type / out_of_range: a field of the wrong type or beyond its range
  //     (worker_id beyond 64 bits, dp_rank beyond 32 bits), with the stats rules for
  //     the LoadEvent's data (a bad field no figure uses is ignored, not dropped);
  //   no_data: a LoadEvent whose data is null.
  // A dropped event whose worker_id was read names its unit.
  Decoded<JsonKvMetricsEvent> Decode(std::string_view json);

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_JSON_EVENT_DECODER_H_
