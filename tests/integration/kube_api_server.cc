#include "kube_api_server.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <stdexcept>
#include <utility>

#include "dynamo/discovery_records.h"
#include "mock_worker/discovery_payloads.h"
#include "mock_worker/worker_payloads.h"

namespace mk::testing {
namespace {

using Clock = std::chrono::steady_clock;
using mock::AppendJsonString;
using Labels = std::map<std::string, std::string, std::less<>>;

// Each open watch stream holds one of these threads for its whole life; the rest
// serve lists. Enough for every stream a test or the scaler opens, with room for
// streams whose client left unnoticed (a stream learns of that only at its next write).
constexpr size_t kServerThreads = 64;
// An idle kept-alive connection is closed after this. Stop() waits for such
// connections, so this bounds how long the API server takes to go down.
constexpr time_t kKeepAliveSeconds = 1;
// Go's HTTP server has no limit on requests per connection; the library's default of 5
// would make clients reconnect where a real API server does not ask them to.
constexpr size_t kKeepAliveRequests = 1000;
// kube-apiserver gzips a response only when its first write reaches 128 KiB
// (responsewriters.defaultGzipThresholdBytes); a watch stream never.
constexpr size_t kGzipThresholdBytes = 128 * 1024;
// kube-apiserver's watch cache sends idle watchers a bookmark about once a minute
// (cacher.defaultBookmarkFrequency).
constexpr std::chrono::milliseconds kDefaultBookmarkInterval = std::chrono::minutes(1);
constexpr Clock::time_point kNever = Clock::time_point::max();

const std::string kGroupVersions[] = {"nvidia.com/v1alpha1", "discovery.k8s.io/v1"};
const std::string kKinds[] = {"DynamoWorkerMetadata", "EndpointSlice"};
const std::string kPlurals[] = {"dynamoworkermetadatas", "endpointslices"};

size_t IndexOf(KubeResource resource) { return static_cast<size_t>(resource); }

// --- Small text helpers.

std::string Quoted(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

bool ParseInt(std::string_view text, int64_t& value) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// strconv.ParseBool, which the API server's query decoding uses.
bool ParseBool(std::string_view text, bool& value) {
  static constexpr std::string_view kTrue[] = {"1", "t", "T", "true", "TRUE", "True"};
  static constexpr std::string_view kFalse[] = {"0", "f", "F", "false", "FALSE", "False"};
  if (std::find(std::begin(kTrue), std::end(kTrue), text) != std::end(kTrue)) {
    value = true;
  } else if (std::find(std::begin(kFalse), std::end(kFalse), text) != std::end(kFalse)) {
    value = false;
  } else {
    return false;
  }
  return true;
}

// url.QueryUnescape: %XX, and '+' for a space. None for a broken escape.
std::optional<std::string> QueryUnescape(std::string_view text) {
  std::string spaced(text);
  std::replace(spaced.begin(), spaced.end(), '+', ' ');  // an escaped '+' is still %2B here
  return dynamo::PercentDecodeSegment(spaced);
}

// The query of a request target as Go's url.ParseQuery reads it: each parameter split
// at its first '=' (cpp-httplib's own parsing keeps only the text after the last one,
// which would mangle an unescaped `labelSelector=a=b`), the first value of a name kept.
std::map<std::string, std::string> ParseQuery(std::string_view target) {
  std::map<std::string, std::string> query;
  const size_t mark = target.find('?');
  if (mark == std::string_view::npos) return query;
  std::string_view rest = target.substr(mark + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const size_t eq = pair.find('=');
    const auto name = QueryUnescape(pair.substr(0, eq));
    const auto value =
        QueryUnescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (name && value && !name->empty()) query.emplace(*name, *value);
  }
  return query;
}

std::string Base64Url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> FromBase64Url(std::string text) {
  if (text.find_first_of("+/=") != std::string::npos || text.size() % 4 == 1) return std::nullopt;
  std::replace(text.begin(), text.end(), '-', '+');
  std::replace(text.begin(), text.end(), '_', '/');
  const size_t padding = (4 - text.size() % 4) % 4;
  text.append(padding, '=');
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

// A metav1.Status as the API server writes it (apimachinery's api/errors constructors:
// status "Failure", the reason and the HTTP code), with ListMeta.continue when given.
std::string StatusJson(int code, std::string_view reason, std::string_view message,
                       std::string_view continue_token = {}) {
  std::string out = R"({"kind":"Status","apiVersion":"v1","metadata":{)";
  if (!continue_token.empty()) out += R"("continue":)" + Quoted(continue_token);
  out += R"(},"status":"Failure","message":)" + Quoted(message) + R"(,"reason":)" + Quoted(reason) +
         R"(,"code":)" + std::to_string(code) + "}";
  return out;
}

std::string EventLine(std::string_view type, std::string_view object) {
  std::string line = R"({"type":")";
  line.append(type).append(R"(","object":)").append(object).append("}\n");
  return line;
}

// A watch cache bookmark: an object of the watched kind with only its
// resourceVersion set (api-concepts, "Watch bookmarks").
std::string BookmarkLine(KubeResource resource, int64_t resource_version) {
  return EventLine("BOOKMARK", R"({"kind":")" + kKinds[IndexOf(resource)] + R"(","apiVersion":")" +
                                   kGroupVersions[IndexOf(resource)] +
                                   R"(","metadata":{"resourceVersion":")" +
                                   std::to_string(resource_version) + R"("}})");
}

