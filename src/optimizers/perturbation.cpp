// The CPU twin of the philox kernels (a loop over optimizers/philox.h, parallel on LibTorch's
// intra-op threads), the dispatch to CUDA, the coefficient algebra that turns perturb / update /
// replay into one combine per tensor, and the reference's torch-mode sequence.
#include "fedkseed/optimizers/perturbation.h"

#include <ATen/Context.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/normal.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <unordered_set>

#include "fedkseed/common/error.h"
#include "fedkseed/common/parallel.h"
#include "fedkseed/optimizers/perturbation_cuda.h"
#include "fedkseed/optimizers/philox.h"

namespace fedkseed {
namespace {

constexpr int64_t kBlockNormals = 256;  // fp32 accumulators on the stack
constexpr int64_t kGrainNormals = 16384;  // elements per parallel task

// The Philox words of groups [g0, g0 + count), round by round across the groups: loops over
// arrays that GCC vectorises inside each caller's AVX2/AVX-512 clone.
struct PhiloxBlock {
  uint32_t x[kBlockNormals / 4], y[kBlockNormals / 4], z[kBlockNormals / 4], w[kBlockNormals / 4];
};
__attribute__((always_inline)) inline void philox_block(uint64_t seed, uint64_t name_hash,
                                                        int64_t g0, int64_t count, PhiloxBlock& b) {
  for (int64_t k = 0; k < count; ++k) {
    const auto group = static_cast<uint64_t>(g0 + k);
    b.x[k] = static_cast<uint32_t>(group);
    b.y[k] = static_cast<uint32_t>(group >> 32);
    b.z[k] = static_cast<uint32_t>(name_hash);
    b.w[k] = static_cast<uint32_t>(name_hash >> 32);
  }
  auto key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int64_t k = 0; k < count; ++k) philox::philox_round(b.x[k], b.y[k], b.z[k], b.w[k], key0, key1);
    key0 += philox::kWeyl0;
    key1 += philox::kWeyl1;
  }
}

// Box–Muller z for groups [g0, g0 + count) (4 normals each) into z[4·count]: philox::normals4
// split into loops over arrays. This file is built with -ffp-contract=off and -fno-math-errno,
// so every SIMD version (below) rounds each operation alone and gives the same bits.
__attribute__((always_inline)) inline void box_muller_block(uint64_t seed, uint64_t name_hash, int64_t g0,
                                                            int64_t count, float* z) {
  PhiloxBlock b;
  philox_block(seed, name_hash, g0, count, b);
  uint32_t radius[kBlockNormals / 2], angle[kBlockNormals / 2];
  float r[kBlockNormals / 2];
  for (int64_t k = 0; k < count; ++k) {
    radius[2 * k] = b.x[k];
    angle[2 * k] = b.y[k];
    radius[2 * k + 1] = b.z[k];
    angle[2 * k + 1] = b.w[k];
  }
  for (int64_t p = 0; p < 2 * count; ++p) {
    r[p] = philox::sqrt_rn(philox::mul(-2.0f, philox::log_of_odd24(philox::odd24(radius[p]))));
  }
  for (int64_t p = 0; p < 2 * count; ++p) {
    float c, s;
    philox::cos_sin_of_odd24(philox::odd24(angle[p]), c, s);
    z[2 * p] = philox::mul(r[p], c);
    z[2 * p + 1] = philox::mul(r[p], s);
  }
}

// Inverse-CDF z for groups [g0, g0 + count) (8 normals each) into z[8·count], in
// philox::icdf_normal's lane order.
__attribute__((always_inline)) inline void icdf_block(uint64_t seed, uint64_t name_hash, int64_t g0, int64_t count,
                                                      float* z) {
  PhiloxBlock b;
  philox_block(seed, name_hash, g0, count, b);
  uint32_t halves[kBlockNormals];
  for (int64_t k = 0; k < count; ++k) {
    const uint32_t words[4] = {b.x[k], b.y[k], b.z[k], b.w[k]};
    for (int lane = 0; lane < 8; ++lane) halves[8 * k + lane] = (words[lane / 2] >> (16 * (lane % 2))) & 0xFFFFu;
  }
  for (int64_t i = 0; i < 8 * count; ++i) z[i] = philox::icdf_normal(halves[i], philox::kIcdfTable);
}

