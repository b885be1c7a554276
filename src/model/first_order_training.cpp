// First-order training with AdamW (see first_order_training.h). LibTorch's autograd and AdamW
// do the work; the model's training_loss() runs the same operations as its ZO forward.
#include "fedkseed/model/first_order_training.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <cmath>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"

namespace fedkseed {
namespace {

// Right-padded [B, T] ids and labels (pad positions -100) of the chosen sequences. Causal
// attention never lets a real token see the padding after it, so no attention mask is needed.
std::pair<at::Tensor, at::Tensor> pad_batch(const std::vector<const std::vector<int64_t>*>& rows, int64_t pad_id) {
  size_t longest = 0;
  for (const auto* row : rows) longest = std::max(longest, row->size());
  const auto batch = static_cast<int64_t>(rows.size()), width = static_cast<int64_t>(longest);
  at::Tensor ids = at::full({batch, width}, pad_id, at::kLong);
  at::Tensor labels = at::full({batch, width}, -100, at::kLong);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& row = *rows[b];
    const at::Tensor values = at::tensor(row, at::kLong);
    ids[b].narrow(0, 0, values.numel()).copy_(values);
    labels[b].narrow(0, 0, values.numel()).copy_(values);
  }
  return {ids, labels};
}

// Linear warm-up to the peak, then a cosine to a tenth of it.
double scheduled_lr(const FirstOrderOptions& options, int64_t step) {
  const auto warmup = static_cast<int64_t>(std::ceil(options.warmup_fraction * options.steps));
  if (step < warmup) return options.lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, options.steps - warmup));
  return options.lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * progress)));
}

}  // namespace

LlamaModel train_first_order(const LlamaModel& model, const std::vector<std::vector<int64_t>>& sequences,
                             int64_t pad_id, const FirstOrderOptions& options, int64_t log_every,
                             const std::function<void(const TrainingPoint&)>& on_point) {
  std::vector<const std::vector<int64_t>*> usable;
  for (const auto& sequence : sequences) {
    if (sequence.size() >= 2) usable.push_back(&sequence);  // one token predicts nothing
  }
  if (usable.empty()) throw Error("pretraining needs at least one sequence of two or more tokens");
  LlamaModel trained = model.with_gradients();
  at::Tensor weights = trained.flat_parameters();
  torch::optim::AdamW optimizer({weights}, torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay));
  Rng rng(options.seed, "pretrain/batches");
  double loss_sum = 0;
  int64_t since_point = 0;
  for (int64_t step = 0; step < options.steps; ++step) {
    std::vector<const std::vector<int64_t>*> rows;
    for (int64_t b = 0; b < options.batch_size; ++b) {
      rows.push_back(usable[rng.uniform_int(0, static_cast<int64_t>(usable.size()))]);
    }
    const auto [ids, labels] = pad_batch(rows, pad_id);
    const double lr = scheduled_lr(options, step);
    static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups().front().options()).lr(lr);
    optimizer.zero_grad();
    const at::Tensor loss = trained.training_loss(ids.to(trained.device()), labels);
    loss.backward();
    if (options.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(weights, options.max_grad_norm);
    optimizer.step();
    loss_sum += loss.item<double>();
    ++since_point;
    if ((step + 1) % log_every == 0 || step + 1 == options.steps) {
      on_point({step + 1, lr, loss_sum / static_cast<double>(since_point)});
      loss_sum = 0;
      since_point = 0;
    }
  }
  return trained;
}

double language_model_loss(const LlamaModel& model, const std::vector<std::vector<int64_t>>& sequences,
                           int64_t pad_id, int64_t batch_size) {
  double weighted = 0, tokens = 0;
  for (size_t begin = 0; begin < sequences.size(); begin += static_cast<size_t>(batch_size)) {
    std::vector<const std::vector<int64_t>*> rows;
    double predicted = 0;
    for (size_t i = begin; i < std::min(sequences.size(), begin + static_cast<size_t>(batch_size)); ++i) {
      if (sequences[i].size() < 2) continue;
      rows.push_back(&sequences[i]);
      predicted += static_cast<double>(sequences[i].size() - 1);
    }
    if (rows.empty()) continue;
    const auto [ids, labels] = pad_batch(rows, pad_id);
    weighted += model.loss(ids.to(model.device()), labels).item<double>() * predicted;
    tokens += predicted;
  }
  return tokens > 0 ? weighted / tokens : std::nan("");
}

}  // namespace fedkseed
