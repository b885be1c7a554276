// Clipping and noise of the Gaussian mechanism (see dp_noise.h).
#include "fedkseed/federation/dp_noise.h"

#include <cmath>

#include "fedkseed/federation/client_update.h"

namespace fedkseed {
namespace {

constexpr double kReplaceOneSensitivity = 2.0;  // in units of C

}  // namespace

void clip_uplink(Uplink& uplink, double clip) {
  if (!std::isfinite(clip)) return;
  const double norm = l2_norm(per_seed_sums(uplink.seeds, std::vector<double>(uplink.values.begin(), uplink.values.end())));
  if (norm <= clip) return;
  for (float& value : uplink.values) value = static_cast<float>(value * (clip / norm));
}

void add_gaussian_noise(std::vector<double>& entries, double std, Rng& rng) {
  for (double& entry : entries) entry += std * rng.normal();
}

void add_noise_share(Uplink& uplink, int64_t K, double std, Rng& rng) {
  for (int64_t j = 0; j < K; ++j) {
    uplink.seeds.push_back(static_cast<uint64_t>(j));
    uplink.values.push_back(static_cast<float>(std * rng.normal()));
  }
}

Rng noise_rng(uint64_t seed, int64_t round, int64_t client) {
  const std::string round_name = "dp_noise/" + std::to_string(round);
  return Rng(seed, client < 0 ? round_name : round_name + "/" + std::to_string(client));
}

DpAccountant accountant_for(double dp_noise, double cohort_fraction) {
  return DpAccountant(cohort_fraction, dp_noise / kReplaceOneSensitivity);
}

double dp_noise_for(double epsilon, double delta, int64_t rounds, double cohort_fraction) {
  return kReplaceOneSensitivity * noise_multiplier_for(epsilon, delta, rounds, cohort_fraction);
}

}  // namespace fedkseed
