#include "config/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace mk::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Unsets the environment variables the parser reads, and restores them after.
class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kEnv) {
      const char* value = std::getenv(name);
      saved_.push_back(value == nullptr ? std::nullopt : std::optional<std::string>(value));
      unsetenv(name);
    }
  }

  void TearDown() override {
    for (size_t i = 0; i < std::size(kEnv); ++i) {
      if (saved_[i]) {
        setenv(kEnv[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kEnv[i]);
      }
    }
  }

  static CommandLine Parse(std::vector<const char*> flags) {
    flags.insert(flags.begin(), "metrics-keda");
    return ParseCommandLine(flags);
  }

  static Options Parsed(std::vector<const char*> flags) {
    const CommandLine result = Parse(std::move(flags));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_TRUE(result.options.has_value()) << result.output;
    return result.options.value_or(Options{});
  }

  // Rejected with exit code 2 and one line that names `flag`.
  static void ExpectRejected(std::vector<const char*> flags, const std::string& flag) {
    std::string command;
    for (const char* arg : flags) command += std::string(" ") + arg;
    SCOPED_TRACE(command);
    const CommandLine result = Parse(std::move(flags));
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_FALSE(result.options.has_value());
    EXPECT_THAT(result.output, HasSubstr(flag));
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
    EXPECT_TRUE(result.output.ends_with("\n")) << result.output;
  }

  static constexpr const char* kEnv[] = {
      "DYN_NAMESPACE",         "NATS_SERVER",           "DYN_EVENT_PLANE",
      "DYN_ZMQ_BROKER_URL",    "DYN_DISCOVERY_BACKEND", "ETCD_ENDPOINTS",
      "ETCD_AUTH_USERNAME",    "ETCD_AUTH_PASSWORD",    "ETCD_AUTH_CA",
      "ETCD_AUTH_CLIENT_CERT", "ETCD_AUTH_CLIENT_KEY",  "KUBECONFIG"};
  std::vector<std::optional<std::string>> saved_;
};

// ---- Defaults ---------------------------------------------------------------

TEST_F(OptionsTest, DefaultsMatchTheDesign) {
  const CommandLine result = Parse({});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.output, "");
  ASSERT_TRUE(result.options.has_value());
  const Options& options = *result.options;
  EXPECT_EQ(options.component_name, "llm-worker");
  EXPECT_EQ(options.endpoint_name, "kv-router");
  EXPECT_EQ(options.host, (ListenHost{"0.0.0.0", false}));
  EXPECT_EQ(options.port, 9090);
  EXPECT_EQ(options.threshold, 0.7);
  EXPECT_EQ(options.check_interval_seconds, 5);
  EXPECT_EQ(options.cache_ttl_seconds, 5);
  EXPECT_EQ(options.dynamo_namespace, "dynamo");
  EXPECT_EQ(options.nats_server, "nats://localhost:4222");
  EXPECT_EQ(options.max_staleness_seconds, 15);
  EXPECT_FALSE(options.legacy_service_names);
}

// ---- Each flag --------------------------------------------------------------

TEST_F(OptionsTest, ParsesTheOriginalFlags) {
  const Options options = Parsed(
      {"--component-name", "VllmWorker", "--endpoint-name", "load_metrics", "--host", "127.0.0.1",
       "--port", "50051", "--threshold", "0.5", "--check-interval", "2.5", "--cache-ttl", "3"});
  EXPECT_EQ(options.component_name, "VllmWorker");
  EXPECT_EQ(options.endpoint_name, "load_metrics");
  EXPECT_EQ(options.host, (ListenHost{"127.0.0.1", false}));
  EXPECT_EQ(options.port, 50051);
  EXPECT_EQ(options.threshold, 0.5);
  EXPECT_EQ(options.check_interval_seconds, 2.5);
  EXPECT_EQ(options.cache_ttl_seconds, 3);
}

TEST_F(OptionsTest, ParsesNamespaceAndNatsServer) {
  const Options options =
      Parsed({"--namespace", "prod", "--nats-server", "nats://a:4222,nats://b:4222"});
  EXPECT_EQ(options.dynamo_namespace, "prod");
  EXPECT_EQ(options.nats_server, "nats://a:4222,nats://b:4222");
}

