// A Hugging Face tokenizer.json with a BPE model (byte-level as in Llama-3.x, Qwen2.5,
// Qwen3 and SmolLM2, or sentencepiece-style with byte fallback as in Mistral), giving the ids
// of the `tokenizers` package. Tokenizer (tokenizer.h) picks it when a folder has tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fedkseed {

class BpeTokenizer {
 public:
  // Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json (eos/pad
  // tokens), DIR/config.json and DIR/generation_config.json
  // (eos/pad ids when the tokenizer config names none). Throws fedkseed::Error naming the
  // file that is missing, malformed, of an unsupported model type, or whose ids do not fit
  // the vocab_size of DIR/config.json.
  static BpeTokenizer load(const std::string& model_dir);

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  // The ids tokenizers' encode(text, add_special_tokens=add_bos) gives: added tokens inside
  // `text` become their ids; with `add_bos` the post-processor's leading token (if any) first.
  std::vector<int64_t> encode(const std::string& text, bool add_bos) const;
  // The text of `ids` without special tokens, as transformers' decode(skip_special_tokens=True);
  // ids outside the vocabulary are skipped.
  std::string decode(const std::vector<int64_t>& ids) const;

  int64_t bos_id() const;  // what encode(text, true) puts first; -1 when nothing (Qwen)
  int64_t eos_id() const;
  int64_t pad_id() const;  // -1 when the tokenizer defines none
  int64_t vocab_size() const;  // largest id + 1, added tokens included

 private:
  struct Impl;
  explicit BpeTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedkseed
