// decode_attention_cuda: blocks take (sequence, query head, range of cache slots); a block's
// warps take its slots two at a time with an online softmax (running maximum and sum, as flash
// attention does) and merge through shared memory. Each lane holds the head dims d = lane +
// 32·i, so a warp reads each key and value row in whole 32-element runs. When sequences x
// heads alone would leave most multiprocessors idle (small batches), the slots are split over
// several blocks, which leave partial results in a workspace; the last block of a head to
// finish (an atomic ticket) merges them, so one launch does it all.
#include "decode_attention_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fedkseed::detail {
namespace {

constexpr int kWarps = 8;
constexpr int kMaxPerLane = 8;  // head dims up to 256
constexpr int kMinSlotsPerBlock = 32;

struct Strides {
  int64_t batch, head;
};

// Partial results of the blocks of one head, for the merge: maxima and sums [heads·splits],
// sums of weighted values [heads·splits, head_dim]; tickets [heads], zero between launches.
struct Workspace {
  float* maxima;
  float* sums;
  float* values;
  unsigned* tickets;
};

template <typename T, int kPerLane>
__global__ void __launch_bounds__(kWarps * 32)
    decode_attention_kernel(const T* query, Strides query_strides, const T* key, Strides key_strides, const T* value,
                            Strides value_strides, T* key_cache, T* value_cache, const bool* key_mask,
                            const int64_t* slot_ptr, T* out, int heads, int kv_heads, int slots, int head_dim,
                            float scale, int splits, Workspace workspace) {
  const int head_index = blockIdx.x / splits, split = blockIdx.x - head_index * splits;
  const int b = head_index / heads, h = head_index - b * heads;
  const int kv = h / (heads / kv_heads);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int slot = static_cast<int>(*slot_ptr);
  const T* new_key = key + b * key_strides.batch + kv * key_strides.head;
  const T* new_value = value + b * value_strides.batch + kv * value_strides.head;
  const int64_t cache_head = (static_cast<int64_t>(b) * kv_heads + kv) * slots;
  T* keys = key_cache + cache_head * head_dim;
  T* values = value_cache + cache_head * head_dim;
  // The first block of each group's first query head stores the new key and value; every
  // block reads them from the inputs, never from the slot being written.
  if (h % (heads / kv_heads) == 0 && split == 0 && warp == 0) {
    for (int d = lane; d < head_dim; d += 32) {
      keys[static_cast<int64_t>(slot) * head_dim + d] = new_key[d];
      values[static_cast<int64_t>(slot) * head_dim + d] = new_value[d];
    }
  }
  float q[kPerLane], acc[kPerLane];
  const T* q_row = query + b * query_strides.batch + h * query_strides.head;
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    q[i] = d < head_dim ? static_cast<float>(q_row[d]) * scale : 0.0f;
    acc[i] = 0.0f;
  }
  // Decoding fills the cache in order, so no slot after `slot` is ever unmasked: the blocks
  // share slots [0, slot] only. Two slots per iteration, their key and value rows loaded
  // together and regardless of the mask (which only zeroes weights), so the loads never wait
  // for the mask.
  const int valid = slot + 1, per_split = (valid + splits - 1) / splits;
  const int begin = split * per_split, end = min(valid, begin + per_split);
  float running_max = -INFINITY, running_sum = 0.0f;
  const bool* mask = key_mask + static_cast<int64_t>(b) * slots;
  auto row = [&](const T* cache, const T* fresh, int j) {
    return j == slot ? fresh : cache + static_cast<int64_t>(j) * head_dim;
  };
  for (int first = begin + warp; first < end; first += 2 * kWarps) {
    const int second = first + kWarps;
    const bool has_second = second < end;
    const T* k0 = row(keys, new_key, first);
    const T* k1 = row(keys, new_key, has_second ? second : first);
    const T* v0 = row(values, new_value, first);
    const T* v1 = row(values, new_value, has_second ? second : first);
    float key0[kPerLane], key1[kPerLane], value0[kPerLane], value1[kPerLane];
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      const bool inside = d < head_dim;
      key0[i] = inside ? static_cast<float>(k0[d]) : 0.0f;
      key1[i] = inside ? static_cast<float>(k1[d]) : 0.0f;
      value0[i] = inside ? static_cast<float>(v0[d]) : 0.0f;
      value1[i] = inside ? static_cast<float>(v1[d]) : 0.0f;
    }
    const bool use_first = mask[first], use_second = has_second && mask[second];
    float score0 = 0.0f, score1 = 0.0f;
    for (int i = 0; i < kPerLane; ++i) {
      score0 += q[i] * key0[i];
      score1 += q[i] * key1[i];
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      score0 += __shfl_xor_sync(0xffffffffu, score0, offset);
      score1 += __shfl_xor_sync(0xffffffffu, score1, offset);
    }
    const float new_max = fmaxf(running_max, fmaxf(use_first ? score0 : -INFINITY, use_second ? score1 : -INFINITY));
    if (new_max == -INFINITY) continue;  // nothing unmasked yet
    const float shrink = expf(running_max - new_max);
    const float weight0 = use_first ? expf(score0 - new_max) : 0.0f;
    const float weight1 = use_second ? expf(score1 - new_max) : 0.0f;
    running_sum = running_sum * shrink + weight0 + weight1;
    for (int i = 0; i < kPerLane; ++i) acc[i] = acc[i] * shrink + weight0 * value0[i] + weight1 * value1[i];
    running_max = new_max;
  }
  // Merge the warps: rescale each to the largest maximum, then sum.
  __shared__ float maxima[kWarps], sums[kWarps];
  __shared__ float partial[kWarps][kMaxPerLane * 32];
  __shared__ bool last;
  if (lane == 0) {
    maxima[warp] = running_max;
    sums[warp] = running_sum;
  }
  for (int i = 0; i < kPerLane; ++i) partial[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float top = -INFINITY;
  for (int w = 0; w < kWarps; ++w) top = fmaxf(top, maxima[w]);
  float total = 0.0f;
  for (int w = 0; w < kWarps; ++w) total += maxima[w] == -INFINITY ? 0.0f : sums[w] * expf(maxima[w] - top);
  T* out_row = out + static_cast<int64_t>(head_index) * head_dim;
  auto block_value = [&](int d) {
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      if (maxima[w] != -INFINITY) sum += partial[w][d] * expf(maxima[w] - top);
    }
    return sum;
  };
  if (splits == 1) {
    for (int d = threadIdx.x; d < head_dim; d += kWarps * 32) out_row[d] = static_cast<T>(block_value(d) / total);
    return;
  }
  const int64_t part = static_cast<int64_t>(head_index) * splits + split;
  for (int d = threadIdx.x; d < head_dim; d += kWarps * 32) workspace.values[part * head_dim + d] = block_value(d);
  if (threadIdx.x == 0) {
    workspace.maxima[part] = top;
    workspace.sums[part] = total;
  }
  __threadfence();  // the partials are visible device-wide before the ticket counts them
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&workspace.tickets[head_index], 1u) == static_cast<unsigned>(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  const int64_t first_part = static_cast<int64_t>(head_index) * splits;
  float overall = -INFINITY;
  for (int s = 0; s < splits; ++s) overall = fmaxf(overall, __ldcg(&workspace.maxima[first_part + s]));
  float denominator = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float m = __ldcg(&workspace.maxima[first_part + s]);
    if (m != -INFINITY) denominator += __ldcg(&workspace.sums[first_part + s]) * expf(m - overall);
  }
  for (int d = threadIdx.x; d < head_dim; d += kWarps * 32) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float m = __ldcg(&workspace.maxima[first_part + s]);
      if (m != -INFINITY) sum += __ldcg(&workspace.values[(first_part + s) * head_dim + d]) * expf(m - overall);
    }
    out_row[d] = static_cast<T>(sum / denominator);
  }
  if (threadIdx.x == 0) workspace.tickets[head_index] = 0;  // ready for the next launch
}

