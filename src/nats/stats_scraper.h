// Scrapes one target's workers over NATS micro: publishes an empty request to
// `$SRV.STATS.<service>` (or, for Dynamo 0.1's hashed service names, to
// `$SRV.STATS`, keeping only the target's replies) and gathers the replies on a
// private inbox until the window closes or every expected worker has answered.
// Replies to an earlier round are ignored. Used by one Collector thread.
#ifndef METRICS_KEDA_NATS_STATS_SCRAPER_H_
#define METRICS_KEDA_NATS_STATS_SCRAPER_H_

#include <nats/nats.h>

#include <string>

#include "dynamo/stats_decoder.h"
#include "fleet/load_source.h"
#include "fleet/target.h"
#include "nats/nats_connection.h"

namespace mk::nats {

class StatsScraper final : public fleet::TargetScraper {
 public:
  // Replies longer than `max_message_bytes` are dropped unread (reason oversized).
  StatsScraper(NatsConnection& connection, const fleet::Target& target, bool legacy_broadcast,
               size_t max_message_bytes);
  ~StatsScraper() override;

  absl::StatusOr<fleet::ScrapeResult> Scrape(const fleet::ScrapeRequest& request) override;

 private:
  absl::Status Subscribe();

  NatsConnection& connection_;
  const std::string request_subject_;
  dynamo::StatsDecoder decoder_;
  std::string inbox_;
  natsSubscription* subscription_ = nullptr;
  uint64_t round_ = 0;
  const size_t max_message_bytes_;
};

fleet::ScraperFactory StatsScraperFactory(NatsConnection& connection, bool legacy_broadcast,
                                          size_t max_message_bytes);

}  // namespace mk::nats

#endif  // METRICS_KEDA_NATS_STATS_SCRAPER_H_
