#ifndef CS_COMMON_DB_SQL_VALUES_H_
#define CS_COMMON_DB_SQL_VALUES_H_

// Conversions between domain values and Connector/C++ parameters and columns.

#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace sql {
class PreparedStatement;
class ResultSet;
}  // namespace sql

namespace cs::db {

// Binds a DATE parameter, or NULL.
void SetOptionalDate(sql::PreparedStatement& stmt, int index,
                     const std::optional<absl::CivilDay>& day);
// Reads a DATE column that may be NULL.
absl::StatusOr<std::optional<absl::CivilDay>> GetOptionalDate(sql::ResultSet& rs, int index);

}  // namespace cs::db

#endif  // CS_COMMON_DB_SQL_VALUES_H_
