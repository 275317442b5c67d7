#include "services/health/event_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/enum_names.h"
#include "common/status.h"

namespace cs::health {
namespace {

constexpr EnumNames<EventKind, 10> kEventKinds({{
    {EventKind::kUnspecified, "UNSPECIFIED"},
    {EventKind::kAccountUpserted, "ACCOUNT_UPSERTED"},
    {EventKind::kScoreChanged, "SCORE_CHANGED"},
    {EventKind::kBandChanged, "BAND_CHANGED"},
    {EventKind::kAlertOpened, "ALERT_OPENED"},
    {EventKind::kAlertResolved, "ALERT_RESOLVED"},
    {EventKind::kAccountChurned, "ACCOUNT_CHURNED"},
    {EventKind::kExpansionSignal, "EXPANSION_SIGNAL"},
    {EventKind::kFirstValueReached, "FIRST_VALUE_REACHED"},
    {EventKind::kNpsRecorded, "NPS_RECORDED"},
}});

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

absl::string_view EventKindName(EventKind kind) { return kEventKinds.Name(kind); }
std::optional<EventKind> EventKindFromName(absl::string_view name) {
  return kEventKinds.Parse(name);
}

absl::StatusOr<EventPage> EventService::ListEvents(int64_t after_sequence, int page_size) {
  if (after_sequence < 0) {
    return absl::InvalidArgumentError("after_sequence: must not be negative");
  }
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be in 0-", kMaxPageSize));
  }
  EventPage page;
  // Read the head first: every event up to it is committed, so a client that
  // stops at last_sequence has seen everything up to there.
  ASSIGN_OR_RETURN(page.last_sequence, repository_->LastSequence());
  ASSIGN_OR_RETURN(page.events,
                   repository_->After(after_sequence, page_size == 0 ? kDefaultPageSize : page_size));
  return page;
}

absl::Status EventService::Watch(int64_t after_sequence, absl::Duration heartbeat,
                                 const WatchSink& sink) {
  if (after_sequence < 0) {
    return absl::InvalidArgumentError("after_sequence: must not be negative");
  }
  if (heartbeat < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("heartbeat_interval: must not be negative");
  }
  if (heartbeat == absl::ZeroDuration()) heartbeat = options_.default_heartbeat;
  if (heartbeat < options_.min_heartbeat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "heartbeat_interval: must be at least ", absl::FormatDuration(options_.min_heartbeat)));
  }
  int64_t cursor = after_sequence;
  absl::Time last_sent = absl::Now();
  int consecutive_failures = 0;
  while (!stopping_.load()) {
    absl::StatusOr<std::vector<Event>> batch = repository_->After(cursor, options_.batch);
    if (!batch.ok()) {
      // A short database outage should not end every consumer's stream.
      if (++consecutive_failures >= 50) return batch.status();
      absl::SleepFor(options_.poll_interval);
      continue;
    }
    consecutive_failures = 0;
    for (const Event& e : *batch) {
      if (!sink.event(e)) return absl::OkStatus();
      cursor = e.sequence;
      last_sent = absl::Now();
    }
    if (static_cast<int>(batch->size()) == options_.batch) continue;  // more waiting
    if (absl::Now() - last_sent >= heartbeat) {
      if (!sink.heartbeat(cursor, absl::Now())) return absl::OkStatus();
      last_sent = absl::Now();
    }
    absl::SleepFor(options_.poll_interval);
  }
  return absl::UnavailableError("server shutting down; resume from the last sequence received");
}

}  // namespace cs::health
