#include "fleet/collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"

namespace mk::fleet {
namespace {

using namespace std::chrono_literals;

dynamo::WorkerLoad Unit(uint64_t lease, uint64_t kv_active) {
  dynamo::WorkerLoad unit;
  unit.key.lease_id = lease;
  unit.kv_active_blocks = kv_active;
  unit.kv_total_blocks = 100;
  return unit;
}

// A scraper whose answer the test sets; counts rounds and can be slowed down.
// In a discovery round with expected leases it reports the known replies, then
// adds `late_joiners` once `release` is ready, as a worker that just joined and
// answers after every known one would.
class FakeScraper : public TargetScraper {
 public:
  struct Shared {
    std::mutex mutex;
    absl::StatusOr<ScrapeResult> next = ScrapeResult{};
    std::chrono::milliseconds delay{0};
    std::atomic<int> rounds{0};
    ScrapeRequest last_request;
    std::vector<size_t> expected_sizes;  // per round, in order
    std::vector<bool> whole_window;      // per round, in order
    std::vector<dynamo::WorkerLoad> late_joiners;
    std::shared_future<void> release;  // valid: hold discovery rounds until ready
    std::atomic<bool> holding{false};  // a discovery round reported its known replies
  };
  explicit FakeScraper(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  absl::StatusOr<ScrapeResult> Scrape(const ScrapeRequest& request) override {
    std::chrono::milliseconds delay;
    absl::StatusOr<ScrapeResult> result;
    std::vector<dynamo::WorkerLoad> late_joiners;
    std::shared_future<void> release;
    {
      std::lock_guard lock(shared_->mutex);
      delay = shared_->delay;
      result = shared_->next;
      late_joiners = shared_->late_joiners;
      release = shared_->release;
      shared_->last_request = request;
      shared_->expected_sizes.push_back(request.expected_units.size());
      shared_->whole_window.push_back(request.wait_whole_window);
    }
    if (result.ok() && request.wait_whole_window && !request.expected_units.empty() &&
        request.on_expected_replied) {
      shared_->holding = true;
      request.on_expected_replied(*result);
      if (release.valid()) release.wait();
      result->units.insert(result->units.end(), late_joiners.begin(), late_joiners.end());
    }
    std::this_thread::sleep_for(delay);
    ++shared_->rounds;
    return result;
  }

 private:
  std::shared_ptr<Shared> shared_;
};

// A listener that tells, once, that it has heard a snapshot.
class FirstHeard {
 public:
  Collector::Listener Listener() {
    return [this](const SnapshotPtr&) {
      if (!told_.exchange(true)) heard_.set_value();
    };
  }
  bool Wait() { return future_.wait_for(10s) == std::future_status::ready; }

 private:
  std::promise<void> heard_;
  std::future<void> future_ = heard_.get_future();
  std::atomic<bool> told_{false};
};

class CollectorTest : public ::testing::Test {
 public:
  std::unique_ptr<Collector> Make(CollectorSettings settings) {
    return std::make_unique<Collector>(Target{"dynamo", "llm-worker", "kv-router"}, settings,
                                       std::make_unique<FakeScraper>(shared_));
  }
  void SetUnits(std::vector<dynamo::WorkerLoad> units) {
    std::lock_guard lock(shared_->mutex);
    ScrapeResult result;
    result.units = std::move(units);
    shared_->next = result;
  }
  void SetResult(ScrapeResult result) {
    std::lock_guard lock(shared_->mutex);
    shared_->next = std::move(result);
  }
  void SetError(absl::Status status) {
    std::lock_guard lock(shared_->mutex);
    shared_->next = status;
  }
  absl::StatusOr<SnapshotPtr> Fresh(Collector& collector) {
    std::promise<absl::StatusOr<SnapshotPtr>> promise;
    collector.WithFreshSnapshot([&](absl::StatusOr<SnapshotPtr> s) { promise.set_value(s); });
    return promise.get_future().get();
  }

  const std::shared_ptr<FakeScraper::Shared>& shared() const { return shared_; }

