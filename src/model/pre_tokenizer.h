// tokenizer.json's pre-tokenizers: the steps that cut a text segment into the words the BPE
// model sees (Split on a regex, ByteLevel, Metaspace). Regexes run on PCRE2 with Unicode
// properties, where tokenizers uses Oniguruma; the patterns of these families mean the same.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fedkseed::bpe {

// What a Split step does with the text its pattern matches (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
// When Metaspace puts its replacement character in front of a segment.
enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  Kind kind = Kind::kSplit;
  std::string pattern;  // kSplit: a regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;            // kSplit: the non-matching text is the delimiter
  bool add_prefix_space = false;  // kByteLevel: a space in front of a piece without one
  bool use_regex = true;          // kByteLevel: split with GPT-2's pattern first
  std::string replacement;        // kMetaspace: stands for " " (normally "▁")
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;  // kMetaspace: a word starts at each replacement character
};

class PreTokenizer {
 public:
  // No steps: each segment is one word. Throws fedkseed::Error (naming `source`) for a
  // pattern PCRE2 rejects.
  PreTokenizer(const std::vector<PreTokenizerStep>& steps, const std::string& source);
  PreTokenizer(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // The words of `segment`, in order. `at_text_start`: the segment begins the whole text
  // (Metaspace's "first" scheme). Throws fedkseed::Error for text that is not UTF-8 (the
  // message says why the regex engine refused it).
  std::vector<std::string> split(const std::string& segment, bool at_text_start) const;

 private:
  struct Step;
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace fedkseed::bpe
