#include "dynamo/stats_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dynamo/service_name.h"
#include "dynamo/worker_load.h"
#include "dynamo/worker_load_test_util.h"

namespace mk::dynamo {

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The leases of every report of the monitored endpoint, kept or not, in order.
std::vector<uint64_t> LeasesHeard(const DecodedReply& reply) {
  std::vector<uint64_t> leases;
  for (const WorkerLoad& unit : reply.units) leases.push_back(unit.key.lease_id);
  for (const UnreadableReport& report : reply.unreadable) leases.push_back(report.key.lease_id);
  std::sort(leases.begin(), leases.end());
  return leases;
}

WorkerLoad Unit(uint64_t lease, std::optional<uint32_t> rank, uint64_t active_slots,
                uint64_t total_slots, uint64_t kv_active, uint64_t kv_total, uint64_t waiting,
                std::optional<double> gpu_cache, std::optional<double> hit_rate) {
  return testing::MakeWorkerLoad(lease, rank, active_slots, total_slots, kv_active, kv_total,
                                 waiting, gpu_cache, hit_rate);
}

EndpointMatcher DefaultMatcher() {
  return EndpointMatcher("dynamo", "llm-worker", "kv-router", false);
}

// ---- Fixtures in tests/data/stats -----------------------------------------

TEST(StatsDecoderFixtureTest, FlatV03GivesOneUnitAndIgnoresGenerate) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("flat_v0.3.json"));
  EXPECT_THAT(reply.units, ElementsAre(Unit(0x7587867c5a2d3e01, std::nullopt, 48, 64, 5120, 8192, 3,
                                            0.625, 0.41)));
  // The generate endpoint (data null) neither counts as a worker report nor a drop.
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x7587867c5a2d3e01u));
  EXPECT_EQ(reply.drops.Total(), 0u);
  EXPECT_FALSE(reply.other_service);
}

TEST(StatsDecoderFixtureTest, FlatV03GenerateEndpointHasNoData) {
  // Monitoring the generate endpoint instead: its `data` is null.
  StatsDecoder decoder(EndpointMatcher("dynamo", "llm-worker", "generate", false));
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("flat_v0.3.json"));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x7587867c5a2d3e01u));
  EXPECT_EQ(reply.drops.Get(DropReason::kNoData), 1u);
  EXPECT_EQ(reply.drops.Total(), 1u);
}

TEST(StatsDecoderFixtureTest, NestedV04ReadsWorkerStatsAndKvStats) {
  StatsDecoder decoder(EndpointMatcher("dynamo", "backend", "load_metrics", false));
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("nested_v0.4.json"));
  EXPECT_THAT(reply.units, ElementsAre(Unit(0x694d988806b92e39, std::nullopt, 3, 256, 412, 8192, 0,
                                            0.0503, 0.31)));
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x694d988806b92e39u));
  EXPECT_EQ(reply.drops.Total(), 0u);
  EXPECT_FALSE(reply.other_service);
}

TEST(StatsDecoderFixtureTest, NestedV04IsAnotherServiceForDefaultTarget) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("nested_v0.4.json"));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), IsEmpty());
  EXPECT_TRUE(reply.other_service);
  EXPECT_EQ(reply.drops.Total(), 0u);
}

TEST(StatsDecoderFixtureTest, HashedNameDecodedWithLegacyNames) {
  StatsDecoder decoder(EndpointMatcher("dynamo", "VllmWorker", "load_metrics", true));
  const DecodedReply reply =
      decoder.Decode(testing::ReadStatsFixture("flat_v0.1_hashed_name.json"));
  // No num_requests_waiting in the report: 0.
  EXPECT_THAT(reply.units,
              ElementsAre(Unit(0x1a2b3c, std::nullopt, 0, 1024, 0, 1024, 0, 0.0, 0.0)));
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x1a2b3cu));
  EXPECT_EQ(reply.drops.Total(), 0u);
  EXPECT_FALSE(reply.other_service);
}