TEST_F(OptionsTest, ParsesTheAddedFlags) {
  const Options options =
      Parsed({"--max-staleness", "20", "--scrape-window", "0.2", "--legacy-service-names",
              "--target-idle-timeout", "60", "--log-level", "debug"});
  EXPECT_EQ(options.max_staleness_seconds, 20);
  EXPECT_EQ(options.scrape_window_seconds, 0.2);
  EXPECT_TRUE(options.legacy_service_names);
  EXPECT_EQ(options.target_idle_seconds, 60);
  EXPECT_EQ(options.log_level, "debug");
}

TEST_F(OptionsTest, AcceptsEqualsForm) {
  const Options options = Parsed({"--port=8080", "--threshold=0.9", "--namespace=ns1"});
  EXPECT_EQ(options.port, 8080);
  EXPECT_EQ(options.threshold, 0.9);
  EXPECT_EQ(options.dynamo_namespace, "ns1");
}

TEST_F(OptionsTest, ThresholdOfOneIsAccepted) {
  EXPECT_EQ(Parsed({"--threshold", "1"}).threshold, 1);
  EXPECT_EQ(Parsed({"--threshold", "0.001"}).threshold, 0.001);
}

TEST_F(OptionsTest, PortRangeEndsAreAccepted) {
  EXPECT_EQ(Parsed({"--port", "65535"}).port, 65535);
  EXPECT_EQ(Parsed({"--port", "1"}).port, 1);
}

TEST_F(OptionsTest, MaxStalenessDefaultsToThreeCacheTtls) {
  EXPECT_EQ(Parsed({"--cache-ttl", "4"}).max_staleness_seconds, 12);
  EXPECT_EQ(Parsed({"--cache-ttl", "0.5"}).max_staleness_seconds, 1.5);
}

TEST_F(OptionsTest, ExplicitMaxStalenessWins) {
  const Options options = Parsed({"--cache-ttl", "4", "--max-staleness", "30"});
  EXPECT_EQ(options.cache_ttl_seconds, 4);
  EXPECT_EQ(options.max_staleness_seconds, 30);
}

// ---- Bad values -------------------------------------------------------------

TEST_F(OptionsTest, RejectsBadThresholds) {
  ExpectRejected({"--threshold", "0"}, "--threshold");
  ExpectRejected({"--threshold", "0.0009"}, "--threshold");
  ExpectRejected({"--threshold", "1.5"}, "--threshold");
  ExpectRejected({"--threshold", "abc"}, "--threshold");
  ExpectRejected({"--threshold=-0.1"}, "--threshold");
  ExpectRejected({"--threshold", "nan"}, "--threshold");
  ExpectRejected({"--threshold", ""}, "--threshold");
}

// Numbers are decimal: what strtod also reads (hex, spaces around) is refused.
TEST_F(OptionsTest, NumbersAreDecimalOnly) {
  EXPECT_EQ(Parsed({"--threshold", ".5"}).threshold, 0.5);
  EXPECT_EQ(Parsed({"--check-interval", "25e-1"}).check_interval_seconds, 2.5);
  ExpectRejected({"--threshold", "0x1p-1"}, "--threshold");
  ExpectRejected({"--threshold", "inf"}, "--threshold");
  ExpectRejected({"--threshold", " 0.5"}, "--threshold");
  ExpectRejected({"--threshold", "0.5 "}, "--threshold");
  ExpectRejected({"--check-interval", "0x10"}, "--check-interval");
  ExpectRejected({"--cache-ttl", "0X1P2"}, "--cache-ttl");
  ExpectRejected({"--scrape-window", "0x.8p-1"}, "--scrape-window");
  ExpectRejected({"--max-staleness", "0x40"}, "--max-staleness");
}

