// gRPC over TLS and mutual TLS, as KEDA's client speaks it, with certificates
// made by the test (openssl), and their rotation picked up without a restart.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(MakeCertificates(dir_.path()), ""); }
  std::string File(const std::string& name) const { return dir_.path() + "/" + name; }

  // GetMetricSpec over a channel with `credentials`; the status.
  grpc::Status Call(const Scaler& scaler, std::shared_ptr<grpc::ChannelCredentials> credentials) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a new connection each time
    auto stub = externalscaler::ExternalScaler::NewStub(
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(scaler.port()), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 3s);
    externalscaler::GetMetricSpecResponse response;
    return stub->GetMetricSpec(&context, Ref({}), &response);
  }
  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                const std::string& client = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(File(ca + ".crt"));
    if (!client.empty()) {
      options.pem_cert_chain = Read(File(client + ".crt"));
      options.pem_private_key = Read(File(client + ".key"));
    }
    return grpc::SslCredentials(options);
  }

  TempDir dir_;
  NatsServer nats_{dir_};
};

TEST_F(TlsTest, MutualTlsAdmitsOnlyClientsOfTheClientCa) {
  Scaler scaler(dir_, nats_,
                {"--tls-cert", File("server.crt"), "--tls-key", File("server.key"),
                 "--tls-client-ca", File("ca.crt")});
  EXPECT_TRUE(Call(scaler, Tls("ca", "client")).ok());
  EXPECT_FALSE(Call(scaler, grpc::InsecureChannelCredentials()).ok()) << "plaintext";
  EXPECT_FALSE(Call(scaler, Tls("ca")).ok()) << "no client certificate";
  EXPECT_FALSE(Call(scaler, Tls("ca", "other-client")).ok()) << "client of another CA";
  EXPECT_FALSE(Call(scaler, Tls("other-ca", "client")).ok()) << "server not trusted";
}

TEST_F(TlsTest, ServerTlsSpeaksTls12WithAlpnH2) {
  Scaler scaler(dir_, nats_, {"--tls-cert", File("server.crt"), "--tls-key", File("server.key")});
  EXPECT_TRUE(Call(scaler, Tls("ca")).ok());
  EXPECT_FALSE(Call(scaler, grpc::InsecureChannelCredentials()).ok());
  Process handshake({"/bin/sh", "-c",
                     "openssl s_client -connect 127.0.0.1:" + std::to_string(scaler.port()) +
                         " -tls1_2 -alpn h2 -CAfile " + File("ca.crt") + " </dev/null"},
                    File("s_client.log"));
  handshake.Wait(30s);
  EXPECT_NE(handshake.Output().find("ALPN protocol: h2"), std::string::npos) << handshake.Output();
  EXPECT_NE(handshake.Output().find("Protocol  : TLSv1.2"), std::string::npos)
      << handshake.Output();
}

TEST_F(TlsTest, RotatedCertificatesArePickedUpWithoutRestart) {
  Scaler scaler(dir_, nats_,
                {"--tls-cert", File("server.crt"), "--tls-key", File("server.key"),
                 "--tls-reload-interval", "1"});
  ASSERT_TRUE(Call(scaler, Tls("ca")).ok());
  ASSERT_FALSE(Call(scaler, Tls("other-ca")).ok());
  // Rotate as cert-manager does: new files put in place whole.
  for (const char* ext : {".crt", ".key"}) {
    std::filesystem::copy_file(File(std::string("other-server") + ext),
                               File(std::string("next") + ext));
    std::filesystem::rename(File(std::string("next") + ext), File(std::string("server") + ext));
  }
  EXPECT_TRUE(Eventually([&] { return Call(scaler, Tls("other-ca")).ok(); }, 15s));
  EXPECT_FALSE(Call(scaler, Tls("ca")).ok());
  EXPECT_TRUE(scaler.process().running());
}

TEST_F(TlsTest, UnreadableCertificateIsAClearStartupError) {
  Process scaler({BinaryPath("metrics-keda"), "--port", "0", "--metrics-port", "0", "--nats-server",
                  nats_.url(), "--tls-cert", File("missing.crt"), "--tls-key", File("server.key")},
                 File("bad-scaler.log"));
  EXPECT_EQ(scaler.Wait(10s), std::optional<int>(2));
  EXPECT_NE(scaler.Output().find("--tls-cert"), std::string::npos) << scaler.Output();
}

}  // namespace
}  // namespace mk::testing
