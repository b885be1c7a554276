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

// ATen's add (float sum, cast to T), then that sum squared in float.
template <typename T>
__global__ void add_square_kernel(const T* x, const T* delta, T* sum, float* squares, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const T total = static_cast<T>(__fadd_rn(static_cast<float>(x[i]), static_cast<float>(delta[i])));
    sum[i] = total;
    const float value = static_cast<float>(total);
    squares[i] = value * value;
  }
}

// out[b, t, h, d] = x·cos + rotate_half(x)·sin over the first `rotated` heads of qkv, each
// product and the sum rounded to T (the _rn intrinsics keep fp32 from fusing them into an FMA).
template <typename T>
__global__ void rope_kernel(const T* qkv, const T* cos, const T* sin, T* out, int64_t n, int64_t qkv_heads,
                            int64_t rotated, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{blockDim.x} * gridDim.x) {
    const int64_t d = i % head_dim;
    const int64_t head = (i / head_dim) % rotated;
    const int64_t row = i / (head_dim * rotated);  // b·tokens + t
    const T* x = qkv + (row * qkv_heads + head) * head_dim;
    const float partner = d < half ? -static_cast<float>(x[d + half]) : static_cast<float>(x[d - half]);
    const int64_t angle = row * head_dim + d;  // cos and sin are [B, 1, T, head_dim]
    const T direct = static_cast<T>(__fmul_rn(static_cast<float>(x[d]), static_cast<float>(cos[angle])));
    const T turned = static_cast<T>(__fmul_rn(partner, static_cast<float>(sin[angle])));  // −x is exact in T
    out[i] = static_cast<T>(__fadd_rn(static_cast<float>(direct), static_cast<float>(turned)));
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

std::pair<at::Tensor, at::Tensor> add_square_to_float_cuda(const at::Tensor& x, const at::Tensor& delta) {
  const at::Tensor input = x.contiguous(), other = delta.contiguous();
  TORCH_CHECK(input.sizes() == other.sizes() && input.scalar_type() == other.scalar_type(),
              "add_square_to_float_cuda: mismatched operands");
  at::Tensor sum = at::empty_like(input);
  at::Tensor squares = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t n = input.numel();
  if (n == 0) return {sum, squares};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "add_square_to_float_cuda", [&] {
    add_square_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        input.data_ptr<scalar_t>(), other.data_ptr<scalar_t>(), sum.data_ptr<scalar_t>(), squares.data_ptr<float>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {sum, squares};
}

at::Tensor rope_query_key_cuda(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin,
                               int64_t rotated, int64_t head_dim) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.is_contiguous() && cos.is_contiguous() && sin.is_contiguous() &&
                  cos.scalar_type() == qkv.scalar_type() && sin.scalar_type() == qkv.scalar_type() &&
                  head_dim % 2 == 0 && qkv.size(2) % head_dim == 0 && rotated <= qkv.size(2) / head_dim &&
                  cos.numel() == qkv.size(0) * qkv.size(1) * head_dim && sin.numel() == cos.numel(),
              "rope_query_key_cuda: mismatched operands");
  const int64_t batch = qkv.size(0), tokens = qkv.size(1);
  at::Tensor out = at::empty({batch, tokens, rotated, head_dim}, qkv.options());
  const int64_t n = out.numel();
  if (n > 0) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, qkv.scalar_type(), "rope_query_key_cuda", [&] {
      rope_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
          qkv.data_ptr<scalar_t>(), cos.data_ptr<scalar_t>(), sin.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n,
          qkv.size(2) / head_dim, rotated, head_dim);
    });
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out.transpose(1, 2);
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
