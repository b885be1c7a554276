// The philox generators (Philox KATs, ATen's philox_engine, a numpy twin, statistics) and the
// perturbation / update / replay kernels on CPU, plus --rng torch against the Python reference.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/core/PhiloxRNGEngine.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "fedkseed/common/error.h"
#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/perturbation_cuda.h"
#include "fedkseed/optimizers/philox.h"
#include "test_util.h"

namespace fedkseed {
namespace {

at::Tensor bits_of(const at::Tensor& t) {
  return t.contiguous().view(t.element_size() == 4 ? at::kInt : at::kShort);
}

void expect_same_bits(const at::Tensor& actual, const at::Tensor& expected,
                      const std::string& what) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  const at::Tensor differ = bits_of(actual).ne(bits_of(expected));
  EXPECT_EQ(differ.sum().item<int64_t>(), 0) << what << ": values differ bitwise";
}

NamedParams clone_params(const NamedParams& params) {
  NamedParams copy;
  for (const auto& [name, t] : params) copy.emplace_back(name, t.clone());
  return copy;
}

// Parameters with LLaMA-like names: decayed weights plus a layernorm and a bias (not decayed).
NamedParams make_params(at::ScalarType dtype, int64_t seed = 0) {
  at::manual_seed(seed);
  NamedParams params;
  params.emplace_back("model.layers.0.self_attn.q_proj.weight", at::randn({33, 65}) * 0.02);
  params.emplace_back("model.layers.0.input_layernorm.weight", 1.0 + at::randn({65}) * 0.1);
  params.emplace_back("model.layers.0.mlp.up_proj.bias", at::randn({131}) * 0.02);
  params.emplace_back("lm_head.weight", at::randn({7, 65}) * 0.02);
  for (auto& [name, t] : params) t = t.to(dtype);
  return params;
}

TEST(ZoPhilox, MatchesRandom123KnownAnswers) {
  const philox::Uint4 zero = philox::philox4x32_10({0, 0, 0, 0}, 0, 0);
  EXPECT_EQ(zero.x, 0x6627e8d5u);
  EXPECT_EQ(zero.y, 0xe169c58du);
  EXPECT_EQ(zero.z, 0xbc57ac4cu);
  EXPECT_EQ(zero.w, 0x9b00dbd8u);
  const uint32_t ones = 0xffffffffu;
  const philox::Uint4 all = philox::philox4x32_10({ones, ones, ones, ones}, ones, ones);
  EXPECT_EQ(all.x, 0x408f276du);
  EXPECT_EQ(all.w, 0x6d5451fdu);
  const philox::Uint4 pi = philox::philox4x32_10(
      {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(pi.x, 0xd16cfe09u);
  EXPECT_EQ(pi.y, 0x94fdccebu);
  EXPECT_EQ(pi.z, 0x5001e420u);
  EXPECT_EQ(pi.w, 0x24126ea1u);
}

TEST(ZoPhilox, CounterLayoutMatchesAtenPhiloxEngine) {
  // ATen's engine: key = seed, counter = (offset, subsequence) - ours with subsequence = name hash.
  const uint64_t seeds[] = {1, 99999999999ull, 0xfedcba9876543210ull};
  const uint64_t hashes[] = {0, philox::name_hash("lm_head.weight", 14)};
  for (uint64_t seed : seeds) {
    for (uint64_t hash : hashes) {
      for (uint64_t group : {0ull, 5ull, (1ull << 32) + 7}) {
        at::philox_engine engine(seed, hash, group);
        const philox::Uint4 ours = philox::philox4x32_10(
            {static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
             static_cast<uint32_t>(hash), static_cast<uint32_t>(hash >> 32)},
            static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
        EXPECT_EQ(ours.x, engine());
        EXPECT_EQ(ours.y, engine());
        EXPECT_EQ(ours.z, engine());
        EXPECT_EQ(ours.w, engine());
      }
    }
  }
}

// Compares z[first], z[first + stride], ... with `expected` (float32 bit patterns from the numpy
// twin), reporting the first five mismatches.
void expect_numpy_bits(const at::Tensor& z, int64_t first, int64_t stride, const std::vector<uint32_t>& expected,
                       const std::string& what) {
  ASSERT_LE(first + stride * (static_cast<int64_t>(expected.size()) - 1), z.numel() - 1) << what;
  const int32_t* bits = z.view(at::kInt).const_data_ptr<int32_t>();
  int64_t mismatches = 0;
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const int64_t i = first + stride * static_cast<int64_t>(k);
    const auto actual = static_cast<uint32_t>(bits[i]);
    if (actual != expected[k] && mismatches++ < 5) {
      ADD_FAILURE() << what << " z[" << i << "]: bits " << std::hex << actual << " vs numpy " << expected[k];
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
}

// tests/data/zo/philox_numpy_twin.json, written by scripts/parity/zo_philox_fixture.py.
nlohmann::json numpy_twin_fixture() {
  auto fixture = test::read_json(test::test_data("zo/philox_numpy_twin.json"));
  EXPECT_EQ(fixture.at("cases").size(), 5u);
  return fixture;
}

at::Tensor direction_of(const nlohmann::json& fixture_case) {
  return zo_direction(fixture_case.at("name"), fixture_case.at("seed").get<uint64_t>(),
                      {fixture_case.at("count").get<int64_t>()}, at::kCPU, parse_rng_kind(fixture_case.at("rng")));
}

TEST(ZoPhilox, BitIdenticalToNumpyTwin) {
  const auto fixture = numpy_twin_fixture();
  for (const auto& c : fixture.at("cases")) {
    const at::Tensor z = direction_of(c);
    for (const auto& block : c.at("blocks")) {
      const std::string hex = block.at("bits");
      std::vector<uint32_t> expected;
      for (std::size_t digit = 0; digit + 8 <= hex.size(); digit += 8) {
        expected.push_back(static_cast<uint32_t>(std::stoul(hex.substr(digit, 8), nullptr, 16)));
      }
      expect_numpy_bits(z, block.at("first"), block.at("stride"), expected, c.at("rng").get<std::string>() + " " +
                                                                                c.at("name").get<std::string>());
    }
  }
}

// The fixture's cases whole, against the numpy twin run now (which also rebuilds the
// inverse-CDF table from scripts/make_normal_table.py).
TEST(ZoPhilox, BitIdenticalToNumpyTwinLive) {
  ASSERT_TRUE(test::python_can_import("numpy"));
  const std::string script = std::string(FEDKSEED_SOURCE_DIR) + "/scripts/parity/zo_philox.py";
  const auto fixture = numpy_twin_fixture();
  for (const auto& c : fixture.at("cases")) {
    const std::string what = c.at("rng").get<std::string>() + " " + c.at("name").get<std::string>();
    const auto run = test::run_command(test::python() + " " + script + " " + c.at("seed").dump() + " " +
                                       c.at("name").get<std::string>() + " " + c.at("count").dump() + " " +
                                       c.at("rng").get<std::string>());
    ASSERT_EQ(run.exit_code, 0) << run.err;
    std::vector<uint32_t> expected;
    std::istringstream lines(run.out);
    for (std::string line; std::getline(lines, line);) {
      expected.push_back(static_cast<uint32_t>(std::stoul(line, nullptr, 16)));
    }
    ASSERT_EQ(expected.size(), c.at("count").get<std::size_t>()) << what;
    expect_numpy_bits(direction_of(c), 0, 1, expected, what);
  }
}

// The CPU twin's AVX-512, AVX2 and baseline versions (those this CPU has) agree bit for bit.
TEST(ZoPhilox, EverySimdVersionGivesTheSameBits) {
  const detail::CpuSimd best = detail::zo_cpu_simd_best();
  for (RngKind rng : {RngKind::philox_icdf, RngKind::philox}) {
    detail::zo_set_cpu_simd(detail::CpuSimd::baseline);
    const at::Tensor expected = zo_direction("model.layers.2.mlp.up_proj.weight", 31, {(1 << 20) + 3}, at::kCPU, rng);
    for (detail::CpuSimd level : {detail::CpuSimd::avx2, detail::CpuSimd::avx512}) {
      if (static_cast<int>(level) > static_cast<int>(best)) continue;
      detail::zo_set_cpu_simd(level);
      expect_same_bits(zo_direction("model.layers.2.mlp.up_proj.weight", 31, {(1 << 20) + 3}, at::kCPU, rng),
                       expected, rng_kind_name(rng) + " SIMD level " + std::to_string(static_cast<int>(level)));
    }
  }
  detail::zo_set_cpu_simd(best);
  if (best != detail::CpuSimd::avx512) {
    EXPECT_THROW(detail::zo_set_cpu_simd(detail::CpuSimd::avx512), Error);
  }
}

// Every one of the 65,536 equally likely philox-icdf values, enumerated: the distribution's
// exact moments (the script that writes the table states the same figures).
TEST(ZoPhilox, IcdfTableDistribution) {
  double second = 0, fourth = 0, largest = 0, odd = 0;
  for (uint32_t u = 0; u < 65536; ++u) {
    const double z = philox::icdf_normal(u, philox::kIcdfTable);
    EXPECT_EQ(philox::icdf_normal(u ^ 0x8000u, philox::kIcdfTable), -z) << "u = " << u;  // symmetric, exactly
    second += z * z / 65536;
    fourth += z * z * z * z / 65536;
    odd += z / 65536;
    largest = std::max(largest, std::abs(z));
  }
  EXPECT_EQ(odd, 0.0);
  EXPECT_NEAR(second, 1.0, 1e-6);           // normalised to unit variance when the table is written
  EXPECT_NEAR(fourth / (second * second), 3.0, 0.02);  // the target: kurtosis within 0.02 of a normal's
  EXPECT_GE(largest, 4.3);                  // tails to at least 4.3 standard deviations
  EXPECT_LT(largest, 4.34);                 // Φ⁻¹(1 − ½/65,536) = 4.33: nothing beyond the top quantile
  // Increasing in the 15 magnitude bits, as an inverse CDF, up to the last segment (its line
  // through the top quantile starts below the previous segment's end; see make_normal_table.py).
  for (uint32_t u = 1; u < 32768 - 16; ++u) {
    ASSERT_LT(philox::icdf_normal(u - 1, philox::kIcdfTable), philox::icdf_normal(u, philox::kIcdfTable)) << u;
  }
}

TEST(ZoPhilox, StandardNormalStatistics) {
  for (RngKind rng : {RngKind::philox_icdf, RngKind::philox}) {
    SCOPED_TRACE(rng_kind_name(rng));
    const int64_t n = int64_t{1} << 22;
    const at::Tensor z =
        zo_direction("model.layers.3.mlp.down_proj.weight", 1234567, {n}, at::kCPU, rng).to(at::kDouble);
    // Tolerances: 5 standard errors of each estimator at n = 4M (sd of mean 1/√n, of the
    // variance √(2/n), of the 4th moment √(96/n)).
    const double se = 1.0 / std::sqrt(static_cast<double>(n));
    EXPECT_NEAR(z.mean().item<double>(), 0.0, 5 * se);
    EXPECT_NEAR(z.var().item<double>(), 1.0, 5 * std::sqrt(2.0) * se);
    EXPECT_NEAR(z.pow(4).mean().item<double>(), 3.0, 5 * std::sqrt(96.0) * se);
    // Each lane of a Philox group on its own, and neighbouring lanes uncorrelated.
    const int64_t lanes_per_group = rng == RngKind::philox_icdf ? 8 : 4;
    const at::Tensor lanes = z.view({-1, lanes_per_group});
    for (int lane = 0; lane < lanes_per_group; ++lane) {
      EXPECT_NEAR(lanes.select(1, lane).mean().item<double>(), 0.0, 10 * se) << "lane " << lane;
    }
    EXPECT_NEAR((lanes.select(1, 0) * lanes.select(1, 1)).mean().item<double>(), 0.0, 10 * se);
    // Kolmogorov–Smirnov against Φ on 2^20 values: critical value 1.95/√n at the 0.1% level.
    const int64_t m = int64_t{1} << 20;
    const at::Tensor sorted = std::get<0>(z.slice(0, 0, m).sort());
    const at::Tensor cdf = 0.5 * at::erfc(-sorted / std::sqrt(2.0));
    const at::Tensor rank = at::arange(1, m + 1, at::kDouble) / static_cast<double>(m);
    EXPECT_LT((cdf - rank).abs().max().item<double>(), 1.95 / std::sqrt(static_cast<double>(m)));
    // philox's (0, 1) uniforms bound |z| by ≈ 5.77; philox-icdf's top quantile is 4.33.
    EXPECT_LT(z.abs().max().item<double>(), rng == RngKind::philox_icdf ? 4.34 : 5.78);
  }
}

TEST(ZoPhilox, PureFunctionOfSeedNameIndex) {
  const at::Tensor a = zo_direction("w", 7, {1000}, at::kCPU);
  expect_same_bits(zo_direction("w", 7, {1000}, at::kCPU), a, "same call twice");
  expect_same_bits(zo_direction("w", 7, {10, 100}, at::kCPU).flatten(), a, "another shape");
  expect_same_bits(zo_direction("w", 7, {13}, at::kCPU), a.slice(0, 0, 13), "a prefix");
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one_thread = zo_direction("w", 7, {1 << 18}, at::kCPU);
  at::set_num_threads(std::max(threads, 2));
  expect_same_bits(zo_direction("w", 7, {1 << 18}, at::kCPU), one_thread, "thread count");
  at::set_num_threads(threads);
  EXPECT_LT(at::corrcoef(at::stack({a, zo_direction("w", 8, {1000}, at::kCPU)}))[0][1]
                .abs().item<double>(), 0.15);
  EXPECT_LT(at::corrcoef(at::stack({a, zo_direction("v", 7, {1000}, at::kCPU)}))[0][1]
                .abs().item<double>(), 0.15);
}

TEST(ZoPerturb, IndependentOfParameterOrderAndAddsScaledDirection) {
  NamedParams params = make_params(at::kFloat);
  NamedParams reversed = clone_params(params);
  std::reverse(reversed.begin(), reversed.end());
  const NamedParams before = clone_params(params);
  zo_perturb(params, 31337, 0.25, RngKind::philox_icdf);
  zo_perturb(reversed, 31337, 0.25, RngKind::philox_icdf);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, theta] = params[i];
    expect_same_bits(theta, reversed[params.size() - 1 - i].second, name + " reversed order");
    const at::Tensor z = zo_direction(name, 31337, theta.sizes(), at::kCPU);
    expect_same_bits(theta, before[i].second + 0.25f * z, name + " = θ + scale·z");
  }
}

// +ε, −2ε, +ε: exact inverse steps in real arithmetic, so only rounding separates θ from the
// start. Each of the three passes rounds once to the dtype (unit roundoff u), on values below
// |θ| + 2ε|z|: within 4u of that.
TEST(ZoPerturb, RoundTripRestoresWithinRounding) {
  for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    NamedParams params = make_params(dtype);
    const NamedParams before = clone_params(params);
    const double eps = 1e-3;
    zo_perturb(params, 5, eps, RngKind::philox_icdf);
    zo_perturb(params, 5, -2 * eps, RngKind::philox_icdf);
    zo_perturb(params, 5, eps, RngKind::philox_icdf);
    const double unit = dtype == at::kFloat ? std::ldexp(1.0, -24)
                        : dtype == at::kHalf ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    int64_t exact = 0, total = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const at::Tensor theta0 = before[i].second.to(at::kDouble);
      const at::Tensor z =
          zo_direction(params[i].first, 5, theta0.sizes(), at::kCPU).to(at::kDouble);
      const at::Tensor bound = 4 * unit * (theta0.abs() + 2 * eps * z.abs());
      const at::Tensor diff = (params[i].second.to(at::kDouble) - theta0).abs();
      EXPECT_TRUE(diff.le(bound).all().item<bool>())
          << c10::toString(dtype) << " " << params[i].first;
      exact += diff.eq(0).sum().item<int64_t>();
      total += diff.numel();
    }
    // Most elements come back bit-exact; the rest moved by a rounding error.
    const double fraction = static_cast<double>(exact) / static_cast<double>(total);
    std::cout << c10::toString(dtype) << ": " << fraction << " of elements bit-exact\n";
    EXPECT_GT(fraction, 0.5) << c10::toString(dtype);
  }
}

TEST(ZoPerturb, UpdateFollowsReferenceFormulaAndDecayRule) {
  NamedParams params = make_params(at::kFloat);
  const NamedParams before = clone_params(params);
  const double g = -3.5, lr = 1e-2, wd = 0.5;
  zo_update(params, 77, g, lr, wd, RngKind::philox_icdf);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, theta] = params[i];
    const at::Tensor t0 = before[i].second.to(at::kDouble);
    const at::Tensor z = zo_direction(name, 77, t0.sizes(), at::kCPU).to(at::kDouble);
    const bool decays = name.find("bias") == std::string::npos &&
                        name.find("layernorm") == std::string::npos;
    EXPECT_EQ(zo_decays(name), decays) << name;
    const at::Tensor expected = t0 - lr * (g * z + (decays ? wd : 0.0) * t0);
    test::expect_close(theta, expected, 1e-7, 1e-6, name);
  }
}

