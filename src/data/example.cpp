// Prompt templates (spec §4.2, verbatim) and tokenisation with label masking (§4.3).
#include "fedkseed/data/example.h"

#include <algorithm>

#include "fedkseed/common/parallel.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {

std::string dolly_prompt(const std::string& instruction, const std::string& context) {
  if (context.empty()) {
    return "Below is an instruction that describes a task. Write a response for the task request.\n\n"
           "### Instruction:\n" + instruction + "\n\n### Response:";
  }
  return "Below is an instruction that describes a task, paired with an input that provides further "
         "context. Write a response for the task request.\n\n### Instruction:\n" + instruction +
         "\n\n### Input:\n" + context + "\n\n### Response:";
}

std::string ni_prompt(const std::string& definition, const std::string& input, bool use_prompts) {
  if (!use_prompts) return definition + "\n\nInput: " + input + "\n\nOutput:";
  return "Below is an instruction that describes a task, paired with an input that provides further "
         "context. Write a response that appropriately completes the request.\n\n### Instruction:\n" +
         definition + "\n\n### Input:\n" + input + "\n\n### Response:";
}

namespace {

// Appends EOS, cuts to max_length and masks the first prompt_length labels.
Example masked_example(std::vector<int64_t> ids, size_t prompt_length, int64_t eos, int64_t max_length) {
  Example example;
  example.input_ids = std::move(ids);
  example.input_ids.push_back(eos);
  if (static_cast<int64_t>(example.input_ids.size()) > max_length) example.input_ids.resize(max_length);
  example.labels = example.input_ids;
  std::fill_n(example.labels.begin(), std::min(prompt_length, example.labels.size()), kIgnoreIndex);
  return example;
}

GenerationExample generation_example(std::vector<int64_t> prompt_ids, const std::string& reference,
                                     int64_t max_length) {
  if (static_cast<int64_t>(prompt_ids.size()) > max_length) prompt_ids.resize(max_length);
  return {std::move(prompt_ids), reference};
}

}  // namespace

Example make_example(const Tokenizer& tokenizer, const PromptPair& pair, int64_t max_length) {
  // The reference tokenises prompt + response + "</s>"; transformers turns "</s>" into the
  // EOS id in its own segment, so appending the id is the same sequence.
  return masked_example(tokenizer.encode(pair.prompt + pair.response), tokenizer.encode(pair.prompt).size(),
                        tokenizer.eos_id(), max_length);
}

GenerationExample make_generation_example(const Tokenizer& tokenizer, const PromptPair& pair,
                                          int64_t max_length) {
  return generation_example(tokenizer.encode(pair.prompt), pair.response, max_length);
}

ExampleBuilder::ExampleBuilder(const Tokenizer& tokenizer, int64_t max_length)
    : tokenizer_(tokenizer),
      max_length_(max_length),
      by_lines_(tokenizer.newline_is_boundary()),
      newline_ids_(tokenizer.encode("\n", false)) {}

const std::vector<int64_t>& ExampleBuilder::line_ids(const std::string& line, bool first) {
  auto& cache = first ? first_lines_ : later_lines_;
  auto found = cache.find(line);
  if (found != cache.end()) return found->second;
  // A later line is tokenised behind a "\n" (no dummy-prefix effect on it), then the
  // ids of that "\n" are cut off again.
  std::vector<int64_t> ids = tokenizer_.encode(first ? line : "\n" + line, false);
  if (!first) {
    if (!std::equal(newline_ids_.begin(), newline_ids_.end(), ids.begin())) {
      by_lines_ = false;  // not the expected prefix: this tokenizer merges across "\n"
    } else {
      ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(newline_ids_.size()));
    }
  }
  return cache.emplace(line, std::move(ids)).first->second;
}

std::vector<int64_t> ExampleBuilder::encode(const std::string& text) {
  std::vector<int64_t> ids{tokenizer_.bos_id()};
  for (size_t start = 0; by_lines_ && start < text.size();) {
    const size_t newline = text.find('\n', start);
    const size_t end = newline == std::string::npos ? text.size() : newline + 1;
    const auto& line = line_ids(text.substr(start, end - start), start == 0);
    ids.insert(ids.end(), line.begin(), line.end());
    start = end;
  }
  return by_lines_ ? ids : tokenizer_.encode(text);
}

Example ExampleBuilder::example(const PromptPair& pair) {
  return masked_example(encode(pair.prompt + pair.response), encode(pair.prompt).size(), tokenizer_.eos_id(),
                        max_length_);
}

GenerationExample ExampleBuilder::generation(const PromptPair& pair) {
  return generation_example(encode(pair.prompt), pair.response, max_length_);
}

std::vector<Example> make_examples(const Tokenizer& tokenizer, const std::vector<PromptPair>& pairs,
                                   int64_t max_length) {
  std::vector<Example> examples(pairs.size());
  parallel_for_each(static_cast<int64_t>(pairs.size()),
                    [&](int64_t i) { examples[i] = make_example(tokenizer, pairs[i], max_length); });
  return examples;
}

std::vector<GenerationExample> make_generation_examples(const Tokenizer& tokenizer,
                                                        const std::vector<PromptPair>& pairs,
                                                        int64_t max_length) {
  std::vector<GenerationExample> examples(pairs.size());
  parallel_for_each(static_cast<int64_t>(pairs.size()), [&](int64_t i) {
    examples[i] = make_generation_example(tokenizer, pairs[i], max_length);
  });
  return examples;
}

}  // namespace fedkseed
