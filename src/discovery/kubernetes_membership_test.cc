#include "discovery/kubernetes_membership.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace mk::discovery {
namespace {

const fleet::Target kTarget{"dynamo", "backend", "generate"};

// The discovery records of a worker pod as its DynamoWorkerMetadata holds them.
kubernetes::WorkerMetadata Metadata(const std::string& pod, uint64_t id, uint64_t kv_blocks) {
  kubernetes::WorkerMetadata metadata;
  metadata.meta.name = pod;
  const std::string path = fmt::format("dynamo/backend/generate/{:x}", id);
  metadata.records.emplace_back(
      "v1/instances/" + path,
      fmt::format(R"({{"type":"Endpoint","namespace":"dynamo","component":"backend",)"
                  R"("endpoint":"generate","instance_id":{},"transport":{{"tcp":"x"}}}})",
                  id));
  metadata.records.emplace_back(
      "v1/mdc/" + path,
      fmt::format(
          R"({{"type":"Model","namespace":"dynamo","component":"backend",)"
          R"("endpoint":"generate","instance_id":{},"card_json":{{"kv_cache_block_size":16,)"
          R"("runtime_config":)"
          R"({{"total_kv_blocks":{}}}}}}})",
          id, kv_blocks));
  return metadata;
}

kubernetes::EndpointSlice Slice(const std::string& name,
                                std::vector<std::pair<std::string, bool>> pods) {
  kubernetes::EndpointSlice slice;
  slice.meta.name = name;
  for (auto& [pod, ready] : pods) slice.endpoints.push_back({pod, ready, {"10.0.0.1"}});
  return slice;
}

class KubernetesMembershipTest : public ::testing::Test {
 protected:
  std::vector<uint64_t> Registered() const {
    std::vector<uint64_t> ids;
    for (const fleet::Registration& r : state_.RegistrationsFor(kTarget)) {
      ids.push_back(r.instance_id);
    }
    return ids;
  }
  DiscoveryState state_;
  KubernetesMembership membership_{state_, 100};
};

TEST_F(KubernetesMembershipTest, APodCountsWhileItsMetadataExistsAndItIsReady) {
  EXPECT_FALSE(membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000)));
  EXPECT_TRUE(Registered().empty());  // metadata alone: not ready yet
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}, {"pod-b", true}})));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xa});  // pod-b has no metadata
  EXPECT_EQ(state_.RegistrationsFor(kTarget)[0].total_kv_blocks, 1000u);
  EXPECT_TRUE(membership_.PutWorkerMetadata("llm", Metadata("pod-b", 0xb, 1000)));
  EXPECT_EQ(Registered(), (std::vector<uint64_t>{0xa, 0xb}));
  // Unready: leaves at once; its metadata deleted: the same.
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", false}, {"pod-b", true}})));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xb});
  EXPECT_TRUE(membership_.DeleteWorkerMetadata("llm", "pod-b"));
  EXPECT_TRUE(Registered().empty());
  EXPECT_EQ(membership_.ready_pods(), 1u);
}

TEST_F(KubernetesMembershipTest, RegistrationsCarryThePodsAddress) {
  membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  kubernetes::EndpointSlice slice = Slice("s", {{"pod-a", true}});
  slice.endpoints[0].addresses = {"10.244.1.23"};
  membership_.PutEndpointSlice("llm", slice);
  EXPECT_EQ(state_.RegistrationsFor(kTarget).at(0).host, "10.244.1.23");
  // A pod that comes back with another address (recreated under its name).
  slice.endpoints[0].addresses = {"10.244.2.8"};
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", slice));
  EXPECT_EQ(state_.RegistrationsFor(kTarget).at(0).host, "10.244.2.8");
}

