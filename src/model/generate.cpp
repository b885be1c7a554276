// Batched greedy decoding with a KV cache. Prompts are left-padded and their positions
// count real tokens only (as transformers' generate does), so a prompt decodes the same
// alone or in a padded batch.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "fedkseed/common/error.h"
#include "fedkseed/model/llama.h"

namespace fedkseed {

std::vector<std::vector<int64_t>> LlamaModel::generate(const std::vector<std::vector<int64_t>>& prompts,
                                                       int64_t max_new_tokens, int64_t eos_id,
                                                       int64_t pad_id) const {
  c10::InferenceMode guard;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int64_t>> generated(prompts.size());
  if (batch == 0 || max_new_tokens <= 0) return generated;
  int64_t longest = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty()) throw Error("generate: prompt " + std::to_string(b) + " is empty");
    for (const int64_t id : prompts[b]) {
      if (id < 0 || id >= config_.vocab_size) {
        throw Error("generate: prompt " + std::to_string(b) + " holds id " + std::to_string(id) +
                    ", outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
      }
    }
    longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[b].size()));
  }
  const int64_t filler = pad_id >= 0 && pad_id < config_.vocab_size ? pad_id : 0;
  const int64_t capacity = longest + max_new_tokens;
  at::Tensor ids = at::full({batch, longest}, filler, at::kLong);
  at::Tensor key_mask = at::zeros({batch, capacity}, at::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& prompt = prompts[b];
    const int64_t start = longest - static_cast<int64_t>(prompt.size());
    ids[b]
        .narrow(0, start, static_cast<int64_t>(prompt.size()))
        .copy_(at::tensor(at::ArrayRef<int64_t>(prompt), at::kLong));
    key_mask[b].narrow(0, start, static_cast<int64_t>(prompt.size())).fill_(true);
  }
  ids = ids.to(device());
  key_mask = key_mask.to(device());
  at::Tensor positions = (key_mask.narrow(1, 0, longest).to(at::kLong).cumsum(1) - 1).clamp_min(0);

  KvCache cache;
  const auto cache_options = at::TensorOptions().dtype(dtype()).device(device());
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::vector<int64_t> shape{batch, config_.num_key_value_heads, capacity, config_.head_dim};
    cache.keys.push_back(at::empty(shape, cache_options));
    cache.values.push_back(at::empty(shape, cache_options));
  }
  at::Tensor hidden =
      hidden_states(ids, positions, causal_padding_mask(key_mask.narrow(1, 0, longest), 0, longest), &cache);
  std::vector<bool> finished(prompts.size(), false);
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    const at::Tensor next = lm_head(hidden.narrow(1, hidden.size(1) - 1, 1)).argmax(-1);  // [B, 1]
    const at::Tensor next_host = next.to(at::kCPU);
    const int64_t* next_ids = next_host.data_ptr<int64_t>();
    bool all_finished = true;
    for (int64_t b = 0; b < batch; ++b) {
      if (!finished[b] && next_ids[b] == eos_id) finished[b] = true;
      if (!finished[b]) generated[b].push_back(next_ids[b]);
      all_finished = all_finished && finished[b];
    }
    if (all_finished || step + 1 == max_new_tokens) break;
    key_mask.narrow(1, cache.length, 1).fill_(true);
    positions = positions.narrow(1, positions.size(1) - 1, 1) + 1;
    const at::Tensor mask = causal_padding_mask(key_mask.narrow(1, 0, cache.length + 1), cache.length, 1);
    hidden = hidden_states(next, positions, mask, &cache);
  }
  return generated;
}

}  // namespace fedkseed
