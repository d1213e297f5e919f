// Holds records in etcd the way a Dynamo worker holds its discovery records: each put
// with a lease that is kept alive for as long as the process runs, so that the records
// vanish within the lease's TTL when the process dies, and at once when it stops
// cleanly (Stop(kRevoke): the keys are deleted, then the leases revoked). Speaks etcd's
// v3 gRPC API (KV.Put, KV.DeleteRange, Lease.*) in plain text, without
// authentication.
//
// What it promises:
//   - Grant() returns a lease id chosen by etcd (a positive 64-bit number); from then on
//     the lease is refreshed every TTL/3 over one LeaseKeepAlive stream for all leases,
//     on a background thread, until Stop() or destruction.
//   - Put() writes a key with a lease and remembers it. Should a lease expire anyway
//     (etcd unreachable for longer than the TTL), the keep-alive thread grants the same
//     lease id again as soon as etcd answers and puts its keys back, so identities never
//     change.
//   - Calls go to the endpoints in turn: when one fails to answer, the next is tried.
//     A call waits for etcd to come up for at most `call_timeout`.
//   - Stop(kRevoke) deletes every key put, then revokes every lease, giving up at the
//     first endpoint failure (the leases then expire by themselves). Stop(kAbandon)
//     and the destructor only stop the keep-alives: the keys stay until their TTL runs
//     out, as after a crash.
//
// Grant, Put and Stop may be called from any thread, one at a time; the keep-alive
// thread runs beside them. Failures are returned; the keep-alive thread reports its
// own on stderr (one line each, never credentials: there are none).
#ifndef METRICS_KEDA_TOOLS_MOCK_WORKER_ETCD_REGISTRATION_H_
#define METRICS_KEDA_TOOLS_MOCK_WORKER_ETCD_REGISTRATION_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace mk::mock {

struct EtcdRegistrationSettings {
  // http://host:port or host:port entries; https is not supported.
  std::vector<std::string> endpoints;
  int64_t lease_ttl_seconds = 10;  // asked for; etcd may grant more (its minimum)
  std::chrono::milliseconds call_timeout{10000};
};

// host:port out of http://host:port or host:port; empty when it is neither.
std::string EtcdTarget(std::string_view endpoint);

class EtcdRegistration {
 public:
  // Checks the endpoints and sets up the channels; no call is made yet.
  // INVALID_ARGUMENT for no endpoint, a bad one, or a TTL below 1.
  static absl::StatusOr<std::unique_ptr<EtcdRegistration>> Create(
      EtcdRegistrationSettings settings);
  ~EtcdRegistration();  // Stop(kAbandon)
  EtcdRegistration(const EtcdRegistration&) = delete;
  EtcdRegistration& operator=(const EtcdRegistration&) = delete;

  // A new lease, kept alive from now on.
  absl::StatusOr<int64_t> Grant();
  // The TTL etcd granted the last lease, in seconds; 0 before the first.
  int64_t granted_ttl_seconds() const;

  // Puts `key` = `value` with `lease` (one that Grant returned).
  absl::Status Put(int64_t lease, const std::string& key, const std::string& value);

  enum class StopMode { kRevoke, kAbandon };
  // Stops the keep-alives; with kRevoke also deletes the keys and revokes the leases.
  // Later calls do nothing and return OK.
  absl::Status Stop(StopMode mode);

 private:
  EtcdRegistration(EtcdRegistrationSettings settings, std::vector<std::string> targets);

  // Runs `call` against the current endpoint, then the others in turn, until one
  // answers (a status other than UNAVAILABLE or DEADLINE_EXCEEDED) or all failed.
  template <typename Call>
  absl::Status OnAnyEndpoint(std::chrono::milliseconds timeout, bool wait_for_ready, Call call);

  absl::StatusOr<int64_t> GrantId(int64_t id, std::chrono::milliseconds timeout);
  absl::Status PutNow(int64_t lease, const std::string& key, const std::string& value,
                      std::chrono::milliseconds timeout);
  void KeepAliveLoop();
  // Waits a while for `endpoint` to connect; false when it did not, or on Stop.
  bool WaitForConnection(size_t endpoint);
  // One keep-alive stream: refreshes every lease each interval until the stream
  // breaks (false) or Stop (true). `failing` says whether an outage was reported.
  bool KeepAliveSession(size_t endpoint, bool& failing);
  void Restore(int64_t lease);  // grants an expired lease again and puts its keys back
  bool Sleep(std::chrono::milliseconds delay);  // false when stopped meanwhile
  bool SetActiveCall(grpc::ClientContext* context);

  const EtcdRegistrationSettings settings_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;  // one per endpoint
  std::vector<std::string> targets_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                       // guarded by mutex_
  bool stopped_ = false;                        // guarded by mutex_
  grpc::ClientContext* active_call_ = nullptr;  // guarded by mutex_ (keep-alive stream)
  size_t current_ = 0;                          // guarded by mutex_: the endpoint in use
  int64_t granted_ttl_ = 0;                     // guarded by mutex_
  // Leases and the keys put with each, in the order put. Guarded by mutex_.
  std::map<int64_t, std::vector<std::pair<std::string, std::string>>> leases_;
  std::thread keepalive_;
};

}  // namespace mk::mock

#endif  // METRICS_KEDA_TOOLS_MOCK_WORKER_ETCD_REGISTRATION_H_
