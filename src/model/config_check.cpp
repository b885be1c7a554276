// config.json against the weights' headers and the tokenizer. The shapes checked are those
// that carry a config size, so a config that lies (vocab_size 1e9 beside a 32000-row
// embedding) is refused before LlamaModel allocates it; every other tensor's shape is
// checked as LlamaModel::load copies it.
#include "fedkseed/model/config_check.h"

#include <c10/util/ArrayRef.h>
#include <c10/util/StringUtil.h>

#include <vector>

#include "fedkseed/common/error.h"
#include "fedkseed/model/checkpoint.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {
namespace {

// The index N of a "model.layers.N." name, or -1.
int64_t layer_index(const std::string& name) {
  static const std::string kPrefix = "model.layers.";
  if (name.compare(0, kPrefix.size(), kPrefix) != 0) return -1;
  const size_t end = name.find('.', kPrefix.size());
  const std::string digits = name.substr(kPrefix.size(), end - kPrefix.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

}  // namespace

void config_check_weights(const LlamaConfig& c, const std::string& config_path, const std::string& dir) {
  const auto shapes = checkpoint_shapes(dir);
  struct Probe {
    std::string name;
    std::vector<int64_t> shape;
    const char* keys;
  };
  const int64_t h = c.hidden_size;
  std::vector<Probe> probes = {
      {"model.embed_tokens.weight", {c.vocab_size, h}, "vocab_size, hidden_size"},
      {"model.layers.0.self_attn.q_proj.weight", {c.num_attention_heads * c.head_dim, h},
       "num_attention_heads x head_dim, hidden_size"},
      {"model.layers.0.self_attn.k_proj.weight", {c.num_key_value_heads * c.head_dim, h},
       "num_key_value_heads x head_dim, hidden_size"},
      {"model.layers.0.mlp.gate_proj.weight", {c.intermediate_size, h}, "intermediate_size, hidden_size"}};
  if (!c.tie_word_embeddings) probes.push_back({"lm_head.weight", {c.vocab_size, h}, "vocab_size, hidden_size"});
  for (const auto& probe : probes) {
    const auto it = shapes.find(probe.name);
    if (it == shapes.end()) {
      throw Error("checkpoint " + dir + ": tensor " + probe.name + " " + c10::str(c10::IntArrayRef(probe.shape)) +
                  " is missing from the weights files");
    }
    if (it->second.shape != probe.shape) {
      throw Error("checkpoint " + it->second.file + ": tensor " + probe.name + " is " +
                  c10::str(c10::IntArrayRef(it->second.shape)) + ", " + config_path + " implies " +
                  c10::str(c10::IntArrayRef(probe.shape)) + " (" + probe.keys + ")");
    }
  }
  int64_t layers = 0;
  std::string last_file;
  for (const auto& [name, shape] : shapes) {
    const int64_t index = layer_index(name);
    if (index + 1 > layers) {
      layers = index + 1;
      last_file = shape.file;
    }
  }
  if (layers != c.num_hidden_layers) {
    throw Error("checkpoint " + (last_file.empty() ? dir : last_file) + ": holds " + std::to_string(layers) +
                " layers (model.layers.0.." + std::to_string(layers - 1) + "), " + config_path +
                " says num_hidden_layers " + std::to_string(c.num_hidden_layers));
  }
}

void config_check_tokenizer(const LlamaConfig& config, const std::string& config_path, const Tokenizer& tokenizer) {
  int64_t ids = tokenizer.vocab_size();
  if (tokenizer.pad_id() == ids - 1) --ids;
  if (ids > config.vocab_size) {
    throw Error(config_path + ": vocab_size is " + std::to_string(config.vocab_size) + ", but the tokenizer beside it has " +
                std::to_string(ids) + " ids: the embedding has no row for ids " + std::to_string(config.vocab_size) +
                ".." + std::to_string(ids - 1) + " (tokenizer and weights of different models?)");
  }
}

}  // namespace fedkseed
