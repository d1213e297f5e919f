#include "prometheus/text_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace mk::prometheus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<Sample> ReadOk(const TextFormatReader& reader, std::string_view page) {
  absl::StatusOr<std::vector<Sample>> samples = reader.Read(page);
  EXPECT_TRUE(samples.ok()) << samples.status();
  return samples.ok() ? *std::move(samples) : std::vector<Sample>{};
}

TEST(TextFormatReaderTest, KeepsOnlyTheWantedSamplesWithTheirLabelsAndTypes) {
  const TextFormatReader reader({"vllm:num_requests_waiting", "up"});
  const std::vector<Sample> samples = ReadOk(
      reader, R"(# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-0.6B"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-0.6B"} 7.0
vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-0.6B"} 0.0 1712345678901
up 1
)");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].name, "vllm:num_requests_waiting");
  EXPECT_THAT(samples[0].labels,
              ElementsAre(Label{"engine", "0"}, Label{"model_name", "Qwen/Qwen3-0.6B"}));
  EXPECT_EQ(samples[0].value, 7.0);
  EXPECT_EQ(samples[0].type, MetricType::kGauge);
  EXPECT_FALSE(samples[0].timestamp_ms);
  EXPECT_EQ(samples[1].LabelValue("engine"), "1");
  EXPECT_EQ(samples[1].timestamp_ms, 1712345678901);
  // `up` follows the TYPE line of another family: it has none of its own.
  EXPECT_EQ(samples[2].name, "up");
  EXPECT_THAT(samples[2].labels, IsEmpty());
  EXPECT_EQ(samples[2].type, MetricType::kUntyped);
  EXPECT_FALSE(samples[2].LabelValue("engine"));
}

TEST(TextFormatReaderTest, AHistogramTypeCoversItsBucketsSumAndCount) {
  const TextFormatReader reader({"ttft_bucket", "ttft_sum", "ttft_count", "ttft_created"});
  const std::vector<Sample> samples = ReadOk(reader, R"(# TYPE ttft histogram
ttft_bucket{le="0.1"} 2
ttft_bucket{le="+Inf"} 5
ttft_sum 1.25
ttft_count 5
ttft_created 1.7e9
)");
  ASSERT_EQ(samples.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(samples[i].type, MetricType::kHistogram) << i;
  EXPECT_EQ(samples[1].LabelValue("le"), "+Inf");
  EXPECT_EQ(samples[4].type, MetricType::kUntyped);
}

TEST(TextFormatReaderTest, ReadsEveryValueSpelling) {
  const TextFormatReader reader({"v"});
  const std::vector<Sample> samples = ReadOk(reader,
                                             "v{i=\"1\"} NaN\nv{i=\"2\"} +Inf\nv{i=\"3\"} -Inf\n"
                                             "v{i=\"4\"} 1.5e3\nv{i=\"5\"} -2E-2\nv{i=\"6\"} .5\n"
                                             "v{i=\"7\"} +7\nv{i=\"8\"} inf\nv{i=\"9\"} -Infinity\n"
                                             "v{i=\"10\"} 5e-324\n");
  ASSERT_EQ(samples.size(), 10u);
  EXPECT_TRUE(std::isnan(samples[0].value));
  EXPECT_EQ(samples[1].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[3].value, 1500.0);
  EXPECT_EQ(samples[4].value, -0.02);
  EXPECT_EQ(samples[5].value, 0.5);
  EXPECT_EQ(samples[6].value, 7.0);
  EXPECT_EQ(samples[7].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(samples[8].value, -std::numeric_limits<double>::infinity());
  EXPECT_GT(samples[9].value, 0.0);
}

TEST(TextFormatReaderTest, ResolvesLabelEscapes) {
  const TextFormatReader reader({"m"});
  const std::vector<Sample> samples =
      ReadOk(reader, R"(m{path="C:\\models\\q",quote="say \"hi\"",lines="a\nb",utf8="größe"} 1)");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_THAT(samples[0].labels,
              ElementsAre(Label{"path", R"(C:\models\q)"}, Label{"quote", R"(say "hi")"},
                          Label{"lines", "a\nb"}, Label{"utf8", "größe"}));
}

