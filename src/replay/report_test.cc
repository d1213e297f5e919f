#include "replay/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "replay/plot.h"

namespace mk::replay {
namespace {

autoscaling::ScaledObjectSpec Object(const std::string& name) {
  keda::TriggerDefaults defaults;
  defaults.target = fleet::Target{"dynamo", "backend", "generate"};
  return (*autoscaling::ParseScaledObjects(
      "kind: ScaledObject\nmetadata: {name: \"" + name +
          "\"}\nspec:\n  triggers: [{type: external, metadata: {threshold: \"0.7\"}}]\n",
      defaults))[0];
}

ReplayResult Replayed(const autoscaling::ScaledObjectSpec& object) {
  Trace trace;
  trace.samples = {TraceSample{0, 1.4, {}}, TraceSample{60, std::nullopt, {}},
                   TraceSample{61, 0.7, {}}, TraceSample{90, 0.7, {}}};
  return *Replay(trace, object, ReplayOptions{});
}

TEST(ReportTest, ClockTime) {
  EXPECT_EQ(ClockTime(0), "00:00:00");
  EXPECT_EQ(ClockTime(3723), "01:02:03");
  EXPECT_EQ(ClockTime(100 * 3600 + 1), "100:00:01");
}

TEST(ReportTest, TimelineNamesEachEventAndTheSummary) {
  const ReplayResult result = Replayed(Object("decode"));
  const std::string text = TimelineText(result);
  EXPECT_NE(text.find("== decode =="), std::string::npos);
  EXPECT_NE(text.find("00:00:00  HPA    1 -> 2"), std::string::npos) << text;
  EXPECT_NE(text.find("replica-hours"), std::string::npos);
  const std::string sampled = SampledTimeline(result, 30);
  EXPECT_NE(sampled.find("00:00:30"), std::string::npos);
  EXPECT_NE(sampled.find("00:01:00"), std::string::npos);
  EXPECT_EQ(sampled.find("00:00:31"), std::string::npos);
}

TEST(ReportTest, CsvLeavesUnknownCellsEmpty) {
  const autoscaling::ScaledObjectSpec object = Object("decode");
  const std::string csv = TimelineCsv(Replayed(object), object);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "time,demand,replicas,ready,unit_load,waiting,trigger0_figure,trigger0_target");
  // t=60 has no reading: no demand and no figure, never 0.
  EXPECT_NE(csv.find("\n60,,2,2,0,0,,0.7\n"), std::string::npos) << csv.substr(0, 400);
  EXPECT_NE(csv.find("\n61,0.7,2,2,0.35,0,0.35,0.7\n"), std::string::npos);
}

// Rows on both sides of each change, and the ends: lines and steps drawn the same.
TEST(ReportTest, CsvOfChangesKeepsEachChangesEdges) {
  const autoscaling::ScaledObjectSpec object = Object("decode");
  const ReplayResult result = Replayed(object);
  const std::string all = TimelineCsv(result, object);
  const std::string changes = TimelineCsv(result, object, TimelineRows::kChanges);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 1 + 90);
  // 0 and 59 (1.4 on the 2 pods scaled to at 0), 60 (no reading), 61 and 89 (0.7).
  std::vector<std::string> times;
  for (const std::string& line :
       std::vector<std::string>(absl::StrSplit(changes, '\n', absl::SkipEmpty()))) {
    times.emplace_back(line.substr(0, line.find(',')));
  }
  EXPECT_EQ(times, (std::vector<std::string>{"time", "0", "59", "60", "61", "89"})) << changes;
}

TEST(PlotTest, OneColumnPerSettingWithQuotedNames) {
  const autoscaling::ScaledObjectSpec a = Object("it's");
  const autoscaling::ScaledObjectSpec b = Object("b_2");
  const ReplayResult ra = Replayed(a);
  const ReplayResult rb = Replayed(b);
  const PlotPanel panels[] = {{&ra, &a}, {&rb, &b}};
  const std::string script = GnuplotScript(panels, "/tmp/it's.svg", PlotFormat::kSvg);
  EXPECT_NE(script.find("set terminal svg size 1120,"), std::string::npos);
  EXPECT_NE(script.find("set multiplot layout 2,2 columnsfirst"), std::string::npos);
  EXPECT_NE(script.find("set output '/tmp/it''s.svg'"), std::string::npos);
  // Each panel's data inline, its changes only.
  EXPECT_NE(script.find("$panel1 << EOD\n" + TimelineCsv(rb, b, TimelineRows::kChanges) + "EOD\n"),
            std::string::npos);
  EXPECT_NE(script.find("plot $panel1 every ::1"), std::string::npos);
  EXPECT_NE(script.find("'it''s: llm_load_avg vs target'"), std::string::npos) << script;
  EXPECT_NE(script.find("title 'replicas'"), std::string::npos);
  EXPECT_NE(script.find("title 'waiting requests'"), std::string::npos);
  EXPECT_NE(GnuplotScript(panels, "/tmp/out.png", PlotFormat::kPng).find("set terminal pngcairo"),
            std::string::npos);
}

}  // namespace
}  // namespace mk::replay
