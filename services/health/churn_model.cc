#include "services/health/churn_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace cs::health {
namespace {

constexpr size_t kMinExamples = 10;
constexpr absl::string_view kHeader = "churn_model v1";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// splitmix64 (Steele, Lea, Flood 2014): tiny and fully specified, so a seed gives
// the same split with every standard library.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

absl::Status Invalid(const std::string& field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status Corrupt(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("churn model text: ", why));
}

double Sigmoid(double z) {
  // Two forms so exp never overflows.
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

// Names go into a comma-separated line, and a duplicate would make the order of
// the model's inputs ambiguous to whoever builds them.
absl::Status ValidateFeatureNames(const std::vector<std::string>& names) {
  if (names.empty()) return Invalid("feature_names", "at least one is required");
  std::set<std::string> seen;
  for (size_t j = 0; j < names.size(); ++j) {
    const std::string field = absl::StrCat("feature_names[", j, "]");
    if (names[j].empty()) return Invalid(field, "must not be empty");
    if (names[j].find_first_of(",\r\n") != std::string::npos) {
      return Invalid(field, "must not contain a comma or a line break");
    }
    if (!seen.insert(names[j]).second) {
      return Invalid(field, absl::StrCat("\"", names[j], "\" appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const TrainOptions& o) {
  if (!(o.holdout_fraction > 0 && o.holdout_fraction < 1)) {
    return Invalid("options.holdout_fraction", "must be between 0 and 1, exclusive");
  }
  if (!(o.l2 >= 0 && std::isfinite(o.l2))) {
    return Invalid("options.l2", "must be finite and not negative");
  }
  if (o.iterations < 1) return Invalid("options.iterations", "must be at least 1");
  if (!(o.learning_rate > 0 && o.learning_rate <= 1)) {
    return Invalid("options.learning_rate", "must be in (0, 1]");
  }
  return absl::OkStatus();
}

// Linear predictor; AUC is taken on it rather than on the probability, which
// saturates to equal values (false ties) for confident predictions.
double Logit(const ChurnModel& m, const std::vector<double>& features) {
  if (features.size() != m.weights.size()) return kNaN;
  double z = m.bias;
  for (size_t j = 0; j < features.size(); ++j) {
    z += m.weights[j] * (features[j] - m.means[j]) / m.scales[j];
  }
  return z;
}

// Stratified: each class is shuffled and split on its own, and keeps at least one
// account on each side when it has two, so the holdout AUC is defined.
void Split(const std::vector<ChurnExample>& examples, const TrainOptions& options,
           std::vector<size_t>* train, std::vector<size_t>* holdout) {
  SplitMix64 rng(options.seed);
  for (bool churned : {false, true}) {
    std::vector<size_t> members;
    for (size_t i = 0; i < examples.size(); ++i) {
      if (examples[i].churned == churned) members.push_back(i);
    }
    // Fisher-Yates; the modulo bias is below n / 2^64.
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.Next() % i]);
    const auto size = static_cast<int64_t>(members.size());
    const double share = options.holdout_fraction * static_cast<double>(size);
    const int64_t held = size < 2 ? 0 : std::clamp<int64_t>(std::llround(share), 1, size - 1);
    holdout->insert(holdout->end(), members.begin(), members.begin() + held);
    train->insert(train->end(), members.begin() + held, members.end());
  }
}

// log(1 + e^z) without overflow.
double Softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }

// Mean log loss plus l2/2 |w|^2. Rows end in a 1 for the bias, which is the last
// coefficient and is not penalised.
double Loss(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
            const std::vector<double>& theta, double l2) {
  double loss = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double z = 0;
    for (size_t a = 0; a < theta.size(); ++a) z += theta[a] * x[i][a];
    loss += Softplus(y[i] > 0 ? -z : z);
  }
  loss /= static_cast<double>(x.size());
  for (size_t a = 0; a + 1 < theta.size(); ++a) loss += l2 / 2 * theta[a] * theta[a];
  return loss;
}

// Solves h * v = g in place for a symmetric positive definite h (k x k, row-major,
// lower triangle used) by Cholesky; false when h is not positive definite.
bool CholeskySolve(std::vector<double> h, size_t k, std::vector<double>* g) {
  for (size_t j = 0; j < k; ++j) {
    for (size_t i = j; i < k; ++i) {
      double s = h[i * k + j];
      for (size_t c = 0; c < j; ++c) s -= h[i * k + c] * h[j * k + c];
      if (i == j && !(s > 0)) return false;
      h[i * k + j] = i == j ? std::sqrt(s) : s / h[j * k + j];
    }
  }
  std::vector<double>& v = *g;
  for (size_t i = 0; i < k; ++i) {
    for (size_t c = 0; c < i; ++c) v[i] -= h[i * k + c] * v[c];
    v[i] /= h[i * k + i];
  }
  for (size_t i = k; i-- > 0;) {
    for (size_t c = i + 1; c < k; ++c) v[i] -= h[c * k + i] * v[c];
    v[i] /= h[i * k + i];
  }
  return true;
}

// Newton's method on the convex loss above: a handful of iterations reach the
// optimum to rounding, where gradient descent would still be creeping along the
// flat directions of a strong signal. Each step starts at learning_rate times the
// Newton step and is halved until the loss falls, so it cannot diverge; nothing is
// random, so the same input always yields the same weights.
void Fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y,
         const TrainOptions& options, ChurnModel* m) {
  const size_t k = m->means.size() + 1;
  const double n = static_cast<double>(x.size());
  std::vector<double> theta(k, 0);
  double loss = Loss(x, y, theta, options.l2);
  for (int it = 0; it < options.iterations; ++it) {
    std::vector<double> step(k, 0), hessian(k * k, 0);
    for (size_t i = 0; i < x.size(); ++i) {
      double z = 0;
      for (size_t a = 0; a < k; ++a) z += theta[a] * x[i][a];
      const double p = Sigmoid(z);
      for (size_t a = 0; a < k; ++a) {
        step[a] += (p - y[i]) * x[i][a] / n;
        for (size_t b = 0; b <= a; ++b) hessian[a * k + b] += p * (1 - p) * x[i][a] * x[i][b] / n;
      }
    }
    for (size_t a = 0; a < k; ++a) {
      if (a + 1 < k) {
        step[a] += options.l2 * theta[a];
        hessian[a * k + a] += options.l2;
      }
      // Keeps a constant feature (an all-zero column) solvable when l2 is 0.
      hessian[a * k + a] += 1e-12;
    }
    if (!CholeskySolve(hessian, k, &step)) break;
    std::vector<double> next(k);
    double next_loss = loss, fraction = options.learning_rate;
    bool lowered = false;
    for (int halvings = 0; halvings < 40 && !lowered; ++halvings, fraction /= 2) {
      for (size_t a = 0; a < k; ++a) next[a] = theta[a] - fraction * step[a];
      next_loss = Loss(x, y, next, options.l2);
      lowered = next_loss <= loss;
    }
    if (!lowered) break;  // no step lowers the loss: at the optimum to rounding
    double moved = 0;
    for (size_t a = 0; a < k; ++a) moved = std::max(moved, std::abs(next[a] - theta[a]));
    theta.swap(next);
    loss = next_loss;
    if (moved < 1e-10) break;
  }
  m->weights.assign(theta.begin(), theta.end() - 1);
  m->bias = theta.back();
}

}  // namespace

