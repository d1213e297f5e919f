#include "fleet/fleet_model.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace mk::fleet {

FleetModel::FleetModel(size_t max_units, std::chrono::nanoseconds max_staleness)
    : max_units_(max_units),
      max_staleness_(max_staleness),
      stats_(max_units, FigureSource::kStats),
      metrics_(max_units, FigureSource::kMetrics) {}

size_t FleetModel::RecordScrape(std::span<const dynamo::WorkerLoad> reports,
                                std::span<const dynamo::UnreadableReport> unreadable,
                                TimePoint heard_at) {
  return stats_.Record(reports, unreadable, heard_at);
}

size_t FleetModel::RecordWorkerPages(std::span<const dynamo::WorkerLoad> reports,
                                     std::span<const dynamo::UnreadableReport> unreadable,
                                     TimePoint heard_at) {
  auto counts = [&](uint64_t worker_id) { return !registrations_ || MemberOf(worker_id); };
  std::vector<dynamo::WorkerLoad> keyed;
  keyed.reserve(reports.size());
  for (const dynamo::WorkerLoad& report : reports) {
    if (!counts(report.key.lease_id)) continue;
    keyed.push_back(report);
    keyed.back().key = EventKey(report.key.lease_id, report.key.dp_rank.value_or(0));
  }
  std::vector<dynamo::UnreadableReport> keyed_unreadable;
  for (const dynamo::UnreadableReport& page : unreadable) {
    if (!counts(page.key.lease_id)) continue;
    keyed_unreadable.push_back(page);
    if (page.key.dp_rank) {
      keyed_unreadable.back().key = EventKey(page.key.lease_id, *page.key.dp_rank);
    }
  }
  return metrics_.Record(keyed, keyed_unreadable, heard_at);
}

std::map<dynamo::WorkerKey, size_t> FleetModel::ExpectedReplies() const {
  std::map<dynamo::WorkerKey, size_t> expected = stats_.ExpectedReplies();
  for (const MemberKey& member : MemberKeys()) expected.emplace(member.key, 1);
  return expected;
}

const FleetModel::Member* FleetModel::MemberOf(uint64_t instance_id) const {
  if (!registrations_) return nullptr;
  auto it = registrations_->find(instance_id);
  return it == registrations_->end() ? nullptr : &it->second;
}

// Data-parallel ranks taken from one card: Dynamo deployments run a few dozen at
// most; a card claiming more is not believed beyond this, so that one bad record
// cannot make millions of units.
constexpr uint32_t kMaxRanksPerWorker = 1024;

std::vector<FleetModel::MemberKey> FleetModel::MemberKeys() const {
  std::vector<MemberKey> keys;
  if (!registrations_) return keys;
  keys.reserve(registrations_->size());
  for (const auto& [id, member] : *registrations_) {
    const Registration& r = member.registration;
    if (r.dp_size <= 1) {
      keys.push_back({{id, std::nullopt}, &member});
      continue;
    }
    const uint32_t ranks = std::min(r.dp_size, kMaxRanksPerWorker);
    for (uint32_t i = 0; i < ranks && r.dp_start_rank <= UINT32_MAX - i; ++i) {
      keys.push_back({{id, r.dp_start_rank + i}, &member});
    }
  }
  return keys;
}

dynamo::WorkerKey FleetModel::EventKey(uint64_t worker_id, uint32_t dp_rank) const {
  const Member* member = MemberOf(worker_id);
  const bool ranked = member != nullptr && member->registration.dp_size > 1;
  if (dp_rank == 0 && !ranked) return {worker_id, std::nullopt};
  return {worker_id, dp_rank};
}

FleetModel::EventEntry* FleetModel::EventEntryFor(const dynamo::WorkerKey& key,
                                                  EventOutcome& outcome) {
  // With discovery, its registrations alone say who is present: namespace-scoped
  // records of every component share one subject, and a worker that deregistered
  // may still have records on the way, which must not bring it back.
  if (registrations_ && MemberOf(key.lease_id) == nullptr) {
    outcome = EventOutcome::kNotMember;
    return nullptr;
  }
  if (auto it = events_.find(key); it != events_.end()) return &it->second;
  if (events_.size() >= max_units_) {
    outcome = EventOutcome::kOverLimit;
    return nullptr;
  }
  return &events_[key];
}

