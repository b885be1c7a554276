// Client-level DP (clipping, noise, the accountant against dp-accounting) and the robust
// aggregation rules and Byzantine attacks, in process.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "fedkseed/common/dp_accountant.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/federation/byzantine.h"
#include "fedkseed/federation/client_update.h"
#include "fedkseed/federation/dp_noise.h"
#include "fedkseed/federation/robust_aggregation.h"
#include "fedkseed/federation/uplink_shaping.h"
#include "test_util.h"

namespace fedkseed {
namespace {

double uplink_norm(const Uplink& uplink) {
  return l2_norm(per_seed_sums(uplink.seeds, std::vector<double>(uplink.values.begin(), uplink.values.end())));
}

// Sample variance about a known mean of 0.
double variance(const std::vector<double>& samples) {
  double squares = 0.0;
  for (double x : samples) squares += x * x;
  return squares / static_cast<double>(samples.size());
}

TEST(DpClip, PerSeedSumsEndAtMostCAndKeepTheirDirection) {
  Rng rng(3, "test");
  for (int trial = 0; trial < 50; ++trial) {
    Uplink uplink;
    for (int step = 0; step < 40; ++step) {
      uplink.seeds.push_back(static_cast<uint64_t>(rng.uniform_int(0, 8)));  // repeated seeds: sums, not steps
      uplink.values.push_back(static_cast<float>(20 * rng.normal()));
    }
    const Uplink original = uplink;
    const double clip = 0.1 + 5 * rng.uniform();
    clip_uplink(uplink, clip);
    const double before = uplink_norm(original), after = uplink_norm(uplink);
    EXPECT_LE(after, clip * (1 + 1e-6)) << "trial " << trial;  // float values: 1e-6 relative
    if (before <= clip) {
      EXPECT_EQ(uplink.values, original.values);
      continue;
    }
    EXPECT_NEAR(after, clip, clip * 1e-6);
    for (std::size_t i = 0; i < uplink.values.size(); ++i) {
      EXPECT_NEAR(uplink.values[i], original.values[i] * clip / before, 1e-6 * std::fabs(original.values[i]) + 1e-12);
    }
  }
  Uplink untouched{7, false, {1, 2}, {3.0f, 4.0f}};
  clip_uplink(untouched, std::numeric_limits<double>::infinity());
  EXPECT_EQ(untouched.values, (std::vector<float>{3.0f, 4.0f}));
}

// 40000 draws: the sample variance's relative standard error is sqrt(2 / 40000) = 0.7 %, so a 4 %
// tolerance is over 5 standard errors (and the draws are fixed by the seed).
constexpr int64_t kDraws = 40000;
constexpr double kVarianceTolerance = 0.04;

TEST(DpNoise, ServerNoiseHasVarianceSigmaSquaredCSquared) {
  const double sigma = 1.3, clip = 0.7;
  std::vector<double> entries(kDraws, 0.0);
  Rng rng = noise_rng(11, 1, -1);
  add_gaussian_noise(entries, sigma * clip, rng);
  EXPECT_NEAR(variance(entries) / (sigma * sigma * clip * clip), 1.0, kVarianceTolerance);
}

TEST(DpNoise, SplitSharesSumToTheSameDistribution) {
  const double sigma = 1.3, clip = 0.7;
  const int64_t cohort = 8;
  UplinkShaping shaping;
  shaping.seed = 11;
  shaping.clip = clip;
  shaping.noise_entries = kDraws;
  shaping.noise_share_std = sigma * clip / std::sqrt(static_cast<double>(cohort));
  std::vector<double> sum(kDraws, 0.0);
  for (int64_t client = 0; client < cohort; ++client) {
    Uplink uplink;
    shaping.apply(uplink, client, 1);
    ASSERT_EQ(uplink.seeds.size(), static_cast<std::size_t>(kDraws));
    for (int64_t j = 0; j < kDraws; ++j) {
      EXPECT_EQ(uplink.seeds[j], static_cast<uint64_t>(j));
      sum[j] += uplink.values[j];
    }
  }
  EXPECT_NEAR(variance(sum) / (sigma * sigma * clip * clip), 1.0, kVarianceTolerance);
}

// The committed fixture comes from scripts/parity/dp_epsilon_grid.py (dp-accounting's RdpAccountant).
TEST(DpAccountant, MatchesDpAccountingWithinOnePercent) {
  const auto fixture =
      nlohmann::json::parse(test::read_text(std::string(FEDKSEED_SOURCE_DIR) + "/tests/data/dp/rdp_wor_epsilon.json"));
  ASSERT_EQ(fixture.at("cases").size(), 27u);
  for (const auto& c : fixture.at("cases")) {
    const double expected = c.at("epsilon").get<double>();
    const double actual = DpAccountant(c.at("q").get<double>(), c.at("noise_multiplier").get<double>())
                              .epsilon(c.at("rounds").get<int64_t>(), c.at("delta").get<double>());
    EXPECT_NEAR(actual, expected, 0.01 * expected) << c.dump();
  }
}

TEST(DpAccountant, SolvedNoiseMeetsTheTargetAndRefusesTheUnreachable) {
  for (double target : {0.5, 2.0, 8.0}) {
    const double sigma = noise_multiplier_for(target, 1e-5, 100, 0.05);
    EXPECT_LE(DpAccountant(0.05, sigma).epsilon(100, 1e-5), target);
    EXPECT_GT(DpAccountant(0.05, sigma * 0.999).epsilon(100, 1e-5), target);
  }
  EXPECT_THROW(noise_multiplier_for(1e-4, 1e-5, 100, 0.05), Error);
  // The run's σ is twice the accountant's: replacing a client moves the clipped sum by 2C.
  EXPECT_EQ(accountant_for(2.0, 0.1).rdp_per_round(), DpAccountant(0.1, 1.0).rdp_per_round());
  EXPECT_NEAR(dp_noise_for(2.0, 1e-5, 100, 0.05), 2 * noise_multiplier_for(2.0, 1e-5, 100, 0.05), 1e-12);
}

TEST(DpAccountant, EpsilonGrowsWithRoundsAndShrinksWithNoise) {
  const DpAccountant accountant(0.1, 1.0);
  EXPECT_EQ(accountant.epsilon(0, 1e-5), 0.0);
  EXPECT_LT(accountant.epsilon(10, 1e-5), accountant.epsilon(20, 1e-5));
  EXPECT_GT(accountant.epsilon(10, 1e-5), DpAccountant(0.1, 2.0).epsilon(10, 1e-5));
}

// Three clients of equal data size over a pool of 4: seed 3 is drawn by nobody.
const std::vector<ClientUpdate> kCohort = {
    {10, {0, 0, 1, 2}, {1.0, 1.0, 4.0, -1.0}},  // sums: 0 -> 2, 1 -> 4, 2 -> -1
    {10, {0, 1}, {3.0, 6.0}},                   // 0 -> 3, 1 -> 6
    {10, {0, 1}, {100.0, 5.0}},                 // 0 -> 100 (an outlier), 1 -> 5
};

TEST(RobustAggregation, MeanIsTheReferencesWeightedMean) {
  const auto increment = aggregate_updates(kCohort, 4, {Aggregator::mean, false, 0.0});
  EXPECT_DOUBLE_EQ(increment[0], (2.0 + 3.0 + 100.0) / 3);
  EXPECT_DOUBLE_EQ(increment[2], -1.0 / 3);
  EXPECT_EQ(increment[3], 0.0);
}

TEST(RobustAggregation, MedianAndTrimmedMeanVoteOnlyWhereASeedWasDrawn) {
  const auto median = aggregate_updates(kCohort, 4, {Aggregator::median, false, 0.0});
  EXPECT_DOUBLE_EQ(median[0], 3.0);             // three voters: the outlier does not move it
  EXPECT_DOUBLE_EQ(median[1], 5.0);
  EXPECT_DOUBLE_EQ(median[2], -1.0 * 1.0 / 3);  // one voter of three: its value, a third of the weight
  EXPECT_EQ(median[3], 0.0);
  const auto trimmed = aggregate_updates(kCohort, 4, {Aggregator::trimmed_mean, false, 0.34});
  EXPECT_DOUBLE_EQ(trimmed[0], 3.0);  // floor(0.34 * 3) = 1 cut from each end
  const auto untrimmed = aggregate_updates(kCohort, 4, {Aggregator::trimmed_mean, false, 0.0});
  const auto equal_mean = aggregate_updates(kCohort, 4, {Aggregator::mean, true, 0.0});
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(untrimmed[j], equal_mean[j], 1e-12) << j;
  // Two voters, median of an even count: the middle pair's mean.
  const auto pair = aggregate_updates({{1, {0}, {1.0}}, {1, {0}, {4.0}}}, 1, {Aggregator::median, false, 0.0});
  EXPECT_DOUBLE_EQ(pair[0], 2.5);
}

TEST(RobustAggregation, NormBoundClipsEveryClientToTheMedianNorm) {
  const auto increment = aggregate_updates(kCohort, 4, {Aggregator::norm_bound, false, 0.0});
  const double norms[] = {std::sqrt(4.0 + 16 + 1), std::sqrt(9.0 + 36), std::sqrt(10000.0 + 25)};
  const double bound = norms[1];
  const double scale[] = {1.0, 1.0, bound / norms[2]};
  EXPECT_NEAR(increment[0], (2.0 * scale[0] + 3.0 * scale[1] + 100.0 * scale[2]) / 3, 1e-12);
  EXPECT_NEAR(increment[1], (4.0 * scale[0] + 6.0 * scale[1] + 5.0 * scale[2]) / 3, 1e-12);
}

TEST(Byzantine, AFixedSubsetFromTheSeed) {
  const auto chosen = choose_byzantine_clients(50, 0.2, 7);
  ASSERT_EQ(chosen.size(), 10u);
  EXPECT_EQ(chosen, choose_byzantine_clients(50, 0.2, 7));
  EXPECT_NE(chosen, choose_byzantine_clients(50, 0.2, 8));
  EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));
  EXPECT_TRUE(choose_byzantine_clients(50, 0.0, 7).empty());
}

