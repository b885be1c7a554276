// Test-set evaluation of a model: mean loss (every round) and Rouge-L of greedy
// generations (final), as the reference's Server.eval_loss / eval_generate (§5.1-5.2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

class LlamaModel;
class Tokenizer;
struct Example;
struct GenerationExample;

// Mean over samples of each sample's token-mean CE (NaN samples skipped), the reference's
// metric at batch size 1; the first `max_samples` samples only when > 0.
double evaluate_loss(const LlamaModel& model, const std::vector<Example>& examples, int64_t pad_id,
                     int64_t max_samples);

struct RougeEvaluation {
  double mean_rouge_l_f = 0.0;  // in [0, 1]
  std::vector<std::string> hypotheses;
};

// Greedy decoding (up to `max_new_tokens`, stop at any of LlamaConfig::stop_token_ids) of every prompt, decoded with
// special tokens skipped and scored by Rouge-L F against its reference (0 when unscorable).
RougeEvaluation evaluate_rouge(const LlamaModel& model, const Tokenizer& tokenizer,
                               const std::vector<GenerationExample>& examples, int64_t batch_size,
                               int64_t pad_id, int64_t max_new_tokens, int64_t max_samples);

}  // namespace fedkseed
