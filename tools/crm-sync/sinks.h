#ifndef CS_TOOLS_CRM_SYNC_SINKS_H_
#define CS_TOOLS_CRM_SYNC_SINKS_H_

// Sinks that send converted rows to the services through the client library, and
// the exports back to CSV.

#include <memory>
#include <ostream>
#include <string>

#include "client/client.h"
#include "cs/expansion/v1/expansion.grpc.pb.h"
#include "cs/health/v1/health.grpc.pb.h"
#include "tools/crm-sync/importer.h"

namespace cs::crm_sync {

using HealthClient = client::ServiceClient<cs::health::v1::AccountHealthService>;
using ExpansionClient = client::ServiceClient<cs::expansion::v1::ExpansionService>;

// True for the codes that refuse one request (the row fails, the run goes on);
// false for the ones that mean the run cannot go on (unavailable, not allowed, ...).
bool IsRowLevel(const absl::Status& status);

// `parallel` upserts in flight at once (rows of one account stay in order).
std::unique_ptr<Sink> MakeAccountSink(HealthClient* health, int parallel);
std::unique_ptr<Sink> MakeSignalSink(HealthClient* health);
std::unique_ptr<Sink> MakeTrackSink(HealthClient* health);
std::unique_ptr<Sink> MakeOpportunitySink(ExpansionClient* expansion);
// Sums paid invoices into monthly recurring revenue per account and sends it with
// ImportSubscriptions once the whole file is read.
std::unique_ptr<Sink> MakeLedgerSink(ExpansionClient* expansion);

// Declares the mapping's analytics events (SetEventMapping; idempotent).
absl::Status ApplyEventMappings(HealthClient* health, const Mapping& mapping);

// Health scores as CSV (account_id,score,band,computed_at) for every account that
// has one; returns the number of rows written.
absl::StatusOr<int64_t> ExportHealth(HealthClient* health, const std::string& score_name,
                                     std::ostream& out);
// Opportunities as CSV; returns the number of rows written.
absl::StatusOr<int64_t> ExportOpportunities(ExpansionClient* expansion, std::ostream& out);

}  // namespace cs::crm_sync

#endif  // CS_TOOLS_CRM_SYNC_SINKS_H_