TEST(TextFormatReaderTest, AcceptsCrlfBlankLinesBlanksAndANoFinalNewline) {
  const TextFormatReader reader({"a", "b", "c"});
  const std::vector<Sample> samples =
      ReadOk(reader,
             "\r\n# a comment that is neither HELP nor TYPE\r\n  \t \r\n"
             "a { x = \"1\" , y=\"2\", } \t 1 \r\n"
             "\n  # TYPE b gauge\nb {}2\nc 3");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_THAT(samples[0].labels, ElementsAre(Label{"x", "1"}, Label{"y", "2"}));
  EXPECT_EQ(samples[0].value, 1.0);
  EXPECT_EQ(samples[1].type, MetricType::kGauge);
  EXPECT_THAT(samples[1].labels, IsEmpty());
  EXPECT_EQ(samples[2].value, 3.0);
}

TEST(TextFormatReaderTest, AnEmptyPageAndAPageWithoutTheWantedNamesHoldNoSample) {
  const TextFormatReader reader({"wanted"});
  EXPECT_THAT(ReadOk(reader, ""), IsEmpty());
  EXPECT_THAT(ReadOk(reader, "other 1\n# TYPE wanted_total counter\nwanted_total 2\n"), IsEmpty());
}

struct BadPage {
  const char* name;
  std::string page;
  absl::StatusCode code;
  const char* message;
};

class MalformedPageTest : public ::testing::TestWithParam<BadPage> {};

TEST_P(MalformedPageTest, IsRefusedNamingTheLineAndTheProblem) {
  // Nothing is wanted: a skimmed line is checked as strictly as a kept one.
  for (const TextFormatReader& reader :
       {TextFormatReader({}), TextFormatReader({"m", "ok", "wanted"})}) {
    const absl::StatusOr<std::vector<Sample>> samples = reader.Read(GetParam().page);
    ASSERT_FALSE(samples.ok()) << GetParam().page;
    EXPECT_EQ(samples.status().code(), GetParam().code) << samples.status();
    EXPECT_THAT(std::string(samples.status().message()), HasSubstr(GetParam().message));
  }
}

const absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

INSTANTIATE_TEST_SUITE_P(
    Lines, MalformedPageTest,
    ::testing::Values(
        BadPage{"bad_metric_name", "ok 1\n9lives 1\n", kInvalid,
                "line 2: expected a metric name or '#', found '9'"},
        BadPage{"dash_in_name", "ok 1\nm-x 1\n", kInvalid, "line 2: unexpected '-' after m"},
        BadPage{"no_value", "m\n", kInvalid, "line 1: no value after m"},
        BadPage{"labels_not_closed", "m{a=\"1\" 2\n", kInvalid,
                "line 1: expected ',' or '}' after the value of label a, found '2' in the labels "
                "of m"},
        BadPage{"value_not_closed", "m{a=\"1} 2\n", kInvalid,
                "line 1: the value of label a is not closed in the labels of m"},
        BadPage{"value_not_quoted", "m{a=1} 2\n", kInvalid,
                "line 1: expected '\"' to open the value of label a, found '1'"},
        BadPage{"no_equals", "m{a \"1\"} 2\n", kInvalid, "expected '=' after label a, found '\"'"},
        BadPage{"bad_label_name", "m{a:b=\"1\"} 2\n", kInvalid, "expected '=' after label a"},
        BadPage{"label_name_digit", "m{1a=\"1\"} 2\n", kInvalid,
                "expected a label name or '}', found '1'"},
        BadPage{"unknown_escape", "m{a=\"x\\ty\"} 1\n", kInvalid,
                "line 1: unknown escape '\\' followed by 't' in the value of label a"},
        BadPage{"escape_at_end", "m{a=\"x\\", kInvalid, "the value of label a ends in '\\'"},
        BadPage{"repeated_label", "m{a=\"1\",a=\"2\"} 1\n", kInvalid,
                "line 1: label a repeated in the labels of m"},
        BadPage{"not_utf8", "m{a=\"\xc3\x28\"} 1\n", kInvalid, "the value of label a is not UTF-8"},
        BadPage{"overlong_utf8", "m{a=\"\xc0\xaf\"} 1\n", kInvalid, "is not UTF-8"},
        BadPage{"surrogate_utf8", "m{a=\"\xed\xa0\x80\"} 1\n", kInvalid, "is not UTF-8"},
        BadPage{"value_word", "ok 1\n\nm 1x\n", kInvalid,
                "line 3: the value of m is neither a decimal number"},
        BadPage{"value_hex", "m 0x10\n", kInvalid, "the value of m is neither"},
        BadPage{"value_signed_nan", "m -NaN\n", kInvalid, "the value of m is neither"},
        BadPage{"value_overflow", "m 1e400\n", kInvalid, "the value of m is neither"},
        BadPage{"value_underflow", "m 1e-400\n", kInvalid, "the value of m is neither"},
        BadPage{"brace_after_value", "m 1{a=\"1\"}\n", kInvalid, "the value of m is neither"},
        BadPage{"timestamp_fraction", "m 1 1.5\n", kInvalid,
                "the timestamp of m is not a 64-bit integer"},
        BadPage{"timestamp_overflow", "m 1 99999999999999999999\n", kInvalid,
                "the timestamp of m is not a 64-bit integer"},
        BadPage{"after_timestamp", "m 1 2 3\n", kInvalid,
                "unexpected text after the timestamp of m"},
        BadPage{"type_unknown", "# TYPE m gauges\n", kInvalid,
                "line 1: TYPE of m is not one of counter, gauge"},
        BadPage{"type_extra", "# TYPE m gauge x\n", kInvalid,
                "unexpected text after the type of m"},
        BadPage{"help_no_name", "# HELP\n", kInvalid, "line 1: HELP line without a metric name"},
        BadPage{"type_bad_name", "# TYPE m-1 gauge\n", kInvalid,
                "unexpected '-' in the metric name of a TYPE line"},
        BadPage{"control_character", "ok 1\n\x01 1\n", kInvalid,
                "line 2: expected a metric name or '#', found byte 0x01"},
        BadPage{"crlf_counts_lines", "ok 1\r\nok 2\r\nm{\r\n", kInvalid, "line 3: '}' missing"}),
    [](const ::testing::TestParamInfo<BadPage>& param) { return std::string(param.param.name); });

