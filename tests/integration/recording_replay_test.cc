// Record, then replay: the scaler records a simulated fleet (--record-file) while
// KEDA-like calls keep its target watched, and metrics-keda-replay reads that
// recording back as the fleet's demand and replays a ScaledObject on it.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

TEST(RecordingReplayTest, ARecordedFleetReplaysAsItsDemand) {
  TempDir dir;
  NatsServer nats(dir);
  MockFleet fleet(dir, nats, {.workers = 3, .pattern = "constant:0.5"});
  const std::string recording = dir.path() + "/fleet.csv.gz";
  {
    Scaler scaler(dir, nats,
                  {"--check-interval", "0.2", "--cache-ttl", "0.2", "--scrape-window", "0.2",
                   "--record-file", recording, "--record-interval", "0.5"});
    ASSERT_TRUE(ValueBecomes(scaler, {}, 1.5)) << scaler.process().Output();
    // A few recorded snapshots of the fleet at 3 x 0.5, the target kept watched.
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(GetMetrics(scaler.stub(), {}).status.ok());
      std::this_thread::sleep_for(250ms);
    }
    ASSERT_EQ(scaler.process().Stop(SIGTERM, 10s), 0) << scaler.process().Output();
  }
  ASSERT_TRUE(std::filesystem::exists(recording));

  const std::string object = std::string(MK_SOURCE_DIR) + "/tests/data/replay/baseline.yaml";
  const std::string log = dir.path() + "/replay.log";
  Process replay({BinaryPath("metrics-keda-replay"), "--trace", recording, "--scaled-object",
                  object, "--every", "1"},
                 log);
  ASSERT_EQ(replay.Wait(60s), 0) << replay.Output();
  const std::string output = replay.Output();
  // The demand is the fleet's: 3 workers at 0.5 are 1.5 worker capacities. One pod
  // serves 1.0 of it, so the scaler reads 1.0 and the HPA asks ceil(1.0 / 0.7) = 2.
  EXPECT_NE(output.find("1.500        2      2      0.750"), std::string::npos) << output;
  EXPECT_NE(output.find("00:00:00  HPA    1 -> 2"), std::string::npos) << output;
}

}  // namespace
}  // namespace mk::testing
