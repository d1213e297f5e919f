// The status page's charts as a person's browser draws them: a real scaler with a
// simulated fleet, asked by a KEDA-like client, its page rendered by headless
// Chromium (Debian's chromium, which scripts/install-deps.sh installs: without it
// the test fails). The page's script marks each canvas, once Chart.js has drawn it,
// with each dataset's label and the points it placed (data-drawn).
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2",
                                        "--scrape-window",  "0.2"};

// A ScaledObject name no Kubernetes would allow, but the gRPC API carries: it must
// reach the page as text, never as markup.
const std::string kHostileName = "llm</script><script>document.title='owned'</script><!--";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// GetMetrics for a trigger of the ScaledObject default/`name`.
grpc::Status GetMetricsOf(externalscaler::ExternalScaler::Stub& stub, const std::string& name,
                          const Metadata& metadata) {
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref(metadata);
  request.mutable_scaledobjectref()->set_name(name);
  request.set_metricname(metadata.at("metricName"));
  externalscaler::GetMetricsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 3s);
  return stub.GetMetrics(&context, request, &response);
}

// The points /status/history holds for the trigger of `metric`; 0 while there is none.
size_t HistoryPoints(const Scaler& scaler, const std::string& metric) {
  const std::optional<std::string> text = scaler.TryHttp("/status/history");
  if (!text) return 0;
  simdjson::dom::parser parser;
  simdjson::dom::element history;
  if (parser.parse(*text).get(history) != simdjson::SUCCESS) return 0;
  for (simdjson::dom::element trigger : history["triggers"].get_array()) {
    if (std::string_view(trigger["metric"]) == metric) return trigger["time"].get_array().size();
  }
  return 0;
}

// Chromium, or a failure naming what to install.
std::string Chromium() {
  const char* chosen = std::getenv("CHROMIUM");
  const std::string path = chosen != nullptr ? chosen : "/usr/bin/chromium";
  if (access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error(path + " not found: run scripts/install-deps.sh (Debian's chromium)");
  }
  return path;
}

struct Rendered {
  std::string dom;  // after the page's scripts ran
  std::string png;  // a screenshot of the window
};

// `url` as headless Chromium renders it in a 1280 x 1000 window. Virtual time lets
// the scripts run at once; its budget stays under the page's 5 s refresh. CI runs
// as root, where Chromium's sandbox cannot start.
Rendered Render(const TempDir& dir, const std::string& url) {
  const std::string dom = dir.path() + "/dom.html", png = dir.path() + "/page.png";
  Process chromium({"/bin/sh", "-c",
                    "exec " + Chromium() +
                        " --headless --no-sandbox --disable-gpu --hide-scrollbars"
                        " --user-data-dir=" +
                        dir.path() +
                        "/chromium --window-size=1280,1000 --virtual-time-budget=3000"
                        " --screenshot=" +
                        png + " --dump-dom " + url + " > " + dom},
                   dir.path() + "/chromium.log");
  const std::optional<int> status = chromium.Wait(30s);
  if (status != std::optional<int>(0)) {
    throw std::runtime_error("chromium failed: " + chromium.Output());
  }
  return {ReadFile(dom), ReadFile(png)};
}

struct Chart {
  std::string label;  // the canvas's aria-label, as the dump writes it
  std::string drawn;  // its data-drawn mark; empty if Chart.js never drew it
};

// The page's canvases, in order.
std::vector<Chart> Charts(const std::string& dom) {
  std::vector<Chart> charts;
  const std::regex canvas("<canvas[^>]*>"), label("aria-label=\"([^\"]*)\""),
      drawn("data-drawn=\"([^\"]*)\"");
  for (std::sregex_iterator it(dom.begin(), dom.end(), canvas), end; it != end; ++it) {
    const std::string element = it->str();
    std::smatch named, marked;
    Chart& chart = charts.emplace_back();
    if (std::regex_search(element, named, label)) chart.label = named[1];
    if (std::regex_search(element, marked, drawn)) chart.drawn = marked[1];
  }
  return charts;
}

// The chart whose label names `metric`.
Chart ChartOf(const std::vector<Chart>& charts, const std::string& metric) {
  for (const Chart& chart : charts) {
    if (chart.label.find(": " + metric + " (") != std::string::npos) return chart;
  }
  ADD_FAILURE() << "no chart of " << metric;
  return {};
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = at; i < at + 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return value;
}

TEST(StatusChartTest, ChromiumDrawsEachTriggersSeries) {
  Chromium();  // fails at once where it is missing
  TempDir dir;
  NatsServer nats(dir);
  MockFleet fleet(dir, nats, {.workers = 4, .pattern = "constant:0.75"});
  Scaler scaler(dir, nats, kFast);
  // F = 0.75 over 4 units against 0.5: the HPA aims at ceil(4 x 0.75 / 0.5) = 6.
  const Metadata load = {{"metricName", "llm_load_avg"}, {"threshold", "0.5"}};
  // The stats of these workers carry no queued prefill tokens: every answer fails,
  // and the chart has the threshold alone, no zeros.
  const Metadata prefill = {{"metricName", "llm_prefill_tokens_queued"}, {"threshold", "100"}};
  // Asked again and again, as KEDA's HPA does, until a 10 s slot has passed, so that
  // the lines join two points at least.
  ASSERT_TRUE(Eventually(
      [&] {
        GetMetricsOf(scaler.stub(), kHostileName, load);
        GetMetricsOf(scaler.stub(), "prefill", prefill);
        return HistoryPoints(scaler, "llm_load_avg") >= 2;
      },
      15s))
      << scaler.Http("/status/history");
  ASSERT_EQ(GetMetricsOf(scaler.stub(), "prefill", prefill).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  const Rendered page =
      Render(dir, "http://127.0.0.1:" + std::to_string(scaler.metrics_port()) + "/");
  const std::vector<Chart> charts = Charts(page.dom);
  ASSERT_EQ(charts.size(), 2u) << page.dom;

  const Chart load_chart = ChartOf(charts, "llm_load_avg");
  std::smatch counts;
  ASSERT_TRUE(std::regex_match(load_chart.drawn, counts,
                               std::regex("F \\(llm_load_avg\\)=([0-9]+);threshold 0\\.5=2;"
                                          "units N=([0-9]+);HPA desired replicas=([0-9]+)")))
      << load_chart.drawn;
  EXPECT_GE(std::stoi(counts[1]), 2) << load_chart.drawn;
  EXPECT_EQ(counts[2], counts[1]) << load_chart.drawn;
  EXPECT_EQ(counts[3], counts[1]) << load_chart.drawn;
  EXPECT_EQ(ChartOf(charts, "llm_prefill_tokens_queued").drawn,
            "F (llm_prefill_tokens_queued)=0;threshold 100=2;units N=0;HPA desired replicas=0");

  // The hostile name is in the chart's label, as text, and ran nothing.
  EXPECT_NE(load_chart.label.find("document.title='owned'"), std::string::npos) << load_chart.label;
  EXPECT_NE(page.dom.find("<title>metrics-keda</title>"), std::string::npos);
  EXPECT_EQ(page.dom.find("owned'</script>"), std::string::npos);

  // The screenshot: a PNG of the window (IHDR: width, height), with more bytes than
  // the page's tables alone make.
  ASSERT_GT(page.png.size(), 24u);
  EXPECT_EQ(page.png.substr(1, 3), "PNG");
  EXPECT_EQ(BigEndian32(page.png, 16), 1280u);
  EXPECT_EQ(BigEndian32(page.png, 20), 1000u);
  EXPECT_GT(page.png.size(), 30'000u);
}

}  // namespace
}  // namespace mk::testing