TEST(StatsDecoderFixtureTest, HashedNameIsAnotherServiceWithoutLegacyNames) {
  StatsDecoder decoder(EndpointMatcher("dynamo", "VllmWorker", "load_metrics", false));
  const DecodedReply reply =
      decoder.Decode(testing::ReadStatsFixture("flat_v0.1_hashed_name.json"));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), IsEmpty());
  EXPECT_TRUE(reply.other_service);
  EXPECT_EQ(reply.drops.Total(), 0u);
}

TEST(StatsDecoderFixtureTest, DataParallelRanksAreSeparateUnits) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("dp_ranks_zero_totals.json"));
  // Rank 0 reports zero totals: kept, with gpu_cache_usage_perc to stand in for blocks.
  EXPECT_THAT(reply.units, ElementsAre(Unit(0x3e8, 0u, 10, 0, 0, 0, 7, 0.92, 0.0),
                                       Unit(0x3e8, 1u, 2, 8, 100, 400, 0, 0.25, 0.0)));
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x3e8u, 0x3e8u));
  EXPECT_EQ(reply.drops.Total(), 0u);
  EXPECT_FALSE(reply.other_service);
}

TEST(StatsDecoderFixtureTest, NoLoadEndpointIsDroppedAndLookalikeIgnored) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("no_load_endpoint.json"));
  // `kv-router_x-ff01` only starts like `kv-router`: its figures (99s) must not be used.
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), IsEmpty());
  EXPECT_EQ(reply.drops.Get(DropReason::kNoLoadEndpoint), 1u);
  EXPECT_EQ(reply.drops.Total(), 1u);
  EXPECT_FALSE(reply.other_service);
}

TEST(StatsDecoderFixtureTest, TruncatedReplyIsMalformed) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("malformed_truncated.json"));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), IsEmpty());
  EXPECT_EQ(reply.drops.Get(DropReason::kMalformedJson), 1u);
  EXPECT_EQ(reply.drops.Total(), 1u);
}

TEST(StatsDecoderFixtureTest, BadTypesDropsFirstEndpointAndKeepsSecond) {
  StatsDecoder decoder(DefaultMatcher());
  const DecodedReply reply = decoder.Decode(testing::ReadStatsFixture("bad_types.json"));
  EXPECT_THAT(reply.units, ElementsAre(Unit(0x2a, std::nullopt, 1, 4, 10, 40, 0, 0.25, 0.0)));
  // The first endpoint's subject carries `zz9q`, which is no lease: it cannot be
  // attributed to a worker, whatever its data says.
  EXPECT_EQ(reply.drops.Get(DropReason::kBadWorkerId), 1u);
  EXPECT_EQ(reply.drops.Total(), 1u);
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x2au));
  EXPECT_FALSE(reply.other_service);
}

// ---- Inline replies --------------------------------------------------------

using Fields = std::vector<std::pair<std::string, std::string>>;

// A valid flat ForwardPassMetrics, as (key, raw JSON value) pairs.
Fields ValidFields() {
  return {{"request_active_slots", "1"}, {"request_total_slots", "4"},
          {"kv_active_blocks", "10"},    {"kv_total_blocks", "40"},
          {"num_requests_waiting", "2"}, {"gpu_cache_usage_perc", "0.25"}};
}
// The unit that ValidFields() reports for lease 0x2a.
WorkerLoad ValidUnit() { return Unit(0x2a, std::nullopt, 1, 4, 10, 40, 2, 0.25, std::nullopt); }

Fields With(Fields fields, const std::string& key, const std::string& value) {
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = value;
      return fields;
    }
  }
  fields.emplace_back(key, value);
  return fields;
}

Fields Without(Fields fields, const std::string& key) {
  std::erase_if(fields, [&](const auto& field) { return field.first == key; });
  return fields;
}

std::string Json(const Fields& fields) {
  std::string json = "{";
  for (const auto& [key, value] : fields) {
    if (json.size() > 1) json += ",";
    json += "\"" + key + "\":" + value;
  }
  return json + "}";
}

std::string Endpoint(const std::string& subject, const std::string& data) {
  return R"({"name":"x","subject":")" + subject + R"(","num_requests":0,"data":)" + data +
         R"(,"queue_group":"q"})";
}

