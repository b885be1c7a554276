// Batched greedy decoding with a KV cache. Prompts are left-padded and their positions
// count real tokens only (as transformers' generate does), so a prompt decodes the same
// alone or in a padded batch. After the prefill every step has the same shapes and keeps its
// state on the device, so on a GPU it is one CUDA graph replay.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/model/llama.h"

#if FEDKSEED_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace fedkseed {
namespace {

// A decode step with fixed shapes: run eagerly the first time (which also warms up the
// libraries), then captured once and replayed as a CUDA graph on a GPU. Should the capture
// fail, the steps stay eager (the failed capture ran nothing, so no state moved).
class DecodeStep {
 public:
  DecodeStep(c10::Device device, std::function<void()> body) : device_(device), body_(std::move(body)) {}

  void operator()() {
#if FEDKSEED_WITH_CUDA
    if (device_.is_cuda() && !eager_ && calls_++ > 0) {
      if (!graph_) capture();
      if (graph_) {
        graph_->replay();
        return;
      }
    }
#endif
    body_();
  }

 private:
#if FEDKSEED_WITH_CUDA
  void capture() {
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device_.index());
    c10::cuda::device_synchronize();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      const c10::cuda::CUDAStreamGuard guard(side);
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      try {
        body_();
      } catch (...) {
        try {
          graph->capture_end();  // ends the invalidated capture; reports it as an error
        } catch (...) {
        }
        throw;
      }
      graph->capture_end();
      graph_ = std::move(graph);
    } catch (const std::exception& error) {
      (void)cudaGetLastError();
      eager_ = true;
      const std::string what = error.what();
      log::warn("greedy decoding: the CUDA graph capture failed, decoding eagerly: " + what.substr(0, what.find('\n')));
    }
    c10::cuda::device_synchronize();
  }

  std::unique_ptr<at::cuda::CUDAGraph> graph_;  // made on first capture: it needs a CUDA device
  int64_t calls_ = 0;
  bool eager_ = false;
#endif
  c10::Device device_;
  std::function<void()> body_;
};

}  // namespace

std::vector<std::vector<int64_t>> LlamaModel::generate(const std::vector<std::vector<int64_t>>& prompts,
                                                       int64_t max_new_tokens,
                                                       const std::vector<int64_t>& eos_ids,
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
  // Slots for the prompts and every fed-back token, rounded up so that batches of similar
  // lengths share kernel choices.
  const int64_t capacity = (longest + max_new_tokens + 63) / 64 * 64;
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
  const at::Tensor positions = (key_mask.narrow(1, 0, longest).to(at::kLong).cumsum(1) - 1).clamp_min(0);

  // Unfilled slots are read under the mask, so they must hold zeros, not NaNs.
  KvCache cache;
  const std::vector<int64_t> shape{batch, config_.num_key_value_heads, capacity, attention_head_dim()};
  for (size_t i = 0; i < layers_.size(); ++i) {
    cache.keys.push_back(at::zeros(shape, at::TensorOptions().dtype(dtype()).device(device())));
    cache.values.push_back(at::zeros_like(cache.keys.back()));
  }
  const at::Tensor prefill =
      hidden_states(ids, positions, causal_padding_mask(key_mask.narrow(1, 0, longest), 0, longest), &cache);
  // The decode step's state lives on the device: the token to feed, its position and slot.
  const at::Tensor token = lm_head(prefill.narrow(1, longest - 1, 1)).argmax(-1);  // [B, 1]
  const at::Tensor position = positions.narrow(1, longest - 1, 1) + 1;
  cache.slot = at::full({1}, longest, ids.options());
  const at::Tensor step_mask = key_mask.view({batch, 1, 1, capacity});
  DecodeStep step(device(), [&] {
    key_mask.index_fill_(1, cache.slot, true);
    token.copy_(lm_head(hidden_states(token, position, step_mask, &cache)).argmax(-1));
    position.add_(1);
    cache.slot.add_(1);
  });

  std::vector<bool> finished(prompts.size(), false);
  for (int64_t produced = 1;; ++produced) {
    const at::Tensor token_host = token.to(at::kCPU);
    const int64_t* next_ids = token_host.data_ptr<int64_t>();
    bool all_finished = true;
    for (int64_t b = 0; b < batch; ++b) {
      if (!finished[b] && std::find(eos_ids.begin(), eos_ids.end(), next_ids[b]) != eos_ids.end()) {
        finished[b] = true;
      }
      if (!finished[b]) generated[b].push_back(next_ids[b]);
      all_finished = all_finished && finished[b];
    }
    if (all_finished || produced == max_new_tokens) break;
    step();
  }
  return generated;
}

}  // namespace fedkseed
