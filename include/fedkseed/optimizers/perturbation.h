// Seed-addressed perturbations of a parameter list, in place: perturb, the fused restore+update
// of a ZO step, and the replay of many (seed, scalar) pairs in one pass. philox mode runs our
// kernels (CPU twin here, CUDA in perturbation_cuda.cu); torch mode replays the reference's
// at::normal scheme op for op. Choosing seeds and computing scalars is left to zo_step.h.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fedkseed {

// --rng: the direction generator. philox-icdf (the default) and philox draw z(seed, name, index)
// from philox.h, identical on every device: philox-icdf through an inverse-CDF table (8 normals
// per Philox call, at memory bandwidth on a GPU), philox through Box–Muller (4 per call; the
// generator of earlier versions). torch = manual_seed(seed) + one at::normal per parameter in
// list order (the reference).
enum class RngKind { philox_icdf, philox, torch };
constexpr RngKind kDefaultRng = RngKind::philox_icdf;  // --rng's default (options.h spells it too)

// Throws fedkseed::Error naming --rng unless `text` is "philox-icdf", "philox" or "torch".
RngKind parse_rng_kind(const std::string& text);
std::string rng_kind_name(RngKind kind);
// True for the generators of philox.h (our kernels; seed-addressed, device-independent).
bool rng_is_philox(RngKind kind);

// Parameters as (name, tensor) in the model's named_parameters() order; the tensors alias the
// model and are modified in place. Tensors must be contiguous fp32/fp16/bf16; names unique.
using NamedParams = std::vector<std::pair<std::string, at::Tensor>>;

// One (seed, scalar) pair: a seed and its (cumulative or per-round) projected gradient.
struct SeedScalar {
  uint64_t seed = 0;
  double value = 0.0;
};

// The reference's decay rule: true unless the name contains "bias", "layer_norm" or "layernorm".
bool zo_decays(const std::string& name);

// z(seed, name, i) for i < numel as a float32 tensor of `sizes` on `device`; rng must be a
// philox generator (throws fedkseed::Error otherwise).
at::Tensor zo_direction(const std::string& name, uint64_t seed, at::IntArrayRef sizes,
                        c10::Device device, RngKind rng = kDefaultRng);

// θ += scale·z(seed) for every parameter (the reference's perturbation with scale = ±ε, −2ε).
void zo_perturb(const NamedParams& params, uint64_t seed, double scale, RngKind rng);

// The reference's update with (seed, g): θ ← θ − lr·(g·z + weight_decay·θ), decay per zo_decays.
void zo_update(const NamedParams& params, uint64_t seed, double g, double lr, double weight_decay,
               RngKind rng);

// Restore from θ − ε·z and update, i.e. zo_perturb(+eps) then zo_update(g). philox: one pass,
// θ ← d·θ + (d·ε − lr·g)·z with d = 1 − lr·weight_decay (1 for non-decayed names), exact
// algebra of the two steps; torch: the two steps literally.
void zo_restore_update(const NamedParams& params, uint64_t seed, double eps, double g, double lr,
                       double weight_decay, RngKind rng);

// θ = base after zo_update with each pair whose value != 0, in order (the reference's global
// model replay, §3.9). philox: one pass per tensor, θ = dⁿ·base − lr·Σ_j d^(n−1−j)·G_j·z_j with
// n = number of non-zero pairs, summed in fp32 and rounded once (updates below half an ulp are
// kept); torch: pair by pair. `base` matches `params` name by name and shape by shape (it may
// live on another device or dtype: then it is copied first); throws fedkseed::Error otherwise.
void zo_replay(const NamedParams& params, const NamedParams& base,
               const std::vector<SeedScalar>& pairs, double lr, double weight_decay, RngKind rng);

// The same applied to the current θ (one round's ΔG_j on a synchronised model). With
// weight_decay = 0 this composes exactly (in real arithmetic) with zo_replay across rounds.
void zo_replay_incremental(const NamedParams& params, const std::vector<SeedScalar>& pairs,
                           double lr, double weight_decay, RngKind rng);

}  // namespace fedkseed
