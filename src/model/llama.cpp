// LlamaModel: weight layout, loading, random init, saving and the forward pass, written to
// round as transformers' LlamaForCausalLM and its Mistral/Qwen2/Qwen3 kin do (RMSNorm in fp32,
// RoPE tables in fp32 then cast, SDPA attention, logits in fp32). Greedy decoding is in
// generate.cpp.
#include "fedkseed/model/llama.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/model/checkpoint.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/safetensors.h"

#if FEDKSEED_WITH_CUDA
#include "decode_attention_cuda.h"
#include "fused_cuda.h"
#include "gemv_cuda.h"
#endif

namespace fedkseed {
namespace {

std::string shape_text(at::IntArrayRef shape) { return c10::str(shape); }

std::string hf_dtype_name(c10::ScalarType dtype) {
  if (dtype == c10::kHalf) return "float16";
  if (dtype == c10::kBFloat16) return "bfloat16";
  return "float32";
}

// transformers' inv_freq: 1 / theta^(2i/d), then the llama3 rescaling if configured.
at::Tensor rope_inverse_frequencies(const LlamaConfig& config) {
  const int64_t dim = config.head_dim;
  at::Tensor inv_freq = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  inv_freq = at::pow(config.rope_theta, inv_freq).reciprocal();
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.type != "llama3") return inv_freq;
  const double old_context = static_cast<double>(scaling.original_max_position_embeddings);
  const double low_wavelen = old_context / scaling.low_freq_factor;
  const double high_wavelen = old_context / scaling.high_freq_factor;
  const at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq);
  const at::Tensor smooth = (old_context / wavelen - scaling.low_freq_factor) /
                            (scaling.high_freq_factor - scaling.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
  const at::Tensor medium = (wavelen < high_wavelen).logical_not() & (wavelen > low_wavelen).logical_not();
  return at::where(medium, smoothed, scaled);
}

// transformers' LlamaRMSNorm: normalise in fp32, cast back, then scale by the weight.
// On CUDA the same operations run as one kernel, or 3 for rows whose mean ATen would split
// across warps or not vectorise (bit-identical either way, see fused_cuda.h).
// The fused kernels have no backward: a forward that autograd records runs the ATen operations.
bool fused_cuda_applies(const at::Tensor& x, const at::Tensor& weight) {
  return x.is_cuda() && !x.requires_grad() && !weight.requires_grad();
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
#if FEDKSEED_WITH_CUDA
  if (fused_cuda_applies(x, weight) && detail::rms_norm_rows_cuda_accepts(x, weight)) {
    return detail::rms_norm_rows_cuda(x, weight, eps);
  }
  if (fused_cuda_applies(x, weight)) {
    return detail::rms_norm_scale_cuda(x, detail::square_to_float_cuda(x).mean(-1, /*keepdim=*/true), weight, eps);
  }
#endif
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * at::rsqrt(variance + eps)).to(x.scalar_type());
}

// x + delta and the RMSNorm of that sum (on CUDA the add and the squares are one kernel).
std::pair<at::Tensor, at::Tensor> add_rms_norm(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                                               double eps) {
#if FEDKSEED_WITH_CUDA
  if (fused_cuda_applies(x, weight) && !delta.requires_grad() && detail::add_rms_norm_rows_cuda_accepts(x, delta, weight)) {
    return detail::add_rms_norm_rows_cuda(x, delta, weight, eps);
  }
  if (fused_cuda_applies(x, weight) && !delta.requires_grad()) {
    auto [sum, squares] = detail::add_square_to_float_cuda(x, delta);
    return {sum, detail::rms_norm_scale_cuda(sum, squares.mean(-1, /*keepdim=*/true), weight, eps)};
  }
#endif
  at::Tensor sum = x + delta;
  return {sum, rms_norm(sum, weight, eps)};
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// q·cos + rotate_half(q)·sin on the query and key heads of the fused projection
// [B, T, (heads + 2·kv)·hd] (one kernel on CUDA): [B, heads + kv, T, hd].
at::Tensor rope_query_key(const at::Tensor& qkv, const at::Tensor& cos, const at::Tensor& sin, int64_t rotated,
                          int64_t hd) {
#if FEDKSEED_WITH_CUDA
  if (fused_cuda_applies(qkv, cos)) return detail::rope_query_key_cuda(qkv, cos, sin, rotated, hd);
#endif
  const at::Tensor query_key =
      qkv.narrow(-1, 0, rotated * hd).view({qkv.size(0), qkv.size(1), rotated, hd}).transpose(1, 2);
  return query_key * cos + rotate_half(query_key) * sin;
}

// x · weightᵀ (+ bias). One row on a GPU (decoding one sequence) goes to our GEMV, which
// streams the weights faster than cuBLAS's single-row kernels; everything else to at::linear.
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {}) {
#if FEDKSEED_WITH_CUDA
  if (!bias.defined() && detail::gemv_cuda_accepts(x, weight)) return detail::gemv_cuda(x, weight);
#endif
  return at::linear(x, weight, bias);
}

