// gemv_cuda: warps own rows of the weight matrix (several warps share a row's K range when there
// are too few rows to fill the device), lanes read consecutive 16-byte pieces of the row and of
// x (x is read through the read-only cache: every warp reads all of it), unrolled so that four
// pieces per lane are in flight; warps reduce with shuffles, and a row's warps through shared
// memory.
#include "gemv_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace fedkseed::detail {
namespace {

constexpr int kWarps = 8;
constexpr int kUnroll = 4;
constexpr int kPerPiece = 8;  // elements of a 16-byte piece

template <typename T>
__device__ __forceinline__ float piece_dot(const uint4& w_bits, const uint4& x_bits) {
  T w[kPerPiece], x[kPerPiece];
  memcpy(w, &w_bits, sizeof w_bits);
  memcpy(x, &x_bits, sizeof x_bits);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < kPerPiece; ++j) sum += static_cast<float>(w[j]) * static_cast<float>(x[j]);
  return sum;
}

// Block b takes rows [b·rows_per_block, ...); warp w takes row w / warps_per_row and every
// warps_per_row-th run of 32 pieces from run w % warps_per_row.
template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(const T* x, const T* weight, T* y, int rows, int pieces, int warps_per_row) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int rows_per_block = kWarps / warps_per_row;
  const int row = blockIdx.x * rows_per_block + warp / warps_per_row;
  const int part = warp % warps_per_row;
  float sum = 0.0f;
  if (row < rows) {
    const auto* w_row = reinterpret_cast<const uint4*>(weight) + static_cast<int64_t>(row) * pieces;
    const auto* x_pieces = reinterpret_cast<const uint4*>(x);
    const int stride = 32 * warps_per_row;
    // Pieces past the row's end load as zeros, so every iteration keeps kUnroll loads in flight.
    for (int p = part * 32 + lane; p < pieces; p += kUnroll * stride) {
      uint4 w[kUnroll], v[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const bool inside = p + u * stride < pieces;
        w[u] = inside ? __ldcs(w_row + p + u * stride) : uint4{0, 0, 0, 0};
        v[u] = inside ? __ldg(x_pieces + p + u * stride) : uint4{0, 0, 0, 0};
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) sum += piece_dot<T>(w[u], v[u]);
    }
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  __shared__ float partial[kWarps];
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (threadIdx.x < rows_per_block) {
    const int r = blockIdx.x * rows_per_block + threadIdx.x;
    if (r < rows) {
      float total = 0.0f;
      for (int w = 0; w < warps_per_row; ++w) total += partial[threadIdx.x * warps_per_row + w];
      y[r] = static_cast<T>(total);
    }
  }
}

bool aligned16(const at::Tensor& t) { return reinterpret_cast<uintptr_t>(t.const_data_ptr()) % 16 == 0; }

}  // namespace

bool gemv_cuda_accepts(const at::Tensor& x, const at::Tensor& weight) {
  const bool wants_grad = at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
  return !wants_grad && x.is_cuda() && weight.is_cuda() && x.device() == weight.device() &&
         (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) &&
         weight.scalar_type() == x.scalar_type() && weight.dim() == 2 && weight.is_contiguous() &&
         x.is_contiguous() && x.dim() >= 1 && x.numel() == weight.size(1) && weight.size(1) % kPerPiece == 0 &&
         weight.size(0) < (int64_t{1} << 31) && weight.size(1) < (int64_t{1} << 31) && aligned16(x) &&
         aligned16(weight);
}

at::Tensor gemv_cuda(const at::Tensor& x, const at::Tensor& weight) {
  TORCH_CHECK(gemv_cuda_accepts(x, weight), "gemv_cuda: operands it does not take");
  const c10::cuda::CUDAGuard guard(x.device());
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  at::Tensor y = at::empty(shape, x.options());
  const auto rows = static_cast<int>(weight.size(0));
  if (rows == 0) return y;
  const auto pieces = static_cast<int>(weight.size(1) / kPerPiece);
  // Enough warps to fill every multiprocessor (32 each) when the rows alone would not.
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  int warps_per_row = 1;
  while (warps_per_row < kWarps && static_cast<int64_t>(rows) * warps_per_row < 32 * sms) warps_per_row *= 2;
  const int rows_per_block = kWarps / warps_per_row;
  const unsigned blocks = static_cast<unsigned>((rows + rows_per_block - 1) / rows_per_block);
  auto launch = [&](auto type_tag) {
    using T = decltype(type_tag);
    gemv_kernel<T><<<blocks, kWarps * 32, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.const_data_ptr<T>(), weight.const_data_ptr<T>(), y.data_ptr<T>(), rows, pieces, warps_per_row);
  };
  if (x.scalar_type() == at::kHalf) {
    launch(c10::Half{});
  } else {
    launch(c10::BFloat16{});
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return y;
}

}  // namespace fedkseed::detail
