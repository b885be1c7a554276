// Which seed a ZO step perturbs along: uniform over the K candidates (FedKSeed), weighted by the
// Pro probabilities (FedKSeed-Pro, §3.10), or a fresh 64-bit seed per step (K = 0, unbounded).
// The history of per-step projected gradients that the Pro probabilities come from lives here too.
#pragma once

#include <cstdint>
#include <vector>

#include "fedkseed/common/random.h"

namespace fedkseed {

// Seeds are drawn in [1, kSeedEnd), as the reference draws its candidates.
constexpr int64_t kSeedEnd = 100000000000;

// The seed of one step: index into the candidates, or -1 for a fresh seed (K = 0).
struct SeedPick {
  int64_t index = -1;
  uint64_t seed = 0;
};

class SeedSampler {
 public:
  // Uniform over `candidates` (duplicates allowed); an empty list means a fresh seed per step.
  explicit SeedSampler(std::vector<uint64_t> candidates);

  // Pro: draw by inverse CDF over these K probabilities from now on; throws fedkseed::Error when
  // the size is not K or a value is negative or not finite or all are zero.
  void set_probabilities(std::vector<double> probabilities);

  // One draw from `rng`: uniform_int over K, weighted_index over the probabilities, or a fresh
  // seed uniform in [1, 10^11) like the reference's candidates.
  SeedPick sample(Rng& rng) const;

  const std::vector<uint64_t>& candidates() const { return candidates_; }

 private:
  std::vector<uint64_t> candidates_;
  std::vector<double> probabilities_;  // empty: uniform
};

// FedKSeed-Pro history: per candidate seed, the initial value then every recorded step's g.
class SeedHistory {
 public:
  // k seeds, each starting with [initial] (the reference's grad_initial).
  SeedHistory(int64_t k, double initial);

  // Appends g to seed `index`'s list; throws fedkseed::Error when index is outside [0, K).
  void record(int64_t index, double g);

  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  const std::vector<double>& values(int64_t index) const { return values_.at(index); }

  // The §3.10 probabilities: ψ_j = mean |clip(h, −clip, clip)| over seed j's list,
  // ψ̃ = (ψ − min ψ) / (max ψ + 1e-10 − min ψ), p = softmax(ψ̃) in double, renormalised to sum 1.
  std::vector<double> probabilities(double clip) const;

 private:
  std::vector<std::vector<double>> values_;
};

}  // namespace fedkseed
