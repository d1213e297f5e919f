#include "fleet/target_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace mk::fleet {
namespace {

using namespace std::chrono_literals;

class EmptyScraper : public TargetScraper {
 public:
  explicit EmptyScraper(std::atomic<int>& alive) : alive_(alive) { ++alive_; }
  ~EmptyScraper() override { --alive_; }
  absl::StatusOr<ScrapeResult> Scrape(const ScrapeRequest&) override { return ScrapeResult{}; }

 private:
  std::atomic<int>& alive_;
};

class TargetRegistryTest : public ::testing::Test {
 protected:
  ScraperFactory Factory() {
    return [this](const Target&) { return std::make_unique<EmptyScraper>(alive_); };
  }
  std::atomic<int> alive_{0};
  const Target default_target_{"dynamo", "llm-worker", "kv-router"};
  const Target other_{"dynamo", "backend", "load_metrics"};
};

TEST_F(TargetRegistryTest, DefaultTargetExistsFromTheStart) {
  TargetRegistry registry(default_target_, CollectorSettings{}, Factory(), 1h);
  ASSERT_EQ(registry.All().size(), 1u);
  EXPECT_EQ(registry.All()[0]->target(), default_target_);
  EXPECT_EQ(alive_.load(), 1);
}

TEST_F(TargetRegistryTest, OneCollectorPerTargetCreatedOnFirstUse) {
  TargetRegistry registry(default_target_, CollectorSettings{}, Factory(), 1h);
  auto first = registry.CollectorFor(other_);
  auto second = registry.CollectorFor(other_);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(registry.All().size(), 2u);
  EXPECT_EQ(alive_.load(), 2);
}

TEST_F(TargetRegistryTest, IdleTargetsAreDroppedButNotTheDefaultNorOneStillHeld) {
  TargetRegistry registry(default_target_, CollectorSettings{}, Factory(), 1ms);
  ASSERT_TRUE(registry.CollectorFor(other_).ok());
  const Target held_target{"dynamo", "held", "kv-router"};
  std::shared_ptr<Collector> held = *registry.CollectorFor(held_target);
  // The janitor looks at least once a second, and stops a dropped collector
  // just after unlisting it.
  for (int i = 0; i < 300 && (registry.All().size() > 2 || alive_.load() > 2); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  std::vector<Target> left;
  for (const auto& collector : registry.All()) left.push_back(collector->target());
  EXPECT_EQ(left, (std::vector<Target>{held_target, default_target_}));
  EXPECT_EQ(alive_.load(), 2);  // the dropped collector's scraper is gone too
}

TEST_F(TargetRegistryTest, TargetsBeyondTheLimitAreResourceExhaustedAndCounted) {
  TargetRegistry registry(default_target_, CollectorSettings{}, Factory(), 1h, 2);
  ASSERT_TRUE(registry.CollectorFor(other_).ok());
  absl::StatusOr<std::shared_ptr<Collector>> third =
      registry.CollectorFor(Target{"dynamo", "third", "kv-router"});
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("dynamo/third/kv-router"), std::string::npos);
  EXPECT_EQ(registry.rejected(), 1u);
  // Known targets are still served.
  EXPECT_TRUE(registry.CollectorFor(other_).ok());
  EXPECT_TRUE(registry.CollectorFor(default_target_).ok());
  EXPECT_EQ(alive_.load(), 2);
}

}  // namespace
}  // namespace mk::fleet
