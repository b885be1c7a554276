// config.json <-> LlamaConfig (transformers 4.x and 5.x spellings) and the named presets.
#include "fedkseed/model/llama_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

using nlohmann::json;

// Reads j[key] as T when present and not null, else `fallback`; a wrong JSON type is an
// error naming `prefix + key`. An int64_t must be a JSON integer that fits: get<int64_t>()
// would truncate 64.9 to 64 and wrap 2^64 - 1 to -1.
template <class T>
T value_or(const json& j, const std::string& key, T fallback, const std::string& source,
           const std::string& prefix = "") {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  const bool ok = std::is_same_v<T, bool>          ? it->is_boolean()
                  : std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_same_v<T, int64_t>     ? it->is_number_integer()
                                                   : it->is_number();
  if (!ok) {
    throw Error(source + ": key '" + prefix + key + "' has the wrong type (" + it->dump() + ")" +
                (std::is_same_v<T, int64_t> && it->is_number() ? "; it must be an integer" : ""));
  }
  if constexpr (std::is_same_v<T, int64_t>) {
    if (it->is_number_unsigned() && it->template get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      throw Error(source + ": key '" + prefix + key + "' is " + it->dump() + ", beyond int64");
    }
  }
  return it->template get<T>();
}

void refuse_unless(bool ok, const std::string& source, const std::string& key, const std::string& why) {
  if (!ok) throw Error(source + ": key '" + key + "' " + why);
}

void check_architecture(const json& j, const std::string& source) {
  if (const auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
    bool llama = false;
    if (it->is_array()) {
      for (const auto& name : *it) llama = llama || name == "LlamaForCausalLM";
    }
    refuse_unless(llama, source, "architectures",
                  "is " + it->dump() + "; only LlamaForCausalLM is supported");
  }
  const auto model_type = value_or<std::string>(j, "model_type", "llama", source);
  refuse_unless(model_type == "llama", source, "model_type",
                "is '" + model_type + "'; only 'llama' is supported");
  refuse_unless(value_or<std::string>(j, "hidden_act", "silu", source) == "silu", source, "hidden_act",
                "must be 'silu' (SwiGLU MLP)");
  refuse_unless(!value_or(j, "attention_bias", false, source), source, "attention_bias",
                "is true; biases are not supported");
  refuse_unless(!value_or(j, "mlp_bias", false, source), source, "mlp_bias",
                "is true; biases are not supported");
  refuse_unless(!j.contains("quantization_config"), source, "quantization_config",
                "is present; quantized checkpoints are not supported");
}

// rope_parameters (5.x) wins over rope_scaling (4.x), as in transformers 5.
void parse_rope(const json& j, const std::string& source, LlamaConfig& config) {
  config.rope_theta = value_or(j, "rope_theta", 10000.0, source);
  std::string key;
  for (const char* candidate : {"rope_parameters", "rope_scaling"}) {
    if (j.contains(candidate) && !j[candidate].is_null()) {
      key = candidate;
      break;
    }
  }
  double partial = value_or(j, "partial_rotary_factor", 1.0, source);
  if (!key.empty()) {
    const json& rope = j[key];
    refuse_unless(rope.is_object(), source, key, "must be an object or null");
    const std::string prefix = key + ".";
    const auto type = value_or<std::string>(rope, "type", "default", source, prefix);
    config.rope_scaling.type = value_or<std::string>(rope, "rope_type", type, source, prefix);
    config.rope_theta = value_or(rope, "rope_theta", config.rope_theta, source, prefix);
    partial = value_or(rope, "partial_rotary_factor", partial, source, prefix);
    if (config.rope_scaling.type == "llama3") {
      for (const char* needed : {"factor", "low_freq_factor", "high_freq_factor"}) {
        refuse_unless(rope.contains(needed), source, prefix + needed, "is missing (rope_type llama3)");
      }
      auto& scaling = config.rope_scaling;
      scaling.factor = value_or(rope, "factor", 1.0, source, prefix);
      scaling.low_freq_factor = value_or(rope, "low_freq_factor", 1.0, source, prefix);
      scaling.high_freq_factor = value_or(rope, "high_freq_factor", 4.0, source, prefix);
      scaling.original_max_position_embeddings = value_or<int64_t>(
          rope, "original_max_position_embeddings", config.max_position_embeddings, source, prefix);
    } else {
      refuse_unless(config.rope_scaling.type == "default", source, prefix + "rope_type",
                    "is '" + config.rope_scaling.type + "'; supported: default, llama3");
    }
  }
  refuse_unless(partial == 1.0, source, "partial_rotary_factor", "must be 1 (partial RoPE is not supported)");
}

