// Loss and Rouge-L evaluation over a test set.
#include "fedkseed/evaluation/evaluate.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fedkseed/data/batch.h"
#include "fedkseed/evaluation/rouge.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {
namespace {

// Padded tokens per evaluation batch: bounds the activations; lm_head runs on labelled
// positions only.
constexpr int64_t kEvalTokenBudget = 8192;

int64_t capped(std::size_t size, int64_t max_samples) {
  const auto count = static_cast<int64_t>(size);
  return max_samples > 0 ? std::min(count, max_samples) : count;
}

}  // namespace

double evaluate_loss(const LlamaModel& model, const std::vector<Example>& examples, int64_t pad_id,
                     int64_t max_samples) {
  const int64_t count = capped(examples.size(), max_samples);
  double total = 0.0;
  int64_t scored = 0;
  for (int64_t start = 0; start < count;) {
    std::vector<const Example*> group;
    std::size_t longest = 0;
    while (start < count) {
      const std::size_t length = std::max(longest, examples[start].input_ids.size());
      if (!group.empty() && static_cast<int64_t>(length * (group.size() + 1)) > kEvalTokenBudget) break;
      longest = length;
      group.push_back(&examples[start++]);
    }
    const Batch batch = collate(group, pad_id);
    const auto losses = model.sample_losses(batch.input_ids, batch.labels, batch.attention_mask);
    const auto finite = losses.isfinite();
    total += losses.masked_select(finite).sum().item<double>();
    scored += finite.sum().item<int64_t>();
  }
  return scored > 0 ? total / scored : std::nan("");
}

RougeEvaluation evaluate_rouge(const LlamaModel& model, const Tokenizer& tokenizer,
                               const std::vector<GenerationExample>& examples, int64_t batch_size,
                               int64_t pad_id, int64_t max_new_tokens, int64_t max_samples) {
  const int64_t count = capped(examples.size(), max_samples);
  // Batches of similar prompt lengths waste little on padding; a prompt's greedy tokens do not
  // depend on its batch, and scores are summed in the examples' order.
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return examples[a].prompt_ids.size() < examples[b].prompt_ids.size();
  });
  RougeEvaluation result;
  result.hypotheses.resize(count);
  std::vector<double> scores(count);
  for (int64_t start = 0; start < count; start += batch_size) {
    const int64_t end = std::min(count, start + batch_size);
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i = start; i < end; ++i) prompts.push_back(examples[order[i]].prompt_ids);
    const auto generated = model.generate(prompts, max_new_tokens, model.config().stop_token_ids(tokenizer.eos_id()), pad_id);
    for (int64_t i = start; i < end; ++i) {
      const int64_t index = order[i];
      result.hypotheses[index] = tokenizer.decode(generated[i - start]);
      scores[index] = rouge_l_f(result.hypotheses[index], examples[index].reference).value_or(0.0);
    }
  }
  result.mean_rouge_l_f = count > 0 ? std::accumulate(scores.begin(), scores.end(), 0.0) / count : 0.0;
  return result;
}

}  // namespace fedkseed
