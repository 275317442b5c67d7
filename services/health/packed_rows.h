#ifndef CS_SERVICES_HEALTH_PACKED_ROWS_H_
#define CS_SERVICES_HEALTH_PACKED_ROWS_H_

// Rows that hold many values: the daily counters of an account and month, and the
// signals an ingest stored for an account and month. Both are plain text, lines
// joined by '\n' and fields by '\t', with '\\', tab and newline in free-text
// fields escaped as "\\\\", "\\t" and "\\n", so that the migrations that
// packed the rows of the old tables could build them in SQL (GROUP_CONCAT).
//
// Counters: the daily counters of one account and month, packed into one row of
// signal_counters. Scoring reads 90 days of counters per account; one row per
// account, day and counter made that 700 rows for an account active every day
// and one written row per counter an ingest touches. Packed per month it is four
// rows read and one row rewritten per account and month an ingest group touches.
//
// The text is the line "#2" and then one line per counter, in name order:
// "<counter>\t<day of month>\t<value>\t<day of month>\t<value>...", the days in
// order; in the counter name '\\', '\t' and '\n' are escaped as "\\\\", "\\t" and
// "\\n"; a value is the shortest text that reads back as the same double. A counter's
// name is written once a month instead of once a day: the bench's accounts (six
// counters one day a week) take about 210 bytes a month instead of 438.
//
// Rows without the "#2" line are the first format, one line per day and counter,
// "<day of month>\t<counter>\t<value>", which migration 009 built in SQL
// (GROUP_CONCAT). They still read, and a row is written in the grouped format the
// next time an ingest adds to it; rows no ingest touches again leave scoring's
// 90-day window within four months. A replica of an earlier version reads a grouped
// row as malformed (DATA_LOSS, nothing written from it) until it is replaced.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/health/measures.h"
#include "services/health/scorecard.h"
#include "services/health/signal.h"

namespace cs::health {

// (day of month, counter) -> value.
using MonthCounters = std::map<std::pair<int, std::string>, double>;
// (account_id, month) -> what an ingest adds to that packed row.
using CounterAdditions = std::map<std::pair<std::string, absl::CivilMonth>, MonthCounters>;

std::string EncodeMonthCounters(const MonthCounters& counters);

// Adds the packed text's values into `out` (a counter listed twice adds up).
// Malformed text is DATA_LOSS naming the line.
absl::Status DecodeMonthCounters(absl::string_view text, MonthCounters& out);
// `stored` (a month row's text) with `add` added, as `out`: lines `add` does not
// touch are copied as they are, so a month's row is not read into a map to add one
// day's counts. Malformed text is DATA_LOSS, as for DecodeMonthCounters.
absl::Status MergeMonthCounters(absl::string_view stored, const MonthCounters& add,
                                std::string& out);

// The rows of a packed month whose day lies in from..to (inclusive), appended.
absl::Status AppendCounterRows(absl::CivilMonth month, absl::string_view text,
                               absl::CivilDay from, absl::CivilDay to,
                               std::vector<CounterRow>& out);
// The same values added straight to a window (CounterWindow::Add; the caller
// seals it): no row, and no copy of a counter's name the window already holds.
absl::Status AddCounters(absl::CivilMonth month, absl::string_view text, absl::CivilDay from,
                         absl::CivilDay to, CounterWindow& out);

// Signals: the signals of one account and month that one ingest group stored, one
// row of signal_log (whether a signal is new is decided by the event ids of the
// month's rows, ForEachLoggedKey).
// A line is "<event_id>\t<kind name>\t<occurred_at, Unix microseconds>\t<value>\t
// <csat>\t<feature>"; only the feature is escaped (ids are printable ASCII).
void AppendSignalLine(const Signal& s, std::string& out);
// The same line without the newline before it.
void AppendSignalFields(const Signal& s, std::string& out);

// Calls visit(signal) for each line; the signals carry no account_id (the row's).
// Malformed text is DATA_LOSS naming the line.
absl::Status ForEachLoggedSignal(absl::string_view text,
                                 const std::function<void(const Signal&)>& visit);
// Calls visit(event_id) for each line, without reading the rest of the signal.
absl::Status ForEachLoggedKey(absl::string_view text,
                              const std::function<void(absl::string_view)>& visit);

// Score components: the components of one score as account_scores and every
// score_history row store them, one part per component, parts joined by ';' and
// fields by '|':
//   "<component number>|<measure>|<weight>|<raw>|<normalized>|<contribution>|<missing 0/1>"
// The measure is left empty when it is the one DefaultScorecard gives the
// component, and numbers are the shortest text that reads back as the same double:
// the bench's scores (the default scorecard's six components) average 134 bytes,
// where the first format, which named the component and the measure in full and
// wrote every double in 17 digits, took 327. Rows of the first format (a part
// starts with the component's name, a letter, where the current one starts with a
// digit) still read; a score row takes the current format when it is next
// rescored, and history rows keep the format they were written in. A replica of
// an earlier version reads the current format as malformed (DATA_LOSS) until it is
// replaced, as for the grouped counter rows.
std::string EncodeComponents(const std::vector<ComponentScore>& components);
// Malformed text is DATA_LOSS naming the part.
absl::StatusOr<std::vector<ComponentScore>> DecodeComponents(absl::string_view text);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_PACKED_ROWS_H_
