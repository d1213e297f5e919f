// A Kubernetes API server of the tests' own, for the scaler's Kubernetes discovery
// (dynamo-worker-metrics.md, section 4): it serves DynamoWorkerMetadata
// (nvidia.com/v1alpha1) and EndpointSlice (discovery.k8s.io/v1) objects on 127.0.0.1
// over the real list and watch wire protocol, and lets a test change the objects and
// misbehave as a real API server can.
//
// What it promises, each as kube-apiserver does it (the facts are cited where they are
// implemented, in kube_api_server.cc):
// - GET /apis/<group>/<version>[/namespaces/<ns>]/<plural>: a list
//   ({"kind":"<Kind>List","apiVersion","metadata":{"resourceVersion"[,"continue",
//   "remainingItemCount"]},"items"}) filtered by `labelSelector` (`a=b`, `a==b`, `a!=b`,
//   `a`, `!a`, joined by commas), paged by `limit` and `continue` from one snapshot, at
//   `resourceVersion` with `resourceVersionMatch` (Exact, NotOlderThan).
// - The same with `watch=1` (or true): a chunked application/json stream, one JSON
//   object per line, {"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object"}.
//   From `resourceVersion` N it sends the changes after N; without one, or with "0",
//   synthetic ADDED events of the current objects first. An object that starts or stops
//   matching the selector arrives as ADDED or DELETED. DELETED carries the object's last
//   state at the deletion's resourceVersion. With `allowWatchBookmarks=true`, BOOKMARK
//   events (kind, apiVersion and metadata.resourceVersion alone) every bookmark interval
//   and on demand. `timeoutSeconds` ends the stream cleanly.
// - One resourceVersion counter for every object of both kinds in every namespace,
//   bumped on each change, as etcd's revision is; every object served carries its own.
// - A watch or list from before the compaction point gets 410 Expired: for a watch
//   either as the HTTP status or as an ERROR event on a 200 stream (selectable); for a
//   continued list with a continue token for the rest of the list at the newest state.
// - Every request must carry `Authorization: Bearer <token>` with the current token
//   (or, in client-certificate mode, a certificate of the test CA); otherwise 401 with
//   a Status object.
// - HTTPS with make_certs.sh's server certificate when given a certificate directory.
// - gzip (never brotli) for a list of 128 KiB or more when the client accepts it; a
//   watch stream is never compressed.
//
// Thread-safety: every public method may be called from any thread while clients are
// served. Stop() and the destructor wait for every connection's thread: no stream or
// thread outlives a stop.
#ifndef METRICS_KEDA_TESTS_INTEGRATION_KUBE_API_SERVER_H_
#define METRICS_KEDA_TESTS_INTEGRATION_KUBE_API_SERVER_H_

#include <simdjson.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace mk::testing {

// The two collections the scaler's discovery lists and watches.
enum class KubeResource { kDynamoWorkerMetadata, kEndpointSlice };

// "DynamoWorkerMetadata"/"EndpointSlice", its apiVersion, and the URL path of its
// collection in `kube_namespace` (all namespaces when empty).
std::string_view KindOf(KubeResource resource);
std::string_view ApiVersionOf(KubeResource resource);
std::string CollectionPath(KubeResource resource, std::string_view kube_namespace);

// How a watch from a resourceVersion older than the compaction point is refused. Both
// happen: kube-apiserver's watch cache answers 200 and an ERROR event, a request it
// refuses before streaming (and other API servers) answers with the HTTP status.
enum class ExpiredWatchAnswer { kErrorEvent, kHttpStatus };

struct KubeApiServerOptions {
  // Where make_certs.sh put its certificates: then the server speaks HTTPS with
  // server.crt (localhost, 127.0.0.1, signed by ca.crt). Empty: plain HTTP.
  std::string tls_dir;
  // With tls_dir: a request whose TLS client certificate was signed by ca.crt is
  // authenticated without a token (as kube-apiserver's --client-ca-file does). A
  // certificate of another CA fails the handshake; none at all is allowed.
  bool client_certificates = false;
  // The bearer token accepted at first.
  std::string token = "test-token";
};

class KubeApiServer {
 public:
  // Starts serving on a free port of 127.0.0.1. Throws if it cannot.
  explicit KubeApiServer(KubeApiServerOptions options = {});
  ~KubeApiServer();
  KubeApiServer(const KubeApiServer&) = delete;
  KubeApiServer& operator=(const KubeApiServer&) = delete;

