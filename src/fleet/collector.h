// A Collector keeps one target's fleet picture fresh: it owns the target's
// FleetModel and the sources' schedule. Its own thread runs a scrape round every
// check interval when the stats source is on (and sooner when a caller needs a
// snapshot younger than the cache TTL; callers waiting meanwhile share that one
// round: single flight), and otherwise takes a new snapshot of what the push
// sources said. Event sources apply records at any time (Apply*) and then Publish,
// which takes one snapshot for everything applied since the last: coalesced,
// versioned. Every snapshot is offered to listeners, which is how push activation
// reacts within milliseconds.
//
// Thread-safe: any thread may call any method. Callbacks run on the collector's
// thread, on the thread that publishes, or inline when a fresh snapshot is at
// hand, and must not block.
#ifndef METRICS_KEDA_FLEET_COLLECTOR_H_
#define METRICS_KEDA_FLEET_COLLECTOR_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/duration_histogram.h"
#include "dynamo/stats_decoder.h"
#include "fleet/fleet_model.h"
#include "fleet/load_source.h"
#include "fleet/snapshot.h"
#include "fleet/target.h"

namespace mk::fleet {

struct CollectorSettings {
  std::chrono::nanoseconds check_interval = std::chrono::seconds(5);
  std::chrono::nanoseconds cache_ttl = std::chrono::seconds(5);
  std::chrono::nanoseconds max_staleness = std::chrono::seconds(15);
  std::chrono::nanoseconds scrape_window = std::chrono::milliseconds(500);
  // Every Nth round waits its whole window, so that workers that joined but
  // answer after every known one still get heard; and so does any round once
  // `discovery_period` has passed since the last that did, so that with long
  // check intervals a new worker still counts within about one HPA sync (15 s).
  uint32_t discovery_every = 5;
  std::chrono::nanoseconds discovery_period = std::chrono::seconds(10);
  // Worker units kept per target; reports of further new units are dropped and
  // counted, so a flood of fake workers cannot exhaust memory.
  size_t max_workers = 20000;
  // An event source feeds the target: then a snapshot is also taken every check
  // interval while it is connected (SetEventSourceConnected), and a failed scrape
  // leaves the events' picture standing.
  bool events = false;
};

// Counters of a collector's life, for observability.
struct CollectorStats {
  // Event-plane records offered to this target, by outcome.
  uint64_t events_applied = 0;
  uint64_t router_records = 0;     // routers' predictions: counted, never applied
  uint64_t events_not_member = 0;  // workers discovery places in another target
  uint64_t events_over_limit = 0;
  dynamo::DropCounts event_drops;  // records of this target's units that were dropped
  uint64_t rounds = 0;
  uint64_t failed_rounds = 0;
  uint64_t replies = 0;
  dynamo::DropCounts drops;
  dynamo::DropCounts ignored_fields;  // unused fields left out of kept reports
  std::chrono::nanoseconds last_round_duration{};
  std::string last_error;  // empty after a successful round
};

class Collector {
 public:
  using SnapshotCallback = std::function<void(absl::StatusOr<SnapshotPtr>)>;
  using Listener = std::function<void(const SnapshotPtr&)>;

  // `scraper`: the stats source, or null when it is off.
  Collector(Target target, CollectorSettings settings, std::unique_ptr<TargetScraper> scraper);
  ~Collector();  // stops the thread; waiters still pending get UNAVAILABLE
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Calls `done` with a snapshot younger than the cache TTL when one is at hand,
  // or the one a discovery round has just delivered while that round goes on
  // listening for newcomers (nothing fresher can come before its end), else after
  // the next round. If that round fails, a snapshot younger than the staleness
  // bound still serves; without one, `done` gets UNAVAILABLE.
  void WithFreshSnapshot(SnapshotCallback done);

  // The latest snapshot whatever its age; null before the first good round.
  SnapshotPtr Latest() const;

  // Latest() if younger than the staleness bound, else UNAVAILABLE naming the age.
  absl::StatusOr<SnapshotPtr> Servable() const;

  // Listeners are called with each new snapshot, in the order they were added.
  // After RemoveListener returns, its listener is not running and will not run
  // again, unless RemoveListener was called from that very listener, which then
  // finishes its call.
  uint64_t AddListener(Listener listener);
  void RemoveListener(uint64_t id);

