#include "recording/snapshot_throttle.h"

#include <gtest/gtest.h>

namespace mk::recording {
namespace {

using namespace std::chrono_literals;
using Offered = SnapshotThrottle::Offered;

const SnapshotThrottle::Clock::time_point kStart{100s};

fleet::SnapshotPtr Snapshot(uint64_t version, SnapshotThrottle::Clock::time_point taken,
                            std::string component = "backend") {
  auto snapshot = std::make_shared<fleet::Snapshot>();
  snapshot->target = {"dynamo", std::move(component), "generate"};
  snapshot->version = version;
  snapshot->taken = taken;
  return snapshot;
}

std::vector<uint64_t> Versions(const std::vector<RecordItem>& items) {
  std::vector<uint64_t> versions;
  for (const RecordItem& item : items)
    versions.push_back(item.snapshot ? item.snapshot->version : 0);
  return versions;
}

ThrottleSettings Settings() { return {.interval = 1s, .stale_after = 15s, .queue_capacity = 4}; }

// Many snapshots a second: the first of each interval at once, and at the interval's
// end the latest of the rest, never one in between.
TEST(SnapshotThrottleTest, OnePerIntervalAndAlwaysTheLatest) {
  SnapshotThrottle throttle(Settings());
  EXPECT_EQ(throttle.Offer(1, Snapshot(1, kStart), kStart), Offered::kQueued);
  for (uint64_t v = 2; v <= 50; ++v) {
    const auto at = kStart + (v - 1) * 10ms;
    EXPECT_EQ(throttle.Offer(1, Snapshot(v, at), at), v == 2 ? Offered::kHeld : Offered::kReplaced);
  }
  EXPECT_TRUE(throttle.HasQueued());
  EXPECT_EQ(Versions(throttle.Take(kStart + 500ms)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(throttle.NextDue(), kStart + 1s);
  EXPECT_TRUE(throttle.Take(kStart + 999ms).empty());
  EXPECT_EQ(Versions(throttle.Take(kStart + 1s)), (std::vector<uint64_t>{50}));
  // The next interval starts when the held one was written.
  EXPECT_EQ(throttle.Offer(1, Snapshot(51, kStart + 1500ms), kStart + 1500ms), Offered::kHeld);
  EXPECT_EQ(throttle.Offer(1, Snapshot(52, kStart + 2s), kStart + 2s), Offered::kQueued);
  EXPECT_EQ(Versions(throttle.Take(kStart + 2s)), (std::vector<uint64_t>{52}));
}

TEST(SnapshotThrottleTest, EachCollectorHasItsOwnInterval) {
  SnapshotThrottle throttle(Settings());
  EXPECT_EQ(throttle.Offer(1, Snapshot(1, kStart), kStart), Offered::kQueued);
  EXPECT_EQ(throttle.Offer(2, Snapshot(1, kStart, "prefill"), kStart), Offered::kQueued);
  EXPECT_EQ(throttle.Take(kStart).size(), 2u);
}

// Collectors deliver from more than one thread: an older snapshot arriving last is
// never recorded after a newer one.
TEST(SnapshotThrottleTest, OlderVersionsAreIgnored) {
  SnapshotThrottle throttle(Settings());
  EXPECT_EQ(throttle.Offer(1, Snapshot(5, kStart), kStart), Offered::kQueued);
  EXPECT_EQ(throttle.Offer(1, Snapshot(4, kStart), kStart + 2s), Offered::kOld);
  EXPECT_EQ(throttle.Offer(1, Snapshot(5, kStart), kStart + 2s), Offered::kOld);
  EXPECT_EQ(Versions(throttle.Take(kStart + 2s)), (std::vector<uint64_t>{5}));
}

// A stuck writer fills the queue; offers beyond it are dropped and counted, never
// waited for.
TEST(SnapshotThrottleTest, AFullQueueDropsAndCounts) {
  SnapshotThrottle throttle(Settings());
  for (uint64_t v = 1; v <= 6; ++v) {
    const auto at = kStart + (v - 1) * 1s;
    EXPECT_EQ(throttle.Offer(1, Snapshot(v, at), at),
              v <= 4 ? Offered::kQueued : Offered::kDropped);
  }
  EXPECT_EQ(throttle.dropped(), 2u);
  EXPECT_EQ(Versions(throttle.Take(kStart + 6s)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(throttle.Offer(1, Snapshot(7, kStart + 7s), kStart + 7s), Offered::kQueued);
}

// A collector silent for longer than the staleness bound has no servable picture:
// its held snapshot is written, then the moment it went stale, once.
TEST(SnapshotThrottleTest, SilencePastTheStalenessBoundIsMarkedOnce) {
  SnapshotThrottle throttle(Settings());
  throttle.Offer(1, Snapshot(1, kStart), kStart);
  throttle.Offer(1, Snapshot(2, kStart + 100ms), kStart + 100ms);
  EXPECT_EQ(Versions(throttle.Take(kStart)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(throttle.NextDue(), kStart + 1s);
  EXPECT_EQ(Versions(throttle.Take(kStart + 1s)), (std::vector<uint64_t>{2}));
  EXPECT_EQ(throttle.NextDue(), kStart + 100ms + 15s);
  EXPECT_TRUE(throttle.Take(kStart + 15s).empty());
  const std::vector<RecordItem> stale = throttle.Take(kStart + 16s);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].snapshot, nullptr);
  EXPECT_EQ(stale[0].target.component, "backend");
  EXPECT_EQ(stale[0].unavailable_since, kStart + 100ms + 15s);
  EXPECT_EQ(throttle.NextDue(), std::nullopt);
  EXPECT_TRUE(throttle.Take(kStart + 60s).empty());
  // Heard again: recorded at once, and marked again if it falls silent again.
  EXPECT_EQ(throttle.Offer(1, Snapshot(3, kStart + 61s), kStart + 61s), Offered::kQueued);
  EXPECT_EQ(throttle.NextDue(), kStart + 76s);
}

TEST(SnapshotThrottleTest, HeldSnapshotsGoOutFirstWhenStale) {
  SnapshotThrottle throttle({.interval = 30s, .stale_after = 2s, .queue_capacity = 4});
  throttle.Offer(1, Snapshot(1, kStart), kStart);
  throttle.Offer(1, Snapshot(2, kStart + 1s), kStart + 1s);
  EXPECT_EQ(Versions(throttle.Take(kStart + 1s)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Versions(throttle.Take(kStart + 3s)), (std::vector<uint64_t>{2, 0}));
}

TEST(SnapshotThrottleTest, ACollectorsEndWritesWhatItHeld) {
  SnapshotThrottle throttle(Settings());
  throttle.Offer(1, Snapshot(1, kStart), kStart);
  throttle.Offer(1, Snapshot(2, kStart), kStart);
  throttle.Forget(1);
  EXPECT_EQ(Versions(throttle.Take(kStart)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(throttle.NextDue(), std::nullopt);  // nothing marked for a collector gone
}

TEST(SnapshotThrottleTest, EverythingHeldIsTakenAtTheEnd) {
  SnapshotThrottle throttle(Settings());
  throttle.Offer(1, Snapshot(1, kStart), kStart);
  throttle.Offer(1, Snapshot(2, kStart), kStart);
  EXPECT_EQ(Versions(throttle.Take(kStart, true)), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace mk::recording
