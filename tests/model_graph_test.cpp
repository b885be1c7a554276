// LlamaModel::graphed_loss against loss() on CUDA (on the CPU it is the same call, nothing to
// test): the padded, graph-replayed loss equals the eager one within fp16 rounding for several shapes
// (lengths not a multiple of the bucket, batch > 1, a head dim that is not a multiple of 8).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "fedkseed/model/llama.h"

namespace fedkseed {
namespace {

LlamaConfig small_config(int64_t head_dim) {
  LlamaConfig config = llama_preset("tiny");
  config.vocab_size = 300;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = head_dim;
  config.hidden_size = 4 * head_dim;
  return config;
}

std::pair<at::Tensor, at::Tensor> example(int64_t batch, int64_t tokens, int64_t seed) {
  at::manual_seed(seed);
  const at::Tensor ids = at::randint(3, 300, {batch, tokens}, at::kLong);
  at::Tensor labels = ids.clone();
  labels.narrow(1, 0, tokens / 3).fill_(-100);
  return {ids, labels};
}

TEST(ModelGraph, CudaGraphedLossMatchesEagerLoss) {
  if (!FEDKSEED_WITH_CUDA || !at::hasCUDA()) GTEST_SKIP() << "no CUDA device, or built without CUDA";
  for (int64_t head_dim : {16, 20}) {
    const LlamaModel reference = LlamaModel::random_init(small_config(head_dim), 1, at::kFloat, at::kCUDA);
    const LlamaModel model = LlamaModel::random_init(small_config(head_dim), 1, at::kHalf, at::kCUDA);
    model.flat_parameters().copy_(reference.flat_parameters());
    for (const auto& [batch, tokens] : std::vector<std::pair<int64_t, int64_t>>{{1, 37}, {1, 64}, {3, 70}, {1, 37}}) {
      const auto [ids, labels] = example(batch, tokens, tokens + batch);
      const double graphed = model.graphed_loss(ids, labels).item<double>();
      const double eager = model.loss(ids, labels).item<double>();
      const double exact = reference.loss(ids, labels).item<double>();
      EXPECT_NEAR(graphed, eager, 2e-3 * std::abs(eager)) << head_dim << " " << batch << "x" << tokens;
      EXPECT_NEAR(graphed, exact, 1e-2 * std::abs(exact)) << head_dim << " " << batch << "x" << tokens;
    }
  }
}

}  // namespace
}  // namespace fedkseed
