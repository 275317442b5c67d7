#ifndef CS_TOOLS_CSCTL_OUTPUT_H_
#define CS_TOOLS_CSCTL_OUTPUT_H_

// How csctl prints: an aligned table for people, JSON or YAML for scripts.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace cs::csctl {

enum class Format { kTable, kJson, kYaml };

absl::StatusOr<Format> ParseFormat(const std::string& text);

// A message as JSON (proto3 JSON mapping, field names as in the .proto).
std::string ToJson(const google::protobuf::Message& message);
// The same document as YAML (block style; strings quoted when they need it).
std::string ToYaml(const google::protobuf::Message& message);

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cs::csctl

#endif  // CS_TOOLS_CSCTL_OUTPUT_H_