// Dynamo's hex spelling of an instance id in record keys.
std::string Hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

std::string_view KindOf(KubeResource resource) { return kKinds[IndexOf(resource)]; }
std::string_view ApiVersionOf(KubeResource resource) { return kGroupVersions[IndexOf(resource)]; }

std::string CollectionPath(KubeResource resource, std::string_view kube_namespace) {
  std::string path = "/apis/" + kGroupVersions[IndexOf(resource)];
  if (!kube_namespace.empty()) path.append("/namespaces/").append(kube_namespace);
  return path + "/" + kPlurals[IndexOf(resource)];
}

// --- The stored objects.

// An object as the store holds it: its identity, its labels, and its JSON in two parts
// around metadata.resourceVersion, so that it can be served at any resourceVersion (a
// DELETED event carries the last state at the deletion's resourceVersion).
struct KubeApiServer::Stored {
  std::string kube_namespace;
  std::string name;
  Labels labels;
  std::string head;  // {"kind":..,"apiVersion":..,"metadata":{ and its other fields
  bool metadata_fields = false;
  std::string tail;  // the end of metadata, then the other top-level fields
  int64_t resource_version = 0;

  std::string key() const { return kube_namespace + "/" + name; }
  std::string Render(int64_t at) const {
    return head + (metadata_fields ? "," : "") + R"("resourceVersion":")" + std::to_string(at) +
           "\"" + tail;
  }
  bool SameContent(const Stored& other) const { return head == other.head && tail == other.tail; }
  // Throws std::invalid_argument for what is not an object of `resource`.
  static std::shared_ptr<Stored> Parse(KubeResource resource, simdjson::dom::element element);
};

// One change, as the store's history keeps it.
struct KubeApiServer::Event {
  int64_t resource_version = 0;
  KubeResource resource = KubeResource::kDynamoWorkerMetadata;
  std::string key;
  std::shared_ptr<const Stored> before;  // none for a creation
  std::shared_ptr<const Stored> after;   // none for a deletion
};

// A label selector of equality terms (labels.Parse's `=`, `==`, `!=`, `key`, `!key`).
struct KubeApiServer::Selector {
  enum class Op { kEquals, kNotEquals, kExists, kNotExists };
  struct Term {
    std::string key;
    Op op;
    std::string value;
  };
  std::vector<Term> terms;

  // Empty `error` when `text` parsed.
  static Selector Parse(std::string_view text, std::string& error) {
    Selector selector;
    const auto trim = [](std::string_view s) {
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      return s;
    };
    while (!trim(text).empty()) {
      const size_t comma = text.find(',');
      const std::string_view term = trim(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      Term parsed;
      size_t at;
      if ((at = term.find("!=")) != std::string_view::npos) {
        parsed = {std::string(trim(term.substr(0, at))), Op::kNotEquals,
                  std::string(trim(term.substr(at + 2)))};
      } else if ((at = term.find('=')) != std::string_view::npos) {
        const size_t skip = term.substr(at).starts_with("==") ? 2 : 1;
        parsed = {std::string(trim(term.substr(0, at))), Op::kEquals,
                  std::string(trim(term.substr(at + skip)))};
      } else if (term.starts_with('!')) {
        parsed = {std::string(trim(term.substr(1))), Op::kNotExists, ""};
      } else {
        parsed = {std::string(term), Op::kExists, ""};
      }
      if (parsed.key.empty() || parsed.key.find_first_of(" ()=!") != std::string::npos ||
          parsed.value.find_first_of(" ()=!") != std::string::npos) {
        error = "unable to parse requirement: " + std::string(term);
        return selector;
      }
      selector.terms.push_back(std::move(parsed));
    }
    return selector;
  }

  bool Matches(const Labels& labels) const {
    for (const Term& term : terms) {
      const auto found = labels.find(term.key);
      const bool has = found != labels.end();
      switch (term.op) {
        case Op::kEquals:
          if (!has || found->second != term.value) return false;
          break;
        case Op::kNotEquals:  // an object without the label matches, as in Kubernetes
          if (has && found->second == term.value) return false;
          break;
        case Op::kExists:
          if (!has) return false;
          break;
        case Op::kNotExists:
          if (has) return false;
          break;
      }
    }
    return true;
  }
};

// One open watch.
struct KubeApiServer::Stream {
  KubeResource resource = KubeResource::kDynamoWorkerMetadata;
  std::string kube_namespace;
  Selector selector;
  bool bookmarks = false;
  // Every change up to here has been turned into lines (queued or sent).
  int64_t considered = 0;
  std::string queued;  // lines not yet sent
  bool end_after_queued = false;
  bool stalled = false;
  bool close = false;
  bool bookmark_now = false;
  Clock::time_point next_bookmark = kNever;
  Clock::time_point deadline = kNever;

  bool InScope(const Stored& object) const {
    return (kube_namespace.empty() || object.kube_namespace == kube_namespace) &&
           selector.Matches(object.labels);
  }
};

// A request being answered.
struct KubeApiServer::HttpExchange {
  HttpExchange(const httplib::Request& r, httplib::Response& w)
      : request(r), response(w), query(ParseQuery(r.target)) {}

  const httplib::Request& request;
  httplib::Response& response;
  std::map<std::string, std::string> query;
  bool collection = false;  // a request to one of the two collections
  Request record;
  int status = 0;

