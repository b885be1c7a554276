// config.json <-> LlamaConfig (transformers 4.x and 5.x spellings) and the named presets.
#include "fedkseed/model/llama_config.h"

#include <algorithm>
#include <filesystem>
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

// What a family's transformers class builds beyond the LLaMA layer, and its config defaults.
struct Family {
  const char* model_type;
  const char* architecture;
  int64_t max_position_embeddings;
};
const Family kFamilies[] = {{"llama", "LlamaForCausalLM", 2048},
                            {"mistral", "MistralForCausalLM", 4096 * 32},
                            {"qwen2", "Qwen2ForCausalLM", 32768},
                            {"qwen3", "Qwen3ForCausalLM", 32768}};

// The family of `model_type`, or nullptr.
const Family* find_family(const std::string& model_type) {
  for (const auto& family : kFamilies) {
    if (model_type == family.model_type) return &family;
  }
  return nullptr;
}

// Reads model_type, checks the architecture matches it and sets the family's fields: Qwen2 has
// q/k/v biases whatever attention_bias says; LLaMA and Qwen3 have biases on q/k/v and o_proj
// when attention_bias is true; Qwen3 normalises each query and key head; Mistral's
// sliding_window defaults to 4096 and null turns it off. Qwen's own sliding window only acts with
// use_sliding_window, which no released checkpoint sets.
void parse_family(const json& j, const std::string& source, LlamaConfig& config) {
  config.model_type = value_or<std::string>(j, "model_type", "llama", source);
  const Family* family = find_family(config.model_type);
  if (family == nullptr) {
    std::string types;
    for (const auto& type : supported_model_types()) types += (types.empty() ? "" : ", ") + type;
    throw Error(source + ": key 'model_type' is '" + config.model_type + "'; supported: " + types);
  }
  if (const auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
    bool listed = false;
    if (it->is_array()) {
      for (const auto& name : *it) listed = listed || name == family->architecture;
    }
    refuse_unless(listed, source, "architectures",
                  "is " + it->dump() + "; model_type '" + config.model_type + "' needs " + family->architecture);
  }
  refuse_unless(value_or<std::string>(j, "hidden_act", "silu", source) == "silu", source, "hidden_act",
                "must be 'silu' (SwiGLU MLP)");
  refuse_unless(!value_or(j, "mlp_bias", false, source), source, "mlp_bias",
                "is true; MLP biases are not supported");
  refuse_unless(!j.contains("quantization_config"), source, "quantization_config",
                "is present; quantized checkpoints are not supported");
  const std::string& type = config.model_type;
  const bool attention_bias = (type == "llama" || type == "qwen3") && value_or(j, "attention_bias", false, source);
  config.qkv_bias = type == "qwen2" || attention_bias;
  config.o_bias = attention_bias;
  config.qk_norm = type == "qwen3";
  if (type == "qwen2" || type == "qwen3") {
    refuse_unless(!value_or(j, "use_sliding_window", false, source), source, "use_sliding_window",
                  "is true; Qwen sliding-window layers are not supported");
  }
  if (type == "mistral") {
    const auto it = j.find("sliding_window");
    config.sliding_window = it == j.end() ? 4096 : value_or<int64_t>(j, "sliding_window", 0, source);
    refuse_unless(config.sliding_window >= 0, source, "sliding_window", "must be positive or null");
  }
  config.max_position_embeddings =
      value_or<int64_t>(j, "max_position_embeddings", family->max_position_embeddings, source);
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

// eos_token_id: one id, a list of ids, or none.
std::vector<int64_t> eos_ids(const json& j, const std::string& source) {
  std::vector<int64_t> ids;
  if (const auto it = j.find("eos_token_id"); it != j.end() && it->is_array()) {
    for (const auto& id : *it) {
      refuse_unless(id.is_number_integer(), source, "eos_token_id", "must hold integers");
      ids.push_back(id.get<int64_t>());
    }
  } else if (const int64_t eos = value_or<int64_t>(j, "eos_token_id", -1, source); eos >= 0) {
    ids.push_back(eos);
  }
  return ids;
}

json parse_object(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& error) {
    throw Error(source + ": not valid JSON: " + error.what());
  }
  if (!j.is_object()) throw Error(source + ": must hold a JSON object");
  return j;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot be read (missing config.json?)");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json id_or_null(int64_t id) { return id < 0 ? json(nullptr) : json(id); }

}  // namespace

