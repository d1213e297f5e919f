#include "dynamo/active_load.h"

#include "dynamo/msgpack_reader.h"

namespace mk::dynamo {
namespace {

void ReadOptionalCount(const msgpack::object& value, std::optional<uint64_t>& out,
                       std::string_view problem, FieldProblem& first) {
  if (const auto error = mpk::ReadOptionalUnsigned(value, out)) first.Set(*error, problem);
}

}  // namespace

std::string_view ActiveLoadOriginName(ActiveLoadOrigin origin) {
  return origin == ActiveLoadOrigin::kRouter ? "router" : "worker";
}

std::optional<ActiveLoadOrigin> ClassifyActiveLoad(const ActiveLoad& load) {
  if (load.kv_used_blocks) return ActiveLoadOrigin::kWorker;
  if (load.active_prefill_tokens) return ActiveLoadOrigin::kRouter;
  if (load.active_decode_blocks) return ActiveLoadOrigin::kWorker;
  return std::nullopt;
}

Decoded<ActiveLoad> DecodeActiveLoad(std::string_view payload) {
  using Result = Decoded<ActiveLoad>;
  mpk::Failure failure;
  const std::optional<msgpack::object> root = mpk::Unpack(payload, failure);
  if (!root) return Result::Drop(failure.reason, failure.detail);
  if (root->type != msgpack::type::MAP) {
    return Result::Drop(DropReason::kWrongType, "the ActiveLoad is not a map");
  }
  ActiveLoad load;
  bool has_worker_id = false, rank_ok = true;
  FieldProblem worker_id_problem, problem;
  const msgpack::object_kv* const end = root->via.map.ptr + root->via.map.size;
  for (const msgpack::object_kv* kv = root->via.map.ptr; kv != end; ++kv) {
    const std::string_view key = mpk::StringOf(kv->key);
    const msgpack::object& value = kv->val;
    if (key == "worker_id") {
      has_worker_id = true;
      if (value.type == msgpack::type::NEGATIVE_INTEGER) {
        worker_id_problem.Set(DropReason::kBadWorkerId, "worker_id is negative");
      } else if (mpk::ReadUnsigned(value, load.worker_id)) {
        worker_id_problem.Set(DropReason::kWrongType, "worker_id is not an unsigned integer");
      }
    } else if (key == "dp_rank") {
      if (const auto error = mpk::ReadRank(value, load.dp_rank)) {
        rank_ok = false;
        problem.Set(*error, *error == DropReason::kOutOfRange
                                ? "dp_rank is beyond 32 bits"
                                : "dp_rank is not an unsigned integer");
      }
    } else if (key == "active_decode_blocks") {
      ReadOptionalCount(value, load.active_decode_blocks,
                        "active_decode_blocks is not an unsigned integer or nil", problem);
    } else if (key == "active_prefill_tokens") {
      ReadOptionalCount(value, load.active_prefill_tokens,
                        "active_prefill_tokens is not an unsigned integer or nil", problem);
    } else if (key == "kv_used_blocks") {
      ReadOptionalCount(value, load.kv_used_blocks,
                        "kv_used_blocks is not an unsigned integer or nil", problem);
    } else if (key == "waiting_requests") {
      ReadOptionalCount(value, load.waiting_requests,
                        "waiting_requests is not an unsigned integer or nil", problem);
    }
  }
  if (worker_id_problem.reason) {
    return Result::Drop(*worker_id_problem.reason, worker_id_problem.detail);
  }
  if (!has_worker_id) return Result::Drop(DropReason::kMissingField, "no worker_id");
  const WorkerKey unit{load.worker_id,
                       rank_ok ? std::optional<uint32_t>(load.dp_rank) : std::nullopt};
  if (problem.reason) return Result::Drop(*problem.reason, problem.detail, unit);
  const std::optional<ActiveLoadOrigin> origin = ClassifyActiveLoad(load);
  if (!origin) {
    return Result::Drop(DropReason::kMissingField,
                        "no load figure: kv_used_blocks, active_prefill_tokens and "
                        "active_decode_blocks are all nil",
                        unit);
  }
  load.origin = *origin;
  return Result::Keep(load);
}

}  // namespace mk::dynamo