absl::StatusOr<ChurnModel> TrainChurnModel(const std::vector<std::string>& feature_names,
                                           const std::vector<ChurnExample>& examples,
                                           const TrainOptions& options) {
  RETURN_IF_ERROR(ValidateFeatureNames(feature_names));
  RETURN_IF_ERROR(ValidateOptions(options));
  const size_t d = feature_names.size();
  int positives = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const std::vector<double>& f = examples[i].features;
    const std::string field = absl::StrCat("examples[", i, "].features");
    if (f.size() != d) {
      return Invalid(field, absl::StrCat("has ", f.size(), " values, expected ", d));
    }
    for (size_t j = 0; j < d; ++j) {
      if (!std::isfinite(f[j])) {
        return Invalid(absl::StrCat(field, "[", j, "]"),
                       absl::StrCat(feature_names[j], " is not finite"));
      }
    }
    positives += examples[i].churned ? 1 : 0;
  }
  if (examples.size() < kMinExamples) {
    return absl::FailedPreconditionError(absl::StrCat(
        "examples: need at least ", kMinExamples, " accounts with a known outcome, have ",
        examples.size()));
  }
  if (positives == 0 || positives == static_cast<int>(examples.size())) {
    return absl::FailedPreconditionError("examples: need both churned and retained accounts");
  }

  std::vector<size_t> train, holdout;
  Split(examples, options, &train, &holdout);

  ChurnModel m;
  m.feature_names = feature_names;
  m.train_size = static_cast<int>(train.size());
  m.holdout_size = static_cast<int>(holdout.size());
  m.positives = positives;
  m.means.assign(d, 0);
  m.scales.assign(d, 1);
  const double n = static_cast<double>(train.size());
  for (size_t j = 0; j < d; ++j) {
    double sum = 0, lo = examples[train[0]].features[j], hi = lo;
    for (size_t i : train) {
      sum += examples[i].features[j];
      lo = std::min(lo, examples[i].features[j]);
      hi = std::max(hi, examples[i].features[j]);
    }
    // A constant feature carries no information. Its mean is taken exactly and its
    // scale left at 1, so it standardises to exactly 0 rather than to rounding
    // noise divided by rounding noise.
    if (lo == hi) {
      m.means[j] = lo;
      continue;
    }
    m.means[j] = sum / n;
    double squares = 0;
    for (size_t i : train) squares += std::pow(examples[i].features[j] - m.means[j], 2);
    if (squares > 0) m.scales[j] = std::sqrt(squares / n);  // 0 only on underflow
    // Near DBL_MAX the sums overflow; such a model could neither predict nor encode.
    if (!std::isfinite(m.means[j]) || !std::isfinite(m.scales[j])) {
      return Invalid(absl::StrCat("examples.features[", j, "]"),
                     absl::StrCat(feature_names[j], " values are too large to standardise"));
    }
  }

  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (size_t i : train) {
    std::vector<double>& row = x.emplace_back(d + 1, 1.0);  // the last 1 multiplies the bias
    for (size_t j = 0; j < d; ++j) row[j] = (examples[i].features[j] - m.means[j]) / m.scales[j];
    y.push_back(examples[i].churned ? 1 : 0);
  }
  Fit(x, y, options, &m);

  std::vector<double> scores;
  std::vector<bool> churned;
  for (size_t i : holdout) {
    scores.push_back(Logit(m, examples[i].features));
    churned.push_back(examples[i].churned);
  }
  m.auc_holdout = Auc(scores, churned);
  return m;
}

