// CUDA kernels behind zo_combine (see perturbation_cuda.h): one pass over a tensor, or over a
// whole parameter list from a chunk table in one launch; 16-byte loads and stores, fp32
// accumulation, persistent blocks. Each kernel is instantiated for both philox generators; the
// inverse-CDF one keeps its table in shared memory, loaded once per block (every magnitude
// precomputed where a block can take 128 KB, else the segments to interpolate from). The CPU
// twin lives in perturbation.cpp; both draw z from philox.h, so they agree bit for bit.
#include "fedkseed/optimizers/perturbation_cuda.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "fedkseed/optimizers/philox.h"

namespace fedkseed::detail {
namespace {

// A team of 256 threads combines one chunk at a time; a block is several teams sharing one
// copy of the generator's table, one block per SM (the table fills most of shared memory).
// A pass (a few terms, bound by memory) runs 3 teams (80 registers), two units per thread at a
// time; a replay (many terms, bound by the generator) does best with 128 registers (2 teams)
// and all four of a thread's units at once. Chosen on an H200 with dj-1.3b when each team was
// its own block with one table: ZO step 8.40 ms this way, 8.59 ms with four units per pass
// round, 8.43 ms with two units and 4 teams per SM; replays 3 % slower with 3 teams.
constexpr int kTeamThreads = 256;
constexpr int kPassTeams = 3;
constexpr int kReplayTeams = 2;
constexpr int kPassUnitsPerRound = 2;

__device__ __align__(16) const float kDeviceIcdfTable[2 * FEDKSEED_ICDF_SEGMENTS] = FEDKSEED_ICDF_TABLE_VALUES;

// The generators as kernel policies: kPerGroup normals per Philox call into z[], from the block's
// table in dynamic shared memory (kSharedBytes; none for Box–Muller).

// The table expanded: the magnitude of every (segment, fraction) pair, 2^15 floats (128 KB), each
// computed once per block exactly as the interpolation computes it (one correctly rounded
// fused multiply-add), so a magnitude is one lookup indexed by the 15 bits. Compared with
// interpolating from the segments this drops the fraction's extraction, its conversion and the
// multiply-add from every normal, and a warp's 32 random 4-byte lookups conflict less than its
// 8-byte ones did with eight interleaved copies of the segments.
struct ExpandedIcdfTable {
  static constexpr int kFractions = 16;
  static constexpr int kEntries = FEDKSEED_ICDF_SEGMENTS / 2 * kFractions;
  static constexpr int kSharedBytes = static_cast<int>(sizeof(float)) * kEntries;

  // Every thread of the block must call it, before any early exit. Four entries per thread at a
  // time, so that a warp's stores fill whole shared-memory lines.
  __device__ __forceinline__ static const float* load_table() {
    extern __shared__ float4 expanded_table[];
    const auto* segments = reinterpret_cast<const float2*>(kDeviceIcdfTable);
    constexpr int kQuads = kEntries / 4, kQuadsPerSegment = kFractions / 4;
    for (int i = threadIdx.x; i < kQuads; i += blockDim.x) {
      const float2 line = segments[i / kQuadsPerSegment];
      const float fraction = static_cast<float>(i % kQuadsPerSegment * 4);
      expanded_table[i] = make_float4(__fmaf_rn(line.y, fraction, line.x), __fmaf_rn(line.y, fraction + 1.0f, line.x),
                                      __fmaf_rn(line.y, fraction + 2.0f, line.x),
                                      __fmaf_rn(line.y, fraction + 3.0f, line.x));
    }
    __syncthreads();
    return reinterpret_cast<const float*>(expanded_table);
  }
  template <int kShift>
  __device__ __forceinline__ static float magnitude(uint32_t word, const float* table) {
    return table[(word >> kShift) & static_cast<uint32_t>(kEntries - 1)];
  }
};

// The table as its segments (base, slope) for GPUs whose blocks cannot take 128 KB of shared
// memory: the magnitude interpolated from the segment by the 16 bits' low four. Two copies
// interleaved (segment s of copy c at 2s + c; lane l reads copy l mod 2) spread a warp's random
// lookups over more banks (32 KB).
struct InterpolatedIcdfTable {
  static constexpr int kCopies = 2;
  static constexpr int kHalfSegments = FEDKSEED_ICDF_SEGMENTS / 2;
  static constexpr int kSharedBytes = static_cast<int>(sizeof(float2)) * kHalfSegments * kCopies;

