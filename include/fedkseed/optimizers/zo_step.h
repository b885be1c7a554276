// One zeroth-order SGD step (reference §3.4) on any parameter list driven by a loss closure:
// +ε forward, −2ε forward, then the fused restore+update (or a plain restore when skipped).
// Seed choice is the caller's (seed_sampler.h); zo_train_step bundles the two for a client loop.
#pragma once

#include <cstdint>
#include <functional>

#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/seed_sampler.h"

namespace fedkseed {

// Forward on the current batch at the current parameters; returns the fp32 loss as a double.
using LossFn = std::function<double()>;

struct ZoStepOptions {
  double eps = 5e-4;           // --zo_eps
  double lr = 3e-7;            // --lr
  double weight_decay = 0.0;   // --weight_decay
  double grad_clip = -100.0;   // --grad_clip: > 0 skips steps with |L+ − L−| above it
  RngKind rng = kDefaultRng;
};

struct ZoStepResult {
  int64_t seed_index = -1;  // the pick's index (-1 for a fresh seed)
  uint64_t seed = 0;
  double g = 0.0;           // projected gradient; 0 when not applied
  double loss_plus = 0.0;   // L+ (what the reference's progress bar shows)
  double loss_minus = 0.0;  // L−
  bool applied = false;     // false: a loss was NaN or |L+ − L−| > grad_clip; θ restored
};

// g = (L+ − L−)/(2ε) as the reference gets it from CUDA: fp32 difference times fp32 1/(2ε).
double zo_projected_gradient(double loss_plus, double loss_minus, double eps);

// One step along z(pick.seed): calls `loss` twice, leaves params updated (applied) or restored
// to within rounding (skipped). Throws fedkseed::Error when eps <= 0.
ZoStepResult zo_step(const NamedParams& params, const SeedPick& pick, const LossFn& loss,
                     const ZoStepOptions& options);

// sampler.sample(rng), then zo_step; an applied step's g is recorded in `history` when given
// (FedKSeed-Pro) and the pick has an index.
ZoStepResult zo_train_step(const NamedParams& params, const SeedSampler& sampler, Rng& rng,
                           const LossFn& loss, const ZoStepOptions& options,
                           SeedHistory* history = nullptr);

}  // namespace fedkseed