json id_or_null(int64_t id) { return id < 0 ? json(nullptr) : json(id); }

}  // namespace

int64_t LlamaConfig::parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t attention =
      h * head_dim * (num_attention_heads + 2 * num_key_value_heads) + num_attention_heads * head_dim * h;
  const int64_t layer = attention + 3 * h * intermediate_size + 2 * h;
  return vocab_size * h * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * layer + h;
}

void LlamaConfig::validate(const std::string& what) const {
  // Upper bounds far above every released LLaMA-family model (vocab 256k, hidden 16k, 126
  // layers, 128 heads, intermediate 53k, head_dim 256, 1M positions) that keep every size
  // product, parameter_count() and its bytes inside int64: a typo such as vocab_size 1e12 is
  // refused here, before anything is allocated.
  struct Size {
    const char* key;
    int64_t value, max;
  };
  const Size sizes[] = {{"vocab_size", vocab_size, 1 << 24},
                        {"hidden_size", hidden_size, 1 << 17},
                        {"intermediate_size", intermediate_size, 1 << 20},
                        {"num_hidden_layers", num_hidden_layers, 1 << 12},
                        {"num_attention_heads", num_attention_heads, 1 << 12},
                        {"num_key_value_heads", num_key_value_heads, 1 << 12},
                        {"head_dim", head_dim, 1 << 12},
                        {"max_position_embeddings", max_position_embeddings, 1 << 24}};
  for (const auto& [key, value, max] : sizes) {
    refuse_unless(value > 0, what, key, "must be positive, got " + std::to_string(value));
    refuse_unless(value <= max, what, key,
                  "is " + std::to_string(value) + ", above the supported maximum " + std::to_string(max));
  }
  refuse_unless(num_attention_heads % num_key_value_heads == 0, what, "num_key_value_heads",
                "(" + std::to_string(num_key_value_heads) + ") must divide num_attention_heads (" +
                    std::to_string(num_attention_heads) + ")");
  refuse_unless(head_dim % 2 == 0, what, "head_dim", "must be even for RoPE");
  refuse_unless(rms_norm_eps > 0 && rope_theta > 0, what, "rms_norm_eps/rope_theta", "must be positive");
  if (rope_scaling.type == "llama3") {
    refuse_unless(rope_scaling.factor > 0 && rope_scaling.low_freq_factor > 0 &&
                      rope_scaling.high_freq_factor > rope_scaling.low_freq_factor &&
                      rope_scaling.original_max_position_embeddings > 0,
                  what, "rope_scaling",
                  "llama3 needs factor > 0, high_freq_factor > low_freq_factor > 0 and "
                  "original_max_position_embeddings > 0");
  }
}

LlamaConfig llama_config_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& error) {
    throw Error(source + ": not valid JSON: " + error.what());
  }
  if (!j.is_object()) throw Error(source + ": must hold a JSON object");
  check_architecture(j, source);
  LlamaConfig c;
  c.vocab_size = value_or<int64_t>(j, "vocab_size", 32000, source);
  c.hidden_size = value_or<int64_t>(j, "hidden_size", 4096, source);
  c.intermediate_size = value_or<int64_t>(j, "intermediate_size", 11008, source);
  c.num_hidden_layers = value_or<int64_t>(j, "num_hidden_layers", 32, source);
  c.num_attention_heads = value_or<int64_t>(j, "num_attention_heads", 32, source);
  c.num_key_value_heads = value_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  refuse_unless(c.num_attention_heads > 0, source, "num_attention_heads", "must be positive");
  c.head_dim = value_or<int64_t>(j, "head_dim", c.hidden_size / c.num_attention_heads, source);
  c.max_position_embeddings = value_or<int64_t>(j, "max_position_embeddings", 2048, source);
  c.rms_norm_eps = value_or(j, "rms_norm_eps", 1e-6, source);
  c.tie_word_embeddings = value_or(j, "tie_word_embeddings", false, source);
  c.bos_token_id = value_or<int64_t>(j, "bos_token_id", -1, source);
  c.pad_token_id = value_or<int64_t>(j, "pad_token_id", -1, source);
  c.eos_token_ids.clear();
  if (const auto it = j.find("eos_token_id"); it != j.end() && it->is_array()) {
    for (const auto& id : *it) {
      refuse_unless(id.is_number_integer(), source, "eos_token_id", "must hold integers");
      c.eos_token_ids.push_back(id.get<int64_t>());
    }
  } else if (const int64_t eos = value_or<int64_t>(j, "eos_token_id", -1, source); eos >= 0) {
    c.eos_token_ids.push_back(eos);
  }
  c.dtype =
      value_or<std::string>(j, "dtype", value_or<std::string>(j, "torch_dtype", "float32", source), source);
  parse_rope(j, source, c);
  c.validate(source);
  return c;
}

