#include "dynamo/forward_pass_metrics.h"

#include <charconv>

#include "dynamo/msgpack_reader.h"

namespace mk::dynamo {
namespace {

// A count or token sum of a request group: strict.
void ReadCount(const msgpack::object& value, uint64_t& out, std::string_view problem,
               FieldProblem& first) {
  if (const auto error = mpk::ReadUnsigned(value, out)) first.Set(*error, problem);
}

// A float no figure uses: a finite number >= 0, else left out and counted.
void ReadUnusedNonNegative(const msgpack::object& value, std::optional<double>& out,
                           DropCounts& ignored) {
  double number;
  std::optional<DropReason> error = mpk::ReadNumber(value, number);
  if (!error && number < 0) error = DropReason::kOutOfRange;
  if (error) {
    out.reset();
    ignored.Add(*error);
    return;
  }
  out = number;
}

// One of scheduled_requests / queued_requests; `sum_prefill_kv_tokens` is given for
// scheduled_requests only (in queued_requests that key is unknown, hence ignored).
void ReadGroup(const msgpack::object& group, RequestMetrics& out, uint64_t* sum_prefill_kv_tokens,
               FieldProblem& problem, DropCounts& ignored) {
  const msgpack::object_kv* const end = group.via.map.ptr + group.via.map.size;
  for (const msgpack::object_kv* kv = group.via.map.ptr; kv != end; ++kv) {
    const std::string_view key = mpk::StringOf(kv->key);
    const msgpack::object& value = kv->val;
    if (key == "num_prefill_requests") {
      ReadCount(value, out.num_prefill_requests, "num_prefill_requests is not an unsigned integer",
                problem);
    } else if (key == "sum_prefill_tokens") {
      ReadCount(value, out.sum_prefill_tokens, "sum_prefill_tokens is not an unsigned integer",
                problem);
    } else if (key == "num_decode_requests") {
      ReadCount(value, out.num_decode_requests, "num_decode_requests is not an unsigned integer",
                problem);
    } else if (key == "sum_decode_kv_tokens") {
      ReadCount(value, out.sum_decode_kv_tokens, "sum_decode_kv_tokens is not an unsigned integer",
                problem);
    } else if (key == "sum_prefill_kv_tokens" && sum_prefill_kv_tokens != nullptr) {
      ReadCount(value, *sum_prefill_kv_tokens, "sum_prefill_kv_tokens is not an unsigned integer",
                problem);
    } else if (key == "var_prefill_length") {
      ReadUnusedNonNegative(value, out.var_prefill_length, ignored);
    } else if (key == "var_decode_kv_tokens") {
      ReadUnusedNonNegative(value, out.var_decode_kv_tokens, ignored);
    }
  }
}

}  // namespace

std::optional<uint64_t> ParseDecimalWorkerId(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Decoded<ForwardPassMetrics> DecodeForwardPassMetrics(std::string_view payload) {
  using Result = Decoded<ForwardPassMetrics>;
  mpk::Failure failure;
  const std::optional<msgpack::object> root = mpk::Unpack(payload, failure);
  if (!root) return Result::Drop(failure.reason, failure.detail);
  if (root->type != msgpack::type::MAP) {
    return Result::Drop(DropReason::kWrongType, "the ForwardPassMetrics is not a map");
  }
  ForwardPassMetrics metrics;
  DropCounts ignored;
  const msgpack::object* version = nullptr;
  const msgpack::object* worker_id = nullptr;
  bool rank_ok = true;
  FieldProblem problem;
  const msgpack::object_kv* const end = root->via.map.ptr + root->via.map.size;
  for (const msgpack::object_kv* kv = root->via.map.ptr; kv != end; ++kv) {
    const std::string_view key = mpk::StringOf(kv->key);
    const msgpack::object& value = kv->val;
    if (key == "version") {
      version = &value;
    } else if (key == "worker_id") {
      worker_id = &value;
    } else if (key == "dp_rank") {
      if (const auto error = mpk::ReadRank(value, metrics.dp_rank)) {
        rank_ok = false;
        problem.Set(*error, *error == DropReason::kOutOfRange
                                ? "dp_rank is beyond 32 bits"
                                : "dp_rank is not an unsigned integer");
      }
    } else if (key == "scheduled_requests" || key == "queued_requests") {
      if (value.type != msgpack::type::MAP) {
        problem.Set(DropReason::kWrongType, "a request group is not a map");
      } else if (key == "scheduled_requests") {
        ReadGroup(value, metrics.scheduled, &metrics.scheduled.sum_prefill_kv_tokens, problem,
                  ignored);
      } else {
        ReadGroup(value, metrics.queued, nullptr, problem, ignored);
      }
    } else if (key == "counter_id") {
      uint64_t counter;
      if (const auto error = mpk::ReadUnsigned(value, counter)) {
        ignored.Add(*error);
        metrics.counter_id.reset();
      } else {
        metrics.counter_id = counter;
      }
    } else if (key == "wall_time") {
      ReadUnusedNonNegative(value, metrics.wall_time_s, ignored);
    } else if (key == "timing_scope") {
      if (value.type == msgpack::type::STR) {
        metrics.timing_scope = std::string(mpk::StringOf(value));
      } else {
        ignored.Add(DropReason::kWrongType);
        metrics.timing_scope.reset();
      }
    }
  }

  // The unit the record is about, when its worker id can be read, for any drop below
  // that is not about the worker id itself.
  std::optional<uint64_t> id;
  if (worker_id != nullptr && worker_id->type == msgpack::type::STR) {
    id = ParseDecimalWorkerId(mpk::StringOf(*worker_id));
  }
  std::optional<WorkerKey> unit;
  if (id) unit = WorkerKey{*id, rank_ok ? std::optional<uint32_t>(metrics.dp_rank) : std::nullopt};

  // The version first: another version's fields may mean other things.
  if (version == nullptr) return Result::Drop(DropReason::kMissingField, "no version", unit);
  uint64_t version_number;
  if (mpk::ReadUnsigned(*version, version_number)) {
    return Result::Drop(DropReason::kWrongType, "version is not an unsigned integer", unit);
  }
  if (version_number != kForwardPassMetricsVersion) {
    return Result::Drop(DropReason::kUnsupportedVersion, "ForwardPassMetrics version is not 1",
                        unit);
  }
  if (worker_id == nullptr) return Result::Drop(DropReason::kMissingField, "no worker_id");
  if (worker_id->type != msgpack::type::STR) {
    return Result::Drop(DropReason::kWrongType, "worker_id is not a string");
  }
  if (!id) {
    return Result::Drop(DropReason::kBadWorkerId, "worker_id is not a decimal unsigned integer");
  }
  metrics.worker_id = *id;
  if (problem.reason) return Result::Drop(*problem.reason, problem.detail, unit);
  Result kept = Result::Keep(std::move(metrics));
  kept.ignored = ignored;
  return kept;
}

}  // namespace mk::dynamo
