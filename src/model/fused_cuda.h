// Fused CUDA kernels for the elementwise tails of the LLaMA layer. Each one performs the same
// single-precision operations, in the same order and with the same roundings, as the chain of
// ATen kernels it replaces, so logits stay bit-identical to the unfused (and transformers')
// forward; only the number of launches (and of intermediate tensors) drops.
#pragma once

#include <ATen/core/Tensor.h>

namespace fedkseed::detail {

// x.to(float).pow(2) for a contiguous CUDA tensor of float, half or bfloat16.
at::Tensor square_to_float_cuda(const at::Tensor& x);

// weight * (x.to(float) * rsqrt(variance + eps)).to(x.dtype()): the end of an RMSNorm, for a
// contiguous x [..., H], variance float [..., 1] and weight [H] of x's dtype.
at::Tensor rms_norm_scale_cuda(const at::Tensor& x, const at::Tensor& variance, const at::Tensor& weight,
                               double eps);

// silu(gate) * up for views [..., I] whose rows lie at one stride with contiguous last
// dimensions (the two halves of the fused gate/up projection). Returns a contiguous tensor.
at::Tensor silu_mul_cuda(const at::Tensor& gate, const at::Tensor& up);

// Whether silu_mul_cuda takes these views (otherwise use the ATen ops).
bool silu_mul_cuda_accepts(const at::Tensor& gate, const at::Tensor& up);

}  // namespace fedkseed::detail
