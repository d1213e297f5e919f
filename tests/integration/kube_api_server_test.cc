// The tests' Kubernetes API server, spoken to as a Kubernetes client would: libcurl
// over HTTPS with the test CA and a bearer token, gzip accepted. Lists paged with limit
// and continue, label selectors, lists at a resourceVersion; watches receiving ADDED,
// MODIFIED, DELETED and BOOKMARK in order and resuming from a resourceVersion; 410
// Expired both ways after a compaction; 401 until the token is right; client
// certificates; stalled, closed and broken streams; the server down and back on its
// port; the objects it builds against the fixtures; no thread left behind.
#include "kube_api_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"

namespace mk::testing {
namespace {

using namespace std::chrono_literals;
using Verb = KubeApiServer::Verb;

constexpr KubeResource kMetadata = KubeResource::kDynamoWorkerMetadata;
constexpr KubeResource kSlices = KubeResource::kEndpointSlice;
// A bound on waiting for what should come at once; only a failing test waits it out.
constexpr auto kPatience = 20s;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Threads of this process, from /proc.
size_t ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Threads:")) return std::stoul(line.substr(8));
  }
  return 0;
}

// --- A Kubernetes client's view, through libcurl.

struct Credentials {
  std::string base_url;
  std::string ca_path;  // trusted for the server's certificate; empty: the system's
  std::string token;    // empty: no Authorization header
  std::string client_cert, client_key;
};

