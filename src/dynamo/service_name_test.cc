#include "dynamo/service_name.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "dynamo/worker_load.h"

namespace mk::dynamo {
namespace {

using Match = EndpointMatcher::Match;

TEST(SlugifyTest, KeepsLowercaseLettersDigitsUnderscoreAndDash) {
  EXPECT_EQ(Slugify("dynamo_llm-worker"), "dynamo_llm-worker");
  EXPECT_EQ(Slugify("abc_019-xyz"), "abc_019-xyz");
}

TEST(SlugifyTest, LowercasesUppercaseLetters) {
  EXPECT_EQ(Slugify("VllmWorker"), "vllmworker");
  EXPECT_EQ(Slugify("ABCXYZ"), "abcxyz");
}

TEST(SlugifyTest, MapsOtherCharactersToUnderscore) {
  EXPECT_EQ(Slugify("a.b c/d*e>f"), "a_b_c_d_e_f");
  EXPECT_EQ(Slugify("x:y@z"), "x_y_z");
}

TEST(SlugifyTest, TrimsLeadingUnderscores) {
  EXPECT_EQ(Slugify("__worker"), "worker");
  // Characters mapped to '_' at the start are trimmed too.
  EXPECT_EQ(Slugify(".*worker"), "worker");
  // Only leading ones: inner and trailing underscores stay.
  EXPECT_EQ(Slugify("_a__b_"), "a__b_");
}

TEST(SlugifyTest, AllUnderscoresGiveEmpty) {
  EXPECT_EQ(Slugify("___"), "");
  EXPECT_EQ(Slugify(""), "");
}

TEST(ServiceNameTest, JoinsNamespaceAndComponentWithUnderscore) {
  EXPECT_EQ(ServiceName("dynamo", "llm-worker"), "dynamo_llm-worker");
  EXPECT_EQ(ServiceName("dynamo", "backend"), "dynamo_backend");
}

TEST(ServiceNameTest, SlugifiesTheJoinedName) {
  EXPECT_EQ(ServiceName("dynamo", "VllmWorker"), "dynamo_vllmworker");
  EXPECT_EQ(ServiceName("My.Ns", "Comp onent"), "my_ns_comp_onent");
}

TEST(LegacyServiceNamePrefixTest, MapsDashToUnderscore) {
  EXPECT_EQ(LegacyServiceNamePrefix("dynamo", "llm-worker"), "dynamo_llm_worker");
  EXPECT_EQ(LegacyServiceNamePrefix("my-ns", "a-b-c"), "my_ns_a_b_c");
}

TEST(LegacyServiceNamePrefixTest, LowercasesLikeSlugify) {
  EXPECT_EQ(LegacyServiceNamePrefix("dynamo", "VllmWorker"), "dynamo_vllmworker");
}

TEST(IsSubjectSafeNameTest, AcceptsLettersDigitsUnderscoreAndDash) {
  EXPECT_TRUE(IsSubjectSafeName("dynamo"));
  EXPECT_TRUE(IsSubjectSafeName("VllmWorker"));
  EXPECT_TRUE(IsSubjectSafeName("kv-router_2"));
  EXPECT_TRUE(IsSubjectSafeName("a"));
}

TEST(IsSubjectSafeNameTest, RejectsEmpty) { EXPECT_FALSE(IsSubjectSafeName("")); }

TEST(IsSubjectSafeNameTest, AcceptsUpTo128Characters) {
  EXPECT_TRUE(IsSubjectSafeName(std::string(128, 'a')));
  EXPECT_FALSE(IsSubjectSafeName(std::string(129, 'a')));
}

TEST(IsSubjectSafeNameTest, RejectsSubjectSyntaxAndSpace) {
  EXPECT_FALSE(IsSubjectSafeName("a.b"));
  EXPECT_FALSE(IsSubjectSafeName("a*"));
  EXPECT_FALSE(IsSubjectSafeName("*"));
  EXPECT_FALSE(IsSubjectSafeName("a>"));
  EXPECT_FALSE(IsSubjectSafeName(">"));
  EXPECT_FALSE(IsSubjectSafeName("a b"));
  EXPECT_FALSE(IsSubjectSafeName(" "));
  EXPECT_FALSE(IsSubjectSafeName("a\tb"));
  EXPECT_FALSE(IsSubjectSafeName("a/b"));
}

TEST(LeaseHexTest, LowercaseWithoutPadding) {
  EXPECT_EQ(LeaseHex(0x694d988806b92e39), "694d988806b92e39");
  EXPECT_EQ(LeaseHex(0x3e8), "3e8");
  EXPECT_EQ(LeaseHex(0x2a), "2a");
  EXPECT_EQ(LeaseHex(0), "0");
  EXPECT_EQ(LeaseHex(std::numeric_limits<uint64_t>::max()), "ffffffffffffffff");
}

class EndpointMatcherTest : public ::testing::Test {
 protected:
  EndpointMatcher matcher_{"dynamo", "llm-worker", "kv-router", /*accept_legacy_names=*/false};
};

TEST_F(EndpointMatcherTest, ServiceNameIsTheSlug) {
  EXPECT_EQ(matcher_.service_name(), "dynamo_llm-worker");
}

TEST_F(EndpointMatcherTest, MatchesMonitoredEndpointAndExtractsLease) {
  const auto result = matcher_.MatchSubject("dynamo_llm-worker.kv-router-7587867c5a2d3e01");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, 0x7587867c5a2d3e01u);
}

TEST_F(EndpointMatcherTest, MatchesShortAndMaximalLeases) {
  auto result = matcher_.MatchSubject("dynamo_llm-worker.kv-router-2a");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, 0x2au);

