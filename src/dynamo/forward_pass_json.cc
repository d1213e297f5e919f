#include "dynamo/forward_pass_json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

namespace mk::dynamo::json {
namespace {

// A fraction may exceed 1 by float rounding in the worker; more than that is wrong data.
constexpr double kFractionSlack = 1e-6;

void ReadFraction(od::value value, std::optional<double>& out, FieldError& error) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) {
    out.reset();
    return;
  }
  if (type != od::json_type::number) return error.Fail(DropReason::kWrongType);
  double number;
  if (value.get_double().get(number) || !std::isfinite(number) || number < 0 ||
      number > 1 + kFractionSlack) {
    return error.Fail(DropReason::kOutOfRange);
  }
  out = std::min(number, 1.0);
}

void ReadRank(od::value value, RawForwardPassMetrics& metrics) {
  std::optional<uint64_t> rank;
  FieldError error;
  ReadCount(value, rank, error);
  if (rank && *rank > std::numeric_limits<uint32_t>::max()) error.Fail(DropReason::kOutOfRange);
  if (error.reason) return metrics.Fail(*error.reason);
  if (rank) metrics.dp_rank = static_cast<uint32_t>(*rank);
}

// Groups nest one level only: a group inside a group is wrong data, and following it
// would let a hostile message recurse until the stack overflows.
void ReadMetricsObject(od::object object, RawForwardPassMetrics& metrics, bool in_group) {
  ForEachField(object, [&](std::string_view key, od::value value) {
    if (key == "request_active_slots") {
      ReadCount(value, metrics.active_slots, metrics.error);
    } else if (key == "request_total_slots") {
      ReadCount(value, metrics.total_slots, metrics.error);
    } else if (key == "kv_active_blocks") {
      ReadCount(value, metrics.kv_active, metrics.error);
    } else if (key == "kv_total_blocks") {
      ReadCount(value, metrics.kv_total, metrics.error);
    } else if (key == "num_requests_waiting") {
      ReadCount(value, metrics.waiting, metrics.error);
    } else if (key == "gpu_cache_usage_perc") {
      ReadFraction(value, metrics.gpu_cache, metrics.gpu_cache_error);
    } else if (key == "gpu_prefix_cache_hit_rate") {
      ReadFraction(value, metrics.hit_rate, metrics.hit_rate_error);
    } else if (key == "data_parallel_rank") {
      ReadRank(value, metrics);
    } else if (key == "worker_stats" || key == "kv_stats") {
      od::object nested;
      if (in_group || TypeOf(value) != od::json_type::object || value.get_object().get(nested)) {
        metrics.Fail(DropReason::kWrongType);
        return;
      }
      ReadMetricsObject(nested, metrics, true);
    }
  });
}

}  // namespace

bool ReadForwardPassMetrics(od::value value, RawForwardPassMetrics& out) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) return false;
  od::object object;
  if (type != od::json_type::object || value.get_object().get(object)) {
    out.Fail(DropReason::kWrongType);
    return true;
  }
  ReadMetricsObject(object, out, /*in_group=*/false);
  return true;
}

std::optional<DropReason> ValidateForwardPassMetrics(const RawForwardPassMetrics& raw,
                                                     uint64_t lease, WorkerLoad& out,
                                                     DropCounts& ignored) {
  if (raw.error.reason) return raw.error.reason;
  if (!raw.active_slots || !raw.total_slots || !raw.kv_active || !raw.kv_total) {
    return DropReason::kMissingField;
  }
  // Without a block capacity, the fraction is the only KV figure there is.
  if (*raw.kv_total == 0) {
    if (raw.gpu_cache_error.reason) return raw.gpu_cache_error.reason;
    if (!raw.gpu_cache) return DropReason::kMissingField;
  }
  out.key = WorkerKey{lease, raw.dp_rank};
  out.request_active_slots = *raw.active_slots;
  out.request_total_slots = *raw.total_slots;
  out.kv_active_blocks = *raw.kv_active;
  out.kv_total_blocks = *raw.kv_total;
  out.num_requests_waiting = raw.waiting.value_or(0);
  out.gpu_cache_usage_perc = raw.gpu_cache_error.reason ? std::nullopt : raw.gpu_cache;
  out.gpu_prefix_cache_hit_rate = raw.hit_rate_error.reason ? std::nullopt : raw.hit_rate;
  if (raw.gpu_cache_error.reason) ignored.Add(*raw.gpu_cache_error.reason);
  if (raw.hit_rate_error.reason) ignored.Add(*raw.hit_rate_error.reason);
  return std::nullopt;
}

}  // namespace mk::dynamo::json