EventOutcome FleetModel::ApplyActiveLoad(const dynamo::ActiveLoad& load, TimePoint at) {
  if (load.origin == dynamo::ActiveLoadOrigin::kRouter) return EventOutcome::kRouterRecord;
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry = EventEntryFor(EventKey(load.worker_id, load.dp_rank), outcome);
  if (entry == nullptr) return outcome;
  entry->kv_used_blocks = load.kv_used_blocks ? load.kv_used_blocks : load.active_decode_blocks;
  if (load.waiting_requests) entry->waiting_requests = load.waiting_requests;
  entry->HeardReadable(at);
  return outcome;
}

EventOutcome FleetModel::ApplyForwardPass(const dynamo::ForwardPassMetrics& metrics, TimePoint at) {
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry = EventEntryFor(EventKey(metrics.worker_id, metrics.dp_rank), outcome);
  if (entry == nullptr) return outcome;
  entry->forward_pass = metrics;
  entry->HeardReadable(at);
  return outcome;
}

EventOutcome FleetModel::ApplyLoadReport(const dynamo::WorkerLoad& report, TimePoint at) {
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry =
      EventEntryFor(EventKey(report.key.lease_id, report.key.dp_rank.value_or(0)), outcome);
  if (entry == nullptr) return outcome;
  entry->load_report = report;
  entry->HeardReadable(at);
  return outcome;
}

EventOutcome FleetModel::RecordEventDrop(uint64_t worker_id, uint32_t dp_rank,
                                         dynamo::DropReason reason, TimePoint at) {
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry = EventEntryFor(EventKey(worker_id, dp_rank), outcome);
  if (entry == nullptr) return outcome;
  entry->drop_reason = reason;
  entry->heard_at = at;
  return outcome;
}

bool FleetModel::SetChannelDown(uint64_t worker_id, bool down) {
  bool changed = false;
  auto it = events_.lower_bound(dynamo::WorkerKey{worker_id, std::nullopt});
  for (; it != events_.end() && it->first.lease_id == worker_id; ++it) {
    changed = changed || it->second.channel_down != down;
    it->second.channel_down = down;
  }
  return changed;
}

void FleetModel::SetRegistrations(std::optional<std::vector<Registration>> registrations,
                                  TimePoint now) {
  if (!registrations) {
    registrations_.reset();
    return;
  }
  // The first registrations told predate the sources' subscription (a target is
  // made after discovery has listed): those units are unknown until they speak.
  const TimePoint new_since = registrations_ ? now : subscribed_since_;
  std::map<uint64_t, Member> next;
  for (const Registration& r : *registrations) {
    const Member* known = MemberOf(r.instance_id);
    next[r.instance_id] = Member{r, known ? known->registered_at : new_since};
  }
  if (registrations_) {
    for (const auto& [id, member] : *registrations_) {
      if (next.contains(id)) continue;
      // Deregistered (lease expired, or deleted on a clean stop): gone at once.
      stats_.EraseWorker(id);
      metrics_.EraseWorker(id);
      auto it = events_.lower_bound(dynamo::WorkerKey{id, std::nullopt});
      while (it != events_.end() && it->first.lease_id == id) it = events_.erase(it);
    }
  }
  registrations_ = std::move(next);
}

void FleetModel::EvictSilent(TimePoint now) {
  const TimePoint oldest_kept = now - max_staleness_;
  stats_.EvictSilentSince(oldest_kept);
  metrics_.EvictSilentSince(oldest_kept);
  for (auto it = events_.begin(); it != events_.end();) {
    if (MemberOf(it->first.lease_id) == nullptr && it->second.heard_at < oldest_kept) {
      it = events_.erase(it);
    } else {
      ++it;
    }
  }
}