  result = matcher_.MatchSubject("dynamo_llm-worker.kv-router-ffffffffffffffff");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, std::numeric_limits<uint64_t>::max());
}

TEST_F(EndpointMatcherTest, RoundTripsLeaseHex) {
  for (uint64_t lease : {uint64_t{1}, uint64_t{0x3e8}, uint64_t{0x694d988806b92e39}}) {
    const auto result = matcher_.MatchSubject("dynamo_llm-worker.kv-router-" + LeaseHex(lease));
    EXPECT_EQ(result.match, Match::kMatched) << LeaseHex(lease);
    EXPECT_EQ(result.lease_id, lease);
  }
}

TEST_F(EndpointMatcherTest, EndpointWithSamePrefixIsAnotherEndpoint) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-router_x-ff01").match,
            Match::kOtherEndpoint);
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-router-x-ff01").match,
            Match::kOtherEndpoint);
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-ff01").match, Match::kOtherEndpoint);
}

TEST_F(EndpointMatcherTest, OtherEndpointOfTheServiceIsOtherEndpoint) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.generate-7587867c5a2d3e01").match,
            Match::kOtherEndpoint);
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kvrouter").match, Match::kOtherEndpoint);
}

TEST_F(EndpointMatcherTest, NonHexLeaseIsBadLease) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-router-zz9q").match, Match::kBadLeaseId);
}

TEST_F(EndpointMatcherTest, SeventeenHexDigitsIsBadLease) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-router-1ffffffffffffffff").match,
            Match::kBadLeaseId);
}

TEST_F(EndpointMatcherTest, EmptyLeaseIsBadLease) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker.kv-router-").match, Match::kBadLeaseId);
}

TEST_F(EndpointMatcherTest, OtherServiceIsOtherService) {
  EXPECT_EQ(matcher_.MatchSubject("dynamo_backend.kv-router-ff01").match, Match::kOtherService);
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-workers.kv-router-ff01").match, Match::kOtherService);
  EXPECT_EQ(matcher_.MatchSubject("other_llm-worker.kv-router-ff01").match, Match::kOtherService);
  EXPECT_EQ(matcher_.MatchSubject("dynamo_llm-worker").match, Match::kOtherService);
  EXPECT_EQ(matcher_.MatchSubject("").match, Match::kOtherService);
}

TEST_F(EndpointMatcherTest, LegacyNameRejectedWhenNotEnabled) {
  const EndpointMatcher matcher("dynamo", "VllmWorker", "load_metrics", false);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21ab.load_metrics-1a2b3c").match,
            Match::kOtherService);
}

TEST(EndpointMatcherLegacyTest, LegacyNameAcceptedWhenEnabled) {
  const EndpointMatcher matcher("dynamo", "VllmWorker", "load_metrics", true);
  const auto result = matcher.MatchSubject("dynamo_vllmworker_5f0c21ab.load_metrics-1a2b3c");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, 0x1a2b3cu);
}

TEST(EndpointMatcherLegacyTest, CurrentNameStillAcceptedWithLegacyEnabled) {
  const EndpointMatcher matcher("dynamo", "VllmWorker", "load_metrics", true);
  const auto result = matcher.MatchSubject("dynamo_vllmworker.load_metrics-1a2b3c");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, 0x1a2b3cu);
}

TEST(EndpointMatcherLegacyTest, LegacyNameUsesUnderscoreForDash) {
  const EndpointMatcher matcher("dynamo", "llm-worker", "kv-router", true);
  const auto result = matcher.MatchSubject("dynamo_llm_worker_1a2b3c4d.kv-router-ff");
  EXPECT_EQ(result.match, Match::kMatched);
  EXPECT_EQ(result.lease_id, 0xffu);
}

TEST(EndpointMatcherLegacyTest, LegacyHashMustBeEightHexCharacters) {
  const EndpointMatcher matcher("dynamo", "VllmWorker", "load_metrics", true);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21a.load_metrics-1a").match,
            Match::kOtherService);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21abc.load_metrics-1a").match,
            Match::kOtherService);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21xy.load_metrics-1a").match,
            Match::kOtherService);
  EXPECT_EQ(matcher.MatchSubject("dynamo_other_5f0c21ab.load_metrics-1a").match,
            Match::kOtherService);
}

TEST(EndpointMatcherLegacyTest, LegacyNameStillMatchesEndpointExactly) {
  const EndpointMatcher matcher("dynamo", "VllmWorker", "load_metrics", true);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21ab.load_metrics_x-1a").match,
            Match::kOtherEndpoint);
  EXPECT_EQ(matcher.MatchSubject("dynamo_vllmworker_5f0c21ab.load_metrics-zz").match,
            Match::kBadLeaseId);
}

}  // namespace
}  // namespace mk::dynamo
