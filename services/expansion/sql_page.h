#ifndef CS_SERVICES_EXPANSION_SQL_PAGE_H_
#define CS_SERVICES_EXPANSION_SQL_PAGE_H_

// Keyset paging for the expansion repositories: a list query asks for one row more
// than the page holds, and that extra row tells whether another page follows.

#include <cppconn/resultset.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace cs::expansion {

// Reads rows with `read` (ResultSet& -> StatusOr<T>) until `page_size` are kept; when
// one more row exists, returns the id (`id_of`) of the last kept one as the position
// the next page starts after, else 0.
template <typename T, typename Read, typename IdOf>
absl::StatusOr<int64_t> ReadPage(sql::ResultSet& rs, int page_size, const Read& read,
                                 const IdOf& id_of, std::vector<T>& out) {
  while (rs.next()) {
    if (static_cast<int>(out.size()) == page_size) return id_of(out.back());
    absl::StatusOr<T> row = read(rs);
    if (!row.ok()) return row.status();
    out.push_back(*std::move(row));
  }
  return 0;
}

}  // namespace cs::expansion

#endif  // CS_SERVICES_EXPANSION_SQL_PAGE_H_