  // Every thread of the block must call it, before any early exit; returns the lane's copy.
  __device__ __forceinline__ static const float* load_table() {
    extern __shared__ float2 shared_table[];
    const auto* source = reinterpret_cast<const float2*>(kDeviceIcdfTable);
    for (int i = threadIdx.x; i < kHalfSegments * kCopies; i += blockDim.x) shared_table[i] = source[i / kCopies];
    __syncthreads();
    return reinterpret_cast<const float*>(shared_table + threadIdx.x % kCopies);
  }
  // The segment's byte offset in the lane's copy comes from one mask and one multiply(-add) of
  // the word.
  template <int kShift>
  __device__ __forceinline__ static float magnitude(uint32_t word, const float* table) {
    // The segment bits sit at bit 4 + kShift; the offset is segment·kCopies·8 bytes.
    constexpr uint32_t kSegmentBits = static_cast<uint32_t>(kHalfSegments - 1) << (4 + kShift);
    const uint32_t offset = kShift == 0 ? (word & kSegmentBits) * (kCopies / 2)
                                        : __umulhi(word & kSegmentBits, static_cast<uint32_t>(kCopies) << 15);
    const float2 line = *reinterpret_cast<const float2*>(reinterpret_cast<const char*>(table) + offset);
    return __fmaf_rn(line.y, static_cast<float>((word >> kShift) & 15u), line.x);
  }
};

// philox::icdf_normal's bits from either table: the magnitude from the half-normal half, the sign
// from the 16 bits' top bit (z(u ^ 0x8000) = −z(u) bit for bit, as the table's second half
// holds). Eight normals in icdf_normal's lane order: lane 2k from the low half of Philox word k,
// lane 2k + 1 from its high half.
template <typename Table>
struct IcdfNormals : Table {
  static constexpr int kPerGroup = 8;

  template <int kShift>
  __device__ __forceinline__ static float normal(uint32_t word, const float* table) {
    const uint32_t sign = (kShift == 0 ? word << 16 : word) & 0x80000000u;
    return __uint_as_float(__float_as_uint(Table::template magnitude<kShift>(word, table)) ^ sign);
  }
  __device__ __forceinline__ static void draw(uint64_t seed, uint64_t name_hash, uint64_t group,
                                              const float* table, float* z) {
    const philox::Uint4 bits = philox::philox_words(seed, name_hash, group);
    const uint32_t words[4] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      z[2 * k] = normal<0>(words[k], table);
      z[2 * k + 1] = normal<16>(words[k], table);
    }
  }
};
struct BoxMullerNormals {
  static constexpr int kPerGroup = 4;
  static constexpr int kSharedBytes = 0;
  __device__ __forceinline__ static const float* load_table() { return nullptr; }
  __device__ __forceinline__ static void draw(uint64_t seed, uint64_t name_hash, uint64_t group,
                                              const float*, float* z) {
    const philox::Float4 v = philox::normals4(seed, name_hash, group);
    z[0] = v.x;
    z[1] = v.y;
    z[2] = v.z;
    z[3] = v.w;
  }
};

// The walkers of a combine's terms: each calls fn(seed, coeff, first) for every term in order,
// `first` marking the term that opens the sum. Inline terms go by an unrolled loop (indexing the
// kernel-parameter arrays at run time would copy them to local memory); the first stored term is
// peeled. Either way `first` is a compile-time constant where the sums are computed.
template <typename Fn>
__device__ __forceinline__ void for_each_inline_term(const ZoTerms& terms, Fn&& fn) {
#pragma unroll
  for (int j = 0; j < ZoTerms::kInline; ++j) {
    if (j < terms.count) fn(terms.inline_seeds[j], terms.inline_coeffs[j], j == 0);
  }
}
template <typename Fn>
__device__ __forceinline__ void for_each_stored_term(const ZoTerms& terms, Fn&& fn) {
  const auto* seeds = reinterpret_cast<const unsigned long long*>(terms.seeds);
  fn(__ldg(seeds), __ldg(terms.coeffs), true);
  for (int64_t j = 1; j < terms.count; ++j) fn(__ldg(seeds + j), __ldg(terms.coeffs + j), false);
}
template <typename Fn>
__device__ __forceinline__ void for_each_term(const ZoTerms& terms, Fn&& fn) {
  if (terms.count <= ZoTerms::kInline) {
    for_each_inline_term(terms, fn);
  } else {
    for_each_stored_term(terms, fn);
  }
}

// acc = coeff·z when the term opens the sum, else acc + coeff·z (the CPU twin's order).
__device__ __forceinline__ float accumulate(float acc, float coeff, float z, bool first) {
  const float product = philox::mul(coeff, z);
  return first ? product : philox::add(acc, product);
}

template <typename T, int kVec>
struct alignas(16) Pack {
  T values[kVec];
};

// A unit: the elements one thread owns at a time, whole 16-byte packs and whole Philox groups.
// Parameters are read and written once per pass, so loads and stores bypass the caches' reuse
// (streaming hints).
template <typename T, typename Gen>
struct Unit {
  static constexpr int kVec = 16 / sizeof(T);
  static constexpr int kElements = kVec > Gen::kPerGroup ? kVec : Gen::kPerGroup;
  static constexpr int kGroups = kElements / Gen::kPerGroup;
  static constexpr int kPacks = kElements / kVec;
  using Data = Pack<T, kVec>[kPacks];
  using Sums = float[kElements];

