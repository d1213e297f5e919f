#include "dynamo/stats_decoder.h"

#include <simdjson.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace mk::dynamo {
namespace {

namespace od = simdjson::ondemand;

// A fraction may exceed 1 by float rounding in the worker; more than that is wrong data.
constexpr double kFractionSlack = 1e-6;

// Where a bad field's reason goes: the report's first error, or a slot of its own
// for a field that only some reports use.
struct FieldError {
  std::optional<DropReason> reason;
  void Fail(DropReason why) {
    if (!reason) reason = why;
  }
};

// ForwardPassMetrics fields as found, before validation.
struct RawMetrics {
  std::optional<uint64_t> active_slots, total_slots, kv_active, kv_total, waiting;
  std::optional<double> gpu_cache, hit_rate;
  std::optional<uint32_t> dp_rank;
  FieldError error;            // the first bad field the figures always use
  FieldError gpu_cache_error;  // used only without a block capacity
  FieldError hit_rate_error;   // never used

  void Fail(DropReason reason) { error.Fail(reason); }
};

DropReason ReasonForNumberError(simdjson::error_code code) {
  return code == simdjson::INCORRECT_TYPE ? DropReason::kWrongType : DropReason::kOutOfRange;
}

// Structural failures abort the whole reply; value failures only the endpoint.
struct MalformedJson {};

// A non-negative integer literal, which get_uint64 rejects only when it is >= 2^64.
bool IsDigits(od::value& value) {
  std::string_view token = value.raw_json_token();
  while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\t' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);
  }
  return !token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos;
}

od::json_type TypeOf(od::value& value) {
  od::json_type type;
  if (value.type().get(type)) throw MalformedJson{};
  return type;
}

void ReadCount(od::value value, std::optional<uint64_t>& out, FieldError& error) {
  const od::json_type type = TypeOf(value);
  if (type == od::json_type::null) {
    out.reset();
    return;
  }
  if (type != od::json_type::number) return error.Fail(DropReason::kWrongType);
  uint64_t number;
  if (const auto code = value.get_uint64().get(number)) {
    return error.Fail(IsDigits(value) ? DropReason::kOutOfRange : ReasonForNumberError(code));
  }
  out = number;
}

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

void ReadRank(od::value value, RawMetrics& metrics) {
  std::optional<uint64_t> rank;
  FieldError error;
  ReadCount(value, rank, error);
  if (rank && *rank > std::numeric_limits<uint32_t>::max()) error.Fail(DropReason::kOutOfRange);
  if (error.reason) return metrics.Fail(*error.reason);
  if (rank) metrics.dp_rank = static_cast<uint32_t>(*rank);
}

// Reads both forms: flat fields at the top, or grouped under worker_stats and
// kv_stats (which are read by the same rules). Groups nest one level only: a
// group inside a group is wrong data, and following it would let a hostile
// reply recurse until the stack overflows.
void ReadMetricsObject(od::object object, RawMetrics& metrics, bool in_group = false) {
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      throw MalformedJson{};
    }
    od::value value = field.value();
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
        continue;
      }
      ReadMetricsObject(nested, metrics, true);
    }
  }
}

// The validated unit, or why it cannot be used. Bad fields the unit's figures do
// not use are left out and counted in `ignored`.
std::optional<DropReason> Validate(const RawMetrics& raw, uint64_t lease, WorkerLoad& out,
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

struct EndpointReport {
  std::string_view subject;
  bool has_subject = false;
  bool has_data = false;
  RawMetrics metrics;
};

EndpointReport ReadEndpoint(od::object endpoint) {
  EndpointReport report;
  for (auto field_result : endpoint) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      throw MalformedJson{};
    }
    od::value value = field.value();
    if (key == "subject") {
      report.has_subject = !value.get_string().get(report.subject);
    } else if (key == "data") {
      const od::json_type type = TypeOf(value);
      if (type == od::json_type::null) continue;
      report.has_data = true;
      od::object data;
      if (type != od::json_type::object || value.get_object().get(data)) {
        report.metrics.Fail(DropReason::kWrongType);
        continue;
      }
      ReadMetricsObject(data, report.metrics);
    }
  }
  return report;
}

}  // namespace

struct StatsDecoder::Parser {
  od::parser parser;
  std::string padded;  // the reply copied with simdjson's required padding
};

StatsDecoder::StatsDecoder(EndpointMatcher matcher)
    : matcher_(std::move(matcher)), parser_(std::make_unique<Parser>()) {}

StatsDecoder::~StatsDecoder() = default;

DecodedReply StatsDecoder::Decode(std::string_view json) {
  DecodedReply reply;
  std::string& padded = parser_->padded;
  padded.assign(json);
  padded.resize(json.size() + simdjson::SIMDJSON_PADDING, ' ');
  bool service_seen = false;
  try {
    od::document doc;
    od::object root;
    if (parser_->parser.iterate(padded.data(), json.size(), padded.size()).get(doc) ||
        doc.get_object().get(root)) {
      throw MalformedJson{};
    }
    for (auto field_result : root) {
      od::field field;
      std::string_view key;
      if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
        throw MalformedJson{};
      }
      if (key != "endpoints") continue;
      od::array endpoints;
      if (field.value().get_array().get(endpoints)) throw MalformedJson{};
      for (auto element : endpoints) {
        od::object endpoint_object;
        if (std::move(element).get_object().get(endpoint_object)) throw MalformedJson{};
        const EndpointReport report = ReadEndpoint(endpoint_object);
        if (!report.has_subject) continue;
        const EndpointMatcher::Result match = matcher_.MatchSubject(report.subject);
        if (match.match == EndpointMatcher::Match::kOtherService) continue;
        service_seen = true;
        if (match.match == EndpointMatcher::Match::kOtherEndpoint) continue;
        if (match.match == EndpointMatcher::Match::kBadLeaseId) {
          reply.drops.Add(DropReason::kBadWorkerId);
          continue;
        }
        WorkerLoad unit;
        std::optional<DropReason> reason =
            report.has_data ? Validate(report.metrics, match.lease_id, unit, reply.ignored)
                            : DropReason::kNoData;
        if (reason) {
          reply.drops.Add(*reason);
          reply.unreadable.push_back({WorkerKey{match.lease_id, report.metrics.dp_rank}, *reason});
          continue;
        }
        reply.units.push_back(unit);
      }
    }
    // Anything after the root object (a second document, garbage) is malformed.
    const char* trailing = nullptr;
    if (doc.current_location().get(trailing) != simdjson::OUT_OF_BOUNDS) throw MalformedJson{};
  } catch (const MalformedJson&) {
    DecodedReply malformed;
    malformed.drops.Add(DropReason::kMalformedJson);
    return malformed;
  }
  reply.other_service = !service_seen;
  if (service_seen && reply.units.empty() && reply.drops.Total() == 0) {
    reply.drops.Add(DropReason::kNoLoadEndpoint);
  }
  return reply;
}

}  // namespace mk::dynamo