// A libcurl handle set up as a client of the API server would set it up.
class Handle {
 public:
  Handle(const Credentials& credentials, const std::string& path) : curl_(curl_easy_init()) {
    const std::string url = credentials.base_url + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    if (!credentials.ca_path.empty())
      curl_easy_setopt(curl_, CURLOPT_CAINFO, credentials.ca_path.c_str());
    if (!credentials.client_cert.empty()) {
      curl_easy_setopt(curl_, CURLOPT_SSLCERT, credentials.client_cert.c_str());
      curl_easy_setopt(curl_, CURLOPT_SSLKEY, credentials.client_key.c_str());
    }
    headers_ = curl_slist_append(headers_, "Accept: application/json");
    if (!credentials.token.empty()) {
      headers_ =
          curl_slist_append(headers_, ("Authorization: Bearer " + credentials.token).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    // Offer gzip, as client libraries do: the server must still stream watch events
    // one by one.
    curl_easy_setopt(curl_, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 10L);
  }
  ~Handle() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  CURL* get() { return curl_; }
  long status() {
    long code = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }

 private:
  CURL* curl_;
  curl_slist* headers_ = nullptr;
};

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string headers;  // as received, lowercased
  std::string body;     // decoded
};

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

Reply Get(const Credentials& credentials, const std::string& path) {
  Handle handle(credentials, path);
  Reply reply;
  curl_easy_setopt(handle.get(), CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(handle.get(), CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(handle.get(), CURLOPT_HEADERFUNCTION, AppendBody);
  curl_easy_setopt(handle.get(), CURLOPT_HEADERDATA, &reply.headers);
  curl_easy_setopt(handle.get(), CURLOPT_TIMEOUT, 30L);
  reply.code = curl_easy_perform(handle.get());
  reply.status = handle.status();
  std::transform(reply.headers.begin(), reply.headers.end(), reply.headers.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return reply;
}

// What a watch event line says.
struct WatchEvent {
  std::string type;
  std::string kind;
  std::string name;
  std::string resource_version;
  std::string reason;  // of an ERROR's Status
  int64_t code = 0;
  // A bookmark's object holds kind, apiVersion and metadata.resourceVersion alone.
  bool bare = false;
  std::string line;
};

std::string StringAt(simdjson::dom::element element, std::string_view pointer) {
  std::string_view text;
  return element.at_pointer(pointer).get_string().get(text) ? "" : std::string(text);
}

// What `fill` reads from the JSON `text` into a T; a default T when it is not JSON.
template <class T>
T FromJson(const std::string& text, const std::function<void(simdjson::dom::element, T&)>& fill) {
  T out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parser.parse(text).get(root)) fill(root, out);
  return out;
}

WatchEvent ParseEvent(const std::string& line) {
  WatchEvent parsed =
      FromJson<WatchEvent>(line, [](simdjson::dom::element root, WatchEvent& event) {
        event.type = StringAt(root, "/type");
        event.kind = StringAt(root, "/object/kind");
        event.name = StringAt(root, "/object/metadata/name");
        event.resource_version = StringAt(root, "/object/metadata/resourceVersion");
        event.reason = StringAt(root, "/object/reason");
        if (root.at_pointer("/object/code").get_int64().get(event.code)) event.code = 0;
        simdjson::dom::object object, metadata;
        if (!root.at_pointer("/object").get_object().get(object) &&
            !root.at_pointer("/object/metadata").get_object().get(metadata)) {
          event.bare = object.size() == 3 && metadata.size() == 1 && !event.kind.empty() &&
                       !StringAt(root, "/object/apiVersion").empty() &&
                       !event.resource_version.empty();
        }
      });
  parsed.line = line;
  return parsed;
}

// A watch request running on its own thread, its events gathered as they come.
class Watch {
 public:
  // `idle_limit`: the client gives up when nothing arrives for that long, as a client
  // guarding against a hung server does.
  Watch(const Credentials& credentials, const std::string& path,
        std::optional<std::chrono::seconds> idle_limit = std::nullopt)
      : handle_(credentials, path), idle_limit_(idle_limit) {
    curl_easy_setopt(handle_.get(), CURLOPT_WRITEFUNCTION, OnData);
    curl_easy_setopt(handle_.get(), CURLOPT_WRITEDATA, this);
    curl_easy_setopt(handle_.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(handle_.get(), CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(handle_.get(), CURLOPT_XFERINFODATA, this);
    thread_ = std::thread([this] {
      const CURLcode code = curl_easy_perform(handle_.get());
      const long status = handle_.status();
      std::lock_guard lock(mutex_);
      code_ = code;
      status_ = status;
      ended_ = true;
      changed_.notify_all();
    });
  }
  ~Watch() {
    stop_ = true;
    thread_.join();
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  bool WaitForEvents(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return events_.size() >= count || ended_; }) &&
           events_.size() >= count;
  }
  bool WaitForEnd() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPatience, [&] { return ended_; });
  }
  std::vector<WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool ended() {
    std::lock_guard lock(mutex_);
    return ended_;
  }
  // It ended because nothing came for its idle limit.
  bool gave_up() const { return gave_up_; }
  CURLcode code() {
    std::lock_guard lock(mutex_);
    return code_;
  }
  long status() {
    std::lock_guard lock(mutex_);
    return status_;
  }
  // What came after the last newline (a whole response that was not a stream).
  std::string rest() {
    std::lock_guard lock(mutex_);
    return buffer_;
  }
  std::string Describe() {
    std::lock_guard lock(mutex_);
    std::string text = "curl " + std::to_string(code_) + ", HTTP " + std::to_string(status_) + ":";
    for (const WatchEvent& event : events_) text += "\n  " + event.line;
    return text + "\n  rest: " + buffer_;
  }

 private:
  static size_t OnData(char* data, size_t size, size_t count, void* self_pointer) {
    auto* self = static_cast<Watch*>(self_pointer);
    std::lock_guard lock(self->mutex_);
    self->last_data_ = std::chrono::steady_clock::now();
    self->buffer_.append(data, size * count);
    size_t newline;
    while ((newline = self->buffer_.find('\n')) != std::string::npos) {
      self->events_.push_back(ParseEvent(self->buffer_.substr(0, newline)));
      self->buffer_.erase(0, newline + 1);
    }
    self->changed_.notify_all();
    return size * count;
  }
  // libcurl calls this at least once a second, however idle the transfer.
  static int OnProgress(void* self_pointer, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* self = static_cast<Watch*>(self_pointer);
    if (self->stop_) return 1;
    if (!self->idle_limit_) return 0;
    std::lock_guard lock(self->mutex_);
    self->gave_up_ = std::chrono::steady_clock::now() - self->last_data_ > *self->idle_limit_;
    return self->gave_up_ ? 1 : 0;
  }

  Handle handle_;
  const std::optional<std::chrono::seconds> idle_limit_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> gave_up_{false};
  std::chrono::steady_clock::time_point last_data_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string buffer_;
  std::vector<WatchEvent> events_;
  bool ended_ = false;
  CURLcode code_ = CURLE_OK;
  long status_ = 0;
  std::thread thread_;
};

// One page of a list.
struct Page {
  std::string kind;
  std::string resource_version;
  std::string continue_token;
  std::optional<int64_t> remaining;
  std::vector<std::string> names;
  std::vector<std::string> item_versions;
};

Page ParsePage(const std::string& body) {
  return FromJson<Page>(body, [](simdjson::dom::element root, Page& page) {
    page.kind = StringAt(root, "/kind");
    page.resource_version = StringAt(root, "/metadata/resourceVersion");
    page.continue_token = StringAt(root, "/metadata/continue");
    int64_t remaining = 0;
    if (!root.at_pointer("/metadata/remainingItemCount").get_int64().get(remaining)) {
      page.remaining = remaining;
    }
    simdjson::dom::array items;
    if (!root["items"].get_array().get(items)) {
      for (const simdjson::dom::element item : items) {
        page.names.push_back(StringAt(item, "/metadata/name"));
        page.item_versions.push_back(StringAt(item, "/metadata/resourceVersion"));
      }
    }
  });
}

std::string Escape(std::string_view text) {
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  std::string out = escaped;
  curl_free(escaped);
  return out;
}

// Where `ours` differs from `fixture`: a path per field of the fixture that `ours`
// lacks, holds with another JSON type, or (`values`) holds with another scalar value.
void Differences(simdjson::dom::element fixture, simdjson::dom::element ours,
                 const std::string& path, bool values, std::vector<std::string>& out) {
  const auto type = [](simdjson::dom::element e) {
    const auto t = e.type();
    return t == simdjson::dom::element_type::UINT64 || t == simdjson::dom::element_type::DOUBLE
               ? simdjson::dom::element_type::INT64
               : t;
  };
  if (type(fixture) != type(ours)) {
    out.push_back(path + " (type)");
    return;
  }
  simdjson::dom::object fixture_object, our_object;
  simdjson::dom::array fixture_array, our_array;
  if (!fixture.get_object().get(fixture_object) && !ours.get_object().get(our_object)) {
    for (const auto field : fixture_object) {
      simdjson::dom::element mine;
      if (our_object[field.key].get(mine)) {
        out.push_back(path + "/" + std::string(field.key) + " (missing)");
      } else {
        Differences(field.value, mine, path + "/" + std::string(field.key), values, out);
      }
    }
  } else if (!fixture.get_array().get(fixture_array) && !ours.get_array().get(our_array)) {
    size_t i = 0;
    for (const auto element : fixture_array) {
      simdjson::dom::element mine;
      if (our_array.at(i).get(mine)) {
        out.push_back(path + "/" + std::to_string(i) + " (missing)");
      } else {
        Differences(element, mine, path + "/" + std::to_string(i), values, out);
      }
      ++i;
    }
  } else if (values && simdjson::minify(fixture) != simdjson::minify(ours)) {
    out.push_back(path);
  }
}

std::vector<std::string> DifferencesFrom(const std::string& fixture, const std::string& ours,
                                         bool values) {
  simdjson::dom::parser fixture_parser, our_parser;
  std::vector<std::string> out;
  Differences(fixture_parser.parse(fixture).value(), our_parser.parse(ours).value(), "", values,
              out);
  return out;
}

std::string FixturePath(const std::string& name) {
  return std::string(MK_SOURCE_DIR) + "/tests/data/kubernetes/" + name;
}

WorkerMetadataSpec Worker(const std::string& pod, uint64_t instance_id,
                          const std::string& kube_namespace = "llm") {
  WorkerMetadataSpec spec;
  spec.pod = pod;
  spec.instance_id = instance_id;
  spec.kube_namespace = kube_namespace;
  return spec;
}

EndpointSliceSpec Slice(const std::string& name, std::vector<SlicePod> pods,
                        bool discovery_labels = true) {
  EndpointSliceSpec spec;
  spec.name = name;
  spec.pods = std::move(pods);
  spec.discovery_labels = discovery_labels;
  return spec;
}

class KubeApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }

