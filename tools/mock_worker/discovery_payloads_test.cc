// The simulated workers' etcd records against the project's discovery fixtures and the
// scaler's own key parser and record decoder (src/dynamo/discovery_records.h).
#include "mock_worker/discovery_payloads.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <variant>

#include "dynamo/discovery_records.h"

namespace mk::mock {
namespace {

using mk::dynamo::ChannelScope;
using mk::dynamo::ChannelTransport;
using mk::dynamo::DiscoveryRecordDecoder;
using mk::dynamo::EventChannelRecord;
using mk::dynamo::InstanceRecord;
using mk::dynamo::ModelCardRecord;

constexpr uint64_t kWorkerId = 0x694d9a3f1e2b7c05ULL;

const DiscoveryTarget kTarget{"dynamo", "backend", "generate"};

std::string ReadDiscoveryFile(const std::string& name) {
  const std::string path = std::string(MK_TEST_DATA_DIR) + "/discovery/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

template <typename Record>
Record DecodeAs(DiscoveryRecordDecoder& decoder, const std::string& key, const std::string& value) {
  const auto decoded = decoder.Decode(std::string_view(key), std::string_view(value));
  EXPECT_TRUE(decoded.ok()) << key << ": " << decoded.detail;
  if (!decoded.ok()) return Record{};
  EXPECT_TRUE(std::holds_alternative<Record>(*decoded.record)) << key;
  if (!std::holds_alternative<Record>(*decoded.record)) return Record{};
  EXPECT_EQ(decoded.ignored.Total(), 0u) << key;
  return std::get<Record>(*decoded.record);
}

TEST(InstanceEntry, KeyAndValueReadBackAsTheFixture) {
  const DiscoveryEntry entry = InstanceEntry(kTarget, kWorkerId, "dynamo_backend.generate-694d");
  EXPECT_EQ(entry.key, "v1/instances/dynamo/backend/generate/694d9a3f1e2b7c05");
  DiscoveryRecordDecoder decoder;
  const auto mine = DecodeAs<InstanceRecord>(decoder, entry.key, entry.value);
  const auto fixture = DecodeAs<InstanceRecord>(decoder, entry.key,
                                                ReadDiscoveryFile("etcd_v1_instances.value.json"));
  EXPECT_EQ(mine.dynamo_namespace, fixture.dynamo_namespace);
  EXPECT_EQ(mine.component, fixture.component);
  EXPECT_EQ(mine.endpoint, fixture.endpoint);
  EXPECT_EQ(mine.instance_id, kWorkerId);
  EXPECT_EQ(mine.transport_kind, "nats_tcp");
  EXPECT_EQ(mine.transport_address, "dynamo_backend.generate-694d");
}

TEST(ModelCardEntry, KeyAndFiguresReadBackAsTheFixture) {
  const DiscoveryEntry entry = ModelCardEntry(kTarget, kWorkerId, {16384, 256, 1});
  EXPECT_EQ(entry.key, "v1/mdc/dynamo/backend/generate/694d9a3f1e2b7c05");
  DiscoveryRecordDecoder decoder;
  const auto mine = DecodeAs<ModelCardRecord>(decoder, entry.key, entry.value);
  const auto fixture =
      DecodeAs<ModelCardRecord>(decoder, entry.key, ReadDiscoveryFile("etcd_v1_mdc.value.json"));
  EXPECT_EQ(mine.instance_id, kWorkerId);
  EXPECT_EQ(mine.kv_cache_block_size, 16u);
  EXPECT_EQ(mine.runtime, fixture.runtime);
  EXPECT_EQ(mine.display_name, "mock-model");
}

TEST(ModelCardEntry, DataParallelFiguresAndUnknownCapacity) {
  const DiscoveryEntry entry = ModelCardEntry(kTarget, 1, {0, 0, 4});
  DiscoveryRecordDecoder decoder;
  const auto card = DecodeAs<ModelCardRecord>(decoder, entry.key, entry.value);
  EXPECT_FALSE(card.runtime.total_kv_blocks.has_value());
  EXPECT_FALSE(card.runtime.max_num_seqs.has_value());
  EXPECT_EQ(card.runtime.data_parallel_start_rank, std::optional<uint32_t>(0));
  EXPECT_EQ(card.runtime.data_parallel_size, std::optional<uint32_t>(4));
}

TEST(EventChannelEntry, ZmqEndpointChannelReadsBackAsTheFixture) {
  ChannelSpec spec;
  spec.scope = EventScope::kEndpoint;
  spec.topic = kKvMetricsTopic;
  spec.publisher_id = 0xf3a5c9e1d2b47ULL;
  spec.kind = ChannelKind::kZmq;
  spec.address = "tcp://10.0.3.17:45113";
  const DiscoveryEntry entry = EventChannelEntry(kTarget, spec);
  EXPECT_EQ(entry.key,
            "v1/event_channels/namespace/dynamo/component/backend/endpoint/generate/topic/"
            "kv_metrics/f3a5c9e1d2b47");
  DiscoveryRecordDecoder decoder;
  const auto mine = DecodeAs<EventChannelRecord>(decoder, entry.key, entry.value);
  const auto fixture = DecodeAs<EventChannelRecord>(
      decoder, entry.key, ReadDiscoveryFile("etcd_v1_event_channels_scoped.value.json"));
  EXPECT_EQ(mine, fixture);
  EXPECT_EQ(mine.scope, std::optional<ChannelScope>(ChannelScope::kEndpoint));
  EXPECT_EQ(mine.transport, ChannelTransport::kZmq);
  EXPECT_EQ(mine.zmq_endpoint, "tcp://10.0.3.17:45113");
}

TEST(EventChannelEntry, NatsComponentChannelReadsBackAsTheFixture) {
  ChannelSpec spec;
  spec.scope = EventScope::kComponent;
  spec.topic = kForwardPassMetricsTopic;
  spec.publisher_id = 0x3c0ffee123457ULL;
  spec.kind = ChannelKind::kNats;
  spec.address = EventSubjectPrefix(EventScope::kComponent, "dynamo", "backend", "", true);
  const DiscoveryEntry entry = EventChannelEntry(kTarget, spec);
  EXPECT_EQ(entry.key,
            "v1/event_channels/namespace/dynamo/component/backend/topic/forward-pass-metrics/"
            "3c0ffee123457");
  DiscoveryRecordDecoder decoder;
  const auto mine = DecodeAs<EventChannelRecord>(decoder, entry.key, entry.value);
  const auto fixture = DecodeAs<EventChannelRecord>(
      decoder, entry.key, ReadDiscoveryFile("etcd_v1_event_channels_scoped_nats.value.json"));
  EXPECT_EQ(mine, fixture);
  EXPECT_EQ(mine.nats_subject_prefix, "namespace.dynamo.component.backend");
}

TEST(EventChannelEntry, PercentEncodesTheKeyAndKeepsTheNamesInTheValue) {
  const DiscoveryTarget target{"prod.v2", "my comp", "generate"};
  ChannelSpec spec;
  spec.topic = kKvMetricsTopic;
  spec.publisher_id = 0x1fffffffffffffULL;
  spec.address = "tcp://127.0.0.1:5555";
  const DiscoveryEntry entry = EventChannelEntry(target, spec);
  EXPECT_EQ(entry.key,
            "v1/event_channels/namespace/prod%2Ev2/component/my%20comp/endpoint/generate/topic/"
            "kv_metrics/1fffffffffffff");
  DiscoveryRecordDecoder decoder;
  const auto record = DecodeAs<EventChannelRecord>(decoder, entry.key, entry.value);
  EXPECT_EQ(record.dynamo_namespace, "prod.v2");
  EXPECT_EQ(record.component, "my comp");
  EXPECT_EQ(record.endpoint, "generate");
  EXPECT_EQ(record.instance_id, 0x1fffffffffffffULL);
}

}  // namespace
}  // namespace mk::mock