// The block functions compiled for each instruction set: the same source, vectorised by GCC
// for AVX-512, AVX2 or the baseline x86-64 (explicit versions rather than target_clones, so
// that tests can run every one on a machine that has it).
using BlockFn = void (*)(uint64_t, uint64_t, int64_t, int64_t, float*);
struct SimdBlocks {
  BlockFn box_muller, icdf;
};
__attribute__((target("avx512f"))) void box_muller_avx512(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) {
  box_muller_block(s, h, g, n, z);
}
__attribute__((target("avx512f"))) void icdf_avx512(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) {
  icdf_block(s, h, g, n, z);
}
__attribute__((target("avx2"))) void box_muller_avx2(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) {
  box_muller_block(s, h, g, n, z);
}
__attribute__((target("avx2"))) void icdf_avx2(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) {
  icdf_block(s, h, g, n, z);
}
void box_muller_baseline(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) { box_muller_block(s, h, g, n, z); }
void icdf_baseline(uint64_t s, uint64_t h, int64_t g, int64_t n, float* z) { icdf_block(s, h, g, n, z); }

SimdBlocks simd_blocks(detail::CpuSimd level) {
  switch (level) {
    case detail::CpuSimd::avx512:
      return {box_muller_avx512, icdf_avx512};
    case detail::CpuSimd::avx2:
      return {box_muller_avx2, icdf_avx2};
    case detail::CpuSimd::baseline:
      break;
  }
  return {box_muller_baseline, icdf_baseline};
}

std::atomic<detail::CpuSimd> cpu_simd{detail::zo_cpu_simd_best()};

// One generator's normals per Philox group, and its block function at the chosen SIMD level.
struct CpuGenerator {
  int64_t per_group;
  BlockFn block;
};
CpuGenerator cpu_generator(RngKind rng) {
  TORCH_CHECK(rng_is_philox(rng), "zo: the ", rng_kind_name(rng), " generator has no philox kernel");
  const SimdBlocks blocks = simd_blocks(cpu_simd.load());
  return rng == RngKind::philox_icdf ? CpuGenerator{8, blocks.icdf} : CpuGenerator{4, blocks.box_muller};
}

template <typename T>
void combine_cpu_typed(T* out, const T* src, int64_t n, float alpha, uint64_t name_hash,
                       const detail::ZoTerms& terms, RngKind rng) {
  const CpuGenerator generator = cpu_generator(rng);
  const int64_t per_group = generator.per_group;
  const int64_t block_groups = kBlockNormals / per_group;
  const int64_t groups = (n + per_group - 1) / per_group;
  const int64_t grain = kGrainNormals / per_group;
  parallel_for_each((groups + grain - 1) / grain, [&](int64_t chunk) {
    const int64_t begin = chunk * grain, end = std::min(groups, begin + grain);
    float acc[kBlockNormals];
    float z[kBlockNormals];
    for (int64_t g0 = begin; g0 < end; g0 += block_groups) {
      const int64_t count = std::min(end - g0, block_groups);
      std::fill(acc, acc + per_group * count, 0.0f);
      for (int64_t j = 0; j < terms.count; ++j) {
        generator.block(terms.seeds[j], name_hash, g0, count, z);
        const float coeff = terms.coeffs[j];
        // The first term's product is the sum so far (not 0 + product): the kernels skip that add.
        if (j == 0) {
          for (int64_t k = 0; k < per_group * count; ++k) acc[k] = philox::mul(coeff, z[k]);
        } else {
          for (int64_t k = 0; k < per_group * count; ++k) acc[k] = philox::add(acc[k], philox::mul(coeff, z[k]));
        }
      }
      const int64_t e0 = per_group * g0;
      const int64_t e1 = std::min(n, per_group * (g0 + count));
      for (int64_t e = e0; e < e1; ++e) {
        out[e] = static_cast<T>(
            philox::add(philox::mul(alpha, static_cast<float>(src[e])), acc[e - e0]));
      }
    }
  });
}

