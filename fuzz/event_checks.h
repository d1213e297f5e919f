// Invariants shared by the event decoders' libFuzzer targets (event_msgpack_fuzzer,
// zmq_frames_fuzzer, json_event_fuzzer): every answer is dropped-or-valid, decoding
// is deterministic, kept values are in range, and a kept MessagePack record written
// out again decodes to itself.
#ifndef METRICS_KEDA_FUZZ_EVENT_CHECKS_H_
#define METRICS_KEDA_FUZZ_EVENT_CHECKS_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dynamo/active_load.h"
#include "dynamo/decoded.h"
#include "dynamo/drop_reason.h"
#include "dynamo/event_envelope.h"
#include "dynamo/forward_pass_metrics.h"
#include "fuzz_check.h"

namespace mk::fuzz {

using dynamo::ActiveLoad;
using dynamo::Decoded;
using dynamo::DropReason;
using dynamo::EventEnvelope;
using dynamo::ForwardPassMetrics;

inline const char* Name(DropReason reason) { return dynamo::DropReasonName(reason).data(); }

// Dropped-or-valid: a kept record has no reason text and names no unit; a dropped one
// says why, with one of `allowed`, and counts no ignored field. Ignored fields are
// only ever wrong_type or out_of_range.
template <typename Record>
void CheckShape(const Decoded<Record>& decoded, const char* decoder,
                std::initializer_list<DropReason> allowed) {
  for (DropReason reason : dynamo::kAllDropReasons) {
    if (reason == DropReason::kWrongType || reason == DropReason::kOutOfRange) continue;
    MK_FUZZ_CHECK(decoded.ignored.Get(reason) == 0, "%s: ignored field counted as %s", decoder,
                  Name(reason));
  }
  if (decoded.ok()) {
    MK_FUZZ_CHECK(decoded.detail.empty(), "%s: kept, with detail '%.*s'", decoder,
                  static_cast<int>(decoded.detail.size()), decoded.detail.data());
    MK_FUZZ_CHECK(!decoded.unit.has_value(), "%s: kept, with a dropped unit", decoder);
    return;
  }
  bool known = false;
  for (DropReason reason : allowed) known = known || reason == decoded.reason;
  MK_FUZZ_CHECK(known, "%s: dropped as %s, which it never should", decoder, Name(decoded.reason));
  MK_FUZZ_CHECK(!decoded.detail.empty(), "%s: dropped as %s without saying why", decoder,
                Name(decoded.reason));
  MK_FUZZ_CHECK(decoded.ignored.Total() == 0, "%s: dropped, with ignored fields", decoder);
}

// Two answers to the same input are the same.
template <typename Record>
bool Same(const Decoded<Record>& a, const Decoded<Record>& b) {
  if (a.record != b.record || a.detail != b.detail || a.unit != b.unit ||
      a.ignored.by_reason != b.ignored.by_reason) {
    return false;
  }
  return a.ok() || a.reason == b.reason;
}

// The reasons each MessagePack decoder may give.
inline constexpr std::initializer_list<DropReason> kMsgpackReasons = {
    DropReason::kMalformedMsgpack, DropReason::kOversized, DropReason::kWrongType,
    DropReason::kMissingField};
inline constexpr std::initializer_list<DropReason> kActiveLoadReasons = {
    DropReason::kMalformedMsgpack, DropReason::kOversized,   DropReason::kWrongType,
    DropReason::kMissingField,     DropReason::kBadWorkerId, DropReason::kOutOfRange};
inline constexpr std::initializer_list<DropReason> kForwardPassReasons = {
    DropReason::kMalformedMsgpack,  DropReason::kOversized,   DropReason::kWrongType,
    DropReason::kMissingField,      DropReason::kBadWorkerId, DropReason::kOutOfRange,
    DropReason::kUnsupportedVersion};

class Writer {
 public:
  Writer() : packer_(&buffer_) {}
  msgpack::packer<msgpack::sbuffer>& operator*() { return packer_; }
  msgpack::packer<msgpack::sbuffer>* operator->() { return &packer_; }
  void Str(std::string_view text) {
    packer_.pack_str(static_cast<uint32_t>(text.size()));
    packer_.pack_str_body(text.data(), static_cast<uint32_t>(text.size()));
  }
  void Bin(std::string_view bytes) {
    packer_.pack_bin(static_cast<uint32_t>(bytes.size()));
    packer_.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
  }
  void Optional(const std::optional<uint64_t>& value) {
    if (value) {
      packer_.pack_uint64(*value);
    } else {
      packer_.pack_nil();
    }
  }
  // A float64 always (msgpack-c writes an integral double as an integer).
  void Float(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    char bytes[9] = {static_cast<char>(0xcb)};
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    buffer_.write(bytes, sizeof bytes);
  }
  std::string Bytes() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
};

inline std::string Encode(const EventEnvelope& envelope) {
  Writer w;
  w->pack_map(5);
  w.Str("publisher_id");
  w->pack_uint64(envelope.publisher_id);
  w.Str("sequence");
  w->pack_uint64(envelope.sequence);
  w.Str("published_at");
  w->pack_uint64(envelope.published_at_ms);
  w.Str("topic");
  w.Str(envelope.topic);
  w.Str("payload");
  w.Bin(envelope.payload);
  return w.Bytes();
}

inline std::string Encode(const ActiveLoad& load) {
  Writer w;
  w->pack_map(6);
  w.Str("worker_id");
  w->pack_uint64(load.worker_id);
  w.Str("dp_rank");
  w->pack_uint32(load.dp_rank);
  w.Str("active_decode_blocks");
  w.Optional(load.active_decode_blocks);
  w.Str("active_prefill_tokens");
  w.Optional(load.active_prefill_tokens);
  w.Str("kv_used_blocks");
  w.Optional(load.kv_used_blocks);
  w.Str("waiting_requests");
  w.Optional(load.waiting_requests);
  return w.Bytes();
}

inline void EncodeGroup(Writer& w, const dynamo::RequestMetrics& group,
                        const uint64_t* sum_prefill_kv_tokens) {
  const uint32_t optional = (group.var_prefill_length ? 1 : 0) +
                            (group.var_decode_kv_tokens ? 1 : 0) + (sum_prefill_kv_tokens ? 1 : 0);
  w->pack_map(4 + optional);
  w.Str("num_prefill_requests");
  w->pack_uint64(group.num_prefill_requests);
  w.Str("sum_prefill_tokens");
  w->pack_uint64(group.sum_prefill_tokens);
  if (group.var_prefill_length) {
    w.Str("var_prefill_length");
    w.Float(*group.var_prefill_length);
  }
  if (sum_prefill_kv_tokens) {
    w.Str("sum_prefill_kv_tokens");
    w->pack_uint64(*sum_prefill_kv_tokens);
  }
  w.Str("num_decode_requests");
  w->pack_uint64(group.num_decode_requests);
  w.Str("sum_decode_kv_tokens");
  w->pack_uint64(group.sum_decode_kv_tokens);
  if (group.var_decode_kv_tokens) {
    w.Str("var_decode_kv_tokens");
    w.Float(*group.var_decode_kv_tokens);
  }
}

inline std::string Encode(const ForwardPassMetrics& metrics) {
  Writer w;
  const uint32_t optional =
      (metrics.counter_id ? 1 : 0) + (metrics.wall_time_s ? 1 : 0) + (metrics.timing_scope ? 1 : 0);
  w->pack_map(5 + optional);
  w.Str("version");
  w->pack_uint64(1);
  w.Str("worker_id");
  w.Str(std::to_string(metrics.worker_id));
  w.Str("dp_rank");
  w->pack_uint32(metrics.dp_rank);
  if (metrics.counter_id) {
    w.Str("counter_id");
    w->pack_uint64(*metrics.counter_id);
  }
  if (metrics.timing_scope) {
    w.Str("timing_scope");
    w.Str(*metrics.timing_scope);
  }
  if (metrics.wall_time_s) {
    w.Str("wall_time");
    w.Float(*metrics.wall_time_s);
  }
  w.Str("scheduled_requests");
  EncodeGroup(w, metrics.scheduled, &metrics.scheduled.sum_prefill_kv_tokens);
  w.Str("queued_requests");
  EncodeGroup(w, metrics.queued, nullptr);
  return w.Bytes();
}

inline bool NonNegativeFinite(const std::optional<double>& value) {
  return !value || (std::isfinite(*value) && *value >= 0);
}

// A kept envelope points into the bytes it came from and writes out to itself.
inline void CheckEnvelope(const Decoded<EventEnvelope>& decoded, std::string_view bytes) {
  CheckShape(decoded, "envelope", kMsgpackReasons);
  if (!decoded.ok()) return;
  const EventEnvelope& envelope = *decoded.record;
  for (std::string_view view : {envelope.topic, envelope.payload}) {
    MK_FUZZ_CHECK(view.empty() || (view.data() >= bytes.data() &&
                                   view.data() + view.size() <= bytes.data() + bytes.size()),
                  "envelope view outside its bytes");
  }
  const std::string again = Encode(envelope);
  const Decoded<EventEnvelope> decoded_again = dynamo::DecodeEventEnvelope(again);
  MK_FUZZ_CHECK(decoded_again.ok() && *decoded_again.record == envelope,
                "a kept envelope, written out again, decodes otherwise");
}

inline void CheckActiveLoad(const Decoded<ActiveLoad>& decoded) {
  CheckShape(decoded, "ActiveLoad", kActiveLoadReasons);
  if (!decoded.ok()) {
    if (decoded.reason == DropReason::kBadWorkerId) {
      MK_FUZZ_CHECK(!decoded.unit.has_value(), "ActiveLoad: bad worker id, yet a unit");
    }
    return;
  }
  const ActiveLoad& load = *decoded.record;
  MK_FUZZ_CHECK(dynamo::ClassifyActiveLoad(load) == load.origin,
                "ActiveLoad kept with origin %s against the rule",
                dynamo::ActiveLoadOriginName(load.origin).data());
  MK_FUZZ_CHECK(load.kv_used_blocks || load.active_prefill_tokens || load.active_decode_blocks,
                "ActiveLoad kept without a load figure");
  const Decoded<ActiveLoad> again = dynamo::DecodeActiveLoad(Encode(load));
  MK_FUZZ_CHECK(again.ok() && *again.record == load,
                "a kept ActiveLoad, written out again, decodes otherwise");
}

inline void CheckForwardPassMetrics(const Decoded<ForwardPassMetrics>& decoded) {
  CheckShape(decoded, "ForwardPassMetrics", kForwardPassReasons);
  if (!decoded.ok()) {
    if (decoded.reason == DropReason::kBadWorkerId) {
      MK_FUZZ_CHECK(!decoded.unit.has_value(), "ForwardPassMetrics: bad worker id, yet a unit");
    }
    return;
  }
  const ForwardPassMetrics& metrics = *decoded.record;
  MK_FUZZ_CHECK(NonNegativeFinite(metrics.wall_time_s), "wall_time %.17g", *metrics.wall_time_s);
  for (const dynamo::RequestMetrics* group :
       {static_cast<const dynamo::RequestMetrics*>(&metrics.scheduled), &metrics.queued}) {
    MK_FUZZ_CHECK(NonNegativeFinite(group->var_prefill_length) &&
                      NonNegativeFinite(group->var_decode_kv_tokens),
                  "a variance negative or not finite");
  }
  const Decoded<ForwardPassMetrics> again = dynamo::DecodeForwardPassMetrics(Encode(metrics));
  MK_FUZZ_CHECK(again.ok() && *again.record == metrics && again.ignored.Total() == 0,
                "a kept ForwardPassMetrics, written out again, decodes otherwise");
}

// Decodes `payload` as both records, twice each, and checks the answers.
inline void CheckPayload(std::string_view payload) {
  const Decoded<ActiveLoad> load = dynamo::DecodeActiveLoad(payload);
  CheckActiveLoad(load);
  MK_FUZZ_CHECK(Same(load, dynamo::DecodeActiveLoad(payload)),
                "decoding an ActiveLoad twice differed");
  const Decoded<ForwardPassMetrics> metrics = dynamo::DecodeForwardPassMetrics(payload);
  CheckForwardPassMetrics(metrics);
  MK_FUZZ_CHECK(Same(metrics, dynamo::DecodeForwardPassMetrics(payload)),
                "decoding a ForwardPassMetrics twice differed");
}

}  // namespace mk::fuzz

#endif  // METRICS_KEDA_FUZZ_EVENT_CHECKS_H_