dynamo::WorkerLoad FleetModel::ComposeEventReport(const dynamo::WorkerKey& key,
                                                  const EventEntry& entry,
                                                  const dynamo::WorkerLoad* stats,
                                                  const Member* member) const {
  dynamo::WorkerLoad report;
  if (entry.load_report &&
      !(entry.kv_used_blocks || entry.forward_pass)) {  // a LoadEvent is a whole report
    report = *entry.load_report;
    report.key = key;
    return report;
  }
  report.key = key;
  report.num_requests_waiting.reset();
  if (entry.kv_used_blocks) {
    report.kv_active_blocks = *entry.kv_used_blocks;
    std::optional<uint64_t> capacity;
    if (member) capacity = member->registration.total_kv_blocks;
    if (!capacity && stats && stats->kv_total_blocks > 0) capacity = stats->kv_total_blocks;
    if (!capacity) capacity = fallback_kv_total_;
    report.kv_total_blocks = capacity.value_or(0);
  }
  if (entry.forward_pass) {
    const dynamo::ForwardPassMetrics& fpm = *entry.forward_pass;
    report.request_active_slots =
        fpm.scheduled.num_prefill_requests + fpm.scheduled.num_decode_requests;
    if (member && member->registration.max_num_seqs) {
      report.request_total_slots = *member->registration.max_num_seqs;
    }
    report.num_requests_waiting = fpm.queued.num_prefill_requests + fpm.queued.num_decode_requests;
    report.prefill_tokens_queued = fpm.queued.sum_prefill_tokens;
  }
  if (entry.waiting_requests) report.num_requests_waiting = entry.waiting_requests;
  return report;
}

dynamo::WorkerLoad FleetModel::AssumedIdleReport(const dynamo::WorkerKey& key,
                                                 const Member* member) const {
  dynamo::WorkerLoad report;
  report.key = key;
  std::optional<uint64_t> capacity = member ? member->registration.total_kv_blocks : std::nullopt;
  if (!capacity) capacity = fallback_kv_total_;
  report.kv_total_blocks = capacity.value_or(0);
  // Idle whatever its capacity: no KV block in use.
  if (!capacity) report.gpu_cache_usage_perc = 0.0;
  if (member && member->registration.max_num_seqs) {
    report.request_total_slots = *member->registration.max_num_seqs;
  }
  report.num_requests_waiting = 0;
  return report;
}

bool FleetModel::SpeaksForNothing(const Unit& pulled, SourceView view) const {
  if (pulled.state != UnitState::kUnreadable) return false;
  // A rank-less dropped reply of a worker registered with ranks: its ranks stand.
  const Member* member = MemberOf(pulled.key.lease_id);
  if (member != nullptr && member->registration.dp_size > 1 && !pulled.key.dp_rank) return true;
  // A reply without load data says nothing while events speak for the worker
  // (design.md: current workers answer scrapes with data: null); a view of that
  // source alone has nothing else to say.
  if (!events_active_ || view != SourceView::kAll ||
      pulled.drop_reason != dynamo::DropReason::kNoData) {
    return false;
  }
  auto event = events_.lower_bound(dynamo::WorkerKey{pulled.key.lease_id, std::nullopt});
  return member != nullptr ||
         (event != events_.end() && event->first.lease_id == pulled.key.lease_id);
}

