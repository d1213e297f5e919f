#include "discovery/etcd_watch.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "etcd/rpc.grpc.pb.h"

namespace mk::discovery {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kListPageSize = 200;
constexpr int kMaxMessageBytes = 64 << 20;
constexpr auto kCallDeadline = 10s;

// host:port out of http://host:port, https://host:port or host:port; empty when it is
// none of them. `https` tells which scheme it had.
std::string TargetOf(std::string_view endpoint, bool& https) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  https = endpoint.starts_with(kHttps);
  if (https) endpoint.remove_prefix(kHttps.size());
  if (endpoint.starts_with(kHttp)) endpoint.remove_prefix(kHttp.size());
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  const size_t colon = endpoint.rfind(':');
  if (endpoint.empty() || colon == std::string_view::npos || colon == 0 ||
      colon + 1 == endpoint.size() || endpoint.find_first_of("/@?# ") != std::string_view::npos) {
    return "";
  }
  for (char c : endpoint.substr(colon + 1)) {
    if (c < '0' || c > '9') return "";
  }
  return std::string(endpoint);
}

// A PEM given inline (it starts with "-----BEGIN"), or read from the file it names.
absl::StatusOr<std::string> ReadPem(const std::string& value, std::string_view what) {
  if (value.starts_with("-----BEGIN")) return value;
  std::ifstream in(value, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) pem.clear();
  if (pem.empty()) {
    return absl::InvalidArgumentError(std::string(what) + ": cannot read " + value);
  }
  return pem;
}

}  // namespace

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdWatch::Start(EtcdWatchSettings settings,
                                                            Callbacks callbacks) {
  if (settings.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint");
  std::vector<std::string> targets;
  bool any_https = false, any_http = false;
  for (const std::string& endpoint : settings.endpoints) {
    bool https = false;
    std::string target = TargetOf(endpoint, https);
    // The endpoint is not echoed: it may carry credentials.
    if (target.empty()) {
      return absl::InvalidArgumentError(
          "an etcd endpoint is not http://host:port, https://host:port or host:port "
          "(credentials in the URL are not supported)");
    }
    (https ? any_https : any_http) = true;
    targets.push_back(std::move(target));
  }
  const bool tls_files =
      !settings.tls_ca.empty() || !settings.tls_cert.empty() || !settings.tls_key.empty();
  if (any_https && any_http) {
    return absl::InvalidArgumentError("etcd endpoints mix http:// and https://");
  }
  if (settings.tls_cert.empty() != settings.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "an etcd client certificate needs its key, and a key its "
        "certificate");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (any_https || tls_files) {
    grpc::SslCredentialsOptions tls;  // no CA given: the system's roots
    for (auto [value, out, what] :
         {std::tuple{&settings.tls_ca, &tls.pem_root_certs, "etcd CA"},
          std::tuple{&settings.tls_cert, &tls.pem_cert_chain, "etcd client certificate"},
          std::tuple{&settings.tls_key, &tls.pem_private_key, "etcd client key"}}) {
      if (value->empty()) continue;
      absl::StatusOr<std::string> pem = ReadPem(*value, what);
      if (!pem.ok()) return pem.status();
      *out = std::move(*pem);
    }
    credentials = grpc::SslCredentials(tls);
  }
  if (settings.initial_backoff <= 0ms) settings.initial_backoff = 1ms;
  settings.max_backoff = std::max(settings.max_backoff, settings.initial_backoff);
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch(std::move(settings), std::move(callbacks),
                                                 std::move(targets), std::move(credentials)));
  watch->thread_ = std::thread([raw = watch.get()] { raw->Run(); });
  return watch;
}

