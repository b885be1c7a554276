// Fused CUDA kernels for the elementwise tails of the LLaMA layer. Each one performs the same
// single-precision operations, in the same order and with the same roundings, as the chain of
// ATen kernels it replaces, so logits stay bit-identical to the unfused (and transformers')
// forward; only the number of launches (and of intermediate tensors) drops.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>

namespace fedkseed::detail {

// x.to(float).pow(2) for a contiguous CUDA tensor of float, half or bfloat16.
at::Tensor square_to_float_cuda(const at::Tensor& x);

// {x + delta, (x + delta).to(float).pow(2)} in one pass: the residual add before an RMSNorm.
// x and delta of one dtype and shape (delta may be any layout; x is made contiguous).
std::pair<at::Tensor, at::Tensor> add_square_to_float_cuda(const at::Tensor& x, const at::Tensor& delta);

// RoPE on the query and key heads of the fused q/k/v projection, as ATen rounds
// q * cos + rotate_half(q) * sin (each product rounded to the dtype, then their sum).
// qkv [B, T, (heads + 2·kv)·head_dim] contiguous; cos, sin [B, 1, T, head_dim] contiguous of
// qkv's dtype; rotated = the first heads + kv heads. Returns [B, heads + kv, T, head_dim] laid
// out as [B, T, heads + kv, head_dim] (the layout ATen's elementwise chain gives).
at::Tensor rope_query_key_cuda(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                               int64_t rotated, int64_t head_dim);

// The attention library's inputs in one kernel: the rotated heads as rope_query_key_cuda, then
// `copied` heads of qkv unchanged (the values), each head zero-padded to padded_head_dim
// columns. Returns [B, rotated + copied, T, padded_head_dim] laid out as [B, T, heads, padded].
at::Tensor attention_inputs_cuda(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                                 int64_t rotated, int64_t copied, int64_t head_dim, int64_t padded_head_dim);

// weight * (x.to(float) * rsqrt(variance + eps)).to(x.dtype()): the end of an RMSNorm, for a
// contiguous x [..., H], variance float [..., 1] and weight [H] of x's dtype.
at::Tensor rms_norm_scale_cuda(const at::Tensor& x, const at::Tensor& variance, const at::Tensor& weight,
                               double eps);

// The whole RMSNorm in one kernel, its mean summed in the order ATen's reduction uses for such
// rows (so equal bit for bit to square_to_float_cuda + ATen's mean + rms_norm_scale_cuda):
// x contiguous [..., H] and weight [H] of x's dtype, where rms_norm_rows_cuda_accepts.
bool rms_norm_rows_cuda_accepts(const at::Tensor& x, const at::Tensor& weight);
at::Tensor rms_norm_rows_cuda(const at::Tensor& x, const at::Tensor& weight, double eps);
// {x + delta, its RMSNorm}: add_square_to_float_cuda and the above in one kernel, where
// add_rms_norm_rows_cuda_accepts (delta of x's shape, accepted like x).
bool add_rms_norm_rows_cuda_accepts(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight);
std::pair<at::Tensor, at::Tensor> add_rms_norm_rows_cuda(const at::Tensor& x, const at::Tensor& delta,
                                                         const at::Tensor& weight, double eps);

// silu(gate) * up for views [..., I] whose rows lie at one stride with contiguous last
// dimensions (the two halves of the fused gate/up projection). Returns a contiguous tensor.
at::Tensor silu_mul_cuda(const at::Tensor& gate, const at::Tensor& up);

// Whether silu_mul_cuda takes these views (otherwise use the ATen ops).
bool silu_mul_cuda_accepts(const at::Tensor& gate, const at::Tensor& up);

}  // namespace fedkseed::detail
