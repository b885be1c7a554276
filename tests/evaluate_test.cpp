// Batched test-set loss equals the mean of one-sample HF losses (the reference's metric), and
// batched Rouge-L evaluation equals decoding every prompt alone.
#include <gtest/gtest.h>

#include <cmath>

#include "fedkseed/data/batch.h"
#include "fedkseed/evaluation/evaluate.h"
#include "fedkseed/evaluation/rouge.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

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

// Prompts of mixed lengths, batched by length: each hypothesis is still that prompt's own greedy
// continuation, in the examples' order, and the mean is that of the per-example scores.
TEST(EvaluateRouge, LengthSortedBatchesEqualDecodingEachPromptAlone) {
  const std::string dir = test::make_temp_dir("rouge_eval") + "/model";
  ASSERT_EQ(test::run_fedkseed("init-model --preset tiny --seed 1 --out " + dir).exit_code, 0);
  const auto model = LlamaModel::load(dir, at::kFloat, at::kCPU);
  const Tokenizer tokenizer = Tokenizer::load(dir);
  std::vector<GenerationExample> examples;
  for (const char* text : {"a long prompt about the river and the duck that likes it", "hi", "the cat",
                           "what does the owl like most of all in the forest at night", "blue"}) {
    examples.push_back({tokenizer.encode(text), "the duck likes the river"});
  }
  const auto evaluation = evaluate_rouge(model, tokenizer, examples, 2, 0, 6, 0);
  ASSERT_EQ(evaluation.hypotheses.size(), examples.size());
  double total = 0.0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto alone = model.generate({examples[i].prompt_ids}, 6, {tokenizer.eos_id()}, 0).front();
    EXPECT_EQ(evaluation.hypotheses[i], tokenizer.decode(alone)) << i;
    total += rouge_l_f(evaluation.hypotheses[i], examples[i].reference).value_or(0.0);
  }
  EXPECT_EQ(evaluation.mean_rouge_l_f, total / examples.size());
}

}  // namespace
}  // namespace fedkseed
