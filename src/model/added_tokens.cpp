// Added-token matching with tokenizers' rules for single_word, lstrip and rstrip.
#include "added_tokens.h"

#include <utf8proc.h>

#include <algorithm>

#include "byte_level.h"

namespace fedkseed::bpe {
namespace {

// Rust's char::is_alphanumeric or '_': a "word" character for single_word.
bool is_word_character(char32_t c) {
  if (c == '_') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Start of the UTF-8 character that ends just before `pos`.
size_t previous_character(const std::string& text, size_t pos) {
  size_t at = pos - 1;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)), by_first_byte_(256) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    index_by_id_[tokens_[i].id] = i;
    if (!tokens_[i].content.empty()) by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& indices : by_first_byte_) {
    std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

const AddedToken* AddedTokens::by_id(int64_t id) const {
  const auto found = index_by_id_.find(id);
  return found == index_by_id_.end() ? nullptr : &tokens_[found->second];
}

const AddedToken* AddedTokens::by_content(const std::string& content) const {
  for (const auto& token : tokens_) {
    if (token.content == content) return &token;
  }
  return nullptr;
}

std::vector<TextSegment> AddedTokens::split(const std::string& text, bool normalized) const {
  std::vector<TextSegment> segments;
  size_t plain_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken* found = nullptr;
    for (const size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& token = tokens_[index];
      if (token.normalized == normalized && text.compare(pos, token.content.size(), token.content) == 0) {
        found = &token;
        break;
      }
    }
    size_t stop = found ? pos + found->content.size() : pos;
    if (found && found->single_word) {
      const bool word_before = pos > 0 && is_word_character(utf8_code_point(text, previous_character(text, pos)));
      const bool word_after = stop < text.size() && is_word_character(utf8_code_point(text, stop));
      if (word_before || word_after) found = nullptr;
    }
    if (found == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos;
    if (found->lstrip) {
      while (start > plain_start && is_unicode_space(utf8_code_point(text, previous_character(text, start)))) {
        start = previous_character(text, start);
      }
    }
    if (found->rstrip) {
      while (stop < text.size() && is_unicode_space(utf8_code_point(text, stop))) {
        stop += utf8_length(static_cast<unsigned char>(text[stop]));
      }
    }
    if (start > plain_start) segments.push_back({plain_start, start, -1});
    segments.push_back({start, stop, found->id});
    plain_start = pos = stop;
  }
  if (plain_start < text.size()) segments.push_back({plain_start, text.size(), -1});
  return segments;
}

}  // namespace fedkseed::bpe
