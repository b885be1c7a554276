// The "BPE" model of a tokenizer.json: a vocabulary and ranked merges that turn one
// pre-tokenized word into ids. Splitting text into words, added tokens and decoding are
// left to bpe_tokenizer.cpp and its pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fedkseed::bpe {

struct BpeModelOptions {
  std::optional<std::string> unk_token;  // id for characters outside the vocabulary
  bool fuse_unk = false;                 // consecutive unknown characters share one unk id
  bool byte_fallback = false;            // unknown characters become their <0xXX> byte tokens
  bool ignore_merges = false;            // a word that is itself a token skips the merges
};

class BpeModel {
 public:
  // Throws fedkseed::Error (prefixed with `source`) when a merge names a token or a result
  // outside the vocabulary, or the unk token is not in it.
  BpeModel(std::unordered_map<std::string, int64_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges, BpeModelOptions options,
           const std::string& source);

  // Appends the ids of `word` (one pre-token, already in the model's alphabet) to `out`;
  // throws fedkseed::Error for a character with neither a token, a byte token nor an unk.
  void tokenize(const std::string& word, std::vector<int64_t>& out) const;

  std::optional<int64_t> id_of(const std::string& token) const;
  const std::string* token_of(int64_t id) const;  // nullptr outside the vocabulary
  // Largest id + 1.
  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  struct Merge {
    int64_t rank;
    int64_t result;
  };
  // The ids a word starts from: one per character, or its byte tokens, or unk.
  std::vector<int64_t> initial_symbols(const std::string& word) const;
  std::optional<Merge> merge_of(int64_t left, int64_t right) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> tokens_;  // by id ("" for an unused id)
  std::unordered_map<uint64_t, Merge> merges_;  // key: left id << 32 | right id
  BpeModelOptions options_;
  std::optional<int64_t> unk_id_;
  std::vector<std::optional<int64_t>> byte_ids_;  // the <0xXX> tokens, when byte_fallback
};

}  // namespace fedkseed::bpe