// The SwiGLU product silu(gate) * up (one kernel on CUDA).
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
#if FEDKSEED_WITH_CUDA
  if (fused_cuda_applies(gate, up) && detail::silu_mul_cuda_accepts(gate, up)) return detail::silu_mul_cuda(gate, up);
#endif
  return at::silu(gate) * up;
}

void check_dtype(c10::ScalarType dtype) {
  if (dtype != at::kFloat && dtype != at::kHalf && dtype != at::kBFloat16) {
    throw Error(std::string("model dtype ") + c10::toString(dtype) + " is not supported; use fp32|fp16|bf16");
  }
}

// Throws when an id outside the mask lies outside [0, vocab); only on the CPU, where the
// check needs no device synchronisation.
void check_ids(const at::Tensor& ids, int64_t vocab, const std::string& what) {
  if (!ids.device().is_cpu() || ids.numel() == 0) return;
  const int64_t low = ids.min().item<int64_t>();
  const int64_t high = ids.max().item<int64_t>();
  if (low < 0 || high >= vocab) {
    throw Error(what + ": id " + std::to_string(low < 0 ? low : high) + " is outside the vocabulary [0, " +
                std::to_string(vocab) + ")");
  }
}

}  // namespace

LlamaModel::LlamaModel(const LlamaConfig& config, c10::ScalarType dtype, c10::Device device, bool requires_grad)
    : config_(config) {
  config_.validate("model config");
  check_dtype(dtype);
  const int64_t h = config.hidden_size, hd = config.head_dim, heads = config.num_attention_heads,
                kv = config.num_key_value_heads, inter = config.intermediate_size, vocab = config.vocab_size;
  flat_ = at::empty({config.parameter_count()}, at::TensorOptions().dtype(dtype).device(device))
              .requires_grad_(requires_grad);  // before the views, so that they carry gradients to it
  // The flat buffer keeps what runs as one GEMM adjacent (q/k/v weights, then their biases;
  // gate/up); named() lists the views in transformers' order.
  int64_t offset = 0;
  auto take = [&](std::vector<int64_t> shape) {
    int64_t numel = 1;
    for (const int64_t size : shape) numel *= size;
    at::Tensor view = flat_.narrow(0, offset, numel).view(shape);
    offset += numel;
    return view;
  };
  auto named = [&](const std::string& name, const at::Tensor& view) {
    parameters_.emplace_back(name, view);
    return view;
  };
  auto stacked = [&](int64_t begin, int64_t rows) {
    return flat_.narrow(0, begin, rows * h).view({rows, h});
  };
  embed_ = named("model.embed_tokens.weight", take({vocab, h}));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".self_attn.";
    Layer layer;
    const int64_t qkv_begin = offset;
    const std::vector<std::pair<std::string, int64_t>> projections = {
        {"q_proj", heads * hd}, {"k_proj", kv * hd}, {"v_proj", kv * hd}};
    std::vector<at::Tensor> weights;
    for (const auto& [name, rows] : projections) weights.push_back(take({rows, h}));
    layer.qkv = stacked(qkv_begin, (heads + 2 * kv) * hd);
    if (config.qkv_bias) layer.qkv_bias = flat_.narrow(0, offset, (heads + 2 * kv) * hd);
    for (size_t p = 0; p < projections.size(); ++p) {
      named(prefix + projections[p].first + ".weight", weights[p]);
      if (config.qkv_bias) named(prefix + projections[p].first + ".bias", take({projections[p].second}));
    }
    layer.o = named(prefix + "o_proj.weight", take({h, heads * hd}));
    if (config.o_bias) layer.o_bias = named(prefix + "o_proj.bias", take({h}));
    if (config.qk_norm) {
      layer.q_norm = named(prefix + "q_norm.weight", take({hd}));
      layer.k_norm = named(prefix + "k_norm.weight", take({hd}));
    }
    const std::string layer_prefix = "model.layers." + std::to_string(i) + ".";
    const int64_t gate_begin = offset;
    named(layer_prefix + "mlp.gate_proj.weight", take({inter, h}));
    named(layer_prefix + "mlp.up_proj.weight", take({inter, h}));
    layer.gate_up = stacked(gate_begin, 2 * inter);
    layer.down = named(layer_prefix + "mlp.down_proj.weight", take({h, inter}));
    layer.input_norm = named(layer_prefix + "input_layernorm.weight", take({h}));
    layer.post_norm = named(layer_prefix + "post_attention_layernorm.weight", take({h}));
    layers_.push_back(std::move(layer));
  }
  norm_ = named("model.norm.weight", take({h}));
  lm_head_ = config.tie_word_embeddings ? embed_ : named("lm_head.weight", take({vocab, h}));
  TORCH_CHECK(offset == flat_.numel(), "LlamaModel: layout covers ", offset, " of ", flat_.numel());
  inv_freq_ = rope_inverse_frequencies(config_).to(device);
}

