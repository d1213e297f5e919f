#include "mock_worker/etcd_registration.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "etcd/rpc.grpc.pb.h"
#include "mock_worker/worker_payloads.h"

namespace mk::mock {
namespace {

using namespace std::chrono_literals;

constexpr auto kStopCallTimeout = 2000ms;
constexpr auto kMinKeepAliveInterval = 500ms;
constexpr auto kInitialBackoff = 200ms;
constexpr auto kMaxBackoff = 1000ms;
// How long the keep-alive thread waits for an endpoint to connect before trying the
// next, in slices so that Stop is not held up.
constexpr auto kConnectWait = 2000ms;
constexpr auto kConnectSlice = 250ms;

bool Transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

absl::Status ToAbsl(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      std::string(what) + ": " + status.error_message());
}

void Report(const std::string& line) {
  std::fprintf(stderr, "etcd registration: %s\n", line.c_str());
}

std::string Hex(int64_t id) { return LeaseHex(static_cast<uint64_t>(id)); }

}  // namespace

std::string EtcdTarget(std::string_view endpoint) {
  constexpr std::string_view kHttp = "http://";
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

absl::StatusOr<std::unique_ptr<EtcdRegistration>> EtcdRegistration::Create(
    EtcdRegistrationSettings settings) {
  if (settings.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoint");
  if (settings.lease_ttl_seconds < 1) {
    return absl::InvalidArgumentError("the lease TTL must be at least 1 second");
  }
  std::vector<std::string> targets;
  for (const std::string& endpoint : settings.endpoints) {
    std::string target = EtcdTarget(endpoint);
    if (target.empty()) {
      return absl::InvalidArgumentError("etcd endpoint '" + endpoint +
                                        "' is not http://host:port or host:port");
    }
    targets.push_back(std::move(target));
  }
  settings.call_timeout = std::max(settings.call_timeout, std::chrono::milliseconds(100));
  return std::unique_ptr<EtcdRegistration>(
      new EtcdRegistration(std::move(settings), std::move(targets)));
}

EtcdRegistration::EtcdRegistration(EtcdRegistrationSettings settings,
                                   std::vector<std::string> targets)
    : settings_(std::move(settings)), targets_(std::move(targets)) {
  // gRPC's own reconnection backoff (up to two minutes by default) would keep a
  // restarted etcd unused for longer than a lease lives.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  for (const std::string& target : targets_) {
    channels_.push_back(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments));
  }
}

EtcdRegistration::~EtcdRegistration() { Stop(StopMode::kAbandon).IgnoreError(); }

int64_t EtcdRegistration::granted_ttl_seconds() const {
  std::lock_guard lock(mutex_);
  return granted_ttl_;
}

template <typename Call>
absl::Status EtcdRegistration::OnAnyEndpoint(std::chrono::milliseconds timeout, bool wait_for_ready,
                                             Call call) {
  size_t first;
  {
    std::lock_guard lock(mutex_);
    first = current_;
  }
  const size_t n = channels_.size();
  const auto per_endpoint = std::max(timeout / static_cast<int>(n), std::chrono::milliseconds(100));
  grpc::Status status;
  for (size_t k = 0; k < n; ++k) {
    const size_t endpoint = (first + k) % n;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + per_endpoint);
    context.set_wait_for_ready(wait_for_ready);
    status = call(channels_[endpoint], context);
    if (status.ok() || !Transient(status.error_code())) {
      if (status.ok() && endpoint != first) {
        std::lock_guard lock(mutex_);
        current_ = endpoint;
      }
      return ToAbsl(status, "etcd at " + targets_[endpoint]);
    }
  }
  return ToAbsl(status, n == 1 ? "etcd at " + targets_[first] : std::string("every etcd endpoint"));
}

