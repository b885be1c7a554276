// Loss and Rouge-L evaluation over a test set.
#include "fedkseed/evaluation/evaluate.h"

#include <ATen/ATen.h>

#include <cmath>

#include "fedkseed/data/batch.h"
#include "fedkseed/evaluation/rouge.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {
namespace {

// Padded tokens per evaluation batch: bounds the fp32 logits (and their log-softmax) to
// about 1 GB each for a 32k vocabulary.
constexpr int64_t kEvalTokenBudget = 8192;

int64_t capped(std::size_t size, int64_t max_samples) {
  const auto count = static_cast<int64_t>(size);
  return max_samples > 0 ? std::min(count, max_samples) : count;
}

// Each sample's token-mean next-token CE (NaN without labels), as a bs-1 HF loss would be.
at::Tensor per_sample_losses(const LlamaModel& model, const Batch& batch) {
  const auto device = model.device();
  const auto logits = model.logits(batch.input_ids.to(device), batch.attention_mask.to(device));
  const int64_t rows = logits.size(0), length = logits.size(1), vocab = logits.size(2);
  const auto targets = batch.labels.to(device).narrow(1, 1, length - 1);
  const auto token_losses = at::cross_entropy_loss(logits.narrow(1, 0, length - 1).reshape({-1, vocab}),
                                                   targets.reshape(-1), {}, at::Reduction::None, kIgnoreIndex);
  const auto counts = targets.ne(kIgnoreIndex).sum(1).to(at::kDouble);
  return token_losses.view({rows, length - 1}).to(at::kDouble).sum(1) / counts;
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
    const auto losses = per_sample_losses(model, collate(group, pad_id)).cpu();
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
  RougeEvaluation result;
  double total = 0.0;
  for (int64_t start = 0; start < count; start += batch_size) {
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i = start; i < std::min(count, start + batch_size); ++i) prompts.push_back(examples[i].prompt_ids);
    const auto generated = model.generate(prompts, max_new_tokens, tokenizer.eos_id(), pad_id);
    for (std::size_t k = 0; k < generated.size(); ++k) {
      std::string hypothesis = tokenizer.decode(generated[k]);
      total += rouge_l_f(hypothesis, examples[start + k].reference).value_or(0.0);
      result.hypotheses.push_back(std::move(hypothesis));
    }
  }
  result.mean_rouge_l_f = count > 0 ? total / count : 0.0;
  return result;
}

}  // namespace fedkseed
