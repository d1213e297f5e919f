#include "common/decimal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>

namespace mk {
namespace {

TEST(ParseDecimalTest, TakesDecimalNotation) {
  EXPECT_EQ(ParseDecimal("0.7"), 0.7);
  EXPECT_EQ(ParseDecimal(".5"), 0.5);
  EXPECT_EQ(ParseDecimal("5."), 5.0);
  EXPECT_EQ(ParseDecimal("10"), 10.0);
  EXPECT_EQ(ParseDecimal("007"), 7.0);
  EXPECT_EQ(ParseDecimal("1e-3"), 0.001);
  EXPECT_EQ(ParseDecimal("2E+2"), 200.0);
  EXPECT_EQ(ParseDecimal("1.5e1"), 15.0);
  EXPECT_EQ(ParseDecimal(".5e1"), 5.0);
  EXPECT_EQ(ParseDecimal("+0.25"), 0.25);
  EXPECT_EQ(ParseDecimal("-0.25"), -0.25);
  EXPECT_EQ(ParseDecimal("1.7976931348623157e308"), 1.7976931348623157e308);
}

TEST(ParseDecimalTest, NegativeZeroIsZero) {
  const std::optional<double> zero = ParseDecimal("-0");
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(*zero, 0.0);
}

TEST(ParseDecimalTest, RefusesHexadecimal) {
  for (const std::string text :
       {"0x10", "0X10", "0x1p-3", "-0x1p-3", "0x.8p1", "0x", "1p3", "ff"}) {
    EXPECT_EQ(ParseDecimal(text), std::nullopt) << text;
  }
}

TEST(ParseDecimalTest, RefusesInfinityAndNan) {
  for (const std::string text :
       {"inf", "-inf", "+inf", "INF", "infinity", "nan", "NaN", "-nan", "nan(1)"}) {
    EXPECT_EQ(ParseDecimal(text), std::nullopt) << text;
  }
}

TEST(ParseDecimalTest, RefusesSpacesAndEmptyText) {
  for (const std::string text : {"", " ", " 1", "1 ", "\t1", "1\n", "1 0", "- 1"}) {
    EXPECT_EQ(ParseDecimal(text), std::nullopt) << '"' << text << '"';
  }
}

TEST(ParseDecimalTest, RefusesMalformedNumbers) {
  for (const std::string text : {".", "-", "+", "+-1", "--1", "1..2", "1.2.3", "e3", ".e3", "1e",
                                 "1e+", "1e-", "1e3.5", "0.7x", "1,5", "1_000", "1f"}) {
    EXPECT_EQ(ParseDecimal(text), std::nullopt) << text;
  }
  EXPECT_EQ(ParseDecimal(std::string("1\0", 2)), std::nullopt);
}

TEST(ParseDecimalTest, RefusesValuesBeyondADouble) {
  EXPECT_EQ(ParseDecimal("1e999"), std::nullopt);
  EXPECT_EQ(ParseDecimal("-1e309"), std::nullopt);
  EXPECT_EQ(ParseDecimal("1e-999"), std::nullopt);
}

}  // namespace
}  // namespace mk
