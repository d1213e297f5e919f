#include "dynamo/forward_pass_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dynamo/event_envelope.h"
#include "dynamo/event_test_util.h"

namespace mk::dynamo {
namespace {

using ::mk::dynamo::testing::Pack;
using ::mk::dynamo::testing::ReadHexFixture;

constexpr uint64_t kWorker = 0x694d9a3f1e2b7c05;  // "7587890543068937221"

using Fields = testing::PackedFields;

std::string Map(const Fields& fields) { return testing::PackedMap(fields); }

std::string U(uint64_t value) { return Pack().Unsigned(value).Bytes(); }
std::string I(int64_t value) { return Pack().Signed(value).Bytes(); }
std::string F(double value) { return Pack().Double(value).Bytes(); }
std::string S(std::string_view text) { return Pack().Str(text).Bytes(); }
std::string Nil() { return Pack().Nil().Bytes(); }

Fields ScheduledFields() {
  return {{"num_prefill_requests", U(1)},   {"sum_prefill_tokens", U(100)},
          {"var_prefill_length", F(4.0)},   {"sum_prefill_kv_tokens", U(30)},
          {"num_decode_requests", U(5)},    {"sum_decode_kv_tokens", U(900)},
          {"var_decode_kv_tokens", F(16.0)}};
}

Fields QueuedFields() {
  return {{"num_prefill_requests", U(2)}, {"sum_prefill_tokens", U(700)},
          {"var_prefill_length", F(1.0)}, {"num_decode_requests", U(0)},
          {"sum_decode_kv_tokens", U(0)}, {"var_decode_kv_tokens", F(0.0)}};
}

Fields ValidFields(Fields scheduled = ScheduledFields(), Fields queued = QueuedFields()) {
  return {{"version", U(1)},
          {"worker_id", S("42")},
          {"dp_rank", U(3)},
          {"counter_id", U(77)},
          {"wall_time", F(0.5)},
          {"scheduled_requests", Map(scheduled)},
          {"queued_requests", Map(queued)}};
}

Fields Replace(Fields fields, const std::string& key, std::string value) {
  for (auto& field : fields) {
    if (field.first == key) field.second = std::move(value);
  }
  return fields;
}

Fields Without(Fields fields, const std::string& key) {
  std::erase_if(fields, [&](const auto& field) { return field.first == key; });
  return fields;
}

ForwardPassMetrics Expected() {
  ForwardPassMetrics metrics;
  metrics.worker_id = 42;
  metrics.dp_rank = 3;
  metrics.counter_id = 77;
  metrics.wall_time_s = 0.5;
  metrics.scheduled.num_prefill_requests = 1;
  metrics.scheduled.sum_prefill_tokens = 100;
  metrics.scheduled.var_prefill_length = 4.0;
  metrics.scheduled.sum_prefill_kv_tokens = 30;
  metrics.scheduled.num_decode_requests = 5;
  metrics.scheduled.sum_decode_kv_tokens = 900;
  metrics.scheduled.var_decode_kv_tokens = 16.0;
  metrics.queued.num_prefill_requests = 2;
  metrics.queued.sum_prefill_tokens = 700;
  metrics.queued.var_prefill_length = 1.0;
  metrics.queued.var_decode_kv_tokens = 0.0;
  return metrics;
}

// The fixtures' figures (fpm_dynamo_v1.md), without timing_scope.
ForwardPassMetrics FixtureMetrics() {
  ForwardPassMetrics metrics;
  metrics.worker_id = kWorker;
  metrics.dp_rank = 0;
  metrics.counter_id = 1523;
  metrics.wall_time_s = 0.0215;
  metrics.scheduled.num_prefill_requests = 2;
  metrics.scheduled.sum_prefill_tokens = 2048;
  metrics.scheduled.var_prefill_length = 1048576.0;
  metrics.scheduled.sum_prefill_kv_tokens = 512;
  metrics.scheduled.num_decode_requests = 30;
  metrics.scheduled.sum_decode_kv_tokens = 45000;
  metrics.scheduled.var_decode_kv_tokens = 2500.5;
  metrics.queued.num_prefill_requests = 3;
  metrics.queued.sum_prefill_tokens = 6000;
  metrics.queued.var_prefill_length = 0.0;
  metrics.queued.num_decode_requests = 0;
  metrics.queued.sum_decode_kv_tokens = 0;
  metrics.queued.var_decode_kv_tokens = 0.0;
  return metrics;
}

// ---- Fixtures ----------------------------------------------------------------

TEST(ForwardPassMetricsFixtureTest, DynamoSchema) {
  const Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(ReadHexFixture("fpm_dynamo_v1.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, FixtureMetrics());
  EXPECT_EQ(decoded.record->key(), (WorkerKey{kWorker, 0}));
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST(ForwardPassMetricsFixtureTest, VllmNativeSchemaAddsTimingScope) {
  const Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(ReadHexFixture("fpm_vllm_native_v1.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  ForwardPassMetrics expected = FixtureMetrics();
  expected.timing_scope = "execute_model_cuda";
  EXPECT_EQ(*decoded.record, expected);
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST(ForwardPassMetricsFixtureTest, FromTheEnvelopeAndTheZmqFrames) {
  const std::string nats = ReadHexFixture("envelope_fpm_dynamo_v1.hex");
  const Decoded<EventEnvelope> envelope = DecodeEventEnvelope(nats);
  ASSERT_TRUE(envelope.ok()) << envelope.detail;
  Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(envelope.record->payload);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, FixtureMetrics());

  std::vector<std::string> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(ReadHexFixture("zmq_fpm_dynamo_v1.frame" + std::to_string(i) + ".hex"));
  }
  const std::vector<std::string_view> views(frames.begin(), frames.end());
  const Decoded<ZmqEvent> event = DecodeZmqEvent(views);
  ASSERT_TRUE(event.ok()) << event.detail;
  decoded = DecodeForwardPassMetrics(event.record->envelope.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, FixtureMetrics());
}

// ---- Kept records --------------------------------------------------------------

TEST(ForwardPassMetricsTest, ReadsEveryField) {
  const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(ValidFields()));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Expected());
}

TEST(ForwardPassMetricsTest, AbsentCountsAreZeroAndAbsentRankIsZero) {
  const Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map({{"worker_id", S("9")}, {"version", U(1)}}));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  ForwardPassMetrics expected;
  expected.worker_id = 9;
  EXPECT_EQ(*decoded.record, expected);
}

TEST(ForwardPassMetricsTest, UnknownKeysAreIgnoredAtBothLevels) {
  Fields scheduled = ScheduledFields();
  scheduled.push_back({"num_spec_tokens", S("x")});
  Fields queued = QueuedFields();
  // Only scheduled_requests has sum_prefill_kv_tokens: in queued_requests it is unknown.
  queued.push_back({"sum_prefill_kv_tokens", I(-1)});
  Fields fields = ValidFields(scheduled, queued);
  fields.insert(fields.begin(), {"observed_at_unix_ms", U(1000)});
  fields.push_back({"kv_stats", Pack().Map(1).Str("a").Array(1).Nil().Bytes()});
  const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Expected());
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST(ForwardPassMetricsTest, AnIdleHeartbeatOfZerosIsKept) {
  Fields zeros;
  for (const char* key : {"num_prefill_requests", "sum_prefill_tokens", "num_decode_requests",
                          "sum_decode_kv_tokens", "sum_prefill_kv_tokens"}) {
    zeros.push_back({key, U(0)});
  }
  zeros.push_back({"var_prefill_length", F(0.0)});
  zeros.push_back({"var_decode_kv_tokens", F(0.0)});
  const Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map(ValidFields(zeros, zeros)));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->scheduled.num_decode_requests, 0u);
  EXPECT_EQ(decoded.record->queued.sum_prefill_tokens, 0u);
}

TEST(ForwardPassMetricsTest, LargestValuesAreKept) {
  Fields scheduled = Replace(ScheduledFields(), "sum_decode_kv_tokens", U(UINT64_MAX));
  Fields fields = Replace(ValidFields(scheduled), "worker_id", S("18446744073709551615"));
  fields = Replace(fields, "dp_rank", U(UINT32_MAX));
  const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->worker_id, UINT64_MAX);
  EXPECT_EQ(decoded.record->dp_rank, UINT32_MAX);
  EXPECT_EQ(decoded.record->scheduled.sum_decode_kv_tokens, UINT64_MAX);
}

