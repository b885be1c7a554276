// Pre-tokenizer steps over a list of pieces, each step mapping one piece to several, as
// tokenizers' PreTokenizedString::split does. PCRE2 stays inside this file.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <pcre2.h>

#include "fedkseed/common/error.h"
#include "byte_level.h"

namespace fedkseed::bpe {
namespace {

// GPT-2's pattern, what ByteLevel splits with when use_regex is set.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Piece {
  std::string text;
  bool at_text_start = false;
};

class Regex {
 public:
  Regex(const std::string& pattern, const std::string& source) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                          &error, &offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw Error(source + ": pre-tokenizer pattern '" + pattern + "' is not a supported regex (" +
                  reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset) + ")");
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // the interpreter runs when JIT is unavailable
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() { pcre2_code_free(code_); }

  // [begin, end) of every non-overlapping match in `text`, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(const std::string& text) const {
    std::vector<std::pair<size_t, size_t>> matches;
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t pos = 0;
    while (pos <= text.size()) {
      const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, data, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        pcre2_match_data_free(data);
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof message);
        throw Error(std::string("tokenizer: cannot pre-tokenize a text (") +
                    reinterpret_cast<const char*>(message) + ")");
      }
      const PCRE2_SIZE* range = pcre2_get_ovector_pointer(data);
      if (range[1] > range[0]) matches.emplace_back(range[0], range[1]);
      // An empty match moves on by one character.
      pos = range[1] > range[0] ? range[1] : range[0] + (range[0] < text.size() ? utf8_length(text[range[0]]) : 1);
    }
    pcre2_match_data_free(data);
    return matches;
  }

 private:
  pcre2_code* code_ = nullptr;
};

void add_piece(std::vector<Piece>& out, const std::string& text, size_t begin, size_t end, bool at_text_start) {
  if (end > begin) out.push_back({text.substr(begin, end - begin), at_text_start && begin == 0});
}

// Cuts `piece` at the delimiters `regex` finds, keeping them as `behavior` says.
void split_piece(const Piece& piece, const Regex& regex, SplitBehavior behavior, bool invert, std::vector<Piece>& out) {
  struct Span {
    size_t begin, end;
    bool delimiter;
  };
  std::vector<Span> spans;
  size_t last = 0;
  for (const auto& [begin, end] : regex.find_all(piece.text)) {
    if (begin > last) spans.push_back({last, begin, invert});
    spans.push_back({begin, end, !invert});
    last = end;
  }
  if (last < piece.text.size()) spans.push_back({last, piece.text.size(), invert});
  std::vector<std::pair<size_t, size_t>> kept;
  bool previous_delimiter = false;
  for (const Span& span : spans) {
    // tokenizers: a delimiter joins the text before it unless that was a delimiter too;
    // anything joins a delimiter before it; consecutive delimiters join.
    const bool join_previous =
        !kept.empty() && ((behavior == SplitBehavior::kMergedWithPrevious && span.delimiter && !previous_delimiter) ||
                          (behavior == SplitBehavior::kMergedWithNext && previous_delimiter) ||
                          (behavior == SplitBehavior::kContiguous && span.delimiter && previous_delimiter));
    previous_delimiter = span.delimiter;
    if (span.delimiter && behavior == SplitBehavior::kRemoved) continue;
    if (join_previous) {
      kept.back().second = span.end;
    } else {
      kept.emplace_back(span.begin, span.end);
    }
  }
  for (const auto& [begin, end] : kept) add_piece(out, piece.text, begin, end, piece.at_text_start);
}

}  // namespace

struct PreTokenizer::Step {
  PreTokenizerStep spec;
  std::unique_ptr<Regex> regex;  // kSplit's pattern, or GPT-2's for a ByteLevel with use_regex
  std::unique_ptr<Regex> replacement;  // kMetaspace with split: the replacement character

  void apply(const Piece& piece, std::vector<Piece>& out) const {
    switch (spec.kind) {
      case PreTokenizerStep::Kind::kSplit:
        return split_piece(piece, *regex, spec.behavior, spec.invert, out);
      case PreTokenizerStep::Kind::kByteLevel: {
        Piece spaced = piece;
        if (spec.add_prefix_space && spaced.text.rfind(' ', 0) != 0) spaced.text.insert(0, " ");
        std::vector<Piece> words;
        if (regex) {
          split_piece(spaced, *regex, SplitBehavior::kIsolated, false, words);
        } else {
          words.push_back(spaced);
        }
        for (auto& word : words) out.push_back({bytes_to_byte_level(word.text), word.at_text_start});
        return;
      }
      case PreTokenizerStep::Kind::kMetaspace: {
        Piece replaced{replace_all(piece.text, " ", spec.replacement), piece.at_text_start};
        const bool prepend = spec.prepend_scheme == PrependScheme::kAlways ||
                             (spec.prepend_scheme == PrependScheme::kFirst && piece.at_text_start);
        if (prepend && replaced.text.rfind(spec.replacement, 0) != 0) replaced.text.insert(0, spec.replacement);
        if (!replacement) return out.push_back(std::move(replaced));
        return split_piece(replaced, *replacement, SplitBehavior::kMergedWithNext, false, out);
      }
    }
  }
};

PreTokenizer::PreTokenizer(const std::vector<PreTokenizerStep>& steps, const std::string& source) {
  for (const auto& spec : steps) {
    auto step = std::make_unique<Step>();
    step->spec = spec;
    if (spec.kind == PreTokenizerStep::Kind::kSplit) step->regex = std::make_unique<Regex>(spec.pattern, source);
    if (spec.kind == PreTokenizerStep::Kind::kByteLevel && spec.use_regex) {
      step->regex = std::make_unique<Regex>(kGpt2Pattern, source);
    }
    if (spec.kind == PreTokenizerStep::Kind::kMetaspace && spec.split) {
      step->replacement = std::make_unique<Regex>("\\Q" + spec.replacement + "\\E", source);
    }
    steps_.push_back(std::move(step));
  }
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

std::vector<std::string> PreTokenizer::split(const std::string& segment, bool at_text_start) const {
  std::vector<Piece> pieces{{segment, at_text_start}};
  for (const auto& step : steps_) {
    std::vector<Piece> next;
    next.reserve(pieces.size() * 2);
    for (const auto& piece : pieces) step->apply(piece, next);
    pieces = std::move(next);
  }
  std::vector<std::string> words;
  words.reserve(pieces.size());
  for (auto& piece : pieces) {
    if (!piece.text.empty()) words.push_back(std::move(piece.text));
  }
  return words;
}

}  // namespace fedkseed::bpe
