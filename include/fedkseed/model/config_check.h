// A checkpoint folder's config.json checked against what sits beside it: the weights'
// shapes (before a model is allocated from the config) and the tokenizer's ids.
#pragma once

#include <string>

#include "fedkseed/model/llama_config.h"

namespace fedkseed {

class Tokenizer;

// Checks every size in `config` (read from `config_path`) against the shapes of the weights in
// `dir`, read from their headers alone: the embedding (vocab_size, hidden_size), layer 0's
// q/k projections (heads x head_dim), gate projection (intermediate_size), lm_head unless tied,
// and the number of layers. Throws fedkseed::Error naming the tensor, its file and the keys.
void config_check_weights(const LlamaConfig& config, const std::string& config_path, const std::string& dir);

// Throws fedkseed::Error naming `config_path` when `tokenizer` has ids the embedding of
// `config` lacks. A pad id appended right after the tokenizer's other ids is allowed outside
// (transformers' add_special_tokens makes one; batching masks it).
void config_check_tokenizer(const LlamaConfig& config, const std::string& config_path, const Tokenizer& tokenizer);

}  // namespace fedkseed
