#include "replay/load_model.h"

#include <gtest/gtest.h>

#include <numeric>

#include "fleet/fleet_figures.h"

namespace mk::replay {
namespace {

double Served(const std::vector<dynamo::WorkerLoad>& units) {
  double sum = 0;
  for (const auto& unit : units) sum += *fleet::FiguresOf(unit).load;
  return sum;
}
double Waiting(const std::vector<dynamo::WorkerLoad>& units) {
  double sum = 0;
  for (const auto& unit : units) sum += static_cast<double>(*unit.num_requests_waiting);
  return sum;
}

TEST(LoadModelTest, DemandBelowCapacityIsSpreadEvenly) {
  const SpreadDemand spread = Spread(2.1, 3, LoadModel{});
  EXPECT_DOUBLE_EQ(spread.unit_load, 0.7);
  EXPECT_DOUBLE_EQ(spread.waiting, 0);
  const auto units = UnitRecords(spread, LoadModel{});
  ASSERT_EQ(units.size(), 3u);
  for (const auto& unit : units) {
    // The figure the scaler reads is the load itself, not a slot-rounded one.
    EXPECT_DOUBLE_EQ(*fleet::FiguresOf(unit).load, 0.7);
    EXPECT_EQ(*unit.num_requests_waiting, 0u);
  }
}

TEST(LoadModelTest, ExcessDemandQueuesAsWaitingRequests) {
  const LoadModel model{.slots_per_unit = 10};
  const SpreadDemand spread = Spread(3.5, 2, model);
  EXPECT_DOUBLE_EQ(spread.unit_load, 1.0);
  EXPECT_DOUBLE_EQ(spread.served, 2.0);
  EXPECT_DOUBLE_EQ(spread.waiting, 15.0);
  const auto units = UnitRecords(spread, model);
  EXPECT_EQ(*units[0].num_requests_waiting, 8u);
  EXPECT_EQ(*units[1].num_requests_waiting, 7u);
}

TEST(LoadModelTest, WithNoReadyUnitEveryRequestWaits) {
  const SpreadDemand spread = Spread(1.5, 0, LoadModel{.slots_per_unit = 4});
  EXPECT_DOUBLE_EQ(spread.served, 0);
  EXPECT_DOUBLE_EQ(spread.waiting, 6);
  EXPECT_TRUE(UnitRecords(spread, LoadModel{}).empty());
}

// Demand is conserved: whatever the ready count, what is served plus what waits
// is the demand, both in the spread and in the records the scaler reads.
TEST(LoadModelTest, DemandIsConservedAcrossReadyCounts) {
  const LoadModel model{.slots_per_unit = 16};
  for (double demand : {0.0, 0.25, 1.0, 2.75, 7.5, 40.0}) {
    for (size_t ready : {1u, 2u, 3u, 5u, 8u, 13u}) {
      const SpreadDemand spread = Spread(demand, ready, model);
      EXPECT_NEAR(spread.served + spread.waiting / model.slots_per_unit, demand, 1e-9)
          << demand << " over " << ready;
      const auto units = UnitRecords(spread, model);
      EXPECT_NEAR(Served(units), spread.served, 1e-9);
      EXPECT_NEAR(Waiting(units), spread.waiting, 0.5);  // whole requests
      EXPECT_NEAR(*DemandOf(units, model), demand, 0.5 / model.slots_per_unit + 1e-9);
    }
  }
}

TEST(LoadModelTest, DemandOfUsesEachUnitsOwnSlotTotal) {
  dynamo::WorkerLoad unit;
  unit.request_total_slots = 8;
  unit.request_active_slots = 8;
  unit.num_requests_waiting = 4;
  const std::vector<dynamo::WorkerLoad> units{unit};
  EXPECT_DOUBLE_EQ(*DemandOf(units, LoadModel{.slots_per_unit = 64}), 1.5);
}

TEST(LoadModelTest, DemandOfAUnitWithoutALoadIsUnknown) {
  dynamo::WorkerLoad unit;  // no capacity of any kind
  const std::vector<dynamo::WorkerLoad> units{unit};
  EXPECT_FALSE(DemandOf(units, LoadModel{}).has_value());
}

}  // namespace
}  // namespace mk::replay