  void SetUp() override {
    ASSERT_EQ(MakeCertificates(dir_.path()), "");
    KubeApiServerOptions options;
    options.tls_dir = dir_.path();
    server_ = std::make_unique<KubeApiServer>(options);
  }

  Credentials Client() const { return {server_->url(), server_->ca_path(), "test-token", "", ""}; }
  Reply List(KubeResource resource, const std::string& query = "",
             const std::string& kube_namespace = "llm") {
    return Get(Client(), CollectionPath(resource, kube_namespace) + query);
  }
  std::unique_ptr<Watch> StartWatch(KubeResource resource, const std::string& query,
                                    std::optional<std::chrono::seconds> idle_limit = std::nullopt,
                                    const std::string& kube_namespace = "llm") {
    const size_t before = server_->CountRequests(Verb::kWatch);
    auto watch = std::make_unique<Watch>(
        Client(), CollectionPath(resource, kube_namespace) + "?watch=1&" + query, idle_limit);
    EXPECT_TRUE(server_->WaitForRequests(Verb::kWatch, before + 1, kPatience));
    return watch;
  }
  int64_t PutWorker(const std::string& pod, uint64_t id, const std::string& ns = "llm") {
    return server_->Put(kMetadata, DynamoWorkerMetadataJson(Worker(pod, id, ns)));
  }

  TempDir dir_;
  std::unique_ptr<KubeApiServer> server_;
};

TEST_F(KubeApiServerTest, BuildsObjectsOfTheFixturesShapes) {
  WorkerMetadataSpec worker = Worker("vllm-agg-0-backend-7d9f8c6b5-abcde", 8091376256737010);
  worker.event_channel_endpoint = "tcp://10.244.1.23:45113";
  worker.event_publisher_id = 4286294114773831;
  worker.max_num_seqs = 256;
  const std::string metadata = DynamoWorkerMetadataJson(worker);
  // Same fields, same values, record keys included; the uid and the model's name are
  // made up on each side.
  EXPECT_EQ(DifferencesFrom(ReadFile(FixturePath("k8s_dynamoworkermetadata.json")), metadata, true),
            (std::vector<std::string>{
                "/metadata/ownerReferences/0/uid",
                "/spec/data/model_cards/dynamo/backend/generate/1cbf105786def2/card_json/"
                "display_name"}))
      << metadata;

  const std::string slice = EndpointSliceJson(Slice(
      "vllm-agg-0-backend-x7k2p", {{"vllm-agg-0-backend-7d9f8c6b5-abcde", "10.244.1.23", true},
                                   {"vllm-agg-0-backend-7d9f8c6b5-fghij", "10.244.2.7", false}}));
  EXPECT_EQ(DifferencesFrom(ReadFile(FixturePath("k8s_endpointslice.json")), slice, true),
            std::vector<std::string>{"/endpoints/0/targetRef/uid"})
      << slice;

  // The fixtures themselves, put as text and as parsed JSON, are served as they are
  // with a resourceVersion added.
  for (const auto& [resource, file] : {std::pair{kMetadata, "k8s_dynamoworkermetadata.json"},
                                       std::pair{kSlices, "k8s_endpointslice.json"}}) {
    const std::string fixture = ReadFile(FixturePath(file));
    simdjson::dom::parser fixture_parser;
    const int64_t rv = resource == kMetadata
                           ? server_->Put(resource, fixture)
                           : server_->Put(resource, fixture_parser.parse(fixture).value());
    const Reply reply = List(resource);
    ASSERT_EQ(reply.status, 200) << reply.body;
    simdjson::dom::parser parser;
    const simdjson::dom::element item = parser.parse(reply.body).at_pointer("/items/0").value();
    const std::string served = simdjson::minify(item);
    EXPECT_TRUE(DifferencesFrom(fixture, served, true).empty()) << served;
    EXPECT_EQ(StringAt(item, "/metadata/resourceVersion"), std::to_string(rv));
  }
}