  std::string Param(const std::string& name) const {
    const auto found = query.find(name);
    return found == query.end() ? "" : found->second;
  }
  // cpp-httplib compresses any application/json response, a chunked one included,
  // with brotli or gzip whenever the client accepts either, and its compressors hold
  // data back until more arrives: watch events would reach the client late.
  // kube-apiserver gzips only whole responses from kGzipThresholdBytes on, never with
  // brotli. Handlers get the request as const, but the library's Request object is not
  // const, so narrowing its Accept-Encoding here is well defined.
  void CompressAsKubeApiServer(size_t body_size) {
    const bool gzip = body_size >= kGzipThresholdBytes &&
                      request.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
    auto& headers = const_cast<httplib::Request&>(request).headers;
    headers.erase("Accept-Encoding");
    if (gzip) headers.emplace("Accept-Encoding", "gzip");
  }
  void Respond(int code, const std::string& body) {
    status = code;
    response.status = code;
    CompressAsKubeApiServer(body.size());
    response.set_content(body, "application/json");
  }
  void Fail(int code, std::string_view reason, std::string_view message,
            std::string_view continue_token = {}) {
    Respond(code, StatusJson(code, reason, message, continue_token));
  }
};

std::shared_ptr<KubeApiServer::Stored> KubeApiServer::Stored::Parse(
    KubeResource resource, simdjson::dom::element element) {
  const auto fail = [](const std::string& what) {
    throw std::invalid_argument("not a Kubernetes object: " + what);
  };
  simdjson::dom::object object;
  if (element.get_object().get(object)) fail("not a JSON object");
  auto stored = std::make_shared<Stored>();
  std::string rest;
  simdjson::dom::object metadata;
  bool has_metadata = false;
  for (const auto field : object) {
    if (field.key == "kind" || field.key == "apiVersion") {
      const std::string& expected =
          field.key == "kind" ? kKinds[IndexOf(resource)] : kGroupVersions[IndexOf(resource)];
      std::string_view value;
      if (field.value.get_string().get(value) || value != expected) {
        fail(std::string(field.key) + " is not " + expected);
      }
    } else if (field.key == "metadata") {
      if (field.value.get_object().get(metadata)) fail("metadata is not an object");
      has_metadata = true;
    } else {
      rest += "," + Quoted(field.key) + ":" + simdjson::minify(field.value);
    }
  }
  if (!has_metadata) fail("no metadata");
  std::string metadata_text;
  for (const auto field : metadata) {
    if (field.key == "resourceVersion") continue;  // the store's to set
    std::string_view text;
    if (field.key == "name" || field.key == "namespace") {
      if (field.value.get_string().get(text) || text.empty()) {
        fail("metadata." + std::string(field.key) + " is not a name");
      }
      (field.key == "name" ? stored->name : stored->kube_namespace) = std::string(text);
    } else if (field.key == "labels") {
      simdjson::dom::object labels;
      if (field.value.get_object().get(labels)) fail("metadata.labels is not an object");
      for (const auto label : labels) {
        if (label.value.get_string().get(text)) fail("a label value is not a string");
        stored->labels.emplace(std::string(label.key), std::string(text));
      }
    }
    if (!metadata_text.empty()) metadata_text.push_back(',');
    metadata_text += Quoted(field.key) + ":" + simdjson::minify(field.value);
  }
  if (stored->name.empty() || stored->kube_namespace.empty()) {
    fail("metadata.name or metadata.namespace missing");
  }
  stored->head = R"({"kind":")" + kKinds[IndexOf(resource)] + R"(","apiVersion":")" +
                 kGroupVersions[IndexOf(resource)] + R"(","metadata":{)" + metadata_text;
  stored->metadata_fields = !metadata_text.empty();
  stored->tail = "}" + rest + "}";
  return stored;
}

// --- Serving.

KubeApiServer::KubeApiServer(KubeApiServerOptions options)
    : options_(std::move(options)),
      token_(options_.token),
      bookmark_interval_(kDefaultBookmarkInterval) {
  Start();
}

KubeApiServer::~KubeApiServer() { Stop(); }

std::string KubeApiServer::url() const {
  return (options_.tls_dir.empty() ? "http://" : "https://") + std::string("127.0.0.1:") +
         std::to_string(port_);
}

std::string KubeApiServer::ca_path() const {
  return options_.tls_dir.empty() ? "" : options_.tls_dir + "/ca.crt";
}

void KubeApiServer::WriteServiceAccountFiles(const std::string& dir,
                                             std::string_view kube_namespace) const {
  const auto write = [&dir](const std::string& name, const std::string& content) {
    const std::string aside = dir + "/." + name + ".new";
    {
      std::ofstream out(aside, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out) throw std::runtime_error("cannot write " + aside);
    }
    std::filesystem::rename(aside, dir + "/" + name);
  };
  std::filesystem::create_directories(dir);
  {
    std::lock_guard lock(mutex_);
    write("token", token_);
  }
  write("namespace", std::string(kube_namespace));
  if (!options_.tls_dir.empty()) {
    std::ifstream in(ca_path(), std::ios::binary);
    write("ca.crt", std::string(std::istreambuf_iterator<char>(in), {}));
  }
}