// The (seed, coefficient) terms of one combine, with a per-device copy when a CUDA kernel
// needs more terms than travel inline.
class Terms {
 public:
  Terms(std::vector<uint64_t> seeds, std::vector<float> coeffs)
      : seeds_(std::move(seeds)), coeffs_(std::move(coeffs)) {}

  detail::ZoTerms view(c10::Device device) {
    detail::ZoTerms terms;
    terms.count = static_cast<int64_t>(seeds_.size());
    if (device.is_cpu()) {
      terms.seeds = seeds_.data();
      terms.coeffs = coeffs_.data();
    } else if (terms.count <= detail::ZoTerms::kInline) {
      std::copy(seeds_.begin(), seeds_.end(), terms.inline_seeds);
      std::copy(coeffs_.begin(), coeffs_.end(), terms.inline_coeffs);
    } else {
      if (!device_seeds_.defined() || device_seeds_.device() != device) {
        const auto count = static_cast<int64_t>(seeds_.size());
        device_seeds_ = at::from_blob(seeds_.data(), {count}, at::kLong).to(device);
        device_coeffs_ = at::from_blob(coeffs_.data(), {count}, at::kFloat).to(device);
      }
      terms.seeds = static_cast<const uint64_t*>(device_seeds_.const_data_ptr());
      terms.coeffs = device_coeffs_.const_data_ptr<float>();
    }
    return terms;
  }

 private:
  std::vector<uint64_t> seeds_;
  std::vector<float> coeffs_;
  at::Tensor device_seeds_, device_coeffs_;
};

// out = alpha·src + Σ terms, for one tensor on its device.
void combine(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
             Terms& terms, RngKind rng) {
  const detail::ZoTerms view = terms.view(out.device());
  if (out.is_cuda()) {
#if FEDKSEED_WITH_CUDA
    detail::zo_combine_cuda(out, src, alpha, name_hash, view, rng);
    return;
#else
    throw Error("zo: parameter on " + out.device().str() +
                " but fedkseed was built without CUDA kernels");
#endif
  }
  TORCH_CHECK(out.is_cpu(), "zo: unsupported device ", out.device());
  detail::zo_combine_host(out, src, alpha, name_hash, view, rng);
}

uint64_t hash_of(const std::string& name) { return philox::name_hash(name.data(), name.size()); }

void check_params(const NamedParams& params) {
  std::unordered_set<std::string> names;
  for (const auto& [name, tensor] : params) {
    if (!names.insert(name).second) throw Error("zo: parameter " + name + " appears twice");
    const auto type = tensor.scalar_type();
    if (type != at::kFloat && type != at::kHalf && type != at::kBFloat16) {
      throw Error("zo: parameter " + name + " has dtype " + std::string(c10::toString(type)) +
                  "; perturbations take fp32, fp16 or bf16");
    }
    TORCH_CHECK(tensor.is_contiguous(), "zo: parameter ", name, " is not contiguous");
  }
}

// One combine for the parameters zo_decays() selects and one for the rest.
struct Combine {
  float alpha;
  Terms terms;
};

void combine_params(const NamedParams& params, const NamedParams* base, Combine& decayed,
                    Combine& plain, RngKind rng) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, theta] = params[i];
    Combine& combine_for = zo_decays(name) ? decayed : plain;
    const at::Tensor& src = base ? (*base)[i].second : theta;
    combine(theta, src, combine_for.alpha, hash_of(name), combine_for.terms, rng);
  }
}

// The reference's perturbation: manual_seed, then θ = θ + scale·normal(θ's shape, dtype, device).
void torch_perturb(const NamedParams& params, uint64_t seed, double scale) {
  const c10::AutoGradMode no_grad(false);
  at::manual_seed(seed);
  for (const auto& [name, theta] : params) {
    theta.add_(at::normal(0.0, 1.0, theta.sizes(), std::nullopt, theta.options()).mul(scale));
  }
}

