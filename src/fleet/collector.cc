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
    : target_(std::move(target)), settings_(settings), scraper_(std::move(scraper)) {
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
  SnapshotPtr fresh;
  {
    std::lock_guard lock(mutex_);
    if (latest_ && latest_->AgeAt(Clock::now()) < settings_.cache_ttl) {
      fresh = latest_;
    } else {
      waiters_.push_back(std::move(done));
    }
  }
  if (fresh) {
    done(std::move(fresh));
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
  std::string why = latest_ ? fmt::format("the newest is {:.1f}s old", Seconds(latest_->AgeAt(now)))
                            : std::string("none was ever taken");
  if (!stats_.last_error.empty()) why += "; last scrape: " + stats_.last_error;
  return absl::UnavailableError(fmt::format("no snapshot of target {} younger than {:.1f}s ({})",
                                            target_.ToString(), Seconds(settings_.max_staleness),
                                            why));
}

uint64_t Collector::AddListener(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Collector::RemoveListener(uint64_t id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

CollectorStats Collector::Stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Collector::Run() {
  auto next_due = Clock::now();
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_until(lock, next_due,
                     [&] { return stopping_ || !waiters_.empty() || Clock::now() >= next_due; });
    if (stopping_) return;
    const auto started = Clock::now();
    lock.unlock();
    RunRound();
    lock.lock();
    next_due = started + settings_.check_interval;
  }
}

void Collector::RunRound() {
  ScrapeRequest request;
  request.window = settings_.scrape_window;
  request.expected_leases = table_.Leases();
  request.wait_whole_window =
      settings_.discovery_every > 0 && round_ % settings_.discovery_every == 0;
  ++round_;
  // A discovery round listens to its window's end for workers that just joined;
  // callers need not wait for that: they get the picture as soon as every known
  // worker has replied, as in any other round.
  std::optional<Clock::time_point> answered_at;
  request.on_expected_replied = [&](const ScrapeResult& known) {
    answered_at = Clock::now();
    dynamo::DropCounts counted_at_the_end;
    Deliver(Update(known.units, *answered_at, counted_at_the_end), *answered_at);
  };
  const auto started = Clock::now();
  absl::StatusOr<ScrapeResult> result = scraper_->Scrape(request);
  const auto ended = Clock::now();
  scrape_durations_.Record(ended - started);

  SnapshotPtr snapshot;
  if (result.ok()) {
    snapshot = Update(result->units, ended, result->drops);
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.rounds;
    stats_.last_round_duration = ended - started;
    if (result.ok()) {
      stats_.replies += result->replies;
      stats_.drops.Merge(result->drops);
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
    spdlog::debug("target {}: round {} took {:.1f} ms: {} replies, {} units, {} dropped{}{}",
                  target_.ToString(), round_, Seconds(ended - started) * 1e3, result->replies,
                  result->units.size(), result->drops.Total(),
                  result->ended_early ? ", ended early" : "", answered);
  } else {
    spdlog::debug("target {}: round {} failed: {}", target_.ToString(), round_,
                  std::string(result.status().message()));
  }
  Deliver(snapshot, ended);
}

SnapshotPtr Collector::Update(const std::vector<dynamo::WorkerLoad>& units,
                              Clock::time_point heard_at, dynamo::DropCounts& drops) {
  for (const dynamo::WorkerLoad& unit : units) {
    if (!table_.Contains(unit.key) && table_.size() >= settings_.max_workers) {
      drops.Add(dynamo::DropReason::kOverWorkerLimit);
      continue;
    }
    if (table_.Record(unit, heard_at)) {
      spdlog::info("target {}: worker {} joined", target_.ToString(), DescribeKey(unit.key));
    }
  }
  for (const dynamo::WorkerKey& key : table_.EvictSilentSince(heard_at - settings_.max_staleness)) {
    spdlog::info("target {}: worker {} left (silent for over {:.1f}s)", target_.ToString(),
                 DescribeKey(key), Seconds(settings_.max_staleness));
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->target = target_;
  snapshot->taken = heard_at;
  snapshot->round = round_;
  snapshot->units = table_.Units();
  snapshot->figures = Aggregate(snapshot->units);
  return snapshot;
}

void Collector::Deliver(const SnapshotPtr& snapshot, Clock::time_point now) {
  std::vector<SnapshotCallback> waiters;
  absl::StatusOr<SnapshotPtr> answer;
  {
    std::lock_guard lock(mutex_);
    if (snapshot) latest_ = snapshot;
    waiters.swap(waiters_);
    if (!waiters.empty()) answer = ServableLocked(now);
  }
  for (auto& done : waiters) done(answer);
  if (snapshot) {
    std::lock_guard lock(listeners_mutex_);
    for (auto& [id, listener] : listeners_) listener(snapshot);
  }
}

}  // namespace mk::fleet
