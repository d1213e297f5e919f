#include "nats/nats_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mk::nats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedactUrlTest, LeavesUrlsWithoutCredentialsAlone) {
  EXPECT_EQ(RedactUrl("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  EXPECT_EQ(RedactUrl("tls://nats.infra"), "tls://nats.infra");
  EXPECT_EQ(RedactUrl("nats.infra:4222"), "nats.infra:4222");
  EXPECT_EQ(RedactUrl("nats://[::1]:4222"), "nats://[::1]:4222");
  EXPECT_EQ(RedactUrl(""), "");
}

TEST(RedactUrlTest, HidesThePasswordAndKeepsTheUser) {
  EXPECT_EQ(RedactUrl("nats://alice:s3cret@h:4222"), "nats://alice:***@h:4222");
  EXPECT_EQ(RedactUrl("tls://alice:s3cret@[::1]:4222"), "tls://alice:***@[::1]:4222");
  EXPECT_EQ(RedactUrl("nats://alice:@h"), "nats://alice:***@h");
}

TEST(RedactUrlTest, HidesATokenWhole) {
  EXPECT_EQ(RedactUrl("nats://t0ken@h:4222"), "nats://***@h:4222");
  EXPECT_EQ(RedactUrl("nats://@h"), "nats://***@h");
}

TEST(RedactUrlTest, HidesAPasswordHoldingAtOrColonWhole) {
  EXPECT_EQ(RedactUrl("nats://u:p@ss@h:4222"), "nats://u:***@h:4222");
  EXPECT_EQ(RedactUrl("nats://u:pa:ss@h"), "nats://u:***@h");
  EXPECT_EQ(RedactUrl("nats://u:p@s:s@h"), "nats://u:***@h");
  EXPECT_EQ(RedactUrl("nats://tok@en@h"), "nats://***@h");
  EXPECT_EQ(RedactUrl("nats://tok@en:x@h"), "nats://***@h");  // "tok" is no user name
}

TEST(RedactUrlTest, EntriesWithoutScheme) {
  EXPECT_EQ(RedactUrl("alice:s3cret@h:4222"), "alice:***@h:4222");
  EXPECT_EQ(RedactUrl("u:p@ss@h"), "u:***@h");
  EXPECT_EQ(RedactUrl("tok@en@h"), "***@h");
  // libnats takes "u:p" for a scheme here; read as no scheme, nothing of it shows.
  EXPECT_EQ(RedactUrl("u:p://x@h"), "u:***@h");
  EXPECT_EQ(RedactUrl("p://x@h"), "p://***@h");
}

// libnats reads the user information up to the last '@' of the whole URL, path and
// query included: all of that is hidden, as it is what libnats would send.
TEST(RedactUrlTest, AnAtAfterTheAuthorityHidesAllBeforeIt) {
  EXPECT_EQ(RedactUrl("nats://h:4222/x@y"), "nats://h:***@y");
  EXPECT_EQ(RedactUrl("nats://u:pw@h:4222/a@b"), "nats://u:***@b");
  EXPECT_EQ(RedactUrl("nats://u:pw/x@h"), "nats://u:***@h");
  EXPECT_EQ(RedactUrl("nats://to/ken@h"), "nats://***@h");
  EXPECT_EQ(RedactUrl("nats://h/u:pw@x"), "nats://***@x");
  EXPECT_EQ(RedactUrl("nats://h?q=u:pw@x"), "nats://***@x");
  EXPECT_EQ(RedactUrl("nats://h:4222/path"), "nats://h:4222/path");
}

TEST(RedactUrlTest, KeepsSurroundingSpaces) {
  EXPECT_EQ(RedactUrl("  nats://u:pw@h \t"), "  nats://u:***@h \t");
  EXPECT_EQ(RedactUrl(" "), " ");
}

TEST(RedactServerListTest, RedactsEveryEntryWhateverItsPosition) {
  EXPECT_EQ(RedactServerList("nats://a:1,nats://u:pw@b:2"), "nats://a:1,nats://u:***@b:2");
  EXPECT_EQ(RedactServerList("nats://a:1,nats://b:2,nats://tok@en@c:3"),
            "nats://a:1,nats://b:2,nats://***@c:3");
  EXPECT_EQ(RedactServerList("nats://u:p1@a, nats://v:p@2@b ,w:p:3@c"),
            "nats://u:***@a, nats://v:***@b ,w:***@c");
  EXPECT_EQ(RedactServerList("nats://a:1,,nats://alice:s3cr@t@b:2"),
            "nats://a:1,,nats://alice:***@b:2");
  EXPECT_EQ(RedactServerList(""), "");
  EXPECT_EQ(RedactServerList(",,"), ",,");
}

TEST(SplitServerListTest, SplitsAndTrims) {
  absl::StatusOr<std::vector<std::string>> servers =
      SplitServerList("nats://a:4222, nats://b:4222 ,nats://c");
  ASSERT_TRUE(servers.ok()) << servers.status();
  EXPECT_THAT(*servers, ::testing::ElementsAre("nats://a:4222", "nats://b:4222", "nats://c"));
}

TEST(SplitServerListTest, AnEmptyEntryIsRefusedWithoutShowingAnySecret) {
  for (const std::string list :
       {"nats://127.0.0.1:1,,nats://alice:s3cr@t@127.0.0.1:2", "nats://u:pw1@a,nats://v:pw2@b, ",
        ",nats://u:pw1@a,nats://tok@en@c", "nats://a,nats://u:pw1@b,,nats://v:pw2@c"}) {
    absl::StatusOr<std::vector<std::string>> servers = SplitServerList(list);
    ASSERT_FALSE(servers.ok()) << list;
    EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(servers.status().message());
    EXPECT_THAT(message, HasSubstr("empty URL"));
    for (const char* secret : {"s3cr", "@t@", "pw1", "pw2", "tok", "en@"}) {
      EXPECT_THAT(message, Not(HasSubstr(secret))) << list;
    }
  }
  absl::StatusOr<std::vector<std::string>> servers =
      SplitServerList("nats://a:1,,nats://alice:s3cr@t@b:2");
  EXPECT_EQ(servers.status().message(),
            "empty URL at position 2 in the list \"nats://a:1,,nats://alice:***@b:2\"");
}

}  // namespace
}  // namespace mk::nats
