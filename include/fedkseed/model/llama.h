// The LLaMA decoder (RMSNorm, RoPE, GQA attention through SDPA, SwiGLU) with Hugging Face
// parameter names, computing as transformers does: logits, shifted loss, greedy decoding. The
// same layer serves Mistral (sliding-window attention), Qwen2 (q/k/v biases) and Qwen3 (per-head
// q/k RMSNorm), as config.json says (llama_config.h).
// Weights live in one flat buffer; q/k/v (and their biases) and gate/up are adjacent so each
// runs as one GEMM.
#pragma once

#include <ATen/core/Reduction.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fedkseed/model/llama_config.h"

namespace fedkseed {

class LlamaModel {
 public:
  // Reads DIR/config.json and the weights (see checkpoint.h), DIR = resolve_model_dir(model)
  // (model_dir.h: a folder or a cached Hugging Face id), casting each tensor to `dtype`
  // (fp32|fp16|bf16) on `device` as it is read. Throws fedkseed::Error naming the file and
  // tensor for a missing/corrupt file, an unsupported dtype, config sizes the weights' headers
  // contradict (checked before allocating: config_check.h), or a tensor that is missing, of
  // the wrong shape, not floating point, or (unless `allow_nonfinite`) holding NaN/Inf.
  static LlamaModel load(const std::string& model, c10::ScalarType dtype, c10::Device device,
                         bool allow_nonfinite = false);
  // The dtype a --dtype value (fp16|bf16|fp32|auto, common/dtype.h) means for `model` on `device`:
  // auto is fp32 on the CPU, else the dtype its config.json names. Throws fedkseed::Error for
  // other values or an unreadable config.
  static c10::ScalarType resolve_dtype(const std::string& dtype, const std::string& model, c10::Device device);
  // Weights ~ N(0, 0.02) like transformers' init (norms 1, biases 0), from a generator seeded with
  // `seed` on `device` (so values depend on the device type). Throws fedkseed::Error for an
  // invalid config or dtype.
  static LlamaModel random_init(const LlamaConfig& config, uint64_t seed, c10::ScalarType dtype,
                                c10::Device device);

  const LlamaConfig& config() const { return config_; }
  c10::ScalarType dtype() const { return flat_.scalar_type(); }
  c10::Device device() const { return flat_.device(); }
  // Every weight (biases and q/k norms included), in transformers' named_parameters() order (a
  // tied lm_head appears once as model.embed_tokens.weight). The tensors are views of the model's storage: in-place
  // edits change the model.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // All weights as one contiguous 1-D tensor (named_parameters() are views into it).
  const at::Tensor& flat_parameters() const { return flat_; }

  // input_ids [B, T] int64 on any device; attention_mask [B, T] (1 = token, 0 = padding,
  // any padding side; positions stay 0..T-1 as in a transformers forward). Returns [B, T, V]
  // fp32 logits. Ids under mask 0 may lie outside the vocabulary (pad ids such as 32000);
  // others must lie inside (checked on the CPU, where it costs nothing). Without a mask
  // attention runs as plain causal SDPA (flash kernels on CUDA): omit it when nothing is padded.
  at::Tensor logits(const at::Tensor& input_ids, const at::Tensor& attention_mask = {}) const;
  // transformers' causal-LM loss: logits at t predict labels[t + 1]; mean cross entropy over
  // labels != -100 (NaN when there are none). Scalar fp32 on the model's device. With
  // labels on the CPU, lm_head runs only on the labelled positions.
  at::Tensor loss(const at::Tensor& input_ids, const at::Tensor& labels,
                  const at::Tensor& attention_mask = {}) const;
  // Each example's mean next-token cross entropy over its labels (NaN without any), as a
  // batch-1 loss() would give it: fp64 [B] on the CPU, lm_head only on labelled positions.
  at::Tensor sample_losses(const at::Tensor& input_ids, const at::Tensor& labels,
                           const at::Tensor& attention_mask = {}) const;
  // The same loss for unpadded [B, T] int64 ids and labels on the CPU, as one CUDA graph per
  // bucketed shape: T is padded to a multiple of `bucket` (id 0, label -100; causal attention
  // keeps the real positions exact) and lm_head runs only on labelled rows, padded to a multiple
  // of `bucket`. Returns a 1-element fp32 tensor on the model's device that the next call
  // overwrites; nothing waits on the host. On the CPU it is loss().
  at::Tensor graphed_loss(const at::Tensor& input_ids, const at::Tensor& labels, int64_t bucket = 64) const;
  // Drops the captured graphs (and their memory).
  void clear_graphs() const;
  // For first-order training: a copy whose flat parameters are a leaf tensor that requires
  // grad (its views carry gradients to it); update it in place under at::NoGradGuard.
  LlamaModel with_gradients() const;
  // loss() recorded by autograd (on CUDA through the unfused ATen operations), for backward().
  at::Tensor training_loss(const at::Tensor& input_ids, const at::Tensor& labels,
                           const at::Tensor& attention_mask = {}) const;
  // Greedy decoding with a KV cache of the (non-empty) prompts as one left-padded batch.
  // Returns each prompt's new tokens, stopping after max_new_tokens or before its first id
  // among `eos_ids` (excluded). `pad_id` fills padded slots, which are masked; an id outside the
  // vocabulary is replaced by 0 there. Throws fedkseed::Error for an empty prompt or an id
  // outside the vocabulary.
  std::vector<std::vector<int64_t>> generate(const std::vector<std::vector<int64_t>>& prompts,
                                             int64_t max_new_tokens, const std::vector<int64_t>& eos_ids,
                                             int64_t pad_id) const;
  // Writes DIR/config.json and DIR/model.safetensors (in the model's dtype, tied lm_head
  // omitted) so that transformers can load it; creates DIR. Throws fedkseed::Error on I/O failure.
  void save(const std::string& dir) const;

