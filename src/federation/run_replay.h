// Internal to the federation: reading a run's state.json and rebuilding its global model from
// it (resume and export), shared by trainer.cpp and run_replay.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/common/options.h"
#include "fedkseed/common/run_dir.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/optimizers/perturbation.h"

namespace fedkseed {

// The run's state.json; throws fedkseed::Error when it is missing or malformed.
RunState read_run_state(const RunDirectory& run);

// Views of the flat buffer `flat` laid out as the model's parameters lie in the model's buffer.
NamedParams views_like(const LlamaModel& model, const at::Tensor& flat);

// (seed, value) of every non-zero value, in pool order: what a replay applies.
std::vector<SeedScalar> nonzero_pairs(const std::vector<uint64_t>& seeds, const std::vector<double>& values);

// The non-zero entries of a round's dense increment, as (pool index, value).
SparseIncrement sparse(const std::vector<double>& increment);

// (seed, value) of a sparse increment over the pool `seeds`; throws fedkseed::Error naming
// `source` for an index outside the pool.
std::vector<SeedScalar> seed_pairs(const std::vector<uint64_t>& seeds, const SparseIncrement& increment,
                                   const std::string& source);

// Writes the global model after the state's last round into `params`, which hold theta0:
// --sync from_init replays the cumulative pool from `init`; incremental replays each round's
// increment in order, as the run applied them. Throws fedkseed::Error naming `source`.
void replay_state(const NamedParams& params, const NamedParams& init, const RunState& state,
                  const TrainOptions& options, const std::string& source);

}  // namespace fedkseed
