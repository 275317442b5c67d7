#include "tools/csctl/output.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace cs::csctl {
namespace {

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* kWords[] = {"true", "false", "null", "yes", "no", "on", "off", "~"};
  for (const char* w : kWords) {
    if (absl::AsciiStrToLower(s) == w) return true;
  }
  if (absl::ascii_isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '.' ||
      s[0] == '+') {
    return true;
  }
  return s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") != std::string::npos || s.front() == ' ' ||
         s.back() == ' ';
}

std::string Scalar(const google::protobuf::Value& v) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNullValue: return "null";
    case google::protobuf::Value::kBoolValue: return v.bool_value() ? "true" : "false";
    case google::protobuf::Value::kNumberValue: {
      const double d = v.number_value();
      if (d == static_cast<int64_t>(d) && std::abs(d) < 1e15) {
        return absl::StrCat(static_cast<int64_t>(d));
      }
      // The shortest text that reads back as the same double, so an exported
      // configuration applies as unchanged.
      for (int precision = 6; precision < 17; ++precision) {
        const std::string text = absl::StrFormat("%.*g", precision, d);
        if (std::strtod(text.c_str(), nullptr) == d) return text;
      }
      return absl::StrFormat("%.17g", d);
    }
    case google::protobuf::Value::kStringValue: {
      const std::string& s = v.string_value();
      if (!NeedsQuotes(s)) return s;
      std::string out = "\"";
      for (char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        if (c == '\n') {
          out += "\\n";
          continue;
        }
        out.push_back(c);
      }
      return out + "\"";
    }
    default: return "";
  }
}

bool IsContainer(const google::protobuf::Value& v) {
  return (v.has_struct_value() && v.struct_value().fields_size() > 0) ||
         (v.has_list_value() && v.list_value().values_size() > 0);
}

void EmitYaml(const google::protobuf::Value& v, int indent, std::string* out);

void EmitStruct(const google::protobuf::Struct& s, int indent, std::string* out) {
  // Map order is unspecified; sort keys so output is stable.
  std::vector<std::string> keys;
  for (const auto& [k, _] : s.fields()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  for (const std::string& k : keys) {
    const google::protobuf::Value& v = s.fields().at(k);
    absl::StrAppend(out, std::string(indent, ' '), k, ":");
    if (IsContainer(v)) {
      out->push_back('\n');
      EmitYaml(v, indent + 2, out);
    } else {
      absl::StrAppend(out, " ", v.has_struct_value() ? "{}" : v.has_list_value() ? "[]" : Scalar(v),
                      "\n");
    }
  }
}

void EmitYaml(const google::protobuf::Value& v, int indent, std::string* out) {
  if (v.has_struct_value()) {
    EmitStruct(v.struct_value(), indent, out);
  } else if (v.has_list_value()) {
    for (const google::protobuf::Value& item : v.list_value().values()) {
      absl::StrAppend(out, std::string(indent, ' '), "-");
      if (IsContainer(item)) {
        // The first key goes on the dash line, the rest below it.
        std::string nested;
        EmitYaml(item, indent + 2, &nested);
        absl::StrAppend(out, " ", nested.substr(static_cast<size_t>(indent) + 2));
      } else {
        absl::StrAppend(out, " ", Scalar(item), "\n");
      }
    }
  } else {
    absl::StrAppend(out, std::string(indent, ' '), Scalar(v), "\n");
  }
}

}  // namespace

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  if (text == "table" || text.empty()) return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  return absl::InvalidArgumentError(absl::StrCat("-o: must be table, json or yaml, not '", text, "'"));
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string ToYaml(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  google::protobuf::Value value;
  (void)google::protobuf::util::JsonStringToMessage(json, &value);
  std::string out;
  EmitYaml(value, 0, &out);
  return out.empty() ? "{}\n" : out;
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i) width[i] = header_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < header_.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      absl::StrAppend(&text, cell);
      if (i + 1 < header_.size()) text.append(width[i] - cell.size() + 2, ' ');
    }
    out << text << "\n";
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

}  // namespace cs::csctl
