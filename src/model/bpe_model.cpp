// Byte-pair merging as tokenizers' BPE model does it: start from one symbol per character,
// then repeatedly apply the lowest-ranked merge present, leftmost first, until none applies.
#include "bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "fedkseed/common/error.h"
#include "byte_level.h"

namespace fedkseed::bpe {
namespace {

uint64_t pair_key(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right);
}

}  // namespace

BpeModel::BpeModel(std::unordered_map<std::string, int64_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeModelOptions options,
                   const std::string& source)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  int64_t size = 0;
  for (const auto& [token, id] : vocab_) {
    if (id < 0 || id >= (int64_t{1} << 31)) {
      throw Error(source + ": token id " + std::to_string(id) + " is out of range");
    }
    size = std::max(size, id + 1);
  }
  tokens_.resize(size);
  for (const auto& [token, id] : vocab_) tokens_[id] = token;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto left_id = id_of(left), right_id = id_of(right), result = id_of(left + right);
    if (!left_id || !right_id || !result) {
      throw Error(source + ": merge '" + left + " " + right + "' uses a token outside the vocabulary");
    }
    // A repeated merge keeps its first (best) rank, as tokenizers does.
    merges_.emplace(pair_key(*left_id, *right_id), Merge{static_cast<int64_t>(rank), *result});
  }
  if (options_.unk_token) {
    unk_id_ = id_of(*options_.unk_token);
    if (!unk_id_) throw Error(source + ": unk_token '" + *options_.unk_token + "' is not in the vocabulary");
  }
  if (options_.byte_fallback) {
    byte_ids_.resize(256);
    for (int byte = 0; byte < 256; ++byte) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", byte);
      byte_ids_[byte] = id_of(name);
    }
  }
}

std::optional<int64_t> BpeModel::id_of(const std::string& token) const {
  const auto found = vocab_.find(token);
  if (found == vocab_.end()) return std::nullopt;
  return found->second;
}

const std::string* BpeModel::token_of(int64_t id) const {
  if (id < 0 || id >= size() || (tokens_[id].empty() && id_of("") != id)) return nullptr;
  return &tokens_[id];
}

std::optional<BpeModel::Merge> BpeModel::merge_of(int64_t left, int64_t right) const {
  const auto found = merges_.find(pair_key(left, right));
  if (found == merges_.end()) return std::nullopt;
  return found->second;
}

std::vector<int64_t> BpeModel::initial_symbols(const std::string& word) const {
  std::vector<int64_t> symbols;
  bool last_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = std::min(utf8_length(static_cast<unsigned char>(word[pos])), word.size() - pos);
    const std::string character = word.substr(pos, length);
    pos += length;
    if (const auto id = id_of(character)) {
      symbols.push_back(*id);
      last_was_unk = false;
      continue;
    }
    if (options_.byte_fallback) {
      std::vector<int64_t> bytes;
      for (const char byte : character) {
        if (const auto id = byte_ids_[static_cast<unsigned char>(byte)]) bytes.push_back(*id);
      }
      if (bytes.size() == character.size()) {
        symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        last_was_unk = false;
        continue;
      }
    }
    if (!unk_id_) throw Error("tokenizer: the character '" + character + "' has no token and the model no unk_token");
    if (!(options_.fuse_unk && last_was_unk)) symbols.push_back(*unk_id_);
    last_was_unk = true;
  }
  return symbols;
}

void BpeModel::tokenize(const std::string& word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = id_of(word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<int64_t> symbols = initial_symbols(word);
  const size_t n = symbols.size();
  // Symbols form a linked list; a queue holds candidate merges ordered by (rank, position).
  // A popped candidate is stale when either side has changed since it was pushed.
  std::vector<size_t> next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? n : i - 1;
  }
  struct Candidate {
    int64_t rank;
    size_t left;
    int64_t left_id, right_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](size_t left) {
    if (left >= n || next[left] >= n) return;
    if (const auto merge = merge_of(symbols[left], symbols[next[left]])) {
      queue.push({merge->rank, left, symbols[left], symbols[next[left]]});
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate candidate = queue.top();
    queue.pop();
    const size_t left = candidate.left, right = next[left];
    if (!alive[left] || right >= n || symbols[left] != candidate.left_id || symbols[right] != candidate.right_id) {
      continue;
    }
    symbols[left] = merge_of(symbols[left], symbols[right])->result;
    alive[right] = false;
    next[left] = next[right];
    if (next[left] < n) prev[next[left]] = left;
    if (prev[left] < n) push(prev[left]);
    push(left);
  }
  for (size_t i = 0; i < n; i = next[i]) out.push_back(symbols[i]);
}

}  // namespace fedkseed::bpe
