#include "mock_worker/unit_trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <variant>

#include "mock_worker/load_pattern.h"

namespace mk::mock {
namespace {

LoadPattern Parse(std::string_view spec) { return std::get<LoadPattern>(ParseLoadPattern(spec)); }

std::string Rows(uint64_t time, const LoadPattern& pattern, const UnitTraceFleet& fleet) {
  std::string out;
  AppendUnitTraceRows(out, time, pattern, fleet);
  return out;
}

TEST(UnitTrace, HeaderNamesTheColumnsReplayReads) {
  EXPECT_EQ(kUnitTraceHeader, "time,unit,kv_used,kv_total,slots_used,slots_total,waiting\n");
}

TEST(UnitTrace, OneRowPerWorkerNamedByItsLeaseInHex) {
  const UnitTraceFleet fleet{{0x7587867c5a2d0000ULL, 0x7587867c5a2d0001ULL}, 0, 8192, 64};
  EXPECT_EQ(Rows(60, LoadPattern::Constant(0.5), fleet),
            "60,7587867c5a2d0000,4096,8192,32,64,0\n"
            "60,7587867c5a2d0001,4096,8192,32,64,0\n");
}

// The figures are the live workers': spread around the fleet load, blocks rounded,
// slots floored, and the requests over 80% load waiting.
TEST(UnitTrace, FiguresAreTheLiveWorkersAtThePatternsTime) {
  const LoadPattern ramp = Parse("ramp:0:1:100");
  const UnitTraceFleet fleet{{0xa, 0xb, 0xc}, 0.4, 1000, 10};
  EXPECT_EQ(Rows(0, ramp, fleet),
            "0,a,0,1000,0,10,0\n"
            "0,b,0,1000,0,10,0\n"
            "0,c,200,1000,2,10,0\n");
  EXPECT_EQ(Rows(50, ramp, fleet),
            "50,a,300,1000,3,10,0\n"
            "50,b,500,1000,5,10,0\n"
            "50,c,700,1000,7,10,0\n");
  EXPECT_EQ(Rows(100, ramp, fleet),
            "100,a,800,1000,8,10,0\n"
            "100,b,1000,1000,10,10,20\n"
            "100,c,1000,1000,10,10,20\n");
}

TEST(UnitTrace, ACsvPatternHoldsEachLoadUntilItsNextTime) {
  std::string out;
  const UnitTraceFleet fleet{{1}, 0, 100, 100};
  const std::string path = ::testing::TempDir() + "unit_trace_pattern.csv";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("time,load\n0,0.25\n30,0.9\n", f);
  std::fclose(f);
  const LoadPattern csv = Parse("csv:" + path);
  for (const uint64_t t : {0u, 29u, 30u, 31u}) AppendUnitTraceRows(out, t, csv, fleet);
  std::remove(path.c_str());
  EXPECT_EQ(out,
            "0,1,25,100,25,100,0\n"
            "29,1,25,100,25,100,0\n"
            "30,1,90,100,90,100,10\n"
            "31,1,90,100,90,100,10\n");
}

TEST(UnitTrace, AppendsToWhatIsThere) {
  std::string out(kUnitTraceHeader);
  AppendUnitTraceRows(out, 0, LoadPattern::Constant(1), {{0}, 0, 4, 2});
  EXPECT_EQ(out, std::string(kUnitTraceHeader) + "0,0,4,4,2,2,20\n");
}

}  // namespace
}  // namespace mk::mock