TEST_F(KubeApiServerTest, ListsPagesOfOneSnapshot) {
  std::vector<std::string> versions;
  for (int i = 0; i < 5; ++i) {
    versions.push_back(std::to_string(PutWorker("worker-" + std::to_string(i), 100 + i)));
  }
  PutWorker("elsewhere", 200, "other");
  const int64_t listed_at = server_->resource_version();

  Reply reply = List(kMetadata, "?limit=2");
  ASSERT_EQ(reply.status, 200) << reply.body;
  Page page = ParsePage(reply.body);
  EXPECT_EQ(page.kind, "DynamoWorkerMetadataList");
  EXPECT_EQ(page.resource_version, std::to_string(listed_at));
  EXPECT_EQ(page.names, (std::vector<std::string>{"worker-0", "worker-1"}));
  // Each item carries the resourceVersion of its own last change.
  EXPECT_EQ(page.item_versions, (std::vector<std::string>{versions[0], versions[1]}));
  EXPECT_EQ(page.remaining, 3);
  ASSERT_FALSE(page.continue_token.empty());

  // Changes between pages do not show in later pages: they come from the first's
  // snapshot, whose resourceVersion each carries.
  server_->Delete(kMetadata, "llm", "worker-3");
  PutWorker("worker-2a", 300);
  std::vector<std::string> names = page.names;
  while (!page.continue_token.empty()) {
    reply = List(kMetadata, "?limit=2&continue=" + Escape(page.continue_token));
    ASSERT_EQ(reply.status, 200) << reply.body;
    page = ParsePage(reply.body);
    EXPECT_EQ(page.resource_version, std::to_string(listed_at));
    names.insert(names.end(), page.names.begin(), page.names.end());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"worker-0", "worker-1", "worker-2", "worker-3", "worker-4"}));
  EXPECT_FALSE(page.remaining.has_value());

  // Without a limit, the newest state in one page; across namespaces, every one.
  page = ParsePage(List(kMetadata).body);
  EXPECT_EQ(page.names, (std::vector<std::string>{"worker-0", "worker-1", "worker-2", "worker-2a",
                                                  "worker-4"}));
  EXPECT_EQ(page.resource_version, std::to_string(server_->resource_version()));
  EXPECT_TRUE(page.continue_token.empty());
  page = ParsePage(List(kMetadata, "", "").body);
  EXPECT_EQ(page.names.size(), 6u);
  EXPECT_EQ(page.names.front(), "worker-0");  // llm/... sorts before other/...
  EXPECT_EQ(page.names.back(), "elsewhere");
}

TEST_F(KubeApiServerTest, GzipsOnlyLargeLists) {
  PutWorker("worker-0", 1);
  // curl offers brotli too; kube-apiserver answers with gzip alone, and only from 128 KiB.
  EXPECT_EQ(List(kMetadata).headers.find("content-encoding"), std::string::npos);
  for (int i = 1; List(kMetadata).body.size() < 128 * 1024;) {
    for (const int end = i + 10; i < end; ++i) PutWorker("worker-" + std::to_string(i), i + 1);
  }
  const Reply large = List(kMetadata);
  EXPECT_NE(large.headers.find("content-encoding: gzip"), std::string::npos) << large.headers;
  EXPECT_EQ(ParsePage(large.body).kind, "DynamoWorkerMetadataList");
}

TEST_F(KubeApiServerTest, FiltersByLabelSelector) {
  server_->Put(kSlices, EndpointSliceJson(Slice("labelled", {{"a", "10.0.0.1", true}})));
  server_->Put(kSlices, EndpointSliceJson(Slice("unlabelled", {{"b", "10.0.0.2", true}}, false)));
  server_->Put(kSlices, EndpointSliceJson(Slice("labelled-too", {{"c", "10.0.0.3", false}})));
  // Escaped as clients do, and raw: Go's query parsing splits at the first '='.
  for (const std::string& selector :
       {Escape(kDiscoverySelector), std::string(kDiscoverySelector)}) {
    const Reply reply = List(kSlices, "?labelSelector=" + selector);
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(ParsePage(reply.body).names, (std::vector<std::string>{"labelled", "labelled-too"}))
        << selector;
  }
  EXPECT_EQ(ParsePage(List(kSlices,
                           "?labelSelector=" + Escape("nvidia.com/dynamo-discovery-enabled!=true"))
                          .body)
                .names,
            std::vector<std::string>{"unlabelled"});
  EXPECT_EQ(
      ParsePage(
          List(kSlices, "?labelSelector=" + Escape("!nvidia.com/dynamo-discovery-backend")).body)
          .names,
      std::vector<std::string>{"unlabelled"});
  // Paged with a selector: pages of matching objects, no count of the rest.
  const Page page =
      ParsePage(List(kSlices, "?limit=1&labelSelector=" + Escape(kDiscoverySelector)).body);
  EXPECT_EQ(page.names, std::vector<std::string>{"labelled"});
  EXPECT_FALSE(page.continue_token.empty());
  EXPECT_FALSE(page.remaining.has_value());
  EXPECT_EQ(List(kSlices, "?labelSelector=" + Escape("a in (b)")).status, 400);
}

