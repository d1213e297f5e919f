#include "dynamo/json_event_decoder.h"

#include <simdjson.h>

#include <limits>
#include <optional>
#include <string>

#include "dynamo/forward_pass_json.h"

namespace mk::dynamo {
namespace {

namespace od = simdjson::ondemand;
using json::FieldError;
using json::MalformedJson;

// What one kv_metrics JSON message holds, before the form is known.
struct RawEvent {
  bool has_worker_id = false;
  std::optional<json::Integer> worker_id;
  FieldError worker_id_error;

  bool has_data = false;      // the key is there: the LoadEvent form
  bool data_present = false;  // and not null
  json::RawForwardPassMetrics metrics;

  // The ActiveLoad form's fields; their errors matter in that form only.
  std::optional<uint64_t> dp_rank, decode_blocks, prefill_tokens, kv_used_blocks, waiting;
  FieldError active_error;
  std::string_view active_detail;
  bool rank_ok = true;

  void FailActive(DropReason why, std::string_view what) {
    if (active_error.reason) return;
    active_error.Fail(why);
    active_detail = what;
  }
};

void ReadActiveCount(od::value value, std::optional<uint64_t>& out, std::string_view what,
                     RawEvent& event) {
  FieldError error;
  json::ReadCount(value, out, error);
  if (error.reason) event.FailActive(*error.reason, what);
}

void ReadEvent(od::object root, RawEvent& event) {
  json::ForEachField(root, [&](std::string_view key, od::value value) {
    if (key == "worker_id") {
      event.has_worker_id = true;
      event.worker_id = json::ReadInteger(value, event.worker_id_error);
    } else if (key == "data") {
      event.has_data = true;
      if (json::ReadForwardPassMetrics(value, event.metrics)) event.data_present = true;
    } else if (key == "dp_rank") {
      FieldError error;
      if (json::TypeOf(value) == od::json_type::null) {
        error.Fail(DropReason::kWrongType);
      } else {
        json::ReadCount(value, event.dp_rank, error);
      }
      if (!error.reason && event.dp_rank && *event.dp_rank > std::numeric_limits<uint32_t>::max()) {
        error.Fail(DropReason::kOutOfRange);
      }
      if (error.reason) {
        event.rank_ok = false;
        event.FailActive(*error.reason, *error.reason == DropReason::kOutOfRange
                                            ? "dp_rank is beyond 32 bits"
                                            : "dp_rank is not an unsigned integer");
      }
    } else if (key == "active_decode_blocks") {
      ReadActiveCount(value, event.decode_blocks,
                      "active_decode_blocks is not an unsigned integer or null", event);
    } else if (key == "active_prefill_tokens") {
      ReadActiveCount(value, event.prefill_tokens,
                      "active_prefill_tokens is not an unsigned integer or null", event);
    } else if (key == "kv_used_blocks") {
      ReadActiveCount(value, event.kv_used_blocks,
                      "kv_used_blocks is not an unsigned integer or null", event);
    } else if (key == "waiting_requests") {
      ReadActiveCount(value, event.waiting, "waiting_requests is not an unsigned integer or null",
                      event);
    }
  });
}

std::string_view DataDetail(DropReason reason) {
  switch (reason) {
    case DropReason::kMissingField:
      return "data lacks a required ForwardPassMetrics field";
    case DropReason::kWrongType:
      return "data has a field of the wrong type";
    case DropReason::kOutOfRange:
      return "data has a number out of range";
    default:
      return "data is unusable";
  }
}

Decoded<JsonKvMetricsEvent> FinishLoadEvent(const RawEvent& event, uint64_t worker_id) {
  using Result = Decoded<JsonKvMetricsEvent>;
  const WorkerKey unit{worker_id, event.metrics.dp_rank};
  if (!event.data_present) return Result::Drop(DropReason::kNoData, "data is null", unit);
  WorkerLoad load;
  DropCounts ignored;
  if (const auto reason =
          json::ValidateForwardPassMetrics(event.metrics, worker_id, load, ignored)) {
    return Result::Drop(*reason, DataDetail(*reason), unit);
  }
  Result kept = Result::Keep(load);
  kept.ignored = ignored;
  return kept;
}

Decoded<JsonKvMetricsEvent> FinishActiveLoad(const RawEvent& event, uint64_t worker_id) {
  using Result = Decoded<JsonKvMetricsEvent>;
  ActiveLoad load;
  load.worker_id = worker_id;
  load.dp_rank = static_cast<uint32_t>(event.rank_ok ? event.dp_rank.value_or(0) : 0);
  const WorkerKey unit{worker_id,
                       event.rank_ok ? std::optional<uint32_t>(load.dp_rank) : std::nullopt};
  if (event.active_error.reason) {
    return Result::Drop(*event.active_error.reason, event.active_detail, unit);
  }
  load.active_decode_blocks = event.decode_blocks;
  load.active_prefill_tokens = event.prefill_tokens;
  load.kv_used_blocks = event.kv_used_blocks;
  load.waiting_requests = event.waiting;
  const std::optional<ActiveLoadOrigin> origin = ClassifyActiveLoad(load);
  if (!origin) {
    return Result::Drop(DropReason::kMissingField,
                        "no load figure: kv_used_blocks, active_prefill_tokens and "
                        "active_decode_blocks are all null",
                        unit);
  }
  load.origin = *origin;
  return Result::Keep(load);
}

}  // namespace

struct JsonEventDecoder::Parser : json::JsonObjectParser {};

JsonEventDecoder::JsonEventDecoder() : parser_(std::make_unique<Parser>()) {}

JsonEventDecoder::~JsonEventDecoder() = default;

Decoded<JsonKvMetricsEvent> JsonEventDecoder::Decode(std::string_view json) {
  using Result = Decoded<JsonKvMetricsEvent>;
  RawEvent event;
  if (!parser_->Parse(json, [&](od::object root) { ReadEvent(root, event); })) {
    return Result::Drop(DropReason::kMalformedJson, "not one JSON object");
  }

  if (event.worker_id_error.reason) {
    return Result::Drop(*event.worker_id_error.reason,
                        *event.worker_id_error.reason == DropReason::kOutOfRange
                            ? "worker_id is beyond 64 bits"
                            : "worker_id is not an integer");
  }
  if (!event.has_worker_id) return Result::Drop(DropReason::kMissingField, "no worker_id");
  if (event.worker_id->negative) {
    return Result::Drop(DropReason::kBadWorkerId, "worker_id is negative");
  }
  const uint64_t worker_id = event.worker_id->magnitude;
  return event.has_data ? FinishLoadEvent(event, worker_id) : FinishActiveLoad(event, worker_id);
}

}  // namespace mk::dynamo