absl::StatusOr<int64_t> EtcdRegistration::GrantId(int64_t id, std::chrono::milliseconds timeout) {
  etcdserverpb::LeaseGrantResponse response;
  const absl::Status status = OnAnyEndpoint(
      timeout, true,
      [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& context) {
        etcdserverpb::LeaseGrantRequest request;
        request.set_ttl(settings_.lease_ttl_seconds);
        request.set_id(id);
        auto stub = etcdserverpb::Lease::NewStub(channel);
        return stub->LeaseGrant(&context, request, &response);
      });
  if (!status.ok()) return status;
  if (!response.error().empty()) {
    return absl::FailedPreconditionError("etcd refused the lease: " + response.error());
  }
  if (response.id() == 0) return absl::InternalError("etcd granted lease 0");
  std::lock_guard lock(mutex_);
  granted_ttl_ = response.ttl();
  return response.id();
}

absl::StatusOr<int64_t> EtcdRegistration::Grant() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return absl::FailedPreconditionError("the registration is stopped");
  }
  absl::StatusOr<int64_t> id = GrantId(0, settings_.call_timeout);
  if (!id.ok()) return id.status();
  std::lock_guard lock(mutex_);
  leases_[*id];
  if (!keepalive_.joinable()) keepalive_ = std::thread([this] { KeepAliveLoop(); });
  return id;
}

absl::Status EtcdRegistration::PutNow(int64_t lease, const std::string& key,
                                      const std::string& value, std::chrono::milliseconds timeout) {
  return OnAnyEndpoint(
      timeout, true,
      [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& context) {
        etcdserverpb::PutRequest request;
        request.set_key(key);
        request.set_value(value);
        request.set_lease(lease);
        etcdserverpb::PutResponse response;
        auto stub = etcdserverpb::KV::NewStub(channel);
        return stub->Put(&context, request, &response);
      });
}

absl::Status EtcdRegistration::Put(int64_t lease, const std::string& key,
                                   const std::string& value) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return absl::FailedPreconditionError("the registration is stopped");
    if (!leases_.contains(lease)) {
      return absl::InvalidArgumentError("lease " + Hex(lease) + " was not granted here");
    }
  }
  absl::Status status = PutNow(lease, key, value, settings_.call_timeout);
  if (!status.ok()) return status;
  std::lock_guard lock(mutex_);
  leases_[lease].emplace_back(key, value);
  return absl::OkStatus();
}

