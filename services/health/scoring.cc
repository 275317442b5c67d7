#include "services/health/scoring.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "services/health/packed_rows.h"
#include "services/health/signal.h"

namespace cs::health {
namespace {

bool SameScore(const StoredScore& a, const StoredScore& b) {
  if (a.scorecard_id != b.scorecard_id || a.scorecard_version != b.scorecard_version ||
      a.band != b.band || std::abs(a.score - b.score) > 1e-9) {
    return false;
  }
  // One scorecard version turns the same raw values into the same text.
  if (b.encoded_components.has_value()) return a.encoded_components == b.encoded_components;
  if (a.components.size() != b.components.size()) return false;
  for (size_t i = 0; i < a.components.size(); ++i) {
    if (a.components[i].missing != b.components[i].missing ||
        std::abs(a.components[i].raw - b.components[i].raw) > 1e-9) {
      return false;
    }
  }
  return true;
}

ScoreChange ChangeOf(const StoredScore& now, const StoredScore* before, const Account& account) {
  ScoreChange c;
  c.account_id = now.account_id;
  c.score_name = now.score_name;
  if (before != nullptr) {
    c.previous_score = before->score;
    c.previous_band = before->band;
  }
  c.score = now.score;
  c.band = now.band;
  c.scorecard_id = now.scorecard_id;
  c.scorecard_version = now.scorecard_version;
  c.computed_at = now.computed_at;
  c.tier = account.tier;
  return c;
}

}  // namespace

int CounterDaysNeeded(const std::vector<Scorecard>& scorecards, const AlertSettings& settings) {
  int days = 2 * settings.period_days;
  for (const Scorecard& s : scorecards) {
    for (const ComponentSpec& c : s.components) days = std::max(days, c.measure.lookback_days);
  }
  return days;
}

absl::StatusOr<Score> ScoreAt(const Scorecard& scorecard, const CounterWindow& counters,
                              absl::CivilDay day) {
  std::map<std::string, double> raw;
  for (const ComponentSpec& c : scorecard.components) {
    std::optional<double> value =
        ComputeMeasure(c.measure.measure, counters, day, c.measure.lookback_days);
    if (value.has_value()) raw.emplace(c.measure.measure, *value);
  }
  return ComputeScore(scorecard, raw);
}

RescoreOutput Rescore(const RescoreInput& in) {
  RescoreOutput out;
  // An account with no signal yet has no score; one whose signals all aged out
  // of the window keeps being scored, so its score decays instead of freezing.
  if (in.counters->empty() && in.current.empty()) return out;
  const Account& account = *in.account;
  const absl::CivilDay today = DayOf(in.now);

  std::set<std::string> score_names;
  for (const Scorecard& s : *in.scorecards) score_names.insert(s.score_name);
  std::optional<StoredScore> health_before, health_now;
  for (const std::string& name : score_names) {
    const Scorecard* card = ChooseScorecard(*in.scorecards, name, account.tier, account.industry);
    if (card == nullptr) continue;
    absl::StatusOr<Score> score = ScoreAt(*card, *in.counters, today);
    if (!score.ok()) continue;  // nothing to measure for this scorecard yet

    StoredScore s;
    s.account_id = account.account_id;
    s.score_name = name;
    s.scorecard_id = card->scorecard_id;
    s.scorecard_version = card->version;
    s.score = score->value;
    s.band = score->band;
    s.components = score->components;
    s.computed_at = in.now;
    auto it = in.current.find(name);
    const StoredScore* before = it == in.current.end() ? nullptr : &it->second;
    if (before != nullptr && before->encoded_components.has_value()) {
      s.encoded_components = EncodeComponents(s.components);
    }
    s.published_score = before == nullptr ? s.score : before->published_score;
    const bool changed = before == nullptr || !SameScore(s, *before);
    if (before == nullptr || s.band != before->band ||
        std::abs(s.score - before->published_score) >= kPublishedScoreStep) {
      s.published_score = s.score;
      out.score_changed.push_back(ChangeOf(s, before, account));
    }
    if (before != nullptr && s.band != before->band) {
      out.band_changed.push_back(ChangeOf(s, before, account));
    }
    if (name == kDefaultScoreName) {
      if (before != nullptr) health_before = *before;
      health_now = s;
    }
    out.scores.push_back(std::move(s));
    out.changed.push_back(changed);
  }

  if (account.lifecycle == Lifecycle::kChurned) return out;
  std::vector<AlertFinding> findings = EvaluateSignalRules(*in.counters, today, *in.settings);
  std::vector<AlertKind> evaluated = SignalRuleKinds();
  if (health_now.has_value()) {
    const Alert* open_band = nullptr;
    for (const Alert& a : in.open_alerts) {
      if (a.kind == AlertKind::kBandWorsened) open_band = &a;
    }
    std::optional<Band> previous_band;
    if (health_before.has_value()) previous_band = health_before->band;
    std::vector<AlertFinding> score_findings = EvaluateScoreRules(
        previous_band, health_now->band, health_now->score, open_band, *in.settings);
    findings.insert(findings.end(), score_findings.begin(), score_findings.end());
    evaluated.insert(evaluated.end(), ScoreRuleKinds().begin(), ScoreRuleKinds().end());
  }
  out.alerts = ReconcileAlerts(account.account_id, in.open_alerts, findings, evaluated, in.now);
  return out;
}

}  // namespace cs::health
