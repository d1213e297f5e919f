#include "kubernetes/api_objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "discovery/discovery_state.h"

namespace mk::kubernetes {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(MK_TEST_DATA_DIR) + "/kubernetes/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(WorkerMetadataTest, RecordsGoUnderTheirEtcdKeys) {
  absl::StatusOr<WorkerMetadata> metadata =
      ParseWorkerMetadata(Fixture("k8s_dynamoworkermetadata.json"));
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_EQ(metadata->meta.name, "vllm-agg-0-backend-7d9f8c6b5-abcde");
  EXPECT_EQ(metadata->meta.owner_pod, "vllm-agg-0-backend-7d9f8c6b5-abcde");
  ASSERT_EQ(metadata->records.size(), 3u);
  EXPECT_EQ(metadata->records[0].first, "v1/instances/dynamo/backend/generate/1cbf105786def2");
  EXPECT_EQ(metadata->records[1].first, "v1/mdc/dynamo/backend/generate/1cbf105786def2");
  EXPECT_EQ(metadata->records[2].first,
            "v1/event_channels/namespace/dynamo/component/backend/endpoint/generate/topic/"
            "kv_metrics/f3a5c9e1d2b47");
}

TEST(WorkerMetadataTest, ItsRecordsDecodeAsEtcdsDo) {
  absl::StatusOr<WorkerMetadata> metadata =
      ParseWorkerMetadata(Fixture("k8s_dynamoworkermetadata.json"));
  ASSERT_TRUE(metadata.ok());
  discovery::DiscoveryState state;
  for (const auto& [key, value] : metadata->records) EXPECT_TRUE(state.Put(key, value)) << key;
  EXPECT_EQ(state.drops().Total(), 0u);
  const std::vector<fleet::Registration> registrations =
      state.RegistrationsFor({"dynamo", "backend", "generate"});
  ASSERT_EQ(registrations.size(), 1u);
  EXPECT_EQ(registrations[0].instance_id, 8091376256737010u);
  EXPECT_EQ(registrations[0].total_kv_blocks, 16384u);
  EXPECT_EQ(registrations[0].max_num_seqs, 256u);
  ASSERT_EQ(state.EventChannels().size(), 1u);
  EXPECT_EQ(state.EventChannels()[0].zmq_endpoint, "tcp://10.244.1.23:45113");
}

TEST(WorkerMetadataTest, RecordsKeyedWithoutTheirIdGetIt) {
  // Some releases key endpoints and model cards by <ns>/<comp>/<ep> alone, and
  // namespace-wide channels with an empty component.
  std::string text = Fixture("k8s_dynamoworkermetadata.json");
  for (size_t at;
       (at = text.find("\"dynamo/backend/generate/1cbf105786def2\"")) != std::string::npos;) {
    text.replace(at, 40, "\"dynamo/backend/generate\"");
  }
  absl::StatusOr<WorkerMetadata> metadata = ParseWorkerMetadata(text);
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  ASSERT_EQ(metadata->records.size(), 3u);
  EXPECT_EQ(metadata->records[0].first, "v1/instances/dynamo/backend/generate/1cbf105786def2");
  EXPECT_EQ(metadata->records[1].first, "v1/mdc/dynamo/backend/generate/1cbf105786def2");
  discovery::DiscoveryState state;
  for (const auto& [key, value] : metadata->records) EXPECT_TRUE(state.Put(key, value)) << key;
  EXPECT_EQ(state.RegistrationsFor({"dynamo", "backend", "generate"}).size(), 1u);
}

TEST(WorkerMetadataTest, ANullDataHasNoRecordsYet) {
  absl::StatusOr<WorkerMetadata> metadata =
      ParseWorkerMetadata(R"({"metadata":{"name":"p"},"spec":{"data":null}})");
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_TRUE(metadata->records.empty());
}

TEST(WorkerMetadataTest, MapsThatAreNullOrUnknownAreSkipped) {
  absl::StatusOr<WorkerMetadata> metadata = ParseWorkerMetadata(
      R"({"metadata":{"name":"p","resourceVersion":"7"},"spec":{"data":{"endpoints":null,)"
      R"("event_sources":{"x":{"a":1}},"future":{"k":{}}}}})");
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  EXPECT_TRUE(metadata->records.empty());
  EXPECT_EQ(metadata->meta.resource_version, "7");
}

TEST(WorkerMetadataTest, RefusesWhatIsNotOne) {
  for (const std::string text :
       {"", "[]", "{", R"({"spec":{}})", R"({"metadata":{"name":5}})",
        R"({"metadata":{"name":"p"},"spec":{"data":{"endpoints":{"k":"not an object"}}}})",
        R"({"metadata":{"name":"p"},"spec":[]})", R"({"metadata":{"name":"p"}} trailing)"}) {
    EXPECT_FALSE(ParseWorkerMetadata(text).ok()) << text;
  }
}

