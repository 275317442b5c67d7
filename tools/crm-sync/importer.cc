#include "tools/crm-sync/importer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/hash.h"
#include "tools/crm-sync/parse.h"

namespace cs::crm_sync {

namespace {

constexpr int64_t kHeadBytes = 64 * 1024;

struct Checkpoint {
  std::string adapter;
  std::string head;
  int64_t offset = 0;
  int64_t line = 0;
};

// Fingerprint of the file's first min(64 KiB, upto) bytes: a resumed run checks that
// the part already imported is still the same file.
std::string HeadFingerprint(const std::string& path, int64_t upto) {
  std::ifstream in(path, std::ios::binary);
  std::string head(static_cast<size_t>(std::min(kHeadBytes, upto)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return Fingerprint64Hex(head);
}

std::optional<Checkpoint> ReadCheckpoint(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string first;
  if (!std::getline(in, first) || first != "crm-sync-state 1") return std::nullopt;
  Checkpoint c;
  std::string line;
  while (std::getline(in, line)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.first == "adapter") c.adapter = kv.second;
    if (kv.first == "head") c.head = kv.second;
    if (kv.first == "offset" && !absl::SimpleAtoi(kv.second, &c.offset)) return std::nullopt;
    if (kv.first == "line" && !absl::SimpleAtoi(kv.second, &c.line)) return std::nullopt;
  }
  if (c.offset <= 0 || c.line <= 0) return std::nullopt;
  return c;
}

// Written to a temporary file and renamed, so a crash mid-write leaves the old
// checkpoint, never a torn one.
absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& c) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "crm-sync-state 1\nadapter=" << c.adapter << "\nhead=" << c.head
        << "\noffset=" << c.offset << "\nline=" << c.line << "\n";
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": cannot write the checkpoint"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(path, ": cannot write the checkpoint"));
  }
  return absl::OkStatus();
}

class Progress {
 public:
  Progress(bool enabled, int64_t total_bytes)
      : enabled_(enabled), total_(total_bytes), start_(absl::Now()) {}
  void Update(int64_t offset, int64_t rows) {
    if (!enabled_) return;
    const absl::Time now = absl::Now();
    if (now - last_ < absl::Milliseconds(200)) return;
    last_ = now;
    const double fraction = total_ > 0 ? static_cast<double>(offset) / total_ : 1.0;
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    const double secs = absl::ToDoubleSeconds(now - start_);
    std::fprintf(stderr, "\r[%s%s] %3.0f%%  %lld rows  %.0f rows/s ",
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
                 fraction * 100, static_cast<long long>(rows), secs > 0 ? rows / secs : 0.0);
    std::fflush(stderr);
    shown_ = true;
  }
  // Clears the bar (before an error line, and at the end); the next Update redraws it.
  void Done() {
    if (shown_) std::fprintf(stderr, "\r%s\r", std::string(72, ' ').c_str());
    shown_ = false;
  }

 private:
  bool enabled_;
  int64_t total_;
  absl::Time start_;
  absl::Time last_ = absl::InfinitePast();
  bool shown_ = false;
};

// One source of rows (CSV records under a header, or JSON lines).
class RowSource {
 public:
  virtual ~RowSource() = default;
  struct Next {
    int64_t line = 0;
    int64_t end_offset = 0;
    int64_t next_line = 0;
    std::string error;
    const Row* row = nullptr;
  };
  virtual bool Read(Next* next) = 0;
};

class CsvSource : public RowSource {
 public:
  CsvSource(std::istream& in, int64_t offset, int64_t line, std::vector<std::string> header)
      : reader_(in, offset, line), header_names_(std::move(header)) {
    for (size_t i = 0; i < header_names_.size(); ++i) {
      header_.emplace(std::string(absl::StripAsciiWhitespace(header_names_[i])), i);
    }
  }
  bool Read(Next* next) override {
    if (!reader_.Next(&record_)) return false;
    next->line = record_.line;
    next->end_offset = record_.end_offset;
    next->next_line = record_.next_line;
    next->error = record_.error;
    next->row = nullptr;
    if (!next->error.empty()) return true;
    if (record_.fields.size() != header_names_.size()) {
      next->error = absl::StrCat(record_.fields.size(), " fields, the header has ",
                                 header_names_.size());
      return true;
    }
    for (size_t i = 0; i < record_.fields.size(); ++i) {
      if (std::optional<size_t> bad = InvalidUtf8At(record_.fields[i])) {
        next->error = absl::StrCat(header_names_[i], ": invalid UTF-8 at byte ", *bad + 1,
                                   " (the file must be UTF-8)");
        return true;
      }
    }
    row_.emplace(&header_, &record_.fields);
    next->row = &*row_;
    return true;
  }