  // --- Where it is and how to reach it.
  int port() const { return port_; }
  // https://127.0.0.1:<port> or http://...
  std::string url() const;
  // The CA a client must trust (tls_dir/ca.crt); empty for plain HTTP.
  std::string ca_path() const;
  // Writes what a pod's service account volume holds (token, ca.crt when HTTPS,
  // namespace) into `dir`, each file replaced atomically (written aside, then renamed)
  // as the kubelet does when it rotates a token.
  void WriteServiceAccountFiles(const std::string& dir, std::string_view kube_namespace) const;

  // --- The API server going down and coming back on the same port, its objects kept
  // (they live in etcd, not in the API server). Stop() breaks off every watch stream
  // without its final chunk, refuses new connections, and returns once every
  // connection is closed (an idle kept-alive one within a second). Both are idempotent.
  void Stop();
  void Start();
  bool serving() const;

  // --- Authentication: the token accepted from now on (open streams keep going).
  void SetToken(std::string token);

  // --- Objects. A put adds (ADDED) or replaces (MODIFIED) the object named by its
  // metadata.namespace and metadata.name; kind and apiVersion must be the resource's
  // or absent. Any metadata.resourceVersion given is replaced. A put that changes
  // nothing is no change, as an update without changes is in Kubernetes. Each returns
  // the resourceVersion of the change (the object's own when nothing changed; 0 for a
  // delete of an absent object). Throws std::invalid_argument for a malformed object.
  int64_t Put(KubeResource resource, std::string_view json);
  int64_t Put(KubeResource resource, simdjson::dom::element object);
  int64_t Delete(KubeResource resource, std::string_view kube_namespace, std::string_view name);
  // The newest resourceVersion (0 before any change).
  int64_t resource_version() const;

  // --- History. Forgets the changes up to `resource_version` (the newest when absent):
  // a watch from an older resourceVersion, an Exact list before it and a continue token
  // from before it get 410 Expired; an open stream that had not yet sent them (it was
  // stalled) ends with an ERROR event.
  void Compact(std::optional<int64_t> resource_version = std::nullopt);
  int64_t compacted_resource_version() const;
  void set_expired_watch_answer(ExpiredWatchAnswer answer);

  // --- Watch streams. Each returns how many open streams it acted on.
  // How often every stream that allowed bookmarks gets one (kube-apiserver: about once a
  // minute, the default); zero: only on demand.
  void set_bookmark_interval(std::chrono::milliseconds interval);
  // A bookmark now on every stream that allowed them.
  size_t SendBookmarks();
  // The open streams stop sending anything (events, bookmarks, their end at
  // timeoutSeconds) while their connections stay open: a hung API server. Streams
  // opened later are not stalled.
  size_t StallWatches();
  // Stalled streams send what they held back.
  size_t ResumeWatches();
  // The open streams end cleanly (their final chunk), as on kube-apiserver's timeout.
  size_t CloseWatches();
  // Streams open on the server's side: one whose client has left counts until it next
  // writes (a stalled one, until it is resumed or the server stops).
  size_t open_watches() const;
  // Waits until `count` streams are open; false after `timeout`.
  bool WaitForOpenWatches(size_t count, std::chrono::milliseconds timeout) const;

  // --- What clients asked. Requests to the two collections are recorded in arrival
  // order (rejected ones included), for the server's life; every response is counted
  // by status. Both are counted before the response is written.
  enum class Verb { kList, kWatch };
  struct Request {
    KubeResource resource = KubeResource::kDynamoWorkerMetadata;
    std::string kube_namespace;  // empty: all namespaces
    Verb verb = Verb::kList;
    std::string resource_version;  // as asked; empty when absent
    std::string label_selector;
    std::string limit;
    std::string continue_token;
    int status = 0;  // the HTTP status answered
  };
  std::vector<Request> requests() const;
  size_t CountRequests(Verb verb) const;
  size_t CountResponses(int status) const;
  // The resourceVersion of each watch of `resource`, in order ("" when absent): where
  // the client resumed from.
  std::vector<std::string> WatchResourceVersions(KubeResource resource) const;
  // Waits until `count` requests of `verb` have arrived; false after `timeout`.
  bool WaitForRequests(Verb verb, size_t count, std::chrono::milliseconds timeout) const;