Strides strides_of(const at::Tensor& t) { return {t.stride(0), t.stride(1)}; }

}  // namespace

bool decode_attention_cuda_accepts(const at::Tensor& query, const at::Tensor& key_cache, const at::Tensor& key_mask) {
  return query.is_cuda() && query.dim() == 4 && query.size(2) == 1 && query.size(3) <= 32 * kMaxPerLane &&
         key_cache.dim() == 4 && key_cache.size(2) < (int64_t{1} << 30) && query.size(1) % key_cache.size(1) == 0 &&
         key_mask.scalar_type() == at::kBool && key_mask.numel() == key_cache.size(0) * key_cache.size(2);
}

at::Tensor decode_attention_cuda(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                 const at::Tensor& key_cache, const at::Tensor& value_cache,
                                 const at::Tensor& key_mask, const at::Tensor& slot, double scale,
                                 at::Tensor& tickets) {
  TORCH_CHECK(decode_attention_cuda_accepts(query, key_cache, key_mask) && key.dim() == 4 && value.dim() == 4 &&
                  query.stride(3) == 1 && key.stride(3) == 1 && value.stride(3) == 1 &&
                  key_cache.is_contiguous() && value_cache.is_contiguous() &&
                  key_cache.sizes() == value_cache.sizes() && key.size(1) == key_cache.size(1) &&
                  key.size(3) == query.size(3) && key_cache.size(3) == query.size(3) &&
                  key.scalar_type() == query.scalar_type() && key_cache.scalar_type() == query.scalar_type() &&
                  slot.scalar_type() == at::kLong && slot.numel() == 1,
              "decode_attention_cuda: mismatched operands");
  const int64_t batch = query.size(0), heads = query.size(1), head_dim = query.size(3);
  const at::Tensor mask = key_mask.reshape({batch, key_cache.size(2)}).contiguous();
  at::Tensor out = at::empty({batch, 1, heads, head_dim}, query.options());
  if (out.numel() == 0) return out;
  const int per_lane = static_cast<int>((head_dim + 31) / 32);
  // Enough blocks for two per multiprocessor, each with at least kMinSlotsPerBlock slots.
  const int64_t sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t slots = key_cache.size(2), head_count = batch * heads;
  const int splits = static_cast<int>(std::max<int64_t>(
      1, std::min((slots + kMinSlotsPerBlock - 1) / kMinSlotsPerBlock, (2 * sms + head_count - 1) / head_count)));
  Workspace workspace{nullptr, nullptr, nullptr, nullptr};
  at::Tensor partials;
  if (splits > 1) {
    partials = at::empty({head_count * splits * (head_dim + 2)}, query.options().dtype(at::kFloat));
    if (!tickets.defined() || tickets.numel() < head_count || tickets.device() != query.device()) {
      tickets = at::zeros({head_count}, query.options().dtype(at::kInt));
    }
    float* base = partials.data_ptr<float>();
    workspace = {base, base + head_count * splits, base + 2 * head_count * splits,
                 reinterpret_cast<unsigned*>(tickets.data_ptr<int>())};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, query.scalar_type(), "decode_attention_cuda", [&] {
    auto launch = [&](auto kernel) {
      kernel<<<static_cast<unsigned>(head_count * splits), kWarps * 32, 0, at::cuda::getCurrentCUDAStream()>>>(
          query.data_ptr<scalar_t>(), strides_of(query), key.data_ptr<scalar_t>(), strides_of(key),
          value.data_ptr<scalar_t>(), strides_of(value), key_cache.data_ptr<scalar_t>(),
          value_cache.data_ptr<scalar_t>(), mask.data_ptr<bool>(), slot.data_ptr<int64_t>(),
          out.data_ptr<scalar_t>(), static_cast<int>(heads), static_cast<int>(key_cache.size(1)),
          static_cast<int>(slots), static_cast<int>(head_dim), static_cast<float>(scale), splits, workspace);
    };
    if (per_lane <= 2) {
      launch(decode_attention_kernel<scalar_t, 2>);
    } else if (per_lane <= 4) {
      launch(decode_attention_kernel<scalar_t, 4>);
    } else {
      launch(decode_attention_kernel<scalar_t, kMaxPerLane>);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace fedkseed::detail
