// A model folder's tokenizer. With tokenizer.json: a BPE tokenizer (bpe_tokenizer.h) giving the
// ids of the `tokenizers` package (Llama-3.x, Qwen2.5, Qwen3, SmolLM2, Mistral). With only
// tokenizer.model: sentencepiece plus the Hugging Face added/special tokens, giving the ids of the
// reference's tokenizer, transformers 4.35's LlamaTokenizerFast converted from tokenizer.model:
// text is split at special tokens, each remaining piece goes through sentencepiece (dummy prefix
// included), BOS in front; tests/data holds the proof for both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fedkseed {

class Tokenizer {
 public:
  // DIR/tokenizer.json when present (see BpeTokenizer::load), else reads
  // DIR/tokenizer.model and, when present, DIR/added_tokens.json,
  // DIR/tokenizer_config.json (added_tokens_decoder, bos/eos/unk/pad_token) and
  // DIR/special_tokens_map.json, DIR = resolve_model_dir(model) (model_dir.h); throws
  // fedkseed::Error naming the file that is missing or malformed.
  static Tokenizer load(const std::string& model);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`, BOS first when `add_bos` and the tokenizer has one; never appends EOS. Special and added
  // token strings inside `text` (e.g. "</s>") become their ids, as in transformers 4.35's
  // fast tokenizer (a non-special token of added_tokens.json only after a space or at the start).
  std::vector<int64_t> encode(const std::string& text, bool add_bos = true) const;
  // Text of `ids` with every special/added token (bos, eos, pad, unk, added) skipped, like
  // transformers' decode(skip_special_tokens=True); ids outside the vocabulary are skipped.
  std::string decode(const std::vector<int64_t>& ids) const;

  // True when no piece or added token contains "\n": a text's ids are then the ids of its
  // lines, each tokenised on its own (what ExampleBuilder exploits).
  bool newline_is_boundary() const;

  int64_t bos_id() const;  // -1 when encode() puts none first (Qwen)
  int64_t eos_id() const;
  // The tokenizer's own pad id (e.g. DataJuicer's <PAD> = 32004), or -1 when it defines
  // none. It may lie outside a model's embedding table: batching uses batch_pad_id().
  int64_t pad_id() const;
  // Number of ids: sentencepiece pieces plus added tokens (max id + 1).
  int64_t vocab_size() const;

  // The interface each kind of tokenizer implements (tokenizer.cpp); opaque here.
  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Copies the tokenizer files of model folder `from` (tokenizer.json, tokenizer.model, their JSON
// side files, generation_config.json) that exist into folder `to`, so that `to` tokenises and
// stops generating as `from` does. Throws fedkseed::Error naming a file that cannot be copied.
void copy_tokenizer_files(const std::string& from, const std::string& to);

// Trains a LLaMA-style sentencepiece model (BPE, byte_fallback, digits split, unk=0 bos=1
// eos=2, no pad) on `corpus_lines` and writes out_dir/tokenizer.model and a
// tokenizer_config.json that transformers' LlamaTokenizer loads. Throws fedkseed::Error
// when training fails (e.g. an empty corpus) or out_dir cannot be written.
void train_tokenizer(const std::vector<std::string>& corpus_lines, const std::string& out_dir,
                     int vocab_size);

}  // namespace fedkseed