// ---- Fields no figure uses: left out and counted, never a drop -------------------

TEST(ForwardPassMetricsTest, BadVariancesAreIgnoredNotDropped) {
  Fields scheduled = Replace(ScheduledFields(), "var_prefill_length", F(-1.0));
  scheduled = Replace(scheduled, "var_decode_kv_tokens", F(std::nan("")));
  const Fields queued = Replace(QueuedFields(), "var_prefill_length", S("wide"));
  const Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map(ValidFields(scheduled, queued)));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  ForwardPassMetrics expected = Expected();
  expected.scheduled.var_prefill_length.reset();
  expected.scheduled.var_decode_kv_tokens.reset();
  expected.queued.var_prefill_length.reset();
  EXPECT_EQ(*decoded.record, expected);
  EXPECT_EQ(decoded.ignored.Get(DropReason::kOutOfRange), 2u);
  EXPECT_EQ(decoded.ignored.Get(DropReason::kWrongType), 1u);
  EXPECT_EQ(decoded.ignored.Total(), 3u);
}

TEST(ForwardPassMetricsTest, BadWallTimeCounterAndTimingScopeAreIgnoredNotDropped) {
  Fields fields = Replace(ValidFields(), "wall_time", F(-0.1));
  fields = Replace(fields, "counter_id", I(-5));
  fields.push_back({"timing_scope", U(3)});
  Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  ForwardPassMetrics expected = Expected();
  expected.wall_time_s.reset();
  expected.counter_id.reset();
  EXPECT_EQ(*decoded.record, expected);
  EXPECT_EQ(decoded.ignored.Get(DropReason::kOutOfRange), 1u);  // wall_time
  EXPECT_EQ(decoded.ignored.Get(DropReason::kWrongType), 2u);   // counter_id, timing_scope

  fields = Replace(ValidFields(), "wall_time", S("0.5"));
  fields = Replace(fields, "counter_id", F(77.0));
  decoded = DecodeForwardPassMetrics(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_FALSE(decoded.record->wall_time_s.has_value());
  EXPECT_FALSE(decoded.record->counter_id.has_value());
  EXPECT_EQ(decoded.ignored.Get(DropReason::kWrongType), 2u);
}

TEST(ForwardPassMetricsTest, IntegerVariancesAndWallTimeAreNumbers) {
  Fields scheduled = Replace(ScheduledFields(), "var_prefill_length", U(4));
  Fields fields = Replace(ValidFields(scheduled), "wall_time", U(2));
  const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->scheduled.var_prefill_length, 4.0);
  EXPECT_EQ(decoded.record->wall_time_s, 2.0);
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

// ---- Fields a figure would use: strict ---------------------------------------------

TEST(ForwardPassMetricsTest, VersionIsRequiredAndMustBeOne) {
  Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map(Without(ValidFields(), "version")));
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.detail, "no version");
  EXPECT_EQ(decoded.unit, (WorkerKey{42, 3}));
  for (uint64_t version : {0, 2, 100}) {
    decoded = DecodeForwardPassMetrics(Map(Replace(ValidFields(), "version", U(version))));
    EXPECT_EQ(decoded.reason, DropReason::kUnsupportedVersion) << version;
    EXPECT_EQ(decoded.unit, (WorkerKey{42, 3}));
  }
  for (const std::string& value : {S("1"), F(1.0), I(-1), Nil()}) {
    decoded = DecodeForwardPassMetrics(Map(Replace(ValidFields(), "version", value)));
    EXPECT_EQ(decoded.reason, DropReason::kWrongType);
  }
}

