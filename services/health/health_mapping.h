#ifndef CS_SERVICES_HEALTH_HEALTH_MAPPING_H_
#define CS_SERVICES_HEALTH_HEALTH_MAPPING_H_

// cs.health.v1 <-> domain values for signals, scorecards, scores, overrides and
// alerts (accounts and events are in proto_mapping.h). Unknown enum numbers are
// INVALID_ARGUMENT naming the field.

#include <google/protobuf/timestamp.pb.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cs/health/v1/health.pb.h"
#include "services/health/health.h"
#include "services/health/health_repository.h"

namespace cs::health {

// Timestamps. A required one that is unset is INVALID_ARGUMENT ("<field>: must be set").
absl::StatusOr<absl::Time> RequiredTimeFromProto(absl::string_view field, bool present,
                                                 const google::protobuf::Timestamp& ts);
std::optional<absl::Time> OptionalTimeFromProto(bool present,
                                                const google::protobuf::Timestamp& ts);

// Ingest. A signal kind this build does not know is passed on as its number: the
// service rejects that record on its own ("signals[3].kind: ..."), so one bad
// record does not refuse a batch that is not atomic.
std::vector<Signal> SignalsFromProto(const cs::health::v1::RecordSignalsRequest& p);
// Record i of the request as JSON, for the dead-letter list; the request must
// outlive the printer.
RecordPrinter SignalPrinter(const cs::health::v1::RecordSignalsRequest& p);
RecordPrinter TrackEventPrinter(const cs::health::v1::TrackEventsRequest& p);
Signal SignalFromProto(const cs::health::v1::Signal& p);
// Struct properties: numbers, strings and booleans; nulls, lists and structs are skipped.
TrackEvent TrackEventFromProto(const cs::health::v1::TrackEvent& p);
std::vector<TrackEvent> TrackEventsFromProto(const cs::health::v1::TrackEventsRequest& p);

// RecordSignals and TrackEvents answer in the same shape; stored answers of both
// use RecordSignalsResponse.
// A call's answer takes the acks' strings instead of copying them.
void MoveIngestResultToProto(IngestResult&& r, cs::health::v1::RecordSignalsResponse* out);
void MoveIngestResultToProto(IngestResult&& r, cs::health::v1::TrackEventsResponse* out);
absl::StatusOr<IngestResult> IngestResultFromProto(const cs::health::v1::RecordSignalsResponse& p);
// The answer as stored for a retry: the counts, and the acks of the records not
// accepted (duplicates, rejections) without their event ids, which the retry (the same
// request, by its fingerprint) carries again; HealthService puts the ids back, and
// IngestResultFromProto the acks of the accepted records. 500 accepted signals store
// a few bytes instead of 3.5 KB of acks; answers stored with every ack still read.
void IngestResultToStored(const IngestResult& r, cs::health::v1::RecordSignalsResponse* out);

void EventMappingToProto(const EventMapping& m, cs::health::v1::EventMapping* out);
absl::StatusOr<EventMapping> EventMappingFromProto(const cs::health::v1::EventMapping& p);

absl::StatusOr<RejectedQuery> RejectedQueryFromProto(
    const cs::health::v1::ListRejectedRecordsRequest& p);
void RejectedRecordToProto(const RejectedRecord& r, cs::health::v1::RejectedRecord* out);
void RejectedPageToProto(const RejectedPage& page,
                         cs::health::v1::ListRejectedRecordsResponse* out);

// Scorecards, both ways, including version and updated_at. Unset bands keep the
// defaults (75 / 60); an empty score_name keeps "health".
void ScorecardToProto(const Scorecard& s, cs::health::v1::Scorecard* out);
absl::StatusOr<Scorecard> ScorecardFromProto(const cs::health::v1::Scorecard& p);

// Scores.
void HealthToProto(const HealthView& view, cs::health::v1::Health* out);
void HealthPointToProto(const HealthPoint& point, cs::health::v1::HealthPoint* out);
void ExplainResultToProto(const ExplainResult& r, cs::health::v1::ExplainChangeResponse* out);
absl::StatusOr<AtRiskQuery> AtRiskQueryFromProto(const cs::health::v1::ListAtRiskRequest& p);
void AtRiskPageToProto(const AtRiskPage& page, cs::health::v1::ListAtRiskResponse* out);
void PortfolioSummaryToProto(const PortfolioSummary& s,
                             cs::health::v1::GetPortfolioSummaryResponse* out);
void BandDistributionToProto(const BandDistribution& d, cs::health::v1::BandDistribution* out);

void OverrideToProto(const Override& o, cs::health::v1::Override* out);
Override OverrideFromProto(const cs::health::v1::Override& p);

// Alerts.
void AlertToProto(const Alert& a, cs::health::v1::Alert* out);
absl::StatusOr<AlertQuery> AlertQueryFromProto(const cs::health::v1::ListAlertsRequest& p);
void AlertPageToProto(const AlertPage& page, cs::health::v1::ListAlertsResponse* out);
void AlertSettingsToProto(const AlertSettings& s, cs::health::v1::AlertSettings* out);
// A zero field means "keep the default" (period_days 30, usage_decline_pct 20,
// engagement_drop_pct 30, ticket_increase_pct 50, communication_drop_pct 50,
// score_threshold 50, min_baseline 5): proto3 cannot tell an unset number from 0,
// and a client that sets one threshold should not zero the others. The price:
// a score_threshold or min_baseline of exactly 0 cannot be set.
AlertSettings AlertSettingsFromProto(const cs::health::v1::AlertSettings& p);

void ScoreChangeToProto(const ScoreChange& c, cs::health::v1::ScoreChange* out);
absl::StatusOr<ScoreChange> ScoreChangeFromProto(const cs::health::v1::ScoreChange& p);

// Event payloads (serialized protos, like EncodeAccountEvent): SCORE_CHANGED and
// BAND_CHANGED carry a cs.health.v1.ScoreChange, ALERT_OPENED and ALERT_RESOLVED a
// cs.health.v1.Alert.
std::string EncodeScoreChangeEvent(const ScoreChange& c);
std::string EncodeAlertEvent(const Alert& a);
// EXPANSION_SIGNAL carries a cs.health.v1.ExpansionSignal.
std::string EncodeExpansionSignalEvent(const ExpansionSignalEvent& e);
HealthEventEncoders HealthEncoders();

// Backtests and churn models. Undefined figures (NaN: an AUC with one class, a
// churn rate of an empty band) become absent optional fields, never a number.
absl::StatusOr<BacktestQuery> BacktestQueryFromProto(
    const cs::health::v1::BacktestScorecardRequest& p);
void BacktestResultToProto(const BacktestResult& r,
                           cs::health::v1::BacktestScorecardResponse* out);
absl::StatusOr<TrainChurnRequest> TrainChurnRequestFromProto(
    const cs::health::v1::TrainChurnModelRequest& p);
// The wire form carries no standardisation (means, scales): reading one back
// gives the metadata and coefficients, which is what a stored answer needs.
void ChurnModelToProto(const StoredChurnModel& m, cs::health::v1::ChurnModel* out);
absl::StatusOr<StoredChurnModel> ChurnModelFromProto(const cs::health::v1::ChurnModel& p);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_HEALTH_MAPPING_H_
