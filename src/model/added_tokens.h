// The added tokens of a tokenizer.json (special tokens such as <|eot_id|>, and tokens added
// after training): found in the text before anything else runs, each becoming its one id.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace fedkseed::bpe {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false;      // skipped by decode
  bool lstrip = false;       // swallows the whitespace before it
  bool rstrip = false;       // swallows the whitespace after it
  bool single_word = false;  // only where no word character touches it
  bool normalized = false;   // matched in the normalized text instead of the raw text
};

// A stretch of text: plain text (id < 0) or one added token.
struct TextSegment {
  size_t begin = 0, end = 0;
  int64_t id = -1;
};

class AddedTokens {
 public:
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // `text` cut at the tokens whose `normalized` flag equals `normalized`: leftmost-longest
  // matches, as tokenizers' AddedVocabulary finds them; empty plain segments are left out.
  std::vector<TextSegment> split(const std::string& text, bool normalized) const;

  const AddedToken* by_id(int64_t id) const;
  const AddedToken* by_content(const std::string& content) const;
  const std::vector<AddedToken>& all() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  // Indices into tokens_ by first byte, longest content first.
  std::vector<std::vector<size_t>> by_first_byte_;
  std::unordered_map<int64_t, size_t> index_by_id_;
};

}  // namespace fedkseed::bpe
