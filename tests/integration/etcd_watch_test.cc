// The etcd watch against a real etcd (Debian's etcd-server) on free loopback ports,
// changed from outside with etcdctl: the first listing, live puts and deletes, keys
// deleted by an expiring lease, etcd killed and restarted with changes meanwhile, and
// a compaction that forces a new listing, authentication.
#include "discovery/etcd_watch.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "etcd_server.h"
#include "process.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;
using discovery::EtcdChange;
using discovery::EtcdWatch;
using discovery::EtcdWatchSettings;

// What a watch told, and the picture of the prefix it adds up to.
class Recorder {
 public:
  EtcdWatch::Callbacks Callbacks() {
    return {[this](const EtcdChange& change) {
              std::lock_guard lock(mutex_);
              changes_.push_back(change);
              if (change.type == EtcdChange::Type::kPut) {
                state_[change.key] = change.value;
              } else {
                state_.erase(change.key);
              }
              changed_.notify_all();
            },
            nullptr};
  }
  // Waits until `done` holds of the changes so far.
  bool WaitFor(const std::function<bool(const std::vector<EtcdChange>&)>& done,
               std::chrono::milliseconds timeout = 15s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(changes_); });
  }
  bool WaitForState(const std::map<std::string, std::string>& expected,
                    std::chrono::milliseconds timeout = 15s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return state_ == expected; });
  }
  std::vector<EtcdChange> Changes() {
    std::lock_guard lock(mutex_);
    return changes_;
  }
  std::map<std::string, std::string> State() {
    std::lock_guard lock(mutex_);
    return state_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<EtcdChange> changes_;
  std::map<std::string, std::string> state_;
};

std::string Describe(const std::vector<EtcdChange>& changes) {
  std::string text;
  for (const EtcdChange& change : changes) {
    text += (change.type == EtcdChange::Type::kPut ? "put " : "delete ") + change.key + "=" +
            change.value + " ";
  }
  return text;
}

