#include "services/health/churn_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "absl/strings/str_replace.h"
#include "common/testing/status_matchers.h"

namespace cs::health {
namespace {

using ::cs::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

// mt19937_64's output is fixed by the standard, unlike std's distributions, so
// these draws (and the asserted AUCs) are the same with every library.
class Draws {
 public:
  explicit Draws(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>((engine_() >> 11) + 1) * 0x1.0p-53; }  // (0, 1]
  double Normal() {  // Box-Muller
    return std::sqrt(-2 * std::log(Uniform())) * std::cos(2 * std::numbers::pi * Uniform());
  }

 private:
  std::mt19937_64 engine_;
};

const std::vector<std::string> kFeatures = {"logins_per_week", "tickets_per_month", "seats",
                                            "region_code"};

// Churn follows fewer logins and more tickets, plus noise; seats is irrelevant
// and region_code constant. Features sit on very different scales on purpose.
std::vector<ChurnExample> Separable(int n, uint64_t seed) {
  Draws draws(seed);
  std::vector<ChurnExample> out;
  for (int i = 0; i < n; ++i) {
    const double usage = draws.Normal(), tickets = draws.Normal(), seats = draws.Normal();
    const bool churned = -2 * usage + 1.5 * tickets + 0.5 * draws.Normal() > 1;
    out.push_back({{10 + 4 * usage, 3 + 2 * tickets, 5000 + 1000 * seats, 7}, churned});
  }
  return out;
}

// Outcomes independent of the features: no model can do better than chance.
std::vector<ChurnExample> NoiseOnly(int n, uint64_t seed) {
  Draws draws(seed);
  std::vector<ChurnExample> out;
  for (int i = 0; i < n; ++i) {
    std::vector<double> f = {draws.Normal(), draws.Normal(), draws.Normal(), draws.Normal()};
    out.push_back({std::move(f), draws.Uniform() < 0.3});
  }
  return out;
}

TEST(AucTest, PerfectSeparationIsOne) {
  EXPECT_EQ(Auc({0.1, 0.2, 0.8, 0.9}, {false, false, true, true}), 1.0);
}

TEST(AucTest, ReversedIsZero) {
  EXPECT_EQ(Auc({0.9, 0.8, 0.2, 0.1}, {false, false, true, true}), 0.0);
}

TEST(AucTest, AllTiesIsOneHalf) {
  EXPECT_EQ(Auc({3, 3, 3, 3, 3}, {true, false, false, true, false}), 0.5);
}

TEST(AucTest, HandComputedWithTies) {
  // Positives 0.4, 0.8, 0.9 against negatives 0.1, 0.4, 0.8, pair by pair:
  //   0.4: beats 0.1, ties 0.4, loses to 0.8 -> 1.5
  //   0.8: beats 0.1 and 0.4, ties 0.8      -> 2.5
  //   0.9: beats all three                  -> 3
  // 7 of 9 pairs. By ranks: 2.5 + 4.5 + 6 = 13, minus 3*4/2 = 7, over 3*3.
  EXPECT_THAT(Auc({0.1, 0.4, 0.4, 0.8, 0.8, 0.9}, {false, true, false, true, false, true}),
              DoubleNear(7.0 / 9.0, 1e-15));
}

TEST(AucTest, UndefinedIsNaN) {
  EXPECT_TRUE(std::isnan(Auc({1, 2, 3}, {true, true, true})));
  EXPECT_TRUE(std::isnan(Auc({1, 2, 3}, {false, false, false})));
  EXPECT_TRUE(std::isnan(Auc({}, {})));
  EXPECT_TRUE(std::isnan(Auc({1, 2}, {true})));
  EXPECT_TRUE(std::isnan(Auc({1, NAN, 3}, {true, false, true})));
}

TEST(ChurnModelTest, LearnsASeparableSignal) {
  absl::StatusOr<ChurnModel> m = TrainChurnModel(kFeatures, Separable(2000, 11), {.seed = 42});
  ASSERT_OK(m);
  EXPECT_GT(m->auc_holdout, 0.9);
  EXPECT_EQ(m->train_size + m->holdout_size, 2000);
  // Fewer logins raise churn, more tickets raise it, seats hardly matter.
  EXPECT_LT(m->weights[0], -1);
  EXPECT_GT(m->weights[1], 0.5);
  EXPECT_LT(std::abs(m->weights[2]), 0.3);
  // A constant feature standardises to exactly 0, so its weight never moves.
  EXPECT_EQ(m->weights[3], 0);
  EXPECT_EQ(m->means[3], 7);
  EXPECT_EQ(m->scales[3], 1);
  EXPECT_THAT(m->means[0], DoubleNear(10, 0.3));
  EXPECT_THAT(m->scales[2], DoubleNear(1000, 60));
  EXPECT_GT(PredictChurn(*m, {2, 8, 5000, 7}), 0.9);   // barely logs in, many tickets
  EXPECT_LT(PredictChurn(*m, {18, 1, 5000, 7}), 0.01);  // busy, quiet
  RecordProperty("auc_holdout", std::to_string(m->auc_holdout));
}

TEST(ChurnModelTest, NoiseOnlyStaysNearChance) {
  absl::StatusOr<ChurnModel> m =
      TrainChurnModel({"a", "b", "c", "d"}, NoiseOnly(2000, 5), {.seed = 42});
  ASSERT_OK(m);
  // The holdout's labels are independent of the scores, so its AUC follows the
  // Mann-Whitney null: mean 0.5, sd sqrt((n1 + n0 + 1) / (12 n1 n0)) ~= 0.028 for
  // about 150 churned and 350 retained. 0.1 is about 3.5 sd.
  EXPECT_THAT(m->auc_holdout, DoubleNear(0.5, 0.1));
  RecordProperty("auc_holdout", std::to_string(m->auc_holdout));
}

TEST(ChurnModelTest, SameSeedSameModel) {
  const std::vector<ChurnExample> examples = Separable(500, 3);
  absl::StatusOr<ChurnModel> a = TrainChurnModel(kFeatures, examples, {.seed = 7});
  absl::StatusOr<ChurnModel> b = TrainChurnModel(kFeatures, examples, {.seed = 7});
  absl::StatusOr<ChurnModel> c = TrainChurnModel(kFeatures, examples, {.seed = 8});
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  EXPECT_EQ(a->weights, b->weights);
  EXPECT_EQ(a->means, b->means);
  EXPECT_EQ(a->bias, b->bias);
  EXPECT_EQ(a->auc_holdout, b->auc_holdout);
  EXPECT_EQ(EncodeChurnModel(*a), EncodeChurnModel(*b));
  EXPECT_NE(a->weights, c->weights);  // another split
}

TEST(ChurnModelTest, ConvergesWellWithinTheIterationCap) {
  // Newton's method settles in a dozen or so steps; more iterations change nothing.
  const std::vector<ChurnExample> examples = Separable(500, 3);
  absl::StatusOr<ChurnModel> few = TrainChurnModel(kFeatures, examples, {.iterations = 40});
  absl::StatusOr<ChurnModel> many = TrainChurnModel(kFeatures, examples, {.iterations = 500});
  ASSERT_OK(few);
  ASSERT_OK(many);
  EXPECT_EQ(few->weights, many->weights);
  EXPECT_EQ(few->bias, many->bias);
}

TEST(ChurnModelTest, SplitIsStratified) {
  // 2 churned of 12: a quarter of 2 rounds to 1 (at least 1 is held out), a
  // quarter of 10 retained rounds to 3 (llround(2.5)), so both classes are in
  // both parts and the holdout AUC is defined.
  std::vector<ChurnExample> examples;
  for (int i = 0; i < 12; ++i) examples.push_back({{static_cast<double>(i)}, i >= 10});
  absl::StatusOr<ChurnModel> m = TrainChurnModel({"x"}, examples);
  ASSERT_OK(m);
  EXPECT_EQ(m->holdout_size, 4);
  EXPECT_EQ(m->train_size, 8);
  EXPECT_EQ(m->positives, 2);
  EXPECT_EQ(m->auc_holdout, 1.0);  // x separates the classes perfectly
}

TEST(ChurnModelTest, PredictionStaysInsideZeroOne) {
  ChurnModel m;
  m.feature_names = {"x"};
  m.means = {0};
  m.scales = {1};
  m.weights = {1};
  m.bias = 0;
  EXPECT_EQ(PredictChurn(m, {0}), 0.5);
  EXPECT_THAT(PredictChurn(m, {std::log(3.0)}), DoubleNear(0.75, 1e-15));
  EXPECT_LT(PredictChurn(m, {1e9}), 1);
  EXPECT_GT(PredictChurn(m, {-1e9}), 0);
  EXPECT_TRUE(std::isnan(PredictChurn(m, {1, 2})));
}

std::vector<ChurnExample> TwelveValid() {
  std::vector<ChurnExample> examples;
  for (int i = 0; i < 12; ++i) examples.push_back({{1.0 * i, 2.0, 3.0 * i}, i % 3 == 0});
  return examples;
}

TEST(ChurnModelTest, ValidationErrorsNameTheField) {
  const std::vector<std::string> names = {"a", "b", "c"};
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  constexpr absl::StatusCode kPrecondition = absl::StatusCode::kFailedPrecondition;
  auto expect = [](const absl::StatusOr<ChurnModel>& got, absl::StatusCode code,
                   const std::string& message) {
    EXPECT_THAT(got, StatusIs(code, HasSubstr(message)));
  };
  expect(TrainChurnModel({}, TwelveValid()), kInvalid, "feature_names: at least one");
  expect(TrainChurnModel({"a", "", "c"}, TwelveValid()), kInvalid,
         "feature_names[1]: must not be empty");
  expect(TrainChurnModel({"a", "b,x", "c"}, TwelveValid()), kInvalid,
         "feature_names[1]: must not contain a comma");
  expect(TrainChurnModel({"a", "b", "a"}, TwelveValid()), kInvalid,
         "feature_names[2]: \"a\" appears twice");
  expect(TrainChurnModel(names, TwelveValid(), {.holdout_fraction = 1}), kInvalid,
         "options.holdout_fraction");
  expect(TrainChurnModel(names, TwelveValid(), {.l2 = -1}), kInvalid, "options.l2");
  expect(TrainChurnModel(names, TwelveValid(), {.iterations = 0}), kInvalid, "options.iterations");
  expect(TrainChurnModel(names, TwelveValid(), {.learning_rate = NAN}), kInvalid,
         "options.learning_rate");

  std::vector<ChurnExample> short_row = TwelveValid();
  short_row[3].features = {1, 2};
  expect(TrainChurnModel(names, short_row), kInvalid,
         "examples[3].features: has 2 values, expected 3");
  std::vector<ChurnExample> not_finite = TwelveValid();
  not_finite[4].features[1] = INFINITY;
  expect(TrainChurnModel(names, not_finite), kInvalid, "examples[4].features[1]: b is not finite");
  not_finite[4].features[1] = NAN;
  expect(TrainChurnModel(names, not_finite), kInvalid, "examples[4].features[1]");
  std::vector<ChurnExample> huge = TwelveValid();
  for (int i = 0; i < 12; ++i) huge[i].features[2] = 1e307 * i;  // squares overflow
  expect(TrainChurnModel(names, huge), kInvalid,
         "examples.features[2]: c values are too large to standardise");

  std::vector<ChurnExample> nine = TwelveValid();
  nine.resize(9);
  expect(TrainChurnModel(names, nine), kPrecondition,
         "examples: need at least 10 accounts with a known outcome, have 9");
  std::vector<ChurnExample> one_class = TwelveValid();
  for (ChurnExample& e : one_class) e.churned = false;
  expect(TrainChurnModel(names, one_class), kPrecondition,
         "examples: need both churned and retained accounts");
}

ChurnModel HandModel() {
  ChurnModel m;
  m.feature_names = {"a", "b"};
  m.means = {1, 2};
  m.scales = {1, 4};
  m.weights = {0.5, -0.25};
  m.bias = 0.125;
  m.auc_holdout = 0.75;
  m.train_size = 30;
  m.holdout_size = 10;
  m.positives = 12;
  return m;
}

constexpr char kHandModelText[] =
    "churn_model v1\n"
    "features,a,b\n"
    "means,1,2\n"
    "scales,1,4\n"
    "weights,0.5,-0.25\n"
    "bias,0.125\n"
    "auc_holdout,0.75\n"
    "train_size,30\n"
    "holdout_size,10\n"
    "positives,12\n";

TEST(ChurnModelCodecTest, TextFormat) { EXPECT_EQ(EncodeChurnModel(HandModel()), kHandModelText); }

void ExpectSameModel(const ChurnModel& a, const ChurnModel& b) {
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.means, b.means);
  EXPECT_EQ(a.scales, b.scales);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_TRUE(a.auc_holdout == b.auc_holdout ||
              (std::isnan(a.auc_holdout) && std::isnan(b.auc_holdout)));
  EXPECT_EQ(a.train_size, b.train_size);
  EXPECT_EQ(a.holdout_size, b.holdout_size);
  EXPECT_EQ(a.positives, b.positives);
}

TEST(ChurnModelCodecTest, RoundTripIsExact) {
  absl::StatusOr<ChurnModel> trained = TrainChurnModel(kFeatures, Separable(300, 9));
  ASSERT_OK(trained);
  ChurnModel awkward = HandModel();
  awkward.means = {0.1, -1e308};
  awkward.scales = {1.0 / 3, 5e-324};  // a subnormal
  awkward.weights = {-0.0, 2.0 / 3};
  awkward.auc_holdout = NAN;
  for (const ChurnModel& m : {*trained, awkward}) {
    const std::string text = EncodeChurnModel(m);
    absl::StatusOr<ChurnModel> decoded = DecodeChurnModel(text);
    ASSERT_OK(decoded) << text;
    ExpectSameModel(*decoded, m);
    EXPECT_EQ(EncodeChurnModel(*decoded), text);
  }
  // Without the final newline too: a TEXT column may have lost it.
  std::string trimmed = kHandModelText;
  trimmed.pop_back();
  EXPECT_OK(DecodeChurnModel(trimmed));
}

TEST(ChurnModelCodecTest, CorruptTextIsDataLoss) {
  const std::string good = kHandModelText;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected \"churn_model v1\""},
      {"garbage", "expected \"churn_model v1\""},
      {std::string("\0\xff\n", 3), "expected \"churn_model v1\""},
      {absl::StrReplaceAll(good, {{"v1", "v2"}}), "churn_model v1"},
      {good.substr(0, good.find("positives")), "ends before \"positives\""},
      {good + "extra,1\n", "unexpected lines"},
      {absl::StrReplaceAll(good, {{"means,1,2", "means,1,abc"}}),
       "means[1]: \"abc\" is not a number"},
      {absl::StrReplaceAll(good, {{"means,1,2", "means,1,2x"}}), "means[1]"},
      {absl::StrReplaceAll(good, {{"means,1,2", "means,1"}}), "means: has 1 values, expected 2"},
      {absl::StrReplaceAll(good, {{"means,1,2", "means,1,2,3"}}), "means: has 3 values"},
      {absl::StrReplaceAll(good, {{"means,1,2\nscales", "scales"}}), "expected \"means\""},
      {absl::StrReplaceAll(good, {{"scales,1,4", "scales,1,0"}}), "scales"},
      {absl::StrReplaceAll(good, {{"scales,1,4", "scales,1,-4"}}), "scales"},
      {absl::StrReplaceAll(good, {{"weights,0.5", "weights,inf"}}), "finite"},
      {absl::StrReplaceAll(good, {{"bias,0.125", "bias,nan"}}), "finite"},
      {absl::StrReplaceAll(good, {{"auc_holdout,0.75", "auc_holdout,1.5"}}), "auc_holdout"},
      {absl::StrReplaceAll(good, {{"train_size,30", "train_size,-3"}}), "train_size"},
      {absl::StrReplaceAll(good, {{"train_size,30", "train_size,2.5"}}), "train_size"},
      {absl::StrReplaceAll(good, {{"train_size,30", "train_size,99999999999"}}), "train_size"},
      {absl::StrReplaceAll(good, {{"positives,12", "positives,41"}}), "positives exceeds"},
      {absl::StrReplaceAll(good, {{"features,a,b", "features,a,"}}), "feature_names[1]"},
      {absl::StrReplaceAll(good, {{"features,a,b", "features,a,a"}}), "appears twice"},
      {absl::StrReplaceAll(good, {{"features,a,b", "features"}}), "feature_names"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_THAT(DecodeChurnModel(text), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(message)))
        << "text:\n" << text;
  }
}

}  // namespace
}  // namespace cs::health
