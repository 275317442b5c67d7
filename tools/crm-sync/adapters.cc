#include "tools/crm-sync/adapters.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/hash.h"
#include "tools/crm-sync/parse.h"

namespace cs::crm_sync {

namespace pb = ::google::protobuf;
namespace hv1 = ::cs::health::v1;
namespace ev1 = ::cs::expansion::v1;

namespace {

FieldSpec F(std::string name, std::string csv, std::string json, bool required, std::string help) {
  return FieldSpec{std::move(name), std::move(csv), std::move(json), required, std::move(help)};
}

// Industry names as CRMs spell them -> the suite's industries. Anything else is
// OTHER (see Industry() below), so an exotic picklist value still imports.
std::map<std::string, std::string> IndustryWords() {
  return {
      {"healthcare", "healthcare"},
      {"health care", "healthcare"},
      {"hospital & health care", "healthcare"},
      {"medical devices", "healthcare"},
      {"pharmaceuticals", "healthcare"},
      {"biotechnology", "healthcare"},
      {"financial services", "financial_services"},
      {"finance", "financial_services"},
      {"banking", "financial_services"},
      {"insurance", "financial_services"},
      {"retail", "ecommerce"},
      {"e-commerce", "ecommerce"},
      {"ecommerce", "ecommerce"},
      {"consumer goods", "ecommerce"},
      {"consulting", "professional_services"},
      {"legal services", "professional_services"},
      {"accounting", "professional_services"},
      {"management consulting", "professional_services"},
      {"technology", "saas"},
      {"software", "saas"},
      {"computer software", "saas"},
      {"internet", "saas"},
      {"information technology and services", "saas"},
  };
}

std::map<std::string, std::string> SalesforceKinds() {
  return {
      {"existing customer - upgrade", "plan_upgrade"},
      {"existing business", "seat_expansion"},
      {"upsell", "feature_upsell"},
      {"cross-sell", "cross_sell"},
      {"add-on", "add_on"},
      {"renewal with upsell", "seat_expansion"},
  };
}

std::map<std::string, std::string> SalesforceStages() {
  return {
      {"prospecting", "identified"},     {"qualification", "qualified"},
      {"needs analysis", "qualified"},   {"value proposition", "proposal"},
      {"id. decision makers", "proposal"}, {"perception analysis", "proposal"},
      {"proposal/price quote", "proposal"}, {"negotiation/review", "negotiation"},
      {"closed won", "closed_won"},      {"closed lost", "closed_lost"},
  };
}

std::map<std::string, std::string> HubspotStages() {
  return {
      {"appointmentscheduled", "identified"}, {"appointment scheduled", "identified"},
      {"qualifiedtobuy", "qualified"},        {"qualified to buy", "qualified"},
      {"presentationscheduled", "proposal"},  {"presentation scheduled", "proposal"},
      {"decisionmakerboughtin", "proposal"},  {"decision maker bought-in", "proposal"},
      {"contractsent", "negotiation"},        {"contract sent", "negotiation"},
      {"closedwon", "closed_won"},            {"closed won", "closed_won"},
      {"closedlost", "closed_lost"},          {"closed lost", "closed_lost"},
  };
}

std::vector<FieldSpec> AccountFields(const std::string& id, const std::string& name,
                                     const std::string& employees, const std::string& industry,
                                     const std::string& owner, const std::string& revenue,
                                     const std::string& currency) {
  return {
      F("account_id", id, "", true, "the CRM's account id"),
      F("name", name, "", true, "account name"),
      F("employee_count", employees, "", false, "number of employees (derives the tier)"),
      F("industry", industry, "", false, "industry (mapped to the suite's industries)"),
      F("owner_id", owner, "", false, "the owning CSM's id"),
      F("arr", revenue, "", false, "annual recurring revenue, e.g. 120000.00"),
      F("currency", currency, "", false, "ISO-4217 code of arr (default USD)"),
      F("tier", "", "", false, "enterprise, mid_market, smb or solo (default: from employees)"),
      F("lifecycle", "", "", false, "onboarding, adopting, renewing"),
      F("contract_start", "", "", false, "contract start date"),
      F("renewal_date", "", "", false, "renewal date"),
  };
}

std::vector<FieldSpec> OpportunityFields(const std::string& id, const std::string& account,
                                         const std::string& kind, const std::string& stage,
                                         const std::string& amount, const std::string& close,
                                         const std::string& owner, const std::string& title) {
  return {
      F("opportunity_ref", id, "", true, "the CRM's opportunity id"),
      F("account_id", account, "", true, "the account's CRM id"),
      F("kind", kind, "", true, "what is sold (mapped to the opportunity kinds)"),
      F("stage", stage, "", false, "the CRM stage (mapped to the stages)"),
      F("amount", amount, "", true, "annual amount if won, e.g. 24000.00"),
      F("close_date", close, "", true, "expected close date"),
      F("owner_id", owner, "", false, "the owner's id"),
      F("title", title, "", false, "a title"),
      F("currency", "", "", false, "ISO-4217 code of amount (default USD)"),
      F("probability", "", "", false, "win probability in percent"),
      F("loss_reason", "", "", false, "why a closed-lost deal was lost"),
  };
}

}  // namespace

const std::vector<AdapterSpec>& Adapters() {
  static const auto* kAdapters = new std::vector<AdapterSpec>{
      {"salesforce-accounts", "salesforce", {InputFormat::kCsv}, Target::kAccounts,
       "Salesforce Account export (CSV) -> UpsertAccount",
       AccountFields("Id", "Name", "NumberOfEmployees", "Industry", "OwnerId", "AnnualRevenue",
                     "CurrencyIsoCode"),
       {{"industry", IndustryWords()}}},
      {"hubspot-companies", "hubspot", {InputFormat::kCsv}, Target::kAccounts,
       "HubSpot companies export (CSV) -> UpsertAccount",
       AccountFields("Record ID", "Company name", "Number of Employees", "Industry",
                     "Company owner ID", "Annual Revenue", "Currency"),
       {{"industry", IndustryWords()}}},
      {"salesforce-opportunities", "salesforce", {InputFormat::kCsv}, Target::kOpportunities,
       "Salesforce Opportunity export (CSV) -> CreateOpportunity, AdvanceStage to the CRM stage",
       OpportunityFields("Id", "AccountId", "Type", "StageName", "Amount", "CloseDate", "OwnerId",
                         "Name"),
       {{"kind", SalesforceKinds()}, {"stage", SalesforceStages()}}},
      {"hubspot-deals", "hubspot", {InputFormat::kCsv}, Target::kOpportunities,
       "HubSpot deals export (CSV) -> CreateOpportunity, AdvanceStage to the CRM stage",
       OpportunityFields("Record ID", "Associated Company ID", "Deal Type", "Deal Stage", "Amount",
                         "Close Date", "Deal owner ID", "Deal Name"),
       {{"kind", {{"existingbusiness", "seat_expansion"}, {"existing business", "seat_expansion"}}},
        {"stage", HubspotStages()}}},
      {"segment", "segment", {InputFormat::kJsonLines}, Target::kTrackEvents,
       "Segment track events (newline-delimited JSON) -> TrackEvents; Mixpanel and Amplitude "
       "exports through the mapping",
       {F("message_id", "", "messageId", false, "dedup id (default: derived from the line)"),
        F("event", "", "event", true, "event name, looked up in the event map"),
        F("user_id", "", "userId", false, "the user"),
        F("group_id", "", "context.groupId", true, "the account"),
        F("timestamp", "", "timestamp", true, "when it happened"),
        F("properties", "", "properties", false, "the event's properties object")},
       {}},
      {"zendesk-tickets", "zendesk", {InputFormat::kCsv, InputFormat::kJsonLines}, Target::kSignals,
       "Zendesk tickets export (CSV or JSON lines) -> TICKET_OPENED / TICKET_RESOLVED signals",
       {F("ticket_id", "Id", "id", true, "the ticket id"),
        F("account_id", "Organization", "organization_id", true, "the account"),
        F("created_at", "Created at", "created_at", true, "when it was opened"),
        F("solved_at", "Solved at", "solved_at", false, "when it was solved"),
        F("status", "Status", "status", false, "new, open, pending, hold, solved, closed"),
        F("csat", "Satisfaction Score", "satisfaction_rating.score", false,
          "good/bad or 1-5")},
       {{"csat", {{"good", "5"}, {"bad", "1"}, {"offered", ""}, {"unoffered", ""}}}}},
      {"billing", "billing", {InputFormat::kCsv}, Target::kSignals,
       "Billing invoices / charges (CSV) -> PAYMENT_SUCCEEDED / PAYMENT_FAILED / PAYMENT_LATE",
       {F("invoice_id", "id", "", true, "the invoice or charge id"),
        F("account_id", "customer", "", true, "the account"),
        F("status", "status", "", true, "paid, failed, refunded, open, past_due, void, draft"),
        F("created_at", "created", "", true, "when it was issued or charged"),
        F("due_date", "due_date", "", false, "when payment was due"),
        F("paid_at", "paid_at", "", false, "when it was paid"),
        F("amount", "amount", "", false, "amount (checked, not sent)"),
        F("currency", "currency", "", false, "ISO-4217 code")},
       {{"status",
         {{"succeeded", "paid"}, {"uncollectible", "past_due"}, {"unpaid", "past_due"}}}}},
      {"billing-ledger", "billing", {InputFormat::kCsv}, Target::kLedger,
       "Billing invoices (CSV) -> monthly recurring revenue per account -> the revenue ledger "
       "(ImportSubscriptions; the whole file is read, then sent)",
       {F("invoice_id", "id", "", true, "the invoice id"),
        F("account_id", "customer", "", true, "the account"),
        F("status", "status", "", true, "only paid invoices are revenue"),
        F("created_at", "created", "", true, "when it was issued"),
        F("period_start", "period_start", "", false, "first day the invoice pays for"),
        F("period_months", "period_months", "", false, "months it pays for (default 1)"),
        F("amount", "amount", "", true, "amount paid, e.g. 1200.00"),
        F("currency", "currency", "", false, "ISO-4217 code (default USD)")},
       {{"status", {{"succeeded", "paid"}}}}},
  };
  return *kAdapters;
}

const AdapterSpec* FindAdapter(absl::string_view name) {
  for (const AdapterSpec& a : Adapters()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Mapping

namespace {

absl::Status MappingError(absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("mapping: ", where, ": ", why));
}

const FieldSpec* FindField(const AdapterSpec& adapter, absl::string_view name) {
  for (const FieldSpec& f : adapter.fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::StatusOr<std::string> Text(const pb::Value& v, absl::string_view where) {
  std::optional<std::string> text = ScalarText(v);
  if (!text) return MappingError(where, "must be a string");
  return *text;
}

absl::StatusOr<const pb::Struct*> AsMap(const pb::Value& v, absl::string_view where) {
  if (v.kind_case() == pb::Value::kStructValue) return &v.struct_value();
  // "key:" with nothing below is an empty map.
  if (v.kind_case() == pb::Value::kStringValue && v.string_value().empty()) {
    static const pb::Struct kEmpty;
    return &kEmpty;
  }
  return MappingError(where, "must be a map");
}

std::string Canonical(absl::string_view s) {
  std::string out = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s));
  for (char& c : out) {
    if (c == '-' || c == ' ') c = '_';
  }
  return out;
}

absl::Status AddEvents(const pb::Value& list, Mapping* mapping) {
  if (list.kind_case() != pb::Value::kListValue) return MappingError("events", "must be a list");
  for (int i = 0; i < list.list_value().values_size(); ++i) {
    const std::string where = absl::StrCat("events[", i, "]");
    absl::StatusOr<const pb::Struct*> entry = AsMap(list.list_value().values(i), where);
    if (!entry.ok()) return entry.status();
    hv1::EventMapping m;
    for (const auto& [key, value] : (*entry)->fields()) {
      absl::StatusOr<std::string> text = Text(value, absl::StrCat(where, ".", key));
      if (!text.ok()) return text.status();
      if (key == "event") {
        m.set_event_name(*text);
      } else if (key == "kind") {
        hv1::SignalKind kind;
        const std::string name = "SIGNAL_KIND_" + absl::AsciiStrToUpper(Canonical(*text));
        if (!hv1::SignalKind_Parse(name, &kind) || kind == hv1::SIGNAL_KIND_UNSPECIFIED) {
          return MappingError(absl::StrCat(where, ".kind"),
                              absl::StrCat("'", *text, "' is not a signal kind (e.g. feature_used)"));
        }
        m.set_kind(kind);
      } else if (key == "value_property") {
        m.set_value_property(*text);
      } else if (key == "feature_property") {
        m.set_feature_property(*text);
      } else {
        return MappingError(absl::StrCat(where, ".", key),
                            "unknown key (event, kind, value_property, feature_property)");
      }
    }
    if (m.event_name().empty()) return MappingError(absl::StrCat(where, ".event"), "required");
    if (m.kind() == hv1::SIGNAL_KIND_UNSPECIFIED) {
      return MappingError(absl::StrCat(where, ".kind"), "required");
    }
    mapping->events.push_back(std::move(m));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Mapping> BuildMapping(const AdapterSpec& adapter, InputFormat format,
                                     const pb::Value* document) {
  Mapping mapping;
  mapping.source = adapter.source;
  mapping.format = format;
  for (const FieldSpec& f : adapter.fields) {
    const std::string& column = format == InputFormat::kCsv ? f.csv_column : f.json_path;
    if (!column.empty()) mapping.columns[f.name] = column;
    if (f.required) mapping.required.insert(f.name);
  }
  mapping.values = adapter.values;
  if (document == nullptr) return mapping;
  absl::StatusOr<const pb::Struct*> root = AsMap(*document, "the document");
  if (!root.ok()) return root.status();
  for (const auto& [key, value] : (*root)->fields()) {
    if (key == "source") {
      absl::StatusOr<std::string> text = Text(value, "source");
      if (!text.ok()) return text.status();
      if (text->empty() || text->size() > 32 ||
          text->find_first_of(" :\t") != std::string::npos) {
        return MappingError("source", "must be 1-32 characters without spaces or ':'");
      }
      mapping.source = *text;
    } else if (key == "columns") {
      absl::StatusOr<const pb::Struct*> columns = AsMap(value, "columns");
      if (!columns.ok()) return columns.status();
      for (const auto& [field, column] : (*columns)->fields()) {
        if (FindField(adapter, field) == nullptr) {
          return MappingError(absl::StrCat("columns.", field),
                              absl::StrCat("not a field of ", adapter.name));
        }
        absl::StatusOr<std::string> text = Text(column, absl::StrCat("columns.", field));
        if (!text.ok()) return text.status();
        if (text->empty()) {
          // An empty column turns off a default one.
          mapping.columns.erase(field);
          continue;
        }
        mapping.columns[field] = *text;
        mapping.explicit_columns.insert(field);
      }
    } else if (key == "values") {
      absl::StatusOr<const pb::Struct*> values = AsMap(value, "values");
      if (!values.ok()) return values.status();
      for (const auto& [field, table] : (*values)->fields()) {
        if (FindField(adapter, field) == nullptr) {
          return MappingError(absl::StrCat("values.", field),
                              absl::StrCat("not a field of ", adapter.name));
        }
        absl::StatusOr<const pb::Struct*> entries = AsMap(table, absl::StrCat("values.", field));
        if (!entries.ok()) return entries.status();
        for (const auto& [from, to] : (*entries)->fields()) {
          absl::StatusOr<std::string> text = Text(to, absl::StrCat("values.", field, ".", from));
          if (!text.ok()) return text.status();
          mapping.values[field][absl::AsciiStrToLower(absl::StripAsciiWhitespace(from))] = *text;
        }
      }
    } else if (key == "defaults") {
      absl::StatusOr<const pb::Struct*> defaults = AsMap(value, "defaults");
      if (!defaults.ok()) return defaults.status();
      for (const auto& [field, v] : (*defaults)->fields()) {
        if (FindField(adapter, field) == nullptr) {
          return MappingError(absl::StrCat("defaults.", field),
                              absl::StrCat("not a field of ", adapter.name));
        }
        absl::StatusOr<std::string> text = Text(v, absl::StrCat("defaults.", field));
        if (!text.ok()) return text.status();
        mapping.defaults[field] = *text;
      }
    } else if (key == "events") {
      if (adapter.target != Target::kTrackEvents) {
        return MappingError("events", "only the segment adapter takes an event map");
      }
      absl::Status s = AddEvents(value, &mapping);
      if (!s.ok()) return s;
    } else {
      return MappingError(key, "unknown key (source, columns, values, defaults, events)");
    }
  }
  for (const FieldSpec& f : adapter.fields) {
    if (f.required && !mapping.columns.count(f.name) && !mapping.defaults.count(f.name)) {
      return MappingError(absl::StrCat("columns.", f.name), "required, and no column is mapped");
    }
  }
  return mapping;
}

absl::StatusOr<Mapping> LoadMapping(const AdapterSpec& adapter, InputFormat format,
                                    const std::string& path) {
  if (path.empty()) return BuildMapping(adapter, format, nullptr);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the mapping file"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<pb::Value> document =
      absl::EndsWith(path, ".json") ? ParseJson(text.str()) : ParseYaml(text.str());
  if (!document.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", document.status().message()));
  }
  absl::StatusOr<Mapping> mapping = BuildMapping(adapter, format, &*document);
  if (!mapping.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", mapping.status().message()));
  }
  return mapping;
}

absl::Status BindHeader(const std::vector<std::string>& header, Mapping* mapping) {
  std::set<std::string> present;
  std::set<std::string> twice;
  for (const std::string& h : header) {
    if (!present.insert(std::string(absl::StripAsciiWhitespace(h))).second) {
      twice.insert(std::string(absl::StripAsciiWhitespace(h)));
    }
  }
  for (const auto& [field, column] : mapping->columns) {
    // Which of the two would be meant is anyone's guess.
    if (twice.count(column)) {
      return MappingError(absl::StrCat("columns.", field),
                          absl::StrCat("column '", column, "' appears twice in the header"));
    }
  }
  for (auto it = mapping->columns.begin(); it != mapping->columns.end();) {
    if (present.count(it->second)) {
      ++it;
      continue;
    }
    if (mapping->explicit_columns.count(it->first) ||
        (mapping->required.count(it->first) && !mapping->defaults.count(it->first))) {
      return MappingError(absl::StrCat("columns.", it->first),
                          absl::StrCat("column '", it->second, "' is not in the header",
                                       mapping->required.count(it->first) ? " (required)" : ""));
    }
    it = mapping->columns.erase(it);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Rows

std::optional<std::string> CsvRow::Get(const std::string& column) const {
  auto it = header_->find(column);
  if (it == header_->end() || it->second >= fields_->size()) return std::nullopt;
  return (*fields_)[it->second];
}

std::string CsvRow::Fingerprint() const { return Fingerprint64Hex(absl::StrJoin(*fields_, "\x1f")); }

std::optional<std::string> JsonRow::Get(const std::string& column) const {
  const pb::Value* v = FindPath(*value_, column);
  if (v == nullptr) return std::nullopt;
  return ScalarText(*v).value_or("");
}

const pb::Value* JsonRow::Json(const std::string& path) const { return FindPath(*value_, path); }

std::string JsonRow::Fingerprint() const {
  return Fingerprint64Hex(absl::StripAsciiWhitespace(line_));
}

std::string DerivedId(absl::string_view source, const std::vector<std::string>& parts) {
  const std::string joined = absl::StrJoin(parts, ":");
  bool clean = !joined.empty() && source.size() + 1 + joined.size() <= 128;
  for (char c : joined) {
    if (c <= ' ' || c > '~') clean = false;
  }
  if (clean) return absl::StrCat(source, ":", joined);
  return absl::StrCat(source, ":", Fingerprint64Hex(joined));
}

// ---------------------------------------------------------------------------
// Conversion

namespace {

void ToTimestamp(absl::Time t, pb::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

void ToDate(absl::CivilDay day, cs::common::v1::Date* out) {
  out->set_year(static_cast<int32_t>(day.year()));
  out->set_month(day.month());
  out->set_day(day.day());
}

// Reads the mapped fields of one row; every error names the column.
class Fields {
 public:
  Fields(const AdapterSpec& adapter, const Mapping& mapping, const Row& row)
      : adapter_(adapter), mapping_(mapping), row_(row) {}

  // The column (or path) a field reads, for messages.
  std::string Column(const std::string& field) const {
    auto it = mapping_.columns.find(field);
    return it == mapping_.columns.end() ? field : it->second;
  }

  absl::Status Error(const std::string& field, absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat(Column(field), ": ", why));
  }

  // The trimmed text, after the mapping's value table; nullopt when empty.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& field) const {
    std::optional<std::string> raw;
    if (auto it = mapping_.columns.find(field); it != mapping_.columns.end()) {
      raw = row_.Get(it->second);
    }
    std::string text = raw ? std::string(absl::StripAsciiWhitespace(*raw)) : "";
    if (text.empty()) {
      auto d = mapping_.defaults.find(field);
      if (d == mapping_.defaults.end()) return std::optional<std::string>();
      text = d->second;
    }
    if (std::optional<size_t> bad = InvalidUtf8At(text)) {
      return Error(field, absl::StrCat("invalid UTF-8 at byte ", *bad + 1));
    }
    if (auto table = mapping_.values.find(field); table != mapping_.values.end()) {
      auto hit = table->second.find(absl::AsciiStrToLower(text));
      if (hit != table->second.end()) text = hit->second;
    }
    if (text.empty()) return std::optional<std::string>();
    return std::optional<std::string>(text);
  }

  absl::StatusOr<std::string> Required(const std::string& field) const {
    absl::StatusOr<std::optional<std::string>> v = Get(field);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Error(field, "required but empty");
    return **v;
  }

  // A parsed value with the column's name on its error.
  template <typename T>
  absl::StatusOr<std::optional<T>> Parsed(const std::string& field,
                                          absl::StatusOr<T> (*parse)(absl::string_view)) const {
    absl::StatusOr<std::optional<std::string>> v = Get(field);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return std::optional<T>();
    absl::StatusOr<T> parsed = parse(**v);
    if (!parsed.ok()) return Error(field, parsed.status().message());
    return std::optional<T>(*parsed);
  }

  template <typename Enum>
  absl::StatusOr<std::optional<Enum>> EnumOf(const std::string& field, const std::string& prefix,
                                             bool (*parse)(const std::string&, Enum*),
                                             const std::string& choices) const {
    absl::StatusOr<std::optional<std::string>> v = Get(field);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return std::optional<Enum>();
    Enum e{};
    if (!parse(prefix + absl::AsciiStrToUpper(Canonical(**v)), &e) || static_cast<int>(e) == 0) {
      return Error(field, absl::StrCat("'", **v, "' is not one of ", choices,
                                       " (translate it under values.", field, ")"));
    }
    return std::optional<Enum>(e);
  }

  const Mapping& mapping() const { return mapping_; }

 private:
  const AdapterSpec& adapter_;
  const Mapping& mapping_;
  const Row& row_;
};

// Declares `lhs` from a StatusOr, or returns its error from the enclosing function.
#define CRM_CONCAT_INNER_(a, b) a##b
#define CRM_CONCAT_(a, b) CRM_CONCAT_INNER_(a, b)
#define CRM_ASSIGN(lhs, expr)                                                     \
  auto CRM_CONCAT_(crm_v_, __LINE__) = (expr);                                   \
  if (!CRM_CONCAT_(crm_v_, __LINE__).ok()) return CRM_CONCAT_(crm_v_, __LINE__).status(); \
  lhs = *std::move(CRM_CONCAT_(crm_v_, __LINE__))

absl::StatusOr<Converted> ConvertAccount(const Fields& f) {
  AccountItem item;
  hv1::Account& a = item.account;
  CRM_ASSIGN(std::string id, f.Required("account_id"));
  a.set_account_id(id);
  CRM_ASSIGN(std::string name, f.Required("name"));
  a.set_name(name);
  item.fields = {"account_id", "name"};
  CRM_ASSIGN(std::optional<int64_t> employees, f.Parsed<int64_t>("employee_count", &ParseWholeNumber));
  if (employees) {
    if (*employees < 0 || *employees > 10'000'000) {
      return f.Error("employee_count", absl::StrCat("'", *employees, "' is out of range 0-10000000"));
    }
    a.set_employee_count(static_cast<int32_t>(*employees));
    item.fields.insert("employee_count");
  }
  CRM_ASSIGN(std::optional<std::string> industry, f.Get("industry"));
  if (industry) {
    hv1::Industry value = hv1::INDUSTRY_OTHER;
    const std::string name = "INDUSTRY_" + absl::AsciiStrToUpper(Canonical(*industry));
    // A name the suite knows is taken as is; any other industry is OTHER.
    if (!hv1::Industry_Parse(name, &value) || value == hv1::INDUSTRY_UNSPECIFIED) {
      value = hv1::INDUSTRY_OTHER;
    }
    a.set_industry(value);
    item.fields.insert("industry");
  }
  CRM_ASSIGN(std::optional<std::string> owner, f.Get("owner_id"));
  if (owner) {
    a.set_owner_id(*owner);
    item.fields.insert("owner_id");
  }
  CRM_ASSIGN(std::optional<int64_t> arr, f.Parsed<int64_t>("arr", &ParseMinorUnits));
  if (arr) {
    if (*arr < 0) return f.Error("arr", "must not be negative");
    CRM_ASSIGN(std::optional<std::string> currency, f.Get("currency"));
    a.mutable_arr()->set_minor_units(*arr);
    a.mutable_arr()->set_currency_code(absl::AsciiStrToUpper(currency.value_or("USD")));
    item.fields.insert("arr");
  }
  CRM_ASSIGN(std::optional<hv1::Tier> tier,
             f.EnumOf<hv1::Tier>("tier", "TIER_", &hv1::Tier_Parse,
                                 "enterprise, mid_market, smb, solo"));
  if (tier) {
    a.set_tier(*tier);
    item.fields.insert("tier");
  }
  CRM_ASSIGN(std::optional<hv1::Lifecycle> lifecycle,
             f.EnumOf<hv1::Lifecycle>("lifecycle", "LIFECYCLE_", &hv1::Lifecycle_Parse,
                                      "onboarding, adopting, renewing"));
  if (lifecycle) {
    if (*lifecycle == hv1::LIFECYCLE_CHURNED) {
      return f.Error("lifecycle", "churn is recorded with csctl accounts churn, not by import");
    }
    a.set_lifecycle(*lifecycle);
    item.fields.insert("lifecycle");
  }
  CRM_ASSIGN(std::optional<absl::CivilDay> start, f.Parsed<absl::CivilDay>("contract_start", &ParseDay));
  if (start) {
    ToDate(*start, a.mutable_contract_start());
    item.fields.insert("contract_start");
  }
  CRM_ASSIGN(std::optional<absl::CivilDay> renewal, f.Parsed<absl::CivilDay>("renewal_date", &ParseDay));
  if (renewal) {
    ToDate(*renewal, a.mutable_renewal_date());
    item.fields.insert("renewal_date");
  }
  Converted out;
  out.items.push_back(std::move(item));
  return out;
}

hv1::Signal MakeSignal(const std::string& source, const std::vector<std::string>& key,
                       const std::string& account, hv1::SignalKind kind, absl::Time at) {
  hv1::Signal s;
  s.set_event_id(DerivedId(source, key));
  s.set_account_id(account);
  s.set_kind(kind);
  ToTimestamp(at, s.mutable_occurred_at());
  return s;
}

absl::StatusOr<Converted> ConvertTicket(const Fields& f) {
  const std::string& source = f.mapping().source;
  CRM_ASSIGN(std::string id, f.Required("ticket_id"));
  CRM_ASSIGN(std::string account, f.Required("account_id"));
  CRM_ASSIGN(std::optional<absl::Time> created, f.Parsed<absl::Time>("created_at", &ParseTimestamp));
  if (!created) return f.Error("created_at", "required but empty");
  CRM_ASSIGN(std::optional<absl::Time> solved, f.Parsed<absl::Time>("solved_at", &ParseTimestamp));
  CRM_ASSIGN(std::optional<std::string> status, f.Get("status"));
  const std::string state = absl::AsciiStrToLower(status.value_or(""));
  if ((state == "solved" || state == "closed") && !solved) {
    return f.Error("solved_at", absl::StrCat("empty for a ", state, " ticket"));
  }
  Converted out;
  out.items.push_back(MakeSignal(source, {"ticket", id, "opened"}, account,
                                 hv1::SIGNAL_KIND_TICKET_OPENED, *created));
  if (solved) {
    if (*solved < *created) return f.Error("solved_at", "before the ticket was created");
    hv1::Signal resolved = MakeSignal(source, {"ticket", id, "resolved"}, account,
                                      hv1::SIGNAL_KIND_TICKET_RESOLVED, *solved);
    // Hours to resolve, to the hundredth.
    resolved.set_value(std::round(absl::ToDoubleHours(*solved - *created) * 100) / 100);
    CRM_ASSIGN(std::optional<double> csat, f.Parsed<double>("csat", &ParseDecimal));
    if (csat) {
      if (*csat < 1 || *csat > 5) return f.Error("csat", absl::StrCat("'", *csat, "' is not 1-5"));
      resolved.set_csat(*csat);
    }
    out.items.push_back(std::move(resolved));
  }
  return out;
}

absl::StatusOr<Converted> ConvertPayment(const Fields& f, absl::Time now) {
  const std::string& source = f.mapping().source;
  CRM_ASSIGN(std::string id, f.Required("invoice_id"));
  CRM_ASSIGN(std::string account, f.Required("account_id"));
  CRM_ASSIGN(std::string status, f.Required("status"));
  CRM_ASSIGN(std::optional<absl::Time> created, f.Parsed<absl::Time>("created_at", &ParseTimestamp));
  if (!created) return f.Error("created_at", "required but empty");
  CRM_ASSIGN(std::optional<absl::CivilDay> due, f.Parsed<absl::CivilDay>("due_date", &ParseDay));
  CRM_ASSIGN(std::optional<absl::Time> paid, f.Parsed<absl::Time>("paid_at", &ParseTimestamp));
  // The amount is not sent with a payment signal, but a row whose amount cannot be
  // read is most likely misaligned, so it is refused rather than half-trusted.
  CRM_ASSIGN(std::optional<int64_t> amount, f.Parsed<int64_t>("amount", &ParseMinorUnits));
  (void)amount;
  const absl::TimeZone utc = absl::UTCTimeZone();
  // Late means after the end of the due day.
  const std::optional<absl::Time> due_end =
      due ? std::optional<absl::Time>(absl::FromCivil(*due + 1, utc)) : std::nullopt;
  const std::string state = Canonical(status);
  Converted out;
  if (state == "paid" || state == "refunded") {
    // A refunded charge was still paid: payment reliability is what health scores,
    // while the refund is a revenue matter.
    const absl::Time at = paid.value_or(*created);
    out.items.push_back(
        MakeSignal(source, {"invoice", id, "paid"}, account, hv1::SIGNAL_KIND_PAYMENT_SUCCEEDED, at));
    if (due_end && at >= *due_end) {
      out.items.push_back(
          MakeSignal(source, {"invoice", id, "late"}, account, hv1::SIGNAL_KIND_PAYMENT_LATE, *due_end));
    }
  } else if (state == "failed") {
    out.items.push_back(MakeSignal(source, {"invoice", id, "failed"}, account,
                                   hv1::SIGNAL_KIND_PAYMENT_FAILED, *created));
  } else if (state == "open" || state == "past_due") {
    if (due_end && now >= *due_end) {
      out.items.push_back(
          MakeSignal(source, {"invoice", id, "late"}, account, hv1::SIGNAL_KIND_PAYMENT_LATE, *due_end));
    } else {
      out.skip_reason = "open invoice, not yet due";
    }
  } else if (state == "void" || state == "draft") {
    out.skip_reason = absl::StrCat(state, " invoice: no payment");
  } else {
    return f.Error("status", absl::StrCat("'", status,
                                          "' is not paid, failed, refunded, open, past_due, void "
                                          "or draft (translate it under values.status)"));
  }
  return out;
}

absl::StatusOr<Converted> ConvertLedger(const Fields& f) {
  LedgerItem item;
  CRM_ASSIGN(std::string id, f.Required("invoice_id"));
  (void)id;
  CRM_ASSIGN(item.account_id, f.Required("account_id"));
  CRM_ASSIGN(std::string status, f.Required("status"));
  CRM_ASSIGN(std::optional<absl::Time> created, f.Parsed<absl::Time>("created_at", &ParseTimestamp));
  if (!created) return f.Error("created_at", "required but empty");
  CRM_ASSIGN(std::optional<absl::CivilDay> start, f.Parsed<absl::CivilDay>("period_start", &ParseDay));
  CRM_ASSIGN(std::optional<int64_t> months, f.Parsed<int64_t>("period_months", &ParseWholeNumber));
  CRM_ASSIGN(std::optional<int64_t> amount, f.Parsed<int64_t>("amount", &ParseMinorUnits));
  if (!amount) return f.Error("amount", "required but empty");
  CRM_ASSIGN(std::optional<std::string> currency, f.Get("currency"));
  const std::string state = Canonical(status);
  Converted out;
  if (state != "paid") {
    if (state == "failed" || state == "refunded" || state == "open" || state == "past_due" ||
        state == "void" || state == "draft") {
      out.skip_reason = absl::StrCat(state, ": not revenue");
      return out;
    }
    return f.Error("status", absl::StrCat("'", status, "' is not paid, failed, refunded, open, "
                                          "past_due, void or draft"));
  }
  if (*amount < 0) return f.Error("amount", "must not be negative for a paid invoice");
  if (months && (*months < 1 || *months > 120)) return f.Error("period_months", "must be 1-120");
  item.first_month = absl::CivilMonth(start.value_or(absl::ToCivilDay(*created, absl::UTCTimeZone())));
  item.months = static_cast<int>(months.value_or(1));
  item.minor_units = *amount;
  item.currency_code = absl::AsciiStrToUpper(currency.value_or("USD"));
  out.items.push_back(std::move(item));
  return out;
}

absl::StatusOr<Converted> ConvertTrack(const Fields& f, const Row& row) {
  hv1::TrackEvent e;
  CRM_ASSIGN(std::optional<std::string> message_id, f.Get("message_id"));
  // Exports without a message id still dedupe: the same line gives the same id.
  e.set_message_id(message_id ? *message_id : DerivedId(f.mapping().source, {row.Fingerprint()}));
  CRM_ASSIGN(std::string event, f.Required("event"));
  e.set_event(event);
  CRM_ASSIGN(std::optional<std::string> user, f.Get("user_id"));
  if (user) e.set_user_id(*user);
  CRM_ASSIGN(std::string group, f.Required("group_id"));
  e.set_group_id(group);
  CRM_ASSIGN(std::optional<absl::Time> at, f.Parsed<absl::Time>("timestamp", &ParseTimestamp));
  if (!at) return f.Error("timestamp", "required but empty");
  ToTimestamp(*at, e.mutable_timestamp());
  if (auto it = f.mapping().columns.find("properties"); it != f.mapping().columns.end()) {
    if (const pb::Value* props = row.Json(it->second)) {
      if (props->kind_case() == pb::Value::kStructValue) {
        *e.mutable_properties() = props->struct_value();
      } else if (props->kind_case() != pb::Value::kNullValue) {
        return f.Error("properties", "must be an object");
      }
    }
  }
  Converted out;
  out.items.push_back(std::move(e));
  return out;
}

absl::StatusOr<Converted> ConvertOpportunity(const Fields& f) {
  OpportunityItem item;
  ev1::Opportunity& o = item.opportunity;
  CRM_ASSIGN(std::string ref, f.Required("opportunity_ref"));
  o.set_source_ref(ref);
  o.set_source(ev1::OPPORTUNITY_SOURCE_CRM_IMPORT);
  CRM_ASSIGN(std::string account, f.Required("account_id"));
  o.set_account_id(account);
  CRM_ASSIGN(std::optional<ev1::OpportunityKind> kind,
             f.EnumOf<ev1::OpportunityKind>("kind", "OPPORTUNITY_KIND_", &ev1::OpportunityKind_Parse,
                                            "the opportunity kinds (seat_expansion, feature_upsell, "
                                            "usage_expansion, vertical_expansion, "
                                            "integration_expansion, plan_upgrade, add_on, "
                                            "cross_sell, custom_solution)"));
  if (!kind) return f.Error("kind", "required but empty");
  o.set_kind(*kind);
  CRM_ASSIGN(std::optional<ev1::Stage> stage,
             f.EnumOf<ev1::Stage>("stage", "STAGE_", &ev1::Stage_Parse,
                                  "identified, qualified, proposal, negotiation, closed_won, "
                                  "closed_lost"));
  if (stage) item.stage = *stage;
  CRM_ASSIGN(std::optional<int64_t> amount, f.Parsed<int64_t>("amount", &ParseMinorUnits));
  if (!amount) return f.Error("amount", "required but empty");
  if (*amount <= 0) return f.Error("amount", "must be positive");
  CRM_ASSIGN(std::optional<std::string> currency, f.Get("currency"));
  o.mutable_amount()->set_minor_units(*amount);
  o.mutable_amount()->set_currency_code(absl::AsciiStrToUpper(currency.value_or("USD")));
  CRM_ASSIGN(std::optional<absl::CivilDay> close, f.Parsed<absl::CivilDay>("close_date", &ParseDay));
  if (!close) return f.Error("close_date", "required but empty");
  ToDate(*close, o.mutable_expected_close_date());
  CRM_ASSIGN(std::optional<std::string> owner, f.Get("owner_id"));
  if (owner) o.set_owner_id(*owner);
  CRM_ASSIGN(std::optional<std::string> title, f.Get("title"));
  if (title) o.set_title(title->substr(0, 200));
  CRM_ASSIGN(std::optional<int64_t> probability, f.Parsed<int64_t>("probability", &ParseWholeNumber));
  if (probability) {
    if (*probability < 0 || *probability > 100) return f.Error("probability", "must be 0-100");
    o.set_probability_percent(static_cast<int32_t>(*probability));
  }
  CRM_ASSIGN(std::optional<std::string> loss, f.Get("loss_reason"));
  if (loss) item.loss_reason = *loss;
  Converted out;
  out.items.push_back(std::move(item));
  return out;
}

}  // namespace

absl::StatusOr<Converted> ConvertRow(const AdapterSpec& adapter, const Mapping& mapping,
                                     const Row& row, absl::Time now) {
  Fields fields(adapter, mapping, row);
  switch (adapter.target) {
    case Target::kAccounts: return ConvertAccount(fields);
    case Target::kTrackEvents: return ConvertTrack(fields, row);
    case Target::kOpportunities: return ConvertOpportunity(fields);
    case Target::kLedger: return ConvertLedger(fields);
    case Target::kSignals:
      if (adapter.name == "billing") return ConvertPayment(fields, now);
      return ConvertTicket(fields);
    default: return absl::InternalError("unknown adapter target");
  }
}

}  // namespace cs::crm_sync
