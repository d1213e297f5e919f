#include "dynamo/json_event_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "dynamo/event_test_util.h"
#include "dynamo/worker_load_test_util.h"

namespace mk::dynamo {
namespace {

using ::mk::dynamo::testing::ReadEventFile;

constexpr uint64_t kWorker = 0x694d9a3f1e2b7c05;        // 7587890543068937221
constexpr uint64_t kStatsWorker = 7587867225384680961;  // the stats fixtures' worker

ActiveLoad Active(uint64_t worker, uint32_t rank, std::optional<uint64_t> decode,
                  std::optional<uint64_t> prefill, ActiveLoadOrigin origin) {
  ActiveLoad load;
  load.worker_id = worker;
  load.dp_rank = rank;
  load.active_decode_blocks = decode;
  load.active_prefill_tokens = prefill;
  load.origin = origin;
  return load;
}

// The WorkerLoad a LoadEvent decodes to; fails the test when it does not.
std::optional<WorkerLoad> LoadEventOf(const Decoded<JsonKvMetricsEvent>& decoded) {
  EXPECT_TRUE(decoded.ok()) << decoded.detail;
  if (!decoded.ok()) return std::nullopt;
  const WorkerLoad* load = std::get_if<WorkerLoad>(&*decoded.record);
  EXPECT_NE(load, nullptr) << "not a LoadEvent";
  return load ? std::optional<WorkerLoad>(*load) : std::nullopt;
}

std::optional<ActiveLoad> ActiveLoadOf(const Decoded<JsonKvMetricsEvent>& decoded) {
  EXPECT_TRUE(decoded.ok()) << decoded.detail;
  if (!decoded.ok()) return std::nullopt;
  const ActiveLoad* load = std::get_if<ActiveLoad>(&*decoded.record);
  EXPECT_NE(load, nullptr) << "not an ActiveLoad";
  return load ? std::optional<ActiveLoad>(*load) : std::nullopt;
}

constexpr char kNestedData[] =
    R"({"worker_stats":{"data_parallel_rank":1,"request_active_slots":2,"request_total_slots":8,)"
    R"("num_requests_waiting":1},"kv_stats":{"kv_active_blocks":10,"kv_total_blocks":100,)"
    R"("gpu_cache_usage_perc":0.1,"gpu_prefix_cache_hit_rate":0.5}})";

std::string LoadEvent(const std::string& worker_id, const std::string& data = kNestedData) {
  return R"({"worker_id":)" + worker_id + R"(,"data":)" + data + "}";
}

// ---- Fixtures ----------------------------------------------------------------

TEST(JsonEventDecoderFixtureTest, LoadEventOfAug2025) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(ReadEventFile("nats_json_loadevent_legacy.json"));
  EXPECT_EQ(LoadEventOf(decoded),
            testing::MakeWorkerLoad(kWorker, 0, 12, 256, 1234, 16384, 3, 0.0753, 0.25));
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST(JsonEventDecoderFixtureTest, LoadEventOfTheStatsFixturesWithoutRank) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(testing::ReadStatsFixture("event_load_event_2025-08.json"));
  EXPECT_EQ(LoadEventOf(decoded), testing::MakeWorkerLoad(kStatsWorker, std::nullopt, 12, 64, 6000,
                                                          8192, 5, 0.7324, 0.2));
}

TEST(JsonEventDecoderFixtureTest, ActiveLoadOfDec2025) {
  JsonEventDecoder decoder;
  EXPECT_EQ(ActiveLoadOf(decoder.Decode(ReadEventFile("nats_json_activeload_dec2025.json"))),
            Active(kWorker, 0, 1234, std::nullopt, ActiveLoadOrigin::kWorker));
  EXPECT_EQ(
      ActiveLoadOf(decoder.Decode(testing::ReadStatsFixture("event_active_load_2025-12.json"))),
      Active(kStatsWorker, 0, 6000, std::nullopt, ActiveLoadOrigin::kWorker));
}

// ---- LoadEvent -------------------------------------------------------------------

TEST(JsonEventDecoderTest, LoadEventReadsTheFlatFormToo) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(LoadEvent(
      "42", R"({"request_active_slots":1,"request_total_slots":4,"kv_active_blocks":5,)"
            R"("kv_total_blocks":50,"gpu_cache_usage_perc":0.1,"data_parallel_rank":2})"));
  EXPECT_EQ(LoadEventOf(decoded),
            testing::MakeWorkerLoad(42, 2, 1, 4, 5, 50, 0, 0.1, std::nullopt));
}

