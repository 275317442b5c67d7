#ifndef CS_TOOLS_CRM_SYNC_IMPORTER_H_
#define CS_TOOLS_CRM_SYNC_IMPORTER_H_

// The import loop shared by every adapter: stream the file row by row, convert,
// send in batches through a Sink, report each bad row with its line number, keep a
// checkpoint beside the input after every committed batch, and resume from it.

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/crm-sync/adapters.h"

namespace cs::crm_sync {

struct RowOutcome {
  enum Kind { kImported, kSkipped, kFailed };
  Kind kind = kImported;
  std::string reason;
};

// Where converted rows go (the services, through the client library).
class Sink {
 public:
  struct PendingRow {
    int64_t line = 0;
    std::vector<Item> items;
  };
  virtual ~Sink() = default;
  // Most items one Flush may carry.
  virtual size_t max_items() const { return 1000; }
  // Sends the rows and gives one outcome per row. A row-level refusal is an outcome;
  // a returned error (service unavailable, not allowed) stops the run, and the
  // checkpoint stays before this batch.
  virtual absl::Status Flush(const std::vector<PendingRow>& rows,
                             std::vector<RowOutcome>* outcomes) = 0;
  // False for a sink that sends only once it has seen the whole file: it keeps no
  // checkpoint and always reads from the top.
  virtual bool resumable() const { return true; }
  // Called once after the last row of a whole file; `notes` gets what it did.
  virtual absl::Status Finish(std::ostream& notes) { return absl::OkStatus(); }
};

struct ImportOptions {
  std::string path;
  const AdapterSpec* adapter = nullptr;
  Mapping mapping;
  // Rows per batch (a checkpoint follows each).
  size_t batch_size = 500;
  // Stop after this many rows in this run (0: no limit); the checkpoint is kept.
  int64_t limit = 0;
  // Ignore an existing checkpoint and start from the top.
  bool restart = false;
  bool progress = false;
  // Bad rows are written here as "line N: reason".
  std::ostream* errors = nullptr;
  // Also written as CSV (line,reason) when set.
  std::ostream* errors_csv = nullptr;
  // Set (e.g. by SIGINT) to stop after the current batch, keeping the checkpoint.
  const std::atomic<bool>* stop = nullptr;
  absl::Time now = absl::Now();
};

struct ImportSummary {
  int64_t read = 0;
  int64_t imported = 0;
  int64_t skipped = 0;
  int64_t failed = 0;
  double seconds = 0;
  // The line this run started from when it resumed (0: from the top).
  int64_t resumed_at_line = 0;
  // The whole file was processed (the checkpoint is gone).
  bool finished = false;
  // Where the checkpoint stands when not finished.
  int64_t next_line = 0;
};

// The checkpoint file of an input.
std::string StatePath(const std::string& input);

// Runs the import. Errors: NOT_FOUND for a missing input, INVALID_ARGUMENT for a
// header the mapping cannot use, and whatever Sink::Flush returned (the summary of
// the rows committed so far is then in *partial).
absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options, Sink& sink,
                                        ImportSummary* partial = nullptr);

std::string FormatSummary(const ImportSummary& summary);

}  // namespace cs::crm_sync

#endif  // CS_TOOLS_CRM_SYNC_IMPORTER_H_
