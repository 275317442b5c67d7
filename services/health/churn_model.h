#ifndef CS_SERVICES_HEALTH_CHURN_MODEL_H_
#define CS_SERVICES_HEALTH_CHURN_MODEL_H_

// Churn prediction: an L2-regularised logistic regression over standardised
// account features, judged by ROC AUC on a held-out split. Pure values and
// functions (no storage, no wire types); the model travels to the database as
// text so the service needs no proto for it.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cs::health {

// One account whose outcome is known.
struct ChurnExample {
  std::vector<double> features;  // in the order of the model's feature_names
  bool churned = false;
};

struct ChurnModel {
  std::vector<std::string> feature_names;
  // Standardisation learnt from the training split: x' = (x - mean) / scale.
  std::vector<double> means, scales;
  std::vector<double> weights;  // on standardised features
  double bias = 0;
  double auc_holdout = 0;  // NaN when the holdout lacks one class
  int train_size = 0;
  int holdout_size = 0;
  int positives = 0;  // churned accounts among all examples
};

struct TrainOptions {
  double holdout_fraction = 0.25;  // of each class, so both classes are held out
  double l2 = 1e-3;                // on the weights, not the bias
  int iterations = 500;            // at most, of Newton's method; it stops when converged
  // Fraction of the Newton step tried first; halved until the loss falls.
  double learning_rate = 1.0;
  uint64_t seed = 1;  // the split depends only on this and the examples' order
};

// Too few examples or a single class are FAILED_PRECONDITION (more history is
// needed, retrying won't help); malformed input is INVALID_ARGUMENT. Errors name
// the field ("examples[3].features"). Feature names must be non-empty and free of
// commas and line breaks, so the model encodes as text.
absl::StatusOr<ChurnModel> TrainChurnModel(const std::vector<std::string>& feature_names,
                                           const std::vector<ChurnExample>& examples,
                                           const TrainOptions& options = {});

// Probability of churn in (0, 1). NaN when features has the wrong length or a
// non-finite value; callers hold features in the model's order.
double PredictChurn(const ChurnModel& model, const std::vector<double>& features);

// ROC AUC by the rank sum (Mann-Whitney U): the chance that a random positive
// scores above a random negative, ties counting half. NaN when one class is
// empty, the lengths differ or a score is NaN.
double Auc(const std::vector<double>& scores, const std::vector<bool>& positive);

// A line-per-field text form with 17 significant digits, so doubles round-trip
// exactly. Decoding corrupt or inconsistent text is DATA_LOSS.
std::string EncodeChurnModel(const ChurnModel& model);
absl::StatusOr<ChurnModel> DecodeChurnModel(absl::string_view text);

}  // namespace cs::health

#endif  // CS_SERVICES_HEALTH_CHURN_MODEL_H_