TEST_F(KubeApiServerTest, ListsAtAResourceVersion) {
  const int64_t first = PutWorker("worker-0", 1);
  PutWorker("worker-1", 2);
  // Exact: the state then.
  Page page = ParsePage(
      List(kMetadata, "?resourceVersion=" + std::to_string(first) + "&resourceVersionMatch=Exact")
          .body);
  EXPECT_EQ(page.names, std::vector<std::string>{"worker-0"});
  EXPECT_EQ(page.resource_version, std::to_string(first));
  // NotOlderThan: the newest.
  page = ParsePage(List(kMetadata, "?resourceVersion=" + std::to_string(first) +
                                       "&resourceVersionMatch=NotOlderThan")
                       .body);
  EXPECT_EQ(page.names.size(), 2u);
  EXPECT_EQ(List(kMetadata, "?resourceVersion=99").status, 504);
  server_->Compact();
  const Reply expired =
      List(kMetadata, "?resourceVersion=" + std::to_string(first) + "&resourceVersionMatch=Exact");
  EXPECT_EQ(expired.status, 410);
  EXPECT_NE(expired.body.find(R"("reason":"Expired")"), std::string::npos) << expired.body;
}

TEST_F(KubeApiServerTest, ContinueTokenFromBeforeACompactionIsExpired) {
  for (int i = 0; i < 3; ++i) PutWorker("worker-" + std::to_string(i), 10 + i);
  const Page first = ParsePage(List(kMetadata, "?limit=1").body);
  ASSERT_FALSE(first.continue_token.empty());
  PutWorker("worker-3", 13);
  server_->Compact();
  const Reply expired = List(kMetadata, "?limit=1&continue=" + Escape(first.continue_token));
  ASSERT_EQ(expired.status, 410) << expired.body;
  simdjson::dom::parser parser;
  const simdjson::dom::element status = parser.parse(expired.body).value();
  EXPECT_EQ(StringAt(status, "/kind"), "Status");
  EXPECT_EQ(StringAt(status, "/reason"), "Expired");
  // Its token finishes the list at the newest state, the new object included.
  const std::string inconsistent = StringAt(status, "/metadata/continue");
  ASSERT_FALSE(inconsistent.empty());
  const Page rest = ParsePage(List(kMetadata, "?continue=" + Escape(inconsistent)).body);
  EXPECT_EQ(rest.names, (std::vector<std::string>{"worker-1", "worker-2", "worker-3"}));
  EXPECT_EQ(rest.resource_version, std::to_string(server_->resource_version()));
}

TEST_F(KubeApiServerTest, WatchSendsEveryChangeInOrderThenBookmarks) {
  PutWorker("before", 1);
  const Page listed = ParsePage(List(kMetadata).body);
  auto watch = StartWatch(
      kMetadata, "resourceVersion=" + listed.resource_version + "&allowWatchBookmarks=true");
  ASSERT_TRUE(server_->WaitForOpenWatches(1, kPatience));
  const int64_t added = PutWorker("worker-0", 7);
  WorkerMetadataSpec changed = Worker("worker-0", 7);
  changed.total_kv_blocks = 999;
  const int64_t modified = server_->Put(kMetadata, DynamoWorkerMetadataJson(changed));
  // The same object again is no change.
  EXPECT_EQ(server_->Put(kMetadata, DynamoWorkerMetadataJson(changed)), modified);
  const int64_t deleted = server_->Delete(kMetadata, "llm", "worker-0");
  EXPECT_EQ(server_->Delete(kMetadata, "llm", "worker-0"), 0);
  PutWorker("worker-0", 7, "other");                             // not the watched namespace
  server_->Put(kSlices, EndpointSliceJson(Slice("slice", {})));  // not the watched kind
  ASSERT_TRUE(watch->WaitForEvents(3)) << watch->Describe();
  EXPECT_EQ(server_->SendBookmarks(), 1u);
  ASSERT_TRUE(watch->WaitForEvents(4)) << watch->Describe();

  const auto events = watch->events();
  ASSERT_EQ(events.size(), 4u) << watch->Describe();
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(events[0].resource_version, std::to_string(added));
  EXPECT_EQ(events[1].type, "MODIFIED");
  EXPECT_EQ(events[1].resource_version, std::to_string(modified));
  EXPECT_NE(events[1].line.find(R"("total_kv_blocks":999)"), std::string::npos);
  // The last state, at the deletion's resourceVersion.
  EXPECT_EQ(events[2].type, "DELETED");
  EXPECT_EQ(events[2].name, "worker-0");
  EXPECT_EQ(events[2].resource_version, std::to_string(deleted));
  EXPECT_NE(events[2].line.find(R"("total_kv_blocks":999)"), std::string::npos);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events[i].kind, "DynamoWorkerMetadata");
    EXPECT_FALSE(events[i].bare);
  }
  // A bookmark covers the changes the watch did not want, too.
  EXPECT_EQ(events[3].type, "BOOKMARK");
  EXPECT_TRUE(events[3].bare) << events[3].line;
  EXPECT_EQ(events[3].kind, "DynamoWorkerMetadata");
  EXPECT_EQ(events[3].resource_version, std::to_string(server_->resource_version()));
  EXPECT_GT(server_->resource_version(), deleted);
  EXPECT_FALSE(watch->ended());  // still streaming
}

TEST_F(KubeApiServerTest, WatchWithoutResourceVersionStartsWithTheObjects) {
  const int64_t a = PutWorker("a", 1);
  const int64_t b = PutWorker("b", 2);
  auto watch = StartWatch(kMetadata, "");
  ASSERT_TRUE(watch->WaitForEvents(2)) << watch->Describe();
  PutWorker("c", 3);
  ASSERT_TRUE(watch->WaitForEvents(3)) << watch->Describe();
  const auto events = watch->events();
  EXPECT_EQ(events[0].type + events[0].name + events[0].resource_version,
            "ADDEDa" + std::to_string(a));
  EXPECT_EQ(events[1].type + events[1].name + events[1].resource_version,
            "ADDEDb" + std::to_string(b));
  EXPECT_EQ(events[2].type + events[2].name, "ADDEDc");
}