TEST_F(KubernetesMembershipTest, ContainerModeObjectsCountWhileTheirOwnerPodIsReady) {
  // Dynamo's container discovery mode: one object per container, "<pod>-<container>",
  // each owned by the pod.
  kubernetes::WorkerMetadata first = Metadata("pod-a-worker-0", 0xa, 1000);
  first.meta.owner_pod = "pod-a";
  kubernetes::WorkerMetadata second = Metadata("pod-a-worker-1", 0xb, 1000);
  second.meta.owner_pod = "pod-a";
  membership_.PutWorkerMetadata("llm", first);
  membership_.PutWorkerMetadata("llm", second);
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}})));
  EXPECT_EQ(Registered(), (std::vector<uint64_t>{0xa, 0xb}));
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", false}})));
  EXPECT_TRUE(Registered().empty());
  EXPECT_TRUE(membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}})));
  EXPECT_TRUE(membership_.DeleteWorkerMetadata("llm", "pod-a-worker-0"));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xb});
}

TEST_F(KubernetesMembershipTest, ChangedMetadataReplacesTheRecords) {
  membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}}));
  membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  EXPECT_TRUE(membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 2000)));
  EXPECT_EQ(state_.RegistrationsFor(kTarget)[0].total_kv_blocks, 2000u);
  // A restarted worker in the same pod: a new instance id, the old one gone.
  EXPECT_TRUE(membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xc, 2000)));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xc});
  EXPECT_FALSE(membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xc, 2000)));
}

TEST_F(KubernetesMembershipTest, APodReadyInTwoSlicesStaysUntilBothSayOtherwise) {
  membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  membership_.PutEndpointSlice("llm", Slice("s1", {{"pod-a", true}}));
  membership_.PutEndpointSlice("llm", Slice("s2", {{"pod-a", true}}));
  EXPECT_FALSE(membership_.DeleteEndpointSlice("llm", "s1"));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xa});
  EXPECT_TRUE(membership_.DeleteEndpointSlice("llm", "s2"));
  EXPECT_TRUE(Registered().empty());
}

TEST_F(KubernetesMembershipTest, NamespacesAreApart) {
  membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  // The same pod name, ready in another namespace, is another pod.
  EXPECT_FALSE(membership_.PutEndpointSlice("other", Slice("s", {{"pod-a", true}})));
  EXPECT_TRUE(Registered().empty());
}

TEST_F(KubernetesMembershipTest, AListingReplacesItsNamespaceAndKind) {
  membership_.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}, {"pod-b", true}}));
  membership_.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  membership_.PutWorkerMetadata("llm", Metadata("pod-b", 0xb, 1000));
  membership_.PutWorkerMetadata("prod", Metadata("pod-c", 0xcc, 1000));
  // While the watch was down, pod-a's metadata went and pod-d's came.
  std::vector<kubernetes::WorkerMetadata> listed;
  listed.push_back(Metadata("pod-b", 0xb, 1000));
  listed.push_back(Metadata("pod-d", 0xd, 1000));
  EXPECT_TRUE(membership_.ReplaceWorkerMetadata("llm", std::move(listed)));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xb});
  std::vector<kubernetes::EndpointSlice> slices;
  slices.push_back(Slice("t", {{"pod-d", true}}));
  EXPECT_TRUE(membership_.ReplaceEndpointSlices("llm", std::move(slices)));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xd});
  // The other namespace's listing saw nothing of it.
  EXPECT_EQ(membership_.ready_pods(), 1u);
}

TEST_F(KubernetesMembershipTest, ObjectsAreBounded) {
  KubernetesMembership small(state_, 2);
  small.PutWorkerMetadata("llm", Metadata("pod-a", 0xa, 1000));
  small.PutWorkerMetadata("llm", Metadata("pod-b", 0xb, 1000));
  small.PutWorkerMetadata("llm", Metadata("pod-c", 0xc, 1000));
  EXPECT_EQ(small.objects_refused(), 1u);
  // Known ones still change.
  small.PutEndpointSlice("llm", Slice("s", {{"pod-a", true}, {"pod-c", true}}));
  EXPECT_EQ(Registered(), std::vector<uint64_t>{0xa});
}

}  // namespace
}  // namespace mk::discovery