void KubeApiServer::Start() {
  std::lock_guard lifecycle(lifecycle_);
  if (server_) return;
  if (options_.tls_dir.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    const std::string dir = options_.tls_dir;
    const bool client_certificates = options_.client_certificates;
    server_ = std::make_unique<httplib::SSLServer>([dir, client_certificates](SSL_CTX& context) {
      if (SSL_CTX_use_certificate_chain_file(&context, (dir + "/server.crt").c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(&context, (dir + "/server.key").c_str(), SSL_FILETYPE_PEM) !=
              1) {
        return false;
      }
      if (client_certificates) {
        // Asked for, checked when given, not required: Go's VerifyClientCertIfGiven,
        // what kube-apiserver runs with --client-ca-file.
        const std::string ca = dir + "/ca.crt";
        if (SSL_CTX_load_verify_locations(&context, ca.c_str(), nullptr) != 1) return false;
        SSL_CTX_set_client_CA_list(&context, SSL_load_client_CA_file(ca.c_str()));
        SSL_CTX_set_verify(&context, SSL_VERIFY_PEER, nullptr);
      }
      return true;
    });
  }
  httplib::Server& http = *server_;
  if (!http.is_valid()) {
    server_.reset();
    throw std::runtime_error("cannot set up TLS from " + options_.tls_dir);
  }
  http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // SO_REUSEADDR, to bind the same port again at once after Stop(); not the library's
  // SO_REUSEPORT, which would let another process share it.
  http.set_socket_options([](socket_t socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_keep_alive_max_count(kKeepAliveRequests);
  const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    HttpExchange exchange(request, response);
    Handle(exchange);
  };
  http.Get(".*", handler);
  http.Post(".*", handler);
  http.Put(".*", handler);
  http.Patch(".*", handler);
  http.Delete(".*", handler);

  const int bound = port_ == 0 ? http.bind_to_any_port("127.0.0.1")
                               : (http.bind_to_port("127.0.0.1", port_) ? port_ : -1);
  if (bound <= 0) {
    server_.reset();
    throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port_));
  }
  if (port_ == 0) port_ = bound;  // the same port on every later start
  auto done = std::make_shared<std::atomic<bool>>(false);
  listener_ = std::thread([&http, done] {
    http.listen_after_bind();
    *done = true;
  });
  // The port takes connections from here on, but the library's stop() only takes
  // effect once its accept loop runs, and it says so by no other means than this flag.
  while (!http.is_running() && !*done) std::this_thread::yield();
}

void KubeApiServer::Stop() {
  std::lock_guard lifecycle(lifecycle_);
  if (!server_) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  server_->stop();
  // The library joins its connection threads before listen returns: every stream has
  // ended and been released by then.
  listener_.join();
  server_.reset();
  std::lock_guard lock(mutex_);
  stopping_ = false;
}

bool KubeApiServer::serving() const {
  std::lock_guard lifecycle(lifecycle_);
  return server_ != nullptr;
}

void KubeApiServer::SetToken(std::string token) {
  std::lock_guard lock(mutex_);
  token_ = std::move(token);
}

void KubeApiServer::Handle(HttpExchange& x) {
  static const std::regex kCollection(
      R"(/apis/(nvidia\.com/v1alpha1|discovery\.k8s\.io/v1)(?:/namespaces/([^/]+))?/)"
      R"((dynamoworkermetadatas|endpointslices))");
  std::smatch match;
  if (std::regex_match(x.request.path, match, kCollection)) {
    for (const KubeResource resource :
         {KubeResource::kDynamoWorkerMetadata, KubeResource::kEndpointSlice}) {
      x.collection |=
          match[1] == kGroupVersions[IndexOf(resource)] && match[3] == kPlurals[IndexOf(resource)];
      if (x.collection) {
        x.record.resource = resource;
        break;
      }
    }
    bool watch = false;
    ParseBool(x.Param("watch"), watch);  // anything else than true is a list
    x.record.kube_namespace = match[2];
    x.record.verb = watch ? Verb::kWatch : Verb::kList;
    x.record.resource_version = x.Param("resourceVersion");
    x.record.label_selector = x.Param("labelSelector");
    x.record.limit = x.Param("limit");
    x.record.continue_token = x.Param("continue");
  }

  // Authentication comes first, for every path (kube-apiserver's filter chain), with
  // the bearer token authenticator's reading of the header: scheme case-insensitive,
  // an empty token never valid.
  bool authenticated = false;
  if (options_.client_certificates && x.request.ssl != nullptr) {
    authenticated = SSL_get0_peer_certificate(x.request.ssl) != nullptr &&
                    SSL_get_verify_result(x.request.ssl) == X509_V_OK;
  }
  const std::string authorization = x.request.get_header_value("Authorization");
  const size_t space = authorization.find(' ');
  if (!authenticated && space != std::string::npos) {
    std::string scheme = authorization.substr(0, space);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string token = authorization.substr(space + 1);
    std::lock_guard lock(mutex_);
    authenticated = scheme == "bearer" && !token.empty() && token == token_;
  }

  if (!authenticated) {
    x.Fail(401, "Unauthorized", "Unauthorized");
  } else if (x.request.method != "GET") {
    x.Fail(405, "MethodNotAllowed",
           "the server does not allow this method on the requested resource");
  } else if (!x.collection) {
    x.Fail(404, "NotFound", "the server could not find the requested resource");
  } else if (x.record.verb == Verb::kWatch) {
    ServeWatch(x);
  } else {
    ServeList(x);
  }
  // Counted before the response is written, so that a client that has read it finds
  // it counted.
  if (x.collection) {
    x.record.status = x.status;
    Record(x.record);
  }
  CountResponse(x.status);
}

