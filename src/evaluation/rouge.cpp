// Rouge-L as pltrdy rouge 1.0.1: sentences split on '.', whitespace-normalised, words
// split on ' ', union of per-sentence LCS word sets over reference sentences.
#include "fedkseed/evaluation/rouge.h"

#include <cstdint>
#include <set>
#include <vector>

namespace fedkseed {
namespace {

// Python's str.isspace() code points (what str.split() with no argument splits on).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}

// Length in bytes of the UTF-8 sequence at text[i] and its code point (invalid
// bytes count as one code point each, never whitespace).
std::size_t decode_utf8(const std::string& text, std::size_t i, char32_t& code) {
  const auto byte = static_cast<unsigned char>(text[i]);
  const std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3
                                                 : (byte >> 3) == 0x1e              ? 4
                                                                                    : 1;
  if (length == 1 || i + length > text.size()) {
    code = byte < 0x80 ? byte : 0xfffd;
    return 1;
  }
  code = byte & (0x7f >> length);
  for (std::size_t k = 1; k < length; ++k) code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
  return length;
}

// " ".join(piece.split()): collapse every run of Python whitespace, trim both ends.
std::string normalise_whitespace(const std::string& piece) {
  std::string out;
  bool pending_space = false;
  for (std::size_t i = 0; i < piece.size();) {
    char32_t code = 0;
    const std::size_t length = decode_utf8(piece, i, code);
    if (is_python_space(code)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out += ' ';
      pending_space = false;
      out.append(piece, i, length);
    }
    i += length;
  }
  return out;
}

using Words = std::vector<std::string>;

std::vector<Words> sentences_of(const std::string& text) {
  std::vector<Words> sentences;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('.', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) {
      const std::string sentence = normalise_whitespace(text.substr(start, end - start));
      Words words;
      std::size_t word_start = 0;
      while (true) {  // str.split(" "): an empty sentence yields one empty word
        const std::size_t space = sentence.find(' ', word_start);
        words.push_back(sentence.substr(word_start, space - word_start));
        if (space == std::string::npos) break;
        word_start = space + 1;
      }
      sentences.push_back(std::move(words));
    }
    start = end + 1;
  }
  return sentences;
}

// The words of one LCS of (reference, hypothesis), back-tracked as the package does:
// take matches diagonally, else go up when the upper cell is strictly larger, else left.
std::vector<std::string> lcs_words(const Words& x, const Words& y) {
  const std::size_t n = x.size(), m = y.size();
  std::vector<uint32_t> table((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> uint32_t& { return table[i * (m + 1) + j]; };
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      at(i, j) = x[i - 1] == y[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  std::vector<std::string> words;
  std::size_t i = n, j = m;
  while (i > 0 && j > 0) {
    if (x[i - 1] == y[j - 1]) {
      words.push_back(x[i - 1]);
      --i;
      --j;
    } else if (at(i - 1, j) > at(i, j - 1)) {
      --i;
    } else {
      --j;
    }
  }
  return words;
}

std::size_t distinct_words(const std::vector<Words>& sentences) {
  std::set<std::string> words;
  for (const auto& sentence : sentences) words.insert(sentence.begin(), sentence.end());
  return words.size();
}

}  // namespace

std::optional<double> rouge_l_f(const std::string& hypothesis, const std::string& reference) {
  const auto hyp = sentences_of(hypothesis);
  const auto ref = sentences_of(reference);
  if (hyp.empty() || ref.empty()) return std::nullopt;
  std::set<std::string> lcs_union;
  for (const auto& ref_sentence : ref) {
    for (const auto& hyp_sentence : hyp) {
      for (auto& word : lcs_words(ref_sentence, hyp_sentence)) lcs_union.insert(std::move(word));
    }
  }
  const double llcs = static_cast<double>(lcs_union.size());
  const double recall = llcs / static_cast<double>(distinct_words(ref));
  const double precision = llcs / static_cast<double>(distinct_words(hyp));
  return 2.0 * ((precision * recall) / (precision + recall + 1e-8));
}

}  // namespace fedkseed
