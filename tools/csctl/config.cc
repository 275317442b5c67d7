#include "tools/csctl/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cs/health/v1/health.pb.h"
#include "cs/playbooks/v1/playbooks.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tools/crm-sync/parse.h"
#include "tools/csctl/output.h"

namespace cs::csctl {
namespace {

namespace pb = ::google::protobuf;

struct KindInfo {
  ConfigKind kind;
  const char* name;
  const char* id_field;
  const pb::Descriptor* (*descriptor)();
  const pb::Message* (*prototype)();
};

const std::vector<KindInfo>& Kinds() {
  static const auto* kKinds = new std::vector<KindInfo>{
      {ConfigKind::kEscalationChain, "EscalationChain", "chain_id",
       &playbooks::v1::EscalationChain::descriptor,
       [] { return static_cast<const pb::Message*>(&playbooks::v1::EscalationChain::default_instance()); }},
      {ConfigKind::kPlaybook, "Playbook", "playbook_id", &playbooks::v1::Playbook::descriptor,
       [] { return static_cast<const pb::Message*>(&playbooks::v1::Playbook::default_instance()); }},
      {ConfigKind::kScorecard, "Scorecard", "scorecard_id", &health::v1::Scorecard::descriptor,
       [] { return static_cast<const pb::Message*>(&health::v1::Scorecard::default_instance()); }},
      {ConfigKind::kEventMapping, "EventMapping", "event_name", &health::v1::EventMapping::descriptor,
       [] { return static_cast<const pb::Message*>(&health::v1::EventMapping::default_instance()); }},
  };
  return *kKinds;
}

const KindInfo& Info(ConfigKind kind) {
  for (const KindInfo& k : Kinds()) {
    if (k.kind == kind) return k;
  }
  return Kinds().front();
}

bool IsWellKnown(const pb::Descriptor* d) { return absl::StartsWith(d->full_name(), "google.protobuf."); }

// The YAML reader gives every scalar as a string; the JSON mapping wants booleans
// and numbers where the field is one. Walk the value along the message type and
// retype the scalars, reporting fields the type does not have by their path.
absl::Status Retype(const pb::FieldDescriptor* field, const std::string& path, pb::Value* v);

absl::Status RetypeMessage(const pb::Descriptor* d, const std::string& path, pb::Value* v) {
  if (IsWellKnown(d)) return absl::OkStatus();
  if (!v->has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "document" : path, ": expected a map of fields"));
  }
  for (auto& [key, child] : *v->mutable_struct_value()->mutable_fields()) {
    const pb::FieldDescriptor* f = d->FindFieldByName(key);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path.empty() ? "" : path + ".", key, ": no such field in ", d->name()));
    }
    if (absl::Status s = Retype(f, path.empty() ? key : path + "." + key, &child); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RetypeScalar(const pb::FieldDescriptor* f, const std::string& path, pb::Value* v) {
  if (f->message_type() != nullptr) return RetypeMessage(f->message_type(), path, v);
  if (!v->has_string_value()) return absl::OkStatus();
  const std::string text = v->string_value();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      const std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true" || lower == "yes") v->set_bool_value(true);
      else if (lower == "false" || lower == "no") v->set_bool_value(false);
      else return absl::InvalidArgumentError(absl::StrCat(path, ": '", text, "' is not true or false"));
      return absl::OkStatus();
    }
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      double d = 0;
      if (!absl::SimpleAtod(text, &d)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": '", text, "' is not a number"));
      }
      v->set_number_value(d);
      return absl::OkStatus();
    }
    default:  // strings, enums by name, and 64-bit numbers (strings in JSON)
      return absl::OkStatus();
  }
}