TEST(ZoPerturb, FusedRestoreUpdateEqualsRestoreThenUpdate) {
  for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    NamedParams fused = make_params(dtype);
    zo_perturb(fused, 11, 1e-3, RngKind::philox_icdf);
    zo_perturb(fused, 11, -2e-3, RngKind::philox_icdf);
    NamedParams unfused = clone_params(fused);
    const NamedParams start = clone_params(fused);
    zo_restore_update(fused, 11, 1e-3, 12.0, 1e-3, 0.3, RngKind::philox_icdf);
    zo_perturb(unfused, 11, 1e-3, RngKind::philox_icdf);
    zo_update(unfused, 11, 12.0, 1e-3, 0.3, RngKind::philox_icdf);
    // fp32: both are rounding away from the same real number. fp16/bf16: the unfused path
    // rounds twice, so 1 ulp of the dtype.
    const double tol = dtype == at::kFloat ? 1e-6 : dtype == at::kHalf ? 1e-3 : 8e-3;
    for (std::size_t i = 0; i < fused.size(); ++i) {
      test::expect_close(fused[i].second, unfused[i].second, tol * 0.05, tol,
                         std::string(c10::toString(dtype)) + " " + fused[i].first);
      EXPECT_FALSE(at::equal(fused[i].second, start[i].second)) << fused[i].first;
    }
  }
}