TEST(TextFormatReaderTest, RefusesAPageBeyondItsLimits) {
  TextFormatLimits limits;
  limits.max_page_bytes = 64;
  limits.max_line_bytes = 32;
  limits.max_labels_per_sample = 2;
  limits.max_label_name_bytes = 3;
  limits.max_label_value_bytes = 4;
  limits.max_samples_kept = 2;
  const TextFormatReader reader({"m"}, limits);
  const auto refused = [&](const std::string& page, const std::string& message) {
    const absl::StatusOr<std::vector<Sample>> samples = reader.Read(page);
    ASSERT_FALSE(samples.ok()) << page;
    EXPECT_EQ(samples.status().code(), absl::StatusCode::kResourceExhausted) << samples.status();
    EXPECT_THAT(std::string(samples.status().message()), HasSubstr(message));
  };
  refused(std::string(65, '\n'), "the page has 65 bytes, more than the limit of 64");
  refused("m 1\nother " + std::string(30, '1') + "\n",
          "line 2: the line has 36 bytes, more than the limit of 32");
  refused("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", "line 1: more than 2 labels in the labels of m");
  refused("m{abcd=\"1\"} 1\n", "line 1: a label name of 4 bytes, more than the limit of 3");
  refused("m{a=\"12345\"} 1\n", "line 1: the value of label a has more than 4 bytes");
  refused("m 1\nm 2\nm 3\n", "line 3: more than 2 samples of the wanted metrics");
  // At the limits exactly, all is well; an escape counts as the one byte it stands for.
  EXPECT_THAT(
      ReadOk(reader, "m{a=\"\\\\\\\\\\\\\\\\\",bb=\"\"} 1\nm 2\nother 3\n"),
      ElementsAre(::testing::Field(&Sample::value, 1.0), ::testing::Field(&Sample::value, 2.0)));
}

TEST(TextFormatReaderTest, ADuplicateWantedNameIsHarmless) {
  const TextFormatReader reader({"m", "m", "a"});
  EXPECT_EQ(ReadOk(reader, "m 1\na 2\nb 3\n").size(), 2u);
}

}  // namespace
}  // namespace mk::prometheus
