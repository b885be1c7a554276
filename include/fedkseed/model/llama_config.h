// The shape and hyper-parameters of a LLaMA-family checkpoint: Hugging Face config.json of
// LlamaForCausalLM (also Llama-3.x and SmolLM), MistralForCausalLM, Qwen2ForCausalLM (Qwen2,
// Qwen2.5) and Qwen3ForCausalLM in both the transformers 4.x and 5.x spellings, plus the named
// presets. Weights live in llama.h / checkpoint.h.
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
  // The decoder family (config.json's model_type): llama, mistral, qwen2 or qwen3. They share
  // the LLaMA layer; the fields below say what each adds.
  std::string model_type = "llama";
  bool qkv_bias = false;       // q/k/v projections have biases (qwen2 always; llama, qwen3: attention_bias)
  bool o_bias = false;         // o_proj has a bias (llama, qwen3: attention_bias)
  bool qk_norm = false;        // per-head RMSNorm of queries and keys before RoPE (qwen3)
  int64_t sliding_window = 0;  // a query sees only the last this-many keys (mistral); 0: all
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
  // generation_config.json's eos_token_id (one id or a list) when the checkpoint has one: what
  // transformers' generate stops at. Not written to config.json.
  std::vector<int64_t> generation_eos_token_ids;
  int64_t pad_token_id = -1;              // -1: none (may lie outside the vocabulary)
  std::string dtype = "float32";          // the checkpoint's stored dtype (what --dtype auto loads)

  // The first EOS id, or -1 when the config names none.
  int64_t eos_token_id() const { return eos_token_ids.empty() ? -1 : eos_token_ids.front(); }
  // The ids greedy decoding stops at: `tokenizer_eos` (the id that ends training labels), then
  // generation_eos_token_ids, or eos_token_ids when there are none; no duplicates or negatives.
  std::vector<int64_t> stop_token_ids(int64_t tokenizer_eos) const;
  // Number of weights (tied embeddings counted once).
  int64_t parameter_count() const;
  // Throws fedkseed::Error naming `what` and the first inconsistent field (heads not
  // dividing, non-positive sizes, bad rope scaling).
  void validate(const std::string& what) const;
};

// The model types llama_config_from_json accepts: llama, mistral, qwen2, qwen3.
std::vector<std::string> supported_model_types();

// Parses config.json text; `source` names it in errors. Refuses (fedkseed::Error naming the
// key) other model types and architectures, MLP biases, activations other than silu, rope types
// other than default/llama3, partial rotary factors, Qwen sliding-window layers and
// quantization configs. Absent keys take the defaults of the family's transformers config.
LlamaConfig llama_config_from_json(const std::string& text, const std::string& source);
// Reads and parses `path`; throws fedkseed::Error when it is missing or invalid. A
// generation_config.json beside it fills generation_eos_token_ids.
LlamaConfig llama_config_load(const std::string& path);
// config.json text that transformers 4.x and 5.x both read: rope in both spellings
// (rope_theta/rope_scaling and rope_parameters), dtype as both torch_dtype and dtype.
std::string llama_config_to_json(const LlamaConfig& config);

// A named preset (llama_preset_names()); throws fedkseed::Error listing the names for anything
// else. The tiny presets' vocab_size is a placeholder: set it to the tokenizer's
// (llama_preset_is_tiny). The others are the published shapes of the models they name.
LlamaConfig llama_preset(const std::string& name);
std::vector<std::string> llama_preset_names();
// Whether `name` is a tiny preset (tiny, tiny-qwen2, ...): random test models whose vocabulary
// is that of the tokenizer they are given.
bool llama_preset_is_tiny(const std::string& name);

}  // namespace fedkseed