double scale_of(const at::Tensor& t) { return t.abs().max().item<double>(); }

std::vector<SeedScalar> make_pairs(int count, uint64_t first_seed) {
  std::vector<SeedScalar> pairs;
  for (int j = 0; j < count; ++j) {
    pairs.push_back({first_seed + 1000003ull * j, j % 5 == 3 ? 0.0 : std::sin(j + 1.0) * 20.0});
  }
  return pairs;
}

TEST(ZoReplay, ManyPairsEqualOneByOne) {
  for (double wd : {0.0, 0.2}) {
    const NamedParams base = make_params(at::kFloat, 3);
    NamedParams replayed = clone_params(base);
    NamedParams stepwise = clone_params(base);
    const auto pairs = make_pairs(64, 500);
    zo_replay(replayed, base, pairs, 1e-4, wd, RngKind::philox_icdf);
    for (const SeedScalar& pair : pairs) {
      if (pair.value != 0.0) zo_update(stepwise, pair.seed, pair.value, 1e-4, wd, RngKind::philox_icdf);
    }
    for (std::size_t i = 0; i < base.size(); ++i) {
      // 64 roundings in the stepwise path against one: ≤ 1e-6 relative to the tensor's scale.
      test::expect_close(replayed[i].second, stepwise[i].second, 1e-6 * scale_of(base[i].second),
                         1e-6, "wd " + std::to_string(wd) + " " + base[i].first);
    }
  }
}