// The reference's update, op for op: θ = θ − lr·(g·z + λ·θ) with each op rounded to θ's dtype.
void torch_update(const NamedParams& params, uint64_t seed, double g, double lr,
                  double weight_decay) {
  const c10::AutoGradMode no_grad(false);
  at::manual_seed(seed);
  for (const auto& [name, theta] : params) {
    at::Tensor step = at::normal(0.0, 1.0, theta.sizes(), std::nullopt, theta.options()).mul(g);
    if (zo_decays(name)) step = step.add(theta.mul(weight_decay));
    theta.sub_(step.mul(lr));
  }
}

// Coefficients of zo_update applied once per non-zero pair, in order (see zo_replay).
std::pair<Combine, Combine> replay_combines(const std::vector<SeedScalar>& pairs, double lr,
                                            double weight_decay) {
  detail::ReplayCoefficients c = detail::zo_replay_coefficients(pairs, lr, weight_decay);
  return {Combine{c.alpha_decayed, Terms(c.seeds, std::move(c.decayed))},
          Combine{1.0f, Terms(std::move(c.seeds), std::move(c.plain))}};
}

}  // namespace

namespace detail {

CpuSimd zo_cpu_simd_best() {
  __builtin_cpu_init();  // may run from a static initialiser, before libgcc's own
  if (__builtin_cpu_supports("avx512f")) return CpuSimd::avx512;
  if (__builtin_cpu_supports("avx2")) return CpuSimd::avx2;
  return CpuSimd::baseline;
}

void zo_set_cpu_simd(CpuSimd level) {
  if (static_cast<int>(level) > static_cast<int>(zo_cpu_simd_best())) {
    throw Error("zo: this CPU cannot run the requested SIMD version of the generator");
  }
  cpu_simd.store(level);
}

ReplayCoefficients zo_replay_coefficients(const std::vector<SeedScalar>& pairs, double lr,
                                          double weight_decay) {
  std::vector<SeedScalar> live;
  for (const SeedScalar& pair : pairs) {
    if (pair.value != 0.0) live.push_back(pair);
  }
  const double d = 1.0 - lr * weight_decay;
  const auto n = static_cast<int>(live.size());
  ReplayCoefficients c;
  for (int j = 0; j < n; ++j) {
    c.seeds.push_back(live[j].seed);
    c.plain.push_back(static_cast<float>(-lr * live[j].value));
    c.decayed.push_back(static_cast<float>(-lr * live[j].value * std::pow(d, n - 1 - j)));
  }
  c.alpha_decayed = static_cast<float>(std::pow(d, n));
  return c;
}

void zo_combine_host(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms, RngKind rng) {
  const int64_t n = out.numel();
  switch (out.scalar_type()) {
    case at::kFloat:
      return combine_cpu_typed(out.data_ptr<float>(), src.const_data_ptr<float>(), n, alpha,
                               name_hash, terms, rng);
    case at::kHalf:
      return combine_cpu_typed(out.data_ptr<c10::Half>(), src.const_data_ptr<c10::Half>(), n,
                               alpha, name_hash, terms, rng);
    case at::kBFloat16:
      return combine_cpu_typed(out.data_ptr<c10::BFloat16>(),
                               src.const_data_ptr<c10::BFloat16>(), n, alpha, name_hash, terms, rng);
    default:
      TORCH_CHECK(false, "zo: unsupported dtype ", out.scalar_type());
  }
}

}  // namespace detail

RngKind parse_rng_kind(const std::string& text) {
  if (text == "philox-icdf") return RngKind::philox_icdf;
  if (text == "philox") return RngKind::philox;
  if (text == "torch") return RngKind::torch;
  throw Error("--rng: '" + text + "' is not a generator; use philox-icdf, philox or torch");
}

std::string rng_kind_name(RngKind kind) {
  switch (kind) {
    case RngKind::philox_icdf:
      return "philox-icdf";
    case RngKind::philox:
      return "philox";
    case RngKind::torch:
      break;
  }
  return "torch";
}

bool rng_is_philox(RngKind kind) { return kind != RngKind::torch; }