bool EtcdRegistration::Sleep(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

bool EtcdRegistration::SetActiveCall(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  if (stopping_ && context != nullptr) return false;
  active_call_ = context;
  return true;
}

void EtcdRegistration::Restore(int64_t lease) {
  absl::StatusOr<int64_t> granted = GrantId(lease, settings_.call_timeout);
  if (!granted.ok()) {
    Report("lease " + Hex(lease) +
           " expired and cannot be granted again: " + std::string(granted.status().message()));
    return;
  }
  std::vector<std::pair<std::string, std::string>> keys;
  {
    std::lock_guard lock(mutex_);
    keys = leases_[lease];
  }
  size_t restored = 0;
  for (const auto& [key, value] : keys) {
    const absl::Status status = PutNow(lease, key, value, settings_.call_timeout);
    if (!status.ok()) {
      Report("lease " + Hex(lease) + " granted again, but putting " + key +
             " back failed: " + std::string(status.message()));
      continue;
    }
    ++restored;
  }
  Report("lease " + Hex(lease) + " had expired: granted again, " + std::to_string(restored) +
         " of " + std::to_string(keys.size()) + " keys put back");
}

bool EtcdRegistration::WaitForConnection(size_t endpoint) {
  const auto give_up = std::chrono::steady_clock::now() + kConnectWait;
  while (std::chrono::steady_clock::now() < give_up) {
    if (channels_[endpoint]->WaitForConnected(std::chrono::system_clock::now() + kConnectSlice)) {
      return true;
    }
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
  }
  return false;
}

bool EtcdRegistration::KeepAliveSession(size_t endpoint, bool& failing) {
  grpc::ClientContext context;
  if (!SetActiveCall(&context)) return true;
  auto stub = etcdserverpb::Lease::NewStub(channels_[endpoint]);
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                           etcdserverpb::LeaseKeepAliveResponse>>
      stream = stub->LeaseKeepAlive(&context);
  bool stopped = false;
  while (true) {
    std::vector<int64_t> ids;
    int64_t ttl = 0;
    {
      std::lock_guard lock(mutex_);
      for (const auto& entry : leases_) ids.push_back(entry.first);
      ttl = granted_ttl_;
    }
    bool ok = true;
    for (int64_t id : ids) {
      etcdserverpb::LeaseKeepAliveRequest request;
      request.set_id(id);
      if (!stream->Write(request)) {
        ok = false;
        break;
      }
    }
    std::vector<int64_t> lost;
    for (size_t k = 0; ok && k < ids.size(); ++k) {
      etcdserverpb::LeaseKeepAliveResponse response;
      if (!stream->Read(&response)) {
        ok = false;
      } else if (response.ttl() <= 0) {
        lost.push_back(response.id());
      }
    }
    if (!ok) break;
    if (failing) {
      failing = false;
      Report("keep-alives reach etcd at " + targets_[endpoint] + " again");
    }
    for (int64_t id : lost) Restore(id);
    const auto interval = std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(ttl * 1000 / 3), kMinKeepAliveInterval);
    if (!Sleep(interval)) {
      stopped = true;
      break;
    }
  }
  SetActiveCall(nullptr);
  context.TryCancel();
  const grpc::Status status = stream->Finish();
  if (stopped) return true;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return true;  // the stream was cancelled by Stop
  }
  if (!failing) {
    failing = true;
    Report("keep-alive stream to " + targets_[endpoint] + " broke (" +
           (status.error_message().empty() ? std::string("no answer") : status.error_message()) +
           "); retrying");
  }
  return false;
}

void EtcdRegistration::KeepAliveLoop() {
  std::chrono::milliseconds backoff = kInitialBackoff;
  bool failing = false;
  while (true) {
    size_t endpoint;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      endpoint = current_;
    }
    if (WaitForConnection(endpoint)) {
      if (KeepAliveSession(endpoint, failing)) return;
    } else if (!failing) {
      failing = true;
      Report("etcd at " + targets_[endpoint] + " does not answer; retrying");
    }
    {
      std::lock_guard lock(mutex_);
      current_ = (endpoint + 1) % channels_.size();
    }
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status EtcdRegistration::Stop(StopMode mode) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    stopping_ = true;
    if (active_call_ != nullptr) active_call_->TryCancel();
  }
  wake_.notify_all();
  if (keepalive_.joinable()) keepalive_.join();
  if (mode == StopMode::kAbandon) return absl::OkStatus();

  std::map<int64_t, std::vector<std::pair<std::string, std::string>>> leases;
  {
    std::lock_guard lock(mutex_);
    leases = leases_;
  }
  for (const auto& [lease, keys] : leases) {
    for (const auto& entry : keys) {
      const std::string& key = entry.first;
      const absl::Status status = OnAnyEndpoint(
          kStopCallTimeout, false,
          [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& context) {
            etcdserverpb::DeleteRangeRequest request;
            request.set_key(key);
            etcdserverpb::DeleteRangeResponse response;
            auto stub = etcdserverpb::KV::NewStub(channel);
            return stub->DeleteRange(&context, request, &response);
          });
      if (!status.ok()) return status;
    }
  }
  for (const auto& entry : leases) {
    const int64_t lease = entry.first;
    const absl::Status status = OnAnyEndpoint(
        kStopCallTimeout, false,
        [&](const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext& context) {
          etcdserverpb::LeaseRevokeRequest request;
          request.set_id(lease);
          etcdserverpb::LeaseRevokeResponse response;
          auto stub = etcdserverpb::Lease::NewStub(channel);
          return stub->LeaseRevoke(&context, request, &response);
        });
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace mk::mock
