// One target's units as every source reports them, and the rules of design.md
// ("Units and their figures", "Membership, freshness and failure") that make them
// present units with states and figures:
//   - the stats scrape's replies and the workers' own /metrics pages (a WorkerTable
//     each: present from the first reply until silent for longer than the staleness
//     bound);
//   - event-plane records (ActiveLoad, ForwardPassMetrics, JSON LoadEvents), kept per
//     unit field by field, since each record kind carries only some figures; sent on
//     change, so they do not age while their source is connected;
//   - discovery's registrations: with discovery, every registered instance (and
//     data-parallel rank) is present from its registration until it goes, and its
//     model card gives its capacity.
// A unit's figures are its newest readable record, whichever source it came from. A
// registered unit nothing has been heard from is pending, until the settle period
// (the staleness bound) after the event source subscribed has passed; one registered
// while the source was subscribed is idle at once (workers publish on change).
//
// Pure: every time is passed in. Not thread-safe: its Collector guards it.
#ifndef METRICS_KEDA_FLEET_FLEET_MODEL_H_
#define METRICS_KEDA_FLEET_FLEET_MODEL_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dynamo/active_load.h"
#include "dynamo/drop_reason.h"
#include "dynamo/forward_pass_metrics.h"
#include "dynamo/stats_decoder.h"
#include "dynamo/worker_load.h"
#include "fleet/unit.h"
#include "fleet/worker_table.h"

namespace mk::fleet {

// One registered worker instance, as discovery tells it (etcd's v1/instances key and
// the instance's model card, or the same records in Kubernetes).
struct Registration {
  uint64_t instance_id = 0;
  // From the card's runtime_config, none when the engine did not report them.
  std::optional<uint64_t> total_kv_blocks;  // per data-parallel rank
  std::optional<uint64_t> max_num_seqs;     // request slots per rank
  // Ranks [dp_start_rank, dp_start_rank + dp_size); a worker with dp_size 1 is one
  // unit without a rank.
  uint32_t dp_start_rank = 0;
  uint32_t dp_size = 1;
  // Where the worker's pod answers (its IP; Kubernetes discovery), for its own
  // /metrics page; empty when discovery does not say. The port, where its
  // EndpointSlice names one ("system"); else the scaler's --worker-metrics-port.
  std::string host;
  std::optional<uint16_t> metrics_port;

  friend bool operator==(const Registration&, const Registration&) = default;
};

// What became of one event record offered to the model.
enum class EventOutcome {
  kApplied,       // the unit's figures took it
  kRouterRecord,  // a router's prediction about a worker: counted, never applied
  kNotMember,     // a worker that discovery does not place in this target
  kOverLimit,     // a new unit beyond the per-target limit
};

class FleetModel {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `max_units`: units kept per source; `max_staleness`: the staleness bound, which
  // is also the settle period of pending units.
  FleetModel(size_t max_units, std::chrono::nanoseconds max_staleness);

  // --- the stats source ---
  // One batch of scrape replies heard at `heard_at` (WorkerTable::Record). Returns
  // how many new units were refused over the limit.
  size_t RecordScrape(std::span<const dynamo::WorkerLoad> reports,
                      std::span<const dynamo::UnreadableReport> unreadable, TimePoint heard_at);
  // The replies a scrape round waits for: every unit heard by scrapes, and every
  // registered one.
  std::map<dynamo::WorkerKey, size_t> ExpectedReplies() const;

  // Whether the stats source has heard any unit of the target that is still kept.
  bool HasStatsUnits() const { return stats_.size() > 0; }

  // --- the workers' own /metrics pages ---
  // The units of one poll of the workers' pages, heard at `heard_at`: readable ones
  // and pages that did not read (WorkerTable::Record). A rank 0 of a worker without
  // registered ranks is its rank-less unit, as for events. With discovery only
  // registered workers' pages count. Returns how many new units were refused over
  // the limit.
  size_t RecordWorkerPages(std::span<const dynamo::WorkerLoad> reports,
                           std::span<const dynamo::UnreadableReport> unreadable,
                           TimePoint heard_at);

  // --- event sources ---
  // When the target's sources began listening (start, or an event source's
  // reconnect): registered units unheard since then are pending until the settle
  // period passes.
  void SetSubscribedSince(TimePoint since) { subscribed_since_ = since; }
  // Whether an event source feeds this target. While one does, a stats reply without
  // load data (no_data) makes no unit unreadable that events or discovery account for.
  void SetEventsActive(bool active) { events_active_ = active; }
  // One record. With discovery, only a registered worker's records count
  // (kNotMember otherwise); without, every record routed here does.
  EventOutcome ApplyActiveLoad(const dynamo::ActiveLoad& load, TimePoint at);
  EventOutcome ApplyForwardPass(const dynamo::ForwardPassMetrics& metrics, TimePoint at);
  // A JSON LoadEvent (Aug - Dec 2025): a whole stats-shaped report.
  EventOutcome ApplyLoadReport(const dynamo::WorkerLoad& report, TimePoint at);
  // A record of `worker_id` dropped for `reason`: the unit turns unreadable unless
  // it has a readable record within the staleness bound.
  EventOutcome RecordEventDrop(uint64_t worker_id, uint32_t dp_rank, dynamo::DropReason reason,
                               TimePoint at);

