#include "nats/stats_scraper.h"

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fleet/pending_units.h"

namespace mk::nats {
namespace {

using Clock = std::chrono::steady_clock;

// A round's replies are queued on the subscription until read; a 10,000-worker
// fleet must fit.
constexpr int kPendingMessages = 1 << 20;
constexpr int kPendingBytes = 1 << 30;

}  // namespace

StatsScraper::StatsScraper(NatsConnection& connection, const fleet::Target& target,
                           bool legacy_broadcast, size_t max_message_bytes)
    : connection_(connection),
      request_subject_(legacy_broadcast
                           ? std::string("$SRV.STATS")
                           : "$SRV.STATS." +
                                 dynamo::ServiceName(target.dynamo_namespace, target.component)),
      decoder_(dynamo::EndpointMatcher(target.dynamo_namespace, target.component, target.endpoint,
                                       legacy_broadcast),
               target.endpoint == dynamo::kLoadMetricsEndpoint
                   ? std::nullopt
                   : std::optional(
                         dynamo::EndpointMatcher(target.dynamo_namespace, target.component,
                                                 dynamo::kLoadMetricsEndpoint, legacy_broadcast))),
      max_message_bytes_(max_message_bytes) {}

StatsScraper::~StatsScraper() {
  if (subscription_ != nullptr) {
    natsSubscription_Unsubscribe(subscription_);
    natsSubscription_Destroy(subscription_);
  }
}

absl::Status StatsScraper::Subscribe() {
  natsInbox* inbox = nullptr;
  if (natsStatus s = natsInbox_Create(&inbox); s != NATS_OK) {
    return absl::UnavailableError(absl::StrCat("creating an inbox: ", natsStatus_GetText(s)));
  }
  inbox_ = inbox;
  natsInbox_Destroy(inbox);
  const std::string wildcard = inbox_ + ".*";
  natsStatus s = natsConnection_SubscribeSync(&subscription_, connection_.raw(), wildcard.c_str());
  if (s == NATS_OK)
    s = natsSubscription_SetPendingLimits(subscription_, kPendingMessages, kPendingBytes);
  if (s != NATS_OK) {
    if (subscription_ != nullptr) natsSubscription_Destroy(subscription_);
    subscription_ = nullptr;
    return absl::UnavailableError(
        absl::StrCat("subscribing to ", wildcard, ": ", natsStatus_GetText(s)));
  }
  return absl::OkStatus();
}

absl::StatusOr<fleet::ScrapeResult> StatsScraper::Scrape(const fleet::ScrapeRequest& request) {
  if (!connection_.connected()) return absl::UnavailableError("NATS is not connected");
  if (subscription_ == nullptr) {
    if (absl::Status status = Subscribe(); !status.ok()) return status;
  }
  const uint64_t disconnects = connection_.disconnects();
  const std::string reply_subject = absl::StrCat(inbox_, ".", ++round_);
  if (natsStatus s = natsConnection_PublishRequest(connection_.raw(), request_subject_.c_str(),
                                                   reply_subject.c_str(), nullptr, 0);
      s != NATS_OK) {
    return absl::UnavailableError(
        absl::StrCat("publishing to ", request_subject_, ": ", natsStatus_GetText(s)));
  }

  fleet::ScrapeResult result;
  fleet::PendingUnits pending(request.expected_units);
  bool all_replied = false;
  const auto deadline = Clock::now() + request.window;
  while (true) {
    const auto remaining =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (remaining <= 0) break;
    natsMsg* message = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&message, subscription_, remaining);
    if (s == NATS_TIMEOUT) break;
    // The server says nobody subscribes to the request subject: no workers now.
    if (s == NATS_NO_RESPONDERS) break;
    // Replies beyond the pending limits were lost; the rest still count.
    if (s == NATS_SLOW_CONSUMER) continue;
    if (s != NATS_OK) {
      return absl::UnavailableError(std::string("reading replies: ") + natsStatus_GetText(s));
    }
    if (reply_subject == natsMsg_GetSubject(message) &&
        static_cast<size_t>(natsMsg_GetDataLength(message)) > max_message_bytes_) {
      ++result.replies;
      result.drops.Add(dynamo::DropReason::kOversized);
    } else if (reply_subject == natsMsg_GetSubject(message)) {
      ++result.replies;
      dynamo::DecodedReply reply = decoder_.Decode(
          std::string_view(natsMsg_GetData(message), natsMsg_GetDataLength(message)));
      result.drops.Merge(reply.drops);
      result.ignored.Merge(reply.ignored);
      for (const dynamo::WorkerLoad& unit : reply.units) pending.Heard(unit.key);
      for (const dynamo::UnreadableReport& report : reply.unreadable) pending.Heard(report.key);
      result.units.insert(result.units.end(), reply.units.begin(), reply.units.end());
      result.unreadable.insert(result.unreadable.end(), reply.unreadable.begin(),
                               reply.unreadable.end());
    }
    natsMsg_Destroy(message);
    if (!all_replied && pending.AllReplied()) {
      all_replied = true;
      if (!request.wait_whole_window) {
        result.ended_early = true;
        break;
      }
      if (request.on_expected_replied) request.on_expected_replied(result);
    }
  }
  if (!connection_.connected() || connection_.disconnects() != disconnects) {
    return absl::UnavailableError("NATS connection lost during the scrape");
  }
  return result;
}

fleet::ScraperFactory StatsScraperFactory(NatsConnection& connection, bool legacy_broadcast,
                                          size_t max_message_bytes) {
  return [&connection, legacy_broadcast, max_message_bytes](const fleet::Target& target) {
    return std::make_unique<StatsScraper>(connection, target, legacy_broadcast, max_message_bytes);
  };
}

}  // namespace mk::nats
