#include "fleet/fleet_model.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace mk::fleet {

FleetModel::FleetModel(size_t max_units, std::chrono::nanoseconds max_staleness)
    : max_units_(max_units), max_staleness_(max_staleness), stats_(max_units) {}

size_t FleetModel::RecordScrape(std::span<const dynamo::WorkerLoad> reports,
                                std::span<const dynamo::UnreadableReport> unreadable,
                                TimePoint heard_at) {
  return stats_.Record(reports, unreadable, heard_at);
}

std::map<dynamo::WorkerKey, size_t> FleetModel::ExpectedReplies() const {
  std::map<dynamo::WorkerKey, size_t> expected = stats_.ExpectedReplies();
  for (const dynamo::WorkerKey& key : MemberKeys()) expected.emplace(key, 1);
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

std::vector<dynamo::WorkerKey> FleetModel::MemberKeys() const {
  std::vector<dynamo::WorkerKey> keys;
  if (!registrations_) return keys;
  for (const auto& [id, member] : *registrations_) {
    const Registration& r = member.registration;
    if (r.dp_size <= 1) {
      keys.push_back({id, std::nullopt});
      continue;
    }
    const uint32_t ranks = std::min(r.dp_size, kMaxRanksPerWorker);
    for (uint32_t i = 0; i < ranks && r.dp_start_rank <= UINT32_MAX - i; ++i) {
      keys.push_back({id, r.dp_start_rank + i});
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
  entry->readable = true;
  entry->readable_at = entry->heard_at = at;
  return outcome;
}

EventOutcome FleetModel::ApplyForwardPass(const dynamo::ForwardPassMetrics& metrics, TimePoint at) {
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry = EventEntryFor(EventKey(metrics.worker_id, metrics.dp_rank), outcome);
  if (entry == nullptr) return outcome;
  entry->forward_pass = metrics;
  entry->readable = true;
  entry->readable_at = entry->heard_at = at;
  return outcome;
}

EventOutcome FleetModel::ApplyLoadReport(const dynamo::WorkerLoad& report, TimePoint at) {
  EventOutcome outcome = EventOutcome::kApplied;
  EventEntry* entry =
      EventEntryFor(EventKey(report.key.lease_id, report.key.dp_rank.value_or(0)), outcome);
  if (entry == nullptr) return outcome;
  entry->load_report = report;
  entry->readable = true;
  entry->readable_at = entry->heard_at = at;
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
      auto it = events_.lower_bound(dynamo::WorkerKey{id, std::nullopt});
      while (it != events_.end() && it->first.lease_id == id) it = events_.erase(it);
    }
  }
  registrations_ = std::move(next);
}

void FleetModel::EvictSilent(TimePoint now) {
  const TimePoint oldest_kept = now - max_staleness_;
  stats_.EvictSilentSince(oldest_kept);
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
                                                  const dynamo::WorkerLoad* stats) const {
  dynamo::WorkerLoad report;
  if (entry.load_report &&
      !(entry.kv_used_blocks || entry.forward_pass)) {  // a LoadEvent is a whole report
    report = *entry.load_report;
    report.key = key;
    return report;
  }
  report.key = key;
  report.num_requests_waiting.reset();
  const Member* member = MemberOf(key.lease_id);
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

dynamo::WorkerLoad FleetModel::AssumedIdleReport(const dynamo::WorkerKey& key) const {
  dynamo::WorkerLoad report;
  report.key = key;
  const Member* member = MemberOf(key.lease_id);
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

std::vector<Unit> FleetModel::Units(TimePoint now) const {
  std::map<dynamo::WorkerKey, Unit> units;
  std::set<uint64_t> covered;  // workers that events or discovery account for
  for (const dynamo::WorkerKey& key : MemberKeys()) covered.insert(key.lease_id);
  for (const auto& [key, entry] : events_) covered.insert(key.lease_id);

  for (Unit& unit : stats_.Units(now, max_staleness_)) {
    // A stats reply without load data says nothing while events speak for the
    // worker (design.md: current workers answer scrapes with data: null).
    // Nor does a rank-less one of a worker registered with ranks: its ranks stand.
    const Member* member = MemberOf(unit.key.lease_id);
    const bool ranks_stand =
        member != nullptr && member->registration.dp_size > 1 && !unit.key.dp_rank;
    if (unit.state == UnitState::kUnreadable &&
        ((events_active_ && unit.drop_reason == dynamo::DropReason::kNoData &&
          covered.contains(unit.key.lease_id)) ||
         ranks_stand)) {
      continue;
    }
    units.emplace(unit.key, std::move(unit));
  }
  for (const auto& [key, entry] : events_) {
    auto [slot, created] = units.try_emplace(key);
    Unit& unit = slot->second;
    const dynamo::WorkerLoad* stats =
        unit.state == UnitState::kReporting && unit.report ? &*unit.report : nullptr;
    const bool stats_newer = stats != nullptr && unit.updated_at >= entry.readable_at;
    if (entry.readable && !stats_newer) {
      unit = Unit{key,
                  UnitState::kReporting,
                  ComposeEventReport(key, entry, stats),
                  std::nullopt,
                  1,
                  FigureSource::kEvents,
                  entry.readable_at};
    } else if (!entry.readable && stats == nullptr && entry.drop_reason &&
               now - entry.heard_at <= max_staleness_) {
      unit = Unit{key, UnitState::kUnreadable, std::nullopt,  entry.drop_reason,
                  1,   FigureSource::kNone,    entry.heard_at};
    } else if (created) {
      units.erase(slot);  // nothing to show: a drop past the bound and no other record
    }
  }
  for (const dynamo::WorkerKey& key : MemberKeys()) {
    if (units.contains(key)) continue;
    const Member& member = *MemberOf(key.lease_id);
    // Workers publish on change: one that registered while the source listened and
    // said nothing is idle; one registered before is unknown until it speaks or
    // the settle period passes.
    const bool settled =
        member.registered_at > subscribed_since_ || now - subscribed_since_ >= max_staleness_;
    if (settled) {
      units.emplace(key, Unit{key, UnitState::kReporting, AssumedIdleReport(key), std::nullopt, 1,
                              FigureSource::kAssumed, member.registered_at});
    } else {
      units.emplace(key, Unit{key, UnitState::kPending, std::nullopt, std::nullopt, 1,
                              FigureSource::kNone, member.registered_at});
    }
  }
  std::vector<Unit> out;
  out.reserve(units.size());
  for (auto& [key, unit] : units) out.push_back(std::move(unit));
  return out;
}

}  // namespace mk::fleet