  __device__ __forceinline__ static void load(const T* src, int64_t unit, Data& data) {
    const auto* packs = reinterpret_cast<const uint4*>(src) + unit * kPacks;
#pragma unroll
    for (int p = 0; p < kPacks; ++p) {
      const uint4 bits = __ldcs(packs + p);
      static_assert(sizeof(bits) == sizeof(data[p]), "a pack is 16 bytes");
      memcpy(&data[p], &bits, sizeof bits);
    }
  }

  // out[unit] = alpha·data + sums.
  __device__ __forceinline__ static void store(T* out, int64_t unit, const Data& data, float alpha,
                                               const Sums& sums) {
    auto* packs = reinterpret_cast<uint4*>(out) + unit * kPacks;
#pragma unroll
    for (int p = 0; p < kPacks; ++p) {
      Pack<T, kVec> result;
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        result.values[k] = static_cast<T>(
            philox::add(philox::mul(alpha, static_cast<float>(data[p].values[k])), sums[p * kVec + k]));
      }
      uint4 bits;
      memcpy(&bits, &result, sizeof bits);
      __stcs(packs + p, bits);
    }
  }
};

// The fp32 sums of kUnits units of one thread, one term at a time: each term's seed (and the
// Philox key schedule derived from it) is read once for all of the thread's units.
template <typename T, typename Gen, int kUnits>
struct UnitSums {
  using U = Unit<T, Gen>;
  typename U::Sums values[kUnits] = {};

  // first_element[k]: the tensor index of unit k's first element.
  __device__ __forceinline__ void add(uint64_t seed, float coeff, bool first, const uint64_t (&first_element)[kUnits],
                                      uint64_t name_hash, const float* table) {
#pragma unroll
    for (int k = 0; k < kUnits; ++k) {
#pragma unroll
      for (int q = 0; q < U::kGroups; ++q) {
        float z[Gen::kPerGroup];
        Gen::draw(seed, name_hash, first_element[k] / Gen::kPerGroup + q, table, z);
#pragma unroll
        for (int l = 0; l < Gen::kPerGroup; ++l) {
          float& acc = values[k][q * Gen::kPerGroup + l];
          acc = accumulate(acc, coeff, z[l], first);
        }
      }
    }
  }
};