void KubeApiServer::ServeList(HttpExchange& x) {
  const KubeResource resource = x.record.resource;
  const std::string& ns = x.record.kube_namespace;
  int64_t limit = 0;
  if (!x.record.limit.empty() && (!ParseInt(x.record.limit, limit) || limit < 0)) {
    return x.Fail(400, "BadRequest", "invalid limit: " + x.record.limit);
  }
  std::string error;
  const Selector selector = Selector::Parse(x.record.label_selector, error);
  if (!error.empty()) return x.Fail(400, "BadRequest", error);

  std::unique_lock lock(mutex_);
  int64_t at = resource_version_;
  std::string start;  // the first key of this page, relative to the list's scope
  if (!x.record.continue_token.empty()) {
    // A continue token is base64url (unpadded) of {"v":"meta.k8s.io/v1","rv":<list
    // resourceVersion>,"start":<key after the last one served>} (apiserver
    // storage.EncodeContinue); rv -1 means "at the newest state".
    const auto decoded = FromBase64Url(x.record.continue_token);
    simdjson::dom::parser parser;
    simdjson::dom::object token;
    std::string_view version, start_key;
    int64_t token_rv = 0;
    if (!decoded || parser.parse(*decoded).get_object().get(token) ||
        token["v"].get_string().get(version) || version != "meta.k8s.io/v1" ||
        token["rv"].get_int64().get(token_rv) || token["start"].get_string().get(start_key) ||
        start_key.empty()) {
      return x.Fail(400, "BadRequest", "continue key is not valid");
    }
    start = std::string(start_key);
    if (token_rv != -1 && token_rv < compacted_) {
      // etcd3 store: a token from before the compaction answers 410 with a token for
      // the rest of the list at the newest state (handleCompactedErrorForPaging).
      const std::string inconsistent =
          Base64Url(R"({"v":"meta.k8s.io/v1","rv":-1,"start":)" + Quoted(start) + "}");
      return x.Fail(410, "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list.",
                    inconsistent);
    }
    if (token_rv != -1) at = token_rv;
  } else {
    const std::string& asked = x.record.resource_version;
    const std::string match = x.Param("resourceVersionMatch");
    if (match != "" && match != "Exact" && match != "NotOlderThan") {
      return x.Fail(400, "BadRequest", "unsupported resourceVersionMatch: " + match);
    }
    if (asked.empty() && !match.empty()) {
      return x.Fail(400, "BadRequest",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided");
    }
    int64_t wanted = 0;
    if (!asked.empty() && (!ParseInt(asked, wanted) || wanted < 0)) {
      return x.Fail(400, "BadRequest", "invalid resourceVersion: " + asked);
    }
    // api-concepts, "Semantics for get and list": NotOlderThan (and a bare
    // resourceVersion, "0" for any) is served from the newest state; Exact, and a bare
    // non-zero resourceVersion with a limit (the legacy paging rule, KEP-2523), at that
    // version or 410 when it is compacted.
    const bool exact = match == "Exact" || (match.empty() && wanted != 0 && limit > 0);
    if (match == "Exact" && wanted == 0) {
      return x.Fail(400, "BadRequest",
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
    }
    if (wanted > resource_version_) {
      return x.Fail(504, "Timeout",
                    "Too large resource version: " + asked +
                        ", current: " + std::to_string(resource_version_));
    }
    if (exact && wanted < compacted_) {
      return x.Fail(410, "Expired", "The resourceVersion for the provided list is too old.");
    }
    if (exact) at = wanted;
  }

  const Objects snapshot =
      at == resource_version_ ? current_[IndexOf(resource)] : StateAt(resource, at);
  lock.unlock();

  const std::string scope = ns.empty() ? "" : ns + "/";
  std::string items;
  size_t served = 0;
  std::string last;
  bool more = false;
  auto it = snapshot.lower_bound(scope + start);
  for (; it != snapshot.end() && it->first.starts_with(scope); ++it) {
    if (limit > 0 && served == static_cast<size_t>(limit)) {
      more = true;
      break;
    }
    if (!selector.Matches(it->second->labels)) continue;
    if (served++ > 0) items.push_back(',');
    items += it->second->Render(it->second->resource_version);
    last = it->first;
  }
  std::string metadata = R"("resourceVersion":")" + std::to_string(at) + "\"";
  if (more) {
    // The next page starts just after the last key served (storage.PrepareContinueToken).
    metadata += R"(,"continue":)" +
                Quoted(Base64Url(R"({"v":"meta.k8s.io/v1","rv":)" + std::to_string(at) +
                                 R"(,"start":)" + Quoted(last.substr(scope.size()) + '\0') + "}"));
    // Counted only when nothing is filtered out, as etcd's count of keys cannot see
    // a selector.
    if (selector.terms.empty()) {
      size_t remaining = 0;
      for (; it != snapshot.end() && it->first.starts_with(scope); ++it) ++remaining;
      metadata += R"(,"remainingItemCount":)" + std::to_string(remaining);
    }
  }
  x.Respond(200, R"({"kind":")" + kKinds[IndexOf(resource)] + R"(List","apiVersion":")" +
                     kGroupVersions[IndexOf(resource)] + R"(","metadata":{)" + metadata +
                     R"(},"items":[)" + items + "]}");
}

std::string KubeApiServer::ExpiredWatchMessage(int64_t resource_version) const {
  // The watch cache's words (watchCache.getAllEventsSinceLocked).
  return "too old resource version: " + std::to_string(resource_version) + " (" +
         std::to_string(compacted_) + ")";
}

