// The seam between the fleet model and whatever hears the workers. The fleet
// asks a TargetScraper for one scrape round at a time; the NATS layer implements
// it. A TargetScraper is used by one thread (its Collector's) only.
#ifndef METRICS_KEDA_FLEET_LOAD_SOURCE_H_
#define METRICS_KEDA_FLEET_LOAD_SOURCE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/target.h"

namespace mk::fleet {

struct ScrapeRequest {
  std::chrono::nanoseconds window{};  // the longest the round may take
  // The round may end as soon as every one of these has replied; empty means
  // wait out the window (nobody known yet, or a periodic discovery round).
  std::set<uint64_t> expected_leases;
};

struct ScrapeResult {
  std::vector<dynamo::WorkerLoad> units;
  dynamo::DropCounts drops;
  uint64_t replies = 0;
  bool ended_early = false;
};

class TargetScraper {
 public:
  virtual ~TargetScraper() = default;
  // One round. An error (e.g. UNAVAILABLE when the connection is down or was lost
  // during the round) means no trustworthy picture came of it.
  virtual absl::StatusOr<ScrapeResult> Scrape(const ScrapeRequest& request) = 0;
};

using ScraperFactory = std::function<std::unique_ptr<TargetScraper>(const Target&)>;

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_LOAD_SOURCE_H_
