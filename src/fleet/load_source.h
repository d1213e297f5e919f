// The seam between the fleet model and whatever hears the workers. The fleet
// asks a TargetScraper for one scrape round at a time; the NATS layer implements
// it. A TargetScraper is used by one thread (its Collector's) only.
#ifndef METRICS_KEDA_FLEET_LOAD_SOURCE_H_
#define METRICS_KEDA_FLEET_LOAD_SOURCE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/target.h"

namespace mk::fleet {

struct ScrapeResult;

struct ScrapeRequest {
  std::chrono::nanoseconds window{};  // the longest the round may take
  // The units (worker and rank) known from recent rounds. The round ends as soon
  // as every one has replied (PendingUnits), unless it waits its whole window
  // (empty: nobody known yet).
  std::map<dynamo::WorkerKey, size_t> expected_units;  // replies due per unit
  // A discovery round: goes on to the end of the window so that workers that
  // joined, and answer after every known one, are heard too. When every expected
  // unit has replied, `on_expected_replied` (if set) is called once with the
  // replies so far, on the scraping thread, and the round goes on.
  bool wait_whole_window = false;
  std::function<void(const ScrapeResult&)> on_expected_replied;
};

struct ScrapeResult {
  std::vector<dynamo::WorkerLoad> units;             // readable reports
  std::vector<dynamo::UnreadableReport> unreadable;  // reports that arrived but were dropped
  dynamo::DropCounts drops;
  dynamo::DropCounts ignored;  // unused fields left out of kept reports
  uint64_t replies = 0;
  bool ended_early = false;  // ended before its window: every expected unit replied
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
