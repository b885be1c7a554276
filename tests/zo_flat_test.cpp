// One-launch passes (ZoFlatParams) against the per-tensor calls of perturbation.h, and the
// device-side client loop (ZoDeviceLoop) against zo_step on a quadratic: same g and θ up to the
// one rounding the fusion saves, skip rules, bad input. CPU here; zo_cuda_test checks CUDA.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fedkseed/common/error.h"
#include "fedkseed/optimizers/zo_flat.h"
#include "test_util.h"

namespace fedkseed {
namespace {

// Views of one flat buffer, with decayed and non-decayed names and a size past one chunk.
NamedParams flat_params(at::ScalarType dtype, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  const std::vector<std::pair<std::string, int64_t>> shapes = {
      {"model.layers.0.mlp.up_proj.weight", 20000}, {"model.layers.0.input_layernorm.weight", 37},
      {"model.layers.0.self_attn.q_proj.bias", 5}, {"lm_head.weight", 8195}};
  int64_t total = 0;
  for (const auto& shape : shapes) total += shape.second;
  const at::Tensor flat = (at::randn({total}) * 0.5).to(dtype);
  NamedParams params;
  int64_t offset = 0;
  for (const auto& [name, n] : shapes) {
    params.emplace_back(name, flat.narrow(0, offset, n));
    offset += n;
  }
  return params;
}

void expect_bit_equal(const NamedParams& a, const NamedParams& b) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

TEST(ZoFlat, PassesEqualPerTensorCalls) {
  for (RngKind rng : {RngKind::philox_icdf, RngKind::philox}) {
    for (at::ScalarType dtype : {at::kFloat, at::kHalf}) {
      NamedParams flat = flat_params(dtype, 1), plain = flat_params(dtype, 1);
      const ZoFlatParams passes(flat, rng);
      EXPECT_EQ(passes.numel(), 20000 + 37 + 5 + 8195);
      passes.perturb(17, 1e-2);
      zo_perturb(plain, 17, 1e-2, rng);
      expect_bit_equal(flat, plain);
      std::vector<SeedScalar> few = {{3, 2.0}, {4, 0.0}, {5, -1.0}};
      std::vector<SeedScalar> many;
      for (int j = 0; j < 9; ++j) many.push_back({100ull + j, std::sin(j + 1.0)});
      passes.replay_incremental(few, 1e-2, 0.1);
      zo_replay_incremental(plain, few, 1e-2, 0.1, rng);
      passes.replay_incremental(many, 1e-2, 0.3);
      zo_replay_incremental(plain, many, 1e-2, 0.3, rng);
      expect_bit_equal(flat, plain);
    }
  }
}

// ½‖θ − θ*‖² over the parameters, as an fp32 scalar tensor and as a double.
struct Target {
  std::vector<at::Tensor> values;
  explicit Target(const NamedParams& params) {
    for (const auto& [name, t] : params) values.push_back(at::randn(t.sizes()));
  }
  double operator()(const NamedParams& params) const {
    double total = 0.0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      total += 0.5 * (params[i].second.to(at::kDouble) - values[i]).pow(2).sum().item<double>();
    }
    return static_cast<float>(total);
  }
};

TEST(ZoDeviceLoop, MatchesHostStepsUpToTheSavedRounding) {
  NamedParams looped = flat_params(at::kFloat, 2), stepped = flat_params(at::kFloat, 2);
  const Target target(looped);
  ZoStepOptions options;
  options.eps = 1e-3;
  options.lr = 1e-4;
  options.weight_decay = 0.5;
  const ZoFlatParams passes(looped, options.rng);
  ZoDeviceLoop loop(passes, options, 6);
  std::vector<ZoStepResult> expected;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const SeedPick pick{static_cast<int64_t>(seed), 1000 + seed};
    loop.step(pick, [&] { return at::full({1}, target(looped), at::kFloat); });
    expected.push_back(zo_step(stepped, pick, [&] { return target(stepped); }, options));
  }
  const std::vector<ZoStepResult> results = loop.finish();
  ASSERT_EQ(results.size(), 6u);
  for (std::size_t t = 0; t < results.size(); ++t) {
    EXPECT_TRUE(results[t].applied);
    EXPECT_EQ(results[t].seed, expected[t].seed);
    EXPECT_EQ(results[t].seed_index, expected[t].seed_index);
    EXPECT_NEAR(results[t].g, expected[t].g, 1e-3 * std::abs(expected[t].g) + 1e-2) << "step " << t;
    EXPECT_NEAR(results[t].loss_plus, expected[t].loss_plus, 1e-5 * std::abs(expected[t].loss_plus));
  }
  for (std::size_t i = 0; i < looped.size(); ++i) {
    test::expect_close(looped[i].second, stepped[i].second, 1e-6, 1e-5, looped[i].first);
  }
  EXPECT_TRUE(loop.finish().empty());
}

TEST(ZoDeviceLoop, NanAndClippedStepsRestoreOnTheDevice) {
  NamedParams params = flat_params(at::kFloat, 3);
  const NamedParams before = flat_params(at::kFloat, 3);
  ZoStepOptions options;
  options.lr = 0.5;
  options.grad_clip = 5.0;
  const ZoFlatParams passes(params, options.rng);
  ZoDeviceLoop loop(passes, options, 3);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> losses = {nan, 1.0f, 10.0f, 4.0f, 2.0f, 2.0f};  // NaN, |Δ| 6 > 5, Δ 0
  int call = 0;
  for (uint64_t seed : {7, 8, 9}) loop.step({-1, seed}, [&] { return at::full({}, losses[call++], at::kFloat); });
  const auto results = loop.finish();
  EXPECT_FALSE(results[0].applied);
  EXPECT_FALSE(results[1].applied);
  EXPECT_EQ(results[1].loss_plus, 10.0);
  EXPECT_TRUE(results[2].applied);
  EXPECT_EQ(results[2].g, 0.0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    test::expect_close(params[i].second, before[i].second, 1e-6, 1e-6, params[i].first);
  }
}

TEST(ZoDeviceLoop, RejectsBadInput) {
  NamedParams params = flat_params(at::kFloat, 4);
  EXPECT_THROW(ZoFlatParams(params, RngKind::torch), Error);
  const ZoFlatParams passes(params, RngKind::philox_icdf);
  ZoStepOptions options;
  options.rng = RngKind::philox;  // not the generator the passes were prepared for
  EXPECT_THROW(ZoDeviceLoop(passes, options, 2), Error);
  options.rng = RngKind::philox_icdf;
  EXPECT_THROW(ZoDeviceLoop(passes, options, 0), Error);
  ZoDeviceLoop loop(passes, options, 1);
  loop.step({-1, 1}, [] { return at::ones({1}); });
  EXPECT_THROW(loop.step({-1, 2}, [] { return at::ones({1}); }), Error);
  NamedParams mixed = {{"a", at::zeros({4})}, {"b", at::zeros({4}, at::kHalf)}};
  EXPECT_THROW(ZoFlatParams(mixed, RngKind::philox_icdf), Error);
  NamedParams twice = {{"a", at::zeros({4})}, {"a", at::zeros({4})}};
  EXPECT_THROW(ZoFlatParams(twice, RngKind::philox_icdf), Error);
}

}  // namespace
}  // namespace fedkseed
