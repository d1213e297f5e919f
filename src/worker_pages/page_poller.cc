#include "worker_pages/page_poller.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <iterator>
#include <map>

#include "absl/status/status.h"

namespace mk::worker_pages {
namespace {

using Clock = std::chrono::steady_clock;

struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

}  // namespace

std::vector<dynamo::WorkerLoad> CompleteFromCard(const dynamo::WorkerPage& page,
                                                 const fleet::Registration& registration) {
  std::vector<dynamo::WorkerLoad> loads;
  loads.reserve(page.units.size());
  for (const dynamo::WorkerGaugeUnit& unit : page.units) {
    dynamo::WorkerLoad load = unit.load;
    const uint64_t card_blocks = registration.total_kv_blocks.value_or(0);
    if (load.kv_total_blocks == 0 && load.gpu_cache_usage_perc && card_blocks > 0) {
      load.kv_total_blocks = card_blocks;
      load.kv_active_blocks = static_cast<uint64_t>(
          std::llround(*load.gpu_cache_usage_perc * static_cast<double>(card_blocks)));
    }
    if (unit.running && registration.max_num_seqs.value_or(0) > 0) {
      load.request_total_slots = *registration.max_num_seqs;
    }
    loads.push_back(std::move(load));
  }
  return loads;
}

// One page to read, and what came of it. The body is read into figures as soon as
// it has come, so that a poll holds at most `parallel` bodies at once.
struct WorkerPagePoller::Fetch {
  std::shared_ptr<fleet::Collector> collector;
  fleet::Registration registration;
  std::string url;
  std::string body;  // while it comes
  size_t max_bytes = 0;
  bool overflow = false;
  bool read = false;  // answered 200 with a whole body
  std::string error;
  // The page's figures, once read.
  std::vector<dynamo::WorkerLoad> loads;
  std::vector<dynamo::UnreadableReport> unreadable;
  dynamo::DropCounts drops;
};

absl::StatusOr<std::unique_ptr<WorkerPagePoller>> WorkerPagePoller::Start(
    fleet::TargetRegistry& targets, RegistrationsOf registrations, PagePollerSettings settings) {
  // Once per process, before any handle (the Kubernetes client may have done it).
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return absl::InternalError(curl_easy_strerror(init));
  std::unique_ptr<WorkerPagePoller> poller(
      new WorkerPagePoller(targets, std::move(registrations), settings));
  poller->thread_ = std::thread([self = poller.get()] { self->Run(); });
  return poller;
}

WorkerPagePoller::WorkerPagePoller(fleet::TargetRegistry& targets, RegistrationsOf registrations,
                                   PagePollerSettings settings)
    : targets_(targets), registrations_(std::move(registrations)), settings_(settings) {}

WorkerPagePoller::~WorkerPagePoller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  abort_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

PagePollerStats WorkerPagePoller::Stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void WorkerPagePoller::Run() {
  auto next = Clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    next = Clock::now() + settings_.interval;
    lock.unlock();
    PollOnce();
    lock.lock();
  }
}

