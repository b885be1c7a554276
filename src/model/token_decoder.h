// tokenizer.json's decoders: how the token strings of an id sequence become text again
// (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip), applied in order.
#pragma once

#include <string>
#include <vector>

#include "pre_tokenizer.h"

namespace fedkseed::bpe {

struct DecoderStep {
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };
  Kind kind = Kind::kByteLevel;
  std::string pattern;  // kReplace: literal text replaced; kMetaspace: the replacement character
  std::string content;  // kReplace: the replacement; kStrip: the character stripped
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // kMetaspace
  size_t start = 0, stop = 0;                             // kStrip: how many to strip at each end
};

// The text of `tokens` (token strings, in order) after every step; no steps concatenates them.
std::string decode_tokens(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens);

}  // namespace fedkseed::bpe