TEST_F(KubeApiServerTest, WatchResumesAfterTheLastResourceVersionSeen) {
  const int64_t first = PutWorker("a", 1);
  PutWorker("b", 2);
  PutWorker("c", 3);
  auto watch = StartWatch(kMetadata, "resourceVersion=" + std::to_string(first));
  ASSERT_TRUE(watch->WaitForEvents(2)) << watch->Describe();
  auto events = watch->events();
  EXPECT_EQ(events[0].name + events[1].name, "bc");
  watch.reset();
  auto again = StartWatch(kMetadata, "resourceVersion=" + events[1].resource_version);
  PutWorker("d", 4);
  ASSERT_TRUE(again->WaitForEvents(1)) << again->Describe();
  EXPECT_EQ(again->events()[0].name, "d");
  EXPECT_EQ(server_->WatchResourceVersions(kMetadata),
            (std::vector<std::string>{std::to_string(first), events[1].resource_version}));
  EXPECT_TRUE(server_->WatchResourceVersions(kSlices).empty());
}

TEST_F(KubeApiServerTest, ObjectsEnteringAndLeavingTheSelectorAreAddedAndDeleted) {
  const int64_t from =
      server_->Put(kSlices, EndpointSliceJson(Slice("s", {{"p", "10.0.0.1", false}}, false)));
  auto watch = StartWatch(kSlices, "resourceVersion=" + std::to_string(from) +
                                       "&labelSelector=" + Escape(kDiscoverySelector));
  const int64_t labelled =
      server_->Put(kSlices, EndpointSliceJson(Slice("s", {{"p", "10.0.0.1", false}})));
  server_->Put(kSlices, EndpointSliceJson(Slice("s", {{"p", "10.0.0.1", true}})));
  const int64_t unlabelled =
      server_->Put(kSlices, EndpointSliceJson(Slice("s", {{"p", "10.0.0.1", true}}, false)));
  ASSERT_TRUE(watch->WaitForEvents(3)) << watch->Describe();
  const auto events = watch->events();
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(events[0].resource_version, std::to_string(labelled));
  EXPECT_EQ(events[1].type, "MODIFIED");
  EXPECT_NE(events[1].line.find(R"("ready":true)"), std::string::npos);
  EXPECT_EQ(events[2].type, "DELETED");
  EXPECT_EQ(events[2].resource_version, std::to_string(unlabelled));
  EXPECT_NE(events[2].line.find("dynamo-discovery-enabled"),
            std::string::npos);  // the last state seen
}

TEST_F(KubeApiServerTest, WatchFromBeforeTheCompactionIsExpiredEitherWay) {
  const int64_t old = PutWorker("a", 1);
  PutWorker("b", 2);
  server_->Compact();
  EXPECT_EQ(server_->compacted_resource_version(), server_->resource_version());
  const std::string query = "resourceVersion=" + std::to_string(old) + "&allowWatchBookmarks=true";

  // As kube-apiserver's watch cache: 200, one ERROR event, the end.
  auto as_event = StartWatch(kMetadata, query);
  ASSERT_TRUE(as_event->WaitForEnd()) << as_event->Describe();
  EXPECT_EQ(as_event->code(), CURLE_OK);
  EXPECT_EQ(as_event->status(), 200);
  auto events = as_event->events();
  ASSERT_EQ(events.size(), 1u) << as_event->Describe();
  EXPECT_EQ(events[0].type, "ERROR");
  EXPECT_EQ(events[0].kind, "Status");
  EXPECT_EQ(events[0].reason, "Expired");
  EXPECT_EQ(events[0].code, 410);

  // As the HTTP status.
  server_->set_expired_watch_answer(ExpiredWatchAnswer::kHttpStatus);
  auto as_status = StartWatch(kMetadata, query);
  ASSERT_TRUE(as_status->WaitForEnd()) << as_status->Describe();
  EXPECT_EQ(as_status->status(), 410);
  EXPECT_TRUE(as_status->events().empty());
  EXPECT_NE(as_status->rest().find(R"("reason":"Expired","code":410)"), std::string::npos)
      << as_status->rest();
  EXPECT_EQ(server_->CountResponses(410), 1u);

  // From the compaction point itself nothing is missing.
  auto current =
      StartWatch(kMetadata, "resourceVersion=" + std::to_string(server_->resource_version()));
  PutWorker("c", 3);
  ASSERT_TRUE(current->WaitForEvents(1)) << current->Describe();
  EXPECT_EQ(current->events()[0].name, "c");
}

TEST_F(KubeApiServerTest, StalledStreamBehindACompactionIsExpiredWhenItResumes) {
  auto watch = StartWatch(kMetadata, "resourceVersion=0");
  ASSERT_TRUE(server_->WaitForOpenWatches(1, kPatience));
  EXPECT_EQ(server_->StallWatches(), 1u);
  PutWorker("a", 1);
  server_->Compact();
  EXPECT_EQ(server_->ResumeWatches(), 1u);
  ASSERT_TRUE(watch->WaitForEnd()) << watch->Describe();
  const auto events = watch->events();
  ASSERT_EQ(events.size(), 1u) << watch->Describe();
  EXPECT_EQ(events[0].type, "ERROR");
  EXPECT_EQ(events[0].code, 410);
}

