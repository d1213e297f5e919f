#include "dynamo/stats_decoder.h"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string>

#include "dynamo/forward_pass_json.h"

namespace mk::dynamo {
namespace {

namespace od = simdjson::ondemand;
using json::MalformedJson;
using json::RawForwardPassMetrics;

// What one endpoint report of a worker came to: its unit, or why it was dropped,
// and the unused fields it left out.
struct Outcome {
  uint64_t lease = 0;
  std::optional<WorkerLoad> unit;
  UnreadableReport unreadable;
  DropCounts ignored;
};

struct EndpointReport {
  std::string_view subject;
  bool has_subject = false;
  bool has_data = false;
  RawForwardPassMetrics metrics;
};

EndpointReport ReadEndpoint(od::object endpoint) {
  EndpointReport report;
  json::ForEachField(endpoint, [&](std::string_view key, od::value value) {
    if (key == "subject") {
      report.has_subject = !value.get_string().get(report.subject);
    } else if (key == "data") {
      // A `data: null` (no stats handler) leaves the report without data.
      if (json::ReadForwardPassMetrics(value, report.metrics)) report.has_data = true;
    }
  });
  return report;
}

Outcome Judge(const EndpointReport& report, uint64_t lease) {
  Outcome outcome;
  outcome.lease = lease;
  WorkerLoad unit;
  const std::optional<DropReason> reason =
      report.has_data
          ? json::ValidateForwardPassMetrics(report.metrics, lease, unit, outcome.ignored)
          : DropReason::kNoData;
  if (reason) {
    outcome.unreadable = {WorkerKey{lease, report.metrics.dp_rank}, *reason};
  } else {
    outcome.unit = unit;
  }
  return outcome;
}

// Adds `outcome` to `reply`: a unit, or an unreadable report and its drop.
void Add(const Outcome& outcome, DecodedReply& reply) {
  reply.ignored.Merge(outcome.ignored);
  if (outcome.unit) {
    reply.units.push_back(*outcome.unit);
  } else {
    reply.drops.Add(outcome.unreadable.reason);
    reply.unreadable.push_back(outcome.unreadable);
  }
}

}  // namespace

struct StatsDecoder::Parser : json::JsonObjectParser {};

StatsDecoder::StatsDecoder(EndpointMatcher matcher, std::optional<EndpointMatcher> fallback)
    : matcher_(std::move(matcher)),
      fallback_(std::move(fallback)),
      parser_(std::make_unique<Parser>()) {}

StatsDecoder::~StatsDecoder() = default;

DecodedReply StatsDecoder::Decode(std::string_view json) {
  DecodedReply reply;
  bool service_seen = false;
  std::vector<Outcome> monitored, fallback;
  const bool parsed = parser_->Parse(json, [&](od::object root) {
    json::ForEachField(root, [&](std::string_view key, od::value value) {
      if (key != "endpoints") return;
      od::array endpoints;
      if (value.get_array().get(endpoints)) throw MalformedJson{};
      for (auto element : endpoints) {
        od::object endpoint_object;
        if (std::move(element).get_object().get(endpoint_object)) throw MalformedJson{};
        const EndpointReport report = ReadEndpoint(endpoint_object);
        if (!report.has_subject) continue;
        const EndpointMatcher::Result match = matcher_.MatchSubject(report.subject);
        if (match.match == EndpointMatcher::Match::kOtherService) continue;
        service_seen = true;
        if (match.match == EndpointMatcher::Match::kOtherEndpoint) {
          // Only the fallback's well-formed subjects; anything else is another endpoint.
          if (!fallback_) continue;
          const EndpointMatcher::Result other = fallback_->MatchSubject(report.subject);
          if (other.match == EndpointMatcher::Match::kMatched) {
            fallback.push_back(Judge(report, other.lease_id));
          }
          continue;
        }
        if (match.match == EndpointMatcher::Match::kBadLeaseId) {
          reply.drops.Add(DropReason::kBadWorkerId);
          continue;
        }
        monitored.push_back(Judge(report, match.lease_id));
      }
    });
  });
  if (!parsed) {
    DecodedReply malformed;
    malformed.drops.Add(DropReason::kMalformedJson);
    return malformed;
  }
  // A worker whose monitored endpoint carries no data is read from its fallback
  // reports, if it has any; the fallback reports of other workers are not used.
  std::vector<uint64_t> from_fallback;
  for (const Outcome& outcome : monitored) {
    const bool no_data = !outcome.unit && outcome.unreadable.reason == DropReason::kNoData;
    const bool has_fallback = std::ranges::any_of(
        fallback, [&](const Outcome& other) { return other.lease == outcome.lease; });
    if (no_data && has_fallback) {
      from_fallback.push_back(outcome.lease);
    } else {
      Add(outcome, reply);
    }
  }
  for (const Outcome& outcome : fallback) {
    if (std::ranges::find(from_fallback, outcome.lease) != from_fallback.end()) Add(outcome, reply);
  }
  reply.other_service = !service_seen;
  if (service_seen && reply.units.empty() && reply.drops.Total() == 0) {
    reply.drops.Add(DropReason::kNoLoadEndpoint);
  }
  return reply;
}

}  // namespace mk::dynamo