std::unique_ptr<EtcdWatch> StartWatch(const EtcdServer& etcd, Recorder& recorder,
                                      std::chrono::milliseconds backoff = 100ms) {
  EtcdWatchSettings settings;
  settings.endpoints = {etcd.url()};
  settings.prefix = "v1/instances/";
  settings.initial_backoff = backoff;
  settings.max_backoff = backoff;
  auto watch = EtcdWatch::Start(settings, recorder.Callbacks());
  EXPECT_TRUE(watch.ok()) << watch.status();
  return watch.ok() ? std::move(*watch) : nullptr;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST(EtcdWatchTest, ListsThePrefixThenFollowsPutsAndDeletes) {
  TempDir dir;
  EtcdServer etcd(dir);
  etcd.Put("v1/instances/a", "1");
  etcd.Put("v1/instances/b", "2");
  etcd.Put("v1/mdc/a", "elsewhere");
  etcd.Put("v1/instances", "the prefix itself is no key under it");
  Recorder recorder;
  auto watch = StartWatch(etcd, recorder);
  ASSERT_TRUE(watch);
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/a", "1"}, {"v1/instances/b", "2"}}))
      << Describe(recorder.Changes());
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  EXPECT_EQ(watch->lists(), 1u);

  etcd.Put("v1/instances/c", "3");
  etcd.Put("v1/instances/a", "1b");
  etcd.Delete("v1/instances/b");
  etcd.Put("v1/mdc/b", "elsewhere");
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/a", "1b"}, {"v1/instances/c", "3"}}))
      << Describe(recorder.Changes());
  const std::vector<EtcdChange> changes = recorder.Changes();
  ASSERT_EQ(changes.size(), 5u) << Describe(changes);
  EXPECT_EQ(Describe(changes),
            "put v1/instances/a=1 put v1/instances/b=2 put v1/instances/c=3 put "
            "v1/instances/a=1b delete v1/instances/b= ");
  // Revisions grow, and the watch has told everything up to the store's revision.
  for (size_t i = 3; i < changes.size(); ++i)
    EXPECT_GT(changes[i].revision, changes[i - 1].revision);
  EXPECT_TRUE(WaitUntil([&] { return watch->revision() >= changes.back().revision; }));
}

TEST(EtcdWatchTest, AnExpiringLeaseDeletesItsKeys) {
  TempDir dir;
  EtcdServer etcd(dir);
  Recorder recorder;
  auto watch = StartWatch(etcd, recorder);
  ASSERT_TRUE(watch);
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  const std::string lease = etcd.GrantLease(2);
  etcd.Put("v1/instances/leased", "x", lease);
  etcd.Put("v1/instances/kept", "y");
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/leased", "x"}, {"v1/instances/kept", "y"}}));
  const int64_t lease_id = static_cast<int64_t>(std::stoull(lease, nullptr, 16));
  EXPECT_EQ(recorder.Changes().front().lease, lease_id);
  EXPECT_EQ(recorder.Changes().back().lease, 0);
  // Nobody keeps the lease alive: etcd deletes the key within the TTL (plus its
  // expiry check).
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/kept", "y"}}, 15s))
      << Describe(recorder.Changes());
  const EtcdChange gone = recorder.Changes().back();
  EXPECT_EQ(gone.type, EtcdChange::Type::kDelete);
  EXPECT_EQ(gone.key, "v1/instances/leased");
  EXPECT_EQ(gone.lease, lease_id);  // the lease it was put with
}

TEST(EtcdWatchTest, ResumesAfterARestartWithoutLosingOrRepeatingChanges) {
  TempDir dir;
  EtcdServer etcd(dir);
  etcd.Put("v1/instances/a", "1");
  etcd.Put("v1/instances/b", "2");
  Recorder recorder;
  auto watch = StartWatch(etcd, recorder);
  ASSERT_TRUE(watch);
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/a", "1"}, {"v1/instances/b", "2"}}));
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  const size_t before = recorder.Changes().size();

  // Changes made while the watch cannot reach etcd (it is up on another port).
  etcd.Kill();
  ASSERT_TRUE(WaitUntil([&] { return !watch->connected(); }));
  etcd.StartAside();
  etcd.Put("v1/instances/c", "3");
  etcd.Delete("v1/instances/a");
  etcd.Put("v1/instances/b", "2b");
  etcd.Kill();
  etcd.Start();
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/b", "2b"}, {"v1/instances/c", "3"}}, 20s))
      << Describe(recorder.Changes());
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  const std::vector<EtcdChange> changes = recorder.Changes();
  EXPECT_EQ(Describe({changes.begin() + static_cast<std::ptrdiff_t>(before), changes.end()}),
            "put v1/instances/c=3 delete v1/instances/a= put v1/instances/b=2b ");
  EXPECT_EQ(watch->lists(), 1u);  // resumed, not listed again
  EXPECT_GE(watch->reconnects(), 1u);
}

TEST(EtcdWatchTest, ACompactedRevisionIsListedAgainAndOnlyTheDifferenceTold) {
  TempDir dir;
  EtcdServer etcd(dir);
  etcd.Put("v1/instances/a", "1");
  etcd.Put("v1/instances/b", "2");
  etcd.Put("v1/instances/c", "3");
  Recorder recorder;
  auto watch = StartWatch(etcd, recorder);
  ASSERT_TRUE(watch);
  ASSERT_TRUE(recorder.WaitForState(
      {{"v1/instances/a", "1"}, {"v1/instances/b", "2"}, {"v1/instances/c", "3"}}));
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  const size_t before = recorder.Changes().size();

  // While the watch cannot reach etcd, change the prefix and compact the history the
  // watch would need.
  etcd.Kill();
  ASSERT_TRUE(WaitUntil([&] { return !watch->connected(); }));
  etcd.StartAside();
  etcd.Delete("v1/instances/a");
  etcd.Put("v1/instances/b", "2b");
  etcd.Put("v1/instances/d", "4");
  etcd.Ctl("compact " + std::to_string(etcd.Revision()));
  etcd.Kill();
  etcd.Start();
  ASSERT_TRUE(recorder.WaitForState(
      {{"v1/instances/b", "2b"}, {"v1/instances/c", "3"}, {"v1/instances/d", "4"}}, 20s))
      << Describe(recorder.Changes());
  ASSERT_TRUE(WaitUntil([&] { return watch->connected(); }));
  EXPECT_EQ(watch->lists(), 2u);
  const std::vector<EtcdChange> changes = recorder.Changes();
  // New or changed keys in key order, page by page, then the keys gone; c, unchanged,
  // is not told.
  EXPECT_EQ(Describe({changes.begin() + static_cast<std::ptrdiff_t>(before), changes.end()}),
            "put v1/instances/b=2b put v1/instances/d=4 delete v1/instances/a= ");
  // And the watch goes on from the listing.
  etcd.Put("v1/instances/e", "5");
  EXPECT_TRUE(recorder.WaitForState({{"v1/instances/b", "2b"},
                                     {"v1/instances/c", "3"},
                                     {"v1/instances/d", "4"},
                                     {"v1/instances/e", "5"}}));
}

TEST(EtcdWatchTest, AuthenticatesWhenTheClusterHasAuthOn) {
  TempDir dir;
  EtcdServer etcd(dir);
  etcd.Ctl("user add root --new-user-password=s3cret-pw");
  etcd.Ctl("auth enable");
  etcd.set_user("root:s3cret-pw");
  etcd.Put("v1/instances/a", "1");

  Recorder recorder;
  EtcdWatchSettings settings;
  settings.endpoints = {etcd.url()};
  settings.prefix = "v1/instances/";
  settings.user = "root";
  settings.password = "s3cret-pw";
  auto watch = EtcdWatch::Start(settings, recorder.Callbacks());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/a", "1"}}));
  etcd.Put("v1/instances/b", "2");
  ASSERT_TRUE(recorder.WaitForState({{"v1/instances/a", "1"}, {"v1/instances/b", "2"}}));

  // A wrong password never gets as far as a listing.
  Recorder refused;
  settings.password = "wrong";
  auto denied = EtcdWatch::Start(settings, refused.Callbacks());
  ASSERT_TRUE(denied.ok()) << denied.status();
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE((*denied)->connected());
  EXPECT_EQ((*denied)->lists(), 0u);
  EXPECT_TRUE(refused.Changes().empty());
}

TEST(EtcdWatchTest, SpeaksTlsWithClientCertificates) {
  TempDir dir;
  ASSERT_EQ(MakeCertificates(dir.path()), "");
  EtcdServer etcd(dir, dir.path());
  etcd.Put("v1/tls", "yes");
  EtcdWatchSettings settings;
  settings.endpoints = {etcd.url()};
  settings.prefix = "v1/";
  settings.tls_ca = dir.path() + "/ca.crt";
  settings.tls_cert = dir.path() + "/client.crt";
  settings.tls_key = dir.path() + "/client.key";
  Recorder recorder;
  auto watch = EtcdWatch::Start(settings, recorder.Callbacks());
  ASSERT_TRUE(watch.ok()) << watch.status();
  EXPECT_TRUE(recorder.WaitForState({{"v1/tls", "yes"}}));

  // A certificate of another CA is refused by etcd; a server of another CA is not
  // trusted: neither lists anything.
  for (const auto& [ca, cert] :
       {std::pair{"ca", "other-client"}, std::pair{"other-ca", "client"}}) {
    settings.tls_ca = dir.path() + "/" + ca + ".crt";
    settings.tls_cert = dir.path() + "/" + cert + ".crt";
    settings.tls_key = dir.path() + "/" + cert + ".key";
    Recorder refused;
    auto denied = EtcdWatch::Start(settings, refused.Callbacks());
    ASSERT_TRUE(denied.ok()) << denied.status();
    std::this_thread::sleep_for(1s);
    EXPECT_EQ((*denied)->lists(), 0u) << ca << " " << cert;
    EXPECT_TRUE(refused.Changes().empty());
  }
  // Files that cannot be read, or a certificate without its key, are refused at once.
  settings.tls_ca = dir.path() + "/missing.crt";
  EXPECT_FALSE(EtcdWatch::Start(settings, recorder.Callbacks()).ok());
  settings.tls_ca = dir.path() + "/ca.crt";
  settings.tls_key.clear();
  EXPECT_FALSE(EtcdWatch::Start(settings, recorder.Callbacks()).ok());
}

TEST(EtcdWatchTest, EndpointsThatAreNotHttpHostPortAreRefused) {
  Recorder recorder;
  for (const std::string endpoint :
       {"", "ftp://127.0.0.1:2379", "http://user:secret@127.0.0.1:2379", "127.0.0.1",
        "http://127.0.0.1:port"}) {
    EtcdWatchSettings settings;
    settings.endpoints = {endpoint};
    const auto watch = EtcdWatch::Start(settings, recorder.Callbacks());
    ASSERT_FALSE(watch.ok()) << endpoint;
    EXPECT_EQ(watch.status().message().find("secret"), std::string::npos);
  }
  EXPECT_FALSE(EtcdWatch::Start(EtcdWatchSettings{}, recorder.Callbacks()).ok());
  EtcdWatchSettings mixed;
  mixed.endpoints = {"http://127.0.0.1:2379", "https://127.0.0.1:2380"};
  EXPECT_FALSE(EtcdWatch::Start(mixed, recorder.Callbacks()).ok());
  EXPECT_EQ(discovery::PrefixRangeEnd("v1/instances/"), "v1/instances0");
  EXPECT_EQ(discovery::PrefixRangeEnd("a\xff"), "b");
  EXPECT_EQ(discovery::PrefixRangeEnd(""), std::string(1, '\0'));
}

}  // namespace
}  // namespace mk::testing