LlamaModel LlamaModel::load(const std::string& model_or_id, c10::ScalarType dtype, c10::Device device,
                            bool allow_nonfinite) {
  const std::string dir = resolve_model_dir(model_or_id);
  const LlamaConfig config = llama_config_load(dir + "/config.json");
  config_check_weights(config, dir + "/config.json", dir);
  LlamaModel model(config, dtype, device);
  std::map<std::string, at::Tensor> wanted(model.parameters_.begin(), model.parameters_.end());
  std::set<std::string> loaded;
  std::vector<std::string> unused;
  checkpoint_read(dir, [&](const std::string& name, const at::Tensor& tensor, const std::string& file) {
    const auto it = wanted.find(name);
    if (it == wanted.end()) {
      // A tied lm_head (transformers ties it on load) and old RoPE buffers are expected extras.
      const bool expected = name == "lm_head.weight" || name.find("rotary_emb.inv_freq") != std::string::npos;
      if (!expected) unused.push_back(name);
      return;
    }
    const std::string where = "checkpoint " + file + ": tensor " + name;
    if (!at::isFloatingType(tensor.scalar_type())) {
      throw Error(where + " has dtype " + c10::toString(tensor.scalar_type()) +
                  "; weights must be floating point");
    }
    if (tensor.sizes() != it->second.sizes()) {
      throw Error(where + " is " + shape_text(tensor.sizes()) + ", config.json implies " +
                  shape_text(it->second.sizes()));
    }
    it->second.copy_(tensor);
    loaded.insert(name);
  }, allow_nonfinite);
  for (const auto& [name, tensor] : model.parameters_) {
    if (loaded.count(name) == 0) {
      throw Error("checkpoint " + dir + ": tensor " + name + " " + shape_text(tensor.sizes()) +
                  " is missing from the weights files");
    }
  }
  if (!unused.empty()) {
    log::warn("checkpoint " + dir + ": " + std::to_string(unused.size()) +
              " tensors not used by " + config.model_type + " models, e.g. " + unused.front());
  }
  return model;
}

c10::ScalarType LlamaModel::resolve_dtype(const std::string& dtype, const std::string& model, c10::Device device) {
  const bool stored_matters = dtype == "auto" && !device.is_cpu();
  const std::string stored = stored_matters ? llama_config_load(resolve_model_dir(model) + "/config.json").dtype : "";
  return fedkseed::resolve_dtype(dtype, device, stored);
}

