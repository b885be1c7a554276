// One row times a weight matrix on CUDA, for decoding one sequence: cuBLAS's kernels for a
// single-row product stream the weights at about two thirds of the device's copy bandwidth;
// this one streams them with every lane's 16-byte loads in flight.
#pragma once

#include <ATen/core/Tensor.h>

namespace fedkseed::detail {

// x · weightᵀ for one row: x [..., K] with K elements in all, weight [N, K] contiguous, both
// fp16 or both bf16 on one CUDA device; products summed in fp32 (in an order of our own, so
// not bit-identical to cuBLAS), rounded once to the dtype. Returns [..., N] (x's leading sizes).
at::Tensor gemv_cuda(const at::Tensor& x, const at::Tensor& weight);

// Whether gemv_cuda takes these operands: the types above, K a multiple of 8, 16-byte aligned
// data, and no gradient wanted.
bool gemv_cuda_accepts(const at::Tensor& x, const at::Tensor& weight);

}  // namespace fedkseed::detail
