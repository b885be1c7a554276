// CUDA kernels behind zo_combine (see perturbation_cuda.h): one pass over a tensor, or over a
// whole parameter list from a chunk table in one launch; 16-byte loads and stores, four normals
// per Philox call, fp32 accumulation. The CPU twin lives in perturbation.cpp; both draw z from
// optimizers/philox.h, so they agree bit for bit.
#include "fedkseed/optimizers/perturbation_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>

#include "fedkseed/optimizers/philox.h"

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


// One chunk of a one-launch pass: whole 16-byte packs first, then its last count % kVec
// elements. each(fn) calls fn(seed, coeff) for every term of the chunk's class, in order.
template <typename T, typename Each>
__device__ __forceinline__ void flat_chunk(const ZoChunk& chunk, float alpha, Each&& each) {
  constexpr int kVec = 16 / sizeof(T);
  constexpr int kGroups = kVec / 4;
  T* data = reinterpret_cast<T*>(chunk.address);
  const int packs = chunk.address % 16 == 0 ? chunk.count / kVec : 0;
  const uint64_t first_group = static_cast<uint64_t>(chunk.begin) / 4;
  for (int v = threadIdx.x; v < packs; v += kThreads) {
    const Pack<T, kVec> in = reinterpret_cast<const Pack<T, kVec>*>(data)[v];
    float acc[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) acc[k] = 0.0f;
    each([&](uint64_t seed, float coeff) {
#pragma unroll
      for (int q = 0; q < kGroups; ++q) {
        const philox::Float4 z = philox::normals4(
            seed, chunk.name_hash, first_group + static_cast<uint64_t>(v) * kGroups + q);
        acc[4 * q + 0] = philox::add(acc[4 * q + 0], philox::mul(coeff, z.x));
        acc[4 * q + 1] = philox::add(acc[4 * q + 1], philox::mul(coeff, z.y));
        acc[4 * q + 2] = philox::add(acc[4 * q + 2], philox::mul(coeff, z.z));
        acc[4 * q + 3] = philox::add(acc[4 * q + 3], philox::mul(coeff, z.w));
      }
    });
    Pack<T, kVec> result;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      result.values[k] = static_cast<T>(
          philox::add(philox::mul(alpha, static_cast<float>(in.values[k])), acc[k]));
    }
    reinterpret_cast<Pack<T, kVec>*>(data)[v] = result;
  }
  for (int i = packs * kVec + static_cast<int>(threadIdx.x); i < chunk.count; i += kThreads) {
    const uint64_t e = static_cast<uint64_t>(chunk.begin) + i;
    float acc = 0.0f;
    each([&](uint64_t seed, float coeff) {
      const philox::Float4 z = philox::normals4(seed, chunk.name_hash, e / 4);
      acc = philox::add(acc, philox::mul(coeff, lane_of(z, static_cast<int>(e % 4))));
    });
    data[i] = static_cast<T>(philox::add(philox::mul(alpha, static_cast<float>(data[i])), acc));
  }
}

// Fixed terms per class. The class picks a branch, not an index: indexing the kernel-parameter
// arrays at run time would copy them to local memory.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    zo_flat_kernel(const ZoChunk* chunks, ZoFlatTerms terms) {
  const ZoChunk chunk = chunks[blockIdx.x];
  if (chunk.decays != 0) {
    flat_chunk<T>(chunk, terms.alpha[1], [&](auto&& fn) { for_each_term(terms.terms[1], fn); });
  } else {
    flat_chunk<T>(chunk, terms.alpha[0], [&](auto&& fn) { for_each_term(terms.terms[0], fn); });
  }
}

// Scalars from the previous step's losses on the device; block 0 records g and applied.
template <typename T>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    zo_flat_step_kernel(const ZoChunk* chunks, ZoStepTerms step) {
  const ZoChunk chunk = chunks[blockIdx.x];
  const bool has_previous = step.loss_plus != nullptr;
  float alpha = 1.0f, coeff = 0.0f;
  if (has_previous) {
    const ZoStepScalars scalars = zo_step_scalars(__ldg(step.loss_plus), __ldg(step.loss_minus), step);
    alpha = chunk.decays != 0 ? scalars.alpha[1] : scalars.alpha[0];
    coeff = chunk.decays != 0 ? scalars.coeff[1] : scalars.coeff[0];
    if (blockIdx.x == 0 && threadIdx.x == 0) {
      *step.g_out = scalars.g;
      *step.applied_out = scalars.applied ? 1.0f : 0.0f;
    }
  }
  flat_chunk<T>(chunk, alpha, [&](auto&& fn) {
    if (has_previous) fn(step.previous_seed, coeff);
    if (step.has_next) fn(step.next_seed, step.next_coeff);
  });
}

template <typename Terms, typename FloatKernel, typename HalfKernel, typename BFloatKernel>
void launch_flat(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                 const Terms& terms, FloatKernel f32, HalfKernel f16, BFloatKernel bf16) {
  if (chunk_count == 0) return;
  const c10::cuda::CUDAGuard guard(chunks.device());
  const auto* table = reinterpret_cast<const ZoChunk*>(chunks.const_data_ptr());
  const auto blocks = static_cast<unsigned>(chunk_count);
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  switch (dtype) {
    case at::kFloat:
      f32<<<blocks, kThreads, 0, stream>>>(table, terms);
      break;
    case at::kHalf:
      f16<<<blocks, kThreads, 0, stream>>>(table, terms);
      break;
    case at::kBFloat16:
      bf16<<<blocks, kThreads, 0, stream>>>(table, terms);
      break;
    default:
      TORCH_CHECK(false, "zo_flat_cuda: unsupported dtype ", dtype);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
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

void zo_flat_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                  const ZoFlatTerms& terms) {
  launch_flat(chunks, chunk_count, dtype, terms, zo_flat_kernel<float>, zo_flat_kernel<c10::Half>,
              zo_flat_kernel<c10::BFloat16>);
}

void zo_flat_step_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                       const ZoStepTerms& terms) {
  launch_flat(chunks, chunk_count, dtype, terms, zo_flat_step_kernel<float>,
              zo_flat_step_kernel<c10::Half>, zo_flat_step_kernel<c10::BFloat16>);
}

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