bool zo_decays(const std::string& name) {
  for (const char* marker : {"bias", "layer_norm", "layernorm"}) {
    if (name.find(marker) != std::string::npos) return false;
  }
  return true;
}

at::Tensor zo_direction(const std::string& name, uint64_t seed, at::IntArrayRef sizes,
                        c10::Device device, RngKind rng) {
  if (!rng_is_philox(rng)) throw Error("zo_direction: --rng torch draws no seed-addressed directions");
  at::Tensor z = at::zeros(sizes, at::TensorOptions().dtype(at::kFloat).device(device));
  Terms terms({seed}, {1.0f});
  combine(z, z, 1.0f, hash_of(name), terms, rng);
  return z;
}

void zo_perturb(const NamedParams& params, uint64_t seed, double scale, RngKind rng) {
  check_params(params);
  if (rng == RngKind::torch) return torch_perturb(params, seed, scale);
  Terms terms({seed}, {static_cast<float>(scale)});
  for (const auto& [name, theta] : params) combine(theta, theta, 1.0f, hash_of(name), terms, rng);
}

void zo_update(const NamedParams& params, uint64_t seed, double g, double lr, double weight_decay,
               RngKind rng) {
  check_params(params);
  if (rng == RngKind::torch) return torch_update(params, seed, g, lr, weight_decay);
  const auto coeff = static_cast<float>(-lr * g);
  Combine decayed{static_cast<float>(1.0 - lr * weight_decay), Terms({seed}, {coeff})};
  Combine plain{1.0f, Terms({seed}, {coeff})};
  combine_params(params, nullptr, decayed, plain, rng);
}

void zo_restore_update(const NamedParams& params, uint64_t seed, double eps, double g, double lr,
                       double weight_decay, RngKind rng) {
  check_params(params);
  if (rng == RngKind::torch) {
    torch_perturb(params, seed, eps);
    return torch_update(params, seed, g, lr, weight_decay);
  }
  const double d = 1.0 - lr * weight_decay;
  Combine decayed{static_cast<float>(d), Terms({seed}, {static_cast<float>(d * eps - lr * g)})};
  Combine plain{1.0f, Terms({seed}, {static_cast<float>(eps - lr * g)})};
  combine_params(params, nullptr, decayed, plain, rng);
}

void zo_replay(const NamedParams& params, const NamedParams& base,
               const std::vector<SeedScalar>& pairs, double lr, double weight_decay, RngKind rng) {
  check_params(params);
  if (base.size() != params.size()) {
    throw Error("zo_replay: base has " + std::to_string(base.size()) + " tensors, the model " +
                std::to_string(params.size()));
  }
  bool fused = rng_is_philox(rng);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [name, theta] = params[i];
    const at::Tensor& b = base[i].second;
    if (base[i].first != name || !b.sizes().equals(theta.sizes())) {
      throw Error("zo_replay: base tensor " + base[i].first + " " + c10::str(b.sizes()) +
                  " does not match parameter " + name + " " + c10::str(theta.sizes()));
    }
    fused = fused && b.device() == theta.device() && b.scalar_type() == theta.scalar_type() &&
            b.is_contiguous();
  }
  if (fused) {
    auto [decayed, plain] = replay_combines(pairs, lr, weight_decay);
    return combine_params(params, &base, decayed, plain, rng);
  }
  {
    const c10::AutoGradMode no_grad(false);
    for (std::size_t i = 0; i < params.size(); ++i) params[i].second.copy_(base[i].second);
  }
  zo_replay_incremental(params, pairs, lr, weight_decay, rng);
}

void zo_replay_incremental(const NamedParams& params, const std::vector<SeedScalar>& pairs,
                           double lr, double weight_decay, RngKind rng) {
  check_params(params);
  if (rng == RngKind::torch) {
    for (const SeedScalar& pair : pairs) {
      if (pair.value != 0.0) torch_update(params, pair.seed, pair.value, lr, weight_decay);
    }
    return;
  }
  auto [decayed, plain] = replay_combines(pairs, lr, weight_decay);
  combine_params(params, nullptr, decayed, plain, rng);
}

}  // namespace fedkseed