double PredictChurn(const ChurnModel& model, const std::vector<double>& features) {
  // +-35 keeps the answer strictly inside (0, 1) in double precision.
  return Sigmoid(std::clamp(Logit(model, features), -35.0, 35.0));
}

double Auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  if (scores.size() != positive.size()) return kNaN;
  // A NaN would break the sort's ordering.
  if (std::any_of(scores.begin(), scores.end(), [](double s) { return std::isnan(s); })) {
    return kNaN;
  }
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  double positives = 0;
  for (size_t lo = 0; lo < order.size();) {
    size_t hi = lo;
    while (hi < order.size() && scores[order[hi]] == scores[order[lo]]) ++hi;
    // Tied scores share the mean of ranks lo+1..hi, which counts each tie as half.
    const double rank = static_cast<double>(lo + 1 + hi) / 2;
    for (size_t k = lo; k < hi; ++k) {
      if (positive[order[k]]) {
        positive_rank_sum += rank;
        ++positives;
      }
    }
    lo = hi;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

std::string EncodeChurnModel(const ChurnModel& m) {
  // %.17g is enough digits for any double to read back bit for bit.
  const auto doubles = [](const std::vector<double>& v) {
    return absl::StrJoin(
        v, ",", [](std::string* out, double x) { absl::StrAppendFormat(out, "%.17g", x); });
  };
  return absl::StrCat(kHeader, "\nfeatures,", absl::StrJoin(m.feature_names, ","),
                      "\nmeans,", doubles(m.means), "\nscales,", doubles(m.scales),
                      "\nweights,", doubles(m.weights), "\nbias,", doubles({m.bias}),
                      "\nauc_holdout,", doubles({m.auc_holdout}), "\ntrain_size,", m.train_size,
                      "\nholdout_size,", m.holdout_size, "\npositives,", m.positives, "\n");
}

namespace {

// Reads the encoded lines in order; each must start with the expected key.
class ModelText {
 public:
  explicit ModelText(absl::string_view text) : lines_(absl::StrSplit(text, '\n')) {
    if (lines_.size() > 1 && lines_.back().empty()) lines_.pop_back();
  }

  absl::StatusOr<std::vector<absl::string_view>> Fields(absl::string_view key) {
    if (next_ >= lines_.size()) return Corrupt(absl::StrCat("ends before \"", key, "\""));
    std::vector<absl::string_view> fields = absl::StrSplit(lines_[next_++], ',');
    if (fields.front() != key) {
      return Corrupt(absl::StrCat("line ", next_, ": expected \"", key, "\""));
    }
    fields.erase(fields.begin());
    return fields;
  }

  absl::StatusOr<std::vector<double>> Doubles(absl::string_view key, size_t expected) {
    ASSIGN_OR_RETURN(std::vector<absl::string_view> fields, Fields(key));
    if (fields.size() != expected) {
      return Corrupt(absl::StrCat(key, ": has ", fields.size(), " values, expected ", expected));
    }
    std::vector<double> values(fields.size());
    for (size_t j = 0; j < fields.size(); ++j) {
      if (!absl::SimpleAtod(fields[j], &values[j])) {
        return Corrupt(absl::StrCat(key, "[", j, "]: \"", fields[j], "\" is not a number"));
      }
    }
    return values;
  }

  absl::StatusOr<int> Count(absl::string_view key) {
    ASSIGN_OR_RETURN(std::vector<absl::string_view> fields, Fields(key));
    int value = 0;
    if (fields.size() != 1 || !absl::SimpleAtoi(fields[0], &value) || value < 0) {
      return Corrupt(absl::StrCat(key, ": must be one count"));
    }
    return value;
  }

  bool AtEnd() const { return next_ == lines_.size(); }

 private:
  std::vector<absl::string_view> lines_;
  size_t next_ = 0;
};

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

absl::StatusOr<ChurnModel> DecodeChurnModel(absl::string_view text) {
  ModelText in(text);
  ASSIGN_OR_RETURN(std::vector<absl::string_view> header, in.Fields(kHeader));
  if (!header.empty()) return Corrupt("unexpected text after the header");
  ChurnModel m;
  ASSIGN_OR_RETURN(std::vector<absl::string_view> names, in.Fields("features"));
  for (absl::string_view name : names) m.feature_names.emplace_back(name);
  if (absl::Status s = ValidateFeatureNames(m.feature_names); !s.ok()) return Corrupt(s.message());
  const size_t d = names.size();
  ASSIGN_OR_RETURN(m.means, in.Doubles("means", d));
  ASSIGN_OR_RETURN(m.scales, in.Doubles("scales", d));
  ASSIGN_OR_RETURN(m.weights, in.Doubles("weights", d));
  ASSIGN_OR_RETURN(std::vector<double> bias, in.Doubles("bias", 1));
  ASSIGN_OR_RETURN(std::vector<double> auc, in.Doubles("auc_holdout", 1));
  m.bias = bias[0];
  m.auc_holdout = auc[0];
  ASSIGN_OR_RETURN(m.train_size, in.Count("train_size"));
  ASSIGN_OR_RETURN(m.holdout_size, in.Count("holdout_size"));
  ASSIGN_OR_RETURN(m.positives, in.Count("positives"));
  if (!in.AtEnd()) return Corrupt("unexpected lines after \"positives\"");
  // A model that parses but would predict NaN is as corrupt as one that doesn't parse.
  if (!AllFinite(m.means) || !AllFinite(m.weights) || !std::isfinite(m.bias)) {
    return Corrupt("means, weights and bias must be finite");
  }
  if (!AllFinite(m.scales) ||
      std::any_of(m.scales.begin(), m.scales.end(), [](double s) { return s <= 0; })) {
    return Corrupt("scales must be finite and positive");
  }
  if (!std::isnan(m.auc_holdout) && !(m.auc_holdout >= 0 && m.auc_holdout <= 1)) {
    return Corrupt("auc_holdout must be in [0, 1] or nan");
  }
  if (static_cast<int64_t>(m.positives) > static_cast<int64_t>(m.train_size) + m.holdout_size) {
    return Corrupt("positives exceeds the number of examples");
  }
  return m;
}

}  // namespace cs::health
