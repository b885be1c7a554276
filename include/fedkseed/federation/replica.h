// A copy of the model's weights kept outside the model — the server's global model, the
// clients' view of it — and the two ways the federation rebuilds it from (seed, ΔG) pairs:
// from θ0 (--sync from_init) or on top of the current weights (--sync incremental).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "fedkseed/federation/run_state.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/zo_flat.h"

namespace fedkseed {

// What every replay of a run uses: the run's --lr, --weight_decay and --rng.
struct ReplayOptions {
  double lr = 0.0;
  double weight_decay = 0.0;
  RngKind rng = kDefaultRng;
};

// Views of the flat buffer `flat` laid out as the model's parameters lie in the model's buffer.
NamedParams views_like(const LlamaModel& model, const at::Tensor& flat);

class ModelReplica {
 public:
  // A copy of `flat` (a buffer laid out as model.flat_parameters()), on flat's device.
  ModelReplica(const LlamaModel& model, const at::Tensor& flat, ReplayOptions options);
  ModelReplica(const ModelReplica&) = delete;
  ModelReplica& operator=(const ModelReplica&) = delete;

  // θ = init after the pairs (zo_replay).
  void replay_from(const NamedParams& init, const std::vector<SeedScalar>& pairs);
  // θ after the pairs on top of the current θ (zo_replay_incremental; philox in one launch).
  void replay_increment(const std::vector<SeedScalar>& pairs);

  const at::Tensor& flat() const { return flat_; }
  const NamedParams& params() const { return params_; }
  const ReplayOptions& options() const { return options_; }

 private:
  ReplayOptions options_;
  at::Tensor flat_;
  NamedParams params_;
  std::optional<ZoFlatParams> flat_params_;  // philox only
};

// Writes the global model after `state`'s last round into `params`, which hold θ0: --sync
// from_init replays the cumulative pool from `init`; incremental replays each round's increment
// in order, as the run applied them. Throws fedkseed::Error naming `source`.
void replay_state(const NamedParams& params, const NamedParams& init, const RunState& state, ReplayOptions options,
                  bool incremental, const std::string& source);

}  // namespace fedkseed