std::string LoadEndpoint(const std::string& lease_hex, const std::string& data) {
  return Endpoint("dynamo_llm-worker.kv-router-" + lease_hex, data);
}

std::string Reply(const std::vector<std::string>& endpoints) {
  std::string json =
      R"({"type":"io.nats.micro.v1.stats_response","name":"dynamo_llm-worker","endpoints":[)";
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (i > 0) json += ",";
    json += endpoints[i];
  }
  return json + "]}";
}

std::string ReplyWith(const Fields& fields) { return Reply({LoadEndpoint("2a", Json(fields))}); }

class StatsDecoderTest : public ::testing::Test {
 protected:
  // One endpoint report for lease 0x2a was dropped for `reason`, and nothing else.
  void ExpectDropped(const std::string& json, DropReason reason) {
    SCOPED_TRACE(json);
    const DecodedReply reply = decoder_.Decode(json);
    EXPECT_THAT(reply.units, IsEmpty());
    EXPECT_EQ(reply.drops.Get(reason), 1u) << DropReasonName(reason);
    EXPECT_EQ(reply.drops.Total(), 1u);
    // The worker did answer, so it counts as heard even though its report is unusable.
    EXPECT_THAT(reply.unreadable,
                ElementsAre(UnreadableReport{WorkerKey{0x2a, std::nullopt}, reason}));
    EXPECT_FALSE(reply.other_service);
  }

  void ExpectMalformed(const std::string& json) {
    SCOPED_TRACE(json);
    const DecodedReply reply = decoder_.Decode(json);
    EXPECT_THAT(reply.units, IsEmpty());
    EXPECT_THAT(LeasesHeard(reply), IsEmpty());
    EXPECT_EQ(reply.drops.Get(DropReason::kMalformedJson), 1u);
    EXPECT_EQ(reply.drops.Total(), 1u);
  }

  StatsDecoder decoder_{DefaultMatcher()};
};

TEST_F(StatsDecoderTest, ValidFlatReportIsOneUnit) {
  const DecodedReply reply = decoder_.Decode(ReplyWith(ValidFields()));
  EXPECT_THAT(reply.units, ElementsAre(ValidUnit()));
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0x2au));
  EXPECT_EQ(reply.drops.Total(), 0u);
  EXPECT_FALSE(reply.other_service);
}

TEST_F(StatsDecoderTest, DataParallelRankIsPartOfTheKey) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(With(ValidFields(), "data_parallel_rank", "3")));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].key, (WorkerKey{0x2a, 3u}));
}

TEST_F(StatsDecoderTest, NullDataParallelRankIsNoRank) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(With(ValidFields(), "data_parallel_rank", "null")));
  EXPECT_THAT(reply.units, ElementsAre(ValidUnit()));
}

TEST_F(StatsDecoderTest, RankBeyondUint32IsOutOfRange) {
  ExpectDropped(ReplyWith(With(ValidFields(), "data_parallel_rank", "4294967296")),
                DropReason::kOutOfRange);
}

TEST_F(StatsDecoderTest, NegativeCountIsWrongType) {
  ExpectDropped(ReplyWith(With(ValidFields(), "kv_active_blocks", "-5")), DropReason::kWrongType);
}

TEST_F(StatsDecoderTest, FractionalCountIsWrongType) {
  ExpectDropped(ReplyWith(With(ValidFields(), "request_active_slots", "1.5")),
                DropReason::kWrongType);
}

TEST_F(StatsDecoderTest, StringNumberIsWrongType) {
  ExpectDropped(ReplyWith(With(ValidFields(), "kv_total_blocks", R"("40")")),
                DropReason::kWrongType);
}

TEST_F(StatsDecoderTest, BooleanCountIsWrongType) {
  ExpectDropped(ReplyWith(With(ValidFields(), "request_total_slots", "true")),
                DropReason::kWrongType);
}

TEST_F(StatsDecoderTest, CountOf2To64IsOutOfRange) {
  ExpectDropped(ReplyWith(With(ValidFields(), "kv_total_blocks", "18446744073709551616")),
                DropReason::kOutOfRange);
}