TEST(ZoReplay, IncrementalEqualsFromBase) {
  const NamedParams base = make_params(at::kFloat, 4);
  auto round1 = make_pairs(40, 9), delta = make_pairs(40, 9);
  for (std::size_t j = 0; j < delta.size(); ++j) delta[j].value = (j % 3) * 0.5 - 0.4;
  std::vector<SeedScalar> cumulative = round1;
  for (std::size_t j = 0; j < delta.size(); ++j) cumulative[j].value += delta[j].value;
  NamedParams synced = clone_params(base), fresh = clone_params(base);
  zo_replay(synced, base, round1, 1e-3, 0.0, RngKind::philox_icdf);
  zo_replay_incremental(synced, delta, 1e-3, 0.0, RngKind::philox_icdf);
  zo_replay(fresh, base, cumulative, 1e-3, 0.0, RngKind::philox_icdf);
  for (std::size_t i = 0; i < base.size(); ++i) {
    test::expect_close(synced[i].second, fresh[i].second, 1e-6 * scale_of(base[i].second), 1e-6,
                       base[i].first);
  }
}

// The reference replays seed by seed in fp16: each update below half an ulp rounds away. One
// pass with fp32 accumulation keeps their sum.
TEST(ZoReplay, HalfPrecisionKeepsSubUlpUpdates) {
  NamedParams base;
  base.emplace_back("w", at::full({4096}, 1.0, at::kHalf));
  std::vector<SeedScalar> pairs;
  for (int j = 0; j < 256; ++j) pairs.push_back({static_cast<uint64_t>(j + 1), 1.0});
  const double lr = 4e-5;  // |lr·z| <= 2.31e-4: under half an fp16 ulp just below 1.0 (2.44e-4)
  NamedParams stepwise = clone_params(base), replayed = clone_params(base);
  for (const SeedScalar& pair : pairs) {
    zo_update(stepwise, pair.seed, 1.0, lr, 0.0, RngKind::philox_icdf);
  }
  EXPECT_TRUE(at::equal(stepwise[0].second, base[0].second)) << "every stepwise update vanished";
  zo_replay(replayed, base, pairs, lr, 0.0, RngKind::philox_icdf);
  at::Tensor exact = at::ones({4096}, at::kDouble);
  for (const SeedScalar& pair : pairs) {
    exact -= lr * zo_direction("w", pair.seed, {4096}, at::kCPU).to(at::kDouble);
  }
  // |Σ| has sd 6.4e-4, so about half the elements move by at least one ulp.
  EXPECT_GT(replayed[0].second.ne(base[0].second).sum().item<int64_t>(), 1024);
  // One rounding to fp16: within its unit roundoff 2^-11 (+ fp32 accumulation error).
  test::expect_close(replayed[0].second, exact, 0.0, std::ldexp(1.0, -11) + 1e-6, "fp16 replay");
}

