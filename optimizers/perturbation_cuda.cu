// CUDA kernel behind zo_combine (see perturbation_cuda.h): one pass over the tensor, 16-byte
// loads and stores, four normals per Philox call, fp32 accumulation. The CPU twin lives in
// perturbation.cpp; both draw z from optimizers/philox.h, so they agree bit for bit.
#include "optimizers/perturbation_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>

#include "optimizers/philox.h"

namespace fedkseed::detail {
namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSm = 32;
// Caps registers at 64 per thread so that at least 1024 threads per SM keep enough loads in
// flight for a memory-bound perturbation (unbounded, ptxas took 99 for the half kernels).
constexpr int kMinBlocksPerSm = 4;

// Calls fn(seed, coeff) for every term in order. The inline terms are walked by an unrolled
// loop: indexing the kernel-parameter arrays dynamically would copy them to local memory.
template <typename Fn>
__device__ __forceinline__ void for_each_term(const ZoTerms& terms, Fn&& fn) {
  if (terms.count <= ZoTerms::kInline) {
#pragma unroll
    for (int j = 0; j < ZoTerms::kInline; ++j) {
      if (j < terms.count) fn(terms.inline_seeds[j], terms.inline_coeffs[j]);
    }
  } else {
    const auto* seeds = reinterpret_cast<const unsigned long long*>(terms.seeds);
    for (int64_t j = 0; j < terms.count; ++j) fn(__ldg(seeds + j), __ldg(terms.coeffs + j));
  }
}

__device__ __forceinline__ float lane_of(const philox::Float4& z, int lane) {
  return lane == 0 ? z.x : lane == 1 ? z.y : lane == 2 ? z.z : z.w;
}

template <typename T, int kVec>
struct alignas(16) Pack {
  T values[kVec];
};

// Threads first cover whole 16-byte packs (kVec elements = kVec/4 Philox counters each), then
// the elements past the last pack one by one; vec_count is 0 when a pointer is misaligned.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    zo_combine_kernel(T* out, const T* src, int64_t n, int64_t vec_count, float alpha,
                      uint64_t name_hash, ZoTerms terms) {
  constexpr int kVec = 16 / sizeof(T);
  constexpr int kGroups = kVec / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t v = first; v < vec_count; v += stride) {
    float acc[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) acc[k] = 0.0f;
    for_each_term(terms, [&](uint64_t seed, float coeff) {
#pragma unroll
      for (int q = 0; q < kGroups; ++q) {
        const philox::Float4 z =
            philox::normals4(seed, name_hash, static_cast<uint64_t>(v) * kGroups + q);
        acc[4 * q + 0] = philox::add(acc[4 * q + 0], philox::mul(coeff, z.x));
        acc[4 * q + 1] = philox::add(acc[4 * q + 1], philox::mul(coeff, z.y));
        acc[4 * q + 2] = philox::add(acc[4 * q + 2], philox::mul(coeff, z.z));
        acc[4 * q + 3] = philox::add(acc[4 * q + 3], philox::mul(coeff, z.w));
      }
    });
    const Pack<T, kVec> in = reinterpret_cast<const Pack<T, kVec>*>(src)[v];
    Pack<T, kVec> result;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      result.values[k] = static_cast<T>(
          philox::add(philox::mul(alpha, static_cast<float>(in.values[k])), acc[k]));
    }
    reinterpret_cast<Pack<T, kVec>*>(out)[v] = result;
  }
  for (int64_t i = vec_count * kVec + first; i < n; i += stride) {
    float acc = 0.0f;
    for_each_term(terms, [&](uint64_t seed, float coeff) {
      const philox::Float4 z = philox::normals4(seed, name_hash, static_cast<uint64_t>(i) / 4);
      acc = philox::add(acc, philox::mul(coeff, lane_of(z, static_cast<int>(i % 4))));
    });
    out[i] = static_cast<T>(philox::add(philox::mul(alpha, static_cast<float>(src[i])), acc));
  }
}

template <typename T>
void launch(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
            const ZoTerms& terms) {
  const int64_t n = out.numel();
  if (n == 0) return;
  T* out_ptr = static_cast<T*>(out.data_ptr());
  const T* src_ptr = static_cast<const T*>(src.const_data_ptr());
  constexpr int kVec = 16 / sizeof(T);
  const bool aligned = reinterpret_cast<uintptr_t>(out_ptr) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(src_ptr) % 16 == 0;
  const int64_t vec_count = aligned ? n / kVec : 0;
  const int64_t work = std::max(vec_count, n - vec_count * kVec);
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t blocks = std::min((work + kThreads - 1) / kThreads, sms * kBlocksPerSm);
  zo_combine_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0,
                         at::cuda::getCurrentCUDAStream()>>>(out_ptr, src_ptr, n, vec_count,
                                                             alpha, name_hash, terms);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

void zo_combine_cuda(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms) {
  const c10::cuda::CUDAGuard guard(out.device());
  switch (out.scalar_type()) {
    case at::kFloat:
      launch<float>(out, src, alpha, name_hash, terms);
      break;
    case at::kHalf:
      launch<c10::Half>(out, src, alpha, name_hash, terms);
      break;
    case at::kBFloat16:
      launch<c10::BFloat16>(out, src, alpha, name_hash, terms);
      break;
    default:
      TORCH_CHECK(false, "zo_combine_cuda: unsupported dtype ", out.scalar_type());
  }
}

}  // namespace fedkseed::detail