TEST_F(KubeApiServerTest, UnauthorizedUntilTheTokenIsRight) {
  Credentials client = Client();
  client.token = "wrong";
  Reply reply = Get(client, CollectionPath(kMetadata, "llm"));
  EXPECT_EQ(reply.status, 401);
  simdjson::dom::parser parser;
  simdjson::dom::element status = parser.parse(reply.body).value();
  EXPECT_EQ(StringAt(status, "/kind"), "Status");
  EXPECT_EQ(StringAt(status, "/reason"), "Unauthorized");
  client.token.clear();
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 401);
  EXPECT_EQ(Get(client, "/apis/nvidia.com/v1alpha1/namespaces/llm/other").status, 401);

  // Rotation: the new token works and the old one no longer does.
  server_->SetToken("rotated");
  EXPECT_EQ(List(kMetadata).status, 401);
  client.token = "rotated";
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 200);
  client.token = "Rotated";
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 401);
  EXPECT_EQ(server_->CountResponses(401), 5u);
  EXPECT_EQ(server_->CountResponses(200), 1u);
  const auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 5u);  // the unknown path is not one of the collections
  EXPECT_EQ(requests[3].status, 200);

  // What a pod would find in its service account volume.
  const std::string account = dir_.path() + "/serviceaccount";
  server_->WriteServiceAccountFiles(account, "llm");
  EXPECT_EQ(ReadFile(account + "/token"), "rotated");
  EXPECT_EQ(ReadFile(account + "/namespace"), "llm");
  EXPECT_EQ(ReadFile(account + "/ca.crt"), ReadFile(server_->ca_path()));
  client.token = ReadFile(account + "/token");
  client.ca_path = account + "/ca.crt";
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 200);
}

TEST_F(KubeApiServerTest, HttpsNeedsTheTestCa) {
  Credentials client = Client();
  client.ca_path.clear();
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).code, CURLE_PEER_FAILED_VERIFICATION);
  client.ca_path = dir_.path() + "/other-ca.crt";
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).code, CURLE_PEER_FAILED_VERIFICATION);
  EXPECT_EQ(server_->url().substr(0, 8), "https://");
}

TEST_F(KubeApiServerTest, ClientCertificatesAuthenticateWithoutAToken) {
  server_.reset();
  KubeApiServerOptions options;
  options.tls_dir = dir_.path();
  options.client_certificates = true;
  server_ = std::make_unique<KubeApiServer>(options);
  Credentials client = Client();
  client.token.clear();
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 401);
  client.client_cert = dir_.path() + "/client.crt";
  client.client_key = dir_.path() + "/client.key";
  EXPECT_EQ(Get(client, CollectionPath(kMetadata, "llm")).status, 200);
  client.client_cert = dir_.path() + "/other-client.crt";
  client.client_key = dir_.path() + "/other-client.key";
  const Reply refused = Get(client, CollectionPath(kMetadata, "llm"));
  EXPECT_NE(refused.code, CURLE_OK);
  EXPECT_EQ(refused.status, 0);
}

TEST_F(KubeApiServerTest, PlainHttpWhenGivenNoCertificates) {
  server_.reset();
  server_ = std::make_unique<KubeApiServer>();
  EXPECT_EQ(server_->url().substr(0, 7), "http://");
  EXPECT_TRUE(server_->ca_path().empty());
  EXPECT_EQ(Get({server_->url(), "", "test-token", "", ""}, CollectionPath(kSlices, "llm")).status,
            200);
}

TEST_F(KubeApiServerTest, StalledStreamKeepsItsConnectionAndSendsNothing) {
  // A client that gives up after this long without a byte: far longer than a change
  // takes to arrive, even on a loaded machine.
  constexpr auto kIdleLimit = 3s;
  auto watch = StartWatch(kMetadata, "resourceVersion=0&allowWatchBookmarks=true", kIdleLimit);
  PutWorker("a", 1);
  ASSERT_TRUE(watch->WaitForEvents(1)) << watch->Describe();
  ASSERT_EQ(server_->StallWatches(), 1u);
  const int64_t held = PutWorker("b", 2);
  server_->SendBookmarks();
  // Neither the change nor the bookmark came, and the connection was not closed: the
  // client's own idle limit ended it.
  ASSERT_TRUE(watch->WaitForEnd()) << watch->Describe();
  EXPECT_TRUE(watch->gave_up()) << watch->Describe();
  EXPECT_EQ(watch->code(), CURLE_ABORTED_BY_CALLBACK) << watch->Describe();
  EXPECT_EQ(watch->events().size(), 1u) << watch->Describe();

  // A new stream is not stalled.
  const std::string last = watch->events()[0].resource_version;
  auto again = StartWatch(kMetadata, "resourceVersion=" + last);
  ASSERT_TRUE(again->WaitForEvents(1)) << again->Describe();
  EXPECT_EQ(again->events()[0].resource_version, std::to_string(held));

  // Resumed, a stalled stream sends what it held back. The first stream is still open
  // on the server's side: a stream learns that its client left only when it writes.
  EXPECT_EQ(server_->StallWatches(), 2u);
  const int64_t later = PutWorker("c", 3);
  EXPECT_EQ(server_->ResumeWatches(), 2u);
  ASSERT_TRUE(again->WaitForEvents(2)) << again->Describe();
  EXPECT_EQ(again->events()[1].resource_version, std::to_string(later));
}