TEST(EndpointSliceTest, ReadyPodsOfTheFixture) {
  absl::StatusOr<EndpointSlice> slice = ParseEndpointSlice(Fixture("k8s_endpointslice.json"));
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_EQ(slice->meta.name, "vllm-agg-0-backend-x7k2p");
  EXPECT_EQ(slice->system_port, 9090);
  ASSERT_EQ(slice->endpoints.size(), 2u);
  EXPECT_EQ(slice->endpoints[0],
            (SliceEndpoint{"vllm-agg-0-backend-7d9f8c6b5-abcde", true, {"10.244.1.23"}}));
  EXPECT_EQ(slice->endpoints[1],
            (SliceEndpoint{"vllm-agg-0-backend-7d9f8c6b5-fghij", false, {"10.244.2.7"}}));
}

TEST(EndpointSliceTest, ReadyWhenUnsaidAndOnlyPodsCount) {
  absl::StatusOr<EndpointSlice> slice = ParseEndpointSlice(
      R"({"metadata":{"name":"s"},"endpoints":[)"
      R"({"addresses":["1.2.3.4"],"targetRef":{"kind":"Pod","name":"a"}},)"
      R"({"addresses":["1.2.3.5"],"conditions":{"ready":null},"targetRef":{"kind":"Pod","name":"b"}},)"
      R"({"addresses":["1.2.3.6"],"targetRef":{"kind":"Node","name":"n"}},)"
      R"({"addresses":["1.2.3.7"]}]})");
  ASSERT_TRUE(slice.ok()) << slice.status();
  EXPECT_EQ(slice->system_port, std::nullopt);
  ASSERT_EQ(slice->endpoints.size(), 2u);
  EXPECT_TRUE(slice->endpoints[0].ready);
  EXPECT_TRUE(slice->endpoints[1].ready);
}

TEST(EndpointSliceTest, RefusesBadShapes) {
  for (const std::string text :
       {R"({"metadata":{"name":"s"},"endpoints":{}})",
        R"({"metadata":{"name":"s"},"endpoints":[{"conditions":{"ready":"yes"}}]})",
        R"({"metadata":{"name":"s"},"endpoints":[{"addresses":"1.2.3.4"}]})", R"({"endpoints":[]})",
        R"({"metadata":{"name":"s"},"ports":[{"name":"system","port":0}]})",
        R"({"metadata":{"name":"s"},"ports":[{"name":"system","port":"9090"}]})"}) {
    EXPECT_FALSE(ParseEndpointSlice(text).ok()) << text;
  }
}

TEST(ListPageTest, ItemsResourceVersionAndContinue) {
  absl::StatusOr<ListPage> page = ParseListPage(
      R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1",)"
      R"("metadata":{"resourceVersion":"42","continue":"abc"},"items":[{"a":1},{"b":[2]}]})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->resource_version, "42");
  EXPECT_EQ(page->continue_token, "abc");
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1], R"({"b":[2]})");
  page = ParseListPage(R"({"metadata":{"resourceVersion":"1"},"items":null})");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(ParseListPage(R"({"items":[]})").ok());  // nowhere to watch from
  EXPECT_FALSE(ParseListPage(R"({"metadata":{"resourceVersion":"1"},"items":[1]})").ok());
}

TEST(WatchEventTest, EveryType) {
  absl::StatusOr<WatchEvent> event = ParseWatchEvent(
      R"({"type":"MODIFIED","object":{"kind":"X","metadata":{"name":"p","resourceVersion":"9"}}})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, WatchEventType::kModified);
  EXPECT_EQ(event->meta.name, "p");
  EXPECT_EQ(event->meta.resource_version, "9");
  // Fields in any order.
  event = ParseWatchEvent(R"({"object":{"metadata":{"resourceVersion":"10"}},"type":"BOOKMARK"})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, WatchEventType::kBookmark);
  EXPECT_EQ(event->meta.resource_version, "10");
  event = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
      R"("message":"too old resource version: 5 - 9","reason":"Expired","code":410}})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, WatchEventType::kError);
  EXPECT_EQ(event->error_code, 410);
  EXPECT_THAT(event->error_message, HasSubstr("too old"));
}

TEST(WatchEventTest, RefusesBadLines) {
  for (const std::string text :
       {"", "{}", R"({"type":"ADDED"})", R"({"type":"RENAMED","object":{}})",
        R"({"type":"ADDED","object":{"metadata":{"name":"p"}}})",  // no resourceVersion
        R"({"type":"ERROR","object":{"code":"410"}})", R"({"type":"ADDED","object":[]})"}) {
    EXPECT_FALSE(ParseWatchEvent(text).ok()) << text;
  }
}

TEST(StatusMessageTest, OnlyOfAStatus) {
  EXPECT_EQ(StatusMessage(R"({"kind":"Status","message":"Unauthorized","code":401})"),
            "Unauthorized");
  EXPECT_EQ(StatusMessage(R"({"kind":"Pod","message":"x"})"), std::nullopt);
  EXPECT_EQ(StatusMessage("<html>"), std::nullopt);
}

}  // namespace
}  // namespace mk::kubernetes
