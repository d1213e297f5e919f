#include "fleet/collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mk::fleet {
namespace {

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

std::string DescribeKey(const dynamo::WorkerKey& key) {
  std::string text = dynamo::LeaseHex(key.lease_id);
  if (key.dp_rank) text += fmt::format(" rank {}", *key.dp_rank);
  return text;
}

}  // namespace

Collector::Collector(Target target, CollectorSettings settings,
                     std::unique_ptr<TargetScraper> scraper)
    : target_(std::move(target)),
      settings_(settings),
      scraper_(std::move(scraper)),
      model_(settings.max_workers, settings.max_staleness) {
  model_.SetSubscribedSince(Clock::now());
  model_.SetEventsActive(settings.events);
  thread_ = std::thread([this] { Run(); });
}

Collector::~Collector() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::vector<SnapshotCallback> waiters;
  {
    std::lock_guard lock(mutex_);
    waiters.swap(waiters_);
  }
  for (auto& done : waiters) {
    done(absl::UnavailableError("collector of " + target_.ToString() + " is shutting down"));
  }
}

void Collector::WithFreshSnapshot(SnapshotCallback done) {
  std::optional<absl::StatusOr<SnapshotPtr>> answer;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (latest_ && latest_->AgeAt(now) < settings_.cache_ttl) {
      answer = latest_;
    } else if (round_answered_) {
      // The running round has delivered all it will learn of the known units;
      // nothing fresher can come before it ends. Still never past the bound.
      answer = ServableLocked(now);
    } else {
      waiters_.push_back(std::move(done));
    }
  }
  if (answer) {
    done(std::move(*answer));
  } else {
    wake_.notify_all();
  }
}

SnapshotPtr Collector::Latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

absl::StatusOr<SnapshotPtr> Collector::Servable() const {
  std::lock_guard lock(mutex_);
  return ServableLocked(Clock::now());
}

absl::StatusOr<SnapshotPtr> Collector::ServableLocked(Clock::time_point now) const {
  if (latest_ && latest_->AgeAt(now) <= settings_.max_staleness) return latest_;
  std::string why = latest_ ? fmt::format("the newest is {:.3g}s old", Seconds(latest_->AgeAt(now)))
                            : std::string("none was ever taken");
  if (!stats_.last_error.empty()) why += "; last scrape: " + stats_.last_error;
  return absl::UnavailableError(fmt::format("no snapshot of target {} younger than {:.3g}s ({})",
                                            target_.ToString(), Seconds(settings_.max_staleness),
                                            why));
}

uint64_t Collector::AddListener(Listener listener) {
  auto entry = std::make_shared<ListenerEntry>();
  entry->call = std::move(listener);
  std::lock_guard lock(listeners_mutex_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(entry));
  return id;
}