void WorkerPagePoller::PollOnce() {
  std::vector<Fetch> fetches;
  std::vector<std::shared_ptr<fleet::Collector>> polled;
  const fleet::TargetRegistry::Collectors collectors = targets_.Current();
  for (const std::shared_ptr<fleet::Collector>& collector : *collectors) {
    std::optional<std::vector<fleet::Registration>> registrations =
        registrations_(collector->target());
    if (!registrations) continue;  // discovery has not listed yet
    polled.push_back(collector);
    for (fleet::Registration& registration : *registrations) {
      if (registration.host.empty()) continue;
      // An IPv6 pod address needs brackets in a URL.
      const std::string host = registration.host.find(':') != std::string::npos
                                   ? "[" + registration.host + "]"
                                   : registration.host;
      Fetch& fetch = fetches.emplace_back();
      fetch.collector = collector;
      fetch.url = "http://" + host + ":" +
                  std::to_string(registration.metrics_port.value_or(settings_.port)) + "/metrics";
      fetch.max_bytes = settings_.max_page_bytes;
      fetch.registration = std::move(registration);
    }
  }
  FetchAll(fetches);
  if (abort_) return;

  PagePollerStats poll;
  // Per collector, the units of its pages, then one record and publish each.
  struct Heard {
    std::vector<dynamo::WorkerLoad> loads;
    std::vector<dynamo::UnreadableReport> unreadable;
    size_t pages = 0;  // asked for
    size_t read = 0;   // answered
  };
  std::map<fleet::Collector*, Heard> heard;
  for (const std::shared_ptr<fleet::Collector>& collector : polled) heard[collector.get()];
  for (Fetch& fetch : fetches) {
    Heard& into = heard[fetch.collector.get()];
    ++into.pages;
    if (!fetch.read) {
      ++poll.pages_failed;
      spdlog::debug("worker page {}: {}", fetch.url, fetch.error);
      continue;
    }
    ++into.read;
    ++poll.pages_read;
    poll.drops.Merge(fetch.drops);
    std::move(fetch.loads.begin(), fetch.loads.end(), std::back_inserter(into.loads));
    into.unreadable.insert(into.unreadable.end(), fetch.unreadable.begin(), fetch.unreadable.end());
  }
  // A poll that reached no page of a target that has some is not recorded: its
  // units age out rather than read as heard.
  for (const std::shared_ptr<fleet::Collector>& collector : polled) {
    Heard& of = heard[collector.get()];
    if (of.pages > 0 && of.read == 0) continue;
    collector->RecordWorkerPages(of.loads, of.unreadable);
    collector->Publish();
  }
  const bool connected = fetches.empty() || poll.pages_read > 0;
  {
    std::lock_guard lock(mutex_);
    ++stats_.polls;
    stats_.pages_read += poll.pages_read;
    stats_.pages_failed += poll.pages_failed;
    stats_.drops.Merge(poll.drops);
    stats_.connected = connected;
  }
  if (settings_.on_poll) settings_.on_poll(connected);
}

void WorkerPagePoller::FetchAll(std::vector<Fetch>& fetches) {
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!multi) {
    for (Fetch& fetch : fetches) fetch.error = "libcurl: no multi handle";
    return;
  }
  std::vector<std::unique_ptr<CURL, EasyDeleter>> easies(fetches.size());
  size_t next = 0;
  size_t active = 0;  // added and not done
  auto add = [&](size_t i) {
    Fetch& fetch = fetches[i];
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      fetch.error = "libcurl: no handle";
      return;
    }
    easies[i].reset(easy);
    curl_easy_setopt(easy, CURLOPT_URL, fetch.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &fetch);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
    // Pods are reached directly, never through an http_proxy of the environment.
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &fetch);
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION,
        +[](char* data, size_t size, size_t count, void* self) -> size_t {
          Fetch& into = *static_cast<Fetch*>(self);
          if (into.body.size() + size * count > into.max_bytes) {
            into.overflow = true;
            return 0;
          }
          into.body.append(data, size * count);
          return size * count;
        });
    if (curl_multi_add_handle(multi.get(), easy) == CURLM_OK) {
      ++active;
    } else {
      fetch.error = "libcurl: cannot add a transfer";
      easies[i].reset();
    }
  };
  while (next < fetches.size() && active < settings_.parallel) add(next++);
  while (active > 0 && !abort_) {
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      char* private_data = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &private_data);
      Fetch& fetch = *reinterpret_cast<Fetch*>(private_data);
      long status = 0;
      curl_easy_getinfo(message->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      if (fetch.overflow) {
        fetch.error = "a page larger than " + std::to_string(fetch.max_bytes) + " bytes";
      } else if (message->data.result != CURLE_OK) {
        fetch.error = curl_easy_strerror(message->data.result);
      } else if (status != 200) {
        fetch.error = "HTTP " + std::to_string(status);
      } else {
        fetch.read = true;
        const dynamo::WorkerPage page = reader_.Read(fetch.body, fetch.registration.instance_id);
        fetch.loads = CompleteFromCard(page, fetch.registration);
        fetch.unreadable = page.unreadable;
        fetch.drops = page.drops;
      }
      fetch.body = std::string();  // its memory too
      const size_t index = static_cast<size_t>(&fetch - fetches.data());
      curl_multi_remove_handle(multi.get(), message->easy_handle);
      easies[index].reset();
      --active;
    }
    while (next < fetches.size() && active < settings_.parallel) add(next++);
    // Waits for sockets at most 100 ms, so that a stop is seen promptly.
    if (active > 0) curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
  }
  // Stopped: transfers still attached are removed before their handles go.
  for (auto& easy : easies) {
    if (easy) curl_multi_remove_handle(multi.get(), easy.get());
  }
}

}  // namespace mk::worker_pages