TEST(Byzantine, AttacksManipulateTheValuesOnly) {
  const Uplink honest{5, false, {0, 1, 1}, {1.0f, -2.0f, 0.5f}};
  Rng rng = attack_rng(1, 1, 0);
  Uplink flipped = honest, scaled = honest, noise = honest;
  ByzantineAttack("sign_flip").manipulate(flipped, rng);
  EXPECT_EQ(flipped.values, (std::vector<float>{-1.0f, 2.0f, -0.5f}));
  ByzantineAttack("scale:-10").manipulate(scaled, rng);
  EXPECT_EQ(scaled.values, (std::vector<float>{-10.0f, 20.0f, -5.0f}));
  EXPECT_EQ(scaled.seeds, honest.seeds);
  Uplink many{5, false, std::vector<uint64_t>(20000, 0), std::vector<float>(20000, 3.0f)};
  ByzantineAttack("gaussian").manipulate(many, rng);
  EXPECT_NEAR(variance(std::vector<double>(many.values.begin(), many.values.end())) / 9.0, 1.0, kVarianceTolerance);
}

TEST(Byzantine, OnlyTheChosenClientsAttack) {
  UplinkShaping shaping;
  shaping.byzantine_clients = {2, 5};
  shaping.attack = "scale:3";
  for (int64_t client : {1, 2, 5}) {
    Uplink uplink{5, false, {0}, {1.0f}};
    shaping.apply(uplink, client, 1);
    EXPECT_EQ(uplink.values[0], client == 1 ? 1.0f : 3.0f) << client;
  }
}

}  // namespace
}  // namespace fedkseed