void KubeApiServer::ServeWatch(HttpExchange& x) {
  bool bookmarks = false;
  const std::string allow = x.Param("allowWatchBookmarks");
  if (!allow.empty() && !ParseBool(allow, bookmarks)) {
    return x.Fail(400, "BadRequest", "invalid allowWatchBookmarks: " + allow);
  }
  int64_t timeout_seconds = 0;
  const std::string timeout = x.Param("timeoutSeconds");
  if (!timeout.empty() && (!ParseInt(timeout, timeout_seconds) || timeout_seconds < 0)) {
    return x.Fail(400, "BadRequest", "invalid timeoutSeconds: " + timeout);
  }
  const std::string& asked = x.record.resource_version;
  int64_t from = 0;
  if (!asked.empty() && (!ParseInt(asked, from) || from < 0)) {
    return x.Fail(400, "BadRequest", "invalid resourceVersion: " + asked);
  }
  auto stream = std::make_shared<Stream>();
  std::string error;
  stream->selector = Selector::Parse(x.record.label_selector, error);
  if (!error.empty()) return x.Fail(400, "BadRequest", error);
  stream->resource = x.record.resource;
  stream->kube_namespace = x.record.kube_namespace;
  stream->bookmarks = bookmarks;
  const Clock::time_point now = Clock::now();
  if (timeout_seconds > 0) stream->deadline = now + std::chrono::seconds(timeout_seconds);

  std::unique_lock lock(mutex_);
  // A refusal after the request was accepted: kube-apiserver's watch cache sends it as
  // an ERROR event on a 200 stream ("To match the uncached watch implementation, once
  // we have passed authn/authz/admission ... other errors must fail with a watch
  // event of type ERROR"); others answer with the status itself.
  const auto refuse = [&](int code, std::string_view reason, const std::string& message) {
    if (expired_answer_ == ExpiredWatchAnswer::kHttpStatus) {
      lock.unlock();
      x.Fail(code, reason, message);
      return false;
    }
    stream->queued = EventLine("ERROR", StatusJson(code, reason, message));
    stream->end_after_queued = true;
    return true;
  };
  if (from == 0) {
    // No resourceVersion, or "0": synthetic ADDED events of the current objects first
    // (api-concepts, "Semantics for watch").
    from = resource_version_;
    for (const auto& [key, object] : current_[IndexOf(stream->resource)]) {
      if (stream->InScope(*object)) {
        stream->queued += EventLine("ADDED", object->Render(object->resource_version));
      }
    }
  } else if (from < compacted_) {
    if (!refuse(410, "Expired", ExpiredWatchMessage(from))) return;
  } else if (from > resource_version_) {
    if (!refuse(504, "Timeout",
                "Too large resource version: " + asked +
                    ", current: " + std::to_string(resource_version_))) {
      return;
    }
  }
  stream->considered = from;
  if (bookmark_interval_.count() > 0) stream->next_bookmark = now + bookmark_interval_;
  streams_.insert(stream);
  lock.unlock();
  changed_.notify_all();

  x.status = 200;
  x.CompressAsKubeApiServer(0);  // a stream is never compressed
  x.response.set_chunked_content_provider(
      "application/json",
      [this, stream](size_t, httplib::DataSink& sink) {
        std::string lines;
        bool finish = false;
        if (!NextLines(*stream, lines, finish)) return false;
        if (!lines.empty() && !sink.write(lines.data(), lines.size())) return false;
        if (finish) sink.done();
        return true;
      },
      [this, stream](bool) {
        {
          std::lock_guard released(mutex_);
          streams_.erase(stream);
        }
        changed_.notify_all();
      });
}

void KubeApiServer::AppendPending(Stream& stream, std::string& out) {
  auto it =
      std::upper_bound(history_.begin(), history_.end(), stream.considered,
                       [](int64_t rv, const Event& event) { return rv < event.resource_version; });
  for (; it != history_.end(); ++it) {
    const Event& event = *it;
    if (event.resource != stream.resource) continue;
    const bool was = event.before && stream.InScope(*event.before);
    const bool is = event.after && stream.InScope(*event.after);
    if (is) {
      out += EventLine(was ? "MODIFIED" : "ADDED", event.after->Render(event.resource_version));
    } else if (was) {
      // The previous state at the event's resourceVersion, for a deletion and for an
      // object that stopped matching the selector (cacheWatcher.convertToWatchEvent).
      out += EventLine("DELETED", event.before->Render(event.resource_version));
    }
  }
  stream.considered = resource_version_;
}

bool KubeApiServer::NextLines(Stream& stream, std::string& out, bool& finish) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return false;
    if (stream.close) {
      finish = true;
      return true;
    }
    Clock::time_point wake = kNever;
    if (!stream.stalled) {
      out.swap(stream.queued);
      if (stream.end_after_queued) {
        finish = true;
        return true;
      }
      if (stream.considered < compacted_) {
        // It missed changes that are forgotten now: what etcd does to a watcher that
        // fell behind a compaction.
        out +=
            EventLine("ERROR", StatusJson(410, "Expired", ExpiredWatchMessage(stream.considered)));
        finish = true;
        return true;
      }
      AppendPending(stream, out);
      const Clock::time_point now = Clock::now();
      const bool deadline = now >= stream.deadline;
      // The watch cache also sends a bookmark just before a watch's deadline.
      if (stream.bookmarks && (stream.bookmark_now || deadline || now >= stream.next_bookmark)) {
        out += BookmarkLine(stream.resource, resource_version_);
        stream.bookmark_now = false;
        stream.next_bookmark = bookmark_interval_.count() > 0 ? now + bookmark_interval_ : kNever;
      }
      finish = deadline;
      if (finish || !out.empty()) return true;
      wake = std::min(stream.deadline, stream.bookmarks ? stream.next_bookmark : kNever);
    }
    if (wake == kNever) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, wake);
    }
  }
}

