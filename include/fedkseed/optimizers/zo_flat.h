// ZO passes over a whole parameter list in one launch (a table of fixed-size chunks), and a
// client loop that keeps each step's scalars on the device: the restore+update of step t is
// fused with the +ε of step t+1 (two passes per step), g is computed where the losses are, and
// nothing waits on the host until finish(). philox generators only; results match perturbation.h.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/seed_sampler.h"
#include "fedkseed/optimizers/zo_step.h"

namespace fedkseed {

namespace detail {
struct ZoFlatTerms;
struct ZoStepTerms;
}  // namespace detail

class ZoFlatParams {
 public:
  // params: contiguous tensors of one dtype (fp32/fp16/bf16) on one device, unique names; rng a
  // philox generator; throws fedkseed::Error otherwise. Keeps the tensors (views): their storage
  // must not be reallocated.
  ZoFlatParams(const NamedParams& params, RngKind rng);

  // zo_perturb(params, seed, scale, rng), bit for bit, in one launch.
  void perturb(uint64_t seed, double scale) const;
  // zo_replay_incremental(params, pairs, lr, weight_decay, rng), bit for bit, in one launch.
  void replay_incremental(const std::vector<SeedScalar>& pairs, double lr,
                          double weight_decay) const;

  const NamedParams& params() const { return params_; }
  int64_t numel() const { return numel_; }
  int64_t bytes() const;
  c10::Device device() const { return device_; }
  RngKind rng() const { return rng_; }

 private:
  friend class ZoDeviceLoop;
  void run(const detail::ZoFlatTerms& terms) const;
  void run_step(const detail::ZoStepTerms& terms) const;

  NamedParams params_;
  std::vector<uint64_t> hashes_;
  at::Tensor chunks_;  // ZoChunk table as bytes on the device (undefined on the CPU)
  int64_t chunk_count_ = 0;
  int64_t numel_ = 0;
  c10::ScalarType dtype_ = c10::ScalarType::Float;
  c10::Device device_ = c10::Device(c10::kCPU);
  RngKind rng_;
};

// The loss at the current parameters as a 1-element fp32 tensor on their device, enqueued on
// the current stream (no host synchronisation).
using DeviceLossFn = std::function<at::Tensor()>;

class ZoDeviceLoop {
 public:
  // Up to max_steps steps on `params` (which must outlive the loop). Throws fedkseed::Error when
  // options.rng is not params' generator, eps <= 0 or max_steps < 1.
  ZoDeviceLoop(const ZoFlatParams& params, const ZoStepOptions& options, int64_t max_steps);

  // Step t along z(pick.seed): one pass θ ← α·θ + c·z(seed_{t−1}) + ε·z(seed) (step t−1's
  // restore+update from its losses on the device, skip rules as zo_step), loss() → L+, one pass
  // θ −= 2ε·z(seed), loss() → L−. Throws fedkseed::Error past max_steps.
  void step(const SeedPick& pick, const DeviceLossFn& loss);
  // Applies the last step's restore+update and returns every step's result since the last
  // finish (one host synchronisation); the loop can then start again.
  std::vector<ZoStepResult> finish();

 private:
  detail::ZoStepTerms step_terms() const;

  const ZoFlatParams& params_;
  ZoStepOptions options_;
  int64_t max_steps_;
  std::vector<SeedPick> picks_;
  at::Tensor losses_;   // [max_steps, 2] fp32: L+, L−
  at::Tensor results_;  // [max_steps, 2] fp32: g, applied
};

}  // namespace fedkseed
