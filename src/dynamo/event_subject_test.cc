#include "dynamo/event_subject.h"

#include <gtest/gtest.h>

namespace mk::dynamo {
namespace {

TEST(EventSubjectTest, ReadsTheThreeScopes) {
  EXPECT_EQ(ParseEventSubject("namespace.dynamo.kv_metrics"),
            (EventSubject{"dynamo", "", "", "kv_metrics"}));
  EXPECT_EQ(ParseEventSubject("namespace.dynamo.component.backend.forward-pass-metrics"),
            (EventSubject{"dynamo", "backend", "", "forward-pass-metrics"}));
  EXPECT_EQ(ParseEventSubject("namespace.dynamo.component.backend.endpoint.generate.kv_metrics"),
            (EventSubject{"dynamo", "backend", "generate", "kv_metrics"}));
}

TEST(EventSubjectTest, DecodesPercentEncodedSegments) {
  EXPECT_EQ(ParseEventSubject("namespace.prod%2Ev2.component.vllm%20worker.kv_metrics"),
            (EventSubject{"prod.v2", "vllm worker", "", "kv_metrics"}));
}

TEST(EventSubjectTest, RoundTrips) {
  const EventSubject subject{"prod.v2", "Vllm/Worker", "gen erate", "kv_metrics"};
  EXPECT_EQ(EventSubjectText(subject),
            "namespace.prod%2Ev2.component.Vllm%2FWorker.endpoint.gen%20erate.kv_metrics");
  EXPECT_EQ(ParseEventSubject(EventSubjectText(subject)), subject);
}

TEST(EventSubjectTest, RefusesOtherShapes) {
  for (const char* bad :
       {"", "namespace", "namespace.dynamo", "ns.dynamo.kv_metrics", "namespace..kv_metrics",
        "namespace.dynamo.component.c", "namespace.dynamo.x.c.kv_metrics",
        "namespace.dynamo.component.c.endpoint.kv_metrics",
        "namespace.dynamo.component.c.other.e.kv_metrics", "namespace.dyn%ZZ.kv_metrics",
        "namespace.dynamo.kv_metrics.", "namespace.a.component.b.endpoint.c.d.e"}) {
    EXPECT_EQ(ParseEventSubject(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseEventSubject(std::string(5000, 'a')), std::nullopt);
}

TEST(EventSubjectTest, NamespaceWildcardIsEncoded) {
  EXPECT_EQ(NamespaceWildcard("prod.v2"), "namespace.prod%2Ev2.>");
}

}  // namespace
}  // namespace mk::dynamo