TEST_F(StatsDecoderTest, CountOfManyDigitsIsOutOfRange) {
  ExpectDropped(ReplyWith(With(ValidFields(), "kv_total_blocks", "99999999999999999999999")),
                DropReason::kOutOfRange);
}

TEST_F(StatsDecoderTest, LargestUint64CountIsKept) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(With(ValidFields(), "kv_total_blocks", "18446744073709551615")));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].kv_total_blocks, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(reply.drops.Total(), 0u);
}

// Without a block capacity, gpu_cache_usage_perc is the unit's KV figure: it must be
// a fraction. A percent (45 for 45 %) is wrong data, never a saturated worker.
Fields NoBlockCapacity(const std::string& gpu_cache) {
  return With(With(ValidFields(), "kv_total_blocks", "0"), "gpu_cache_usage_perc", gpu_cache);
}

TEST_F(StatsDecoderTest, GpuCacheUsageAboveOneIsOutOfRangeWithoutBlockCapacity) {
  ExpectDropped(ReplyWith(NoBlockCapacity("1.5")), DropReason::kOutOfRange);
  ExpectDropped(ReplyWith(NoBlockCapacity("45")), DropReason::kOutOfRange);
}

TEST_F(StatsDecoderTest, NegativeGpuCacheUsageIsOutOfRangeWithoutBlockCapacity) {
  ExpectDropped(ReplyWith(NoBlockCapacity("-0.1")), DropReason::kOutOfRange);
}

TEST_F(StatsDecoderTest, GpuCacheUsageNaNStringIsWrongTypeWithoutBlockCapacity) {
  ExpectDropped(ReplyWith(NoBlockCapacity(R"("NaN")")), DropReason::kWrongType);
}

// Fields the figures do not use never drop a report: they are left out and counted.
TEST_F(StatsDecoderTest, BadGpuCacheUsageBesideBlockCapacityIsIgnoredAndCounted) {
  for (const auto& [value, reason] :
       {std::pair{"45", DropReason::kOutOfRange}, std::pair{"-0.1", DropReason::kOutOfRange},
        std::pair{R"("NaN")", DropReason::kWrongType}}) {
    SCOPED_TRACE(value);
    const DecodedReply reply =
        decoder_.Decode(ReplyWith(With(ValidFields(), "gpu_cache_usage_perc", value)));
    WorkerLoad expected = ValidUnit();
    expected.gpu_cache_usage_perc = std::nullopt;
    EXPECT_THAT(reply.units, ElementsAre(expected));
    EXPECT_EQ(reply.drops.Total(), 0u);
    EXPECT_THAT(reply.unreadable, IsEmpty());
    EXPECT_EQ(reply.ignored.Get(reason), 1u);
    EXPECT_EQ(reply.ignored.Total(), 1u);
  }
}

TEST_F(StatsDecoderTest, BadHitRateIsIgnoredAndCounted) {
  for (const auto& [value, reason] :
       {std::pair{"2", DropReason::kOutOfRange}, std::pair{R"("x")", DropReason::kWrongType}}) {
    SCOPED_TRACE(value);
    const DecodedReply reply =
        decoder_.Decode(ReplyWith(With(ValidFields(), "gpu_prefix_cache_hit_rate", value)));
    EXPECT_THAT(reply.units, ElementsAre(ValidUnit()));
    EXPECT_EQ(reply.drops.Total(), 0u);
    EXPECT_EQ(reply.ignored.Get(reason), 1u);
    EXPECT_EQ(reply.ignored.Total(), 1u);
  }
}

TEST_F(StatsDecoderTest, GoodReportCountsNothingIgnored) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(With(ValidFields(), "gpu_prefix_cache_hit_rate", "0.5")));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].gpu_prefix_cache_hit_rate, 0.5);
  EXPECT_EQ(reply.ignored.Total(), 0u);
}

