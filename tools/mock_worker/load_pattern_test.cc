#include "mock_worker/load_pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace mk::mock {
namespace {

using ::testing::HasSubstr;

LoadPattern MustParse(const std::string& spec) {
  PatternResult r = ParseLoadPattern(spec);
  if (auto* e = std::get_if<PatternError>(&r)) {
    ADD_FAILURE() << spec << ": " << e->message;
    return LoadPattern::Constant(0);
  }
  return std::get<LoadPattern>(r);
}

std::string MustFail(const std::string& spec) {
  PatternResult r = ParseLoadPattern(spec);
  if (auto* e = std::get_if<PatternError>(&r)) {
    EXPECT_EQ(e->message.find('\n'), std::string::npos) << "error must be one line";
    return e->message;
  }
  ADD_FAILURE() << spec << " parsed but should not";
  return "";
}

// A CSV file under the test temp dir, removed when the test ends.
class CsvFile {
 public:
  CsvFile(const std::string& name, const std::string& content)
      : path_(::testing::TempDir() + "mock_worker_" + name + ".csv") {
    std::ofstream(path_) << content;
  }
  ~CsvFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string spec() const { return "csv:" + path_; }

 private:
  std::string path_;
};

TEST(LoadPattern, ConstantHoldsItsValue) {
  const LoadPattern p = MustParse("constant:0.37");
  EXPECT_EQ(p.kind(), LoadPattern::Kind::kConstant);
  EXPECT_DOUBLE_EQ(p.At(0), 0.37);
  EXPECT_DOUBLE_EQ(p.At(12.5), 0.37);
  EXPECT_DOUBLE_EQ(p.At(1e6), 0.37);
  EXPECT_DOUBLE_EQ(MustParse("constant:0").At(3), 0.0);
  EXPECT_DOUBLE_EQ(MustParse("constant:1").At(3), 1.0);
}

TEST(LoadPattern, ConstantFactoryClamps) {
  EXPECT_DOUBLE_EQ(LoadPattern::Constant(0.6).At(5), 0.6);
  EXPECT_DOUBLE_EQ(LoadPattern::Constant(1.5).At(5), 1.0);
  EXPECT_DOUBLE_EQ(LoadPattern::Constant(-1).At(5), 0.0);
}

TEST(LoadPattern, RampIsLinearThenHolds) {
  const LoadPattern p = MustParse("ramp:0.2:0.8:10");
  EXPECT_EQ(p.kind(), LoadPattern::Kind::kRamp);
  EXPECT_DOUBLE_EQ(p.At(-5), 0.2);
  EXPECT_DOUBLE_EQ(p.At(0), 0.2);
  EXPECT_DOUBLE_EQ(p.At(2.5), 0.35);
  EXPECT_DOUBLE_EQ(p.At(5), 0.5);
  EXPECT_DOUBLE_EQ(p.At(10), 0.8);
  EXPECT_DOUBLE_EQ(p.At(1000), 0.8);
}

TEST(LoadPattern, RampDownwards) {
  const LoadPattern p = MustParse("ramp:1:0:4");
  EXPECT_DOUBLE_EQ(p.At(1), 0.75);
  EXPECT_DOUBLE_EQ(p.At(3), 0.25);
  EXPECT_DOUBLE_EQ(p.At(4), 0.0);
  EXPECT_DOUBLE_EQ(p.At(9), 0.0);
}

TEST(LoadPattern, SineStartsAtMinAndPeaksHalfwayThroughThePeriod) {
  const LoadPattern p = MustParse("sine:0.2:0.6:20");
  EXPECT_EQ(p.kind(), LoadPattern::Kind::kSine);
  EXPECT_NEAR(p.At(0), 0.2, 1e-12);
  EXPECT_NEAR(p.At(5), 0.4, 1e-12);   // quarter period: the midpoint
  EXPECT_NEAR(p.At(10), 0.6, 1e-12);  // half period: MAX
  EXPECT_NEAR(p.At(15), 0.4, 1e-12);
  EXPECT_NEAR(p.At(20), 0.2, 1e-12);
  EXPECT_NEAR(p.At(30), 0.6, 1e-12);  // periodic
  for (double t = 0; t < 40; t += 0.37) {
    EXPECT_GE(p.At(t), 0.2);
    EXPECT_LE(p.At(t), 0.6);
  }
}

TEST(LoadPattern, SineOverTheFullRangeStaysInBounds) {
  const LoadPattern p = MustParse("sine:0:1:7");
  for (double t = 0; t < 50; t += 0.01) {
    ASSERT_GE(p.At(t), 0.0);
    ASSERT_LE(p.At(t), 1.0);
  }
}

TEST(LoadPattern, StepAlternatesHalfPeriods) {
  const LoadPattern p = MustParse("step:0.1:0.9:10");
  EXPECT_EQ(p.kind(), LoadPattern::Kind::kStep);
  EXPECT_DOUBLE_EQ(p.At(0), 0.1);
  EXPECT_DOUBLE_EQ(p.At(4.99), 0.1);
  EXPECT_DOUBLE_EQ(p.At(5), 0.9);
  EXPECT_DOUBLE_EQ(p.At(9.99), 0.9);
  EXPECT_DOUBLE_EQ(p.At(10), 0.1);
  EXPECT_DOUBLE_EQ(p.At(17), 0.9);
  EXPECT_DOUBLE_EQ(p.At(1002), 0.1);
}

TEST(LoadPattern, CsvHoldsEachValueUntilTheNextTime) {
  CsvFile f("basic", "0,0.1\n10,0.5\n20.5,0.9\n");
  const LoadPattern p = MustParse(f.spec());
  EXPECT_EQ(p.kind(), LoadPattern::Kind::kCsv);
  EXPECT_DOUBLE_EQ(p.At(0), 0.1);
  EXPECT_DOUBLE_EQ(p.At(9.999), 0.1);
  EXPECT_DOUBLE_EQ(p.At(10), 0.5);
  EXPECT_DOUBLE_EQ(p.At(20), 0.5);
  EXPECT_DOUBLE_EQ(p.At(20.5), 0.9);
  EXPECT_DOUBLE_EQ(p.At(1e6), 0.9);
}

TEST(LoadPattern, CsvWithHeaderBlankLinesSpacesAndCrlf) {
  CsvFile f("header", "time,load\r\n\r\n 5 , 0.25 \r\n15,1\r\n\n");
  const LoadPattern p = MustParse(f.spec());
  EXPECT_DOUBLE_EQ(p.At(0), 0.25);  // before the first time: the first value
  EXPECT_DOUBLE_EQ(p.At(5), 0.25);
  EXPECT_DOUBLE_EQ(p.At(14), 0.25);
  EXPECT_DOUBLE_EQ(p.At(15), 1.0);
}

TEST(LoadPattern, CsvSingleRow) {
  CsvFile f("single", "0,0.42\n");
  const LoadPattern p = MustParse(f.spec());
  EXPECT_DOUBLE_EQ(p.At(0), 0.42);
  EXPECT_DOUBLE_EQ(p.At(100), 0.42);
}

TEST(LoadPattern, CsvErrors) {
  EXPECT_THAT(MustFail("csv:"), HasSubstr("file path"));
  EXPECT_THAT(MustFail("csv:/nonexistent/dir/load.csv"),
              HasSubstr("cannot open file '/nonexistent/dir/load.csv'"));
  {
    CsvFile f("empty", "");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("no 'time,load' rows"));
  }
  {
    CsvFile f("header_only", "time,load\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("no 'time,load' rows"));
  }
  {
    CsvFile f("descending", "0,0.1\n10,0.2\n5,0.3\n");
    const std::string e = MustFail(f.spec());
    EXPECT_THAT(e, HasSubstr(":3: "));
    EXPECT_THAT(e, HasSubstr("strictly ascending"));
  }
  {
    CsvFile f("duplicate_time", "0,0.1\n0,0.2\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("strictly ascending"));
  }
  {
    CsvFile f("load_range", "0,0.1\n10,1.5\n");
    const std::string e = MustFail(f.spec());
    EXPECT_THAT(e, HasSubstr(":2: "));
    EXPECT_THAT(e, HasSubstr("load must be a number in [0, 1], got '1.5'"));
  }
  {
    CsvFile f("load_text", "0,high\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("load must be a number in [0, 1], got 'high'"));
  }
  {
    CsvFile f("negative_time", "-1,0.5\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("time must be a number of seconds >= 0"));
  }
  {
    CsvFile f("second_header", "time,load\nt,l\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr(":2: time must be a number"));
  }
  {
    CsvFile f("three_fields", "0,0.5,7\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("expected 'time,load'"));
  }
  {
    CsvFile f("one_field", "0\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("expected 'time,load'"));
  }
  {
    CsvFile f("nan_load", "0,nan\n");
    EXPECT_THAT(MustFail(f.spec()), HasSubstr("load must be a number in [0, 1]"));
  }
}

TEST(LoadPattern, UnknownOrMissingKind) {
  EXPECT_THAT(MustFail(""), HasSubstr("unknown load pattern ''"));
  EXPECT_THAT(MustFail("0.5"), HasSubstr("unknown load pattern '0.5'"));
  EXPECT_THAT(MustFail("square:0:1:2"), HasSubstr("unknown load pattern kind 'square'"));
  EXPECT_THAT(MustFail("Constant:0.5"), HasSubstr("unknown load pattern kind 'Constant'"));
  EXPECT_THAT(MustFail("square:0:1:2"), HasSubstr("ramp:FROM:TO:SECONDS"));
}

TEST(LoadPattern, ConstantErrors) {
  EXPECT_THAT(MustFail("constant:"), HasSubstr("constant V must be a number in [0, 1], got ''"));
  EXPECT_THAT(MustFail("constant:1.01"), HasSubstr("got '1.01'"));
  EXPECT_THAT(MustFail("constant:-0.1"), HasSubstr("got '-0.1'"));
  EXPECT_THAT(MustFail("constant:inf"), HasSubstr("got 'inf'"));
  EXPECT_THAT(MustFail("constant:nan"), HasSubstr("got 'nan'"));
  EXPECT_THAT(MustFail("constant:half"), HasSubstr("got 'half'"));
  EXPECT_THAT(MustFail("constant:0.5:1"), HasSubstr("constant pattern needs constant:V"));
}

TEST(LoadPattern, RampErrors) {
  EXPECT_THAT(MustFail("ramp:0:1"), HasSubstr("ramp pattern needs ramp:FROM:TO:SECONDS"));
  EXPECT_THAT(MustFail("ramp:0:1:5:6"), HasSubstr("ramp pattern needs ramp:FROM:TO:SECONDS"));
  EXPECT_THAT(MustFail("ramp:x:1:5"), HasSubstr("ramp FROM must be a number in [0, 1]"));
  EXPECT_THAT(MustFail("ramp:0:2:5"), HasSubstr("ramp TO must be a number in [0, 1], got '2'"));
  EXPECT_THAT(MustFail("ramp:0:1:0"), HasSubstr("ramp SECONDS must be a number of seconds > 0"));
  EXPECT_THAT(MustFail("ramp:0:1:-3"), HasSubstr("ramp SECONDS"));
  EXPECT_THAT(MustFail("ramp:0:1:inf"), HasSubstr("ramp SECONDS"));
}

TEST(LoadPattern, SineErrors) {
  EXPECT_THAT(MustFail("sine:0:1"), HasSubstr("sine pattern needs sine:MIN:MAX:PERIOD"));
  EXPECT_THAT(MustFail("sine:-1:1:5"), HasSubstr("sine MIN must be a number in [0, 1]"));
  EXPECT_THAT(MustFail("sine:0:nan:5"), HasSubstr("sine MAX must be a number in [0, 1]"));
  EXPECT_THAT(MustFail("sine:0:1:0"), HasSubstr("sine PERIOD must be a number of seconds > 0"));
}

TEST(LoadPattern, StepErrors) {
  EXPECT_THAT(MustFail("step:0:1"), HasSubstr("step pattern needs step:LOW:HIGH:PERIOD"));
  EXPECT_THAT(MustFail("step:1.2:1:5"), HasSubstr("step LOW must be a number in [0, 1]"));
  EXPECT_THAT(MustFail("step:0:"), HasSubstr("step pattern needs"));
  EXPECT_THAT(MustFail("step:0:1:"), HasSubstr("step PERIOD must be a number of seconds > 0"));
  EXPECT_THAT(MustFail("step:0:1:1e999"), HasSubstr("step PERIOD"));
}

}  // namespace
}  // namespace mk::mock
