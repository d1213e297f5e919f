// metrics-keda-replay run as a user runs it: trace and ScaledObject files in, the
// timeline, summary, CSVs, plots (through Debian's gnuplot) and sweeps out; bad
// files refused with the file named and a non-zero exit, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"

namespace mk::testing {
namespace {

using std::chrono::seconds;

// The ScaledObject worked out by hand: llm_load_avg against 0.7, 1 to 8 replicas.
std::string Baseline() { return std::string(MK_SOURCE_DIR) + "/tests/data/replay/baseline.yaml"; }

// 1.4 worker capacities for ten minutes, then 0.35 until 30 minutes.
constexpr char kStepDown[] = "time,load\n0,1.4\n600,0.35\n1800,0.35\n";

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ToolRun {
  std::optional<int> exit_status;
  std::string output;
};

ToolRun Replay(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), BinaryPath("metrics-keda-replay"));
  const std::string log = dir.path() + "/replay.log";
  std::filesystem::remove(log);
  Process replay(std::move(args), log);
  ToolRun run;
  run.exit_status = replay.Wait(seconds(60));
  run.output = replay.Output();
  return run;
}

// Worked by hand. t=0: one pod can serve only 1.0 of the 1.4 (the rest queues), so
// the scaler reads llm_load_avg 1.0 and the HPA asks ceil(1 x 1.0 / 0.7) = 2 pods,
// ready at once (no start-up delay): 0.7 each, within the tolerance from then on.
// t=600: 0.35 over 2 pods is 0.175, a recommendation of 1; the 300 s window still
// holds the 2 recommended at 585, until the sync at 900 (whose window starts at 600).
// Replica-hours: 2 x 900 s + 1 x 900 s (seconds 0 to 1799: the last sample marks the
// end) = 0.750.
TEST(ReplayToolTest, PrintsTheTimelineAndSummaryWorkedByHand) {
  TempDir dir;
  const ToolRun run =
      Replay(dir, {"--trace", Write(dir, "step.csv", kStepDown), "--scaled-object", Baseline()});
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_NE(run.output.find("== baseline =="), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("00:00:00  HPA    1 -> 2"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("00:15:00  HPA    2 -> 1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("replica-hours 0.750"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("scale events 2 (1 up, 1 down)"), std::string::npos) << run.output;
}

// Each example ScaledObject replays on an example trace it was written for, and the
// side-by-side plot is drawn in both formats.
TEST(ReplayToolTest, ReplaysTheExamplesAndDrawsThePlots) {
  TempDir dir;
  const std::string examples = std::string(MK_SOURCE_DIR) + "/examples/";
  const std::string out = dir.path() + "/out";
  const ToolRun run = Replay(
      dir, {"--trace", examples + "traces/workday.csv.gz", "--scaled-object",
            examples + "scaledobjects/default.yaml", "--scaled-object",
            examples + "scaledobjects/fast-down.yaml", "--scaled-object",
            examples + "scaledobjects/kv-percent.yaml", "--scaled-object",
            examples + "scaledobjects/scale-to-zero.yaml", "--startup-delay", "120", "--out", out});
  ASSERT_EQ(run.exit_status, 0) << run.output;
  for (const char* name : {"default", "fast-down", "kv-percent", "scale-to-zero"}) {
    EXPECT_NE(run.output.find(std::string("== ") + name + " =="), std::string::npos) << name;
    const std::string csv = ReadAll(out + "/" + name + ".csv");
    EXPECT_EQ(csv.rfind("time,demand,replicas,ready,unit_load,waiting,trigger0_figure", 0), 0u)
        << name;
    // A row per second of the day, and the header.
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 86400 + 1) << name;
  }
  // The workday has no traffic at night: the ScaledObject allowed to go to zero does.
  EXPECT_NE(run.output.find("KEDA   1 -> 0   deactivated after cooldown"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("07:00:00  KEDA   0 -> 1   activated"), std::string::npos)
      << run.output;

  const std::string svg = ReadAll(out + "/replay.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  for (const char* title : {"default: llm_load_avg vs target", "scale-to-zero: pods", "replicas",
                            "waiting requests", "demand (pods at full load)"}) {
    EXPECT_NE(svg.find(title), std::string::npos) << title;
  }
  const std::string png = ReadAll(out + "/replay.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST(ReplayToolTest, SweepNamesTheCheapestSettingWithinTheLimits) {
  TempDir dir;
  // Lower thresholds buy more pods; at 0.3 the first scale-up is capped at 4 pods
  // (the HPA's max(2 x 1, 4)) and 1.4 / 4 = 0.35 sits above target until the next
  // sync, 15 s of the 1800: 0.8 %, over a limit of 0.5 %.
  const ToolRun run = Replay(dir, {"--trace", Write(dir, "step.csv", kStepDown), "--scaled-object",
                                   Baseline(), "--sweep", "threshold=0.3,0.5,0.7", "--sweep",
                                   "minReplicaCount=1:2:1", "--max-above-target", "0.5"});
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_NE(run.output.find("cheapest within the limits: threshold=0.7 minReplicaCount=1 (0.750 "
                            "replica-hours)"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("over "), std::string::npos) << run.output;
}

TEST(ReplayToolTest, RefusesBadFilesNamingThem) {
  TempDir dir;
  const std::string object = Baseline();
  const std::string garbage = Write(dir, "garbage.csv", "time,load\n0,1\n0,2\n");
  ToolRun run = Replay(dir, {"--trace", garbage, "--scaled-object", object});
  EXPECT_EQ(run.exit_status, 2) << run.output;
  EXPECT_NE(run.output.find("garbage.csv"), std::string::npos) << run.output;

  const std::string bad_object =
      Write(dir, "bad.yaml", "kind: ScaledObject\nmetadata: {name: x}\nspec: {triggers: []}\n");
  run = Replay(dir, {"--trace", Write(dir, "step.csv", kStepDown), "--scaled-object", bad_object});
  EXPECT_EQ(run.exit_status, 2) << run.output;
  EXPECT_NE(run.output.find("bad.yaml"), std::string::npos) << run.output;

  // A Prometheus trigger needs its column in the trace.
  run = Replay(dir, {"--trace", Write(dir, "step.csv", kStepDown), "--scaled-object",
                     std::string(MK_SOURCE_DIR) + "/examples/scaledobjects/scale-to-zero.yaml"});
  EXPECT_EQ(run.exit_status, 2) << run.output;
  EXPECT_NE(run.output.find("frontend_queue"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace mk::testing