TEST_F(StatsDecoderTest, UnreadableReportKeepsItsRankWhenReadable) {
  const DecodedReply reply = decoder_.Decode(ReplyWith(
      With(With(ValidFields(), "data_parallel_rank", "3"), "kv_active_blocks", R"("x")")));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(reply.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{0x2a, 3u}, DropReason::kWrongType}));
}

TEST_F(StatsDecoderTest, GpuCacheUsageOfExactlyOneIsKept) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(With(ValidFields(), "gpu_cache_usage_perc", "1")));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].gpu_cache_usage_perc, 1.0);
}

TEST_F(StatsDecoderTest, MissingRequiredFieldIsDropped) {
  for (const char* field :
       {"request_active_slots", "request_total_slots", "kv_active_blocks", "kv_total_blocks"}) {
    ExpectDropped(ReplyWith(Without(ValidFields(), field)), DropReason::kMissingField);
  }
}

TEST_F(StatsDecoderTest, MissingWaitingIsZero) {
  const DecodedReply reply =
      decoder_.Decode(ReplyWith(Without(ValidFields(), "num_requests_waiting")));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].num_requests_waiting, 0u);
}

TEST_F(StatsDecoderTest, ZeroKvTotalWithoutGpuCacheUsageIsMissingField) {
  ExpectDropped(
      ReplyWith(Without(With(ValidFields(), "kv_total_blocks", "0"), "gpu_cache_usage_perc")),
      DropReason::kMissingField);
}

TEST_F(StatsDecoderTest, ZeroKvTotalWithGpuCacheUsageIsKept) {
  const DecodedReply reply = decoder_.Decode(
      ReplyWith(With(With(ValidFields(), "kv_total_blocks", "0"), "gpu_cache_usage_perc", "0.5")));
  EXPECT_THAT(reply.units,
              ElementsAre(Unit(0x2a, std::nullopt, 1, 4, 10, 0, 2, 0.5, std::nullopt)));
}

TEST_F(StatsDecoderTest, NullDataIsNoData) {
  ExpectDropped(Reply({LoadEndpoint("2a", "null")}), DropReason::kNoData);
}

TEST_F(StatsDecoderTest, AbsentDataIsNoData) {
  ExpectDropped(Reply({R"({"name":"x","subject":"dynamo_llm-worker.kv-router-2a"})"}),
                DropReason::kNoData);
}

TEST_F(StatsDecoderTest, DataOfWrongJsonTypeIsWrongType) {
  ExpectDropped(Reply({LoadEndpoint("2a", R"("busy")")}), DropReason::kWrongType);
  ExpectDropped(Reply({LoadEndpoint("2a", "[1,2]")}), DropReason::kWrongType);
}

TEST_F(StatsDecoderTest, TrailingGarbageIsMalformed) {
  const std::string valid = ReplyWith(ValidFields());
  ExpectMalformed(valid + "x");
  ExpectMalformed(valid + "{}");
  ExpectMalformed(valid + "]");
}

TEST_F(StatsDecoderTest, TrailingWhitespaceIsFine) {
  const DecodedReply reply = decoder_.Decode(ReplyWith(ValidFields()) + "\r\n \t");
  EXPECT_THAT(reply.units, ElementsAre(ValidUnit()));
  EXPECT_EQ(reply.drops.Total(), 0u);
}

TEST_F(StatsDecoderTest, NonObjectIsMalformed) {
  ExpectMalformed("[]");
  ExpectMalformed("42");
  ExpectMalformed(R"("stats")");
  ExpectMalformed("null");
  ExpectMalformed("{");
  ExpectMalformed("not json at all");
}

TEST_F(StatsDecoderTest, EmptyInputIsMalformed) {
  ExpectMalformed("");
  ExpectMalformed("   ");
}

TEST_F(StatsDecoderTest, ReplyFromAnotherServiceIsNotADrop) {
  const DecodedReply reply =
      decoder_.Decode(Reply({Endpoint("dynamo_backend.kv-router-2a", Json(ValidFields()))}));
  EXPECT_TRUE(reply.other_service);
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(LeasesHeard(reply), IsEmpty());
  EXPECT_EQ(reply.drops.Total(), 0u);
}

