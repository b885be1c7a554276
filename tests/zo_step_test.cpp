// ZO steps on a quadratic f(θ) = ½‖θ − θ*‖² (no language model): the projected gradient, the
// descent, the skip rules; seed sampling (uniform, Pro, unbounded) and the Pro probabilities.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/optimizers/seed_sampler.h"
#include "fedkseed/optimizers/zo_step.h"
#include "test_util.h"

namespace fedkseed {
namespace {

struct Quadratic {
  NamedParams params;
  std::vector<at::Tensor> targets;

  explicit Quadratic(int64_t seed) {
    at::manual_seed(seed);
    params.emplace_back("model.layers.0.mlp.up_proj.weight", at::randn({4, 5}));
    params.emplace_back("model.layers.0.mlp.up_proj.bias", at::randn({12}));
    for (const auto& [name, t] : params) targets.push_back(at::randn(t.sizes()));
  }
  // f in double from the fp32 parameters, returned as its fp32 value like a model's loss.
  double loss() const {
    double total = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      total += 0.5 * (params[i].second.to(at::kDouble) - targets[i]).pow(2).sum().item<double>();
    }
    return static_cast<float>(total);
  }
  at::Tensor gradient() const {
    std::vector<at::Tensor> parts;
    for (std::size_t i = 0; i < params.size(); ++i) {
      parts.push_back((params[i].second.to(at::kDouble) - targets[i]).flatten());
    }
    return at::cat(parts);
  }
  at::Tensor direction(uint64_t seed) const {
    std::vector<at::Tensor> parts;
    for (const auto& [name, t] : params) {
      parts.push_back(zo_direction(name, seed, {t.numel()}, at::kCPU).to(at::kDouble));
    }
    return at::cat(parts);
  }
  LossFn closure() const {
    return [this] { return loss(); };
  }
  std::vector<at::Tensor> snapshot() const {
    std::vector<at::Tensor> out;
    for (const auto& [name, t] : params) out.push_back(t.clone());
    return out;
  }
};

TEST(ZoStep, ProjectedGradientEstimatesTrueGradient) {
  Quadratic q(1);
  const at::Tensor truth = q.gradient();
  ZoStepOptions options;
  options.eps = 1e-2;
  options.lr = 0.0;  // measure g without moving
  at::Tensor estimate = at::zeros_like(truth);
  const int samples = 4096;
  for (int s = 0; s < samples; ++s) {
    const uint64_t seed = 1000 + 7919ull * s;
    const ZoStepResult r = zo_step(q.params, SeedPick{s, seed}, q.closure(), options);
    ASSERT_TRUE(r.applied);
    const at::Tensor z = q.direction(seed);
    if (s < 3) {
      // On a quadratic the central difference is exact: g = z·∇f up to the fp32 losses.
      EXPECT_NEAR(r.g, (z * truth).sum().item<double>(),
                  1e-6 * std::abs(r.loss_plus) / options.eps + 1e-3);
    }
    estimate += r.g * z;
  }
  estimate /= samples;
  // E[g·z] = ∇f; with d = 32 the estimator's relative error is about √((d+1)/n) ≈ 0.09.
  const double relative = ((estimate - truth).norm() / truth.norm()).item<double>();
  EXPECT_LT(relative, 0.2);
}

TEST(ZoStep, RepeatedStepsDescend) {
  Quadratic q(2);
  const double start = q.loss();
  ZoStepOptions options;
  options.eps = 1e-3;
  options.lr = 0.02;
  Rng seeds(8, "zo-candidates");
  std::vector<uint64_t> candidates;
  for (int j = 0; j < 1024; ++j) {
    candidates.push_back(static_cast<uint64_t>(seeds.uniform_int(1, 100000000000)));
  }
  const SeedSampler sampler(candidates);
  Rng rng(5, "zo-test");
  double previous = start;
  for (int block = 0; block < 5; ++block) {
    for (int step = 0; step < 100; ++step) {
      zo_train_step(q.params, sampler, rng, q.closure(), options);
    }
    EXPECT_LT(q.loss(), previous) << "after block " << block;
    previous = q.loss();
  }
  // ZO-SGD on this quadratic contracts E f by about 1 − 2·lr + lr²·(d + 2) = 0.974 per step.
  EXPECT_LT(q.loss(), 1e-3 * start);
}

TEST(ZoStep, FusedStepEqualsUnfusedSequence) {
  Quadratic fused(3), unfused(3);
  ZoStepOptions options;
  options.eps = 1e-3;
  options.lr = 0.05;
  options.weight_decay = 0.1;
  const ZoStepResult r = zo_step(fused.params, SeedPick{0, 4242}, fused.closure(), options);
  ASSERT_TRUE(r.applied);
  zo_perturb(unfused.params, 4242, 1e-3, RngKind::philox_icdf);
  const double plus = unfused.loss();
  zo_perturb(unfused.params, 4242, -2e-3, RngKind::philox_icdf);
  const double minus = unfused.loss();
  zo_perturb(unfused.params, 4242, 1e-3, RngKind::philox_icdf);
  EXPECT_EQ(r.loss_plus, plus);
  EXPECT_EQ(r.loss_minus, minus);
  EXPECT_NEAR(r.g, (plus - minus) / 2e-3, 1e-6 * std::abs(r.g) + 1e-3);
  zo_update(unfused.params, 4242, r.g, 0.05, 0.1, RngKind::philox_icdf);
  for (std::size_t i = 0; i < fused.params.size(); ++i) {
    test::expect_close(fused.params[i].second, unfused.params[i].second, 1e-6, 1e-6,
                       fused.params[i].first);
  }
}

void expect_restored(const Quadratic& q, const std::vector<at::Tensor>& before) {
  for (std::size_t i = 0; i < before.size(); ++i) {
    test::expect_close(q.params[i].second, before[i], 1e-6, 1e-6, q.params[i].first);
  }
}

TEST(ZoStep, NanLossSkipsAndRestores) {
  for (int nan_call : {0, 1}) {
    Quadratic q(4);
    const auto before = q.snapshot();
    int calls = 0;
    const LossFn loss = [&] {
      return calls++ == nan_call ? std::numeric_limits<double>::quiet_NaN() : q.loss();
    };
    SeedHistory history(4, 0.0);
    const SeedSampler sampler(std::vector<uint64_t>{5, 6, 7, 8});
    Rng rng(1, "zo-test");
    ZoStepOptions options;
    options.lr = 0.5;
    const ZoStepResult r = zo_train_step(q.params, sampler, rng, loss, options, &history);
    EXPECT_FALSE(r.applied);
    EXPECT_EQ(r.g, 0.0);
    EXPECT_EQ(calls, 2);
    expect_restored(q, before);
    for (int64_t j = 0; j < history.size(); ++j) EXPECT_EQ(history.values(j).size(), 1u);
  }
}

TEST(ZoStep, GradClipSkipsLargeDifferences) {
  Quadratic q(5);
  const auto before = q.snapshot();
  int calls = 0;
  const LossFn loss = [&] { return calls++ % 2 == 0 ? 10.0 : 4.0; };
  ZoStepOptions options;
  options.lr = 0.1;
  options.grad_clip = 5.0;  // |L+ − L−| = 6 > 5: skipped
  ZoStepResult r = zo_step(q.params, SeedPick{0, 99}, loss, options);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(r.loss_plus, 10.0);
  expect_restored(q, before);
  options.grad_clip = 7.0;
  r = zo_step(q.params, SeedPick{0, 99}, loss, options);
  EXPECT_TRUE(r.applied);
  EXPECT_FLOAT_EQ(static_cast<float>(r.g), 6.0f / (2 * 5e-4f));
  options.eps = 0.0;
  EXPECT_THROW(zo_step(q.params, SeedPick{0, 99}, loss, options), Error);
}

TEST(ZoStep, ProjectedGradientIsFp32LikeTheReference) {
  // fp32(L+) − fp32(L−) = 0.09999990463 (not 0.1), times fp32(1/fp32(0.001)).
  const double g = zo_projected_gradient(2.5, 2.4, 5e-4);
  EXPECT_EQ(g, static_cast<double>((2.5f - 2.4f) * (1.0f / 0.001f)));
  EXPECT_NEAR(g, 100.0, 1e-3);
  EXPECT_NE(g, 100.0);
}

TEST(ZoSeedSampler, UniformWeightedAndUnbounded) {
  const std::vector<uint64_t> candidates = {101, 202, 303, 404};
  SeedSampler sampler(candidates);
  Rng rng(9, "zo-sampler");
  std::vector<int> counts(4, 0);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) {
    const SeedPick pick = sampler.sample(rng);
    ASSERT_EQ(pick.seed, candidates.at(pick.index));
    ++counts[pick.index];
  }
  // Binomial sd at p = ¼: √(n·p·(1−p)) ≈ 87; allow 5 sd.
  for (int c : counts) EXPECT_NEAR(c, draws / 4, 5 * 87);
  const std::vector<double> p = {0.1, 0.2, 0.0, 0.7};
  sampler.set_probabilities(p);
  std::fill(counts.begin(), counts.end(), 0);
  for (int i = 0; i < draws; ++i) ++counts[sampler.sample(rng).index];
  for (int j = 0; j < 4; ++j) {
    EXPECT_NEAR(counts[j], p[j] * draws, 5 * std::sqrt(draws * p[j] * (1 - p[j])) + 1) << j;
  }
  Rng a(3, "x"), b(3, "x");
  EXPECT_EQ(sampler.sample(a).index, sampler.sample(b).index);
  EXPECT_THROW(sampler.set_probabilities({0.5, 0.5}), Error);
  EXPECT_THROW(sampler.set_probabilities({0.5, -0.1, 0.3, 0.3}), Error);
  const SeedSampler unbounded(std::vector<uint64_t>{});
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const SeedPick pick = unbounded.sample(rng);
    EXPECT_EQ(pick.index, -1);
    EXPECT_GE(pick.seed, 1u);
    EXPECT_LT(pick.seed, 100000000000ull);
    seen.insert(pick.seed);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ZoProHistory, ProbabilitiesMatchHandComputedExample) {
  SeedHistory history(4, 0.0);
  EXPECT_EQ(history.probabilities(5.0), std::vector<double>(4, 0.25)) << "round 1 is uniform";
  history.record(0, 2.0);
  history.record(0, -4.0);
  history.record(1, 30.0);  // clipped to 5
  history.record(3, -1.0);  // seed 2 is never drawn: ψ = 0, the minimum
  // ψ = [6/3, 5/2, 0, 1/2] = [2, 2.5, 0, 0.5]; min–max → [0.8, 1, 0, 0.2] (up to the 1e-10);
  // p = e^x / Σ e^x = [0.310603054, 0.379371427, 0.139562949, 0.170462570].
  const double x[] = {0.8, 1.0, 0.0, 0.2};
  double total = 0.0;
  for (double v : x) total += std::exp(v);
  const std::vector<double> p = history.probabilities(5.0);
  ASSERT_EQ(p.size(), 4u);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(p[j], std::exp(x[j]) / total, 1e-9) << j;
  EXPECT_NEAR(p[0], 0.310603054, 1e-9);
  EXPECT_NEAR(p[0] + p[1] + p[2] + p[3], 1.0, 1e-15);
  EXPECT_THROW(history.record(4, 1.0), Error);
}

TEST(ZoProHistory, TrainStepRecordsAppliedGradients) {
  Quadratic q(6);
  SeedHistory history(3, 0.0);
  SeedSampler sampler(std::vector<uint64_t>{7, 8, 9});
  sampler.set_probabilities(history.probabilities(1000.0));
  Rng rng(2, "zo-test");
  ZoStepOptions options;
  options.lr = 1e-3;
  std::vector<std::vector<double>> expected(3, std::vector<double>{0.0});
  for (int step = 0; step < 6; ++step) {
    const ZoStepResult r = zo_train_step(q.params, sampler, rng, q.closure(), options, &history);
    ASSERT_TRUE(r.applied);
    expected[r.seed_index].push_back(r.g);
  }
  for (int j = 0; j < 3; ++j) EXPECT_EQ(history.values(j), expected[j]) << j;
}

}  // namespace
}  // namespace fedkseed
