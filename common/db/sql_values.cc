#include "common/db/sql_values.h"

#include <algorithm>
#include <string>
#include <utility>

#include <cppconn/datatype.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "absl/strings/str_format.h"
#include "common/db/pool.h"

namespace cs::db {

void SetOptionalDate(sql::PreparedStatement& stmt, int index,
                     const std::optional<absl::CivilDay>& day) {
  if (!day.has_value()) {
    stmt.setNull(index, sql::DataType::DATE);
    return;
  }
  stmt.setString(index, absl::StrFormat("%04d-%02d-%02d", day->year(), day->month(), day->day()));
}

absl::StatusOr<std::optional<absl::CivilDay>> GetOptionalDate(sql::ResultSet& rs, int index) {
  if (rs.isNull(index)) return std::optional<absl::CivilDay>();
  absl::CivilDay day;
  if (!absl::ParseCivilTime(GetString(rs, index), &day)) {
    return absl::InternalError("bad DATE value from the database");
  }
  return std::optional<absl::CivilDay>(day);
}

std::string GetString(sql::ResultSet& rs, int index) {
  // getString builds an SQLString that owns the column's bytes; its string is taken,
  // not copied. The SQLString is this function's own non-const object, so moving
  // out of its member is defined; only its accessor is const.
  sql::SQLString text = rs.getString(index);
  return std::move(const_cast<std::string&>(static_cast<const std::string&>(text)));
}

absl::StatusOr<absl::Time> GetTime(sql::ResultSet& rs, int index) {
  return FromSqlDatetime(GetString(rs, index));
}

absl::StatusOr<std::optional<absl::Time>> GetOptionalTime(sql::ResultSet& rs, int index) {
  if (rs.isNull(index)) return std::optional<absl::Time>();
  absl::StatusOr<absl::Time> t = GetTime(rs, index);
  if (!t.ok()) return t.status();
  return std::optional<absl::Time>(*t);
}

void SetOptionalTime(sql::PreparedStatement& stmt, int index, const std::optional<absl::Time>& t) {
  if (t.has_value()) {
    stmt.setString(index, ToSqlDatetime(*t));
  } else {
    stmt.setNull(index, sql::DataType::TIMESTAMP);
  }
}

void ForEachChunk(size_t n, const std::function<void(size_t, size_t)>& fn) {
  ForEachChunk(n, kMultiRowChunks, fn);
}

std::string RowPlaceholders(size_t rows, size_t columns) {
  std::string row = "(";
  for (size_t c = 0; c < columns; ++c) row += c == 0 ? "?" : ", ?";
  row += ")";
  std::string out;
  out.reserve(rows * (row.size() + 2));
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) out += ", ";
    out += row;
  }
  return out;
}

size_t InListSlots(size_t n) {
  size_t slots = 1;
  while (slots < n) slots *= 2;
  return slots;
}

std::string InListPlaceholders(size_t n) { return RowPlaceholders(1, InListSlots(n)); }

int BindInList(sql::PreparedStatement& stmt, int first, const std::vector<std::string>& values,
               size_t offset, size_t count) {
  const size_t slots = InListSlots(count);
  for (size_t i = 0; i < slots; ++i) {
    stmt.setString(first + static_cast<int>(i), values[offset + std::min(i, count - 1)]);
  }
  return first + static_cast<int>(slots);
}

}  // namespace cs::db