TEST(ZoReplay, BaseOnAnotherDtypeAndBadBase) {
  const NamedParams base = make_params(at::kFloat, 6);
  NamedParams half_params = make_params(at::kHalf, 7);
  const auto pairs = make_pairs(6, 1);
  zo_replay(half_params, base, pairs, 1e-3, 0.0, RngKind::philox_icdf);
  NamedParams expected = clone_params(base);
  zo_replay_incremental(expected, pairs, 1e-3, 0.0, RngKind::philox_icdf);
  for (std::size_t i = 0; i < base.size(); ++i) {
    test::expect_close(half_params[i].second, expected[i].second, 1e-4, 2e-3, base[i].first);
  }
  NamedParams renamed = clone_params(base);
  renamed[1].first = "model.norm.weight";
  try {
    zo_replay(half_params, renamed, pairs, 1e-3, 0.0, RngKind::philox_icdf);
    FAIL() << "expected fedkseed::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("base tensor model.norm.weight [65] does not match "
                                         "parameter model.layers.0.input_layernorm.weight"),
              std::string::npos) << e.what();
  }
}

TEST(ZoPerturb, RejectsBadInput) {
  NamedParams ints;
  ints.emplace_back("w", at::zeros({3}, at::kLong));
  EXPECT_THROW(zo_perturb(ints, 1, 1.0, RngKind::philox_icdf), Error);
  NamedParams twice = make_params(at::kFloat);
  twice[1].first = twice[0].first;
  EXPECT_THROW(zo_perturb(twice, 1, 1.0, RngKind::philox_icdf), Error);
  EXPECT_EQ(parse_rng_kind("torch"), RngKind::torch);
  EXPECT_EQ(rng_kind_name(parse_rng_kind("philox")), "philox");
  EXPECT_EQ(rng_kind_name(parse_rng_kind("philox-icdf")), "philox-icdf");
  try {
    parse_rng_kind("mt19937");
    FAIL() << "expected fedkseed::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--rng: 'mt19937' is not a generator; use philox-icdf, philox or torch");
  }
}

