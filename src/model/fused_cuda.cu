// The kernels of fused_cuda.h: grid-stride elementwise loops. Rounding points mirror ATen's:
// float opmath inside each op, one rounding to the tensor's dtype at the end of each op.
#include "fused_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>

namespace fedkseed::detail {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, sms * 32)));
}

template <typename T>
__global__ void square_to_float_kernel(const T* x, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const float value = static_cast<float>(x[i]);
    out[i] = value * value;
  }
}

// ATen: variance + eps (eps as float), rsqrt, x * that, cast to T, then weight * it in float.
template <typename T>
__global__ void rms_norm_scale_kernel(const T* x, const float* variance, const T* weight, float eps, T* out,
                                      int64_t n, int64_t width) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const float scale = rsqrtf(variance[i / width] + eps);
    const T normed = static_cast<T>(static_cast<float>(x[i]) * scale);
    out[i] = static_cast<T>(static_cast<float>(weight[i % width]) * static_cast<float>(normed));
  }
}

// ATen's silu (x / (1 + exp(-x)) in float, cast to T), then the product in float, cast to T.
template <typename T>
__global__ void silu_mul_kernel(const T* gate, const T* up, int64_t row_stride, T* out, int64_t n, int64_t width) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const int64_t at = (i / width) * row_stride + i % width;
    const float g = static_cast<float>(gate[at]);
    const T activated = static_cast<T>(g / (1.0f + expf(-g)));
    out[i] = static_cast<T>(static_cast<float>(activated) * static_cast<float>(up[at]));
  }
}

// The stride between consecutive rows of a [..., I] view whose rows lie at one stride (size-1
// dimensions ignored), or 0 when they don't or the last dimension is not contiguous.
int64_t uniform_row_stride(const at::Tensor& view) {
  if (view.dim() == 0 || view.stride(-1) != 1) return 0;
  int64_t row_stride = 0, span = 0;
  for (int64_t d = view.dim() - 2; d >= 0; --d) {
    if (view.size(d) == 1) continue;
    if (row_stride == 0) {
      row_stride = view.stride(d);
    } else if (view.stride(d) != span) {
      return 0;
    }
    span = view.stride(d) * view.size(d);
  }
  return row_stride == 0 ? view.size(-1) : row_stride;
}

}  // namespace

at::Tensor square_to_float_cuda(const at::Tensor& x) {
  const at::Tensor input = x.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t n = input.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "square_to_float_cuda", [&] {
    square_to_float_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        input.data_ptr<scalar_t>(), out.data_ptr<float>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor rms_norm_scale_cuda(const at::Tensor& x, const at::Tensor& variance, const at::Tensor& weight,
                               double eps) {
  const at::Tensor input = x.contiguous(), var = variance.contiguous(), w = weight.contiguous();
  TORCH_CHECK(var.scalar_type() == at::kFloat && w.scalar_type() == input.scalar_type() &&
                  w.numel() == input.size(-1) && var.numel() * input.size(-1) == input.numel(),
              "rms_norm_scale_cuda: mismatched operands");
  at::Tensor out = at::empty_like(input);
  const int64_t n = input.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "rms_norm_scale_cuda", [&] {
    rms_norm_scale_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        input.data_ptr<scalar_t>(), var.data_ptr<float>(), w.data_ptr<scalar_t>(), static_cast<float>(eps),
        out.data_ptr<scalar_t>(), n, input.size(-1));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

bool silu_mul_cuda_accepts(const at::Tensor& gate, const at::Tensor& up) {
  return gate.is_cuda() && gate.sizes() == up.sizes() && gate.strides() == up.strides() &&
         gate.scalar_type() == up.scalar_type() && uniform_row_stride(gate) > 0;
}

at::Tensor silu_mul_cuda(const at::Tensor& gate, const at::Tensor& up) {
  TORCH_CHECK(silu_mul_cuda_accepts(gate, up), "silu_mul_cuda: unsupported views");
  at::Tensor out = at::empty(gate.sizes(), gate.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = gate.numel();
  if (n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gate.scalar_type(), "silu_mul_cuda", [&] {
    silu_mul_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        gate.data_ptr<scalar_t>(), up.data_ptr<scalar_t>(), uniform_row_stride(gate), out.data_ptr<scalar_t>(), n,
        gate.size(-1));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace fedkseed::detail
