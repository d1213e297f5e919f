#include "dynamo/stats_decoder.h"

#include <simdjson.h>

#include <optional>
#include <string>

#include "dynamo/forward_pass_json.h"

namespace mk::dynamo {
namespace {

namespace od = simdjson::ondemand;
using json::MalformedJson;
using json::RawForwardPassMetrics;

struct EndpointReport {
  std::string_view subject;
  bool has_subject = false;
  bool has_data = false;
  RawForwardPassMetrics metrics;
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
      // A `data: null` (no stats handler) leaves the report without data.
      if (json::ReadForwardPassMetrics(value, report.metrics)) report.has_data = true;
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
            report.has_data ? json::ValidateForwardPassMetrics(report.metrics, match.lease_id, unit,
                                                               reply.ignored)
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