  // The event channel the worker's records come through has been down for longer
  // than the staleness bound (or is back): its units' event records are no longer
  // believed, and they read unreadable (channel_down) unless a fresher stats reply
  // speaks for them. True when it changed anything.
  bool SetChannelDown(uint64_t worker_id, bool down);

  // Some event channel of the target that nothing has come through has been down
  // past the staleness bound: registered units never heard may be behind it, so
  // after the settle period they read unreadable (channel_down), not idle. True when
  // it changed.
  bool SetSilentChannelsDown(bool down) {
    const bool changed = silent_channels_down_ != down;
    silent_channels_down_ = down;
    return changed;
  }

  // --- discovery ---
  // The registered instances of the target, or none when no discovery serves it (or
  // it has not listed yet). Units of instances that went leave at once, with their
  // records of every source.
  void SetRegistrations(std::optional<std::vector<Registration>> registrations, TimePoint now);
  bool has_discovery() const { return registrations_.has_value(); }

  // A KV capacity per unit for units that no card or stats reply gives one
  // (trigger metadata kvTotalBlocks); none to clear it.
  void SetFallbackKvTotalBlocks(std::optional<uint64_t> blocks) { fallback_kv_total_ = blocks; }
  std::optional<uint64_t> fallback_kv_total_blocks() const { return fallback_kv_total_; }

  // --- the picture ---
  // Forgets units heard by no registration and silent since before
  // `now - max_staleness`.
  void EvictSilent(TimePoint now);
  // Every present unit at `now`, ordered by key. A `view` of one source leaves the
  // other sources' records out, as if they were off: a unit only another source has
  // heard is then pending, idle or absent by the same rules as any unit unheard.
  std::vector<Unit> Units(TimePoint now, SourceView view = SourceView::kAll) const;

 private:
  // What the event plane said of one unit, field by field.
  struct EventEntry {
    std::optional<uint64_t> kv_used_blocks;  // kv_used_blocks, else active_decode_blocks
    std::optional<uint64_t> waiting_requests;
    std::optional<dynamo::ForwardPassMetrics> forward_pass;
    std::optional<dynamo::WorkerLoad> load_report;  // JSON LoadEvent
    TimePoint readable_at{};                        // newest readable record
    bool readable = false;
    std::optional<dynamo::DropReason> drop_reason;  // of the newest dropped record
    TimePoint heard_at{};
    bool channel_down = false;

    // A readable record came at `at`: through a channel that works, then.
    void HeardReadable(TimePoint at) {
      readable = true;
      readable_at = heard_at = at;
      channel_down = false;
    }
  };
  struct Member {
    Registration registration;
    TimePoint registered_at{};
  };

  // The unit key of an event record: rank 0 of a worker without registered ranks is
  // its rank-less unit, as a stats reply without a rank is.
  dynamo::WorkerKey EventKey(uint64_t worker_id, uint32_t dp_rank) const;
  // The entry a record of `key` goes to, created if it may be; null with the outcome
  // otherwise.
  EventEntry* EventEntryFor(const dynamo::WorkerKey& key, EventOutcome& outcome);
  // The event entry as a stats-shaped report, with the unit's capacity: its card's,
  // else that of `stats` (its fresh stats reply, if any), else the fallback.
  dynamo::WorkerLoad ComposeEventReport(const dynamo::WorkerKey& key, const EventEntry& entry,
                                        const dynamo::WorkerLoad* stats,
                                        const Member* member) const;
  // A registered unit nothing readable was heard from: idle, with its capacity.
  dynamo::WorkerLoad AssumedIdleReport(const dynamo::WorkerKey& key, const Member* member) const;
  // Whether a pulled unit (a stats reply, a /metrics page) is to be left out: a
  // dropped one that events or registered ranks speak for.
  bool SpeaksForNothing(const Unit& pulled, SourceView view) const;
  const Member* MemberOf(uint64_t instance_id) const;
  // Every registered unit, ordered by key, with its member.
  struct MemberKey {
    dynamo::WorkerKey key;
    const Member* member = nullptr;
  };
  std::vector<MemberKey> MemberKeys() const;

  const size_t max_units_;
  const std::chrono::nanoseconds max_staleness_;
  WorkerTable stats_;
  WorkerTable metrics_;
  std::map<dynamo::WorkerKey, EventEntry> events_;
  std::optional<std::map<uint64_t, Member>> registrations_;
  TimePoint subscribed_since_{};
  bool events_active_ = false;
  bool silent_channels_down_ = false;
  std::optional<uint64_t> fallback_kv_total_;
};

}  // namespace mk::fleet

#endif  // METRICS_KEDA_FLEET_FLEET_MODEL_H_
