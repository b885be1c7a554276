// Batched test-set loss equals the mean of one-sample HF losses (the reference's metric).
#include <gtest/gtest.h>

#include <cmath>

#include "fedkseed/data/batch.h"
#include "fedkseed/evaluation/evaluate.h"
#include "fedkseed/model/llama.h"

namespace fedkseed {
namespace {

LlamaModel tiny_model() {
  LlamaConfig config = llama_preset("tiny");
  config.vocab_size = 97;
  return LlamaModel::random_init(config, 5, at::kFloat, at::kCPU);
}

// Seven examples of growing length and label share, then one without labels.
std::vector<Example> test_examples() {
  std::vector<Example> examples;
  for (int64_t n = 0; n < 7; ++n) {
    Example example;
    for (int64_t t = 0; t < 5 + 3 * n; ++t) {
      example.input_ids.push_back((7 * t + 11 * n) % 97);
      example.labels.push_back(t < 2 + n ? kIgnoreIndex : example.input_ids.back());
    }
    examples.push_back(example);
  }
  Example unlabelled = examples[0];
  std::fill(unlabelled.labels.begin(), unlabelled.labels.end(), kIgnoreIndex);
  examples.push_back(unlabelled);
  return examples;
}

TEST(SampleLosses, EachRowOfAPaddedBatchEqualsItsBatchOneLoss) {
  const auto model = tiny_model();
  const auto examples = test_examples();
  std::vector<const Example*> all;
  for (const auto& example : examples) all.push_back(&example);
  const Batch batch = collate(all, 0);
  const at::Tensor losses = model.sample_losses(batch.input_ids, batch.labels, batch.attention_mask);
  ASSERT_EQ(losses.sizes(), at::IntArrayRef({8}));
  EXPECT_EQ(losses.scalar_type(), at::kDouble);
  for (int64_t i = 0; i < 7; ++i) {
    const Batch one = collate({&examples[i]}, 0);
    EXPECT_NEAR(losses[i].item<double>(), model.loss(one.input_ids, one.labels).item<double>(), 1e-5) << i;
  }
  EXPECT_TRUE(std::isnan(losses[7].item<double>()));
}

TEST(EvaluateLoss, BatchedEqualsTheMeanOfPerSampleLosses) {
  const auto model = tiny_model();
  const auto examples = test_examples();  // the unlabelled one is NaN alone: skipped, as the reference does
  double total = 0.0;
  for (std::size_t i = 0; i + 1 < examples.size(); ++i) {
    const Batch one = collate({&examples[i]}, 0);
    total += model.loss(one.input_ids, one.labels).item<double>();
  }
  EXPECT_NEAR(evaluate_loss(model, examples, 0, 0), total / 7, 1e-5);
  const Batch first = collate({&examples[0]}, 0);
  EXPECT_NEAR(evaluate_loss(model, examples, 0, 1), model.loss(first.input_ids, first.labels).item<double>(), 1e-5);
}

}  // namespace
}  // namespace fedkseed
