// Regression tests for crashes found by fuzz/stats_decoder_fuzzer.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "dynamo/service_name.h"
#include "dynamo/stats_decoder.h"

namespace mk::dynamo {
namespace {

// `levels` nested "kv_stats" (or "worker_stats") objects as the monitored endpoint's data.
std::string DeeplyNestedReply(size_t levels, const std::string& key) {
  std::string reply = R"({"endpoints":[{"subject":"dynamo_llm-worker.kv-router-2a","data":)";
  reply.reserve(reply.size() + levels * (key.size() + 5) + 16);
  for (size_t i = 0; i < levels; ++i) reply += "{\"" + key + "\":";
  reply += "{}";
  reply.append(levels, '}');
  reply += "}]}";
  return reply;
}

// ReadMetricsObject recursed once per nested worker_stats/kv_stats object, with no
// bound: a reply of 80,000 levels (about 1 MB, under the default --max-message-bytes
// of 1 MiB) overflowed the scraping thread's 8 MiB stack and killed the scaler
// (SIGSEGV from about 40,000 levels in a RelWithDebInfo build, 20,000 under ASan).
// Any publisher answering $SRV.STATS.<service> could send it. Dynamo nests
// worker_stats/kv_stats one level deep only; deeper nesting must be dropped, not
// followed.
TEST(StatsDecoderRegressionTest, DeeplyNestedKvStatsIsDroppedWithoutStackOverflow) {
  constexpr size_t kLevels = 80000;
  const std::string reply = DeeplyNestedReply(kLevels, "kv_stats");
  ASSERT_LT(reply.size(), size_t{1} << 20);
  StatsDecoder decoder(EndpointMatcher("dynamo", "llm-worker", "kv-router", false));
  const DecodedReply decoded = decoder.Decode(reply);
  EXPECT_TRUE(decoded.units.empty());
  // One drop: of the endpoint (e.g. wrong_type) or of the reply (malformed_json).
  EXPECT_EQ(decoded.drops.Total(), 1u);
}

TEST(StatsDecoderRegressionTest, DeeplyNestedWorkerStatsIsDroppedWithoutStackOverflow) {
  constexpr size_t kLevels = 60000;
  const std::string reply = DeeplyNestedReply(kLevels, "worker_stats");
  ASSERT_LT(reply.size(), size_t{1} << 20);
  StatsDecoder decoder(EndpointMatcher("dynamo", "llm-worker", "kv-router", false));
  const DecodedReply decoded = decoder.Decode(reply);
  EXPECT_TRUE(decoded.units.empty());
  EXPECT_EQ(decoded.drops.Total(), 1u);
}

}  // namespace
}  // namespace mk::dynamo