// kUnits units of one thread, unit k being units[k]: out = alpha·src + Σ terms. With kPrefetch
// (a pass of a few terms, bound by memory) the loads are issued before any normal is drawn, so
// a thread keeps all of its bytes in flight; without it (a replay of many terms, bound by the
// generator) a unit is loaded only once its sums are done, which leaves registers to the sums.
template <bool kPrefetch, typename T, typename Gen, int kUnits, typename Each>
__device__ __forceinline__ void combine_units(T* out, const T* src, const int64_t (&units)[kUnits], uint64_t base,
                                              float alpha, uint64_t name_hash, const float* table, Each&& each) {
  using U = Unit<T, Gen>;
  typename U::Data data[kPrefetch ? kUnits : 1];
  uint64_t first_element[kUnits];
#pragma unroll
  for (int k = 0; k < kUnits; ++k) {
    if constexpr (kPrefetch) U::load(src, units[k], data[k]);
    first_element[k] = base + static_cast<uint64_t>(units[k]) * U::kElements;
  }
  UnitSums<T, Gen, kUnits> sums;
  each([&](uint64_t seed, float coeff, bool first) { sums.add(seed, coeff, first, first_element, name_hash, table); });
#pragma unroll
  for (int k = 0; k < kUnits; ++k) {
    if constexpr (!kPrefetch) U::load(src, units[k], data[0]);
    U::store(out, units[k], data[kPrefetch ? k : 0], alpha, sums.values[k]);
  }
}

// One element e outside whole units: its whole Philox group is drawn and one lane kept.
template <typename T, typename Gen, typename Each>
__device__ __forceinline__ void combine_element(T* out, const T* src, int64_t i, uint64_t e, float alpha,
                                                uint64_t name_hash, const float* table, Each&& each) {
  float acc = 0.0f;
  each([&](uint64_t seed, float coeff, bool first) {
    float z[Gen::kPerGroup];
    Gen::draw(seed, name_hash, e / Gen::kPerGroup, table, z);
    float lane = 0.0f;
#pragma unroll
    for (int l = 0; l < Gen::kPerGroup; ++l) lane = l == static_cast<int>(e % Gen::kPerGroup) ? z[l] : lane;
    acc = accumulate(acc, coeff, lane, first);
  });
  out[i] = static_cast<T>(philox::add(philox::mul(alpha, static_cast<float>(src[i])), acc));
}

// Threads first cover whole units (grid-stride), then the elements past the last unit one by
// one; unit_count is 0 when a pointer is misaligned.
template <typename T, typename Gen>
__global__ void __launch_bounds__(kTeamThreads* kPassTeams, 1)
    zo_combine_kernel(T* out, const T* src, int64_t n, int64_t unit_count, float alpha, uint64_t name_hash,
                      ZoTerms terms) {
  using U = Unit<T, Gen>;
  const float* table = Gen::load_table();
  auto each = [&](auto&& fn) { for_each_term(terms, fn); };
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t u = first; u < unit_count; u += stride) {
    const int64_t units[1] = {u};
    combine_units<true, T, Gen>(out, src, units, 0, alpha, name_hash, table, each);
  }
  for (int64_t i = unit_count * U::kElements + first; i < n; i += stride) {
    combine_element<T, Gen>(out, src, i, static_cast<uint64_t>(i), alpha, name_hash, table, each);
  }
}

// One chunk of a one-launch pass. A whole aligned chunk gives each thread kUnitsPerThread
// units at once; other chunks go unit by unit, then element by element.
template <bool kPrefetch, typename T, typename Gen, typename Each>
__device__ __forceinline__ void flat_chunk(const ZoChunk& chunk, float alpha, const float* table, Each&& each) {
  using U = Unit<T, Gen>;
  constexpr int kUnitsPerThread = ZoChunk::kElements / U::kElements / kTeamThreads;
  static_assert(kUnitsPerThread * U::kElements * kTeamThreads == ZoChunk::kElements, "chunks split evenly");
  T* data = reinterpret_cast<T*>(chunk.address);
  const int units = chunk.address % 16 == 0 ? chunk.count / U::kElements : 0;
  const auto first = static_cast<uint64_t>(chunk.begin);
  const int thread = static_cast<int>(threadIdx.x % kTeamThreads);
  if (units == kUnitsPerThread * kTeamThreads) {
    constexpr int kRound = kPrefetch ? kPassUnitsPerRound : kUnitsPerThread;
    static_assert(kUnitsPerThread % kRound == 0, "rounds split a thread's units evenly");
#pragma unroll 1
    for (int r = 0; r < kUnitsPerThread; r += kRound) {
      int64_t mine[kRound];
#pragma unroll
      for (int k = 0; k < kRound; ++k) mine[k] = thread + (r + k) * kTeamThreads;
      combine_units<kPrefetch, T, Gen>(data, data, mine, first, alpha, chunk.name_hash, table, each);
    }
    return;
  }
  for (int u = thread; u < units; u += kTeamThreads) {
    const int64_t mine[1] = {u};
    combine_units<kPrefetch, T, Gen>(data, data, mine, first, alpha, chunk.name_hash, table, each);
  }
  for (int i = units * U::kElements + thread; i < chunk.count; i += kTeamThreads) {
    combine_element<T, Gen>(data, data, i, first + i, alpha, chunk.name_hash, table, each);
  }
}

