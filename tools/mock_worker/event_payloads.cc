#include "mock_worker/event_payloads.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <msgpack.hpp>

#include "dynamo/discovery_records.h"

namespace mk::mock {
namespace {

// A MessagePack writer for the few shapes written here. Integers take their shortest
// form and floats are always float64 (0xcb), as Dynamo's encoders (rmp-serde,
// msgspec) write them; msgpack-c's own pack_double would write 0.0 as an integer.
class Writer {
 public:
  Writer() : packer_(&buffer_) {}
  Writer& Map(uint32_t pairs) {
    packer_.pack_map(pairs);
    return *this;
  }
  Writer& Key(std::string_view key) { return Str(key); }
  Writer& Str(std::string_view text) {
    packer_.pack_str(static_cast<uint32_t>(text.size()));
    packer_.pack_str_body(text.data(), static_cast<uint32_t>(text.size()));
    return *this;
  }
  Writer& Bin(std::string_view bytes) {
    packer_.pack_bin(static_cast<uint32_t>(bytes.size()));
    packer_.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
    return *this;
  }
  Writer& Unsigned(uint64_t value) {
    packer_.pack_uint64(value);
    return *this;
  }
  Writer& Optional(const std::optional<uint64_t>& value) {
    if (value) return Unsigned(*value);
    packer_.pack_nil();
    return *this;
  }
  Writer& Float64(double value) {
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    char bytes[9] = {static_cast<char>(0xcb)};
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    buffer_.write(bytes, sizeof bytes);
    return *this;
  }
  std::string Bytes() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> packer_;
};

void WriteGroup(Writer& w, const RequestGroupFields& g, bool scheduled) {
  w.Map(scheduled ? 7 : 6);
  w.Key("num_prefill_requests").Unsigned(g.num_prefill_requests);
  w.Key("sum_prefill_tokens").Unsigned(g.sum_prefill_tokens);
  w.Key("var_prefill_length").Float64(g.var_prefill_length);
  if (scheduled) w.Key("sum_prefill_kv_tokens").Unsigned(g.sum_prefill_kv_tokens);
  w.Key("num_decode_requests").Unsigned(g.num_decode_requests);
  w.Key("sum_decode_kv_tokens").Unsigned(g.sum_decode_kv_tokens);
  w.Key("var_decode_kv_tokens").Float64(g.var_decode_kv_tokens);
}

std::string DecimalText(uint64_t value) {
  char buf[24];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ptr);
}

void AppendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

std::string Segment(std::string_view name, bool percent_encode) {
  return percent_encode ? mk::dynamo::PercentEncodeSegment(name) : std::string(name);
}

void AppendJsonOptional(std::string& out, const std::optional<uint64_t>& value) {
  if (value) {
    out.append(DecimalText(*value));
  } else {
    out.append("null");
  }
}

}  // namespace

ActiveLoadFields WorkerActiveLoad(uint64_t worker_id, uint32_t dp_rank,
                                  const WorkerFigures& figures) {
  ActiveLoadFields load;
  load.worker_id = worker_id;
  load.dp_rank = dp_rank;
  load.kv_used_blocks = figures.kv_active_blocks;
  load.waiting_requests = figures.num_requests_waiting;
  return load;
}

ActiveLoadFields LegacyWorkerActiveLoad(uint64_t worker_id, uint32_t dp_rank,
                                        const WorkerFigures& figures) {
  ActiveLoadFields load;
  load.worker_id = worker_id;
  load.dp_rank = dp_rank;
  load.active_decode_blocks = figures.kv_active_blocks;
  return load;
}

ActiveLoadFields RouterActiveLoad(uint64_t worker_id, uint32_t dp_rank, uint64_t decode_blocks,
                                  uint64_t prefill_tokens) {
  ActiveLoadFields load;
  load.worker_id = worker_id;
  load.dp_rank = dp_rank;
  load.active_decode_blocks = decode_blocks;
  load.active_prefill_tokens = prefill_tokens;
  return load;
}

std::string PackActiveLoad(const ActiveLoadFields& load) {
  Writer w;
  w.Map(6);
  w.Key("worker_id").Unsigned(load.worker_id);
  w.Key("dp_rank").Unsigned(load.dp_rank);
  w.Key("active_decode_blocks").Optional(load.active_decode_blocks);
  w.Key("active_prefill_tokens").Optional(load.active_prefill_tokens);
  w.Key("kv_used_blocks").Optional(load.kv_used_blocks);
  w.Key("waiting_requests").Optional(load.waiting_requests);
  return w.Bytes();
}

