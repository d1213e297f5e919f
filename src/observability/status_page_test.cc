#include "observability/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "observability/static_files.h"

namespace mk::observability {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using TimePoint = std::chrono::system_clock::time_point;

const TimePoint kNow = TimePoint(seconds(1'700'000'030));

keda::FigureHistoryView History(const std::string& scaled_object) {
  keda::FigureSeries series{
      .label = {.scaled_object = scaled_object,
                .metric = "llm_load_avg",
                .target = "dynamo/backend/generate",
                .metric_type = "Value",
                .threshold = 0.7},
      .points = {{.slot = kNow - seconds(20),
                  .sample = keda::FigureSample{.figure = 0.5, .units = 4, .desired_replicas = 3}},
                 {.slot = kNow - seconds(10), .sample = std::nullopt},
                 {.slot = kNow,
                  .sample = keda::FigureSample{.figure = 0, .units = 0, .desired_replicas = 1}}}};
  return {.now = kNow, .series = {series}};
}

TEST(HistoryJsonTest, ColumnsPerTriggerNullWhereTheAnswerFailed) {
  EXPECT_EQ(HistoryJson(History("prod/llm")),
            "{\"interval_seconds\":10,\"span_seconds\":3600,\"now\":1700000030,\"triggers\":["
            "{\"scaled_object\":\"prod/llm\",\"metric\":\"llm_load_avg\","
            "\"target\":\"dynamo/backend/generate\",\"metric_type\":\"Value\",\"threshold\":0.7,"
            "\"time\":[1700000010,1700000020,1700000030],\"figure\":[0.5,null,0],"
            "\"units\":[4,null,0],\"desired_replicas\":[3,null,1]}]}\n");
}

TEST(StatusHtmlTest, CarriesTheHistoryAndLoadsTheEmbeddedScripts) {
  const std::string page = StatusHtml(StatusModel{}, History("prod/llm"));
  EXPECT_THAT(page, HasSubstr("<div id=\"charts\"></div>"));
  EXPECT_THAT(page, HasSubstr("<script type=\"application/json\" id=\"history\">{\"interval_"));
  EXPECT_THAT(page, HasSubstr("<script src=\"" + ChartJs().Url() + "\"></script>"));
  EXPECT_THAT(page, HasSubstr("<script src=\"" + StatusChartsJs().Url() + "\"></script>"));
}

// Scaled object names come from the network: one may try to end the script element
// that carries the history and start its own.
TEST(StatusHtmlTest, ANameCannotEndTheScriptThatCarriesIt) {
  const std::string hostile = "prod/</script><script>alert(1)</script><!--";
  const std::string page = StatusHtml(StatusModel{}, History(hostile));
  EXPECT_THAT(page, Not(HasSubstr("alert(1)</script>")));
  EXPECT_THAT(page, Not(HasSubstr("<!--")));
  EXPECT_THAT(page,
              HasSubstr("prod/\\u003c/script>\\u003cscript>alert(1)\\u003c/script>\\u003c!--"));
}

TEST(StatusHtmlTest, NatsIsDisconnectedOnlyWhereASourceReadsIt) {
  const keda::FigureHistoryView none{.now = kNow, .series = {}};
  EXPECT_THAT(StatusHtml(StatusModel{}, none), HasSubstr("NATS: not used"));
  StatusModel model;
  model.nats_used = true;
  EXPECT_THAT(StatusHtml(model, none), HasSubstr("NATS: <b class=\"bad\">disconnected</b>"));
}

TEST(StatusHtmlTest, WithoutTriggersNoCharts) {
  const std::string page = StatusHtml(StatusModel{}, {.now = kNow, .series = {}});
  EXPECT_THAT(page, HasSubstr("No trigger was asked about in the last hour."));
  EXPECT_THAT(page, Not(HasSubstr("id=\"charts\"")));
}

}  // namespace
}  // namespace mk::observability