TEST(JsonEventDecoderTest, WorkerIdsAreSignedOrUnsigned64BitIntegers) {
  JsonEventDecoder decoder;
  EXPECT_EQ(LoadEventOf(decoder.Decode(LoadEvent("9223372036854775807")))->key.lease_id,
            9223372036854775807u);
  EXPECT_EQ(LoadEventOf(decoder.Decode(LoadEvent("18446744073709551615")))->key.lease_id,
            UINT64_MAX);
  EXPECT_EQ(LoadEventOf(decoder.Decode(LoadEvent("0")))->key.lease_id, 0u);
}

TEST(JsonEventDecoderTest, NegativeWorkerIdsAreBadWorkerIds) {
  JsonEventDecoder decoder;
  for (const char* id : {"-1", "-9223372036854775808"}) {
    const auto decoded = decoder.Decode(LoadEvent(id));
    EXPECT_EQ(decoded.reason, DropReason::kBadWorkerId) << id;
    EXPECT_FALSE(decoded.unit.has_value());
    EXPECT_EQ(decoder.Decode(R"({"worker_id":)" + std::string(id) + R"(,"active_decode_blocks":1})")
                  .reason,
              DropReason::kBadWorkerId);
  }
}

TEST(JsonEventDecoderTest, WorkerIdsThatAreNoIntegersAreDropped) {
  JsonEventDecoder decoder;
  for (const char* id : {"1.5", "1e3", "\"42\"", "null", "true", "{}"}) {
    EXPECT_EQ(decoder.Decode(LoadEvent(id)).reason, DropReason::kWrongType) << id;
  }
  for (const char* id : {"18446744073709551616", "-9223372036854775809"}) {
    EXPECT_EQ(decoder.Decode(LoadEvent(id)).reason, DropReason::kOutOfRange) << id;
  }
  const auto decoded = decoder.Decode(R"({"data":)" + std::string(kNestedData) + "}");
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.detail, "no worker_id");
}

TEST(JsonEventDecoderTest, NullDataIsNoData) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(LoadEvent("42", "null"));
  EXPECT_EQ(decoded.reason, DropReason::kNoData);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, std::nullopt}));
}

TEST(JsonEventDecoderTest, UnusableDataIsDroppedByTheStatsRules) {
  JsonEventDecoder decoder;
  auto decoded = decoder.Decode(LoadEvent("42", "[]"));
  EXPECT_EQ(decoded.reason, DropReason::kWrongType);
  decoded = decoder.Decode(LoadEvent("42", R"({"worker_stats":{"data_parallel_rank":3}})"));
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, 3}));
  decoded = decoder.Decode(
      LoadEvent("42", R"({"request_active_slots":-1,"request_total_slots":4,"kv_active_blocks":5,)"
                      R"("kv_total_blocks":50})"));
  EXPECT_EQ(decoded.reason, DropReason::kWrongType);
  // A group inside a group is never followed.
  decoded = decoder.Decode(LoadEvent("42", R"({"kv_stats":{"kv_stats":{}}})"));
  EXPECT_EQ(decoded.reason, DropReason::kWrongType);
}

TEST(JsonEventDecoderTest, BadUnusedFieldsInDataAreIgnored) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(
      LoadEvent("42", R"({"request_active_slots":1,"request_total_slots":4,"kv_active_blocks":5,)"
                      R"("kv_total_blocks":50,"gpu_prefix_cache_hit_rate":1.5})"));
  EXPECT_EQ(LoadEventOf(decoded),
            testing::MakeWorkerLoad(42, std::nullopt, 1, 4, 5, 50, 0, std::nullopt, std::nullopt));
  EXPECT_EQ(decoded.ignored.Get(DropReason::kOutOfRange), 1u);
}

TEST(JsonEventDecoderTest, ActiveLoadKeysInALoadEventAreNotRead) {
  JsonEventDecoder decoder;
  const auto decoded =
      decoder.Decode(R"({"worker_id":42,"dp_rank":"x","active_decode_blocks":-3,"data":)" +
                     std::string(kNestedData) + "}");
  EXPECT_EQ(LoadEventOf(decoded), testing::MakeWorkerLoad(42, 1, 2, 8, 10, 100, 1, 0.1, 0.5));
}

// ---- ActiveLoad ------------------------------------------------------------------

