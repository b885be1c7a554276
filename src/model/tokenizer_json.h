// Reads a Hugging Face tokenizer.json of a BPE model into the parts bpe_tokenizer.cpp runs:
// normalizer, pre-tokenizer and decoder steps, the BPE model, added tokens and the special
// token the post-processor puts in front. Anything else is rejected, naming the file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "added_tokens.h"
#include "bpe_model.h"
#include "pre_tokenizer.h"
#include "text_normalizer.h"
#include "token_decoder.h"

namespace fedkseed::bpe {

struct TokenizerJson {
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<DecoderStep> decoder;
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added_tokens;
  // The id encode(add_special_tokens=True) puts first (the template's leading special token).
  std::optional<int64_t> prefix_id;
};

// Throws fedkseed::Error naming `path` when it is missing, not JSON, of another model type
// (WordPiece, Unigram, WordLevel) or uses a component this reader does not implement.
TokenizerJson read_tokenizer_json(const std::string& path);

}  // namespace fedkseed::bpe