TEST(ForwardPassMetricsTest, AnotherVersionIsUnsupportedWhateverItsFields) {
  // A version-2 record whose counts would be wrong for version 1.
  Fields fields = Replace(ValidFields(Replace(ScheduledFields(), "num_decode_requests", S("many"))),
                          "version", U(2));
  const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(Map(fields));
  EXPECT_EQ(decoded.reason, DropReason::kUnsupportedVersion);
}

TEST(ForwardPassMetricsTest, WorkerIdIsARequiredDecimalString) {
  Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map(Without(ValidFields(), "worker_id")));
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.detail, "no worker_id");
  for (const std::string& value : {U(42), I(-42), Nil(), Pack().Bin("42").Bytes()}) {
    decoded = DecodeForwardPassMetrics(Map(Replace(ValidFields(), "worker_id", value)));
    EXPECT_EQ(decoded.reason, DropReason::kWrongType);
    EXPECT_FALSE(decoded.unit.has_value());
  }
  for (const char* text : {"", "-42", "+42", " 42", "42 ", "0x2a", "4.2", "worker-0",
                           "18446744073709551616", "000000000000000000042"}) {
    decoded = DecodeForwardPassMetrics(Map(Replace(ValidFields(), "worker_id", S(text))));
    EXPECT_EQ(decoded.reason, DropReason::kBadWorkerId) << "'" << text << "'";
    EXPECT_FALSE(decoded.unit.has_value());
  }
}