std::vector<Unit> FleetModel::Units(TimePoint now, SourceView view) const {
  // Stats units, /metrics units, event entries and registered keys are each ordered
  // by key: one merge of the four gives every present unit in order, without a map.
  const auto reads = [&](SourceView source) { return view == SourceView::kAll || view == source; };
  std::vector<Unit> stats;
  if (reads(SourceView::kStats)) stats = stats_.Units(now, max_staleness_);
  std::vector<Unit> pages;
  if (reads(SourceView::kMetrics)) pages = metrics_.Units(now, max_staleness_);
  const std::vector<MemberKey> members = MemberKeys();
  std::vector<Unit> out;
  out.reserve(std::max({stats.size(), pages.size(), events_.size(), members.size()}));
  auto s = stats.begin();
  auto p = pages.begin();
  auto e = reads(SourceView::kEvents) ? events_.begin() : events_.end();
  auto m = members.begin();
  while (s != stats.end() || p != pages.end() || e != events_.end() || m != members.end()) {
    dynamo::WorkerKey key;
    bool first = true;
    auto consider = [&](const dynamo::WorkerKey& candidate) {
      if (first || candidate < key) key = candidate;
      first = false;
    };
    if (s != stats.end()) consider(s->key);
    if (p != pages.end()) consider(p->key);
    if (e != events_.end()) consider(e->first);
    if (m != members.end()) consider(m->key);
    Unit* scraped = s != stats.end() && s->key == key ? &*s++ : nullptr;
    Unit* paged = p != pages.end() && p->key == key ? &*p++ : nullptr;
    const EventEntry* event = e != events_.end() && e->first == key ? &(e++)->second : nullptr;
    const Member* member = m != members.end() && m->key == key ? (m++)->member : nullptr;
    if (scraped != nullptr && SpeaksForNothing(*scraped, view)) scraped = nullptr;
    if (paged != nullptr && SpeaksForNothing(*paged, view)) paged = nullptr;
    // The pulled sources' unit: the newer readable one, else an unreadable one.
    auto readable = [](const Unit* unit) {
      return unit != nullptr && unit->state == UnitState::kReporting;
    };
    Unit* pulled = scraped != nullptr ? scraped : paged;
    if (readable(paged) && (!readable(scraped) || paged->updated_at > scraped->updated_at)) {
      pulled = paged;
    }

    const dynamo::WorkerLoad* pulled_report = readable(pulled) ? &*pulled->report : nullptr;
    if (event != nullptr && event->channel_down && pulled_report == nullptr) {
      out.push_back(Unit{key, UnitState::kUnreadable, std::nullopt,
                         dynamo::DropReason::kChannelDown, 1, FigureSource::kNone,
                         event->heard_at});
    } else if (event != nullptr && event->readable && !event->channel_down &&
               !(pulled_report != nullptr && pulled->updated_at >= event->readable_at)) {
      out.push_back(Unit{key, UnitState::kReporting,
                         ComposeEventReport(key, *event, pulled_report, member), std::nullopt, 1,
                         FigureSource::kEvents, event->readable_at});
    } else if (pulled_report != nullptr) {
      out.push_back(std::move(*pulled));
    } else if (event != nullptr && !event->readable && event->drop_reason &&
               now - event->heard_at <= max_staleness_) {
      out.push_back(Unit{key, UnitState::kUnreadable, std::nullopt, event->drop_reason, 1,
                         FigureSource::kNone, event->heard_at});
    } else if (pulled != nullptr) {
      out.push_back(std::move(*pulled));
    } else if (member != nullptr) {
      // Workers publish events on change: one that registered while the source
      // listened and said nothing is idle; one registered before is unknown until it
      // speaks or the settle period passes. Pulled sources (scrapes, pages) answer
      // whenever asked: a worker that never answers them is unknown, not idle.
      const bool on_change = events_active_ && reads(SourceView::kEvents);
      const bool settled = on_change && (member->registered_at > subscribed_since_ ||
                                         now - subscribed_since_ >= max_staleness_);
      if (settled && silent_channels_down_) {
        out.push_back(Unit{key, UnitState::kUnreadable, std::nullopt,
                           dynamo::DropReason::kChannelDown, 1, FigureSource::kNone,
                           member->registered_at});
      } else if (settled) {
        out.push_back(Unit{key, UnitState::kReporting, AssumedIdleReport(key, member), std::nullopt,
                           1, FigureSource::kAssumed, member->registered_at});
      } else {
        out.push_back(Unit{key, UnitState::kPending, std::nullopt, std::nullopt, 1,
                           FigureSource::kNone, member->registered_at});
      }
    }
  }
  return out;
}

}  // namespace mk::fleet