 private:
  CsvReader reader_;
  std::vector<std::string> header_names_;
  std::map<std::string, size_t> header_;
  CsvRecord record_;
  std::optional<CsvRow> row_;
};

class JsonLinesSource : public RowSource {
 public:
  JsonLinesSource(std::istream& in, int64_t offset, int64_t line) : reader_(in, offset, line) {}
  bool Read(Next* next) override {
    if (!reader_.Next(&line_)) return false;
    next->line = line_.line;
    next->end_offset = line_.end_offset;
    next->next_line = line_.next_line;
    next->error = line_.error;
    next->row = nullptr;
    if (!next->error.empty()) return true;
    absl::StatusOr<google::protobuf::Value> value = ParseJson(line_.text);
    if (!value.ok()) {
      next->error = std::string(value.status().message());
      return true;
    }
    if (value->kind_case() != google::protobuf::Value::kStructValue) {
      next->error = "not a JSON object";
      return true;
    }
    value_ = *std::move(value);
    row_.emplace(&value_, line_.text);
    next->row = &*row_;
    return true;
  }

 private:
  LineReader reader_;
  TextLine line_;
  google::protobuf::Value value_;
  std::optional<JsonRow> row_;
};

}  // namespace

std::string StatePath(const std::string& input) { return input + ".crm-sync-state"; }

std::string FormatSummary(const ImportSummary& s) {
  std::string out = absl::StrFormat(
      "read %d, imported %d, skipped %d, failed %d in %.2fs (%.0f rows/s)", s.read, s.imported,
      s.skipped, s.failed, s.seconds, s.seconds > 0 ? s.read / s.seconds : 0.0);
  if (s.resumed_at_line > 0) absl::StrAppend(&out, "; resumed at line ", s.resumed_at_line);
  if (!s.finished) absl::StrAppend(&out, "; stopped before line ", s.next_line, " (run again to resume)");
  return out;
}