at::Tensor read_raw(const std::string& path, at::IntArrayRef sizes, at::ScalarType dtype) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  at::Tensor t = at::empty(sizes, dtype);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  EXPECT_EQ(in.gcount(), static_cast<std::streamsize>(t.nbytes())) << path;
  return t;
}

// --rng torch on `device` against the stages scripts/parity/zo_torch_reference.py (the
// reference's formulas) wrote into `dir`.
void expect_torch_mode_matches(const std::string& dir, c10::Device device) {
  // Mirrors PARAMS, SEED, EPS, G, LR, WD and PAIRS in the script.
  const std::vector<std::tuple<std::string, std::vector<int64_t>, at::ScalarType>> specs = {
      {"model.embed_tokens.weight", {5, 7}, at::kHalf},
      {"model.layers.0.input_layernorm.weight", {7}, at::kHalf},
      {"model.layers.0.mlp.up_proj.weight", {4, 6}, at::kFloat},
      {"lm_head.bias", {3}, at::kBFloat16}};
  const uint64_t seed = 123456789012ull;
  const double eps = 5e-4, g = 37.25, lr = 3e-3, wd = 0.1;
  auto load = [&](const std::string& stage) {
    NamedParams params;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto& [name, sizes, dtype] = specs[i];
      params.emplace_back(name, read_raw(dir + "/" + stage + "_" + std::to_string(i) + ".bin",
                                         sizes, dtype).to(device));
    }
    return params;
  };
  const NamedParams init = load("init");
  NamedParams params = clone_params(init);
  auto check = [&](const std::string& stage) {
    const NamedParams expected = load(stage);
    for (std::size_t i = 0; i < params.size(); ++i) {
      expect_same_bits(params[i].second, expected[i].second, stage + " " + params[i].first);
    }
  };
  zo_perturb(params, seed, eps, RngKind::torch);
  check("plus");
  zo_perturb(params, seed, -2 * eps, RngKind::torch);
  check("minus");
  NamedParams fused = clone_params(params);
  zo_perturb(params, seed, eps, RngKind::torch);
  check("restored");
  zo_update(params, seed, g, lr, wd, RngKind::torch);
  check("updated");
  zo_restore_update(fused, seed, eps, g, lr, wd, RngKind::torch);
  params = fused;
  check("updated");
  params = clone_params(init);
  zo_replay(params, init, {{98765, 2.5}, {4242, 0.0}, {77777777777ull, -1.75}}, lr, wd,
            RngKind::torch);
  check("replayed");
}