LlamaModel LlamaModel::random_init(const LlamaConfig& config, uint64_t seed, c10::ScalarType dtype,
                                   c10::Device device) {
  LlamaModel model(config, dtype, device);
  at::Generator generator = at::globalContext().defaultGenerator(device).clone();
  generator.set_current_seed(seed);
  auto ends_with = [](const std::string& name, const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (auto& [name, tensor] : model.parameters_) {
    if (ends_with(name, "norm.weight")) {
      tensor.fill_(1.0);
    } else if (ends_with(name, ".bias")) {
      tensor.zero_();
    } else {
      tensor.normal_(0.0, 0.02, generator);
    }
  }
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> LlamaModel::named_parameters() const { return parameters_; }

at::Tensor LlamaModel::causal_padding_mask(const at::Tensor& key_mask, int64_t query_offset,
                                           int64_t queries) {
  const auto options = at::TensorOptions().dtype(at::kLong).device(key_mask.device());
  const at::Tensor query_positions = at::arange(query_offset, query_offset + queries, options).unsqueeze(1);
  const at::Tensor key_positions = at::arange(key_mask.size(1), options).unsqueeze(0);
  const at::Tensor causal = key_positions <= query_positions;
  const at::Tensor self = key_positions == query_positions;
  return ((causal.unsqueeze(0) & key_mask.to(at::kBool).unsqueeze(1)) | self.unsqueeze(0)).unsqueeze(1);
}

at::Tensor LlamaModel::embedding_ids(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  TORCH_CHECK(input_ids.dim() == 2, "LlamaModel: input_ids must be [B, T], got ", input_ids.sizes());
  at::Tensor ids = input_ids.to(device(), at::kLong);
  if (attention_mask.defined()) {
    TORCH_CHECK(attention_mask.sizes() == input_ids.sizes(), "LlamaModel: attention_mask ",
                attention_mask.sizes(), " does not match input_ids ", input_ids.sizes());
    ids = at::where(attention_mask.to(device()).to(at::kBool), ids, 0);
  }
  check_ids(ids, config_.vocab_size, "input_ids");
  return ids;
}

at::Tensor LlamaModel::attention(const Layer& layer, size_t index, const at::Tensor& x, const at::Tensor& cos,
                                 const at::Tensor& sin, const at::Tensor& mask, KvCache* cache) const {
  const int64_t batch = x.size(0), tokens = x.size(1), hd = config_.head_dim;
  const int64_t heads = config_.num_attention_heads, kv = config_.num_key_value_heads;
  const at::Tensor qkv = project(x, layer.qkv, layer.qkv_bias);
  auto split = [&](int64_t begin, int64_t count) {
    return qkv.narrow(-1, begin * hd, count * hd).view({batch, tokens, count, hd}).transpose(1, 2);
  };
  at::Tensor query_key = qkv;
  if (layer.q_norm.defined()) {  // Qwen3: each head normalised over head_dim, before RoPE
    auto head_norm = [&](int64_t begin, int64_t count, const at::Tensor& weight) {
      const at::Tensor heads_view = qkv.narrow(-1, begin * hd, count * hd).reshape({batch, tokens, count, hd});
      return rms_norm(heads_view.contiguous(), weight, config_.rms_norm_eps).reshape({batch, tokens, count * hd});
    };
    query_key = at::cat({head_norm(0, heads, layer.q_norm), head_norm(heads, kv, layer.k_norm)}, -1);
  }
  // Zero columns change no dot product and give zero outputs; the scale stays that of the
  // true head dim.
  const int64_t pad = attention_head_dim() - hd;
  at::Tensor q, k, v;
#if FEDKSEED_WITH_CUDA
  if (pad != 0 && !layer.q_norm.defined() && fused_cuda_applies(qkv, cos)) {
    // RoPE, the values' copy and the zero columns in one kernel.
    const at::Tensor inputs = detail::attention_inputs_cuda(qkv, cos, sin, heads + kv, kv, hd, hd + pad);
    q = inputs.narrow(1, 0, heads), k = inputs.narrow(1, heads, kv), v = inputs.narrow(1, heads + kv, kv);
  }
#endif
  if (!q.defined()) {
    // RoPE on the query and key heads together: the same elementwise ops, half the kernels.
    const at::Tensor rotated = rope_query_key(query_key, cos, sin, heads + kv, hd);
    q = rotated.narrow(1, 0, heads), k = rotated.narrow(1, heads, kv), v = split(heads + kv, kv);
    if (pad != 0) {
      q = at::constant_pad_nd(q, {0, pad});
      k = at::constant_pad_nd(k, {0, pad});
      v = at::constant_pad_nd(v, {0, pad});
    }
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // The cache write and the attention library's kernel: [B, heads, T, head dim].
  auto library_attention = [&] {
    if (cache != nullptr && cache->slot.defined()) {
      cache->keys[index].index_copy_(2, cache->slot, k);
      cache->values[index].index_copy_(2, cache->slot, v);
      k = cache->keys[index];
      v = cache->values[index];
    } else if (cache != nullptr) {
      cache->keys[index].narrow(2, cache->length, tokens).copy_(k);
      cache->values[index].narrow(2, cache->length, tokens).copy_(v);
      k = cache->keys[index].narrow(2, 0, cache->length + tokens);
      v = cache->values[index].narrow(2, 0, cache->length + tokens);
    }
    const auto optional_mask = mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt;
    if (x.is_cuda()) {  // grouped heads are read in place (enable_gqa) instead of being repeated
      return at::scaled_dot_product_attention(q, k, v, optional_mask, 0.0, /*is_causal=*/!mask.defined(), scale,
                                              kv != heads);
    }
    if (kv != heads) {  // transformers' repeat_kv
      k = k.repeat_interleave(heads / kv, 1);
      v = v.repeat_interleave(heads / kv, 1);
    }
    return at::scaled_dot_product_attention(q, k, v, optional_mask, 0.0, /*is_causal=*/!mask.defined(), scale);
  };
  at::Tensor out;
#if FEDKSEED_WITH_CUDA
  // A decoding step on CUDA: one kernel writes the cache and attends ([B, 1, heads, head dim]).
  if (cache != nullptr && cache->slot.defined() && mask.defined() &&
      detail::decode_attention_cuda_accepts(q, cache->keys[index], mask)) {
    out = detail::decode_attention_cuda(q, k, v, cache->keys[index], cache->values[index], mask, cache->slot, scale,
                                        cache->attention_tickets)
              .transpose(1, 2);
  }
#endif
  if (!out.defined()) out = library_attention();
  if (pad != 0) out = out.narrow(-1, 0, hd);
  return project(out.transpose(1, 2).reshape({batch, tokens, heads * hd}), layer.o, layer.o_bias);
}

at::Tensor LlamaModel::hidden_states(const at::Tensor& input_ids, const at::Tensor& positions,
                                     const at::Tensor& mask, KvCache* cache) const {
  at::Tensor x = at::embedding(embed_, input_ids);
  // RoPE tables in fp32 (transformers disables autocast there), then cast.
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_;
  const at::Tensor angles = at::cat({freqs, freqs}, -1).unsqueeze(1);
  const at::Tensor cos = angles.cos().to(dtype()), sin = angles.sin().to(dtype());
  const at::Tensor attention_mask = sliding_window_mask(mask, input_ids.size(1), cache);
  const double eps = config_.rms_norm_eps;
  // Each residual add is fused with the RMSNorm that reads its sum (the next layer's or the last).
  at::Tensor normed = rms_norm(x, layers_.empty() ? norm_ : layers_.front().input_norm, eps);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    std::tie(x, normed) = add_rms_norm(x, attention(layer, i, normed, cos, sin, attention_mask, cache), layer.post_norm, eps);
    const auto gate_up = project(normed, layer.gate_up).chunk(2, -1);
    const at::Tensor& next_norm = i + 1 < layers_.size() ? layers_[i + 1].input_norm : norm_;
    std::tie(x, normed) = add_rms_norm(x, project(swiglu(gate_up[0], gate_up[1]), layer.down), next_norm, eps);
  }
  if (cache != nullptr) cache->length += input_ids.size(1);
  return normed;
}

at::Tensor LlamaModel::sliding_window_mask(const at::Tensor& mask, int64_t queries, const KvCache* cache) const {
  const int64_t window = config_.sliding_window;
  const int64_t keys = cache == nullptr            ? queries
                       : cache->slot.defined() ? cache->keys.front().size(2)
                                               : cache->length + queries;
  if (window == 0 || keys <= window) return mask;  // every key a query may see lies in its window
  const auto options = at::TensorOptions().dtype(at::kLong).device(device());
  const at::Tensor query_slots = cache != nullptr && cache->slot.defined()
                                     ? cache->slot
                                     : at::arange(keys - queries, keys, options);
  const at::Tensor key_slots = at::arange(keys, options).unsqueeze(0);
  const at::Tensor in_window = key_slots > query_slots.unsqueeze(1) - window;  // [queries, keys]
  if (mask.defined()) return mask & in_window;
  return (in_window & (key_slots <= query_slots.unsqueeze(1))).view({1, 1, queries, keys});
}

int64_t LlamaModel::attention_head_dim() const {
  return device().is_cuda() ? (config_.head_dim + 7) / 8 * 8 : config_.head_dim;
}

at::Tensor LlamaModel::lm_head(const at::Tensor& hidden) const {
  const int64_t vocab = lm_head_.size(0);
  const bool needs_grad = at::GradMode::is_enabled() && (hidden.requires_grad() || lm_head_.requires_grad());
#if FEDKSEED_WITH_CUDA
  if (detail::gemv_cuda_accepts(hidden, lm_head_)) return detail::gemv_cuda(hidden, lm_head_).to(at::kFloat);
#endif
  if (!hidden.is_cuda() || vocab % 8 == 0 || needs_grad) return at::linear(hidden, lm_head_).to(at::kFloat);
  // With a vocabulary like 32,005, cuBLAS runs lm_head with its unaligned kernels, 5x slower
  // than aligned ones (190 µs instead of ~35 on dj-1.3b): multiply the first multiple-of-8 rows
  // and the few left over separately, into logits rows padded to 8 entries (16-byte aligned).
  // (mm_out has no autograd, hence the plain path when gradients are wanted.)
  const at::Tensor rows = hidden.reshape({-1, hidden.size(-1)});
  const at::Tensor padded = at::empty({rows.size(0), (vocab + 7) / 8 * 8}, rows.options());
  const int64_t aligned = vocab / 8 * 8;
  if (aligned > 0) {
    at::Tensor head = padded.narrow(1, 0, aligned);
    at::mm_out(head, rows, lm_head_.narrow(0, 0, aligned).t());
  }
  at::Tensor tail = padded.narrow(1, aligned, vocab - aligned);
  at::mm_out(tail, rows, lm_head_.narrow(0, aligned, vocab - aligned).t());
  const at::Tensor logits = padded.narrow(1, 0, vocab);
  std::vector<int64_t> shape(hidden.sizes().begin(), hidden.sizes().end());
  shape.back() = vocab;
  return logits.to(at::kFloat).reshape(shape).contiguous();
}

at::Tensor LlamaModel::logits(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  c10::InferenceMode guard;
  const at::Tensor ids = embedding_ids(input_ids, attention_mask);
  const at::Tensor positions =
      at::arange(ids.size(1), ids.options()).unsqueeze(0).expand({ids.size(0), ids.size(1)});
  at::Tensor mask;
  if (attention_mask.defined())
    mask = LlamaModel::causal_padding_mask(attention_mask.to(device()), 0, ids.size(1));
  return lm_head(hidden_states(ids, positions, mask, nullptr));
}

at::Tensor LlamaModel::loss(const at::Tensor& input_ids, const at::Tensor& labels,
                            const at::Tensor& attention_mask) const {
  c10::InferenceMode guard;
  return labelled_losses(input_ids, labels, attention_mask, at::Reduction::Mean);
}

at::Tensor LlamaModel::sample_losses(const at::Tensor& input_ids, const at::Tensor& labels,
                                     const at::Tensor& attention_mask) const {
  c10::InferenceMode guard;
  const at::Tensor host_labels = labels.to(at::kCPU, at::kLong);
  const at::Tensor token_losses =
      labelled_losses(input_ids, host_labels, attention_mask, at::Reduction::None).to(at::kCPU, at::kDouble);
  const int64_t shifted = std::max<int64_t>(labels.size(1) - 1, 0);
  const at::Tensor labelled = host_labels.narrow(1, 1, shifted) != -100;
  // nonzero() lists the labelled positions in the order of the rows lm_head ran on.
  const at::Tensor sample = labelled.nonzero().select(1, 0);
  const at::Tensor sums = at::zeros({labels.size(0)}, at::kDouble).index_add_(0, sample, token_losses);
  return sums / labelled.sum(1).to(at::kDouble);
}

at::Tensor LlamaModel::labelled_losses(const at::Tensor& input_ids, const at::Tensor& labels,
                                       const at::Tensor& attention_mask, int64_t reduction) const {
  TORCH_CHECK(labels.sizes() == input_ids.sizes(), "LlamaModel::loss: labels ", labels.sizes(),
              " do not match input_ids ", input_ids.sizes());
  const at::Tensor ids = embedding_ids(input_ids, attention_mask);
  const int64_t tokens = ids.size(1);
  const at::Tensor positions = at::arange(tokens, ids.options()).unsqueeze(0).expand({ids.size(0), tokens});
  at::Tensor mask;
  if (attention_mask.defined())
    mask = LlamaModel::causal_padding_mask(attention_mask.to(device()), 0, tokens);
  const int64_t shifted = std::max<int64_t>(tokens - 1, 0);
  const at::Tensor hidden = hidden_states(ids, positions, mask, nullptr);
  at::Tensor targets = labels.to(at::kLong).narrow(1, 1, shifted).reshape({-1});
  at::Tensor rows;
  if (targets.device().is_cpu()) {
    // lm_head only where there is a label (prompt logits are never used); CPU labels tell
    // which rows those are without a device synchronisation.
    rows = (targets != -100).nonzero().squeeze(1);
    targets = targets.index_select(0, rows);
    rows = rows.to(device());
  }
  targets = targets.to(device());
  check_ids(at::where(targets == -100, 0, targets), config_.vocab_size, "labels");
  return rows_loss(hidden, rows, targets, reduction);
}

at::Tensor LlamaModel::rows_loss(const at::Tensor& hidden, const at::Tensor& rows, const at::Tensor& targets,
                                 int64_t reduction) const {
  const int64_t shifted = std::max<int64_t>(hidden.size(1) - 1, 0);
  at::Tensor flat = hidden.narrow(1, 0, shifted).reshape({-1, config_.hidden_size});
  if (rows.defined()) flat = flat.index_select(0, rows);
  return at::cross_entropy_loss(lm_head(flat), targets, {}, reduction, -100);
}

LlamaModel LlamaModel::with_gradients() const {
  LlamaModel copy(config_, dtype(), device(), /*requires_grad=*/true);
  at::NoGradGuard no_grad;
  copy.flat_.copy_(flat_);
  return copy;
}

at::Tensor LlamaModel::training_loss(const at::Tensor& input_ids, const at::Tensor& labels,
                                     const at::Tensor& attention_mask) const {
  return labelled_losses(input_ids, labels, attention_mask, at::Reduction::Mean);
}

void LlamaModel::save(const std::string& dir) const {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  LlamaConfig config = config_;
  config.dtype = hf_dtype_name(dtype());
  std::ofstream out(dir + "/config.json", std::ios::binary | std::ios::trunc);
  out << llama_config_to_json(config);
  out.close();
  if (!out) throw Error(dir + "/config.json: cannot be written");
  safetensors_write(dir + "/model.safetensors", parameters_);
}

}  // namespace fedkseed
