#ifndef CS_SERVICES_HEALTH_LOGGED_SIGNALS_SQL_H_
#define CS_SERVICES_HEALTH_LOGGED_SIGNALS_SQL_H_

// SQL that counts stored signals in the health schema, for tests and operators:
// every stored signal is one line of a signal_log row (packed_rows.h), at most
// 1,000 lines to a row, its event id first. Uses MariaDB's sequence engine.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cs::health {

// "SELECT <what> ..." over the stored signals (columns account_id, event_id) that
// satisfy `where` (SQL, e.g. "event_id LIKE 'kill-%'"; empty: all of them).
inline std::string CountLoggedSignalsSql(absl::string_view where = "",
                                         absl::string_view what = "COUNT(*)") {
  return absl::StrCat(
      "SELECT ", what, " FROM (SELECT l.account_id, SUBSTRING_INDEX(SUBSTRING_INDEX("
      "SUBSTRING_INDEX(l.signals, '\\n', n.seq), '\\n', -1), '\\t', 1) AS event_id"
      " FROM signal_log l JOIN seq_1_to_1000 n"
      " ON n.seq <= 1 + LENGTH(l.signals) - LENGTH(REPLACE(l.signals, '\\n', ''))) s",
      where.empty() ? "" : " WHERE ", where);
}

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_LOGGED_SIGNALS_SQL_H_
