#ifndef CS_TOOLS_CRM_SYNC_ADAPTERS_H_
#define CS_TOOLS_CRM_SYNC_ADAPTERS_H_

// What each export looks like and how one of its rows becomes the suite's requests:
// the adapters (their fields and the standard export's column names), the mapping
// file that renames columns and values for a site, and the conversion of one row.
// Pure functions of their inputs, so they are tested without a service.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cs/expansion/v1/expansion.pb.h"
#include "cs/health/v1/health.pb.h"
#include "google/protobuf/struct.pb.h"

namespace cs::crm_sync {

enum class Target { kAccounts, kSignals, kTrackEvents, kOpportunities, kLedger };
enum class InputFormat { kCsv, kJsonLines };

struct FieldSpec {
  std::string name;
  // The standard export's column (CSV) and path (JSON); empty when it has none.
  std::string csv_column;
  std::string json_path;
  bool required = false;
  std::string help;
};

struct AdapterSpec {
  std::string name;
  // Prefix of the ids crm-sync derives (event ids, request ids).
  std::string source;
  std::vector<InputFormat> formats;
  Target target;
  std::string help;
  std::vector<FieldSpec> fields;
  // Built-in value translations (field -> lower-case source value -> value).
  std::map<std::string, std::map<std::string, std::string>> values;
};

const std::vector<AdapterSpec>& Adapters();
const AdapterSpec* FindAdapter(absl::string_view name);

// A site's mapping merged over the adapter's defaults.
struct Mapping {
  std::string source;
  InputFormat format = InputFormat::kCsv;
  // Field -> column (CSV) or dotted path (JSON).
  std::map<std::string, std::string> columns;
  // Fields whose column the mapping file named (a missing one is an error, while a
  // missing default column only leaves the field unset).
  std::set<std::string> explicit_columns;
  // Fields a row cannot do without.
  std::set<std::string> required;
  // Field -> lower-case source value -> value.
  std::map<std::string, std::map<std::string, std::string>> values;
  // Field -> value used when the row leaves it empty (e.g. currency).
  std::map<std::string, std::string> defaults;
  // Analytics event names to declare with SetEventMapping before a track import.
  std::vector<cs::health::v1::EventMapping> events;
};

// The mapping file's document (JSON or YAML, already parsed) over the defaults.
// Unknown keys and fields are errors naming them, so a typo does not pass silently.
absl::StatusOr<Mapping> BuildMapping(const AdapterSpec& adapter, InputFormat format,
                                     const google::protobuf::Value* document);
// Reads and parses the file (".json" as JSON, anything else as YAML); an empty
// path gives the defaults.
absl::StatusOr<Mapping> LoadMapping(const AdapterSpec& adapter, InputFormat format,
                                    const std::string& path);

// One input row: a CSV record under its header, or one JSON object.
class Row {
 public:
  virtual ~Row() = default;
  // The value of a column / path; nullopt when the row has no such column.
  virtual std::optional<std::string> Get(const std::string& column) const = 0;
  // The JSON value at a path (JSON rows only).
  virtual const google::protobuf::Value* Json(const std::string& path) const { return nullptr; }
  // Identifies the row's content, for ids of rows without a key of their own.
  virtual std::string Fingerprint() const = 0;
};

class CsvRow : public Row {
 public:
  CsvRow(const std::map<std::string, size_t>* header, const std::vector<std::string>* fields)
      : header_(header), fields_(fields) {}
  std::optional<std::string> Get(const std::string& column) const override;
  std::string Fingerprint() const override;

 private:
  const std::map<std::string, size_t>* header_;
  const std::vector<std::string>* fields_;
};

class JsonRow : public Row {
 public:
  // `line` is the row's text, which identifies it (a parsed object's key order is
  // not stable enough to hash).
  JsonRow(const google::protobuf::Value* value, std::string line)
      : value_(value), line_(std::move(line)) {}
  std::optional<std::string> Get(const std::string& column) const override;
  const google::protobuf::Value* Json(const std::string& path) const override;
  std::string Fingerprint() const override;

 private:
  const google::protobuf::Value* value_;
  std::string line_;
};

// Checks a CSV header against the mapping: required fields and columns the mapping
// file named must be present; a default column that is absent drops its field.
absl::Status BindHeader(const std::vector<std::string>& header, Mapping* mapping);

// What one row asks for. An account carries the fields the row gave, so that fields
// it does not give keep their stored values.
struct AccountItem {
  cs::health::v1::Account account;
  std::set<std::string> fields;
};
struct OpportunityItem {
  cs::expansion::v1::Opportunity opportunity;
  // The CRM's stage, which the import reaches through AdvanceStage.
  cs::expansion::v1::Stage stage = cs::expansion::v1::STAGE_IDENTIFIED;
  std::string loss_reason;
};
// A paid invoice's revenue, spread evenly over the months it pays for.
struct LedgerItem {
  std::string account_id;
  absl::CivilMonth first_month;
  int months = 1;
  int64_t minor_units = 0;
  std::string currency_code;
};
using Item = std::variant<AccountItem, cs::health::v1::Signal, cs::health::v1::TrackEvent,
                          OpportunityItem, LedgerItem>;

struct Converted {
  std::vector<Item> items;
  // Set when the row is deliberately not imported (e.g. a void invoice): why.
  std::string skip_reason;
};

// One row -> requests, or INVALID_ARGUMENT naming the column and the problem.
// `now` decides whether an unpaid invoice is already late.
absl::StatusOr<Converted> ConvertRow(const AdapterSpec& adapter, const Mapping& mapping,
                                     const Row& row, absl::Time now);

// "<source>:<parts joined by ':'>" when that is a valid id (printable ASCII, no
// spaces, at most 128 characters), else "<source>:<fingerprint of the parts>".
std::string DerivedId(absl::string_view source, const std::vector<std::string>& parts);

}  // namespace cs::crm_sync

#endif  // CS_TOOLS_CRM_SYNC_ADAPTERS_H_
