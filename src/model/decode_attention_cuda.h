// Attention for one decoding step on CUDA, with the KV-cache write fused in: one kernel per
// layer instead of two cache copies, the key mask's conversion to an additive bias and the
// attention library's call, and it reads only the cache slots filled so far.
#pragma once

#include <ATen/core/Tensor.h>

namespace fedkseed::detail {

// For every sequence b and query head h (one new token each):
//   key_cache[b, h / group, slot] = key[b, h / group], value_cache likewise, then
//   out[b, 0, h] = softmax_j(scale · q[b, h] · key_cache[b, h / group, j]) · value_cache[b, h / group, j]
// over the slots j <= slot with key_mask[b, j] true (the slot itself must be among them;
// decoding fills the cache in order, so slots after it are never read), group =
// heads / kv heads. query [B, H, 1, D], key and value [B, KV, 1, D] (any strides with a
// contiguous last dimension), caches [B, KV, S, D] contiguous, key_mask [B, S] bool, slot an
// int64 tensor of one element on the device. Scores, softmax and sums in fp32; returns
// [B, 1, H, D] contiguous in the query's dtype. `tickets` holds the counters of a launch that
// splits the slots over blocks; every launch leaves them at zero, so one tensor serves all
// layers and steps: pass the same (initially undefined) tensor each time and it is allocated
// once, outside any graph capture after the first call.
at::Tensor decode_attention_cuda(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                 const at::Tensor& key_cache, const at::Tensor& value_cache,
                                 const at::Tensor& key_mask, const at::Tensor& slot, double scale,
                                 at::Tensor& tickets);

// Whether decode_attention_cuda takes these operands (head dims up to 256, one query token).
bool decode_attention_cuda_accepts(const at::Tensor& query, const at::Tensor& key_cache, const at::Tensor& key_mask);

}  // namespace fedkseed::detail
