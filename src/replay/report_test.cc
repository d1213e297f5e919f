#include "replay/report.h"

#include <gtest/gtest.h>

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

TEST(PlotTest, OneColumnPerSettingWithQuotedNames) {
  const autoscaling::ScaledObjectSpec a = Object("it's");
  const autoscaling::ScaledObjectSpec b = Object("b_2");
  const ReplayResult ra = Replayed(a);
  const ReplayResult rb = Replayed(b);
  const PlotPanel panels[] = {{&ra, &a, "/tmp/a.csv"}, {&rb, &b, "/tmp/it's.csv"}};
  const std::string script = GnuplotScript(panels, "/tmp/out.svg", PlotFormat::kSvg);
  EXPECT_NE(script.find("set terminal svg size 1120,"), std::string::npos);
  EXPECT_NE(script.find("set multiplot layout 2,2 columnsfirst"), std::string::npos);
  EXPECT_NE(script.find("'/tmp/it''s.csv'"), std::string::npos);
  EXPECT_NE(script.find("'it''s: llm_load_avg vs target'"), std::string::npos) << script;
  EXPECT_NE(script.find("title 'replicas'"), std::string::npos);
  EXPECT_NE(script.find("title 'waiting requests'"), std::string::npos);
  EXPECT_NE(GnuplotScript(panels, "/tmp/out.png", PlotFormat::kPng).find("set terminal pngcairo"),
            std::string::npos);
}

}  // namespace
}  // namespace mk::replay
