#include "worker_pages/page_poller.h"

#include <gtest/gtest.h>

namespace mk::worker_pages {
namespace {

dynamo::WorkerPage PageOf(const std::string& text) {
  return dynamo::WorkerGaugeReader().Read(text, 0xa1);
}

fleet::Registration Card(std::optional<uint64_t> kv_blocks, std::optional<uint64_t> seqs) {
  fleet::Registration registration;
  registration.instance_id = 0xa1;
  registration.total_kv_blocks = kv_blocks;
  registration.max_num_seqs = seqs;
  return registration;
}

TEST(CompleteFromCardTest, TheCardGivesTheCapacityAPageOfUsageAloneLacks) {
  const dynamo::WorkerPage page = PageOf(
      "vllm:kv_cache_usage_perc{engine=\"0\"} 0.25\nvllm:num_requests_running{engine=\"0\"} 8\n");
  const std::vector<dynamo::WorkerLoad> loads = CompleteFromCard(page, Card(2000, 64));
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].kv_total_blocks, 2000u);
  EXPECT_EQ(loads[0].kv_active_blocks, 500u);
  EXPECT_EQ(loads[0].request_active_slots, 8u);
  EXPECT_EQ(loads[0].request_total_slots, 64u);
}

TEST(CompleteFromCardTest, ThePagesOwnTotalStandsAndUnknownsStayUnknown) {
  const dynamo::WorkerPage page = PageOf(
      "dynamo_component_total_blocks{dp_rank=\"0\"} 1000\n"
      "dynamo_component_gpu_cache_usage_percent{dp_rank=\"0\"} 0.5\n");
  std::vector<dynamo::WorkerLoad> loads = CompleteFromCard(page, Card(4000, 64));
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].kv_total_blocks, 1000u);
  EXPECT_EQ(loads[0].kv_active_blocks, 500u);
  // No running gauge: the slot total is not filled in, so slot usage stays undefined.
  EXPECT_EQ(loads[0].request_total_slots, 0u);
  // No card capacity and no page total: the fraction alone.
  loads = CompleteFromCard(PageOf("vllm:kv_cache_usage_perc{engine=\"0\"} 0.25\n"),
                           Card(std::nullopt, std::nullopt));
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].kv_total_blocks, 0u);
  EXPECT_EQ(loads[0].gpu_cache_usage_perc, 0.25);
}

}  // namespace
}  // namespace mk::worker_pages