 protected:
  std::shared_ptr<FakeScraper::Shared> shared_ = std::make_shared<FakeScraper::Shared>();
};

CollectorSettings Slow() {
  // Background rounds only once an hour: every round in these tests is on demand
  // (apart from the first, which the collector starts at once).
  CollectorSettings settings;
  settings.check_interval = 1h;
  settings.cache_ttl = 1h;
  settings.max_staleness = 2h;
  return settings;
}

TEST_F(CollectorTest, FirstCallGetsTheFirstRoundsSnapshot) {
  SetUnits({Unit(1, 50), Unit(2, 30)});
  auto collector = Make(Slow());
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ((*snapshot)->figures.units, 2u);
  EXPECT_DOUBLE_EQ((*snapshot)->figures.Value(FleetMetric::kLoadAvg).value(), 0.4);
}

TEST_F(CollectorTest, FreshSnapshotIsServedWithoutAnotherRound) {
  SetUnits({Unit(1, 50)});
  auto collector = Make(Slow());
  ASSERT_TRUE(Fresh(*collector).ok());
  const int rounds = shared_->rounds.load();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Fresh(*collector).ok());
  EXPECT_EQ(shared_->rounds.load(), rounds);
}

TEST_F(CollectorTest, ConcurrentStaleCallersShareOneRound) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;  // every snapshot is stale at once
  SetUnits({Unit(1, 50)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  {
    std::lock_guard lock(shared_->mutex);
    shared_->delay = 200ms;
  }
  const int before = shared_->rounds.load();
  std::vector<std::future<absl::StatusOr<SnapshotPtr>>> answers;
  for (int i = 0; i < 64; ++i) {
    answers.push_back(std::async(std::launch::async, [&] { return Fresh(*collector); }));
  }
  for (auto& answer : answers) EXPECT_TRUE(answer.get().ok());
  // 64 callers within one 200 ms round: one round serves them (two if some
  // callers arrive just after the first began and must wait for fresher data).
  EXPECT_LE(shared_->rounds.load() - before, 2);
  EXPECT_GE(shared_->rounds.load() - before, 1);
}

TEST_F(CollectorTest, NoSnapshotAndFailingSourceIsUnavailableNamingTheTarget) {
  SetError(absl::UnavailableError("NATS is not connected"));
  auto collector = Make(Slow());
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  ASSERT_EQ(snapshot.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(snapshot.status().message().find("dynamo/llm-worker/kv-router"), std::string::npos);
  EXPECT_NE(snapshot.status().message().find("NATS is not connected"), std::string::npos);
}

TEST_F(CollectorTest, FailedRefreshServesSnapshotWithinStalenessBound) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  SetUnits({Unit(1, 80)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  SetError(absl::UnavailableError("NATS connection lost during the scrape"));
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_DOUBLE_EQ((*snapshot)->figures.Value(FleetMetric::kLoadAvg).value(), 0.8);
}

TEST_F(CollectorTest, SnapshotBeyondStalenessBoundIsUnavailable) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.max_staleness = 50ms;
  SetUnits({Unit(1, 80)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  SetError(absl::UnavailableError("NATS is not connected"));
  std::this_thread::sleep_for(100ms);
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(collector->Servable().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CollectorTest, SilentWorkerLeavesAfterStalenessBound) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.max_staleness = 300ms;
  SetUnits({Unit(1, 80), Unit(2, 20)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  SetUnits({Unit(2, 20)});
  // Worker 1 missed one round: it keeps its last figures for now.
  absl::StatusOr<SnapshotPtr> soon = Fresh(*collector);
  ASSERT_TRUE(soon.ok());
  EXPECT_EQ((*soon)->figures.units, 2u);
  std::this_thread::sleep_for(400ms);
  absl::StatusOr<SnapshotPtr> later = Fresh(*collector);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ((*later)->figures.units, 1u);
  EXPECT_EQ((*later)->units[0].key.lease_id, 2u);
}

TEST_F(CollectorTest, EveryNthRoundWaitsItsWholeWindow) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.discovery_every = 3;
  SetUnits({Unit(7, 10)});
  auto collector = Make(settings);
  // A caller may be answered mid-round (a discovery round's known replies), and
  // so may every caller until that round ends: call until six rounds have run.
  for (int i = 0; i < 1'000'000 && shared_->rounds < 6; ++i) ASSERT_TRUE(Fresh(*collector).ok());
  std::vector<size_t> sizes;
  std::vector<bool> whole_window;
  {
    std::lock_guard lock(shared_->mutex);
    sizes = shared_->expected_sizes;
    whole_window = shared_->whole_window;
  }
  ASSERT_GE(sizes.size(), 6u);
  // Rounds 0, 3, 6, ... wait out the window; every round after the first expects
  // lease 7, the one worker known.
  for (size_t round = 0; round < sizes.size(); ++round) {
    EXPECT_EQ(whole_window[round], round % 3 == 0) << "round " << round;
    EXPECT_EQ(sizes[round], round == 0 ? 0u : 1u) << "round " << round;
  }
}

TEST_F(CollectorTest, ARoundWaitsItsWholeWindowOnceThePeriodHasPassed) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.discovery_every = 1000;
  settings.discovery_period = 200ms;
  SetUnits({Unit(7, 10)});
  auto collector = Make(settings);
  auto next_round = [&] {
    const int before = shared_->rounds.load();
    while (shared_->rounds.load() == before) ASSERT_TRUE(Fresh(*collector).ok());
  };
  next_round();  // the first round knows nobody: it waits its window
  next_round();
  next_round();
  std::this_thread::sleep_for(250ms);
  next_round();
  std::lock_guard lock(shared_->mutex);
  ASSERT_GE(shared_->whole_window.size(), 4u);
  EXPECT_TRUE(shared_->whole_window[0]);
  EXPECT_FALSE(shared_->whole_window[1]);
  EXPECT_FALSE(shared_->whole_window[2]);
  EXPECT_TRUE(shared_->whole_window.back());
}

TEST_F(CollectorTest, DiscoveryRoundAnswersCallersOnceEveryKnownWorkerReplied) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.discovery_every = 2;
  std::promise<void> release;
  SetUnits({Unit(1, 10)});
  {
    std::lock_guard lock(shared_->mutex);
    shared_->late_joiners = {Unit(2, 90)};
    shared_->release = release.get_future().share();
  }
  auto collector = Make(settings);
  // Rounds go on until one is a discovery round with a known worker (the third):
  // its caller is answered from the known worker while the round still listens.
  for (int call = 0; call < 6 && !shared_->holding; ++call) {
    std::promise<absl::StatusOr<SnapshotPtr>> answer;
    collector->WithFreshSnapshot([&](absl::StatusOr<SnapshotPtr> s) { answer.set_value(s); });
    std::future<absl::StatusOr<SnapshotPtr>> future = answer.get_future();
    if (future.wait_for(10s) != std::future_status::ready) {
      release.set_value();
      FAIL() << "a caller waited for the discovery round's whole window";
    }
    absl::StatusOr<SnapshotPtr> snapshot = future.get();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    EXPECT_EQ((*snapshot)->figures.units, 1u);
  }
  ASSERT_TRUE(shared_->holding);
  release.set_value();
  // The round's end brings the worker that joined.
  for (int i = 0; i < 500 && collector->Latest()->figures.units < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(collector->Latest()->figures.units, 2u);
  EXPECT_DOUBLE_EQ(*collector->Latest()->figures.figure[0], 0.5);
}

TEST_F(CollectorTest, ListenersHearEverySuccessfulRoundUntilRemoved) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  SetUnits({Unit(1, 10)});
  // Declared before the collector, so that they outlive its thread.
  std::atomic<int> heard{0};
  FirstHeard later;
  auto collector = Make(settings);
  const uint64_t id = collector->AddListener([&](const SnapshotPtr&) { ++heard; });
  ASSERT_TRUE(Fresh(*collector).ok());
  ASSERT_TRUE(Fresh(*collector).ok());
  // Waiters are answered before listeners are told: the second may still be on its way.
  for (int i = 0; i < 100 && heard.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(heard.load(), 2);
  collector->RemoveListener(id);
  const int after_removal = heard.load();
  // Listeners are told in the order they were added: once one added after the
  // removal has heard a round, the removed one would have heard it too.
  collector->AddListener(later.Listener());
  ASSERT_TRUE(Fresh(*collector).ok());
  ASSERT_TRUE(later.Wait());
  EXPECT_EQ(heard.load(), after_removal);
}

TEST_F(CollectorTest, ListenerMayRemoveItselfAndAddAnother) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  SetUnits({Unit(1, 10)});
  // Declared before the collector, so that they outlive its thread.
  std::atomic<int> self_calls{0};
  FirstHeard other;
  std::atomic<uint64_t> self_id{0};
  std::promise<void> registered;
  std::shared_future<void> ready = registered.get_future().share();
  auto collector = Make(settings);
  self_id = collector->AddListener([&](const SnapshotPtr&) {
    ready.wait();
    ++self_calls;
    collector->RemoveListener(self_id);  // would deadlock under a listeners' lock
    collector->AddListener(other.Listener());
  });
  registered.set_value();
  ASSERT_TRUE(Fresh(*collector).ok());
  ASSERT_TRUE(Fresh(*collector).ok());
  ASSERT_TRUE(other.Wait());
  EXPECT_EQ(self_calls.load(), 1);
}

TEST_F(CollectorTest, SnapshotVersionsStrictlyIncrease) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  SetUnits({Unit(1, 10)});
  auto collector = Make(settings);
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
    ASSERT_TRUE(snapshot.ok());
    EXPECT_GT((*snapshot)->version, last);
    last = (*snapshot)->version;
  }
}

// Workers that answer but whose every report is dropped are present, unreadable,
// and never an idle fleet.
TEST_F(CollectorTest, AnsweringButUnreadableWorkersAreNeverAnIdleFleet) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.max_staleness = 300ms;
  ScrapeResult unreadable;
  unreadable.unreadable = {{dynamo::WorkerKey{1, std::nullopt}, dynamo::DropReason::kNoData},
                           {dynamo::WorkerKey{2, std::nullopt}, dynamo::DropReason::kNoData}};
  SetResult(unreadable);
  auto collector = Make(settings);
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    EXPECT_EQ((*snapshot)->figures.units, 2u);
    EXPECT_EQ((*snapshot)->figures.unreadable_units, 2u);
    EXPECT_EQ((*snapshot)->figures.Value(FleetMetric::kLoadAvg).status().code(),
              absl::StatusCode::kFailedPrecondition);
    // Past the staleness bound they are still there: they keep answering.
    std::this_thread::sleep_for(200ms);
  }
}

TEST_F(CollectorTest, EveryRankIsExpectedInTheNextRound) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  dynamo::WorkerLoad rank0 = Unit(1, 10), rank1 = Unit(1, 20);
  rank0.key.dp_rank = 0;
  rank1.key.dp_rank = 1;
  SetUnits({rank0, rank1, Unit(2, 30)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  ASSERT_TRUE(Fresh(*collector).ok());
  std::lock_guard lock(shared_->mutex);
  EXPECT_EQ(
      shared_->last_request.expected_units,
      (std::map<dynamo::WorkerKey, size_t>{{{1, 0u}, 1}, {{1, 1u}, 1}, {{2, std::nullopt}, 1}}));
}

// A collector whose discovery rounds (every second one) hold once every known
// worker has replied, until the test lets them end; `ask` runs while one holds and
// returns the answer of a caller arriving then (nothing if it was not answered at
// once: the caller waited for the round's end).
std::optional<absl::StatusOr<SnapshotPtr>> AskDuringDiscoveryRound(
    CollectorTest& test, CollectorSettings settings, std::chrono::milliseconds after) {
  settings.cache_ttl = 1ns;  // no snapshot is ever fresh by age
  settings.discovery_every = 2;
  std::promise<void> release;
  test.SetUnits({Unit(1, 10)});
  {
    std::lock_guard lock(test.shared()->mutex);
    test.shared()->release = release.get_future().share();
  }
  auto collector = test.Make(settings);
  for (int call = 0; call < 6 && !test.shared()->holding; ++call) {
    EXPECT_TRUE(test.Fresh(*collector).ok());
  }
  EXPECT_TRUE(test.shared()->holding);
  std::this_thread::sleep_for(after);
  std::promise<absl::StatusOr<SnapshotPtr>> answer;
  collector->WithFreshSnapshot([&](absl::StatusOr<SnapshotPtr> s) { answer.set_value(s); });
  std::future<absl::StatusOr<SnapshotPtr>> future = answer.get_future();
  const bool answered = future.wait_for(10s) == std::future_status::ready;
  release.set_value();
  if (!answered) return std::nullopt;
  return future.get();
}

TEST_F(CollectorTest, CallerAfterDiscoveryRoundAnsweredDoesNotWaitForItsEnd) {
  // The round has answered its callers and now only listens for newcomers (held
  // here until released): a caller arriving now is answered from its snapshot.
  const auto answer = AskDuringDiscoveryRound(*this, Slow(), 0ms);
  ASSERT_TRUE(answer.has_value()) << "a caller waited for the rest of the discovery round";
  EXPECT_TRUE(answer->ok()) << answer->status();
}

TEST_F(CollectorTest, CallerDuringDiscoveryRoundNeverGetsASnapshotPastTheBound) {
  // The round still listens, and its snapshot is past the bound by now: UNAVAILABLE
  // at once, not the old picture and not a wait for the round's end.
  CollectorSettings settings = Slow();
  settings.max_staleness = 50ms;  // shorter than the round's listening for newcomers
  const auto answer = AskDuringDiscoveryRound(*this, settings, 100ms);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CollectorTest, NewWorkersBeyondTheLimitAreRefusedAndLeaveFiguresUndefined) {
  CollectorSettings settings = Slow();
  settings.cache_ttl = 1ns;
  settings.max_workers = 2;
  SetUnits({Unit(1, 10), Unit(2, 20), Unit(3, 90)});
  auto collector = Make(settings);
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ((*snapshot)->figures.units, 2u);
  EXPECT_DOUBLE_EQ(*(*snapshot)->figures.figure[0], 0.15);
  // One refused per round; the round that started with the collector may have
  // run before the call, and counted too.
  EXPECT_GE(collector->Stats().drops.Get(dynamo::DropReason::kOverWorkerLimit), 1u);
  // The fleet is larger than the picture: no figure, rather than an undercount.
  EXPECT_EQ((*snapshot)->figures.units_refused, 1u);
  EXPECT_EQ((*snapshot)->figures.Value(FleetMetric::kLoadAvg).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Known workers keep being updated at the limit, and once the fleet fits again
  // its figures are defined.
  SetUnits({Unit(1, 30), Unit(2, 50)});
  snapshot = Fresh(*collector);
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ((*snapshot)->figures.units_refused, 0u);
  EXPECT_DOUBLE_EQ(*(*snapshot)->figures.Value(FleetMetric::kLoadAvg), 0.4);
}

TEST_F(CollectorTest, SourceViewsAreTakenOnceWantedWhileTheirSourceIsServable) {
  CollectorSettings settings = Slow();
  settings.events = true;
  settings.cache_ttl = 1ns;
  settings.max_staleness = 50ms;
  SetUnits({Unit(1, 10)});
  auto collector = Make(settings);
  ASSERT_TRUE(Fresh(*collector).ok());
  EXPECT_FALSE(collector->Latest()->source_figures[1]);
  // Wanted: the snapshot the very caller reads has the view.
  collector->WantSourceView(SourceView::kStats);
  ASSERT_TRUE(collector->Latest()->source_figures[1]);
  EXPECT_DOUBLE_EQ(*collector->Latest()->source_figures[1]->Value(FleetMetric::kLoadAvg), 0.1);
  // The event source has never been connected: no view of it.
  collector->WantSourceView(SourceView::kEvents);
  EXPECT_FALSE(collector->Latest()->source_figures[2]);

  collector->SetFallbackKvTotalBlocks(1000);
  collector->SetEventSourceConnected(true);
  dynamo::ActiveLoad load;
  load.worker_id = 2;
  load.kv_used_blocks = 500;
  load.origin = dynamo::ActiveLoadOrigin::kWorker;
  ASSERT_EQ(collector->ApplyActiveLoad(load), EventOutcome::kApplied);
  absl::StatusOr<SnapshotPtr> snapshot = Fresh(*collector);
  ASSERT_TRUE(snapshot.ok());
  ASSERT_TRUE((*snapshot)->source_figures[2]);
  EXPECT_EQ((*snapshot)->source_figures[2]->units, 1u);
  EXPECT_DOUBLE_EQ(*(*snapshot)->source_figures[2]->Value(FleetMetric::kLoadAvg), 0.5);
  EXPECT_DOUBLE_EQ(*(*snapshot)->source_figures[1]->Value(FleetMetric::kLoadAvg), 0.1);
  EXPECT_DOUBLE_EQ(*(*snapshot)->figures.Value(FleetMetric::kLoadAvg), 0.3);

  // Scrapes fail past the staleness bound while events go on: the events' snapshots
  // no longer carry a stats view.
  SetError(absl::UnavailableError("no NATS"));
  std::this_thread::sleep_for(60ms);
  (void)Fresh(*collector);
  load.kv_used_blocks = 700;
  collector->ApplyActiveLoad(load);
  collector->Publish();
  // Publishes are coalesced: the collector's thread may take this one a little later.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  SnapshotPtr latest = collector->Latest();
  while (!(latest->source_figures[2] && latest->source_figures[2]->figure[0] == 0.7) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
    latest = collector->Latest();
  }
  ASSERT_TRUE(latest->source_figures[2]);
  EXPECT_DOUBLE_EQ(*latest->source_figures[2]->Value(FleetMetric::kLoadAvg), 0.7);
  EXPECT_FALSE(latest->source_figures[1]);
}

TEST_F(CollectorTest, BackgroundRoundsRunEveryCheckInterval) {
  CollectorSettings settings;
  settings.check_interval = 20ms;
  settings.cache_ttl = 1h;
  settings.max_staleness = 2h;
  SetUnits({Unit(1, 10)});
  auto collector = Make(settings);
  std::this_thread::sleep_for(300ms);
  // Not a timing assertion: only that rounds repeat without any caller.
  EXPECT_GE(shared_->rounds.load(), 3);
}

// Events come faster than snapshots may be taken: the publishes deferred meanwhile
// are taken by the collector's thread within milliseconds, not at its next check
// interval.
TEST(CollectorPublishTest, DeferredPublishesAreTakenWithinMilliseconds) {
  CollectorSettings settings;
  settings.check_interval = 1h;
  settings.max_staleness = 1h;
  settings.events = true;
  Collector collector(Target{"dynamo", "backend", "generate"}, settings, nullptr);
  for (uint64_t used = 1; used <= 300; ++used) {
    dynamo::WorkerLoad load = Unit(0xa1, used % 100);
    collector.ApplyLoadReport(load);
    collector.Publish();
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    SnapshotPtr latest = collector.Latest();
    while (!(latest && latest->units.size() == 1 && latest->units[0].report &&
             latest->units[0].report->kv_active_blocks == used % 100) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100us);
      latest = collector.Latest();
    }
    ASSERT_TRUE(latest && latest->units[0].report->kv_active_blocks == used % 100)
        << "change " << used << " not published within 2 s";
  }
}

}  // namespace
}  // namespace mk::fleet