// --- Objects.

int64_t KubeApiServer::Put(KubeResource resource, std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  if (parser.parse(json.data(), json.size()).get(element)) {
    throw std::invalid_argument("not JSON: " + std::string(json));
  }
  return Put(resource, element);
}

int64_t KubeApiServer::Put(KubeResource resource, simdjson::dom::element object) {
  std::shared_ptr<Stored> stored = Stored::Parse(resource, object);
  const std::string key = stored->key();
  return Change(resource, std::move(stored), key);
}

int64_t KubeApiServer::Delete(KubeResource resource, std::string_view kube_namespace,
                              std::string_view name) {
  return Change(resource, nullptr, std::string(kube_namespace) + "/" + std::string(name));
}

int64_t KubeApiServer::Change(KubeResource resource, std::shared_ptr<Stored> next,
                              const std::string& key) {
  std::unique_lock lock(mutex_);
  Objects& objects = current_[IndexOf(resource)];
  const auto found = objects.find(key);
  std::shared_ptr<const Stored> before = found == objects.end() ? nullptr : found->second;
  if (!before && !next) return 0;
  if (before && next && next->SameContent(*before)) return before->resource_version;
  const int64_t rv = ++resource_version_;
  if (next) {
    next->resource_version = rv;
    objects[key] = next;
  } else {
    objects.erase(found);
  }
  history_.push_back(Event{rv, resource, key, std::move(before), std::move(next)});
  lock.unlock();
  changed_.notify_all();
  return rv;
}

int64_t KubeApiServer::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

KubeApiServer::Objects KubeApiServer::StateAt(KubeResource resource,
                                              int64_t resource_version) const {
  Objects state = compacted_state_[IndexOf(resource)];
  for (const Event& event : history_) {
    if (event.resource_version > resource_version) break;
    if (event.resource != resource) continue;
    if (event.after) {
      state[event.key] = event.after;
    } else {
      state.erase(event.key);
    }
  }
  return state;
}

void KubeApiServer::Compact(std::optional<int64_t> resource_version) {
  std::unique_lock lock(mutex_);
  const int64_t to =
      std::clamp(resource_version.value_or(resource_version_), compacted_, resource_version_);
  // Streams that keep up get what they have not sent yet before it is forgotten, as
  // etcd hands a change to its synced watchers when it is written; a stalled stream is
  // a slow watcher, and loses it.
  for (const auto& stream : streams_) {
    if (!stream->stalled && !stream->close && !stream->end_after_queued &&
        stream->considered >= compacted_) {
      AppendPending(*stream, stream->queued);
    }
  }
  while (!history_.empty() && history_.front().resource_version <= to) {
    Event& event = history_.front();
    Objects& state = compacted_state_[IndexOf(event.resource)];
    if (event.after) {
      state[event.key] = std::move(event.after);
    } else {
      state.erase(event.key);
    }
    history_.pop_front();
  }
  compacted_ = to;
  lock.unlock();
  changed_.notify_all();
}

int64_t KubeApiServer::compacted_resource_version() const {
  std::lock_guard lock(mutex_);
  return compacted_;
}

void KubeApiServer::set_expired_watch_answer(ExpiredWatchAnswer answer) {
  std::lock_guard lock(mutex_);
  expired_answer_ = answer;
}

// --- Watch streams.

void KubeApiServer::set_bookmark_interval(std::chrono::milliseconds interval) {
  {
    std::lock_guard lock(mutex_);
    bookmark_interval_ = interval;
    const Clock::time_point next = interval.count() > 0 ? Clock::now() + interval : kNever;
    for (const auto& stream : streams_) stream->next_bookmark = next;
  }
  changed_.notify_all();
}

size_t KubeApiServer::ForEachOpenStream(const std::function<bool(Stream&)>& act) {
  size_t acted = 0;
  {
    std::lock_guard lock(mutex_);
    for (const auto& stream : streams_) {
      if (!stream->close && act(*stream)) ++acted;
    }
  }
  changed_.notify_all();
  return acted;
}

size_t KubeApiServer::SendBookmarks() {
  return ForEachOpenStream([](Stream& stream) { return stream.bookmark_now = stream.bookmarks; });
}

size_t KubeApiServer::StallWatches() {
  return ForEachOpenStream([](Stream& stream) { return stream.stalled = true; });
}

size_t KubeApiServer::ResumeWatches() {
  return ForEachOpenStream([](Stream& stream) { return std::exchange(stream.stalled, false); });
}

size_t KubeApiServer::CloseWatches() {
  return ForEachOpenStream([](Stream& stream) { return stream.close = true; });
}

size_t KubeApiServer::open_watches() const {
  std::lock_guard lock(mutex_);
  return streams_.size();
}

bool KubeApiServer::WaitForOpenWatches(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return streams_.size() == count; });
}

// --- What clients asked.

void KubeApiServer::Record(const Request& request) {
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }
  changed_.notify_all();
}

void KubeApiServer::CountResponse(int status) {
  std::lock_guard lock(mutex_);
  ++responses_[status];
}

std::vector<KubeApiServer::Request> KubeApiServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

size_t KubeApiServer::CountRequests(Verb verb) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(requests_.begin(), requests_.end(),
                                           [verb](const Request& r) { return r.verb == verb; }));
}