// Calls fn(chunk) for the team's chunks (grid-stride over all teams), reading each chunk's
// descriptor while the one before it is combined, so that a team does not wait on a
// descriptor between chunks.
template <typename Fn>
__device__ __forceinline__ void for_each_team_chunk(const ZoChunk* chunks, int64_t chunk_count, Fn&& fn) {
  const int64_t teams = blockDim.x / kTeamThreads, stride = gridDim.x * teams;
  int64_t c = blockIdx.x * teams + threadIdx.x / kTeamThreads;
  if (c >= chunk_count) return;
  ZoChunk next = chunks[c];
  for (; c < chunk_count; c += stride) {
    const ZoChunk chunk = next;
    if (c + stride < chunk_count) next = chunks[c + stride];
    fn(chunk);
  }
}

// One class's chunk: a few inline terms (a pass) or many stored ones (a replay).
template <typename T, typename Gen, bool kStored>
__device__ __forceinline__ void flat_class_chunk(const ZoChunk& chunk, float alpha, const ZoTerms& terms,
                                                 const float* table) {
  if constexpr (kStored) {
    flat_chunk<false, T, Gen>(chunk, alpha, table, [&](auto&& fn) { for_each_stored_term(terms, fn); });
  } else {
    flat_chunk<true, T, Gen>(chunk, alpha, table, [&](auto&& fn) { for_each_inline_term(terms, fn); });
  }
}

// Fixed terms per class, both classes inline or both stored (kStored). The class picks a
// branch, not an index: indexing the kernel-parameter arrays at run time would copy them to
// local memory.
template <typename T, typename Gen, bool kStored>
__global__ void __launch_bounds__(kTeamThreads*(kStored ? kReplayTeams : kPassTeams), 1)
    zo_flat_kernel(const ZoChunk* chunks, int64_t chunk_count, ZoFlatTerms terms) {
  const float* table = Gen::load_table();
  for_each_team_chunk(chunks, chunk_count, [&](const ZoChunk& chunk) {
    if (chunk.decays != 0) {
      flat_class_chunk<T, Gen, kStored>(chunk, terms.alpha[1], terms.terms[1], table);
    } else {
      flat_class_chunk<T, Gen, kStored>(chunk, terms.alpha[0], terms.terms[0], table);
    }
  });
}

// Scalars from the previous step's losses on the device; block 0 records g and applied. The
// usual pass (restore + update of step t−1 and the +ε of step t) has its own branch so that its
// two terms' order is known at compile time.
template <typename T, typename Gen>
__global__ void __launch_bounds__(kTeamThreads* kPassTeams, 1)
    zo_flat_step_kernel(const ZoChunk* chunks, int64_t chunk_count, ZoStepTerms step) {
  const float* table = Gen::load_table();
  const bool has_previous = step.loss_plus != nullptr;
  ZoStepScalars scalars;
  if (has_previous) {
    scalars = zo_step_scalars(__ldg(step.loss_plus), __ldg(step.loss_minus), step);
    if (blockIdx.x == 0 && threadIdx.x == 0) {
      *step.g_out = scalars.g;
      *step.applied_out = scalars.applied ? 1.0f : 0.0f;
    }
  }
  for_each_team_chunk(chunks, chunk_count, [&](const ZoChunk& chunk) {
    const float alpha = chunk.decays != 0 ? scalars.alpha[1] : scalars.alpha[0];
    const float coeff = chunk.decays != 0 ? scalars.coeff[1] : scalars.coeff[0];
    if (has_previous && step.has_next) {
      flat_chunk<true, T, Gen>(chunk, alpha, table, [&](auto&& fn) {
        fn(step.previous_seed, coeff, true);
        fn(step.next_seed, step.next_coeff, false);
      });
    } else {
      flat_chunk<true, T, Gen>(chunk, alpha, table, [&](auto&& fn) {
        if (has_previous) fn(step.previous_seed, coeff, true);
        if (step.has_next) fn(step.next_seed, step.next_coeff, !has_previous);
      });
    }
  });
}