 private:
  // Tensors a family lacks stay undefined (qkv_bias, o_bias, q_norm, k_norm).
  struct Layer {
    at::Tensor qkv;       // [(H + 2 KV) * head_dim, hidden]: q_proj, k_proj, v_proj stacked
    at::Tensor qkv_bias;  // [(H + 2 KV) * head_dim]: their biases stacked
    at::Tensor o;         // [hidden, H * head_dim]
    at::Tensor o_bias;    // [hidden]
    at::Tensor q_norm, k_norm;  // [head_dim]
    at::Tensor gate_up;  // [2 * intermediate, hidden]: gate_proj, up_proj stacked
    at::Tensor down;     // [hidden, intermediate]
    at::Tensor input_norm, post_norm;
  };
  // Keys/values of every layer [B, KV, capacity, attention_head_dim()]. A prefill writes at
  // `length` and attends to the filled slots; with `slot` (int64 [1] on the device) a decode
  // step writes its token there and attends to every slot, the mask hiding unfilled ones, so
  // its shapes never change (one CUDA graph serves every step).
  struct KvCache {
    std::vector<at::Tensor> keys, values;
    int64_t length = 0;
    at::Tensor slot;
    at::Tensor attention_tickets;  // the CUDA decoding kernel's counters, reused by every layer and step
  };

  struct LossGraphs;  // loss_graph.cpp

  LlamaModel(const LlamaConfig& config, c10::ScalarType dtype, c10::Device device, bool requires_grad = false);
  // Final-normed hidden states [B, T, hidden]. `positions` [B, T] int64; `mask` is a bool
  // [B, 1, T, keys] attention mask or undefined for plain causal attention; with `cache`
  // the new keys/values are written at cache->length and attention covers the cache. A sliding
  // window (sliding_window_mask) is applied here.
  at::Tensor hidden_states(const at::Tensor& input_ids, const at::Tensor& positions, const at::Tensor& mask,
                           KvCache* cache) const;
  at::Tensor attention(const Layer& layer, size_t index, const at::Tensor& x, const at::Tensor& cos,
                       const at::Tensor& sin, const at::Tensor& mask, KvCache* cache) const;
  at::Tensor lm_head(const at::Tensor& hidden) const;
  // head_dim, padded to a multiple of 8 on CUDA, where flash kernels need that.
  int64_t attention_head_dim() const;
  // loss() with an at::Reduction: Mean (loss) or None (one value per labelled position, in
  // row-major order when the labels are on the CPU).
  at::Tensor labelled_losses(const at::Tensor& input_ids, const at::Tensor& labels,
                             const at::Tensor& attention_mask, int64_t reduction) const;
  // Cross entropy of lm_head(hidden.narrow(1, 0, T − 1) rows `rows`) against `targets`
  // (label -100 ignored) with an at::Reduction.
  at::Tensor rows_loss(const at::Tensor& hidden, const at::Tensor& rows, const at::Tensor& targets,
                       int64_t reduction = at::Reduction::Mean) const;
  // Bool [B, 1, queries, keys]: query i (at position query_offset + i) sees key j when
  // j <= its position and key_mask[b, j], and always itself (so padded rows stay finite).
  static at::Tensor causal_padding_mask(const at::Tensor& key_mask, int64_t query_offset, int64_t queries);
  // `mask` narrowed to the sliding window when there is one and the keys outnumber it: query i
  // (at cache slot query_offset + i, or cache->slot while decoding) sees key j only when
  // j > slot − sliding_window, as transformers' sliding-window mask. An undefined mask stands
  // for plain causal attention.
  at::Tensor sliding_window_mask(const at::Tensor& mask, int64_t queries, const KvCache* cache) const;
  // Replaces masked ids by 0 and checks the rest against the vocabulary on the CPU.
  at::Tensor embedding_ids(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

  LlamaConfig config_;
  at::Tensor flat_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  at::Tensor embed_, norm_, lm_head_;
  std::vector<Layer> layers_;
  at::Tensor inv_freq_;  // [head_dim / 2] fp32 on the device, rope scaling applied
  mutable std::shared_ptr<LossGraphs> loss_graphs_;
};

}  // namespace fedkseed
