#ifndef CS_COMMON_DB_SQL_VALUES_H_
#define CS_COMMON_DB_SQL_VALUES_H_

// Conversions between domain values and Connector/C++ parameters and columns.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

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

// A column as a std::string (Connector/C++ hands out its own SQLString).
std::string GetString(sql::ResultSet& rs, int index);
// A DATETIME(6) column (UTC), and one that may be NULL.
absl::StatusOr<absl::Time> GetTime(sql::ResultSet& rs, int index);
absl::StatusOr<std::optional<absl::Time>> GetOptionalTime(sql::ResultSet& rs, int index);
// Binds a DATETIME(6) parameter, or NULL.
void SetOptionalTime(sql::PreparedStatement& stmt, int index, const std::optional<absl::Time>& t);

// Multi-row statements. A statement's text depends on its row count, and every
// text is a prepared statement cached on each connection, so rows go in chunks of a
// few fixed sizes (256, 64, 16, 4, 1): at most five statements per kind, whatever
// the batch sizes callers send.
inline constexpr size_t kMultiRowChunks[] = {256, 64, 16, 4, 1};

// Calls `fn(offset, count)` for consecutive chunks covering [0, n).
void ForEachChunk(size_t n, const std::function<void(size_t offset, size_t count)>& fn);

// Every power of two up to 256: a batch of n rows takes at most one statement per
// set bit of n (a round's 190 opened alerts: 6 statements, not 10), for statements
// that are run many times with odd counts and each need a read after them.
inline constexpr size_t kBinaryRowChunks[] = {256, 128, 64, 32, 16, 8, 4, 2, 1};

// The same with chunks of the given sizes, largest first, ending with 1.
template <size_t N>
void ForEachChunk(size_t n, const size_t (&sizes)[N],
                  const std::function<void(size_t offset, size_t count)>& fn) {
  size_t offset = 0;
  for (size_t chunk : sizes) {
    while (n - offset >= chunk) {
      fn(offset, chunk);
      offset += chunk;
    }
  }
}

// "(?, ?), (?, ?)" for `rows` rows of `columns` columns.
std::string RowPlaceholders(size_t rows, size_t columns);

// A list of values a statement tests with IN, read in one statement whatever its
// length: its places are `n` rounded up to a power of two, so lists of every length
// share a few statement texts. Each text is prepared and kept on every connection,
// and the server caps those of all its clients together (max_prepared_stmt_count):
// one text per length would let a long-running service reach the cap.
size_t InListSlots(size_t n);
// "(?, ?, ...)" with InListSlots(n) places.
std::string InListPlaceholders(size_t n);
// Binds values[offset, offset + count), count > 0, from parameter `first` on and
// repeats the last of them in the spare places, which IN ignores. Returns the next
// parameter.
int BindInList(sql::PreparedStatement& stmt, int first, const std::vector<std::string>& values,
               size_t offset, size_t count);

}  // namespace cs::db

#endif  // CS_COMMON_DB_SQL_VALUES_H_