TEST_F(StatsDecoderTest, BadEndpointNeverShiftsAnotherEndpointsFigures) {
  // Dynamo's metrics component paired decoded data with endpoints by position, so
  // the bad report of `b` shifted `c`'s figures onto the wrong worker.
  const std::string reply_json = Reply({
      Endpoint("dynamo_llm-worker.generate-a", "null"),
      LoadEndpoint("a", Json(With(ValidFields(), "kv_active_blocks", "11"))),
      LoadEndpoint("b", Json(With(ValidFields(), "kv_active_blocks", R"("x")"))),
      LoadEndpoint("c", Json(With(ValidFields(), "kv_active_blocks", "33"))),
      LoadEndpoint("d", Json(Without(ValidFields(), "request_total_slots"))),
      LoadEndpoint("e", Json(With(ValidFields(), "kv_active_blocks", "35"))),
  });
  const DecodedReply reply = decoder_.Decode(reply_json);
  EXPECT_THAT(reply.units,
              ElementsAre(Unit(0xa, std::nullopt, 1, 4, 11, 40, 2, 0.25, std::nullopt),
                          Unit(0xc, std::nullopt, 1, 4, 33, 40, 2, 0.25, std::nullopt),
                          Unit(0xe, std::nullopt, 1, 4, 35, 40, 2, 0.25, std::nullopt)));
  EXPECT_EQ(reply.drops.Get(DropReason::kWrongType), 1u);
  EXPECT_EQ(reply.drops.Get(DropReason::kMissingField), 1u);
  EXPECT_EQ(reply.drops.Total(), 2u);
  EXPECT_THAT(LeasesHeard(reply), ElementsAre(0xau, 0xbu, 0xcu, 0xdu, 0xeu));
}

TEST_F(StatsDecoderTest, BadFirstEndpointDoesNotShiftLaterOnes) {
  const std::string reply_json = Reply({
      LoadEndpoint("1", Json(NoBlockCapacity("7"))),
      LoadEndpoint("2", Json(With(ValidFields(), "num_requests_waiting", "20"))),
  });
  const DecodedReply reply = decoder_.Decode(reply_json);
  EXPECT_THAT(reply.units,
              ElementsAre(Unit(0x2, std::nullopt, 1, 4, 10, 40, 20, 0.25, std::nullopt)));
  EXPECT_EQ(reply.drops.Get(DropReason::kOutOfRange), 1u);
  EXPECT_EQ(reply.drops.Total(), 1u);
}

TEST_F(StatsDecoderTest, ReusedDecoderKeepsNoStateBetweenReplies) {
  const std::string first = Reply({
      LoadEndpoint("a", Json(With(ValidFields(), "kv_active_blocks", "11"))),
      LoadEndpoint("b", Json(With(ValidFields(), "kv_active_blocks", "22"))),
  });
  const std::string second =
      Reply({LoadEndpoint("c", Json(With(ValidFields(), "num_requests_waiting", "9")))});

  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    DecodedReply reply = decoder_.Decode(first);
    EXPECT_THAT(reply.units,
                ElementsAre(Unit(0xa, std::nullopt, 1, 4, 11, 40, 2, 0.25, std::nullopt),
                            Unit(0xb, std::nullopt, 1, 4, 22, 40, 2, 0.25, std::nullopt)));
    EXPECT_EQ(reply.drops.Total(), 0u);

    // A shorter input after a longer one: the longer one's bytes left in the
    // decoder's buffer must not complete the truncated reply.
    ExpectMalformed(first.substr(0, first.size() - 2));

    reply = decoder_.Decode(second);
    EXPECT_THAT(reply.units,
                ElementsAre(Unit(0xc, std::nullopt, 1, 4, 10, 40, 9, 0.25, std::nullopt)));
    EXPECT_THAT(LeasesHeard(reply), ElementsAre(0xcu));
    EXPECT_EQ(reply.drops.Total(), 0u);
    EXPECT_FALSE(reply.other_service);

    ExpectDropped(ReplyWith(With(ValidFields(), "kv_active_blocks", "-1")), DropReason::kWrongType);

    reply = decoder_.Decode(Reply({Endpoint("dynamo_backend.kv-router-2a", "null")}));
    EXPECT_TRUE(reply.other_service);
    EXPECT_THAT(reply.units, IsEmpty());
    EXPECT_EQ(reply.drops.Total(), 0u);
  }
}

