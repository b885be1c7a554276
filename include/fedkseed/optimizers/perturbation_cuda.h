// Internal: the one operation behind every philox perturbation, its CUDA launchers (one tensor,
// or a whole parameter list as a table of chunks) and the ZO step's scalars computed where the
// losses live. out = alpha·src + Σ_j coeff_j·z(seed_j, name_hash, i), accumulated in fp32 in term
// order from the first term's product (0 without terms) and rounded once to out's dtype.
// Included by optimizers/*.cpp (no CUDA headers) and the .cu.
#pragma once

#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/philox.h"

namespace fedkseed::detail {

// The (seed, coefficient) terms of one combine. Up to kInline terms travel by value (no
// host-to-device copy for a ZO step); larger sets point at `count` entries in memory on the
// tensor's device.
struct ZoTerms {
  static constexpr int kInline = 4;
  uint64_t inline_seeds[kInline] = {};
  float inline_coeffs[kInline] = {};
  const uint64_t* seeds = nullptr;
  const float* coeffs = nullptr;
  int64_t count = 0;
};

// One fixed-size piece of one parameter tensor for a one-launch pass over a parameter list:
// `count` elements at `address` (element `begin` of the tensor named by name_hash).
struct ZoChunk {
  static constexpr int64_t kElements = 8192;
  uint64_t address = 0;
  int64_t begin = 0;
  uint64_t name_hash = 0;
  int32_t count = 0;
  int32_t decays = 0;  // 1: zo_decays(name), the weight-decayed class
};

// Terms of a one-launch pass, per class (index = ZoChunk::decays).
struct ZoFlatTerms {
  float alpha[2] = {1.0f, 1.0f};
  ZoTerms terms[2];
};

// A ZO step's pass whose scalars come from the previous step's losses on the device: the
// restore+update of step t−1 (skipped rules as zo_step) fused with the +ε of step t.
struct ZoStepTerms {
  const float* loss_plus = nullptr;  // step t−1's L+ and L− (nullptr: no previous step)
  const float* loss_minus = nullptr;
  float* g_out = nullptr;            // receives g of step t−1 (0 when skipped)
  float* applied_out = nullptr;      // receives 1 (applied) or 0 (skipped)
  uint64_t previous_seed = 0;
  uint64_t next_seed = 0;
  bool has_next = false;
  float next_coeff = 0.0f;  // +ε as float
  double eps = 0.0, lr = 0.0, weight_decay = 0.0, grad_clip = 0.0;
};

// The scalars of a restore+update from L+ and L−, exactly as zo_step computes them on the host:
// g = fp32(L+ − L−)·fp32(1/(2ε)); skipped (restore only) on NaN or |L+ − L−| > clip (clip > 0).
struct ZoStepScalars {
  float g = 0.0f;
  bool applied = false;
  float alpha[2] = {1.0f, 1.0f};  // per class, as ZoFlatTerms
  float coeff[2] = {0.0f, 0.0f};
};

// Double ops without FMA contraction, so the device rounds as the host does.
FEDKSEED_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
FEDKSEED_HD double dsub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}

FEDKSEED_HD ZoStepScalars zo_step_scalars(float loss_plus, float loss_minus, const ZoStepTerms& t) {
  ZoStepScalars s;
  const float difference = philox::add(loss_plus, -loss_minus);
  const bool skip = loss_plus != loss_plus || loss_minus != loss_minus ||
                    (t.grad_clip > 0.0 && static_cast<double>(std::fabs(difference)) > t.grad_clip);
  const auto eps = static_cast<float>(t.eps);
  s.coeff[0] = s.coeff[1] = eps;
  if (skip) return s;
  const float reciprocal = philox::div(1.0f, static_cast<float>(dmul(2.0, t.eps)));
  s.g = philox::mul(difference, reciprocal);
  s.applied = true;
  const double lr_g = dmul(t.lr, static_cast<double>(s.g));
  const double d = dsub(1.0, dmul(t.lr, t.weight_decay));
  s.alpha[1] = static_cast<float>(d);
  s.coeff[1] = static_cast<float>(dsub(dmul(d, t.eps), lr_g));
  s.coeff[0] = static_cast<float>(dsub(t.eps, lr_g));
  return s;
}

// zo_replay's coefficients: the non-zero pairs in order, coefficient −lr·G_j (plain class) and
// −lr·G_j·d^(n−1−j) (decayed class, d = 1 − lr·weight_decay), and α = dⁿ for the decayed class.
struct ReplayCoefficients {
  std::vector<uint64_t> seeds;
  std::vector<float> decayed, plain;
  float alpha_decayed = 1.0f;
};
ReplayCoefficients zo_replay_coefficients(const std::vector<SeedScalar>& pairs, double lr,
                                          double weight_decay);

// The CPU twin's SIMD versions, in increasing order; all give the same bits. The best one the
// CPU has is used unless zo_set_cpu_simd picks another (for tests; throws fedkseed::Error when
// the CPU lacks it).
enum class CpuSimd { baseline, avx2, avx512 };
CpuSimd zo_cpu_simd_best();
void zo_set_cpu_simd(CpuSimd level);

// The CPU twin of zo_combine_cuda (out, src on the CPU; terms point at host memory).
void zo_combine_host(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms, RngKind rng);

#if FEDKSEED_WITH_CUDA
// One launch over `chunk_count` chunks (a CUDA tensor of ZoChunk bytes) of `dtype` parameters.
// rng: a philox generator (philox_icdf or philox) in every launcher.
void zo_flat_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                  const ZoFlatTerms& terms, RngKind rng);
void zo_flat_step_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                       const ZoStepTerms& terms, RngKind rng);

// The inverse-CDF kernels' table in shared memory: `automatic` (the default) takes the expanded
// one (every magnitude precomputed, 128 KB) where the device's blocks hold it, else the
// interpolated one (the segments, 32 KB); tests force either (expanded fails on a device whose
// blocks cannot hold it). Both draw the same bits.
enum class CudaIcdfTable { automatic, interpolated, expanded };
void zo_set_cuda_icdf_table(CudaIcdfTable table);

// out and src: contiguous CUDA tensors of one dtype (fp32, fp16 or bf16) and size on one device;
// src may alias out. Enqueued on the current stream of out's device.
void zo_combine_cuda(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms, RngKind rng);
#endif

}  // namespace fedkseed::detail