absl::Status Retype(const pb::FieldDescriptor* f, const std::string& path, pb::Value* v) {
  if (f->is_map()) {
    if (!v->has_struct_value()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a map"));
    const pb::FieldDescriptor* value_field = f->message_type()->map_value();
    for (auto& [key, child] : *v->mutable_struct_value()->mutable_fields()) {
      if (absl::Status s = RetypeScalar(value_field, path + "." + key, &child); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (f->is_repeated()) {
    if (!v->has_list_value()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a list"));
    int i = 0;
    for (pb::Value& item : *v->mutable_list_value()->mutable_values()) {
      if (absl::Status s = RetypeScalar(f, absl::StrCat(path, "[", i++, "]"), &item); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return RetypeScalar(f, path, v);
}

absl::Status AtLine(absl::string_view file, int line, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": line ", line, ": ", s.message()));
}

}  // namespace

std::string KindName(ConfigKind kind) { return Info(kind).name; }

std::string ObjectName(ConfigKind kind, const pb::Message& message) {
  const pb::FieldDescriptor* f = message.GetDescriptor()->FindFieldByName(Info(kind).id_field);
  return message.GetReflection()->GetString(message, f);
}

absl::StatusOr<std::vector<ConfigObject>> ParseConfig(absl::string_view file, absl::string_view text) {
  // Split on "---" lines; each document keeps its place in the file by leading
  // blank lines, so the YAML reader's line numbers are the file's.
  std::vector<std::pair<int, std::string>> documents;  // first line, text
  int line_number = 0;
  std::string current;
  int start = 1;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::string_view line = absl::StripSuffix(raw, "\r");
    if (line == "---" || absl::StartsWith(line, "--- ") || line == "...") {
      documents.emplace_back(start, current);
      current.assign(static_cast<size_t>(line_number), '\n');
      start = line_number + 1;
      continue;
    }
    absl::StrAppend(&current, raw, "\n");
  }
  documents.emplace_back(start, current);

  std::vector<ConfigObject> out;
  for (auto& [first_line, doc] : documents) {
    if (absl::StripAsciiWhitespace(doc).empty()) continue;
    absl::StatusOr<pb::Value> value = crm_sync::ParseYaml(doc);
    if (!value.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", value.status().message()));
    // The first line with content: where the document's errors point.
    int line = first_line;
    {
      int n = 0;
      for (absl::string_view l : absl::StrSplit(absl::string_view(doc), '\n')) {
        ++n;
        absl::string_view t = absl::StripAsciiWhitespace(l);
        if (!t.empty() && t[0] != '#') {
          line = n;
          break;
        }
      }
    }
    if (!value->has_struct_value()) {
      return AtLine(file, line, absl::InvalidArgumentError("a document must be a map with a kind"));
    }
    auto* fields = value->mutable_struct_value()->mutable_fields();
    auto kind_it = fields->find("kind");
    if (kind_it == fields->end() || !kind_it->second.has_string_value()) {
      return AtLine(file, line, absl::InvalidArgumentError(
                                    "kind: required (EscalationChain, Playbook, Scorecard or EventMapping)"));
    }
    const KindInfo* info = nullptr;
    for (const KindInfo& k : Kinds()) {
      if (kind_it->second.string_value() == k.name) info = &k;
    }
    if (info == nullptr) {
      return AtLine(file, line, absl::InvalidArgumentError(absl::StrCat(
                                    "kind: '", kind_it->second.string_value(),
                                    "' must be EscalationChain, Playbook, Scorecard or EventMapping")));
    }
    fields->erase(kind_it);
    // The fields sit beside `kind`, or under `spec:` -- needed by a message that has
    // a `kind` field of its own (EventMapping's signal kind).
    if (auto spec = fields->find("spec"); spec != fields->end() && fields->size() == 1) {
      pb::Value inner = spec->second;
      *value = std::move(inner);
    }
    if (absl::Status s = RetypeMessage(info->descriptor(), "", &*value); !s.ok()) return AtLine(file, line, s);
    std::string json;
    if (auto s = pb::util::MessageToJsonString(*value, &json); !s.ok()) {
      return AtLine(file, line, absl::InvalidArgumentError(std::string(s.message().data(), s.message().size())));
    }
    ConfigObject object;
    object.kind = info->kind;
    object.file = std::string(file);
    object.line = line;
    object.message.reset(info->prototype()->New());
    pb::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    if (auto s = pb::util::JsonStringToMessage(json, object.message.get(), options); !s.ok()) {
      return AtLine(file, line, absl::InvalidArgumentError(std::string(s.message().data(), s.message().size())));
    }
    object.name = ObjectName(info->kind, *object.message);
    if (object.name.empty()) {
      return AtLine(file, line, absl::InvalidArgumentError(absl::StrCat(info->id_field, ": required")));
    }
    for (const ConfigObject& seen : out) {
      if (seen.kind == object.kind && seen.name == object.name) {
        return AtLine(file, line, absl::InvalidArgumentError(absl::StrCat(
                                      info->name, " '", object.name, "' also defined at line ", seen.line)));
      }
    }
    out.push_back(std::move(object));
  }
  return out;
}

absl::StatusOr<std::vector<ConfigObject>> LoadConfig(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no .yaml or .yml files"));
  } else {
    files.push_back(path);
  }
  std::vector<ConfigObject> all;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return absl::InvalidArgumentError(absl::StrCat(file, ": cannot read"));
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::vector<ConfigObject>> objects = ParseConfig(file, text.str());
    if (!objects.ok()) return objects.status();
    for (ConfigObject& o : *objects) {
      for (const ConfigObject& seen : all) {
        if (seen.kind == o.kind && seen.name == o.name) {
          return absl::InvalidArgumentError(absl::StrCat(file, ": line ", o.line, ": ", KindName(o.kind),
                                                         " '", o.name, "' also defined in ", seen.file,
                                                         " line ", seen.line));
        }
      }
      all.push_back(std::move(o));
    }
  }
  return all;
}

void Normalize(ConfigKind kind, pb::Message* message) {
  const pb::Descriptor* d = message->GetDescriptor();
  const pb::Reflection* r = message->GetReflection();
  for (const char* server_field : {"version", "updated_at"}) {
    if (const pb::FieldDescriptor* f = d->FindFieldByName(server_field)) r->ClearField(message, f);
  }
  if (kind == ConfigKind::kScorecard) {
    auto* scorecard = static_cast<health::v1::Scorecard*>(message);
    if (scorecard->score_name().empty()) scorecard->set_score_name("health");
  }
}

std::string DiffText(const pb::Message& current, const pb::Message& desired) {
  std::string out;
  pb::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&out);
  differencer.Compare(current, desired);
  return out;
}

std::string ExportYaml(ConfigKind kind, const pb::Message& message) {
  std::unique_ptr<pb::Message> copy(message.New());
  copy->CopyFrom(message);
  Normalize(kind, copy.get());
  std::string body = ToYaml(*copy);
  if (body == "{}\n") body.clear();
  if (copy->GetDescriptor()->FindFieldByName("kind") != nullptr) {
    std::string indented;
    for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&indented, "  ", line, "\n");
    }
    return absl::StrCat("kind: ", KindName(kind), "\nspec:\n", indented);
  }
  return absl::StrCat("kind: ", KindName(kind), "\n", body);
}

}  // namespace cs::csctl
