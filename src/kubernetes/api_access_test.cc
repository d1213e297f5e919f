#include "kubernetes/api_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/status/status.h"

namespace mk::kubernetes {
namespace {

using ::testing::HasSubstr;

class ApiAccessTest : public ::testing::Test {
 protected:
  ApiAccessTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("api_access_test." + std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~ApiAccessTest() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ApiAccessTest, InClusterFromTheServiceAccountFiles) {
  Write("token", "tok\n");
  Write("ca.crt", "-----BEGIN CERTIFICATE-----\n");
  Write("namespace", "llm\n");
  absl::StatusOr<ApiAccess> access = InClusterAccess("10.96.0.1", "443", dir_.string());
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ(access->server, "https://10.96.0.1:443");
  EXPECT_EQ(access->token_file, (dir_ / "token").string());
  EXPECT_EQ(access->ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(access->default_namespace, "llm");
  // IPv6 service addresses are bracketed.
  EXPECT_EQ(InClusterAccess("fd00::1", "443", dir_.string())->server, "https://[fd00::1]:443");
}

TEST_F(ApiAccessTest, InClusterOutsideAPodSaysSo) {
  absl::StatusOr<ApiAccess> access = InClusterAccess("", "", dir_.string());
  EXPECT_EQ(access.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(access.status().message()), HasSubstr("--kubeconfig"));
  // In a pod without a mounted token.
  access = InClusterAccess("10.96.0.1", "443", dir_.string());
  EXPECT_EQ(access.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(access.status().message()), HasSubstr("token"));
}

TEST_F(ApiAccessTest, KubeconfigOfTheCurrentContext) {
  Write("ca.pem", "CA PEM");
  Write("token", "rotating");
  const std::string path = Write("config", R"(
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: dev
  cluster: {server: "https://dev:6443"}
- name: prod-cluster
  cluster:
    server: https://prod:6443/
    certificate-authority: ca.pem
contexts:
- name: dev
  context: {cluster: dev, user: dev}
- name: prod
  context: {cluster: prod-cluster, user: robot, namespace: llm}
users:
- name: robot
  user:
    tokenFile: token
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
)");
  absl::StatusOr<ApiAccess> access = KubeconfigAccess(path);
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ(access->server, "https://prod:6443");
  EXPECT_EQ(access->ca_pem, "CA PEM");  // relative to the kubeconfig's directory
  EXPECT_EQ(access->token_file, (dir_ / "token").string());
  EXPECT_EQ(access->client_cert_pem, "CERT");
  EXPECT_EQ(access->client_key_pem, "KEY");
  EXPECT_EQ(access->default_namespace, "llm");
}

TEST_F(ApiAccessTest, KubeconfigProblemsNameTheFileAndWhat) {
  struct Case {
    std::string yaml;
    std::string says;
  };
  const std::string cluster = "clusters: [{name: c, cluster: {server: 'https://k:6443'}}]\n";
  for (const Case& c : std::vector<Case>{
           {"[not, a, map]", "not a kubeconfig"},
           {"key: [unclosed", "not YAML"},
           {cluster + "contexts: []\n", "no current-context"},
           {cluster + "current-context: x\ncontexts: []\n", "no context named \"x\""},
           {"current-context: x\ncontexts: [{name: x, context: {cluster: nope}}]\n",
            "no cluster named \"nope\""},
           {cluster + "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "users: [{name: u, user: {exec: {command: aws}}}]\n",
            "plugin"},
           {cluster + "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\n",
            "without its key"},
           {cluster + "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "users: [{name: u, user: {client-key-data: '!!!'}}]\n",
            "not base64"},
           {"clusters: [{name: c, cluster: {server: 'k:6443'}}]\ncurrent-context: x\n"
            "contexts: [{name: x, context: {cluster: c}}]\n",
            "no http(s) server URL"},
       }) {
    const std::string path = Write("config", c.yaml);
    absl::StatusOr<ApiAccess> access = KubeconfigAccess(path);
    ASSERT_FALSE(access.ok()) << c.yaml;
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(access.status().message()), HasSubstr(path)) << c.yaml;
    EXPECT_THAT(std::string(access.status().message()), HasSubstr(c.says)) << c.yaml;
  }
  EXPECT_FALSE(KubeconfigAccess((dir_ / "missing").string()).ok());
}

}  // namespace
}  // namespace mk::kubernetes
