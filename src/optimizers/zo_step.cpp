// The ZO step sequence and its skip rules (NaN loss, grad_clip), on top of perturbation.h.
#include "fedkseed/optimizers/zo_step.h"

#include <cmath>
#include <string>

#include "fedkseed/common/error.h"

namespace fedkseed {

double zo_projected_gradient(double loss_plus, double loss_minus, double eps) {
  // CUDA's true division by a CPU scalar multiplies by the fp32 reciprocal.
  const float difference = static_cast<float>(loss_plus) - static_cast<float>(loss_minus);
  const float reciprocal = 1.0f / static_cast<float>(2.0 * eps);
  return static_cast<double>(difference * reciprocal);
}

ZoStepResult zo_step(const NamedParams& params, const SeedPick& pick, const LossFn& loss,
                     const ZoStepOptions& options) {
  if (!(options.eps > 0.0)) {
    throw Error("zo_step: --zo_eps is " + std::to_string(options.eps) + "; it must be positive");
  }
  ZoStepResult result;
  result.seed_index = pick.index;
  result.seed = pick.seed;
  zo_perturb(params, pick.seed, options.eps, options.rng);
  result.loss_plus = loss();
  zo_perturb(params, pick.seed, -2.0 * options.eps, options.rng);
  result.loss_minus = loss();
  const float difference =
      static_cast<float>(result.loss_plus) - static_cast<float>(result.loss_minus);
  const bool skip = std::isnan(result.loss_plus) || std::isnan(result.loss_minus) ||
                    (options.grad_clip > 0.0 && std::abs(difference) > options.grad_clip);
  if (skip) {
    zo_perturb(params, pick.seed, options.eps, options.rng);
    return result;
  }
  result.g = zo_projected_gradient(result.loss_plus, result.loss_minus, options.eps);
  zo_restore_update(params, pick.seed, options.eps, result.g, options.lr, options.weight_decay,
                    options.rng);
  result.applied = true;
  return result;
}

ZoStepResult zo_train_step(const NamedParams& params, const SeedSampler& sampler, Rng& rng,
                           const LossFn& loss, const ZoStepOptions& options,
                           SeedHistory* history) {
  const ZoStepResult result = zo_step(params, sampler.sample(rng), loss, options);
  if (history != nullptr && result.applied && result.seed_index >= 0) {
    history->record(result.seed_index, result.g);
  }
  return result;
}

}  // namespace fedkseed
