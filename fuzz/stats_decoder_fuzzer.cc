// libFuzzer target: arbitrary bytes as one `$SRV.STATS` reply, decoded as the scraper
// of target dynamo/llm-worker/kv-router does, with and without legacy (Dynamo 0.1)
// service names. Anything may be dropped; nothing may crash, and what is kept must be
// usable by the fleet model:
//   - a reply counted as malformed_json yields no unit and no unreadable report;
//   - every matched endpoint is either a unit or one drop with its unreadable report;
//   - unused fields are only ever ignored in kept reports, never dropped;
//   - every unit's figures (fleet::FiguresOf) that are defined are finite and in [0, 1];
//   - the fleet figures of the units (fleet::Aggregate), with the unreadable
//     reports as unreadable units beside them, are finite and in range;
//   - the legacy decoder keeps every unit the strict one keeps, in order;
//   - decoding is deterministic although the decoder reuses its parser's buffers.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "dynamo/service_name.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/fleet_figures.h"
#include "fleet/unit.h"
#include "fuzz_check.h"

namespace {

using mk::dynamo::DecodedReply;
using mk::dynamo::DropReason;
using mk::dynamo::EndpointMatcher;
using mk::dynamo::StatsDecoder;
using mk::dynamo::WorkerLoad;

bool InRange(double x, double low, double high) {
  return std::isfinite(x) && x >= low && x <= high;
}

unsigned long long U(uint64_t x) { return static_cast<unsigned long long>(x); }

void CheckUnit(const WorkerLoad& unit) {
  const auto lease = U(unit.key.lease_id);
  if (unit.gpu_cache_usage_perc) {
    MK_FUZZ_CHECK(InRange(*unit.gpu_cache_usage_perc, 0, 1),
                  "lease %llx gpu_cache_usage_perc %.17g", lease, *unit.gpu_cache_usage_perc);
  }
  if (unit.gpu_prefix_cache_hit_rate) {
    MK_FUZZ_CHECK(InRange(*unit.gpu_prefix_cache_hit_rate, 0, 1),
                  "lease %llx gpu_prefix_cache_hit_rate %.17g", lease,
                  *unit.gpu_prefix_cache_hit_rate);
  }
  const mk::fleet::UnitFigures figures = mk::fleet::FiguresOf(unit);
  for (const auto& [name, figure] :
       {std::pair{"kv_usage", figures.kv_usage}, std::pair{"slot_usage", figures.slot_usage},
        std::pair{"load", figures.load}}) {
    if (figure) {
      MK_FUZZ_CHECK(InRange(*figure, 0, 1), "lease %llx %s %.17g", lease, name, *figure);
    }
  }
  MK_FUZZ_CHECK(figures.load.has_value() == (figures.kv_usage || figures.slot_usage),
                "lease %llx load defined without a KV or slot figure, or the other way", lease);
  // Stats replies always say how many requests wait (0 when absent), never prefill tokens.
  MK_FUZZ_CHECK(figures.waiting && std::isfinite(*figures.waiting) && *figures.waiting >= 0,
                "lease %llx waiting missing or negative", lease);
  MK_FUZZ_CHECK(!figures.prefill_tokens_queued, "lease %llx has queued prefill tokens", lease);
}

void CheckFleet(const DecodedReply& reply) {
  std::vector<mk::fleet::Unit> units;
  for (const WorkerLoad& report : reply.units) units.push_back(mk::fleet::Unit::Reporting(report));
  for (const mk::dynamo::UnreadableReport& report : reply.unreadable) {
    units.push_back(mk::fleet::Unit{report.key, mk::fleet::UnitState::kUnreadable, std::nullopt,
                                    report.reason});
  }
  const mk::fleet::FleetFigures fleet = mk::fleet::Aggregate(units);
  MK_FUZZ_CHECK(fleet.units == units.size(), "%zu units aggregated as %zu", units.size(),
                fleet.units);
  MK_FUZZ_CHECK(fleet.reporting_units == reply.units.size() &&
                    fleet.unreadable_units == reply.unreadable.size(),
                "%zu reporting, %zu unreadable aggregated as %zu and %zu", reply.units.size(),
                reply.unreadable.size(), fleet.reporting_units, fleet.unreadable_units);
  const bool all_unreadable = reply.units.empty() && !reply.unreadable.empty();
  for (mk::fleet::FleetMetric metric : mk::fleet::kAllFleetMetrics) {
    const char* name = mk::fleet::MetricName(metric).data();
    const absl::StatusOr<double> value = fleet.Value(metric);
    if (value.ok()) {
      const double high = metric == mk::fleet::FleetMetric::kLoadAvg ? 1
                          : metric == mk::fleet::FleetMetric::kKvBlocksUsagePercent ||
                                  metric == mk::fleet::FleetMetric::kRequestSlotsUsagePercent
                              ? 100
                              : std::numeric_limits<double>::max();
      MK_FUZZ_CHECK(InRange(*value, 0, high), "%s = %.17g", name, *value);
    } else {
      // Undefined only where no unit defines it: never a made-up 0, never settling.
      MK_FUZZ_CHECK((all_unreadable || fleet.UnitsDefining(metric) == 0) &&
                        value.status().code() == absl::StatusCode::kFailedPrecondition,
                    "%s: %s", name, value.status().ToString().c_str());
    }
  }
}

void CheckReply(const DecodedReply& reply, const char* decoder) {
  const uint64_t malformed = reply.drops.Get(DropReason::kMalformedJson);
  if (malformed > 0) {
    MK_FUZZ_CHECK(reply.units.empty(), "%s: malformed_json counted with %zu units", decoder,
                  reply.units.size());
    MK_FUZZ_CHECK(reply.unreadable.empty(), "%s: malformed_json counted with %zu unreadable",
                  decoder, reply.unreadable.size());
    MK_FUZZ_CHECK(malformed == 1 && reply.drops.Total() == 1,
                  "%s: malformed reply counted %llu drops", decoder, U(reply.drops.Total()));
    return;
  }
  // Oversized replies and units over the worker limit are the scraper's and the
  // collector's to count, never the decoder's.
  MK_FUZZ_CHECK(reply.drops.Get(DropReason::kOversized) == 0, "%s: decoder counted oversized",
                decoder);
  MK_FUZZ_CHECK(reply.drops.Get(DropReason::kOverWorkerLimit) == 0,
                "%s: decoder counted over_worker_limit", decoder);
  // Every dropped report of a worker is one unreadable report of it.
  const uint64_t endpoint_drops = reply.drops.Total() - reply.drops.Get(DropReason::kBadWorkerId) -
                                  reply.drops.Get(DropReason::kNoLoadEndpoint);
  MK_FUZZ_CHECK(reply.unreadable.size() == endpoint_drops,
                "%s: %zu unreadable reports, %llu endpoint drops", decoder, reply.unreadable.size(),
                U(endpoint_drops));
  // Ignored fields come only with kept reports (at most two per report).
  MK_FUZZ_CHECK(reply.ignored.Total() <= 2 * reply.units.size(),
                "%s: %llu ignored fields in %zu kept reports", decoder, U(reply.ignored.Total()),
                reply.units.size());
  if (reply.drops.Get(DropReason::kNoLoadEndpoint) > 0) {
    MK_FUZZ_CHECK(reply.drops.Total() == 1 && reply.units.empty() && !reply.other_service,
                  "%s: no_load_endpoint with other drops or units", decoder);
  }
  if (reply.other_service) {
    MK_FUZZ_CHECK(reply.units.empty() && reply.unreadable.empty() && reply.drops.Total() == 0,
                  "%s: another service's reply yielded units, unreadable reports or drops",
                  decoder);
  }
  for (size_t i = 0; i < reply.units.size(); ++i) CheckUnit(reply.units[i]);
  CheckFleet(reply);
}

bool SameReply(const DecodedReply& a, const DecodedReply& b) {
  return a.units == b.units && a.unreadable == b.unreadable &&
         a.drops.by_reason == b.drops.by_reason && a.ignored.by_reason == b.ignored.by_reason &&
         a.other_service == b.other_service;
}

// `part` is a subsequence of `whole`.
bool IsSubsequence(std::span<const WorkerLoad> part, std::span<const WorkerLoad> whole) {
  size_t i = 0;
  for (const WorkerLoad& unit : whole) {
    if (i < part.size() && part[i] == unit) ++i;
  }
  return i == part.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Kept across inputs, as the scraper keeps its decoder across replies.
  static StatsDecoder strict(EndpointMatcher("dynamo", "llm-worker", "kv-router", false));
  static StatsDecoder legacy(EndpointMatcher("dynamo", "llm-worker", "kv-router", true));
  // Monitoring the serving endpoint, read from load_metrics where it carries no data.
  static StatsDecoder serving(EndpointMatcher("dynamo", "llm-worker", "generate", false),
                              EndpointMatcher("dynamo", "llm-worker", "load_metrics", false));
  const std::string_view json(reinterpret_cast<const char*>(data), size);

  const DecodedReply strict_reply = strict.Decode(json);
  CheckReply(strict_reply, "strict");
  const DecodedReply legacy_reply = legacy.Decode(json);
  CheckReply(legacy_reply, "legacy");
  CheckReply(serving.Decode(json), "serving");

  // The matcher does not change how the JSON is read, only which endpoints count.
  MK_FUZZ_CHECK(strict_reply.drops.Get(DropReason::kMalformedJson) ==
                    legacy_reply.drops.Get(DropReason::kMalformedJson),
                "malformed for one matcher only");
  MK_FUZZ_CHECK(IsSubsequence(strict_reply.units, legacy_reply.units),
                "legacy names lost a unit the strict matcher kept (%zu vs %zu units)",
                strict_reply.units.size(), legacy_reply.units.size());
  MK_FUZZ_CHECK(SameReply(strict_reply, strict.Decode(json)),
                "decoding the same reply twice differed");
  return 0;
}
