#include "observability/static_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace mk::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The build embeds the file byte for byte: what Debian's libjs-chart.js installed.
TEST(StaticFilesTest, ChartJsIsTheDebianFileByteForByte) {
  const std::string debian = ReadFile(MK_CHART_JS);
  ASSERT_FALSE(debian.empty()) << MK_CHART_JS;
  EXPECT_EQ(ChartJs().body, debian);
  EXPECT_THAT(std::string(ChartJs().body), StartsWith("/*!\n * Chart.js v"));
}

TEST(StaticFilesTest, UrlsCarryTheHashOfTheBody) {
  for (const StaticFile* file : {&ChartJs(), &StatusChartsJs()}) {
    ASSERT_EQ(file->sha256.size(), 64u) << file->path;
    EXPECT_EQ(file->Url(),
              std::string(file->path) + "?v=" + std::string(file->sha256.substr(0, 16)));
  }
  EXPECT_NE(ChartJs().sha256, StatusChartsJs().sha256);
}

TEST(StaticFilesTest, ServedAsJavaScriptCachedForAYear) {
  const std::map<std::string, HttpRoute> routes = StaticFileRoutes();
  ASSERT_EQ(routes.size(), 2u);
  for (const StaticFile* file : {&ChartJs(), &StatusChartsJs()}) {
    const auto route = routes.find(std::string(file->path));
    ASSERT_NE(route, routes.end()) << file->path;
    const HttpResponse response = route->second();
    EXPECT_EQ(response.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(response.body, file->body);
    EXPECT_THAT(response.cache_control, HasSubstr("max-age=31536000"));
  }
  EXPECT_THAT(std::string(StatusChartsJs().body), HasSubstr("new Chart("));
}

}  // namespace
}  // namespace mk::observability