  // --- push sources (any thread) ---
  // Records and drops heard by an event source (FleetModel::Apply*), counted per
  // outcome. They become visible with the next Publish.
  EventOutcome ApplyActiveLoad(const dynamo::ActiveLoad& load);
  EventOutcome ApplyForwardPass(const dynamo::ForwardPassMetrics& metrics);
  EventOutcome ApplyLoadReport(const dynamo::WorkerLoad& report);
  void RecordEventDrop(std::optional<uint64_t> worker_id, uint32_t dp_rank,
                       dynamo::DropReason reason);
  // The event channel of `worker_id` is down (FleetModel::SetChannelDown); true when
  // that changed anything. Visible with the next Publish.
  bool SetChannelDown(uint64_t worker_id, bool down);
  // FleetModel::SetSilentChannelsDown; true when that changed anything.
  bool SetSilentChannelsDown(bool down);
  // One poll of the workers' /metrics pages for this target
  // (FleetModel::RecordWorkerPages); visible with the next Publish. A poll that could
  // not run at all (no page fetched) is not recorded: the pages' units age out.
  void RecordWorkerPages(std::span<const dynamo::WorkerLoad> reports,
                         std::span<const dynamo::UnreadableReport> unreadable);
  // Takes and delivers a snapshot if anything changed since the last one, or soon
  // after when snapshots come faster than a fifth of a core allows (coalesced).
  void Publish();
  // The event source's connection (all of it: the NATS connection, or the ZMQ
  // subscriptions). While down, no snapshot is taken for an event-only target, so
  // its picture ages out of the staleness bound and GetMetrics says so. A reconnect
  // starts a new settle period for units not heard yet.
  void SetEventSourceConnected(bool connected);
  // Discovery's registrations for this target, or none without discovery
  // (FleetModel::SetRegistrations); published at once.
  void SetRegistrations(std::optional<std::vector<Registration>> registrations);
  // Trigger metadata kvTotalBlocks (FleetModel::SetFallbackKvTotalBlocks).
  void SetFallbackKvTotalBlocks(std::optional<uint64_t> blocks);
  // A trigger reads `view` (trigger metadata `source`): from now on every snapshot
  // carries that view's figures too (Snapshot::FiguresFor). The first call for a
  // view takes a snapshot with them before it returns, if there is a picture yet.
  void WantSourceView(SourceView view);

  CollectorStats Stats() const;
  const DurationHistogram& scrape_durations() const { return scrape_durations_; }
  const Target& target() const { return target_; }
  const CollectorSettings& settings() const { return settings_; }

 private:
  using Clock = std::chrono::steady_clock;

  void Run();
  void RunRound();
  // Publish; `coalesce` false: at once, for a change the very caller needs to see.
  void PublishChanges(bool coalesce);
  // Records what `heard` brought at `heard_at` in the model (new units over the
  // limit are dropped and counted in `drops`) and returns the model's snapshot.
  SnapshotPtr Update(const ScrapeResult& heard, Clock::time_point heard_at,
                     dynamo::DropCounts& drops);
  // Evicts the silent units and takes a snapshot of the model, with the new units
  // the last scrape and poll refused over the limit. Needs model_mutex_ held.
  SnapshotPtr TakeSnapshotLocked(Clock::time_point now);
  // Counts an event outcome and marks the model changed. Needs model_mutex_ held.
  EventOutcome CountLocked(EventOutcome outcome);
  // Logs units that joined, left or turned unreadable since `previous` (none: the
  // first snapshot).
  void LogChanges(const Snapshot* previous, const Snapshot& next) const;
  // Makes `snapshot` (if any) the latest, answers the waiters, tells the listeners.
  // `round_goes_on`: a discovery round delivered what it knows of the known units
  // and listens on for newcomers; callers until its end are answered at once.
  void Deliver(const SnapshotPtr& snapshot, Clock::time_point now, bool round_goes_on);
  absl::StatusOr<SnapshotPtr> ServableLocked(Clock::time_point now) const;

  const Target target_;
  const CollectorSettings settings_;
  std::unique_ptr<TargetScraper> scraper_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  SnapshotPtr latest_;
  // Callers waiting for the next round; any waiter makes that round start now.
  std::vector<SnapshotCallback> waiters_;
  // The running round has answered its callers and only listens for newcomers.
  bool round_answered_ = false;
  // A publish deferred to keep snapshots under a fifth of a core (Publish).
  std::optional<Clock::time_point> publish_due_;
  CollectorStats stats_;
  DurationHistogram scrape_durations_;
  // The model, and what goes with each snapshot of it. When both are held, this one
  // is taken first (mutex_ inside it), never the other way round.
  mutable std::mutex model_mutex_;
  FleetModel model_;
  uint64_t version_ = 0;
  bool changed_ = false;        // applied since the last snapshot
  CollectorStats event_stats_;  // only its event counters are used
  Clock::time_point last_publish_{};
  Clock::duration last_snapshot_cost_{};
  bool events_connected_ = false;
  // Since when each source is servable alone (design.md: connected, or within the
  // staleness bound of it): the last good scrape and poll of /metrics pages; the
  // event source's disconnection.
  std::optional<Clock::time_point> last_good_scrape_;
  std::optional<Clock::time_point> last_good_poll_;
  std::optional<Clock::time_point> events_down_since_;
  // Set under model_mutex_, read without it by WantSourceView.
  std::array<std::atomic<bool>, kSourceViewCount> want_view_{};
  // New units refused over the limit by the last scrape and the last poll of pages.
  size_t scrape_refused_ = 0;
  size_t pages_refused_ = 0;
  // Touched by the collector thread only.
  uint64_t round_ = 0;
  std::optional<Clock::time_point> last_discovery_;

  // A listener runs under its own (recursive) mutex only: RemoveListener takes it
  // to wait for a call in progress, and a listener removing itself takes it again.
  struct ListenerEntry {
    std::recursive_mutex running;
    bool removed = false;
    Listener call;
  };
  std::mutex listeners_mutex_;  // guards the map only, never held during a call
  std::map<uint64_t, std::shared_ptr<ListenerEntry>> listeners_;
  uint64_t next_listener_id_ = 1;

  std::thread thread_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_COLLECTOR_H_