TEST_F(KubeApiServerTest, ClosedStreamsEndCleanly) {
  auto first = StartWatch(kMetadata, "");
  auto second = StartWatch(kSlices, "");
  ASSERT_TRUE(server_->WaitForOpenWatches(2, kPatience));
  EXPECT_EQ(server_->CloseWatches(), 2u);
  ASSERT_TRUE(first->WaitForEnd());
  ASSERT_TRUE(second->WaitForEnd());
  EXPECT_EQ(first->code(), CURLE_OK);
  EXPECT_EQ(second->code(), CURLE_OK);
  EXPECT_EQ(first->status(), 200);
  EXPECT_TRUE(server_->WaitForOpenWatches(0, kPatience));
}

TEST_F(KubeApiServerTest, WatchEndsAtItsTimeoutWithABookmark) {
  auto watch = StartWatch(kMetadata, "timeoutSeconds=1&allowWatchBookmarks=true");
  ASSERT_TRUE(watch->WaitForEnd()) << watch->Describe();
  EXPECT_EQ(watch->code(), CURLE_OK);
  const auto events = watch->events();
  ASSERT_EQ(events.size(), 1u) << watch->Describe();
  EXPECT_EQ(events[0].type, "BOOKMARK");
}

TEST_F(KubeApiServerTest, BookmarksComeEveryInterval) {
  auto without = StartWatch(kMetadata, "resourceVersion=0");
  auto with = StartWatch(kMetadata, "resourceVersion=0&allowWatchBookmarks=true");
  // Short, so that a test waits for a few.
  server_->set_bookmark_interval(100ms);
  ASSERT_TRUE(with->WaitForEvents(3)) << with->Describe();
  for (const WatchEvent& event : with->events()) EXPECT_EQ(event.type, "BOOKMARK");
  // Bookmarks go only where they were allowed.
  PutWorker("a", 1);
  ASSERT_TRUE(without->WaitForEvents(1)) << without->Describe();
  EXPECT_EQ(without->events().size(), 1u);
  EXPECT_EQ(without->events()[0].type, "ADDED");
}

TEST_F(KubeApiServerTest, DownAndBackOnTheSamePort) {
  const int port = server_->port();
  const int64_t seen = PutWorker("a", 1);
  auto watch = StartWatch(kMetadata, "resourceVersion=" + std::to_string(seen));
  ASSERT_TRUE(server_->WaitForOpenWatches(1, kPatience));
  server_->Stop();
  EXPECT_FALSE(server_->serving());
  // The stream broke off without its final chunk.
  ASSERT_TRUE(watch->WaitForEnd());
  EXPECT_NE(watch->code(), CURLE_OK) << watch->Describe();
  EXPECT_EQ(List(kMetadata).code, CURLE_COULDNT_CONNECT);
  EXPECT_EQ(server_->open_watches(), 0u);
  const int64_t meanwhile = PutWorker("b", 2);  // etcd kept taking changes

  server_->Start();
  EXPECT_EQ(server_->port(), port);
  auto resumed = StartWatch(kMetadata, "resourceVersion=" + std::to_string(seen));
  ASSERT_TRUE(resumed->WaitForEvents(1)) << resumed->Describe();
  EXPECT_EQ(resumed->events()[0].resource_version, std::to_string(meanwhile));
  EXPECT_EQ(server_->WatchResourceVersions(kMetadata),
            (std::vector<std::string>{std::to_string(seen), std::to_string(seen)}));
}

TEST_F(KubeApiServerTest, RefusesWhatItDoesNotServe) {
  EXPECT_EQ(Get(Client(), "/apis/nvidia.com/v1alpha1/namespaces/llm/pods").status, 404);
  EXPECT_EQ(List(kMetadata, "?limit=x").status, 400);
  EXPECT_EQ(List(kMetadata, "?continue=bm90LWEtdG9rZW4").status, 400);
  EXPECT_EQ(List(kMetadata, "?resourceVersionMatch=Exact").status, 400);
  EXPECT_THROW(server_->Put(kMetadata, EndpointSliceJson(Slice("s", {}))), std::invalid_argument);
  EXPECT_THROW(server_->Put(kMetadata, R"({"metadata":{"name":"x"}})"), std::invalid_argument);
  EXPECT_THROW(server_->Put(kMetadata, "[1]"), std::invalid_argument);
  EXPECT_EQ(server_->resource_version(), 0);
}

TEST(KubeApiServerThreads, NoneOutliveTheServer) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  {
    // A first server and client, so that threads a runtime starts once for the
    // process (a sanitizer's background thread) are there before counting.
    KubeApiServer first;
    EXPECT_EQ(Get({first.url(), "", "test-token", "", ""}, CollectionPath(kSlices, "")).status,
              200);
  }
  const size_t before = ThreadCount();
  {
    KubeApiServer server;
    const Credentials client{server.url(), "", "test-token", "", ""};
    auto stalled = std::make_unique<Watch>(client, CollectionPath(kMetadata, "llm") + "?watch=1");
    auto streaming = std::make_unique<Watch>(client, CollectionPath(kSlices, "") + "?watch=1");
    ASSERT_TRUE(server.WaitForOpenWatches(2, kPatience));
    server.StallWatches();
    EXPECT_EQ(Get(client, CollectionPath(kSlices, "llm")).status, 200);
    EXPECT_GT(ThreadCount(), before);
  }
  EXPECT_EQ(ThreadCount(), before);
  curl_global_cleanup();
}

}  // namespace
}  // namespace mk::testing
