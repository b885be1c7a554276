// A run's progress from round to round (see run_progress.h).
#include "run_progress.h"

#include <algorithm>
#include <cmath>

#include "fedkseed/common/peak_memory.h"

namespace fedkseed {
namespace {

// Adds an evaluated round's loss to the history; true when it is the best so far.
bool record_evaluation(RunState& progress, int64_t round, double loss) {
  progress.eval_losses.push_back(loss);
  if (std::isnan(loss) || (!std::isnan(progress.best_eval_loss) && loss >= progress.best_eval_loss)) return false;
  progress.best_eval_loss = loss;
  progress.best_round = round;
  return true;
}

}  // namespace

bool record_round(RunState& progress, const RoundMetrics& metrics, double seconds) {
  const bool best = metrics.evaluated && record_evaluation(progress, metrics.round, metrics.eval_loss);
  progress.bytes_up += metrics.bytes_up;
  progress.bytes_down += metrics.bytes_down;
  progress.seconds += seconds;
  return best;
}

void record_peak_memory(RunState& progress, c10::Device device) {
  const auto [allocated, reserved] = peak_memory(device);
  progress.peak_memory_allocated = std::max(progress.peak_memory_allocated, allocated);
  progress.peak_memory_reserved = std::max(progress.peak_memory_reserved, reserved);
}

}  // namespace fedkseed
