// A real etcd member (Debian's etcd-server) for integration tests, on free loopback
// ports, changed from outside with etcdctl as an operator or a worker would.
#ifndef METRICS_KEDA_TESTS_INTEGRATION_ETCD_SERVER_H_
#define METRICS_KEDA_TESTS_INTEGRATION_ETCD_SERVER_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "process.h"

namespace mk::testing {

// The absolute path of an installed program; throws naming install-deps.sh if absent.
std::string Which(const std::string& name);

// One etcd member on free client and peer ports, its data in `dir`. It can also be
// started on a second client port, where a watch of the first cannot reach it.
class EtcdServer {
 public:
  // `tls_dir`: where make_certs.sh put its certificates; then etcd serves https with
  // server.crt and requires client certificates of ca.crt (as etcdctl gets).
  explicit EtcdServer(const TempDir& dir, std::string tls_dir = "")
      : dir_(dir),
        tls_dir_(std::move(tls_dir)),
        client_port_(FreePort()),
        aside_port_(FreePort()),
        peer_port_(FreePort()) {
    Start();
  }
  void Start() { StartOn(client_port_); }
  void StartAside() { StartOn(aside_port_); }
  void StartOn(int port) {
    serving_port_ = port;
    const std::string client = Scheme() + "127.0.0.1:" + std::to_string(port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> argv = {Which("etcd"),
                                     "--name",
                                     "test",
                                     "--data-dir",
                                     dir_.path() + "/etcd-data",
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     "test=" + peer};
    if (!tls_dir_.empty()) {
      argv.insert(argv.end(),
                  {"--cert-file", tls_dir_ + "/server.crt", "--key-file", tls_dir_ + "/server.key",
                   "--client-cert-auth", "--trusted-ca-file", tls_dir_ + "/ca.crt"});
    }
    process_.reset();
    process_ = std::make_unique<Process>(
        argv, dir_.path() + "/etcd-" + std::to_string(++starts_) + ".log");
    if (!process_->WaitForOutput("ready to serve client requests", std::chrono::seconds(20))) {
      throw std::runtime_error("etcd did not start: " + process_->Output());
    }
  }
  void Kill() { process_->Stop(SIGKILL, std::chrono::seconds(5)); }
  std::string url() const { return Scheme() + "127.0.0.1:" + std::to_string(client_port_); }
  void set_user(std::string user) { user_ = std::move(user); }

  // Runs etcdctl with `args`; its standard output. Fails the test on an error.
  std::string Ctl(const std::string& args) const {
    const std::string command = "ETCDCTL_API=3 " + Which("etcdctl") + " --endpoints=" + Scheme() +
                                "127.0.0.1:" + std::to_string(serving_port_) +
                                (user_.empty() ? "" : " --user=" + user_) + Certificates() + " " +
                                args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("popen failed");
    std::string output;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    const int status = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << ": " << output;
    return output;
  }
  void Put(const std::string& key, const std::string& value, const std::string& lease = "") {
    Ctl("put " + key + " " + value + (lease.empty() ? "" : " --lease=" + lease));
  }
  void Delete(const std::string& key) { Ctl("del " + key); }
  // The store's current revision.
  int64_t Revision() const {
    const std::string json = Ctl("get --prefix '' -w json --keys-only --limit=1");
    std::smatch match;
    if (!std::regex_search(json, match, std::regex("\"revision\":([0-9]+)"))) {
      throw std::runtime_error("no revision in " + json);
    }
    return std::stoll(match[1]);
  }
  // A new lease of `ttl` seconds: its id in hex, as etcdctl takes it.
  std::string GrantLease(int ttl) const {
    const std::string output = Ctl("lease grant " + std::to_string(ttl));
    std::smatch match;
    if (!std::regex_search(output, match, std::regex("lease ([0-9a-f]+) granted"))) {
      throw std::runtime_error("no lease in " + output);
    }
    return match[1];
  }

 private:
  std::string Scheme() const { return tls_dir_.empty() ? "http://" : "https://"; }
  std::string Certificates() const {
    if (tls_dir_.empty()) return "";
    return " --cacert=" + tls_dir_ + "/ca.crt --cert=" + tls_dir_ +
           "/client.crt --key=" + tls_dir_ + "/client.key";
  }

  const TempDir& dir_;
  std::string tls_dir_;
  int client_port_;
  int aside_port_;
  int peer_port_;
  int serving_port_ = 0;
  std::string user_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace mk::testing

#endif  // METRICS_KEDA_TESTS_INTEGRATION_ETCD_SERVER_H_
