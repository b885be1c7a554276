// The shape and hyper-parameters of a LLaMA checkpoint: Hugging Face config.json of
// LlamaForCausalLM in both the transformers 4.x and 5.x spellings, plus the named presets
// (tiny, dj-1.3b, open-llama-3b, llama-7b). Weights live in llama.h / checkpoint.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

// RoPE frequency scaling; only none (HF "default") and Llama 3.1's "llama3" are supported.
struct RopeScaling {
  std::string type = "default";  // "default" | "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
};

struct LlamaConfig {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;
  int64_t head_dim = 128;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = 1;               // -1: none
  std::vector<int64_t> eos_token_ids{2};  // config.json allows one id or a list
  int64_t pad_token_id = -1;              // -1: none (may lie outside the vocabulary)
  std::string dtype = "float32";          // the checkpoint's stored dtype (informational)

  // The first EOS id, or -1 when the config names none.
  int64_t eos_token_id() const { return eos_token_ids.empty() ? -1 : eos_token_ids.front(); }
  // Number of weights (tied embeddings counted once).
  int64_t parameter_count() const;
  // Throws fedkseed::Error naming `what` and the first inconsistent field (heads not
  // dividing, non-positive sizes, bad rope scaling).
  void validate(const std::string& what) const;
};

// Parses config.json text; `source` names it in errors. Refuses (fedkseed::Error naming the
// key) other architectures/model types, biases, activations other than silu, rope types
// other than default/llama3, partial rotary factors and quantization configs.
LlamaConfig llama_config_from_json(const std::string& text, const std::string& source);
// Reads and parses `path`; throws fedkseed::Error when it is missing or invalid.
LlamaConfig llama_config_load(const std::string& path);
// config.json text that transformers 4.x and 5.x both read: rope in both spellings
// (rope_theta/rope_scaling and rope_parameters), dtype as both torch_dtype and dtype.
std::string llama_config_to_json(const LlamaConfig& config);

// A named preset (tiny, dj-1.3b, open-llama-3b, llama-7b); throws fedkseed::Error listing
// the names for anything else. tiny's vocab_size is a placeholder: set it to the tokenizer's.
LlamaConfig llama_preset(const std::string& name);
std::vector<std::string> llama_preset_names();

}  // namespace fedkseed