ForwardPassFields WorkerForwardPass(uint64_t worker_id, uint32_t dp_rank, uint64_t counter_id,
                                    double load, const WorkerFigures& figures) {
  if (!(load >= 0)) load = 0;  // also NaN
  load = std::min(load, 1.0);
  ForwardPassFields m;
  m.worker_id = worker_id;
  m.dp_rank = dp_rank;
  m.counter_id = counter_id;
  m.scheduled.num_decode_requests =
      static_cast<uint64_t>(std::llround(load * static_cast<double>(figures.request_total_slots)));
  m.scheduled.sum_decode_kv_tokens = figures.kv_active_blocks * kKvBlockSize;
  m.queued.num_prefill_requests = figures.num_requests_waiting;
  m.queued.sum_prefill_tokens = figures.num_requests_waiting * kPromptTokensPerRequest;
  const bool idle = m.scheduled.num_decode_requests == 0 && m.scheduled.sum_decode_kv_tokens == 0 &&
                    m.queued.num_prefill_requests == 0;
  m.wall_time_s = idle ? 0.0 : 0.025;
  return m;
}

std::string PackForwardPassMetrics(const ForwardPassFields& m) {
  Writer w;
  w.Map(7);
  w.Key("version").Unsigned(1);
  w.Key("worker_id").Str(DecimalText(m.worker_id));
  w.Key("dp_rank").Unsigned(m.dp_rank);
  w.Key("counter_id").Unsigned(m.counter_id);
  w.Key("wall_time").Float64(m.wall_time_s);
  w.Key("scheduled_requests");
  WriteGroup(w, m.scheduled, true);
  w.Key("queued_requests");
  WriteGroup(w, m.queued, false);
  return w.Bytes();
}

std::string PackEventEnvelope(const EnvelopeFields& e) {
  Writer w;
  w.Map(5);
  w.Key("publisher_id").Unsigned(e.publisher_id);
  w.Key("sequence").Unsigned(e.sequence);
  w.Key("published_at").Unsigned(e.published_at_ms);
  w.Key("topic").Str(e.topic);
  w.Key("payload").Bin(e.payload);
  return w.Bytes();
}

std::array<std::string, 4> ZmqEventFrames(std::string_view frame_topic,
                                          const EnvelopeFields& envelope) {
  std::array<std::string, 4> frames;
  frames[0] = std::string(frame_topic);
  AppendBigEndian(frames[1], envelope.publisher_id, 8);
  AppendBigEndian(frames[2], envelope.sequence, 8);
  const std::string body = PackEventEnvelope(envelope);
  frames[3].reserve(5 + body.size());
  frames[3].push_back(static_cast<char>(1));  // frame version
  AppendBigEndian(frames[3], body.size(), 4);
  frames[3].append(body);
  return frames;
}

std::string EventSubjectPrefix(EventScope scope, std::string_view dynamo_namespace,
                               std::string_view component, std::string_view endpoint,
                               bool percent_encode) {
  std::string subject = "namespace." + Segment(dynamo_namespace, percent_encode);
  if (scope != EventScope::kNamespace) {
    subject += ".component." + Segment(component, percent_encode);
  }
  if (scope == EventScope::kEndpoint) subject += ".endpoint." + Segment(endpoint, percent_encode);
  return subject;
}

std::string EventSubject(EventScope scope, std::string_view dynamo_namespace,
                         std::string_view component, std::string_view endpoint,
                         std::string_view topic, bool percent_encode) {
  return EventSubjectPrefix(scope, dynamo_namespace, component, endpoint, percent_encode) + "." +
         Segment(topic, percent_encode);
}

std::string JsonActiveLoad(const ActiveLoadFields& load) {
  std::string out = "{\"worker_id\":" + DecimalText(load.worker_id) +
                    ",\"dp_rank\":" + DecimalText(load.dp_rank) + ",\"active_decode_blocks\":";
  AppendJsonOptional(out, load.active_decode_blocks);
  out.append(",\"active_prefill_tokens\":");
  AppendJsonOptional(out, load.active_prefill_tokens);
  if (load.kv_used_blocks) out.append(",\"kv_used_blocks\":" + DecimalText(*load.kv_used_blocks));
  if (load.waiting_requests) {
    out.append(",\"waiting_requests\":" + DecimalText(*load.waiting_requests));
  }
  out.push_back('}');
  return out;
}

std::string JsonLoadEvent(uint64_t worker_id, uint32_t dp_rank, const WorkerFigures& figures) {
  return "{\"worker_id\":" + DecimalText(worker_id) +
         ",\"data\":" + ForwardPassMetricsJson(figures, MetricsForm::kNested, dp_rank) + "}";
}

}  // namespace mk::mock
