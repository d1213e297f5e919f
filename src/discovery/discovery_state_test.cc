#include "discovery/discovery_state.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "discovery/etcd_registry.h"

namespace mk::discovery {
namespace {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(MK_TEST_DATA_DIR) + "/discovery/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fixtures' worker: lease 0x694d9a3f1e2b7c05 serving dynamo/backend/generate.
constexpr char kInstanceKey[] = "v1/instances/dynamo/backend/generate/694d9a3f1e2b7c05";
constexpr char kCardKey[] = "v1/mdc/dynamo/backend/generate/694d9a3f1e2b7c05";
constexpr char kChannelKey[] =
    "v1/event_channels/namespace/dynamo/component/backend/endpoint/generate/topic/kv_metrics/"
    "f3a5c9e1d2b47";
constexpr uint64_t kLease = 0x694d9a3f1e2b7c05;
const fleet::Target kTarget{"dynamo", "backend", "generate"};

class DiscoveryStateTest : public ::testing::Test {
 protected:
  DiscoveryState state_;
  const std::string instance_ = ReadFixture("etcd_v1_instances.value.json");
  const std::string card_ = ReadFixture("etcd_v1_mdc.value.json");
  const std::string channel_ = ReadFixture("etcd_v1_event_channels_scoped.value.json");
};

TEST_F(DiscoveryStateTest, InstanceWithItsCardIsARegistrationWithCapacity) {
  EXPECT_TRUE(state_.Put(kInstanceKey, instance_));
  EXPECT_TRUE(state_.Put(kCardKey, card_));
  const std::vector<fleet::Registration> registrations = state_.RegistrationsFor(kTarget);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].instance_id, kLease);
  EXPECT_EQ(registrations[0].total_kv_blocks, 16384u);
  EXPECT_EQ(registrations[0].max_num_seqs, 256u);
  EXPECT_EQ(registrations[0].dp_size, 1u);
  EXPECT_TRUE(state_.RegistrationsFor({"dynamo", "backend", "other"}).empty());
  EXPECT_TRUE(state_.RegistrationsFor({"dynamo", "prefill", "generate"}).empty());
}

TEST_F(DiscoveryStateTest, InstanceWithoutCardHasNoCapacity) {
  state_.Put(kInstanceKey, instance_);
  const std::vector<fleet::Registration> registrations = state_.RegistrationsFor(kTarget);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].total_kv_blocks, std::nullopt);
}

TEST_F(DiscoveryStateTest, ACardAloneRegistersNobody) {
  state_.Put(kCardKey, card_);
  EXPECT_TRUE(state_.RegistrationsFor(kTarget).empty());
}

TEST_F(DiscoveryStateTest, DeletesRemoveRecords) {
  state_.Put(kInstanceKey, instance_);
  state_.Put(kChannelKey, channel_);
  EXPECT_EQ(state_.EventChannels().size(), 1u);
  EXPECT_EQ(state_.EventChannels()[0].zmq_endpoint, "tcp://10.0.3.17:45113");
  EXPECT_TRUE(state_.Delete(kInstanceKey));
  EXPECT_TRUE(state_.Delete(kChannelKey));
  EXPECT_FALSE(state_.Delete(kChannelKey));
  EXPECT_TRUE(state_.RegistrationsFor(kTarget).empty());
  EXPECT_TRUE(state_.EventChannels().empty());
}

TEST_F(DiscoveryStateTest, UndecodableValueReplacesTheOldRecordAndIsCounted) {
  state_.Put(kInstanceKey, instance_);
  EXPECT_TRUE(state_.Put(kInstanceKey, "{not json"));
  EXPECT_TRUE(state_.RegistrationsFor(kTarget).empty());
  EXPECT_EQ(state_.drops().Get(dynamo::DropReason::kMalformedJson), 1u);
  EXPECT_FALSE(state_.Put("v1/unknown/layout", "{}"));
  EXPECT_EQ(state_.drops().Get(dynamo::DropReason::kUnknownKey), 1u);
}

TEST_F(DiscoveryStateTest, DataParallelRanksComeFromTheCard) {
  std::string card = card_;
  const std::string from = "\"data_parallel_size\": 1";
  card.replace(card.find(from), from.size(), "\"data_parallel_size\": 4");
  state_.Put(kInstanceKey, instance_);
  state_.Put(kCardKey, card);
  const std::vector<fleet::Registration> registrations = state_.RegistrationsFor(kTarget);
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].dp_size, 4u);
}

TEST_F(DiscoveryStateTest, InstancesOfThe2025LayoutsRegisterToo) {
  const std::string value =
      R"({"component":"backend","endpoint":"generate","namespace":"dynamo",)"
      R"("instance_id":100,"transport":{"nats_tcp":"dynamo_backend.generate-64"}})";
  EXPECT_TRUE(state_.Put("instances/dynamo/backend/generate:64", value));
  std::string oldest = value;
  oldest.replace(oldest.find("instance_id"), 11, "lease_id");
  oldest.replace(oldest.find(":100"), 4, ":101");
  oldest.replace(oldest.find("-64"), 3, "-65");
  EXPECT_TRUE(state_.Put("dynamo/components/backend/generate:65", oldest));
  const std::vector<fleet::Registration> registrations = state_.RegistrationsFor(kTarget);
  ASSERT_EQ(registrations.size(), 2u);
  EXPECT_EQ(registrations[0].instance_id, 100u);
  EXPECT_EQ(registrations[1].instance_id, 101u);
  EXPECT_EQ(registrations[0].total_kv_blocks, std::nullopt);
}

TEST(EtcdRegistryTest, FollowsEveryLayoutsPrefix) {
  EXPECT_EQ(
      EtcdRegistry::Prefixes({"dynamo", "prod"}),
      (std::vector<std::string>{"v1/", "instances/", "dynamo/components/", "prod/components/"}));
}

}  // namespace
}  // namespace mk::discovery