// ---- Fallback to load_metrics -----------------------------------------------

class StatsDecoderFallbackTest : public ::testing::Test {
 protected:
  static std::string Generate(const std::string& lease_hex, const std::string& data) {
    return Endpoint("dynamo_llm-worker.generate-" + lease_hex, data);
  }
  static std::string LoadMetrics(const std::string& lease_hex, const std::string& data) {
    return Endpoint("dynamo_llm-worker.load_metrics-" + lease_hex, data);
  }
  StatsDecoder decoder_{EndpointMatcher("dynamo", "llm-worker", "generate", false),
                        EndpointMatcher("dynamo", "llm-worker", "load_metrics", false)};
};

TEST_F(StatsDecoderFallbackTest, NoDataOnTheServingEndpointIsReadFromLoadMetrics) {
  const DecodedReply reply =
      decoder_.Decode(Reply({Generate("2a", "null"), LoadMetrics("2a", Json(ValidFields()))}));
  EXPECT_THAT(reply.units, ElementsAre(ValidUnit()));
  EXPECT_THAT(reply.unreadable, IsEmpty());
  EXPECT_EQ(reply.drops.Total(), 0u);
}

TEST_F(StatsDecoderFallbackTest, EveryRankOfLoadMetricsIsRead) {
  const DecodedReply reply = decoder_.Decode(
      Reply({Generate("2a", "null"),
             LoadMetrics("2a", Json(With(ValidFields(), "data_parallel_rank", "0"))),
             LoadMetrics("2a", Json(With(ValidFields(), "data_parallel_rank", "1")))}));
  ASSERT_EQ(reply.units.size(), 2u);
  EXPECT_EQ(reply.units[0].key, (WorkerKey{0x2a, 0u}));
  EXPECT_EQ(reply.units[1].key, (WorkerKey{0x2a, 1u}));
}

TEST_F(StatsDecoderFallbackTest, DataOnTheServingEndpointWins) {
  const DecodedReply reply =
      decoder_.Decode(Reply({Generate("2a", Json(With(ValidFields(), "kv_active_blocks", "30"))),
                             LoadMetrics("2a", Json(ValidFields()))}));
  ASSERT_EQ(reply.units.size(), 1u);
  EXPECT_EQ(reply.units[0].kv_active_blocks, 30u);
}

TEST_F(StatsDecoderFallbackTest, BadLoadMetricsMakesTheWorkerUnreadable) {
  const DecodedReply reply = decoder_.Decode(
      Reply({Generate("2a", "null"), LoadMetrics("2a", Json(NoBlockCapacity("45")))}));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(reply.unreadable, ElementsAre(UnreadableReport{WorkerKey{0x2a, std::nullopt},
                                                             DropReason::kOutOfRange}));
  EXPECT_EQ(reply.drops.Total(), 1u);
}

TEST_F(StatsDecoderFallbackTest, NoFallbackStaysNoData) {
  const DecodedReply reply = decoder_.Decode(Reply({Generate("2a", "null")}));
  EXPECT_THAT(reply.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{0x2a, std::nullopt}, DropReason::kNoData}));
}

TEST_F(StatsDecoderFallbackTest, AnotherWorkersLoadMetricsIsNotUsed) {
  // Worker 2b serves no monitored endpoint in this reply: it is not in the target.
  const DecodedReply reply =
      decoder_.Decode(Reply({Generate("2a", "null"), LoadMetrics("2b", Json(ValidFields()))}));
  EXPECT_THAT(reply.units, IsEmpty());
  EXPECT_THAT(reply.unreadable,
              ElementsAre(UnreadableReport{WorkerKey{0x2a, std::nullopt}, DropReason::kNoData}));
}

}  // namespace
}  // namespace mk::dynamo
