// Internal: the one operation behind every philox perturbation, and its CUDA launcher.
// out = alpha·src + Σ_j coeff_j·z(seed_j, name_hash, i), accumulated in fp32 in term order and
// rounded once to out's dtype. Included by perturbation.cpp (without CUDA headers) and the .cu.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

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

#if FEDKSEED_WITH_CUDA
// out and src: contiguous CUDA tensors of one dtype (fp32, fp16 or bf16) and size on one device;
// src may alias out. Enqueued on the current stream of out's device.
void zo_combine_cuda(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms);
#endif

}  // namespace fedkseed::detail
