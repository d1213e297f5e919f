#include "discovery/kubernetes_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/status/status.h"
#include "kubernetes/api_objects.h"

namespace mk::discovery {
namespace {

using namespace std::chrono_literals;

// A page of a list: 100 objects, so that pages stay far under the bound below even
// with large objects (a pod serving many LoRA model cards).
constexpr int kPageSize = 100;
// A page of 100 DynamoWorkerMetadata of a few KiB each, with room to spare; the API
// server itself refuses objects over about 1.5 MiB, so one watch event is smaller.
constexpr size_t kMaxPageBytes = 64 << 20;
constexpr size_t kMaxEventBytes = 4 << 20;
// A list of a large namespace takes seconds; a minute is an API server in trouble.
constexpr std::chrono::seconds kListTimeout = 60s;
// Silence tolerated past the watch timeout before the stream is taken as stalled:
// the server closes the watch at the timeout, give or take its own scheduling; a
// short watch timeout gets as short a grace.
constexpr std::chrono::seconds kMaxStallGrace = 30s;
// Back-off after a failure: soon enough to notice a recovered API server within
// seconds, slow enough at the cap not to add load to one in trouble.
constexpr std::chrono::milliseconds kFirstBackoff = 500ms;
constexpr std::chrono::milliseconds kMaxBackoff = 30s;
// A watch that ends sooner than this without an error made no progress worth
// resuming at once.
constexpr std::chrono::milliseconds kQuickEnd = 1s;

// The discovery labels the operator puts on the workers' EndpointSlices,
// URL-encoded: nvidia.com/dynamo-discovery-backend=kubernetes,
// nvidia.com/dynamo-discovery-enabled=true.
constexpr char kSliceSelector[] =
    "labelSelector=nvidia.com%2Fdynamo-discovery-backend%3Dkubernetes%2C"
    "nvidia.com%2Fdynamo-discovery-enabled%3Dtrue";

std::string_view KindName(bool worker_metadata) {
  return worker_metadata ? "dynamoworkermetadatas" : "endpointslices";
}

// What went wrong with an answer other than 200, from its Status object if any.
absl::Status AnswerError(const kubernetes::HttpAnswer& answer, std::string_view what) {
  std::string message = std::string(what) + ": HTTP " + std::to_string(answer.status);
  if (std::optional<std::string> status = kubernetes::StatusMessage(answer.body)) {
    message += ": " + *status;
  }
  switch (answer.status) {
    case 401:
      return absl::UnauthenticatedError(message + " (the token is not accepted)");
    case 403:
      return absl::PermissionDeniedError(
          message +
          " (the service account may not get, list and watch it: see the Role in "
          "deploy/kubernetes)");
    case 410:
      return absl::OutOfRangeError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// One object of the store with `parse`; none, counted in `dropped`, when it does not
// decode.
template <typename Parse>
auto Decode(Parse parse, std::string_view object, std::atomic<uint64_t>& dropped)
    -> std::optional<typename decltype(parse(object))::value_type> {
  auto decoded = parse(object);
  if (decoded.ok()) return *std::move(decoded);
  ++dropped;
  spdlog::debug("kubernetes discovery: {}", std::string(decoded.status().message()));
  return std::nullopt;
}

// The listed `items` that decode.
template <typename Parse>
auto DecodeAll(Parse parse, const std::vector<std::string>& items, std::atomic<uint64_t>& dropped)
    -> std::vector<typename decltype(parse(std::string_view()))::value_type> {
  std::vector<typename decltype(parse(std::string_view()))::value_type> decoded;
  for (const std::string& item : items) {
    if (auto object = Decode(parse, item, dropped)) decoded.push_back(*std::move(object));
  }
  return decoded;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KubernetesRegistry>> KubernetesRegistry::Start(
    std::unique_ptr<kubernetes::ApiClient> client, KubernetesRegistrySettings settings,
    OnChange on_change, std::chrono::milliseconds coalesce) {
  if (settings.namespaces.empty()) {
    return absl::InvalidArgumentError("no Kubernetes namespace to watch");
  }
  std::unique_ptr<KubernetesRegistry> registry(new KubernetesRegistry(
      std::move(client), std::move(settings), std::move(on_change), coalesce));
  for (const std::string& ns : registry->settings_.namespaces) {
    for (Kind kind : {Kind::kWorkerMetadata, Kind::kEndpointSlices}) {
      auto collection = std::make_unique<Collection>();
      collection->kind = kind;
      collection->ns = ns;
      registry->collections_.push_back(std::move(collection));
    }
  }
  // Threads only once every collection exists: Stats and the listing check read
  // the whole vector.
  for (const auto& collection : registry->collections_) {
    Collection* self = collection.get();
    collection->thread = std::thread([registry = registry.get(), self] { registry->Run(*self); });
  }
  return registry;
}

KubernetesRegistry::KubernetesRegistry(std::unique_ptr<kubernetes::ApiClient> client,
                                       KubernetesRegistrySettings settings, OnChange on_change,
                                       std::chrono::milliseconds coalesce)
    : Registry(std::move(on_change), coalesce),
      client_(std::move(client)),
      settings_(std::move(settings)),
      membership_(state_, settings_.max_objects) {}

KubernetesRegistry::~KubernetesRegistry() {
  StopNotifying();
  {
    std::lock_guard lock(sleep_mutex_);
    stopping_ = true;
  }
  sleep_wake_.notify_all();
  client_->Stop();
  for (const auto& collection : collections_) {
    if (collection->thread.joinable()) collection->thread.join();
  }
}

void KubernetesRegistry::AddConnectionStats(RegistryStats& stats) const {
  stats.connected =
      std::all_of(collections_.begin(), collections_.end(),
                  [](const auto& collection) { return collection->connected.load(); });
  stats.reconnects = reconnects_;
  stats.objects_dropped = objects_dropped_;
  std::lock_guard lock(mutex_);
  stats.objects_dropped += membership_.objects_refused();
}

std::string KubernetesRegistry::PathOf(const Collection& collection, std::string_view query) const {
  std::string path =
      collection.kind == Kind::kWorkerMetadata
          ? "/apis/nvidia.com/v1alpha1/namespaces/" + collection.ns + "/dynamoworkermetadatas?"
          : "/apis/discovery.k8s.io/v1/namespaces/" + collection.ns + "/endpointslices?" +
                kSliceSelector + "&";
  path += query;
  return path;
}

bool KubernetesRegistry::SleepUnlessStopping(std::chrono::milliseconds delay) {
  std::unique_lock lock(sleep_mutex_);
  return sleep_wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

bool KubernetesRegistry::ApplyLocked(const Collection& collection, bool deleted,
                                     std::string_view object) {
  bool changed = false;
  if (collection.kind == Kind::kWorkerMetadata) {
    std::optional<kubernetes::WorkerMetadata> metadata =
        Decode(kubernetes::ParseWorkerMetadata, object, objects_dropped_);
    if (!metadata) return false;
    changed = deleted ? membership_.DeleteWorkerMetadata(collection.ns, metadata->meta.name)
                      : membership_.PutWorkerMetadata(collection.ns, *std::move(metadata));
  } else {
    std::optional<kubernetes::EndpointSlice> slice =
        Decode(kubernetes::ParseEndpointSlice, object, objects_dropped_);
    if (!slice) return false;
    changed = deleted ? membership_.DeleteEndpointSlice(collection.ns, slice->meta.name)
                      : membership_.PutEndpointSlice(collection.ns, *std::move(slice));
  }
  if (changed) NotifyLocked();
  return true;
}

absl::StatusOr<std::string> KubernetesRegistry::List(Collection& collection) {
  std::vector<std::string> items;
  std::string continue_token;
  std::string resource_version;
  do {
    std::string query = "limit=" + std::to_string(kPageSize);
    if (!continue_token.empty()) query += "&continue=" + kubernetes::QueryEscape(continue_token);
    const std::string path = PathOf(collection, query);
    absl::StatusOr<kubernetes::HttpAnswer> answer = client_->Get(path, kMaxPageBytes, kListTimeout);
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) return AnswerError(*answer, "list " + path);
    absl::StatusOr<kubernetes::ListPage> page = kubernetes::ParseListPage(answer->body);
    if (!page.ok())
      return absl::UnavailableError("list " + path + ": " + std::string(page.status().message()));
    std::move(page->items.begin(), page->items.end(), std::back_inserter(items));
    continue_token = std::move(page->continue_token);
    // Every page carries the list's resourceVersion; the first is the snapshot's.
    if (resource_version.empty()) resource_version = std::move(page->resource_version);
  } while (!continue_token.empty());

  std::lock_guard lock(mutex_);
  const bool changed =
      collection.kind == Kind::kWorkerMetadata
          ? membership_.ReplaceWorkerMetadata(
                collection.ns, DecodeAll(kubernetes::ParseWorkerMetadata, items, objects_dropped_))
          : membership_.ReplaceEndpointSlices(
                collection.ns, DecodeAll(kubernetes::ParseEndpointSlice, items, objects_dropped_));
  if (changed) NotifyLocked();
  collection.listed = true;
  if (std::all_of(collections_.begin(), collections_.end(),
                  [](const auto& each) { return each->listed; })) {
    SetListedLocked();
  }
  return resource_version;
}

absl::Status KubernetesRegistry::Watch(Collection& collection, std::string& resource_version) {
  const std::string path =
      PathOf(collection, "watch=1&allowWatchBookmarks=true&resourceVersion=" +
                             kubernetes::QueryEscape(resource_version) +
                             "&timeoutSeconds=" + std::to_string(settings_.watch_timeout.count()));
  bool expired = false;
  std::string error;  // an ERROR event other than 410
  absl::StatusOr<kubernetes::HttpAnswer> answer = client_->Stream(
      path, kMaxEventBytes,
      settings_.watch_timeout + std::min(settings_.watch_timeout, kMaxStallGrace),
      [&](std::string_view line) {
        absl::StatusOr<kubernetes::WatchEvent> event = kubernetes::ParseWatchEvent(line);
        if (!event.ok()) {
          ++objects_dropped_;
          spdlog::debug("kubernetes discovery: {}", std::string(event.status().message()));
          return true;
        }
        if (event->type == kubernetes::WatchEventType::kError) {
          expired = event->error_code == 410;
          if (!expired) {
            error = fmt::format("watch {}: error {}: {}", path, event->error_code,
                                event->error_message);
          }
          return false;
        }
        if (event->type != kubernetes::WatchEventType::kBookmark) {
          std::lock_guard lock(mutex_);
          ApplyLocked(collection, event->type == kubernetes::WatchEventType::kDeleted,
                      event->object);
        }
        resource_version = event->meta.resource_version;
        return true;
      },
      [&] { collection.connected = true; });
  if (!answer.ok()) return answer.status();
  if (answer->status == 410 || expired) {
    resource_version.clear();
    return absl::OkStatus();
  }
  // As client-go: the watch ends, and after the back-off the collection is listed
  // again.
  if (!error.empty()) {
    resource_version.clear();
    return absl::UnavailableError(error);
  }
  if (answer->status != 200) return AnswerError(*answer, "watch " + path);
  return absl::OkStatus();
}

void KubernetesRegistry::Run(Collection& collection) {
  const std::string_view kind = KindName(collection.kind == Kind::kWorkerMetadata);
  std::string resource_version;
  std::chrono::milliseconds backoff = kFirstBackoff;
  bool was_down = false;
  while (!stopping_) {
    absl::Status status;
    if (resource_version.empty()) {
      absl::StatusOr<std::string> listed = List(collection);
      status = listed.status();
      if (listed.ok()) {
        resource_version = *std::move(listed);
        collection.connected = true;
      }
    }
    const auto watch_started = std::chrono::steady_clock::now();
    if (status.ok()) status = Watch(collection, resource_version);
    if (stopping_) return;
    if (status.ok()) {
      if (was_down)
        spdlog::info("kubernetes discovery: {} in {} followed again", kind, collection.ns);
      was_down = false;
      // A watch the server ends at once, again and again (a proxy closing streams),
      // is resumed after the back-off rather than in a tight loop; one that ran is
      // resumed at once.
      if (std::chrono::steady_clock::now() - watch_started < kQuickEnd) {
        if (SleepUnlessStopping(backoff)) return;
        backoff = std::min(backoff * 2, kMaxBackoff);
      } else {
        backoff = kFirstBackoff;
      }
      continue;
    }
    // An expired continue token (410 while paging) lists again from the start, and
    // so does an event too large to take: watching from the same resourceVersion
    // would meet it again.
    if (status.code() == absl::StatusCode::kOutOfRange ||
        status.code() == absl::StatusCode::kResourceExhausted) {
      resource_version.clear();
    }
    if (collection.connected.exchange(false) || !was_down) {
      spdlog::warn("kubernetes discovery: {} in {}: {}; membership is kept as it was, retrying",
                   kind, collection.ns, std::string(status.message()));
      ++reconnects_;
    }
    was_down = true;
    if (SleepUnlessStopping(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace mk::discovery
