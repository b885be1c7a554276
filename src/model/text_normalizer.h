// tokenizer.json's normalizers: what happens to a text segment before pre-tokenization
// (Unicode normal forms, Prepend, Replace), in order.
#pragma once

#include <string>
#include <vector>

namespace fedkseed::bpe {

struct NormalizerStep {
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kPrepend, kReplace };
  Kind kind = Kind::kNfc;
  std::string pattern;  // kReplace: the literal text replaced
  std::string content;  // kPrepend: the prefix; kReplace: the replacement
};

// `segment` after every step; throws fedkseed::Error for text that is not UTF-8.
std::string normalize(const std::vector<NormalizerStep>& steps, const std::string& segment);

}  // namespace fedkseed::bpe