// Launches kKernel as blocks of kTeams teams, as many as fit on the device at once (at most
// enough for `team_work` teams: persistent blocks load the table once), with Gen's table in
// dynamic shared memory. The occupancy query (the kernel's registers and shared memory against
// the SM's) runs once per kernel and process; the shared-memory opt-in, a per-device
// attribute, on every launch.
template <typename Gen, auto kKernel, int kTeams, typename... Args>
void launch_resident(int64_t team_work, cudaStream_t stream, const Args&... args) {
  constexpr int kBlockThreads = kTeamThreads * kTeams;
  if constexpr (Gen::kSharedBytes > 48 * 1024) {
    C10_CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Gen::kSharedBytes));
  }
  static const int per_sm = [] {
    int blocks = 0;
    C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kKernel, kBlockThreads, Gen::kSharedBytes));
    return std::max(blocks, 1);
  }();
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t wanted = (team_work + kTeams - 1) / kTeams;
  const auto blocks = static_cast<unsigned>(std::max<int64_t>(1, std::min(wanted, sms * per_sm)));
  kKernel<<<blocks, kBlockThreads, Gen::kSharedBytes, stream>>>(args...);
}

std::atomic<CudaIcdfTable> forced_icdf_table{CudaIcdfTable::automatic};

// The inverse-CDF table on the current device: expanded where a block can opt into its 128 KB
// of shared memory (Hopper, A100), else interpolated (GPUs with about 100 KB per SM), unless a
// test forced one.
CudaIcdfTable icdf_table() {
  const CudaIcdfTable forced = forced_icdf_table.load();
  if (forced != CudaIcdfTable::automatic) return forced;
  return at::cuda::getCurrentDeviceProperties()->sharedMemPerBlockOptin >=
                 static_cast<size_t>(ExpandedIcdfTable::kSharedBytes)
             ? CudaIcdfTable::expanded
             : CudaIcdfTable::interpolated;
}

// Calls fn(Gen{}) with the kernel policy of a philox generator on the current device.
template <typename Fn>
void with_generator(RngKind rng, Fn&& fn) {
  if (rng == RngKind::philox_icdf && icdf_table() == CudaIcdfTable::expanded) {
    fn(IcdfNormals<ExpandedIcdfTable>{});
  } else if (rng == RngKind::philox_icdf) {
    fn(IcdfNormals<InterpolatedIcdfTable>{});
  } else {
    fn(BoxMullerNormals{});
  }
}

template <typename Gen>
struct FlatKernels {
  template <typename T>
  static void launch(const ZoChunk* table, int64_t chunk_count, const ZoFlatTerms& terms, cudaStream_t stream) {
    const bool stored = terms.terms[0].count > ZoTerms::kInline;
    TORCH_CHECK(stored == (terms.terms[1].count > ZoTerms::kInline),
                "zo_flat_cuda: one class's terms inline, the other's stored");
    if (stored) {
      launch_resident<Gen, zo_flat_kernel<T, Gen, true>, kReplayTeams>(chunk_count, stream, table, chunk_count, terms);
    } else {
      launch_resident<Gen, zo_flat_kernel<T, Gen, false>, kPassTeams>(chunk_count, stream, table, chunk_count, terms);
    }
  }
  template <typename T>
  static void launch(const ZoChunk* table, int64_t chunk_count, const ZoStepTerms& terms, cudaStream_t stream) {
    launch_resident<Gen, zo_flat_step_kernel<T, Gen>, kPassTeams>(chunk_count, stream, table, chunk_count, terms);
  }
};