absl::StatusOr<ImportSummary> RunImport(const ImportOptions& options, Sink& sink,
                                        ImportSummary* partial) {
  const absl::Time started = absl::Now();
  std::ifstream in(options.path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(options.path, ": cannot open"));
  std::error_code size_error;
  const int64_t total_bytes =
      static_cast<int64_t>(std::filesystem::file_size(options.path, size_error));
  Mapping mapping = options.mapping;
  const std::string state_path = StatePath(options.path);
  ImportSummary summary;

  // Where to start: after the header, or at the checkpoint when it still fits the file.
  int64_t offset = 0;
  int64_t line = 1;
  std::vector<std::string> header;
  if (mapping.format == InputFormat::kCsv) {
    CsvReader header_reader(in);
    CsvRecord record;
    if (!header_reader.Next(&record)) {
      return absl::InvalidArgumentError(absl::StrCat(options.path, ": empty, no header"));
    }
    if (!record.error.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(options.path, ": line ", record.line,
                                                     ": header: ", record.error));
    }
    if (InvalidUtf8At(absl::StrJoin(record.fields, ","))) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.path, ": header: invalid UTF-8 (the file must be UTF-8)"));
    }
    header = record.fields;
    offset = record.end_offset;
    // A quoted header may span lines.
    line = record.next_line;
    absl::Status bound = BindHeader(header, &mapping);
    if (!bound.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(options.path, ": ", bound.message()));
    }
  }
  if (!options.restart && sink.resumable()) {
    if (std::optional<Checkpoint> c = ReadCheckpoint(state_path)) {
      if (c->adapter == options.adapter->name && c->offset >= offset && c->offset <= total_bytes &&
          c->head == HeadFingerprint(options.path, c->offset)) {
        offset = c->offset;
        line = c->line;
        summary.resumed_at_line = line;
      } else if (options.errors != nullptr) {
        *options.errors << "note: " << state_path
                        << " does not match this file and adapter; starting from the top\n";
      }
    }
  }
  in.clear();
  in.seekg(offset);
  std::unique_ptr<RowSource> source;
  if (mapping.format == InputFormat::kCsv) {
    source = std::make_unique<CsvSource>(in, offset, line, header);
  } else {
    source = std::make_unique<JsonLinesSource>(in, offset, line);
  }

  Progress progress(options.progress, total_bytes);
  std::vector<Sink::PendingRow> pending;
  size_t pending_items = 0;
  int64_t read_offset = offset;
  int64_t next_line = line;
  const size_t batch_rows = std::max<size_t>(1, options.batch_size);

  auto report = [&](int64_t at, const std::string& why) {
    progress.Done();
    if (options.errors != nullptr) *options.errors << "line " << at << ": " << why << "\n";
    if (options.errors_csv != nullptr) {
      *options.errors_csv << CsvLine({absl::StrCat(at), why});
    }
  };
  auto count = [&](int64_t at, const RowOutcome& outcome) {
    switch (outcome.kind) {
      case RowOutcome::kImported: ++summary.imported; break;
      case RowOutcome::kSkipped: ++summary.skipped; break;
      case RowOutcome::kFailed:
        ++summary.failed;
        report(at, outcome.reason);
        break;
    }
  };
  // Sends what is pending, then moves the checkpoint past every row read so far.
  auto commit = [&]() -> absl::Status {
    if (!pending.empty()) {
      std::vector<RowOutcome> outcomes;
      absl::Status sent = sink.Flush(pending, &outcomes);
      if (!sent.ok()) return sent;
      for (size_t i = 0; i < pending.size(); ++i) {
        count(pending[i].line,
              i < outcomes.size() ? outcomes[i] : RowOutcome{RowOutcome::kFailed, "no answer"});
      }
      pending.clear();
      pending_items = 0;
    }
    if (read_offset > offset && sink.resumable()) {
      Checkpoint c{options.adapter->name, HeadFingerprint(options.path, read_offset), read_offset,
                   next_line};
      return WriteCheckpoint(state_path, c);
    }
    return absl::OkStatus();
  };
  auto fail = [&](absl::Status status) -> absl::StatusOr<ImportSummary> {
    progress.Done();
    summary.seconds = absl::ToDoubleSeconds(absl::Now() - started);
    std::optional<Checkpoint> c = ReadCheckpoint(state_path);
    summary.next_line = c ? c->line : line;
    if (partial != nullptr) *partial = summary;
    return status;
  };

  RowSource::Next next;
  bool stopped = false;
  while (true) {
    if ((options.limit > 0 && summary.read >= options.limit) ||
        (options.stop != nullptr && options.stop->load())) {
      stopped = true;
      break;
    }
    if (!source->Read(&next)) break;
    ++summary.read;
    if (next.row == nullptr) {
      count(next.line, RowOutcome{RowOutcome::kFailed, next.error});
    } else {
      absl::StatusOr<Converted> converted = ConvertRow(*options.adapter, mapping, *next.row, options.now);
      if (!converted.ok()) {
        count(next.line, RowOutcome{RowOutcome::kFailed, std::string(converted.status().message())});
      } else if (converted->items.empty()) {
        count(next.line, RowOutcome{RowOutcome::kSkipped, converted->skip_reason});
      } else {
        if (pending_items + converted->items.size() > sink.max_items()) {
          if (absl::Status s = commit(); !s.ok()) return fail(s);
        }
        pending_items += converted->items.size();
        pending.push_back(Sink::PendingRow{next.line, std::move(converted->items)});
      }
    }
    read_offset = next.end_offset;
    next_line = next.next_line;
    if (pending.size() >= batch_rows) {
      if (absl::Status s = commit(); !s.ok()) return fail(s);
      offset = read_offset;
    }
    progress.Update(read_offset, summary.read);
  }
  if (absl::Status s = commit(); !s.ok()) return fail(s);
  progress.Done();
  summary.finished = !stopped || read_offset >= total_bytes;
  if (!sink.resumable() && !summary.finished) {
    // Nothing was sent: a partial file would give wrong monthly figures.
    summary.imported = 0;
    summary.next_line = line;
    return fail(absl::AbortedError("stopped before the end of the file; nothing was sent "
                                   "(this adapter sends only after reading the whole file)"));
  }
  if (summary.finished) {
    std::ostringstream unused;
    if (absl::Status s = sink.Finish(options.errors != nullptr ? *options.errors : unused); !s.ok()) {
      return fail(s);
    }
    std::remove(state_path.c_str());
  } else {
    summary.next_line = next_line;
  }
  summary.seconds = absl::ToDoubleSeconds(absl::Now() - started);
  return summary;
}

}  // namespace cs::crm_sync