// The script run now on `device`: on CUDA both sides draw from the same GPU's generator.
void expect_torch_mode_matches_python(c10::Device device) {
  ASSERT_TRUE(test::python_can_import("torch"));
  const std::string dir = test::make_temp_dir("zo_torch");
  const auto run = test::run_command(test::python() + " " + FEDKSEED_SOURCE_DIR +
                                     "/scripts/parity/zo_torch_reference.py " + dir + " " + device.str());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  expect_torch_mode_matches(dir, device);
}

// ATen's CPU kernels round differently with and without AVX2, so the committed stages are per
// CPU capability (tests/data/zo/torch_cpu_<capability>); on a capability without them the
// script runs now.
TEST(ZoTorchMode, MatchesPythonReferenceBitForBit) {
  const std::string committed = test::test_data("zo/torch_cpu_" + at::get_cpu_capability());
  if (std::filesystem::is_directory(committed)) {
    expect_torch_mode_matches(committed, c10::Device(c10::kCPU));
  } else {
    std::cout << "no " << committed << ": running scripts/parity/zo_torch_reference.py\n";
    expect_torch_mode_matches_python(c10::Device(c10::kCPU));
  }
}

TEST(ZoTorchMode, MatchesPythonReferenceOnTheSameGpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  expect_torch_mode_matches_python(c10::Device(c10::kCUDA, 0));
}

}  // namespace
}  // namespace fedkseed
