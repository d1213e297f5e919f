#include "dynamo/discovery_records.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

namespace mk::dynamo {
namespace {

constexpr uint64_t kWorker = 0x694d9a3f1e2b7c05;      // 7587890543068937221
constexpr uint64_t kPublisher = 0xf3a5c9e1d2b47;      // 4286294114773831
constexpr uint64_t kNatsPublisher = 0x3c0ffee123457;  // 1056630373495895

constexpr std::string_view kInstanceKey = "v1/instances/dynamo/backend/generate/694d9a3f1e2b7c05";
constexpr std::string_view kCardKey = "v1/mdc/dynamo/backend/generate/694d9a3f1e2b7c05";
constexpr std::string_view kFlatKey =
    "v1/event_channels/dynamo/backend/kv_metrics/694d9a3f1e2b7c05";
constexpr std::string_view kScopedKey =
    "v1/event_channels/namespace/dynamo/component/backend/endpoint/generate/topic/kv_metrics/"
    "f3a5c9e1d2b47";
constexpr std::string_view kScopedNatsKey =
    "v1/event_channels/namespace/dynamo/component/backend/topic/forward-pass-metrics/"
    "3c0ffee123457";

std::string ReadFixture(const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/discovery/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` with the first `from` replaced by `to`; fails the test when `from` is absent.
std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "no '" << from << "' in " << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

DiscoveryKey KeyOf(std::string_view text) {
  const Decoded<DiscoveryKey> parsed = ParseDiscoveryKey(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.detail;
  return parsed.ok() ? *parsed.record : DiscoveryKey{};
}

void ExpectKeyDropped(std::string_view text, DropReason reason) {
  const Decoded<DiscoveryKey> parsed = ParseDiscoveryKey(text);
  EXPECT_FALSE(parsed.ok()) << "kept: " << text;
  if (parsed.ok()) return;
  EXPECT_EQ(DropReasonName(parsed.reason), DropReasonName(reason)) << text << ": " << parsed.detail;
  EXPECT_FALSE(parsed.detail.empty());
}

// ---------------------------------------------------------------------------------
// Keys

TEST(DiscoveryKeyTest, V1InstanceKey) {
  const DiscoveryKey key = KeyOf(kInstanceKey);
  EXPECT_EQ(key.kind, DiscoveryKind::kInstance);
  EXPECT_EQ(key.layout, DiscoveryLayout::kV1);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_EQ(key.component, "backend");
  EXPECT_EQ(key.endpoint, "generate");
  EXPECT_EQ(key.instance_id, kWorker);
  EXPECT_TRUE(key.topic.empty());
  EXPECT_FALSE(key.scope.has_value());
}

TEST(DiscoveryKeyTest, ModelCardKeyWithAndWithoutLora) {
  DiscoveryKey key = KeyOf(kCardKey);
  EXPECT_EQ(key.kind, DiscoveryKind::kModelCard);
  EXPECT_EQ(key.endpoint, "generate");
  EXPECT_EQ(key.instance_id, kWorker);
  EXPECT_TRUE(key.lora.empty());

  key = KeyOf("v1/mdc/dynamo/backend/generate/1a/my-adapter");
  EXPECT_EQ(key.instance_id, 0x1au);
  EXPECT_EQ(key.lora, "my-adapter");
  key = KeyOf("v1/mdc/dynamo/backend/generate/1a/org/adapter");
  EXPECT_EQ(key.lora, "org/adapter");
}

TEST(DiscoveryKeyTest, FlatEventChannelKey) {
  const DiscoveryKey key = KeyOf(kFlatKey);
  EXPECT_EQ(key.kind, DiscoveryKind::kEventChannel);
  EXPECT_EQ(key.layout, DiscoveryLayout::kV1);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_EQ(key.component, "backend");
  EXPECT_TRUE(key.endpoint.empty());
  EXPECT_EQ(key.topic, "kv_metrics");
  EXPECT_FALSE(key.scope.has_value());
  EXPECT_EQ(key.instance_id, kWorker);
  // A namespace named "namespace" in the flat layout is still the flat layout.
  EXPECT_EQ(KeyOf("v1/event_channels/namespace/backend/kv_metrics/1a").dynamo_namespace,
            "namespace");
}

TEST(DiscoveryKeyTest, ScopedEventChannelKeysOfEveryScope) {
  DiscoveryKey key = KeyOf(kScopedKey);
  EXPECT_EQ(key.kind, DiscoveryKind::kEventChannel);
  EXPECT_EQ(key.layout, DiscoveryLayout::kV1Scoped);
  EXPECT_EQ(key.scope, ChannelScope::kEndpoint);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_EQ(key.component, "backend");
  EXPECT_EQ(key.endpoint, "generate");
  EXPECT_EQ(key.topic, "kv_metrics");
  EXPECT_EQ(key.instance_id, kPublisher);

  key = KeyOf(kScopedNatsKey);
  EXPECT_EQ(key.scope, ChannelScope::kComponent);
  EXPECT_EQ(key.component, "backend");
  EXPECT_TRUE(key.endpoint.empty());
  EXPECT_EQ(key.topic, "forward-pass-metrics");
  EXPECT_EQ(key.instance_id, kNatsPublisher);

  key = KeyOf("v1/event_channels/namespace/dynamo/topic/kv_metrics/1a");
  EXPECT_EQ(key.scope, ChannelScope::kNamespace);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_TRUE(key.component.empty());
  EXPECT_EQ(key.topic, "kv_metrics");
  // Words of the layout may be names too, once encoded or in their place.
  key = KeyOf("v1/event_channels/namespace/topic/component/component/topic/topic/1a");
  EXPECT_EQ(key.dynamo_namespace, "topic");
  EXPECT_EQ(key.component, "component");
  EXPECT_EQ(key.topic, "topic");
}

TEST(DiscoveryKeyTest, ScopedSegmentsArePercentDecoded) {
  const DiscoveryKey key = KeyOf(
      "v1/event_channels/namespace/prod%2Ev2%2Fx%20y/component/a%2eb/endpoint/gen%3A1/topic/"
      "kv%5Fmetrics/1a");
  EXPECT_EQ(key.dynamo_namespace, "prod.v2/x y");
  EXPECT_EQ(key.component, "a.b");  // lowercase hex digits are read too
  EXPECT_EQ(key.endpoint, "gen:1");
  EXPECT_EQ(key.topic, "kv_metrics");
  // The other layouts are taken as they stand.
  EXPECT_EQ(KeyOf("v1/instances/prod%2Ev2/backend/generate/1a").dynamo_namespace, "prod%2Ev2");
}

TEST(DiscoveryKeyTest, PercentEncodingIsTheFixtureExample) {
  EXPECT_EQ(PercentEncodeSegment("prod.v2/x y"), "prod%2Ev2%2Fx%20y");
  EXPECT_EQ(PercentEncodeSegment("Az09_-"), "Az09_-");
  EXPECT_EQ(PercentEncodeSegment(std::string_view("\xff\x00", 2)), "%FF%00");
  EXPECT_EQ(PercentDecodeSegment("prod%2Ev2%2Fx%20y"), "prod.v2/x y");
  EXPECT_EQ(PercentDecodeSegment("%ff%00"), std::string("\xff\x00", 2));
  EXPECT_FALSE(PercentDecodeSegment("a%2").has_value());
  EXPECT_FALSE(PercentDecodeSegment("a%").has_value());
  EXPECT_FALSE(PercentDecodeSegment("%zz").has_value());
}

TEST(DiscoveryKeyTest, Layouts2025) {
  DiscoveryKey key = KeyOf("instances/dynamo/backend/generate:694d9a3f1e2b7c05");
  EXPECT_EQ(key.kind, DiscoveryKind::kInstance);
  EXPECT_EQ(key.layout, DiscoveryLayout::kInstances2025);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_EQ(key.component, "backend");
  EXPECT_EQ(key.endpoint, "generate");
  EXPECT_EQ(key.instance_id, kWorker);

  key = KeyOf("dynamo/components/backend/generate:694d9a3f1e2b7c05");
  EXPECT_EQ(key.layout, DiscoveryLayout::kComponents2025);
  EXPECT_EQ(key.dynamo_namespace, "dynamo");
  EXPECT_EQ(key.component, "backend");
  EXPECT_EQ(key.endpoint, "generate");
  EXPECT_EQ(key.instance_id, kWorker);

  // A negative lease, printed as its two's complement; an endpoint with a ':'.
  key = KeyOf("instances/dynamo/backend/a:b:ffffffffffffff9c");
  EXPECT_EQ(key.endpoint, "a:b");
  EXPECT_EQ(key.instance_id, 0xffffffffffffff9cu);
  // A namespace named v1 in the oldest layout.
  key = KeyOf("v1/components/backend/generate:1a");
  EXPECT_EQ(key.layout, DiscoveryLayout::kComponents2025);
  EXPECT_EQ(key.dynamo_namespace, "v1");
  // Both 2025 layouts fit: the newer one is meant.
  key = KeyOf("instances/components/backend/generate:1a");
  EXPECT_EQ(key.layout, DiscoveryLayout::kInstances2025);
  EXPECT_EQ(key.dynamo_namespace, "components");
}

TEST(DiscoveryKeyTest, KeysOfNoLayoutAreDroppedWithAReason) {
  for (std::string_view text :
       {"",
        "/",
        "v1",
        "v1/",
        "v1/instances/dynamo/backend/generate",
        "v1/instances/dynamo/backend/generate/1a/extra",
        "v1/kv_routers/dynamo/backend/1a",
        "models/dynamo/x",
        "v1/instances/dynamo//generate/1a",
        "v1/instances/dynamo/backend/generate/1a/",
        "/v1/instances/dynamo/backend/generate/1a",
        "v1/event_channels/dynamo/backend/1a",
        "v1/event_channels/namespace/dynamo/topic/kv/x/1a",
        "v1/event_channels/namespace/dynamo/kv_metrics/x/1a",
        "v1/event_channels/namespace/dynamo/component/backend/kv_metrics/1a/x",
        "v1/event_channels/namespace/dynamo/component/backend/endpoint/generate/topic/t",
        "v1/event_channels/namespace/dyn%2/topic/kv_metrics/1a",
        "v1/event_channels/namespace/dynamo/topic/kv%zzmetrics/1a",
        "v1/event_channels/cluster/dynamo/topic/kv_metrics/1a/x",
        "instances/dynamo/backend/generate",
        "instances/dynamo/backend/:1a",
        "instances/dynamo/generate:1a",
        "dynamo/components/backend/generate",
        "dynamo/component/backend/generate:1a"}) {
    ExpectKeyDropped(text, DropReason::kUnknownKey);
  }
}

TEST(DiscoveryKeyTest, IdsThatAreNotLowercaseHexAreBadWorkerIds) {
  for (std::string_view id :
       {"694D9A3F1E2B7C05", "1694d9a3f1e2b7c05", "xyz", "0x1a", "-1", " 1a"}) {
    ExpectKeyDropped("v1/instances/dynamo/backend/generate/" + std::string(id),
                     DropReason::kBadWorkerId);
    ExpectKeyDropped("v1/event_channels/namespace/dynamo/topic/kv_metrics/" + std::string(id),
                     DropReason::kBadWorkerId);
    ExpectKeyDropped("instances/dynamo/backend/generate:" + std::string(id),
                     DropReason::kBadWorkerId);
  }
  ExpectKeyDropped("dynamo/components/backend/generate:", DropReason::kBadWorkerId);
}

TEST(DiscoveryKeyTest, OversizedKeysAreDropped) {
  const std::string prefix = "v1/mdc/dynamo/backend/generate/1a/";
  std::string key = prefix + std::string(kMaxDiscoveryKeyBytes - prefix.size(), 'x');
  EXPECT_TRUE(ParseDiscoveryKey(key).ok());
  key.push_back('x');
  ExpectKeyDropped(key, DropReason::kOversized);
}

TEST(DiscoveryKeyTest, KeyTextIsDynamosKeyAndRoundTrips) {
  for (std::string_view text : {kInstanceKey, kCardKey, kFlatKey, kScopedKey, kScopedNatsKey}) {
    EXPECT_EQ(DiscoveryKeyText(KeyOf(text)), text);
  }
  for (std::string_view text :
       {"v1/mdc/dynamo/backend/generate/1a/org/adapter",
        "v1/event_channels/namespace/prod%2ev2%2Fx%20y/topic/kv_metrics/0",
        "v1/event_channels/namespace/a%2Eb/component/c/endpoint/e/topic/t/1a",
        "instances/dynamo/backend/a:b:ffffffffffffff9c", "v1/components/backend/generate:1a",
        "v1/event_channels/namespace/backend/kv_metrics/1a"}) {
    const DiscoveryKey key = KeyOf(text);
    EXPECT_EQ(KeyOf(DiscoveryKeyText(key)), key) << text << " -> " << DiscoveryKeyText(key);
  }
  EXPECT_EQ(DiscoveryKeyText(KeyOf("v1/event_channels/namespace/prod%2ev2%2Fx%20y/topic/t/0")),
            "v1/event_channels/namespace/prod%2Ev2%2Fx%20y/topic/t/0");
}

// ---------------------------------------------------------------------------------
// Values

template <typename Record>
void ExpectDropped(const Decoded<Record>& decoded, DropReason reason, std::string_view about) {
  EXPECT_FALSE(decoded.ok()) << "kept: " << about;
  if (decoded.ok()) return;
  EXPECT_EQ(DropReasonName(decoded.reason), DropReasonName(reason))
      << about << ": " << decoded.detail;
  EXPECT_FALSE(decoded.detail.empty()) << about;
}

class DiscoveryValueTest : public ::testing::Test {
 protected:
  Decoded<InstanceRecord> Instance(std::string_view key, std::string_view value) {
    return decoder_.DecodeInstance(KeyOf(key), value);
  }
  Decoded<ModelCardRecord> Card(std::string_view value, std::string_view key = kCardKey) {
    return decoder_.DecodeModelCard(KeyOf(key), value);
  }
  Decoded<EventChannelRecord> Channel(std::string_view key, std::string_view value) {
    return decoder_.DecodeEventChannel(KeyOf(key), value);
  }

  DiscoveryRecordDecoder decoder_;
  const std::string instance_ = ReadFixture("etcd_v1_instances.value.json");
  const std::string card_ = ReadFixture("etcd_v1_mdc.value.json");
  const std::string flat_ = ReadFixture("etcd_v1_event_channels_flat.value.json");
  const std::string scoped_ = ReadFixture("etcd_v1_event_channels_scoped.value.json");
  const std::string scoped_nats_ = ReadFixture("etcd_v1_event_channels_scoped_nats.value.json");
};

TEST_F(DiscoveryValueTest, EveryFixtureKeyDecodesWithItsValue) {
  // The keys file maps each key to the file of its value.
  simdjson::dom::parser parser;
  simdjson::dom::element keys_file =
      parser.load(std::string(MK_TEST_DATA_DIR) + "/discovery/etcd_keys_and_subjects.json");
  simdjson::dom::object keys;
  ASSERT_EQ(keys_file["keys"].get(keys), simdjson::SUCCESS);
  size_t count = 0;
  for (auto [key, file] : keys) {
    std::string_view file_name;
    ASSERT_EQ(file.get(file_name), simdjson::SUCCESS);
    const Decoded<DiscoveryRecord> decoded =
        decoder_.Decode(key, ReadFixture(std::string(file_name)));
    EXPECT_TRUE(decoded.ok()) << key << ": " << decoded.detail;
    EXPECT_EQ(decoded.ignored.Total(), 0u) << key;
    ++count;
  }
  EXPECT_EQ(count, 5u);
}

TEST_F(DiscoveryValueTest, InstanceFixture) {
  const Decoded<InstanceRecord> decoded = Instance(kInstanceKey, instance_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const InstanceRecord& record = *decoded.record;
  EXPECT_EQ(record.dynamo_namespace, "dynamo");
  EXPECT_EQ(record.component, "backend");
  EXPECT_EQ(record.endpoint, "generate");
  EXPECT_EQ(record.instance_id, kWorker);
  EXPECT_EQ(record.transport_kind, "tcp");
  EXPECT_EQ(record.transport_address, "10.0.3.17:36151/694d9a3f1e2b7c05/generate");
  EXPECT_EQ(decoded.ignored.Total(), 0u);
}

TEST_F(DiscoveryValueTest, Instance2025LayoutsTakeASignedIdAsItsTwosComplement) {
  const std::string value =
      R"({"component":"backend","endpoint":"generate","namespace":"dynamo",)"
      R"("instance_id":-100,"transport":{"nats_tcp":"dynamo_backend.generate-ffffffffffffff9c"}})";
  Decoded<InstanceRecord> decoded =
      Instance("instances/dynamo/backend/generate:ffffffffffffff9c", value);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->instance_id, 0xffffffffffffff9cu);
  EXPECT_EQ(decoded.record->transport_kind, "nats_tcp");
  EXPECT_EQ(decoded.record->transport_address, "dynamo_backend.generate-ffffffffffffff9c");
  // The most negative lease, and a tag where one is given.
  decoded = Instance("instances/dynamo/backend/generate:8000000000000000",
                     Replace(value, "-100", "-9223372036854775808"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->instance_id, 0x8000000000000000u);
  EXPECT_TRUE(Instance("instances/dynamo/backend/generate:ffffffffffffff9c",
                       Replace(value, "{", R"({"type":"Endpoint",)"))
                  .ok());
  // The oldest layout, whose records name the id lease_id.
  decoded = Instance("dynamo/components/backend/generate:ffffffffffffff9c",
                     Replace(value, "instance_id", "lease_id"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->instance_id, 0xffffffffffffff9cu);
  // The id must still agree with the key's.
  ExpectDropped(Instance("instances/dynamo/backend/generate:64", value), DropReason::kKeyMismatch,
                "-100 under lease 0x64");
  // lease_id is no field of the May - Oct 2025 layout.
  ExpectDropped(Instance("instances/dynamo/backend/generate:ffffffffffffff9c",
                         Replace(value, "instance_id", "lease_id")),
                DropReason::kMissingField, "lease_id in the 2025 instances layout");
}

TEST_F(DiscoveryValueTest, InstanceV1IdsAreUnsigned) {
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "7587890543068937221", "-1")),
                DropReason::kBadWorkerId, "negative v1 instance_id");
  ExpectDropped(
      Instance(kInstanceKey, Replace(instance_, "7587890543068937221", "18446744073709551616")),
      DropReason::kOutOfRange, "instance_id beyond 64 bits");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "7587890543068937221", "1.5")),
                DropReason::kWrongType, "fractional instance_id");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "7587890543068937221", "\"7\"")),
                DropReason::kWrongType, "string instance_id");
}

TEST_F(DiscoveryValueTest, InstanceTagAndIdentityMustAgreeWithTheKey) {
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, R"("type":"Endpoint",)", "")),
                DropReason::kMissingField, "v1 record without type");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"Endpoint\"", "\"Model\"")),
                DropReason::kKeyMismatch, "a Model at an instance key");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"Endpoint\"", "7")),
                DropReason::kWrongType, "type not a string");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"dynamo\"", "\"other\"")),
                DropReason::kKeyMismatch, "namespace");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"backend\"", "\"other\"")),
                DropReason::kKeyMismatch, "component");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"generate\"", "\"other\"")),
                DropReason::kKeyMismatch, "endpoint");
  ExpectDropped(
      Instance(kInstanceKey, Replace(instance_, "7587890543068937221", "7587890543068937222")),
      DropReason::kKeyMismatch, "instance_id");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, R"("endpoint":"generate",)", "")),
                DropReason::kMissingField, "no endpoint");
  ExpectDropped(
      Instance(kInstanceKey, Replace(instance_, R"("endpoint":"generate")", R"("endpoint":null)")),
      DropReason::kMissingField, "null endpoint");
  ExpectDropped(
      Instance(kInstanceKey, Replace(instance_, R"("instance_id":7587890543068937221,)", "")),
      DropReason::kMissingField, "no instance_id");
  ExpectDropped(Instance(kInstanceKey, Replace(instance_, "\"backend\"", "[]")),
                DropReason::kWrongType, "component an array");
}

TEST_F(DiscoveryValueTest, InstanceTransportOfAnotherShapeIsIgnored) {
  for (std::string_view transport : {R"("x")", R"({})", R"({"tcp":1})", R"({"tcp":"a","b":"c"})"}) {
    const std::string value =
        Replace(instance_, R"({"tcp":"10.0.3.17:36151/694d9a3f1e2b7c05/generate"})", transport);
    const Decoded<InstanceRecord> decoded = Instance(kInstanceKey, value);
    ASSERT_TRUE(decoded.ok()) << transport << ": " << decoded.detail;
    EXPECT_TRUE(decoded.record->transport_kind.empty()) << transport;
    EXPECT_TRUE(decoded.record->transport_address.empty()) << transport;
    EXPECT_EQ(decoded.ignored.Get(DropReason::kWrongType), 1u) << transport;
  }
  const Decoded<InstanceRecord> without =
      Instance(kInstanceKey,
               Replace(instance_,
                       R"(,"transport":{"tcp":"10.0.3.17:36151/694d9a3f1e2b7c05/generate"})", ""));
  ASSERT_TRUE(without.ok()) << without.detail;
  EXPECT_EQ(without.ignored.Total(), 0u);
}

TEST_F(DiscoveryValueTest, MalformedAndOversizedValues) {
  for (std::string_view value : {"", "[]", "null", "{", R"({"type":"Endpoint"} {})",
                                 R"({"type":"Endpoint"}x)", R"({"type":"Endp)"}) {
    ExpectDropped(Instance(kInstanceKey, value), DropReason::kMalformedJson, value);
  }
  std::string big = Replace(instance_, "{", R"({"padding":")");
  big = Replace(big, R"("type")", std::string(kMaxDiscoveryValueBytes, 'x') + R"(","type")");
  ExpectDropped(Instance(kInstanceKey, big), DropReason::kOversized, "a value over 1 MiB");
  // Exactly at the bound is read.
  auto padded = [&](size_t n) {
    std::string value = Replace(instance_, "{", R"({"padding":")");
    return Replace(value, R"("type")", std::string(n, 'x') + R"(","type")");
  };
  const std::string fits = padded(kMaxDiscoveryValueBytes - padded(0).size());
  EXPECT_EQ(fits.size(), kMaxDiscoveryValueBytes);
  EXPECT_TRUE(Instance(kInstanceKey, fits).ok());
}

TEST_F(DiscoveryValueTest, DroppedRecordsNameTheWorkerTheirKeyNames) {
  const Decoded<InstanceRecord> instance = Instance(kInstanceKey, "{");
  ASSERT_TRUE(instance.unit.has_value());
  EXPECT_EQ(instance.unit->lease_id, kWorker);
  EXPECT_FALSE(instance.unit->dp_rank.has_value());
  EXPECT_EQ(Channel(kFlatKey, "{").unit, (WorkerKey{kWorker, std::nullopt}));
  // A scoped channel's id is a publisher's, not a worker's.
  EXPECT_FALSE(Channel(kScopedKey, "{").unit.has_value());
}

TEST_F(DiscoveryValueTest, ModelCardFixture) {
  const Decoded<ModelCardRecord> decoded = Card(card_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const ModelCardRecord& card = *decoded.record;
  EXPECT_EQ(card.dynamo_namespace, "dynamo");
  EXPECT_EQ(card.component, "backend");
  EXPECT_EQ(card.endpoint, "generate");
  EXPECT_EQ(card.instance_id, kWorker);
  EXPECT_EQ(card.display_name, "Qwen/Qwen3-0.6B");
  EXPECT_EQ(card.kv_cache_block_size, 16u);
  EXPECT_EQ(card.runtime.total_kv_blocks, 16384u);
  EXPECT_EQ(card.runtime.max_num_seqs, 256u);
  EXPECT_EQ(card.runtime.max_num_batched_tokens, 8192u);
  EXPECT_EQ(card.runtime.data_parallel_start_rank, 0u);
  EXPECT_EQ(card.runtime.data_parallel_size, 1u);
  EXPECT_TRUE(card.lora.empty());
  EXPECT_EQ(decoded.ignored.Total(), 0u);

  const Decoded<ModelCardRecord> lora =
      Card(card_, "v1/mdc/dynamo/backend/generate/694d9a3f1e2b7c05/my-adapter");
  ASSERT_TRUE(lora.ok()) << lora.detail;
  EXPECT_EQ(lora.record->lora, "my-adapter");
}

TEST_F(DiscoveryValueTest, ModelCardRuntimeFiguresAreOptional) {
  std::string value = Replace(card_, R"("total_kv_blocks": 16384)", R"("total_kv_blocks": null)");
  value = Replace(value, R"("data_parallel_size": 1,)", "");
  Decoded<ModelCardRecord> decoded = Card(value);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_FALSE(decoded.record->runtime.total_kv_blocks.has_value());
  EXPECT_FALSE(decoded.record->runtime.data_parallel_size.has_value());
  EXPECT_EQ(decoded.record->runtime.max_num_seqs, 256u);

  const size_t start = card_.find("\"runtime_config\"");
  const size_t end = card_.find('}', start) + 1;
  for (std::string_view replacement :
       {R"("runtime_config": null)", R"("runtime_config": {})", R"("x": 1)"}) {
    std::string without = card_;
    without.replace(start, end - start, replacement);
    decoded = Card(without);
    ASSERT_TRUE(decoded.ok()) << replacement << ": " << decoded.detail;
    EXPECT_EQ(decoded.record->runtime, RuntimeConfig{}) << replacement;
    EXPECT_EQ(decoded.record->kv_cache_block_size, 16u);
  }
}

TEST_F(DiscoveryValueTest, ModelCardBadFigures) {
  struct Case {
    std::string_view from, to;
    DropReason reason;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"("total_kv_blocks": 16384)", R"("total_kv_blocks": "16384")", DropReason::kWrongType},
           {R"("total_kv_blocks": 16384)", R"("total_kv_blocks": -1)", DropReason::kWrongType},
           {R"("total_kv_blocks": 16384)", R"("total_kv_blocks": 1.5)", DropReason::kWrongType},
           {R"("total_kv_blocks": 16384)", R"("total_kv_blocks": 18446744073709551616)",
            DropReason::kOutOfRange},
           {R"("max_num_seqs": 256)", R"("max_num_seqs": true)", DropReason::kWrongType},
           {R"("data_parallel_size": 1)", R"("data_parallel_size": 0)", DropReason::kOutOfRange},
           {R"("data_parallel_size": 1)", R"("data_parallel_size": 4294967296)",
            DropReason::kOutOfRange},
           {R"("data_parallel_start_rank": 0)", R"("data_parallel_start_rank": 4294967296)",
            DropReason::kOutOfRange},
           {R"("kv_cache_block_size": 16)", R"("kv_cache_block_size": 0)", DropReason::kOutOfRange},
           {R"("kv_cache_block_size": 16)", R"("kv_cache_block_size": 4294967296)",
            DropReason::kOutOfRange},
           {R"("kv_cache_block_size": 16,)", "", DropReason::kMissingField},
           {R"("kv_cache_block_size": 16)", R"("kv_cache_block_size": null)",
            DropReason::kMissingField},
           {R"("runtime_config": {)", R"("runtime_config": [], "x": {)", DropReason::kWrongType},
           {R"("card_json": {)", R"("card_json": 1, "x": {)", DropReason::kWrongType},
           {R"("card_json": {)", R"("card_json": null, "x": {)", DropReason::kMissingField},
           {R"("type": "Model")", R"("type": "Endpoint")", DropReason::kKeyMismatch},
           {R"("endpoint": "generate")", R"("endpoint": "other")", DropReason::kKeyMismatch},
           {R"("instance_id": 7587890543068937221)", R"("instance_id": 1)",
            DropReason::kKeyMismatch},
       }) {
    ExpectDropped(Card(Replace(card_, c.from, c.to)), c.reason, c.to);
  }
  EXPECT_EQ(Card(Replace(card_, R"("card_json": {)", R"("card_json": null, "x": {)")).detail,
            "no card_json");
  // A bad display name is left out and counted, never a drop.
  const Decoded<ModelCardRecord> decoded = Card(Replace(card_, R"("Qwen/Qwen3-0.6B")", "[1]"));
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_TRUE(decoded.record->display_name.empty());
  EXPECT_EQ(decoded.ignored.Get(DropReason::kWrongType), 1u);
}

TEST_F(DiscoveryValueTest, FlatEventChannelFixture) {
  const Decoded<EventChannelRecord> decoded = Channel(kFlatKey, flat_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  const EventChannelRecord& channel = *decoded.record;
  EXPECT_EQ(channel.dynamo_namespace, "dynamo");
  EXPECT_EQ(channel.component, "backend");
  EXPECT_TRUE(channel.endpoint.empty());
  EXPECT_FALSE(channel.scope.has_value());
  EXPECT_EQ(channel.topic, "kv_metrics");
  EXPECT_EQ(channel.instance_id, kWorker);
  EXPECT_EQ(channel.transport, ChannelTransport::kZmq);
  EXPECT_EQ(channel.zmq_endpoint, "tcp://10.0.3.17:45113");

  ExpectDropped(Channel(kFlatKey, Replace(flat_, R"("component": "backend",)", "")),
                DropReason::kMissingField, "flat channel without component");
  // A namespace-scoped channel: an empty component, in the key and the record.
  std::string namespace_key(kFlatKey);
  namespace_key.replace(namespace_key.find("/backend/"), 9, "//");
  const Decoded<EventChannelRecord> whole_namespace =
      Channel(namespace_key, Replace(flat_, R"("component": "backend")", R"("component": "")"));
  ASSERT_TRUE(whole_namespace.ok()) << whole_namespace.detail;
  EXPECT_TRUE(whole_namespace.record->component.empty());
  ExpectDropped(
      Channel(kFlatKey, Replace(flat_, R"("topic": "kv_metrics")", R"("topic": "other")")),
      DropReason::kKeyMismatch, "topic");
  ExpectDropped(Channel(kFlatKey, Replace(flat_, R"("topic": "kv_metrics",)", "")),
                DropReason::kMissingField, "no topic");
  ExpectDropped(Channel(kFlatKey, Replace(flat_, "\"EventChannel\"", "\"Endpoint\"")),
                DropReason::kKeyMismatch, "an Endpoint at a channel key");
}

TEST_F(DiscoveryValueTest, ScopedEventChannelFixtures) {
  Decoded<EventChannelRecord> decoded = Channel(kScopedKey, scoped_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->scope, ChannelScope::kEndpoint);
  EXPECT_EQ(decoded.record->dynamo_namespace, "dynamo");
  EXPECT_EQ(decoded.record->component, "backend");
  EXPECT_EQ(decoded.record->endpoint, "generate");
  EXPECT_EQ(decoded.record->topic, "kv_metrics");
  EXPECT_EQ(decoded.record->instance_id, kPublisher);
  EXPECT_EQ(decoded.record->transport, ChannelTransport::kZmq);
  EXPECT_EQ(decoded.record->zmq_endpoint, "tcp://10.0.3.17:45113");

  decoded = Channel(kScopedNatsKey, scoped_nats_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->scope, ChannelScope::kComponent);
  EXPECT_EQ(decoded.record->component, "backend");
  EXPECT_TRUE(decoded.record->endpoint.empty());
  EXPECT_EQ(decoded.record->topic, "forward-pass-metrics");
  EXPECT_EQ(decoded.record->instance_id, kNatsPublisher);
  EXPECT_EQ(decoded.record->transport, ChannelTransport::kNats);
  EXPECT_EQ(decoded.record->nats_subject_prefix, "namespace.dynamo.component.backend");
  EXPECT_TRUE(decoded.record->zmq_endpoint.empty());
}

TEST_F(DiscoveryValueTest, NamespaceScopeAndBrokerTransport) {
  const std::string value =
      R"({"type":"EventChannel","scope":{"kind":"namespace","namespace":"prod.v2"},)"
      R"("topic":"kv_metrics","instance_id":26,"transport":{"kind":"ZmqBroker"}})";
  const Decoded<EventChannelRecord> decoded =
      Channel("v1/event_channels/namespace/prod%2Ev2/topic/kv_metrics/1a", value);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_EQ(decoded.record->scope, ChannelScope::kNamespace);
  EXPECT_EQ(decoded.record->dynamo_namespace, "prod.v2");
  EXPECT_TRUE(decoded.record->component.empty());
  EXPECT_EQ(decoded.record->transport, ChannelTransport::kZmqBroker);
  EXPECT_TRUE(decoded.record->zmq_endpoint.empty());
  // The same record under a component-scoped key names another scope.
  ExpectDropped(
      Channel("v1/event_channels/namespace/prod%2Ev2/component/backend/topic/kv_metrics/1a", value),
      DropReason::kKeyMismatch, "namespace scope under a component key");
}

TEST_F(DiscoveryValueTest, ScopedEventChannelMustAgreeWithItsKey) {
  struct Case {
    std::string_view from, to;
    DropReason reason;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"("kind": "endpoint")", R"("kind": "cluster")", DropReason::kWrongType},
           {R"("kind": "endpoint")", R"("kind": 1)", DropReason::kWrongType},
           {R"("kind": "endpoint",)", "", DropReason::kMissingField},
           {R"("name": "generate")", R"("name": "other")", DropReason::kKeyMismatch},
           {R"("component": "backend")", R"("component": "other")", DropReason::kKeyMismatch},
           {R"("name": "generate")", R"("name": 7)", DropReason::kWrongType},
           {R"("name": "generate")", R"("x": 7)", DropReason::kMissingField},
           {R"("instance_id": 4286294114773831)", R"("instance_id": 7587890543068937221)",
            DropReason::kKeyMismatch},
           {R"("topic": "kv_metrics")", R"("topic": "forward-pass-metrics")",
            DropReason::kKeyMismatch},
           {R"("scope")", R"("x")", DropReason::kMissingField},
           {R"("scope")", R"("x": 1, "scope": 1, "y")", DropReason::kWrongType},
           {R"("type": "EventChannel",)", "", DropReason::kMissingField},
       }) {
    ExpectDropped(Channel(kScopedKey, Replace(scoped_, c.from, c.to)), c.reason, c.to);
  }
  // Another scope kind than the key's, each field agreeing otherwise.
  ExpectDropped(
      Channel("v1/event_channels/namespace/dynamo/topic/kv_metrics/1a",
              R"({"type":"EventChannel","scope":{"kind":"component","namespace":"dynamo",)"
              R"("component":""},"topic":"kv_metrics","instance_id":26,)"
              R"("transport":{"kind":"ZmqBroker"}})"),
      DropReason::kKeyMismatch, "component scope under a namespace key");
}

TEST_F(DiscoveryValueTest, ChannelTransports) {
  struct Case {
    std::string_view from, to;
    DropReason reason;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"("kind": "Zmq")", R"("kind": "Tcp")", DropReason::kWrongType},
           {R"("kind": "Zmq")", R"("kind": "zmq")", DropReason::kWrongType},
           {R"("kind": "Zmq",)", "", DropReason::kMissingField},
           {R"("transport")", R"("x")", DropReason::kMissingField},
           {R"("transport")", R"("x": 1, "transport": "Zmq", "y")", DropReason::kWrongType},
           {R"("endpoint": "tcp://10.0.3.17:45113")", R"("x": 1)", DropReason::kMissingField},
           {R"("endpoint": "tcp://10.0.3.17:45113")", R"("endpoint": 45113)",
            DropReason::kWrongType},
           {R"("config": {)", R"("config": 1, "x": {)", DropReason::kWrongType},
       }) {
    ExpectDropped(Channel(kFlatKey, Replace(flat_, c.from, c.to)), c.reason, c.to);
  }
  for (std::string_view endpoint :
       {"tcp://10.0.3.17", "tcp://10.0.3.17:", "tcp://10.0.3.17:0", "tcp://10.0.3.17:65536",
        "tcp://10.0.3.17:045113", "tcp://10.0.3.17:+4511", "tcp://10.0.3.256:45113",
        "tcp://10.0.3:45113", "tcp://host.example:45113", "tcp://:45113", "udp://10.0.3.17:45113",
        "10.0.3.17:45113", "tcp://::1:45113", "tcp://[10.0.3.17]:45113", "tcp://[::1:45113",
        "tcp:// 10.0.3.17:45113", "tcp://[fe80::1%eth0]:45113"}) {
    ExpectDropped(Channel(kFlatKey, Replace(flat_, "tcp://10.0.3.17:45113", endpoint)),
                  DropReason::kWrongType, endpoint);
  }
  for (std::string_view endpoint : {"tcp://0.0.0.0:1", "tcp://255.255.255.255:65535",
                                    "tcp://[::1]:45113", "tcp://[2001:db8::17]:45113"}) {
    const Decoded<EventChannelRecord> decoded =
        Channel(kFlatKey, Replace(flat_, "tcp://10.0.3.17:45113", endpoint));
    ASSERT_TRUE(decoded.ok()) << endpoint << ": " << decoded.detail;
    EXPECT_EQ(decoded.record->zmq_endpoint, endpoint);
  }
  // NATS needs no endpoint; a subject prefix of another type is left out and counted.
  const Decoded<EventChannelRecord> nats = Channel(
      kScopedNatsKey, Replace(scoped_nats_, R"("namespace.dynamo.component.backend")", "1"));
  ASSERT_TRUE(nats.ok()) << nats.detail;
  EXPECT_TRUE(nats.record->nats_subject_prefix.empty());
  EXPECT_EQ(nats.ignored.Get(DropReason::kWrongType), 1u);
}

TEST_F(DiscoveryValueTest, DecodeByKeyPicksTheRecordKind) {
  Decoded<DiscoveryRecord> decoded = decoder_.Decode(kCardKey, card_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_TRUE(std::holds_alternative<ModelCardRecord>(*decoded.record));
  decoded = decoder_.Decode(kInstanceKey, instance_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_TRUE(std::holds_alternative<InstanceRecord>(*decoded.record));
  decoded = decoder_.Decode(kScopedKey, scoped_);
  ASSERT_TRUE(decoded.ok()) << decoded.detail;
  EXPECT_TRUE(std::holds_alternative<EventChannelRecord>(*decoded.record));
  // A value at another kind's key, a key of no layout, a method of another kind.
  ExpectDropped(decoder_.Decode(kInstanceKey, card_), DropReason::kKeyMismatch, "card at instance");
  ExpectDropped(decoder_.Decode("v1/kv_routers/x", card_), DropReason::kUnknownKey, "no layout");
  ExpectDropped(decoder_.DecodeModelCard(KeyOf(kInstanceKey), card_), DropReason::kKeyMismatch,
                "DecodeModelCard of an instance key");
  // The decoder reuses its buffers: the same input gives the same answer.
  const Decoded<DiscoveryRecord> again = decoder_.Decode(kScopedKey, scoped_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(std::get<EventChannelRecord>(*again.record),
            std::get<EventChannelRecord>(*decoder_.Decode(kScopedKey, scoped_).record));
}

}  // namespace
}  // namespace mk::dynamo
