// NATS authentication and TLS against nats-server configured to require each;
// secrets never appear in the logs.
#include <gtest/gtest.h>
#include <signal.h>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kFast = {"--check-interval", "0.2", "--cache-ttl", "0.2"};

std::vector<std::string> Fast(std::vector<std::string> more) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The scaler's command line on any free ports, with `more` flags added.
std::vector<std::string> ScalerCommand(const std::string& servers,
                                       const std::vector<std::string>& more) {
  std::vector<std::string> argv = {
      BinaryPath("metrics-keda"), "--port", "0", "--metrics-port", "0", "--nats-server", servers};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

bool Connected(Scaler& scaler) {
  return Eventually(
      [&] {
        const std::optional<std::string> metrics = scaler.TryHttp("/metrics");
        return metrics && metrics->find("\nmetrics_keda_nats_connected 1\n") != std::string::npos;
      },
      10s);
}

// Connected means healthy answers; refused means UNAVAILABLE, never a zero.
void ExpectServes(Scaler& scaler) {
  ASSERT_TRUE(Connected(scaler)) << scaler.process().Output();
  MetricReply reply = GetMetrics(scaler.stub(), {});
  EXPECT_TRUE(reply.status.ok()) << reply.status.error_message() << "\n"
                                 << scaler.process().Output();
}

void ExpectRefused(Scaler& scaler) {
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(scaler.Http("/metrics").find("\nmetrics_keda_nats_connected 1\n"), std::string::npos);
  EXPECT_EQ(GetMetrics(scaler.stub(), {}).status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

class NatsSecurityTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(NatsSecurityTest, UserAndPasswordByFlagsOrUrlNeverLogged) {
  NatsServer nats(dir_, "authorization { user: scaler, password: \"pw-s3cret\" }\n");
  {
    Scaler scaler(dir_, nats, Fast({"--nats-user", "scaler", "--nats-password", "pw-s3cret"}));
    ExpectServes(scaler);
    EXPECT_EQ(scaler.process().Output().find("pw-s3cret"), std::string::npos);
  }
  {
    const std::string url = "nats://scaler:pw-s3cret@127.0.0.1:" + std::to_string(nats.port());
    Scaler scaler(dir_, url, kFast);
    ExpectServes(scaler);
    EXPECT_EQ(scaler.process().Output().find("pw-s3cret"), std::string::npos);
    EXPECT_NE(scaler.process().Output().find("scaler:***@"), std::string::npos)
        << scaler.process().Output();
  }
  {
    Scaler scaler(dir_, nats, Fast({"--nats-user", "scaler", "--nats-password", "wrong-pw"}));
    ExpectRefused(scaler);
    EXPECT_EQ(scaler.process().Output().find("wrong-pw"), std::string::npos);
  }
}

TEST_F(NatsSecurityTest, Token) {
  NatsServer nats(dir_, "authorization { token: \"tok-s3cret\" }\n");
  {
    Scaler scaler(dir_, nats, Fast({"--nats-token", "tok-s3cret"}));
    ExpectServes(scaler);
    EXPECT_EQ(scaler.process().Output().find("tok-s3cret"), std::string::npos);
  }
  {
    Scaler scaler(dir_, nats, kFast);
    ExpectRefused(scaler);
  }
}

TEST_F(NatsSecurityTest, TlsWithCaAndClientCertificate) {
  ASSERT_EQ(MakeCertificates(dir_.path()), "");
  auto file = [&](const std::string& name) { return dir_.path() + "/" + name; };
  NatsServer nats(dir_, "tls { cert_file: \"" + file("server.crt") + "\"\n key_file: \"" +
                            file("server.key") + "\"\n ca_file: \"" + file("ca.crt") +
                            "\"\n verify: true }\n");
  const std::string url = "tls://127.0.0.1:" + std::to_string(nats.port());
  {
    Scaler scaler(dir_, url,
                  Fast({"--nats-tls-ca", file("ca.crt"), "--nats-tls-cert", file("client.crt"),
                        "--nats-tls-key", file("client.key")}));
    ExpectServes(scaler);
  }
  {
    Scaler scaler(dir_, url,
                  Fast({"--nats-tls-ca", file("ca.crt"), "--nats-tls-cert",
                        file("other-client.crt"), "--nats-tls-key", file("other-client.key")}));
    ExpectRefused(scaler);
  }
}

TEST_F(NatsSecurityTest, BadSecuritySettingsAreClearStartupErrors) {
  NatsServer nats(dir_);
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--nats-creds", dir_.path() + "/missing.creds"},
        std::vector<std::string>{"--nats-token", "t", "--nats-user", "u"},
        std::vector<std::string>{"--nats-tls-ca", dir_.path() + "/missing-ca.pem"}}) {
    std::vector<std::string> argv = ScalerCommand(nats.url(), bad);
    Process scaler(argv, dir_.path() + "/bad.log");
    EXPECT_EQ(scaler.Wait(10s), std::optional<int>(2)) << scaler.Output();
    EXPECT_NE(scaler.Output().find(bad[0]), std::string::npos) << scaler.Output();
  }
}

// Credentials in any URL of --nats-server, not only the first, stay out of everything
// the scaler prints: start-up errors and the log of a start-up that succeeded.
TEST_F(NatsSecurityTest, NoServerOfTheListShowsItsCredentials) {
  const std::vector<std::string> secrets = {"s3cr@t", "s3cr", "pw-two", "tok-three"};
  auto expect_no_secret = [&](const std::string& output) {
    for (const std::string& secret : secrets) {
      EXPECT_EQ(output.find(secret), std::string::npos) << secret << " shown in:\n" << output;
    }
  };
  struct Case {
    std::string servers;
    std::vector<std::string> more;
  };
  int run = 0;
  for (const Case& failing : {
           // An empty entry: the list is quoted in the error.
           Case{"nats://127.0.0.1:1,,nats://alice:s3cr@t@127.0.0.1:2", {}},
           Case{"nats://127.0.0.1:1,nats://alice:pw-two@127.0.0.1:2,nats://tok-three@127.0.0.1:3,",
                {}},
           // Another setting is refused: credentials in the second URL.
           Case{"nats://127.0.0.1:1,nats://alice:s3cr@t@127.0.0.1:2",
                {"--nats-tls-ca", dir_.path() + "/missing-ca.pem"}},
           Case{"nats://127.0.0.1:1,nats://alice:s3cr@t@127.0.0.1:2",
                {"--nats-token", "t", "--nats-user", "u"}},
       }) {
    std::vector<std::string> argv = ScalerCommand(failing.servers, failing.more);
    Process scaler(argv, dir_.path() + "/failing-" + std::to_string(++run) + ".log");
    const std::optional<int> status = scaler.Wait(10s);
    ASSERT_TRUE(status.has_value()) << scaler.Output();
    EXPECT_NE(*status, 0) << scaler.Output();
    expect_no_secret(scaler.Output());
  }
  {
    Process scaler({BinaryPath("metrics-keda"), "--port", "0", "--metrics-port", "0",
                    "--nats-server", "nats://127.0.0.1:1,,nats://alice:s3cr@t@127.0.0.1:2"},
                   dir_.path() + "/empty-entry.log");
    ASSERT_EQ(scaler.Wait(10s), std::optional<int>(2)) << scaler.Output();
    EXPECT_NE(scaler.Output().find("nats://alice:***@127.0.0.1:2"), std::string::npos)
        << scaler.Output();
  }
  // NATS unreachable: the scaler starts and says where it keeps trying.
  Process scaler(
      {BinaryPath("metrics-keda"), "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0",
       "--nats-server",
       "nats://127.0.0.1:1,nats://alice:s3cr@t@127.0.0.1:2,nats://tok-three@127.0.0.1:3"},
      dir_.path() + "/unreachable.log");
  ASSERT_TRUE(scaler.WaitForOutput("serving externalscaler.ExternalScaler", 15s))
      << scaler.Output();
  EXPECT_EQ(scaler.Stop(SIGTERM, 10s), std::optional<int>(0)) << scaler.Output();
  EXPECT_NE(scaler.Output().find("nats://alice:***@127.0.0.1:2,nats://***@127.0.0.1:3"),
            std::string::npos)
      << scaler.Output();
  expect_no_secret(scaler.Output());
}

}  // namespace
}  // namespace mk::testing