LlamaConfig llama_config_load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read (missing config.json?)");
  std::stringstream text;
  text << in.rdbuf();
  return llama_config_from_json(text.str(), path);
}

std::string llama_config_to_json(const LlamaConfig& c) {
  json rope_parameters = {{"rope_type", c.rope_scaling.type}, {"rope_theta", c.rope_theta}};
  json rope_scaling = nullptr;
  if (c.rope_scaling.type == "llama3") {
    rope_scaling = {{"rope_type", "llama3"},
                    {"factor", c.rope_scaling.factor},
                    {"low_freq_factor", c.rope_scaling.low_freq_factor},
                    {"high_freq_factor", c.rope_scaling.high_freq_factor},
                    {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
    rope_parameters.update(rope_scaling);
  }
  json eos = nullptr;
  if (c.eos_token_ids.size() == 1) eos = c.eos_token_ids.front();
  if (c.eos_token_ids.size() > 1) eos = c.eos_token_ids;
  const json j = {{"architectures", {"LlamaForCausalLM"}},
                  {"model_type", "llama"},
                  {"vocab_size", c.vocab_size},
                  {"hidden_size", c.hidden_size},
                  {"intermediate_size", c.intermediate_size},
                  {"num_hidden_layers", c.num_hidden_layers},
                  {"num_attention_heads", c.num_attention_heads},
                  {"num_key_value_heads", c.num_key_value_heads},
                  {"head_dim", c.head_dim},
                  {"max_position_embeddings", c.max_position_embeddings},
                  {"rms_norm_eps", c.rms_norm_eps},
                  {"hidden_act", "silu"},
                  {"attention_bias", false},
                  {"mlp_bias", false},
                  {"initializer_range", 0.02},
                  {"use_cache", true},
                  {"tie_word_embeddings", c.tie_word_embeddings},
                  {"bos_token_id", id_or_null(c.bos_token_id)},
                  {"eos_token_id", eos},
                  {"pad_token_id", id_or_null(c.pad_token_id)},
                  {"rope_theta", c.rope_theta},
                  {"rope_scaling", rope_scaling},
                  {"rope_parameters", rope_parameters},
                  {"torch_dtype", c.dtype},
                  {"dtype", c.dtype}};
  return j.dump(2) + "\n";
}

LlamaConfig llama_preset(const std::string& name) {
  // {hidden, layers, heads, kv heads, intermediate}: the published shapes of each model.
  struct Shape {
    const char* name;
    int64_t hidden, layers, heads, kv_heads, intermediate;
  };
  static const Shape kShapes[] = {{"tiny", 64, 2, 4, 2, 128},
                                  {"dj-1.3b", 2048, 24, 16, 16, 5504},
                                  {"open-llama-3b", 3200, 26, 32, 32, 8640},
                                  {"llama-7b", 4096, 32, 32, 32, 11008},
                                  {"llama-13b", 5120, 40, 40, 40, 13824},
                                  {"llama-33b", 6656, 60, 52, 52, 17920}};
  for (const auto& shape : kShapes) {
    if (name != shape.name) continue;
    LlamaConfig c;
    c.hidden_size = shape.hidden;
    c.num_hidden_layers = shape.layers;
    c.num_attention_heads = shape.heads;
    c.num_key_value_heads = shape.kv_heads;
    c.head_dim = shape.hidden / shape.heads;
    c.intermediate_size = shape.intermediate;
    c.vocab_size = 32000;
    c.max_position_embeddings = 2048;
    c.pad_token_id = name == "open-llama-3b" ? 0 : -1;
    if (name == std::string("dj-1.3b")) {  // §8.2: pad <PAD> = 32004 must lie inside the embedding
      c.vocab_size = 32005;
      c.pad_token_id = 32004;
    }
    return c;
  }
  std::string names;
  for (const auto& preset : llama_preset_names()) names += (names.empty() ? "" : ", ") + preset;
  throw Error("--preset: '" + name + "' is unknown; accepted: " + names);
}

std::vector<std::string> llama_preset_names() {
  return {"tiny", "dj-1.3b", "open-llama-3b", "llama-7b", "llama-13b", "llama-33b"};
}

}  // namespace fedkseed
