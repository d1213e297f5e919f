#include "dynamo/active_load.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "dynamo/event_envelope.h"
#include "dynamo/event_test_util.h"

namespace mk::dynamo {

// Found by argument-dependent lookup: readable failures for ActiveLoad comparisons.
static void PrintTo(const ActiveLoad& load, std::ostream* os) {
  auto optional = [os](const char* name, const std::optional<uint64_t>& value) {
    *os << " " << name << "=";
    if (value) {
      *os << *value;
    } else {
      *os << "none";
    }
  };
  *os << "{worker_id=" << load.worker_id << " dp_rank=" << load.dp_rank;
  optional("active_decode_blocks", load.active_decode_blocks);
  optional("active_prefill_tokens", load.active_prefill_tokens);
  optional("kv_used_blocks", load.kv_used_blocks);
  optional("waiting_requests", load.waiting_requests);
  *os << " origin=" << ActiveLoadOriginName(load.origin) << "}";
}

namespace {

using ::mk::dynamo::testing::Pack;
using ::mk::dynamo::testing::ReadHexFixture;

constexpr uint64_t kWorker = 0x694d9a3f1e2b7c05;  // 7587890543068937221
constexpr std::nullopt_t none = std::nullopt;

ActiveLoad Load(uint32_t rank, std::optional<uint64_t> decode, std::optional<uint64_t> prefill,
                std::optional<uint64_t> kv_used, std::optional<uint64_t> waiting,
                ActiveLoadOrigin origin, uint64_t worker = kWorker) {
  return ActiveLoad{worker, rank, decode, prefill, kv_used, waiting, origin};
}

using Fields = testing::PackedFields;

std::string Map(const Fields& fields) { return testing::PackedMap(fields); }

std::string U(uint64_t value) { return Pack().Unsigned(value).Bytes(); }
std::string I(int64_t value) { return Pack().Signed(value).Bytes(); }
std::string Nil() { return Pack().Nil().Bytes(); }

// A newest-form worker record: every key, kv_used_blocks and waiting_requests set.
Fields WorkerFields() {
  return {{"worker_id", U(42)},
          {"dp_rank", U(2)},
          {"active_decode_blocks", Nil()},
          {"active_prefill_tokens", Nil()},
          {"kv_used_blocks", U(100)},
          {"waiting_requests", U(4)}};
}

Fields Replace(Fields fields, const std::string& key, std::string value) {
  for (auto& field : fields) {
    if (field.first == key) field.second = std::move(value);
  }
  return fields;
}

// ---- Fixtures ----------------------------------------------------------------

TEST(ActiveLoadFixtureTest, EarlyWorkerFormHasOnlyDecodeBlocks) {
  const Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(ReadHexFixture("activeload_v1_worker.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(0, 1234, none, none, none, ActiveLoadOrigin::kWorker));
}

TEST(ActiveLoadFixtureTest, WorkerFormWithUsedBlocks) {
  const Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(ReadHexFixture("activeload_v2_worker.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  // waiting_requests is no key of this form: none.
  EXPECT_EQ(*decoded.record, Load(0, none, none, 4321, none, ActiveLoadOrigin::kWorker));
}

TEST(ActiveLoadFixtureTest, NewestWorkerFormWithWaitingRequests) {
  const Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(ReadHexFixture("activeload_v3_worker.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(0, none, none, 4321, 3, ActiveLoadOrigin::kWorker));
}

TEST(ActiveLoadFixtureTest, RouterForm) {
  const Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(ReadHexFixture("activeload_v3_router.payload.hex"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(1, 812, 3072, none, none, ActiveLoadOrigin::kRouter));
  EXPECT_EQ(decoded.record->key(), (WorkerKey{kWorker, 1}));
}

TEST(ActiveLoadFixtureTest, FromTheEnvelopesOfBothTransports) {
  const std::string nats = ReadHexFixture("nats_activeload_v3_router.body.hex");
  const Decoded<EventEnvelope> envelope = DecodeEventEnvelope(nats);
  ASSERT_TRUE(envelope.ok());
  Decoded<ActiveLoad> decoded = DecodeActiveLoad(envelope.record->payload);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->origin, ActiveLoadOrigin::kRouter);

  std::vector<std::string> frames;
  for (int i = 0; i < 4; ++i) {
    frames.push_back(ReadHexFixture("zmq_activeload_v2_worker.frame" + std::to_string(i) + ".hex"));
  }
  const std::vector<std::string_view> views(frames.begin(), frames.end());
  const Decoded<ZmqEvent> event = DecodeZmqEvent(views);
  ASSERT_TRUE(event.ok()) << event.detail;
  decoded = DecodeActiveLoad(event.record->envelope.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(0, none, none, 4321, none, ActiveLoadOrigin::kWorker));
}

// ---- Field sets and classification ---------------------------------------------

TEST(ActiveLoadTest, AbsentOptionalFieldsAreNoneAndRankDefaultsToZero) {
  const Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(Map({{"kv_used_blocks", U(7)}, {"worker_id", U(9)}}));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(0, none, none, 7, none, ActiveLoadOrigin::kWorker, 9));
}

TEST(ActiveLoadTest, NilAndAbsentAreTheSame) {
  const Decoded<ActiveLoad> with_nils = DecodeActiveLoad(Map(WorkerFields()));
  const Decoded<ActiveLoad> without = DecodeActiveLoad(Map({{"worker_id", U(42)},
                                                            {"dp_rank", U(2)},
                                                            {"kv_used_blocks", U(100)},
                                                            {"waiting_requests", U(4)}}));
  ASSERT_TRUE(with_nils.ok() && without.ok());
  EXPECT_EQ(*with_nils.record, *without.record);
  EXPECT_EQ(*with_nils.record, Load(2, none, none, 100, 4, ActiveLoadOrigin::kWorker, 42));
}

TEST(ActiveLoadTest, UnknownKeysAreIgnored) {
  Fields fields = WorkerFields();
  fields.insert(fields.begin(), {"future_field", Pack().Map(1).Str("x").Array(0).Bytes()});
  fields.push_back({"kv_total_blocks", Pack().Str("not read").Bytes()});
  fields.push_back({"7", U(1)});
  const Decoded<ActiveLoad> decoded = DecodeActiveLoad(Map(fields));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(2, none, none, 100, 4, ActiveLoadOrigin::kWorker, 42));
}

TEST(ActiveLoadTest, LargestValuesAreKept) {
  const Decoded<ActiveLoad> decoded = DecodeActiveLoad(Map({{"worker_id", U(UINT64_MAX)},
                                                            {"dp_rank", U(UINT32_MAX)},
                                                            {"kv_used_blocks", U(UINT64_MAX)},
                                                            {"waiting_requests", U(UINT64_MAX)}}));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(*decoded.record, Load(UINT32_MAX, none, none, UINT64_MAX, UINT64_MAX,
                                  ActiveLoadOrigin::kWorker, UINT64_MAX));
}

TEST(ActiveLoadTest, ClassificationFollowsTheReferenceRule) {
  struct Case {
    std::optional<uint64_t> decode, prefill, kv_used;
    std::optional<ActiveLoadOrigin> origin;
  };
  const std::vector<Case> cases = {
      {none, none, 5, ActiveLoadOrigin::kWorker},  // worker, Apr 2026 on
      {3, none, 5, ActiveLoadOrigin::kWorker},     // worker setting both
      {3, 8, 5, ActiveLoadOrigin::kWorker},        // used blocks decide
      {3, 8, none, ActiveLoadOrigin::kRouter},     // router
      {none, 8, none, ActiveLoadOrigin::kRouter},  // router, no decode blocks
      {3, none, none, ActiveLoadOrigin::kWorker},  // worker before Apr 2026
      {none, none, none, none},                    // no load figure
  };
  for (const Case& c : cases) {
    ActiveLoad load;
    load.active_decode_blocks = c.decode;
    load.active_prefill_tokens = c.prefill;
    load.kv_used_blocks = c.kv_used;
    load.waiting_requests = 2;
    EXPECT_EQ(ClassifyActiveLoad(load), c.origin)
        << c.decode.has_value() << c.prefill.has_value() << c.kv_used.has_value();
  }
}

TEST(ActiveLoadTest, ARecordWithoutALoadFigureIsDroppedAsMissing) {
  const Decoded<ActiveLoad> decoded = DecodeActiveLoad(Map({{"worker_id", U(42)},
                                                            {"dp_rank", U(1)},
                                                            {"active_decode_blocks", Nil()},
                                                            {"active_prefill_tokens", Nil()},
                                                            {"kv_used_blocks", Nil()},
                                                            {"waiting_requests", U(3)}}));
  EXPECT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.unit, (WorkerKey{42, 1}));
}

TEST(ActiveLoadTest, RouterAndWorkerRecordsAboutOneUnitShareItsKey) {
  const Decoded<ActiveLoad> worker = DecodeActiveLoad(Map(WorkerFields()));
  const Decoded<ActiveLoad> router = DecodeActiveLoad(Map({{"worker_id", U(42)},
                                                           {"dp_rank", U(2)},
                                                           {"active_decode_blocks", U(10)},
                                                           {"active_prefill_tokens", U(512)},
                                                           {"kv_used_blocks", Nil()}}));
  ASSERT_TRUE(worker.ok() && router.ok());
  EXPECT_EQ(worker.record->origin, ActiveLoadOrigin::kWorker);
  EXPECT_EQ(router.record->origin, ActiveLoadOrigin::kRouter);
  EXPECT_EQ(worker.record->key(), router.record->key());
}

// ---- Bad input -----------------------------------------------------------------

TEST(ActiveLoadTest, WorkerIdIsRequiredAndUnsigned) {
  Fields fields = WorkerFields();
  fields.erase(fields.begin());
  Decoded<ActiveLoad> decoded = DecodeActiveLoad(Map(fields));
  EXPECT_EQ(decoded.reason, DropReason::kMissingField);
  EXPECT_EQ(decoded.detail, "no worker_id");
  EXPECT_FALSE(decoded.unit.has_value());

  decoded = DecodeActiveLoad(Map(Replace(WorkerFields(), "worker_id", I(-42))));
  EXPECT_EQ(decoded.reason, DropReason::kBadWorkerId);
  EXPECT_FALSE(decoded.unit.has_value());
  decoded = DecodeActiveLoad(Map(Replace(WorkerFields(), "worker_id", I(INT64_MIN))));
  EXPECT_EQ(decoded.reason, DropReason::kBadWorkerId);

  for (const std::string& value :
       {Nil(), Pack().Str("42").Bytes(), Pack().Double(42.0).Bytes(), Pack().Bool(true).Bytes()}) {
    decoded = DecodeActiveLoad(Map(Replace(WorkerFields(), "worker_id", value)));
    EXPECT_EQ(decoded.reason, DropReason::kWrongType);
    EXPECT_FALSE(decoded.unit.has_value());
  }
}

TEST(ActiveLoadTest, RankMustBeAnUnsigned32BitInteger) {
  Decoded<ActiveLoad> decoded =
      DecodeActiveLoad(Map(Replace(WorkerFields(), "dp_rank", U(uint64_t{UINT32_MAX} + 1))));
  EXPECT_EQ(decoded.reason, DropReason::kOutOfRange);
  EXPECT_EQ(decoded.detail, "dp_rank is beyond 32 bits");
  EXPECT_EQ(decoded.unit, (WorkerKey{42, std::nullopt}));
  for (const std::string& value : {I(-1), Nil(), Pack().Double(1.0).Bytes()}) {
    decoded = DecodeActiveLoad(Map(Replace(WorkerFields(), "dp_rank", value)));
    EXPECT_EQ(decoded.reason, DropReason::kWrongType);
    EXPECT_EQ(decoded.unit, (WorkerKey{42, std::nullopt}));
  }
}

TEST(ActiveLoadTest, EveryLoadFieldOfTheWrongTypeDropsTheRecordNamingItsUnit) {
  for (const char* key :
       {"active_decode_blocks", "active_prefill_tokens", "kv_used_blocks", "waiting_requests"}) {
    for (const std::string& value :
         {I(-1), Pack().Double(2.5).Bytes(), Pack().Str("5").Bytes(), Pack().Array(0).Bytes()}) {
      const Decoded<ActiveLoad> decoded =
          DecodeActiveLoad(Map(Replace(WorkerFields(), key, value)));
      EXPECT_FALSE(decoded.ok()) << key;
      EXPECT_EQ(decoded.reason, DropReason::kWrongType) << key;
      EXPECT_EQ(decoded.unit, (WorkerKey{42, 2})) << key;
      EXPECT_NE(decoded.detail.find(key), std::string_view::npos) << decoded.detail;
    }
  }
}

TEST(ActiveLoadTest, APayloadThatIsNoMapIsWrongType) {
  // Positional encoding (rmp_serde::to_vec), which Dynamo does not use.
  const std::string array = Pack().Array(4).Unsigned(42).Unsigned(0).Unsigned(5).Nil().Bytes();
  EXPECT_EQ(DecodeActiveLoad(array).reason, DropReason::kWrongType);
  EXPECT_EQ(DecodeActiveLoad(U(42)).reason, DropReason::kWrongType);
}

TEST(ActiveLoadTest, TruncatedPayloadsAreMalformed) {
  const std::string bytes = ReadHexFixture("activeload_v3_router.payload.hex");
  for (size_t size = 0; size < bytes.size(); ++size) {
    const Decoded<ActiveLoad> decoded = DecodeActiveLoad(bytes.substr(0, size));
    EXPECT_EQ(decoded.reason, DropReason::kMalformedMsgpack) << size;
  }
}

TEST(ActiveLoadTest, ADepthBombInAnUnknownFieldIsOversized) {
  Fields fields = WorkerFields();
  fields.push_back({"nested", std::string(100000, '\x91') + '\xc0'});
  EXPECT_EQ(DecodeActiveLoad(Map(fields)).reason, DropReason::kOversized);
}

TEST(ActiveLoadTest, AHugeDeclaredStringIsMalformed) {
  Fields fields = WorkerFields();
  fields.push_back({"note", std::string("\xdb\x7f\xff\xff\xff", 5) + "abc"});  // str32 of 2 GiB
  EXPECT_EQ(DecodeActiveLoad(Map(fields)).reason, DropReason::kMalformedMsgpack);
}

}  // namespace
}  // namespace mk::dynamo
