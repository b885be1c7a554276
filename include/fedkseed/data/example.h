// One instruction sample in the reference's two formats: the loss format (prompt tokens
// masked with -100, EOS appended as an id) and the generation format (prompt ids plus the
// reference text). Prompt templates are reproduced character for character (spec §4.2-4.3).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace fedkseed {

class Tokenizer;

// Label value the loss ignores (transformers' ignore index).
constexpr int64_t kIgnoreIndex = -100;

// Loss/training format: labels equal input_ids except prompt positions (kIgnoreIndex).
struct Example {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> labels;
};

// Generation format for the final Rouge-L: prompt ids (BOS first) and the response text.
struct GenerationExample {
  std::vector<int64_t> prompt_ids;
  std::string reference;
};

// A prompt (template already applied) and its response text, before tokenisation.
struct PromptPair {
  std::string prompt;
  std::string response;
};

// Dolly's Alpaca-style prompt; the "Input" block only when `context` is non-empty.
std::string dolly_prompt(const std::string& instruction, const std::string& context);
// Natural Instructions' prompt from Definition[0] and the instance input.
std::string ni_prompt(const std::string& definition, const std::string& input, bool use_prompts);

// input_ids = encode(prompt + response) + [EOS], cut to `max_length` tokens; the first
// len(encode(prompt)) labels are kIgnoreIndex (all of them when truncation reaches that far).
Example make_example(const Tokenizer& tokenizer, const PromptPair& pair, int64_t max_length);
// prompt_ids = encode(prompt) cut to `max_length`; reference = the response text.
GenerationExample make_generation_example(const Tokenizer& tokenizer, const PromptPair& pair,
                                          int64_t max_length);

// make_example / make_generation_example for many pairs that share lines (e.g. one NI
// task's definition): same ids, but each distinct line is tokenised once, which is exact
// when the tokenizer's pieces never span a newline (else it falls back to encode()).
// Not thread-safe: one builder per thread.
class ExampleBuilder {
 public:
  ExampleBuilder(const Tokenizer& tokenizer, int64_t max_length);
  Example example(const PromptPair& pair);
  GenerationExample generation(const PromptPair& pair);

 private:
  std::vector<int64_t> encode(const std::string& text);
  const std::vector<int64_t>& line_ids(const std::string& line, bool first);

  const Tokenizer& tokenizer_;
  int64_t max_length_;
  bool by_lines_;
  std::vector<int64_t> newline_ids_;  // encode("\n", no BOS): the prefix cut off later lines
  std::unordered_map<std::string, std::vector<int64_t>> first_lines_, later_lines_;
};

// make_example / make_generation_example over many pairs, in order, on all CPU cores.
std::vector<Example> make_examples(const Tokenizer& tokenizer, const std::vector<PromptPair>& pairs,
                                   int64_t max_length);
std::vector<GenerationExample> make_generation_examples(const Tokenizer& tokenizer,
                                                        const std::vector<PromptPair>& pairs,
                                                        int64_t max_length);

}  // namespace fedkseed
