// Micro-benchmarks of the philox perturbation kernels beside plain torch, for a `bench` command
// (the CLI wiring lives elsewhere) and for comparing CPU and GPU builds.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>

#include "fedkseed/optimizers/perturbation.h"

namespace fedkseed {

struct ZoBenchResult {
  double perturb_gb_per_s = 0.0;        // zo_perturb, one tensor: 2·bytes(θ) per second
  double torch_perturb_gb_per_s = 0.0;  // the reference's θ + s·at::normal(...), same byte count
  double replay_normals_per_s = 0.0;    // zo_replay_incremental: pairs·numel normals per second
  double replay_gb_per_s = 0.0;         // the same replay: 2·bytes(θ) per second
};

// Times `iterations` runs of each operation (after one warm-up) on a `numel` tensor of `dtype`
// (fp32/fp16/bf16) on `device` with the philox generator `rng`; the replay uses `replay_pairs`
// (seed, scalar) pairs.
ZoBenchResult zo_bench(c10::Device device, c10::ScalarType dtype, int64_t numel,
                       int64_t replay_pairs, int iterations, RngKind rng);

}  // namespace fedkseed