template <typename Gen, typename Terms>
void launch_flat_typed(const ZoChunk* table, int64_t chunk_count, at::ScalarType dtype, const Terms& terms,
                       cudaStream_t stream) {
  switch (dtype) {
    case at::kFloat:
      return FlatKernels<Gen>::template launch<float>(table, chunk_count, terms, stream);
    case at::kHalf:
      return FlatKernels<Gen>::template launch<c10::Half>(table, chunk_count, terms, stream);
    case at::kBFloat16:
      return FlatKernels<Gen>::template launch<c10::BFloat16>(table, chunk_count, terms, stream);
    default:
      TORCH_CHECK(false, "zo_flat_cuda: unsupported dtype ", dtype);
  }
}

template <typename Terms>
void launch_flat(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype, const Terms& terms,
                 RngKind rng) {
  if (chunk_count == 0) return;
  TORCH_CHECK(rng_is_philox(rng), "zo_flat_cuda: --rng ", rng_kind_name(rng), " has no kernel");
  const c10::cuda::CUDAGuard guard(chunks.device());
  const auto* table = reinterpret_cast<const ZoChunk*>(chunks.const_data_ptr());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  with_generator(rng, [&](auto gen) { launch_flat_typed<decltype(gen)>(table, chunk_count, dtype, terms, stream); });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, typename Gen>
void launch(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash, const ZoTerms& terms) {
  const int64_t n = out.numel();
  if (n == 0) return;
  T* out_ptr = static_cast<T*>(out.data_ptr());
  const T* src_ptr = static_cast<const T*>(src.const_data_ptr());
  using U = Unit<T, Gen>;
  const bool aligned = reinterpret_cast<uintptr_t>(out_ptr) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(src_ptr) % 16 == 0;
  const int64_t unit_count = aligned ? n / U::kElements : 0;
  const int64_t work = std::max(unit_count, n - unit_count * U::kElements);
  launch_resident<Gen, zo_combine_kernel<T, Gen>, kPassTeams>((work + kTeamThreads - 1) / kTeamThreads,
                                                             at::cuda::getCurrentCUDAStream(), out_ptr, src_ptr, n,
                                                             unit_count, alpha, name_hash, terms);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename Gen>
void launch_combine(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                    const ZoTerms& terms) {
  switch (out.scalar_type()) {
    case at::kFloat:
      return launch<float, Gen>(out, src, alpha, name_hash, terms);
    case at::kHalf:
      return launch<c10::Half, Gen>(out, src, alpha, name_hash, terms);
    case at::kBFloat16:
      return launch<c10::BFloat16, Gen>(out, src, alpha, name_hash, terms);
    default:
      TORCH_CHECK(false, "zo_combine_cuda: unsupported dtype ", out.scalar_type());
  }
}

}  // namespace

void zo_set_cuda_icdf_table(CudaIcdfTable table) { forced_icdf_table.store(table); }

void zo_flat_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype, const ZoFlatTerms& terms,
                  RngKind rng) {
  launch_flat(chunks, chunk_count, dtype, terms, rng);
}

void zo_flat_step_cuda(const at::Tensor& chunks, int64_t chunk_count, at::ScalarType dtype,
                       const ZoStepTerms& terms, RngKind rng) {
  launch_flat(chunks, chunk_count, dtype, terms, rng);
}

void zo_combine_cuda(const at::Tensor& out, const at::Tensor& src, float alpha, uint64_t name_hash,
                     const ZoTerms& terms, RngKind rng) {
  TORCH_CHECK(rng_is_philox(rng), "zo_combine_cuda: --rng ", rng_kind_name(rng), " has no kernel");
  const c10::cuda::CUDAGuard guard(out.device());
  with_generator(rng, [&](auto gen) { launch_combine<decltype(gen)>(out, src, alpha, name_hash, terms); });
}

}  // namespace fedkseed::detail
