// Seed choice for ZO steps and the FedKSeed-Pro history/probabilities (reference §3.4 step 1,
// §3.10). The federation decides when probabilities are recomputed (once per round).
#include "fedkseed/optimizers/seed_sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "fedkseed/common/error.h"

namespace fedkseed {

SeedSampler::SeedSampler(std::vector<uint64_t> candidates) : candidates_(std::move(candidates)) {}

void SeedSampler::set_probabilities(std::vector<double> probabilities) {
  if (probabilities.size() != candidates_.size()) {
    throw Error("seed sampler: " + std::to_string(probabilities.size()) + " probabilities for " +
                std::to_string(candidates_.size()) + " candidate seeds");
  }
  double total = 0.0;
  for (double p : probabilities) {
    if (!(p >= 0.0) || !std::isfinite(p)) {
      throw Error("seed sampler: probability " + std::to_string(p) + " is not a finite value >= 0");
    }
    total += p;
  }
  if (!(total > 0.0)) throw Error("seed sampler: probabilities sum to zero");
  probabilities_ = std::move(probabilities);
}

SeedPick SeedSampler::sample(Rng& rng) const {
  if (candidates_.empty()) {
    return SeedPick{-1, static_cast<uint64_t>(rng.uniform_int(1, kSeedEnd))};
  }
  const int64_t index = probabilities_.empty()
                            ? rng.uniform_int(0, static_cast<int64_t>(candidates_.size()))
                            : rng.weighted_index(probabilities_);
  return SeedPick{index, candidates_[index]};
}

SeedHistory::SeedHistory(int64_t k, double initial)
    : values_(static_cast<std::size_t>(std::max<int64_t>(k, 0)), std::vector<double>{initial}) {}

void SeedHistory::record(int64_t index, double g) {
  if (index < 0 || index >= size()) {
    throw Error("seed history: seed index " + std::to_string(index) + " outside [0, " +
                std::to_string(size()) + ")");
  }
  values_[index].push_back(g);
}

std::vector<double> SeedHistory::probabilities(double clip) const {
  std::vector<double> psi;
  psi.reserve(values_.size());
  for (const auto& list : values_) {
    double sum = 0.0;
    for (double h : list) sum += std::abs(std::clamp(h, -clip, clip));
    psi.push_back(sum / static_cast<double>(list.size()));
  }
  if (psi.empty()) return psi;
  const auto [min_it, max_it] = std::minmax_element(psi.begin(), psi.end());
  const double low = *min_it, high = *max_it;
  double top = -INFINITY;
  for (double& v : psi) {
    v = (v - low) / (high + 1e-10 - low);
    top = std::max(top, v);
  }
  double total = 0.0;
  for (double& v : psi) total += (v = std::exp(v - top));
  for (double& v : psi) v /= total;
  double renormalise = 0.0;
  for (double v : psi) renormalise += v;
  if (renormalise != 1.0) {
    for (double& v : psi) v /= renormalise;
  }
  return psi;
}

}  // namespace fedkseed
