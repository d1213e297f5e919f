// Decodes one `$SRV.STATS` reply of a Dynamo worker (a NATS micro stats_response)
// into the worker units of the monitored endpoint. Both ForwardPassMetrics forms are
// read: flat (Dynamo 0.1 - 0.3) and nested worker_stats/kv_stats (0.4 - 0.5), by the
// reader the JSON LoadEvent decoder shares (forward_pass_json.h).
//
// Strict where it matters: a field the figures use (slots, blocks, waiting, the
// rank, and gpu_cache_usage_perc when there is no block capacity) of the wrong
// type, a negative or oversized count, or a fraction outside [0, 1] drops that
// endpoint's report (with a reason) and never another's. A field the figures do
// not use (gpu_prefix_cache_hit_rate; gpu_cache_usage_perc beside a block
// capacity) never drops a report: when bad it is left out and counted as ignored.
// Malformed JSON drops the whole reply. A StatsDecoder reuses its parser's buffers
// and is not thread-safe: one per scraping thread.
#ifndef METRICS_KEDA_DYNAMO_STATS_DECODER_H_
#define METRICS_KEDA_DYNAMO_STATS_DECODER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "dynamo/drop_reason.h"
#include "dynamo/service_name.h"
#include "dynamo/worker_load.h"

namespace mk::dynamo {

// A report of the monitored endpoint that arrived but cannot be used: its worker
// answers, so it is present, but unreadable. `key.dp_rank` is the report's rank
// when that could be read, else none (a `data: null` report carries no rank).
struct UnreadableReport {
  WorkerKey key;
  DropReason reason = DropReason::kNoData;

  friend bool operator==(const UnreadableReport&, const UnreadableReport&) = default;
};

struct DecodedReply {
  std::vector<WorkerLoad> units;  // the monitored endpoint's valid reports
  // The monitored endpoint's dropped reports (each also counted in `drops`).
  std::vector<UnreadableReport> unreadable;
  DropCounts drops;
  // Unused fields left out of a kept report, by what was wrong with them.
  DropCounts ignored;
  bool other_service = false;  // no endpoint of the monitored service at all
};

// Where Dynamo 0.1 - 0.5 workers put their ForwardPassMetrics, whatever endpoint
// serves requests.
inline constexpr std::string_view kLoadMetricsEndpoint = "load_metrics";

class StatsDecoder {
 public:
  // Reports of the endpoint `matcher` names; with a `fallback` (the same
  // worker's load_metrics endpoint), a worker whose monitored endpoint carries no
  // data (`data: null`, as `generate` does) is read from its fallback reports
  // instead, so a target naming the serving endpoint reads 0.4 - 0.5 workers too.
  explicit StatsDecoder(EndpointMatcher matcher,
                        std::optional<EndpointMatcher> fallback = std::nullopt);
  ~StatsDecoder();
  StatsDecoder(const StatsDecoder&) = delete;
  StatsDecoder& operator=(const StatsDecoder&) = delete;

  DecodedReply Decode(std::string_view json);

  const EndpointMatcher& matcher() const { return matcher_; }

 private:
  struct Parser;
  EndpointMatcher matcher_;
  std::optional<EndpointMatcher> fallback_;
  std::unique_ptr<Parser> parser_;
};

}  // namespace mk::dynamo

#endif  // METRICS_KEDA_DYNAMO_STATS_DECODER_H_
