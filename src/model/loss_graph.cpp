// LlamaModel::graphed_loss: the training loss replayed as one CUDA graph per bucketed shape
// (batch, padded length, padded labelled rows). One pinned host buffer carries ids, row indices
// and targets to the device per call; the graphs share one memory pool.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <map>
#include <tuple>

#include "fedkseed/common/error.h"
#include "fedkseed/model/llama.h"

#if FEDKSEED_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace fedkseed {

#if FEDKSEED_WITH_CUDA
struct LlamaModel::LossGraphs {
  struct Entry {
    at::cuda::CUDAGraph graph;
    at::Tensor input;  // int64 [B·T + 2·R]: ids, row indices, targets
    at::Tensor loss;
  };
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::unique_ptr<Entry>> entries;
  at::cuda::MempoolId_t pool = at::cuda::graph_pool_handle();
};
#else
struct LlamaModel::LossGraphs {};
#endif

void LlamaModel::clear_graphs() const {
  if (loss_graphs_) loss_graphs_ = nullptr;
}

at::Tensor LlamaModel::graphed_loss(const at::Tensor& input_ids, const at::Tensor& labels, int64_t bucket) const {
  TORCH_CHECK(input_ids.dim() == 2 && labels.sizes() == input_ids.sizes(), "graphed_loss: ids ",
              input_ids.sizes(), " and labels ", labels.sizes(), " must be one [B, T] shape");
#if FEDKSEED_WITH_CUDA
  if (!device().is_cuda() || !input_ids.device().is_cpu() || !labels.device().is_cpu() ||
      input_ids.size(1) < 2) {
    return loss(input_ids, labels);
  }
  const int64_t batch = input_ids.size(0), tokens = input_ids.size(1);
  const int64_t padded = (tokens + bucket - 1) / bucket * bucket;
  // Labelled rows of hidden[:, :padded − 1] flattened, their targets, and the id range check
  // that loss() makes on CPU ids.
  const at::Tensor shifted = labels.to(at::kLong).narrow(1, 1, tokens - 1).reshape({-1});
  const at::Tensor keep = (shifted != -100).nonzero().squeeze(1);
  const at::Tensor targets = shifted.index_select(0, keep);
  const at::Tensor rows = keep.div(tokens - 1, "floor") * (padded - 1) + keep.remainder(tokens - 1);
  const int64_t labelled = rows.size(0);
  const int64_t row_slots = std::max<int64_t>((labelled + bucket - 1) / bucket * bucket, bucket);
  for (const auto& [ids, what] : {std::pair{input_ids, "input_ids"}, std::pair{targets, "labels"}}) {
    if (ids.numel() == 0) continue;
    const int64_t low = ids.min().item<int64_t>(), high = ids.max().item<int64_t>();
    if (low < 0 || high >= config_.vocab_size) {
      throw Error(std::string(what) + ": id " + std::to_string(low < 0 ? low : high) +
                  " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
    }
  }

  const at::Tensor host = at::empty({batch * padded + 2 * row_slots},
                                    at::TensorOptions().dtype(at::kLong).pinned_memory(true));
  host.narrow(0, 0, batch * padded).view({batch, padded}).fill_(0).narrow(1, 0, tokens).copy_(input_ids);
  host.narrow(0, batch * padded, row_slots).fill_(0).narrow(0, 0, labelled).copy_(rows);
  host.narrow(0, batch * padded + row_slots, row_slots).fill_(-100).narrow(0, 0, labelled).copy_(targets);

  if (!loss_graphs_) loss_graphs_ = std::make_shared<LossGraphs>();
  auto& entry = loss_graphs_->entries[{batch, padded, row_slots}];
  const bool fresh = entry == nullptr;
  if (fresh) {
    entry = std::make_unique<LossGraphs::Entry>();
    entry->input = at::empty({host.numel()}, at::TensorOptions().dtype(at::kLong).device(device()));
  }
  entry->input.copy_(host, /*non_blocking=*/true);
  if (fresh) {
    const at::Tensor ids = entry->input.narrow(0, 0, batch * padded).view({batch, padded});
    const at::Tensor row_index = entry->input.narrow(0, batch * padded, row_slots);
    const at::Tensor target = entry->input.narrow(0, batch * padded + row_slots, row_slots);
    auto forward = [&] {
      c10::InferenceMode guard;
      const at::Tensor positions = at::arange(padded, ids.options()).unsqueeze(0).expand({batch, padded});
      return rows_loss(hidden_states(ids, positions, {}, nullptr), row_index, target);
    };
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device().index());
    c10::cuda::device_synchronize();
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      forward();  // warm-up outside the capture: library handles, workspaces, kernel selection
      entry->graph.capture_begin(loss_graphs_->pool, cudaStreamCaptureModeThreadLocal);
      entry->loss = forward();
      entry->graph.capture_end();
    }
    c10::cuda::device_synchronize();
  }
  entry->graph.replay();
  return entry->loss;
#else
  (void)bucket;
  return loss(input_ids, labels);
#endif
}

}  // namespace fedkseed
