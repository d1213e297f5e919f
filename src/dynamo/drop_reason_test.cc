#include "dynamo/drop_reason.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string_view>

namespace mk::dynamo {
namespace {

TEST(DropReasonTest, NamesAreStable) {
  EXPECT_EQ(DropReasonName(DropReason::kMalformedJson), "malformed_json");
  EXPECT_EQ(DropReasonName(DropReason::kNoLoadEndpoint), "no_load_endpoint");
  EXPECT_EQ(DropReasonName(DropReason::kNoData), "no_data");
  EXPECT_EQ(DropReasonName(DropReason::kBadWorkerId), "bad_worker_id");
  EXPECT_EQ(DropReasonName(DropReason::kMissingField), "missing_field");
  EXPECT_EQ(DropReasonName(DropReason::kWrongType), "wrong_type");
  EXPECT_EQ(DropReasonName(DropReason::kOutOfRange), "out_of_range");
  EXPECT_EQ(DropReasonName(DropReason::kOversized), "oversized");
  EXPECT_EQ(DropReasonName(DropReason::kOverWorkerLimit), "over_worker_limit");
  EXPECT_EQ(DropReasonName(DropReason::kMalformedMsgpack), "malformed_msgpack");
  EXPECT_EQ(DropReasonName(DropReason::kBadFrames), "bad_frames");
  EXPECT_EQ(DropReasonName(DropReason::kUnsupportedVersion), "unsupported_version");
  EXPECT_EQ(DropReasonName(DropReason::kUnknownKey), "unknown_key");
  EXPECT_EQ(DropReasonName(DropReason::kKeyMismatch), "key_mismatch");
  EXPECT_EQ(DropReasonName(DropReason::kChannelDown), "channel_down");
  EXPECT_EQ(DropReasonName(DropReason::kMalformedPrometheus), "malformed_prometheus");
  EXPECT_EQ(DropReasonName(DropReason::kAmbiguousUnit), "ambiguous_unit");
}

TEST(DropReasonTest, AllReasonsAreListedInIndexOrderWithDistinctNames) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kAllDropReasons.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kAllDropReasons[i]), i);
    EXPECT_NE(DropReasonName(kAllDropReasons[i]), "unknown");
    names.insert(DropReasonName(kAllDropReasons[i]));
  }
  EXPECT_EQ(names.size(), kDropReasonCount);
}

TEST(DropReasonTest, StatsReasonsAreTheScrapesOnly) {
  for (DropReason reason : kStatsDropReasons) {
    EXPECT_NE(reason, DropReason::kMalformedMsgpack);
    EXPECT_NE(reason, DropReason::kBadFrames);
    EXPECT_NE(reason, DropReason::kUnsupportedVersion);
    EXPECT_NE(reason, DropReason::kMalformedPrometheus);
    EXPECT_NE(reason, DropReason::kAmbiguousUnit);
  }
  EXPECT_EQ(std::set<DropReason>(kStatsDropReasons.begin(), kStatsDropReasons.end()).size(),
            kStatsDropReasons.size());
}

TEST(DropCountsTest, AddsAndMergesPerReason) {
  DropCounts a;
  a.Add(DropReason::kNoData);
  a.Add(DropReason::kWrongType, 3);
  DropCounts b;
  b.Add(DropReason::kWrongType);
  b.Add(DropReason::kOversized, 2);
  a.Merge(b);
  EXPECT_EQ(a.Get(DropReason::kNoData), 1u);
  EXPECT_EQ(a.Get(DropReason::kWrongType), 4u);
  EXPECT_EQ(a.Get(DropReason::kOversized), 2u);
  EXPECT_EQ(a.Get(DropReason::kMalformedJson), 0u);
  EXPECT_EQ(a.Total(), 7u);
  EXPECT_EQ(b.Total(), 3u);
}

}  // namespace
}  // namespace mk::dynamo