EtcdWatch::EtcdWatch(EtcdWatchSettings settings, Callbacks callbacks,
                     std::vector<std::string> targets,
                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : settings_(std::move(settings)),
      callbacks_(std::move(callbacks)),
      targets_(std::move(targets)),
      credentials_(std::move(credentials)) {}

EtcdWatch::~EtcdWatch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (active_call_ != nullptr) active_call_->TryCancel();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool EtcdWatch::SetActiveCall(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  if (stopping_ && context != nullptr) return false;
  active_call_ = context;
  return true;
}

bool EtcdWatch::Sleep(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

void EtcdWatch::SetConnected(bool connected) {
  if (connected_.exchange(connected) == connected) return;
  if (callbacks_.on_state_change) callbacks_.on_state_change(connected);
}

void EtcdWatch::Tell(const EtcdChange& change) {
  if (change.type == EtcdChange::Type::kPut) {
    known_[change.key] = Known{change.revision, change.lease};
  } else {
    known_.erase(change.key);
  }
  if (callbacks_.on_change) callbacks_.on_change(change);
}

void EtcdWatch::Run() {
  std::chrono::milliseconds delay = settings_.initial_backoff;
  size_t attempt = 0;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    const std::string& target = targets_[attempt++ % targets_.size()];
    const bool opened = Session(target);
    SetConnected(false);
    if (opened) {
      ++reconnects_;
      delay = settings_.initial_backoff;
    }
    // A compacted revision is listed again at once, from the same endpoint.
    if (opened && need_list_) {
      --attempt;
      continue;
    }
    if (!Sleep(delay)) break;
    if (!opened) delay = std::min(delay * 2, settings_.max_backoff);
  }
  SetConnected(false);
}

bool EtcdWatch::Session(const std::string& target) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  const std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(target, credentials_, arguments);

  std::string token;
  auto prepare = [&](grpc::ClientContext& context, bool deadline) {
    if (deadline) context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    if (!token.empty()) context.AddMetadata("token", token);
    return SetActiveCall(&context);
  };

  if (!settings_.user.empty()) {
    const auto auth = etcdserverpb::Auth::NewStub(channel);
    etcdserverpb::AuthenticateRequest request;
    request.set_name(settings_.user);
    request.set_password(settings_.password);
    etcdserverpb::AuthenticateResponse response;
    grpc::ClientContext context;
    if (!prepare(context, true)) return false;
    const grpc::Status status = auth->Authenticate(&context, request, &response);
    SetActiveCall(nullptr);
    if (!status.ok()) {
      spdlog::warn("etcd {}: authentication as {} failed: {}", target, settings_.user,
                   status.error_message());
      return false;
    }
    token = response.token();
  }

  const std::string range_start =
      settings_.prefix.empty() ? std::string(1, '\0') : settings_.prefix;
  const std::string range_end = PrefixRangeEnd(settings_.prefix);

  if (need_list_) {
    // Page through the prefix at one revision.
    const auto kv = etcdserverpb::KV::NewStub(channel);
    // Each page is told as it comes, so that a listing of thousands of keys never
    // holds every value twice (here and in what the changes feed); only the keys are
    // kept, to find those gone once every page has been read.
    std::set<std::string> listed;
    int64_t listed_revision = 0;
    std::string from = range_start;
    while (true) {
      etcdserverpb::RangeRequest request;
      request.set_key(from);
      request.set_range_end(range_end);
      request.set_limit(kListPageSize);
      request.set_revision(listed_revision);
      etcdserverpb::RangeResponse response;
      grpc::ClientContext context;
      if (!prepare(context, true)) return false;
      const grpc::Status status = kv->Range(&context, request, &response);
      SetActiveCall(nullptr);
      if (!status.ok()) {
        spdlog::warn("etcd {}: listing {} failed: {}", target, settings_.prefix,
                     status.error_message());
        return false;
      }
      if (listed_revision == 0) listed_revision = response.header().revision();
      for (const mvccpb::KeyValue& kv_pair : response.kvs()) {
        listed.insert(kv_pair.key());
        const auto known = known_.find(kv_pair.key());
        if (known != known_.end() && known->second.mod_revision == kv_pair.mod_revision()) continue;
        Tell(EtcdChange{EtcdChange::Type::kPut, kv_pair.key(), kv_pair.value(), kv_pair.lease(),
                        kv_pair.mod_revision()});
      }
      if (!response.more() || response.kvs().empty()) break;
      from = response.kvs(response.kvs_size() - 1).key() + std::string(1, '\0');
    }
    // Keys told before that the listing no longer has.
    std::vector<std::string> gone;
    for (const auto& [key, known] : known_) {
      if (!listed.contains(key)) gone.push_back(key);
    }
    for (const std::string& key : gone) {
      Tell(EtcdChange{EtcdChange::Type::kDelete, key, "", known_[key].lease, listed_revision});
    }
    revision_ = listed_revision;
    need_list_ = false;
    ++lists_;
  }

  const auto watch = etcdserverpb::Watch::NewStub(channel);
  grpc::ClientContext context;
  if (!prepare(context, false)) return false;
  auto stream = watch->Watch(&context);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest& create = *request.mutable_create_request();
  create.set_key(range_start);
  create.set_range_end(range_end);
  create.set_start_revision(revision_ + 1);
  create.set_progress_notify(true);
  bool opened = false;
  if (stream->Write(request)) {
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.compact_revision() != 0) {
        spdlog::warn("etcd {}: revision {} of {} was compacted (oldest kept {}): listing again",
                     target, revision_.load() + 1, settings_.prefix, response.compact_revision());
        need_list_ = true;
        break;
      }
      if (response.canceled()) {
        spdlog::warn("etcd {}: the watch of {} was canceled: {}", target, settings_.prefix,
                     response.cancel_reason());
        break;
      }
      if (response.created()) {
        opened = true;
        SetConnected(true);
      }
      int64_t newest = revision_;
      for (const mvccpb::Event& event : response.events()) {
        const mvccpb::KeyValue& kv_pair = event.kv();
        EtcdChange change;
        change.key = kv_pair.key();
        change.revision = kv_pair.mod_revision();
        newest = std::max(newest, change.revision);
        if (event.type() == mvccpb::Event::DELETE) {
          change.type = EtcdChange::Type::kDelete;
          const auto known = known_.find(change.key);
          if (known == known_.end()) continue;  // never told: nothing to take back
          change.lease = known->second.lease;
        } else {
          change.type = EtcdChange::Type::kPut;
          change.value = kv_pair.value();
          change.lease = kv_pair.lease();
        }
        Tell(change);
      }
      // A progress notification (no events) says every change up to its revision is told.
      if (response.events().empty() && !response.created()) {
        newest = std::max(newest, response.header().revision());
      }
      revision_ = newest;
    }
  }
  context.TryCancel();
  const grpc::Status status = stream->Finish();
  SetActiveCall(nullptr);
  if (!need_list_ && !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::warn("etcd {}: the watch of {} broke: {}", target, settings_.prefix,
                 status.error_message());
  }
  return opened;
}

}  // namespace mk::discovery