TEST(ForwardPassMetricsTest, RankMustBeAnUnsigned32BitInteger) {
  Decoded<ForwardPassMetrics> decoded =
      DecodeForwardPassMetrics(Map(Replace(ValidFields(), "dp_rank", U(uint64_t{UINT32_MAX} + 1))));
  EXPECT_EQ(decoded.reason, DropReason::kOutOfRange);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, std::nullopt}));
  for (const std::string& value : {I(-1), F(0.0), Nil(), S("0")}) {
    decoded = DecodeForwardPassMetrics(Map(Replace(ValidFields(), "dp_rank", value)));
    EXPECT_EQ(decoded.reason, DropReason::kWrongType);
  }
}

TEST(ForwardPassMetricsTest, EveryCountAndTokenSumIsStrict) {
  const std::vector<std::string> bad = {I(-1), F(3.0), S("3"), Nil(), Pack().Map(0).Bytes()};
  for (const auto& [key, unused] : ScheduledFields()) {
    if (key.starts_with("var_")) continue;
    for (const std::string& value : bad) {
      const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(
          Map(ValidFields(Replace(ScheduledFields(), key, value), QueuedFields())));
      EXPECT_EQ(decoded.reason, DropReason::kWrongType) << "scheduled " << key;
      EXPECT_EQ(decoded.unit, (WorkerKey{42, 3}));
      EXPECT_NE(decoded.detail.find(key), std::string_view::npos) << decoded.detail;
    }
  }
  for (const auto& [key, unused] : QueuedFields()) {
    if (key.starts_with("var_")) continue;
    for (const std::string& value : bad) {
      const Decoded<ForwardPassMetrics> decoded = DecodeForwardPassMetrics(
          Map(ValidFields(ScheduledFields(), Replace(QueuedFields(), key, value))));
      EXPECT_EQ(decoded.reason, DropReason::kWrongType) << "queued " << key;
    }
  }
}

TEST(ForwardPassMetricsTest, RequestGroupsMustBeMaps) {
  for (const char* key : {"scheduled_requests", "queued_requests"}) {
    for (const std::string& value : {Nil(), U(0), Pack().Array(0).Bytes()}) {
      const Decoded<ForwardPassMetrics> decoded =
          DecodeForwardPassMetrics(Map(Replace(ValidFields(), key, value)));
      EXPECT_EQ(decoded.reason, DropReason::kWrongType) << key;
    }
    // Absent: the schema's default, all zeros.
    const Decoded<ForwardPassMetrics> decoded =
        DecodeForwardPassMetrics(Map(Without(ValidFields(), key)));
    EXPECT_TRUE(decoded.ok()) << key;
  }
}

TEST(ForwardPassMetricsTest, APayloadThatIsNoMapIsWrongType) {
  EXPECT_EQ(DecodeForwardPassMetrics(Pack().Array(2).Unsigned(1).Str("42").Bytes()).reason,
            DropReason::kWrongType);
}

TEST(ForwardPassMetricsTest, TruncatedPayloadsAreMalformed) {
  const std::string bytes = ReadHexFixture("fpm_vllm_native_v1.payload.hex");
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(DecodeForwardPassMetrics(bytes.substr(0, size)).reason, DropReason::kMalformedMsgpack)
        << size;
  }
}

TEST(ForwardPassMetricsTest, DeepNestingInsideAGroupIsOversized) {
  Fields queued = QueuedFields();
  queued.push_back({"nested", std::string(64, '\x91') + '\xc0'});
  EXPECT_EQ(DecodeForwardPassMetrics(Map(ValidFields(ScheduledFields(), queued))).reason,
            DropReason::kOversized);
}

TEST(ParseDecimalWorkerIdTest, DigitsOnlyBelowTwoToThe64) {
  EXPECT_EQ(ParseDecimalWorkerId("0"), 0u);
  EXPECT_EQ(ParseDecimalWorkerId("7587890543068937221"), kWorker);
  EXPECT_EQ(ParseDecimalWorkerId("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseDecimalWorkerId("00042"), 42u);
  EXPECT_EQ(ParseDecimalWorkerId("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseDecimalWorkerId("99999999999999999999"), std::nullopt);
  EXPECT_EQ(ParseDecimalWorkerId("000000000000000000001"), std::nullopt);  // 21 digits
  EXPECT_EQ(ParseDecimalWorkerId(""), std::nullopt);
  EXPECT_EQ(ParseDecimalWorkerId("-1"), std::nullopt);
  EXPECT_EQ(ParseDecimalWorkerId("1e3"), std::nullopt);
  EXPECT_EQ(ParseDecimalWorkerId(std::string_view("4\0"
                                                  "2",
                                                  3)),
            std::nullopt);
}

}  // namespace
}  // namespace mk::dynamo