std::vector<int64_t> LlamaConfig::stop_token_ids(int64_t tokenizer_eos) const {
  std::vector<int64_t> ids;
  const auto& configured = generation_eos_token_ids.empty() ? eos_token_ids : generation_eos_token_ids;
  for (const int64_t id : configured) {
    if (id >= 0 && id != tokenizer_eos && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (tokenizer_eos >= 0) ids.insert(ids.begin(), tokenizer_eos);
  return ids;
}

int64_t LlamaConfig::parameter_count() const {
  const int64_t h = hidden_size;
  const int64_t attention =
      h * head_dim * (num_attention_heads + 2 * num_key_value_heads) + num_attention_heads * head_dim * h;
  const int64_t biases = (qkv_bias ? (num_attention_heads + 2 * num_key_value_heads) * head_dim : 0) +
                         (o_bias ? h : 0) + (qk_norm ? 2 * head_dim : 0);
  const int64_t layer = attention + biases + 3 * h * intermediate_size + 2 * h;
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
  refuse_unless(sliding_window >= 0, what, "sliding_window", "must be positive or null");
  refuse_unless(find_family(model_type) != nullptr, what, "model_type", "is '" + model_type + "', not a supported one");
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
  const json j = parse_object(text, source);
  LlamaConfig c;
  parse_family(j, source, c);
  c.vocab_size = value_or<int64_t>(j, "vocab_size", 32000, source);
  c.hidden_size = value_or<int64_t>(j, "hidden_size", 4096, source);
  c.intermediate_size = value_or<int64_t>(j, "intermediate_size", 11008, source);
  c.num_hidden_layers = value_or<int64_t>(j, "num_hidden_layers", 32, source);
  c.num_attention_heads = value_or<int64_t>(j, "num_attention_heads", 32, source);
  c.num_key_value_heads = value_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  refuse_unless(c.num_attention_heads > 0, source, "num_attention_heads", "must be positive");
  // Qwen3Config's head_dim defaults to 128; the others derive it from the hidden size.
  const int64_t derived_head_dim = c.model_type == "qwen3" ? 128 : c.hidden_size / c.num_attention_heads;
  c.head_dim = value_or<int64_t>(j, "head_dim", derived_head_dim, source);
  c.rms_norm_eps = value_or(j, "rms_norm_eps", 1e-6, source);
  c.tie_word_embeddings = value_or(j, "tie_word_embeddings", false, source);
  c.bos_token_id = value_or<int64_t>(j, "bos_token_id", -1, source);
  c.pad_token_id = value_or<int64_t>(j, "pad_token_id", -1, source);
  c.eos_token_ids = eos_ids(j, source);
  c.dtype =
      value_or<std::string>(j, "dtype", value_or<std::string>(j, "torch_dtype", "float32", source), source);
  parse_rope(j, source, c);
  c.validate(source);
  return c;
}

LlamaConfig llama_config_load(const std::string& path) {
  LlamaConfig config = llama_config_from_json(read_file(path), path);
  const std::string generation = (std::filesystem::path(path).parent_path() / "generation_config.json").string();
  if (std::filesystem::is_regular_file(generation)) {
    config.generation_eos_token_ids = eos_ids(parse_object(read_file(generation), generation), generation);
  }
  return config;
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
  json j = {{"architectures", {find_family(c.model_type)->architecture}},
            {"model_type", c.model_type},
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
  // Each family's spelling of its extras (keys its transformers config reads).
  const std::string& type = c.model_type;
  if (type == "llama") j["mlp_bias"] = false;
  if (type == "llama" || type == "qwen3") j["attention_bias"] = c.qkv_bias;
  if (type == "qwen2" || type == "qwen3") {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
  }
  if (type == "mistral") j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  return j.dump(2) + "\n";
}

namespace {

// The published shapes of each model (their config.json); tiny ones are small random models
// with each family's extras, for tests.
struct Preset {
  const char* name;
  const char* model_type;
  int64_t hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, max_positions;
  double rope_theta, rms_norm_eps;
  bool tied;
  int64_t bos, eos;
};
const Preset kPresets[] = {
    // name            type       hidden layers heads kv  head  inter  vocab   positions theta  eps  tied  bos     eos
    {"tiny",          "llama",   64,    2,     4,    2,  16,   128,   32000,  2048,   1e4,  1e-6, false, 1,      2},
    {"tiny-qwen2",    "qwen2",   64,    2,     4,    2,  16,   128,   32000,  2048,   1e6,  1e-6, true,  1,      2},
    {"tiny-qwen3",    "qwen3",   64,    2,     4,    2,  32,   128,   32000,  2048,   1e6,  1e-6, true,  1,      2},
    {"tiny-mistral",  "mistral", 64,    2,     4,    2,  16,   128,   32000,  2048,   1e4,  1e-5, false, 1,      2},
    {"dj-1.3b",       "llama",   2048,  24,    16,   16, 128,  5504,  32005,  2048,   1e4,  1e-6, false, 1,      2},
    {"open-llama-3b", "llama",   3200,  26,    32,   32, 100,  8640,  32000,  2048,   1e4,  1e-6, false, 1,      2},
    {"llama-7b",      "llama",   4096,  32,    32,   32, 128,  11008, 32000,  2048,   1e4,  1e-6, false, 1,      2},
    {"llama-13b",     "llama",   5120,  40,    40,   40, 128,  13824, 32000,  2048,   1e4,  1e-6, false, 1,      2},
    {"llama-33b",     "llama",   6656,  60,    52,   52, 128,  17920, 32000,  2048,   1e4,  1e-6, false, 1,      2},
    {"llama-3.2-1b",  "llama",   2048,  16,    32,   8,  64,   8192,  128256, 131072, 5e5,  1e-5, true,  128000, 128001},
    {"qwen2.5-0.5b",  "qwen2",   896,   24,    14,   2,  64,   4864,  151936, 32768,  1e6,  1e-6, true,  151643, 151643},
    {"qwen2.5-1.5b",  "qwen2",   1536,  28,    12,   2,  128,  8960,  151936, 131072, 1e6,  1e-6, true,  151643, 151643},
    {"qwen3-0.6b",    "qwen3",   1024,  28,    16,   8,  128,  3072,  151936, 40960,  1e6,  1e-6, true,  151643, 151645}};

}  // namespace

LlamaConfig llama_preset(const std::string& name) {
  for (const auto& preset : kPresets) {
    if (name != preset.name) continue;
    LlamaConfig c;
    c.model_type = preset.model_type;
    c.qkv_bias = c.model_type == "qwen2";
    c.qk_norm = c.model_type == "qwen3";
    c.hidden_size = preset.hidden;
    c.num_hidden_layers = preset.layers;
    c.num_attention_heads = preset.heads;
    c.num_key_value_heads = preset.kv_heads;
    c.head_dim = preset.head_dim;
    c.intermediate_size = preset.intermediate;
    c.vocab_size = preset.vocab;
    c.max_position_embeddings = preset.max_positions;
    c.rope_theta = preset.rope_theta;
    c.rms_norm_eps = preset.rms_norm_eps;
    c.tie_word_embeddings = preset.tied;
    c.bos_token_id = preset.bos;
    c.eos_token_ids = {preset.eos};
    c.pad_token_id = name == "open-llama-3b" ? 0 : -1;
    if (name == "dj-1.3b") c.pad_token_id = 32004;  // pad <PAD> = 32004 must lie inside the embedding
    if (name == "tiny-mistral") c.sliding_window = 16;  // shorter than most examples, so it acts
    if (name == "llama-3.2-1b") c.rope_scaling = {"llama3", 32.0, 1.0, 4.0, 8192};
    return c;
  }
  std::string names;
  for (const auto& preset : llama_preset_names()) names += (names.empty() ? "" : ", ") + preset;
  throw Error("--preset: '" + name + "' is unknown; accepted: " + names);
}

bool llama_preset_is_tiny(const std::string& name) { return name.rfind("tiny", 0) == 0; }

std::vector<std::string> supported_model_types() {
  std::vector<std::string> types;
  for (const auto& family : kFamilies) types.emplace_back(family.model_type);
  return types;
}

std::vector<std::string> llama_preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : kPresets) names.emplace_back(preset.name);
  return names;
}

}  // namespace fedkseed