void Collector::RemoveListener(uint64_t id) {
  std::shared_ptr<ListenerEntry> entry;
  {
    std::lock_guard lock(listeners_mutex_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    entry = std::move(it->second);
    listeners_.erase(it);
  }
  // Waits for a call in progress on another thread; re-entrant from the listener.
  std::lock_guard running(entry->running);
  entry->removed = true;
}

CollectorStats Collector::Stats() const {
  CollectorStats stats;
  {
    std::lock_guard lock(mutex_);
    stats = stats_;
  }
  std::lock_guard lock(model_mutex_);
  stats.events_applied = event_stats_.events_applied;
  stats.router_records = event_stats_.router_records;
  stats.events_not_member = event_stats_.events_not_member;
  stats.events_over_limit = event_stats_.events_over_limit;
  stats.event_drops = event_stats_.event_drops;
  return stats;
}

EventOutcome Collector::CountLocked(EventOutcome outcome) {
  switch (outcome) {
    case EventOutcome::kApplied:
      ++event_stats_.events_applied;
      changed_ = true;
      break;
    case EventOutcome::kRouterRecord:
      ++event_stats_.router_records;
      break;
    case EventOutcome::kNotMember:
      ++event_stats_.events_not_member;
      break;
    case EventOutcome::kOverLimit:
      ++event_stats_.events_over_limit;
      break;
  }
  return outcome;
}

EventOutcome Collector::ApplyActiveLoad(const dynamo::ActiveLoad& load) {
  std::lock_guard lock(model_mutex_);
  return CountLocked(model_.ApplyActiveLoad(load, Clock::now()));
}

EventOutcome Collector::ApplyForwardPass(const dynamo::ForwardPassMetrics& metrics) {
  std::lock_guard lock(model_mutex_);
  return CountLocked(model_.ApplyForwardPass(metrics, Clock::now()));
}

EventOutcome Collector::ApplyLoadReport(const dynamo::WorkerLoad& report) {
  std::lock_guard lock(model_mutex_);
  return CountLocked(model_.ApplyLoadReport(report, Clock::now()));
}

void Collector::RecordEventDrop(std::optional<uint64_t> worker_id, uint32_t dp_rank,
                                dynamo::DropReason reason) {
  std::lock_guard lock(model_mutex_);
  event_stats_.event_drops.Add(reason);
  if (!worker_id) return;
  // A drop that names its unit marks it, but is no applied record.
  if (model_.RecordEventDrop(*worker_id, dp_rank, reason, Clock::now()) == EventOutcome::kApplied) {
    changed_ = true;
  }
}

bool Collector::SetChannelDown(uint64_t worker_id, bool down) {
  std::lock_guard lock(model_mutex_);
  const bool changed = model_.SetChannelDown(worker_id, down);
  changed_ = changed_ || changed;
  return changed;
}

void Collector::RecordWorkerPages(std::span<const dynamo::WorkerLoad> reports,
                                  std::span<const dynamo::UnreadableReport> unreadable) {
  std::lock_guard lock(model_mutex_);
  const auto now = Clock::now();
  pages_refused_ = model_.RecordWorkerPages(reports, unreadable, now);
  last_good_poll_ = now;
  changed_ = true;
}

bool Collector::SetSilentChannelsDown(bool down) {
  std::lock_guard lock(model_mutex_);
  const bool changed = model_.SetSilentChannelsDown(down);
  changed_ = changed_ || changed;
  return changed;
}

void Collector::Publish() { PublishChanges(true); }

void Collector::PublishChanges(bool coalesce) {
  SnapshotPtr snapshot;
  const auto now = Clock::now();
  {
    std::lock_guard lock(model_mutex_);
    if (!changed_) return;
    // Snapshots cost O(units): under a stream of events, at most a fifth of a core
    // goes to them. Until then the changes wait, and the collector's thread (or the
    // next publish) takes them.
    const auto ready_at = last_publish_ + 4 * last_snapshot_cost_;
    if (coalesce && now < ready_at) {
      {
        std::lock_guard state(mutex_);
        publish_due_ = ready_at;
      }
      wake_.notify_all();
      return;
    }
    snapshot = TakeSnapshotLocked(now);
    last_publish_ = now;
    last_snapshot_cost_ = Clock::now() - now;
  }
  Deliver(snapshot, now, false);
}

void Collector::SetEventSourceConnected(bool connected) {
  {
    std::lock_guard lock(model_mutex_);
    if (connected == events_connected_) return;
    events_connected_ = connected;
    if (connected) {
      model_.SetSubscribedSince(Clock::now());
    } else {
      events_down_since_ = Clock::now();
    }
    changed_ = true;
  }
  if (connected) Publish();
}

void Collector::SetRegistrations(std::optional<std::vector<Registration>> registrations) {
  {
    std::lock_guard lock(model_mutex_);
    model_.SetRegistrations(std::move(registrations), Clock::now());
    changed_ = true;
  }
  // Without a picture from its sources yet, a new registration alone proves nothing
  // servable: the next round or event publishes it.
  if (Latest()) Publish();
}

void Collector::SetFallbackKvTotalBlocks(std::optional<uint64_t> blocks) {
  {
    std::lock_guard lock(model_mutex_);
    if (model_.fallback_kv_total_blocks() == blocks) return;
    model_.SetFallbackKvTotalBlocks(blocks);
    changed_ = true;
  }
  // The figures change at once, for the very call that gave the capacity.
  if (Latest()) PublishChanges(false);
}

void Collector::WantSourceView(SourceView view) {
  // Asked on every RPC of such a trigger: once wanted, no lock (the model's lock is
  // the event threads' too).
  std::atomic<bool>& wanted = want_view_[static_cast<size_t>(view)];
  if (view == SourceView::kAll || wanted.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lock(model_mutex_);
    if (wanted.exchange(true)) return;
    changed_ = true;
  }
  // The very call that asked reads the view from the snapshot taken here.
  if (Latest()) PublishChanges(false);
}

void Collector::Run() {
  auto next_due = Clock::now();
  std::unique_lock lock(mutex_);
  while (true) {
    // The deadline is taken again after every wake-up: a publish deferred meanwhile
    // (publish_due_) may have brought it nearer.
    while (!(stopping_ || !waiters_.empty() || Clock::now() >= next_due ||
             (publish_due_ && Clock::now() >= *publish_due_))) {
      wake_.wait_until(lock, publish_due_ ? std::min(next_due, *publish_due_) : next_due);
    }
    if (stopping_) return;
    if (publish_due_ && Clock::now() >= *publish_due_ && waiters_.empty() &&
        Clock::now() < next_due) {
      publish_due_.reset();
      lock.unlock();
      Publish();
      lock.lock();
      continue;
    }
    const auto started = Clock::now();
    lock.unlock();
    RunRound();
    lock.lock();
    next_due = started + settings_.check_interval;
  }
}

void Collector::RunRound() {
  if (!scraper_) {
    // Push sources only: a snapshot of what they said, while they are connected.
    const auto now = Clock::now();
    SnapshotPtr snapshot;
    {
      std::lock_guard lock(model_mutex_);
      if (events_connected_) snapshot = TakeSnapshotLocked(now);
    }
    Deliver(snapshot, now, false);
    return;
  }
  ScrapeRequest request;
  request.window = settings_.scrape_window;
  {
    std::lock_guard lock(model_mutex_);
    request.expected_units = model_.ExpectedReplies();
  }
  const auto starting = Clock::now();
  request.wait_whole_window =
      (settings_.discovery_every > 0 && round_ % settings_.discovery_every == 0) ||
      !last_discovery_ || starting - *last_discovery_ >= settings_.discovery_period;
  if (request.wait_whole_window) last_discovery_ = starting;
  ++round_;
  // A discovery round listens to its window's end for workers that just joined;
  // callers need not wait for that: they get the picture as soon as every known
  // unit has replied, as in any other round, and so do callers arriving later in
  // the round (round_answered_).
  std::optional<Clock::time_point> answered_at;
  request.on_expected_replied = [&](const ScrapeResult& known) {
    answered_at = Clock::now();
    dynamo::DropCounts counted_at_the_end;
    Deliver(Update(known, *answered_at, counted_at_the_end), *answered_at, true);
  };
  const auto started = Clock::now();
  absl::StatusOr<ScrapeResult> result = scraper_->Scrape(request);
  const auto ended = Clock::now();
  scrape_durations_.Record(ended - started);

  SnapshotPtr snapshot;
  if (result.ok()) {
    snapshot = Update(*result, ended, result->drops);
  } else {
    // A failed scrape leaves the events' picture standing while they are connected,
    // unless the stats source has spoken for this target: then its units would
    // silently age out of a picture that looks whole, and a loaded fleet could read
    // idle. No snapshot then: the picture ages out and callers are told.
    std::lock_guard lock(model_mutex_);
    if (settings_.events && events_connected_ && !model_.HasStatsUnits()) {
      snapshot = TakeSnapshotLocked(ended);
    }
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.rounds;
    stats_.last_round_duration = ended - started;
    if (result.ok()) {
      stats_.replies += result->replies;
      stats_.drops.Merge(result->drops);
      stats_.ignored_fields.Merge(result->ignored);
      stats_.last_error.clear();
    } else {
      ++stats_.failed_rounds;
      stats_.last_error = std::string(result.status().message());
    }
  }
  if (result.ok()) {
    const std::string answered = answered_at ? fmt::format(", callers answered after {:.1f} ms",
                                                           Seconds(*answered_at - started) * 1e3)
                                             : std::string();
    spdlog::debug("target {}: round {} took {:.1f} ms: {} replies, {} readable, {} dropped{}{}",
                  target_.ToString(), round_, Seconds(ended - started) * 1e3, result->replies,
                  result->units.size(), result->drops.Total(),
                  result->ended_early ? ", ended early" : "", answered);
  } else {
    spdlog::debug("target {}: round {} failed: {}", target_.ToString(), round_,
                  std::string(result.status().message()));
  }
  Deliver(snapshot, ended, false);
}

SnapshotPtr Collector::Update(const ScrapeResult& heard, Clock::time_point heard_at,
                              dynamo::DropCounts& drops) {
  std::lock_guard lock(model_mutex_);
  const size_t refused = model_.RecordScrape(heard.units, heard.unreadable, heard_at);
  drops.Add(dynamo::DropReason::kOverWorkerLimit, refused);
  scrape_refused_ = refused;
  last_good_scrape_ = heard_at;
  return TakeSnapshotLocked(heard_at);
}

SnapshotPtr Collector::TakeSnapshotLocked(Clock::time_point now) {
  const size_t refused = scrape_refused_ + pages_refused_;
  model_.EvictSilent(now);
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->target = target_;
  snapshot->taken = now;
  snapshot->version = ++version_;
  snapshot->round = round_;
  snapshot->units = model_.Units(now);
  snapshot->figures = Aggregate(snapshot->units);
  snapshot->figures.units_refused = refused;
  // One source's view is only as servable as that source.
  auto view_figures = [&](SourceView view) {
    FleetFigures figures = Aggregate(model_.Units(now, view));
    figures.units_refused = refused;
    return figures;
  };
  auto within_bound = [&](const std::optional<Clock::time_point>& since) {
    return since && now - *since <= settings_.max_staleness;
  };
  const std::array<bool, kSourceViewCount> servable = {
      false,
      scraper_ && within_bound(last_good_scrape_),
      settings_.events && (events_connected_ || within_bound(events_down_since_)),
      within_bound(last_good_poll_),
  };
  for (size_t view = 1; view < kSourceViewCount; ++view) {
    if (want_view_[view] && servable[view]) {
      snapshot->source_figures[view] = view_figures(static_cast<SourceView>(view));
    }
  }
  changed_ = false;
  const SnapshotPtr previous = Latest();
  if (refused > 0 && (!previous || previous->figures.units_refused == 0)) {
    spdlog::warn(
        "target {}: {} new worker units refused over --max-workers-per-target ({} kept); its "
        "figures are undefined until the fleet fits",
        target_.ToString(), refused, settings_.max_workers);
  }
  LogChanges(previous.get(), *snapshot);
  return snapshot;
}

void Collector::LogChanges(const Snapshot* previous, const Snapshot& next) const {
  static const std::vector<Unit> kNone;
  const std::vector<Unit>& before = previous ? previous->units : kNone;
  std::vector<std::string> joined, left, unreadable, readable_again;
  auto reason = [](const Unit& unit) {
    return std::string(unit.drop_reason ? dynamo::DropReasonName(*unit.drop_reason)
                                        : std::string_view("no readable report"));
  };
  // Both are ordered by key: walk them side by side.
  auto old_unit = before.begin();
  auto new_unit = next.units.begin();
  while (old_unit != before.end() || new_unit != next.units.end()) {
    if (new_unit == next.units.end() ||
        (old_unit != before.end() && old_unit->key < new_unit->key)) {
      left.push_back(DescribeKey(old_unit->key));
      ++old_unit;
      continue;
    }
    const bool is_new = old_unit == before.end() || new_unit->key < old_unit->key;
    const bool is_unreadable = new_unit->state == UnitState::kUnreadable;
    if (is_new) {
      joined.push_back(DescribeKey(new_unit->key) +
                       (is_unreadable ? " (unreadable: " + reason(*new_unit) + ")" : ""));
    } else {
      if (old_unit->state != new_unit->state) {
        (is_unreadable ? unreadable : readable_again)
            .push_back(DescribeKey(new_unit->key) +
                       (is_unreadable ? " (" + reason(*new_unit) + ")" : ""));
      }
      ++old_unit;
    }
    ++new_unit;
  }
  // A few lines a round whatever the fleet does: a flood of workers coming and
  // going must not flood the log.
  const std::string target = target_.ToString();
  auto log = [&](spdlog::level::level_enum level, const std::vector<std::string>& workers,
                 std::string_view what) {
    if (workers.empty()) return;
    constexpr size_t kNamed = 5;
    std::string names;
    for (size_t i = 0; i < workers.size() && i < kNamed; ++i) {
      names += (i > 0 ? ", " : "") + workers[i];
    }
    if (workers.size() > kNamed) names += fmt::format(" and {} more", workers.size() - kNamed);
    spdlog::log(level, "target {}: {} {} {}: {}", target, workers.size(),
                workers.size() == 1 ? "worker unit" : "worker units", what, names);
  };
  log(spdlog::level::info, joined, "joined");
  log(spdlog::level::info, left,
      fmt::format("left (deregistered, or silent for over {:.3g}s)",
                  Seconds(settings_.max_staleness)));
  log(spdlog::level::warn, unreadable, "turned unreadable: every report dropped");
  log(spdlog::level::info, readable_again, "readable again");
}

void Collector::Deliver(const SnapshotPtr& snapshot, Clock::time_point now, bool round_goes_on) {
  std::vector<SnapshotCallback> waiters;
  absl::StatusOr<SnapshotPtr> answer;
  {
    std::lock_guard lock(mutex_);
    // Snapshots may be delivered from two threads (a round's, a publisher's): the
    // latest only ever moves to a newer version.
    if (snapshot && (!latest_ || snapshot->version > latest_->version)) latest_ = snapshot;
    round_answered_ = round_goes_on;
    waiters.swap(waiters_);
    if (!waiters.empty()) answer = ServableLocked(now);
  }
  for (auto& done : waiters) done(answer);
  if (!snapshot) return;
  std::vector<std::shared_ptr<ListenerEntry>> listeners;
  {
    std::lock_guard lock(listeners_mutex_);
    listeners.reserve(listeners_.size());
    for (const auto& [id, entry] : listeners_) listeners.push_back(entry);
  }
  for (const auto& entry : listeners) {
    std::lock_guard running(entry->running);
    if (!entry->removed) entry->call(snapshot);
  }
}

}  // namespace mk::fleet
