// First-order (backpropagation) training of every weight with AdamW: how `fedkseed pretrain`
// turns a random checkpoint into a small learned base that zeroth-order tuning can improve.
// Deterministic for a given seed, thread count and device.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fedkseed/model/llama.h"

namespace fedkseed {

struct FirstOrderOptions {
  int64_t steps = 1000;
  int64_t batch_size = 16;
  double lr = 1e-3;            // peak, after a linear warm-up; cosine decay to lr / 10
  double warmup_fraction = 0.05;
  double weight_decay = 0.01;  // AdamW's, decoupled
  double max_grad_norm = 1.0;  // global L2 clip; <= 0: off
  uint64_t seed = 0;           // which sequences each batch draws
};

// One logged point of the training curve.
struct TrainingPoint {
  int64_t step = 0;
  double lr = 0;
  double loss = 0;  // mean over the steps since the previous point
};

// Language-model loss over whole token sequences (every token after the first predicts the
// next; `pad_id` only fills batches and is masked). Each step draws batch_size sequences
// uniformly with replacement. `on_point` is called every `log_every` steps and after the last.
// Returns the model's trained weights (a copy: `model` is left unchanged).
LlamaModel train_first_order(const LlamaModel& model, const std::vector<std::vector<int64_t>>& sequences,
                             int64_t pad_id, const FirstOrderOptions& options, int64_t log_every,
                             const std::function<void(const TrainingPoint&)>& on_point);

// Token-weighted mean next-token loss of `model` over `sequences` (batches of batch_size).
double language_model_loss(const LlamaModel& model, const std::vector<std::vector<int64_t>>& sequences,
                           int64_t pad_id, int64_t batch_size);

}  // namespace fedkseed