TEST_F(OptionsTest, HostTakesIpv6Literals) {
  EXPECT_EQ(Parsed({"--host", "::1"}).host, (ListenHost{"::1", true}));
  EXPECT_EQ(Parsed({"--host", "[::1]"}).host, (ListenHost{"::1", true}));
  EXPECT_EQ(Parsed({"--host", "::"}).host, (ListenHost{"::", true}));
  EXPECT_EQ(Parsed({"--host", "localhost"}).host, (ListenHost{"localhost", false}));
}

TEST_F(OptionsTest, RejectsBadHosts) {
  for (const char* host : {"[::1", "::g", "[1.2.3.4]", "", "1.2.3", "a b"}) {
    ExpectRejected({"--host", host}, "--host");
    const CommandLine result = Parse({"--host", host});
    EXPECT_THAT(result.output, HasSubstr("IPv6")) << result.output;
  }
}

TEST_F(OptionsTest, RejectsBadCheckInterval) {
  ExpectRejected({"--check-interval", "0"}, "--check-interval");
  ExpectRejected({"--check-interval", "soon"}, "--check-interval");
}

TEST_F(OptionsTest, RejectsBadCacheTtl) { ExpectRejected({"--cache-ttl", "0"}, "--cache-ttl"); }

TEST_F(OptionsTest, RejectsBadPorts) {
  ExpectRejected({"--port", "70000"}, "--port");
  ExpectRejected({"--port", "65536"}, "--port");
  ExpectRejected({"--port", "-1"}, "--port");
  ExpectRejected({"--port=-1"}, "--port");
  ExpectRejected({"--port", "1.5"}, "--port");
  ExpectRejected({"--port", "http"}, "--port");
}

TEST_F(OptionsTest, RejectsBadNames) {
  ExpectRejected({"--component-name", "llm.worker"}, "--component-name");
  ExpectRejected({"--component-name", ""}, "--component-name");
  ExpectRejected({"--endpoint-name", "kv router"}, "--endpoint-name");
  ExpectRejected({"--endpoint-name", "kv-*"}, "--endpoint-name");
  ExpectRejected({"--namespace", "a>b"}, "--namespace");
  ExpectRejected({"--namespace", ""}, "--namespace");
}

TEST_F(OptionsTest, RejectsMaxStalenessBelowCacheTtl) {
  ExpectRejected({"--cache-ttl", "5", "--max-staleness", "4"}, "--max-staleness");
  // The default TTL is 5 s.
  ExpectRejected({"--max-staleness", "2"}, "--max-staleness");
}

TEST_F(OptionsTest, RejectsUnknownFlag) { ExpectRejected({"--bogus", "1"}, "--bogus"); }

// ---- --help and --version ---------------------------------------------------