 private:
  struct Stored;
  struct Event;
  struct Stream;
  struct Selector;
  struct HttpExchange;
  using Objects = std::map<std::string, std::shared_ptr<const Stored>>;  // by namespace/name

  void Handle(HttpExchange& exchange);
  void ServeList(HttpExchange& exchange);
  void ServeWatch(HttpExchange& exchange);
  // Replaces the object at `key` by `next` (none: deletes it); its resourceVersion.
  int64_t Change(KubeResource resource, std::shared_ptr<Stored> next, const std::string& key);
  // Callers of these hold mutex_.
  // The objects of `resource` at `resource_version` (>= the compaction point).
  Objects StateAt(KubeResource resource, int64_t resource_version) const;
  std::string ExpiredWatchMessage(int64_t resource_version) const;
  // The changes `stream` has not considered yet, as its lines.
  void AppendPending(Stream& stream, std::string& out);
  // Waits for the next lines `stream` sends; false when the server stops, `finish`
  // when the stream ends after them.
  bool NextLines(Stream& stream, std::string& out, bool& finish);
  // Applies `act` to every open stream not being closed; how many it returned true for.
  size_t ForEachOpenStream(const std::function<bool(Stream&)>& act);
  void Record(const Request& request);
  void CountResponse(int status);

  const KubeApiServerOptions options_;
  int port_ = 0;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string token_;
  ExpiredWatchAnswer expired_answer_ = ExpiredWatchAnswer::kErrorEvent;
  std::chrono::milliseconds bookmark_interval_;
  int64_t resource_version_ = 0;
  int64_t compacted_ = 0;
  Objects current_[2];
  Objects compacted_state_[2];  // at compacted_
  std::deque<Event> history_;   // the changes after compacted_, in order
  std::set<std::shared_ptr<Stream>> streams_;
  std::vector<Request> requests_;
  std::map<int, size_t> responses_;
  bool stopping_ = false;

  mutable std::mutex lifecycle_;  // serializes Start() and Stop(); guards server_
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
};

// --- Objects shaped like the fixtures (tests/data/kubernetes/).

// One worker pod's DynamoWorkerMetadata: named after the pod and owned by it, its
// spec.data holding the endpoint instance, the model card and (when
// event_channel_endpoint is set) a ZMQ event channel, keyed by their record paths.
struct WorkerMetadataSpec {
  std::string pod;
  std::string kube_namespace = "llm";
  uint64_t instance_id = 0;  // its hex spells the records' keys
  std::string dynamo_namespace = "dynamo";
  std::string component = "backend";
  std::string endpoint = "generate";
  std::string pod_ip = "10.244.1.23";
  // The model card's runtime_config; 0 for the first two is written as null.
  uint64_t total_kv_blocks = 16384;
  uint64_t max_num_seqs = 256;
  uint32_t data_parallel_start_rank = 0;
  uint32_t data_parallel_size = 1;
  // The PUB socket of the `kv_metrics` channel (tcp://ip:port); empty: no channel.
  std::string event_channel_endpoint;
  uint64_t event_publisher_id = 0;  // 0: the instance id
};
std::string DynamoWorkerMetadataJson(const WorkerMetadataSpec& spec);

struct SlicePod {
  std::string name;
  std::string address;
  bool ready = true;
};

// An EndpointSlice of a worker service, with the two discovery labels
// (nvidia.com/dynamo-discovery-backend=kubernetes, nvidia.com/dynamo-discovery-enabled=true)
// unless `discovery_labels` is false.
struct EndpointSliceSpec {
  std::string name;
  std::string kube_namespace = "llm";
  std::string service = "vllm-agg-0-backend";
  std::string graph_deployment = "vllm-agg";
  std::string component = "VllmDecodeWorker";
  std::string dynamo_namespace = "dynamo";
  bool discovery_labels = true;
  std::vector<SlicePod> pods;
  int system_port = 9090;  // the port named "system"; 0: no port at all
};
std::string EndpointSliceJson(const EndpointSliceSpec& spec);

// The label selector the scaler lists EndpointSlices with.
inline constexpr std::string_view kDiscoverySelector =
    "nvidia.com/dynamo-discovery-backend=kubernetes,nvidia.com/dynamo-discovery-enabled=true";

}  // namespace mk::testing

#endif  // METRICS_KEDA_TESTS_INTEGRATION_KUBE_API_SERVER_H_