TEST(JsonEventDecoderTest, ActiveLoadRouterAndWorkerForms) {
  JsonEventDecoder decoder;
  EXPECT_EQ(
      ActiveLoadOf(decoder.Decode(
          R"({"worker_id":42,"dp_rank":1,"active_decode_blocks":8,"active_prefill_tokens":512})")),
      Active(42, 1, 8, 512, ActiveLoadOrigin::kRouter));
  ActiveLoad newest = Active(42, 0, std::nullopt, std::nullopt, ActiveLoadOrigin::kWorker);
  newest.kv_used_blocks = 70;
  newest.waiting_requests = 2;
  EXPECT_EQ(ActiveLoadOf(decoder.Decode(
                R"({"worker_id":42,"kv_used_blocks":70,"waiting_requests":2,"extra":[1,{}]})")),
            newest);
}

TEST(JsonEventDecoderTest, ActiveLoadWithoutALoadFigureIsMissing) {
  JsonEventDecoder decoder;
  const auto decoded = decoder.Decode(
      R"({"worker_id":42,"dp_rank":1,"active_decode_blocks":null,"active_prefill_tokens":null})");
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, 1}));
}

TEST(JsonEventDecoderTest, ActiveLoadFieldsAreStrict) {
  JsonEventDecoder decoder;
  auto decoded =
      decoder.Decode(R"({"worker_id":42,"dp_rank":4294967296,"active_decode_blocks":1})");
  EXPECT_EQ(decoded.reason, DropReason::kOutOfRange);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, std::nullopt}));
  decoded = decoder.Decode(R"({"worker_id":42,"dp_rank":null,"active_decode_blocks":1})");
  EXPECT_EQ(decoded.reason, DropReason::kWrongType);
  for (const char* value : {"-1", "1.5", "\"7\"", "[]"}) {
    decoded = decoder.Decode(R"({"worker_id":42,"dp_rank":3,"active_decode_blocks":)" +
                             std::string(value) + "}");
    EXPECT_EQ(decoded.reason, DropReason::kWrongType) << value;
    EXPECT_EQ(decoded.unit, (WorkerKey{42, 3})) << value;
  }
  decoded = decoder.Decode(R"({"worker_id":42,"active_prefill_tokens":18446744073709551616})");
  EXPECT_EQ(decoded.reason, DropReason::kOutOfRange);
}

// ---- Malformed input -----------------------------------------------------------

TEST(JsonEventDecoderTest, MalformedJsonIsDropped) {
  JsonEventDecoder decoder;
  const std::string event = ReadEventFile("nats_json_loadevent_legacy.json");
  for (size_t size = 0; size + 2 < event.size(); size += 7) {  // the file ends in "}\n"
    EXPECT_EQ(decoder.Decode(event.substr(0, size)).reason, DropReason::kMalformedJson) << size;
  }
  for (const char* text : {"[]", "42", "null", R"({"worker_id":1} {})", R"({"worker_id":1} x)",
                           R"({"worker_id":1,})"}) {
    EXPECT_EQ(decoder.Decode(text).reason, DropReason::kMalformedJson) << text;
  }
}

TEST(JsonEventDecoderTest, DeepNestingIsSkippedOrDroppedWithoutRecursing) {
  JsonEventDecoder decoder;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  // Under an unknown key it is skipped, as any unknown value.
  EXPECT_TRUE(decoder.Decode(R"({"worker_id":1,"active_decode_blocks":2,"x":)" + deep + "}").ok());
  // Where a value is read, it is of the wrong type.
  EXPECT_EQ(decoder.Decode(R"({"worker_id":)" + deep + "}").reason, DropReason::kWrongType);
  EXPECT_EQ(decoder.Decode(LoadEvent("1", deep)).reason, DropReason::kWrongType);
  // Unbalanced, it is malformed.
  EXPECT_EQ(decoder.Decode(R"({"worker_id":1,"x":)" + std::string(100000, '[') + "}").reason,
            DropReason::kMalformedJson);
}

TEST(JsonEventDecoderTest, DecodingAgainGivesTheSameAnswer) {
  JsonEventDecoder decoder;
  const std::string event = ReadEventFile("nats_json_loadevent_legacy.json");
  const auto first = decoder.Decode(event);
  decoder.Decode("{\"worker_id\":");
  const auto second = decoder.Decode(event);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first.record, *second.record);
}

}  // namespace
}  // namespace mk::dynamo