TEST_F(OptionsTest, HelpExitsZeroWithUsage) {
  const CommandLine result = Parse({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.options.has_value());
  EXPECT_THAT(result.output, HasSubstr("--component-name"));
  EXPECT_THAT(result.output, HasSubstr("--threshold"));
  EXPECT_THAT(result.output, HasSubstr("--nats-server"));
}

TEST_F(OptionsTest, VersionExitsZeroWithProgramName) {
  const CommandLine result = Parse({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.options.has_value());
  EXPECT_THAT(result.output, StartsWith("metrics-keda "));
  EXPECT_GT(result.output.size(), std::string("metrics-keda ").size());
}

// ---- Environment ------------------------------------------------------------

TEST_F(OptionsTest, EnvironmentUsedWhenFlagAbsent) {
  setenv("DYN_NAMESPACE", "staging", 1);
  setenv("NATS_SERVER", "nats://nats.infra:4222", 1);
  const Options options = Parsed({});
  EXPECT_EQ(options.dynamo_namespace, "staging");
  EXPECT_EQ(options.nats_server, "nats://nats.infra:4222");
}

TEST_F(OptionsTest, FlagWinsOverEnvironment) {
  setenv("DYN_NAMESPACE", "staging", 1);
  setenv("NATS_SERVER", "nats://nats.infra:4222", 1);
  const Options options = Parsed({"--namespace", "prod", "--nats-server", "nats://local:4222"});
  EXPECT_EQ(options.dynamo_namespace, "prod");
  EXPECT_EQ(options.nats_server, "nats://local:4222");
}

// ---- Sources, event plane, discovery -------------------------------------------

TEST_F(OptionsTest, SourcesDefaultToTodaysDynamo) {
  const Options options = Parsed({});
  EXPECT_EQ(options.source, Source::kAuto);
  EXPECT_EQ(options.event_plane, EventPlane::kZmq);
  EXPECT_EQ(options.discovery_backend, DiscoveryBackend::kEtcd);
  EXPECT_EQ(options.etcd_endpoints, "http://localhost:2379");
  EXPECT_EQ(options.zmq_broker_xpub, "");
}

TEST_F(OptionsTest, ReadsDynamosEnvironment) {
  setenv("DYN_EVENT_PLANE", "nats", 1);
  setenv("DYN_DISCOVERY_BACKEND", "none", 1);
  setenv("ETCD_ENDPOINTS", "http://etcd:2379", 1);
  setenv("DYN_ZMQ_BROKER_URL", "xsub=tcp://broker:5555,xpub=tcp://broker:5556", 1);
  const Options options = Parsed({"--source", "events"});
  EXPECT_EQ(options.source, Source::kEvents);
  EXPECT_EQ(options.event_plane, EventPlane::kNats);
  EXPECT_EQ(options.discovery_backend, DiscoveryBackend::kNone);
  EXPECT_EQ(options.etcd_endpoints, "http://etcd:2379");
  EXPECT_EQ(options.zmq_broker_xpub, "tcp://broker:5556");
}

TEST_F(OptionsTest, RejectsBadSourceSettings) {
  ExpectRejected({"--source", "prometheus"}, "--source");
  ExpectRejected({"--source", "metrics"}, "--source");
  ExpectRejected({"--event-plane", "kafka"}, "--event-plane");
  ExpectRejected({"--discovery-backend", "file"}, "--discovery-backend");
  ExpectRejected({"--etcd-endpoints", " , "}, "--etcd-endpoints");
  ExpectRejected({"--zmq-broker", "tcp://broker:5556"}, "--zmq-broker");
  ExpectRejected({"--etcd-tls-cert", "/c.pem"}, "--etcd-tls-key");
}

TEST_F(OptionsTest, KubernetesDiscoveryAsTheOperatorSetsIt) {
  setenv("DYN_DISCOVERY_BACKEND", "kubernetes", 1);
  setenv("KUBECONFIG", "/home/sre/.kube/config", 1);
  Options options = Parsed({"--kube-namespace", "llm,llm-canary"});
  EXPECT_EQ(options.discovery_backend, DiscoveryBackend::kKubernetes);
  EXPECT_EQ(options.kubeconfig, "/home/sre/.kube/config");
  EXPECT_EQ(options.kube_namespaces, (std::vector<std::string>{"llm", "llm-canary"}));
  EXPECT_EQ(options.kube_watch_seconds, 300u);
  unsetenv("KUBECONFIG");
  options = Parsed({"--kube-watch-timeout", "5"});
  EXPECT_TRUE(options.kube_namespaces.empty());  // the scaler's own, found at start
  EXPECT_EQ(options.kube_watch_seconds, 5u);
}

TEST_F(OptionsTest, TheWorkersPagesAreASourceOnKubernetes) {
  const Options options = Parsed({"--source", "metrics", "--discovery-backend", "kubernetes",
                                  "--worker-metrics-port", "8081"});
  EXPECT_EQ(options.source, Source::kMetrics);
  EXPECT_EQ(options.worker_metrics_port, 8081);
  EXPECT_EQ(Parsed({}).worker_metrics_port, 9090);
  ExpectRejected({"--worker-metrics-port", "0"}, "--worker-metrics-port");
}

TEST_F(OptionsTest, RejectsBadKubernetesSettings) {
  for (const char* names : {"", "llm,", "LLM", "-llm", "llm/x", "a,,b"}) {
    ExpectRejected({"--kube-namespace", names}, "--kube-namespace");
  }
  ExpectRejected({"--kube-watch-timeout", "0"}, "--kube-watch-timeout");
  ExpectRejected({"--kube-watch-timeout", "3601"}, "--kube-watch-timeout");
}

TEST_F(OptionsTest, RecordingIsOffUntilAFileIsNamed) {
  const Options options = Parsed({});
  EXPECT_EQ(options.record_file, "");
  EXPECT_EQ(options.record_max_bytes, 64u << 20);
  EXPECT_EQ(options.record_keep, 4u);
  EXPECT_EQ(options.record_interval_seconds, 1);
}

TEST_F(OptionsTest, ParsesTheRecordingFlags) {
  const Options options = Parsed({"--record-file", "/var/lib/mk/fleet.csv.gz", "--record-max-bytes",
                                  "1048576", "--record-keep", "0", "--record-interval", "0.25"});
  EXPECT_EQ(options.record_file, "/var/lib/mk/fleet.csv.gz");
  EXPECT_EQ(options.record_max_bytes, 1048576u);
  EXPECT_EQ(options.record_keep, 0u);
  EXPECT_EQ(options.record_interval_seconds, 0.25);
  EXPECT_EQ(Parsed({"--record-max-bytes", "65536"}).record_max_bytes, 65536u);
  EXPECT_EQ(Parsed({"--record-max-bytes", "1073741824"}).record_max_bytes, 1u << 30);
  EXPECT_EQ(Parsed({"--record-keep", "1000"}).record_keep, 1000u);
}

TEST_F(OptionsTest, RejectsBadRecordingSettings) {
  for (const char* bytes : {"65535", "1073741825", "64MiB", "1e6", "-1", ""}) {
    ExpectRejected({"--record-max-bytes", bytes}, "--record-max-bytes");
  }
  for (const char* keep : {"-1", "1001", "2.5", "many"}) {
    ExpectRejected({"--record-keep", keep}, "--record-keep");
  }
  for (const char* interval : {"0", "0.001", "3601", "nan", "1s"}) {
    ExpectRejected({"--record-interval", interval}, "--record-interval");
  }
}

TEST_F(OptionsTest, EtcdCredentialsComeFromDynamosVariables) {
  setenv("ETCD_AUTH_USERNAME", "dynamo", 1);
  setenv("ETCD_AUTH_PASSWORD", "secret", 1);
  setenv("ETCD_AUTH_CA", "/certs/ca.pem", 1);
  setenv("ETCD_AUTH_CLIENT_CERT", "/certs/client.pem", 1);
  setenv("ETCD_AUTH_CLIENT_KEY", "/certs/client.key", 1);
  const Options options = Parsed({});
  EXPECT_EQ(options.etcd_user, "dynamo");
  EXPECT_EQ(options.etcd_password, "secret");
  EXPECT_EQ(options.etcd_tls_ca, "/certs/ca.pem");
  EXPECT_EQ(options.etcd_tls_cert, "/certs/client.pem");
  EXPECT_EQ(options.etcd_tls_key, "/certs/client.key");
}

TEST_F(OptionsTest, BrokerUrlNeedsBothSidesOnce) {
  EXPECT_EQ(ZmqBrokerXpub("xpub=tcp://b:2,xsub=tcp://b:1"), "tcp://b:2");
  EXPECT_EQ(ZmqBrokerXpub("xsub=tcp://b:1"), std::nullopt);
  EXPECT_EQ(ZmqBrokerXpub("xsub=tcp://b:1,xpub=tcp://b:2,xpub=tcp://b:3"), std::nullopt);
  EXPECT_EQ(ZmqBrokerXpub("xsub=tcp://b:1,xpub=ipc://x"), std::nullopt);
  EXPECT_EQ(ZmqBrokerXpub("xsub=tcp://b:1,xpub=tcp://"), std::nullopt);
  EXPECT_EQ(ZmqBrokerXpub(""), std::nullopt);
}

TEST_F(OptionsTest, BadNamespaceFromEnvironmentNamesTheFlag) {
  setenv("DYN_NAMESPACE", "bad.namespace", 1);
  ExpectRejected({}, "--namespace");
}

}  // namespace
}  // namespace mk::config
