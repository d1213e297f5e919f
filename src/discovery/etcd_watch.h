// Follows one key prefix in etcd over its v3 gRPC API: lists the prefix, then
// watches it from the listed revision, and tells a callback of every key that
// appears, changes or goes. On a broken stream (etcd down, restarted, unreachable)
// it reconnects with exponential back-off, trying the endpoints in turn, and resumes
// from the last revision it has seen, so no change is lost or told twice. When that
// revision has been compacted away it lists the prefix again and tells only the
// difference from what it had told before (puts of new or changed keys, deletes of
// keys gone). A deleted key is told with the lease it was last put with.
//
// The callbacks run on the watch's own thread, one at a time; they must not block for
// long, nor destroy the watch. Thread-safe accessors. Passwords are never logged.
#ifndef METRICS_KEDA_DISCOVERY_ETCD_WATCH_H_
#define METRICS_KEDA_DISCOVERY_ETCD_WATCH_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace mk::discovery {

struct EtcdWatchSettings {
  // http://host:port, https://host:port or host:port entries (the --etcd-endpoints
  // list); all plain or all https.
  std::vector<std::string> endpoints;
  std::string prefix;  // every key starting with it; empty: every key
  // Authentication, when the cluster has it on: a token is obtained with these on
  // every (re)connection.
  std::string user;
  std::string password;
  // TLS (https:// endpoints, or any of these given): each a PEM inline or the path of
  // a PEM file, as Dynamo's ETCD_AUTH_CA, ETCD_AUTH_CLIENT_CERT and
  // ETCD_AUTH_CLIENT_KEY. Without a CA the system's roots are trusted; a client
  // certificate needs its key.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
};

struct EtcdChange {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // empty for a delete
  int64_t lease = 0;  // the key's lease (for a delete, the one it was last put with)
  // The change's revision: a put's is the key's mod revision; a delete found by a new
  // listing has the listing's.
  int64_t revision = 0;
};

class EtcdWatch {
 public:
  struct Callbacks {
    std::function<void(const EtcdChange&)> on_change;
    // Connected: the prefix is listed and the watch stream is open. Optional.
    std::function<void(bool connected)> on_state_change;
  };

  // Starts the watch thread; it connects in the background. INVALID_ARGUMENT for no
  // endpoint, an endpoint that is not http(s)://host:port or host:port, http and https
  // mixed, a certificate without its key, or a TLS file that cannot be read.
  static absl::StatusOr<std::unique_ptr<EtcdWatch>> Start(EtcdWatchSettings settings,
                                                          Callbacks callbacks);
  ~EtcdWatch();  // stops the thread; no callback runs after it returns
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  bool connected() const { return connected_.load(); }
  // The newest revision whose changes have all been told; 0 before the first listing.
  int64_t revision() const { return revision_.load(); }
  uint64_t lists() const { return lists_.load(); }            // listings, the first included
  uint64_t reconnects() const { return reconnects_.load(); }  // watch streams lost

 private:
  EtcdWatch(EtcdWatchSettings settings, Callbacks callbacks, std::vector<std::string> targets,
            std::shared_ptr<grpc::ChannelCredentials> credentials);
  void Run();
  // One connection: list if needed, then watch until the stream ends. True when
  // it got as far as an open watch (the back-off then starts over).
  bool Session(const std::string& target);
  void SetConnected(bool connected);
  void Tell(const EtcdChange& change);
  // Sleeps `delay` unless stopped meanwhile; false when stopped.
  bool Sleep(std::chrono::milliseconds delay);
  // Registers the call in progress so that the destructor can cancel it.
  bool SetActiveCall(grpc::ClientContext* context);

  const EtcdWatchSettings settings_;
  const Callbacks callbacks_;
  const std::vector<std::string> targets_;  // gRPC targets, host:port
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;

  // What has been told: each present key's mod revision and lease (watch thread only).
  struct Known {
    int64_t mod_revision = 0;
    int64_t lease = 0;
  };
  std::map<std::string, Known> known_;
  bool need_list_ = true;

  std::atomic<bool> connected_{false};
  std::atomic<int64_t> revision_{0};
  std::atomic<uint64_t> lists_{0};
  std::atomic<uint64_t> reconnects_{0};

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                       // guarded by mutex_
  grpc::ClientContext* active_call_ = nullptr;  // guarded by mutex_
  std::thread thread_;
};

// The end of etcd's range holding every key that starts with `prefix`: the prefix
// with its last byte below 0xff incremented and what follows dropped; "\0" (every
// key) for an empty prefix or one of 0xff bytes only.
std::string PrefixRangeEnd(const std::string& prefix);

}  // namespace mk::discovery

#endif  // METRICS_KEDA_DISCOVERY_ETCD_WATCH_H_