size_t KubeApiServer::CountResponses(int status) const {
  std::lock_guard lock(mutex_);
  const auto found = responses_.find(status);
  return found == responses_.end() ? 0 : found->second;
}

std::vector<std::string> KubeApiServer::WatchResourceVersions(KubeResource resource) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> versions;
  for (const Request& request : requests_) {
    if (request.verb == Verb::kWatch && request.resource == resource) {
      versions.push_back(request.resource_version);
    }
  }
  return versions;
}

bool KubeApiServer::WaitForRequests(Verb verb, size_t count,
                                    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    return static_cast<size_t>(
               std::count_if(requests_.begin(), requests_.end(),
                             [verb](const Request& r) { return r.verb == verb; })) >= count;
  });
}

// --- Objects shaped like the fixtures.

namespace {

// Where a record sits in spec.data: its etcd key without `v1/<kind>/`.
std::string RecordPath(const std::string& key) { return key.substr(key.find('/', 3) + 1); }

std::string OneRecord(const mock::DiscoveryEntry& entry) {
  return "{" + Quoted(RecordPath(entry.key)) + ":" + entry.value + "}";
}

// A made-up uid, the same for the same name (owner references, targetRef).
std::string UidOf(std::string_view name) {
  char uid[40];
  std::snprintf(
      uid, sizeof uid, "00000000-0000-4000-8000-%012llx",
      static_cast<unsigned long long>(std::hash<std::string_view>()(name) & 0xffffffffffffULL));
  return uid;
}

// The port of the worker's TCP request plane in the fixture; nothing connects to it.
constexpr int kRequestPlanePort = 36151;

}  // namespace

std::string DynamoWorkerMetadataJson(const WorkerMetadataSpec& spec) {
  const mock::DiscoveryTarget target{spec.dynamo_namespace, spec.component, spec.endpoint};
  const auto instance = mock::InstanceEntry(target, spec.instance_id,
                                            spec.pod_ip + ":" + std::to_string(kRequestPlanePort) +
                                                "/" + Hex(spec.instance_id) + "/" + spec.endpoint,
                                            "tcp");
  mock::ModelCardFigures figures;
  figures.total_kv_blocks = spec.total_kv_blocks;
  figures.max_num_seqs = spec.max_num_seqs;
  figures.data_parallel_size = spec.data_parallel_size;
  figures.data_parallel_start_rank = spec.data_parallel_start_rank;
  const auto card = mock::ModelCardEntry(target, spec.instance_id, figures);
  std::string channels = "{}";
  if (!spec.event_channel_endpoint.empty()) {
    mock::ChannelSpec channel;
    channel.topic = mock::kKvMetricsTopic;
    channel.publisher_id =
        spec.event_publisher_id != 0 ? spec.event_publisher_id : spec.instance_id;
    channel.address = spec.event_channel_endpoint;
    channels = OneRecord(mock::EventChannelEntry(target, channel));
  }
  return R"({"apiVersion":"nvidia.com/v1alpha1","kind":"DynamoWorkerMetadata","metadata":{"name":)" +
         Quoted(spec.pod) + R"(,"namespace":)" + Quoted(spec.kube_namespace) +
         R"(,"ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":)" + Quoted(spec.pod) +
         R"(,"uid":")" + UidOf(spec.pod) +
         R"(","controller":true,"blockOwnerDeletion":false}]},"spec":{"data":{"endpoints":)" +
         OneRecord(instance) + R"(,"model_cards":)" + OneRecord(card) + R"(,"event_channels":)" +
         channels + R"(,"event_sources":{}}}})";
}

std::string EndpointSliceJson(const EndpointSliceSpec& spec) {
  std::string labels = R"("kubernetes.io/service-name":)" + Quoted(spec.service);
  if (spec.discovery_labels) {
    labels += R"(,"nvidia.com/dynamo-discovery-backend":"kubernetes",)"
              R"("nvidia.com/dynamo-discovery-enabled":"true")";
  }
  labels += R"(,"nvidia.com/dynamo-graph-deployment-name":)" + Quoted(spec.graph_deployment) +
            R"(,"nvidia.com/dynamo-component":)" + Quoted(spec.component) +
            R"(,"nvidia.com/dynamo-namespace":)" + Quoted(spec.dynamo_namespace);
  std::string endpoints;
  for (const SlicePod& pod : spec.pods) {
    if (!endpoints.empty()) endpoints.push_back(',');
    const std::string ready = pod.ready ? "true" : "false";
    endpoints += R"({"addresses":[)" + Quoted(pod.address) + R"(],"conditions":{"ready":)" + ready +
                 R"(,"serving":)" + ready +
                 R"(,"terminating":false},"targetRef":{"kind":"Pod","name":)" + Quoted(pod.name) +
                 R"(,"namespace":)" + Quoted(spec.kube_namespace) + R"(,"uid":")" +
                 UidOf(pod.name) + R"("}})";
  }
  return R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":)" +
         Quoted(spec.name) + R"(,"namespace":)" + Quoted(spec.kube_namespace) + R"(,"labels":{)" +
         labels + R"(}},"addressType":"IPv4","endpoints":[)" + endpoints + R"(],"ports":[)" +
         (spec.system_port > 0 ? R"({"name":"system","port":)" + std::to_string(spec.system_port) +
                                     R"(,"protocol":"TCP"})"
                               : std::string()) +
         "]}";
}

}  // namespace mk::testing
