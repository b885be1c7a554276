// The server's and the clients' copies of the weights and their replays (see replica.h).
#include "fedkseed/federation/replica.h"

#include "fedkseed/common/logging.h"
#include "fedkseed/federation/seed_pairs.h"

namespace fedkseed {

NamedParams views_like(const LlamaModel& model, const at::Tensor& flat) {
  const auto& model_flat = model.flat_parameters();
  NamedParams views;
  for (const auto& [name, param] : model.named_parameters()) {
    const int64_t offset = param.storage_offset() - model_flat.storage_offset();
    views.emplace_back(name, flat.narrow(0, offset, param.numel()).view(param.sizes()));
  }
  return views;
}

ModelReplica::ModelReplica(const LlamaModel& model, const at::Tensor& flat, ReplayOptions options)
    : options_(options), flat_(flat.clone()), params_(views_like(model, flat_)) {
  if (rng_is_philox(options_.rng)) flat_params_.emplace(params_, options_.rng);
}

void ModelReplica::replay_from(const NamedParams& init, const std::vector<SeedScalar>& pairs) {
  zo_replay(params_, init, pairs, options_.lr, options_.weight_decay, options_.rng);
}

void ModelReplica::replay_increment(const std::vector<SeedScalar>& pairs) {
  if (flat_params_) {
    flat_params_->replay_incremental(pairs, options_.lr, options_.weight_decay);
  } else {
    zo_replay_incremental(params_, pairs, options_.lr, options_.weight_decay, options_.rng);
  }
}

// One pass over the cumulative values would round differently from the run's round-by-round
// increments, so an incremental run is replayed as it ran (on the CPU bit for bit).
void replay_state(const NamedParams& params, const NamedParams& init, const RunState& state, ReplayOptions options,
                  bool incremental, const std::string& source) {
  const bool per_round = static_cast<int64_t>(state.round_increments.size()) == state.last_round;
  if (incremental && per_round) {
    for (const auto& increment : state.round_increments) {
      zo_replay_incremental(params, seed_pairs(state.pool_seeds, increment, source), options.lr,
                            options.weight_decay, options.rng);
    }
    return;
  }
  if (incremental) {
    log::warn(source + " lacks the per-round increments (an older fedkseed): replaying the cumulative pool "
                       "from theta0, which differs from the run by rounding");
  }
  zo_replay(params, init, nonzero_pairs(state.pool_seeds, state.pool_cumulative), options.lr, options.weight_decay,
            options.rng);
}

}  // namespace fedkseed
