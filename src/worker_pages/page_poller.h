// The workers' own /metrics pages as a pulled source (design.md: source `metrics`,
// on Kubernetes): every poll interval, for each target, reads the page of every
// registered worker whose pod address discovery gives (http://<pod IP>:<port>/metrics,
// the operator's system port: the port its EndpointSlice names "system", else the
// configured one), turns it into unit figures (dynamo::WorkerGaugeReader)
// completed from the worker's model card (its KV capacity where the page has only a
// usage fraction; its request slots where the page says how many run), and hands them
// to the target's Collector (RecordWorkerPages, then Publish).
//
// Pages are fetched in parallel (libcurl's multi interface), each bounded in size and
// time. A pod that does not answer is not heard: its page's unit ages out of the
// picture after the staleness bound, as any silent unit does; one that answers with
// something unreadable turns its unit unreadable, with the reason. One thread; stops
// within a second.
//
// Thread-safe.
#ifndef METRICS_KEDA_WORKER_PAGES_PAGE_POLLER_H_
#define METRICS_KEDA_WORKER_PAGES_PAGE_POLLER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "dynamo/drop_reason.h"
#include "dynamo/worker_gauges.h"
#include "fleet/fleet_model.h"
#include "fleet/target_registry.h"

namespace mk::worker_pages {

struct PagePollerSettings {
  uint16_t port = 9090;                                         // --worker-metrics-port
  std::chrono::nanoseconds interval = std::chrono::seconds(5);  // --check-interval
  // A worker's page is a few hundred KiB at most (vLLM's histograms); one that takes
  // longer than this to come is missed for this poll, not waited for.
  std::chrono::milliseconds timeout{2000};
  size_t max_page_bytes = 8 << 20;
  // Connections at once: a thousand pods are read in a few rounds of these, without
  // a thousand sockets open.
  size_t parallel = 64;
  // Told after each poll whether it read a page or had none to read (for readiness).
  std::function<void(bool connected)> on_poll;
};

struct PagePollerStats {
  uint64_t polls = 0;
  uint64_t pages_read = 0;
  uint64_t pages_failed = 0;  // no answer, or not 200
  dynamo::DropCounts drops;   // pages and ranks that did not read
  bool connected = false;     // the last poll read a page, or had none to read
};

// A worker's page, completed from its registration: the card's KV capacity where
// the page gives only a usage fraction, and its request slots (max_num_seqs) where
// the page says how many requests run. Pure.
std::vector<dynamo::WorkerLoad> CompleteFromCard(const dynamo::WorkerPage& page,
                                                 const fleet::Registration& registration);

class WorkerPagePoller {
 public:
  using RegistrationsOf =
      std::function<std::optional<std::vector<fleet::Registration>>(const fleet::Target&)>;

  // Polls the targets `targets` holds, with the registrations `registrations` gives;
  // both outlive the poller.
  static absl::StatusOr<std::unique_ptr<WorkerPagePoller>> Start(fleet::TargetRegistry& targets,
                                                                 RegistrationsOf registrations,
                                                                 PagePollerSettings settings);
  ~WorkerPagePoller();
  WorkerPagePoller(const WorkerPagePoller&) = delete;
  WorkerPagePoller& operator=(const WorkerPagePoller&) = delete;

  PagePollerStats Stats() const;

 private:
  WorkerPagePoller(fleet::TargetRegistry& targets, RegistrationsOf registrations,
                   PagePollerSettings settings);
  void Run();
  void PollOnce();
  struct Fetch;
  // Fetches every page of `fetches` (their body or failure filled in), in parallel.
  void FetchAll(std::vector<Fetch>& fetches);

  fleet::TargetRegistry& targets_;
  const RegistrationsOf registrations_;
  const PagePollerSettings settings_;
  const dynamo::WorkerGaugeReader reader_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> abort_{false};
  PagePollerStats stats_;
  std::thread thread_;
};

}  // namespace mk::worker_pages

#endif  // METRICS_KEDA_WORKER_PAGES_PAGE_POLLER_H_
