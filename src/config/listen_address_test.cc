#include "config/listen_address.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mk::config {
namespace {

// "a.a. ... .a", `size` characters long (odd).
std::string LongName(size_t size) {
  std::string name = "a";
  while (name.size() < size) name += ".a";
  return name;
}

TEST(ListenHostTest, Ipv4AddressesAndHostNames) {
  for (const std::string host :
       {"0.0.0.0", "127.0.0.1", "10.1.2.3", "localhost", "metrics-keda.keda.svc", "a", "x1"}) {
    const std::optional<ListenHost> listen = ParseListenHost(host);
    ASSERT_TRUE(listen.has_value()) << host;
    EXPECT_EQ(listen->address, host);
    EXPECT_FALSE(listen->ipv6) << host;
    EXPECT_EQ(listen->WithPort(9090), host + ":9090");
  }
}

TEST(ListenHostTest, HostNamesUpTo253Characters) {
  EXPECT_TRUE(ParseListenHost(LongName(253)).has_value());
  EXPECT_TRUE(ParseListenHost(std::string(63, 'a')).has_value());
}

TEST(ListenHostTest, Ipv6AddressesBareOrInBrackets) {
  for (const auto& [given, bare] : std::vector<std::pair<std::string, std::string>>{
           {"::1", "::1"},
           {"[::1]", "::1"},
           {"::", "::"},
           {"[::]", "::"},
           {"fd00:1:2::3", "fd00:1:2::3"},
           {"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"}}) {
    const std::optional<ListenHost> listen = ParseListenHost(given);
    ASSERT_TRUE(listen.has_value()) << given;
    EXPECT_EQ(listen->address, bare) << given;
    EXPECT_TRUE(listen->ipv6) << given;
    EXPECT_EQ(listen->WithPort(9090), "[" + bare + "]:9090") << given;
  }
}

TEST(ListenHostTest, TheDefaultListensOnEveryIpv4Address) {
  EXPECT_EQ(ListenHost{}.WithPort(9090), "0.0.0.0:9090");
  EXPECT_EQ(ParseListenHost("0.0.0.0"), ListenHost{});
}

TEST(ListenHostTest, RefusesWhatIsNeitherAnAddressNorAName) {
  const std::vector<std::string> refused = {"",
                                            "[",
                                            "[]",
                                            "[::1",
                                            "::1]",
                                            "[[::1]]",
                                            "::g",
                                            ":::",
                                            "1::2::3",
                                            "[1.2.3.4]",
                                            "[localhost]",
                                            "1.2.3",
                                            "256.0.0.1",
                                            "1.2.3.4.5",
                                            "127.1",
                                            "a b",
                                            " localhost",
                                            "localhost ",
                                            "-x",
                                            "x-",
                                            "a..b",
                                            ".a",
                                            "a.",
                                            "under_score",
                                            "host:9090",
                                            "0.0.0.0:9090",
                                            "[::1]:9090",
                                            "http://localhost",
                                            std::string(64, 'a'),
                                            LongName(255)};
  for (const std::string& host : refused) {
    EXPECT_EQ(ParseListenHost(host), std::nullopt) << '"' << host << '"';
  }
}

}  // namespace
}  // namespace mk::config
