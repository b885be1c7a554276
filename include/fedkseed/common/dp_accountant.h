// Privacy accounting for client-level differential privacy: Rényi DP of the subsampled
// Gaussian mechanism when every round samples a fixed-size cohort of m of n clients without
// replacement (the bound of Wang, Balle and Kasiviswanathan 2019, Theorem 27, under the
// "replace one client" neighbouring relation, n public), composed over rounds and converted
// to (ε, δ). The numbers match Google's dp-accounting RdpAccountant (REPLACE_ONE,
// SampledWithoutReplacementDpEvent of a GaussianDpEvent) on its default RDP orders.
// Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace fedkseed {

class DpAccountant {
 public:
  // `sampling_fraction` = m / n in [0, 1]; `noise_multiplier` = the noise's standard deviation
  // over the L2 sensitivity of what it is added to, > 0.
  DpAccountant(double sampling_fraction, double noise_multiplier);

  // ε after `rounds` rounds at `delta` in (0, 1): the smallest over the RDP orders.
  double epsilon(int64_t rounds, double delta) const;

  // The RDP orders and one round's RDP at each (can be +inf).
  static const std::vector<double>& orders();
  const std::vector<double>& rdp_per_round() const { return rdp_; }

 private:
  std::vector<double> rdp_;
};

// The smallest noise multiplier (to a relative 1e-6) whose `rounds` rounds stay within
// (target_epsilon, delta). Throws fedkseed::Error naming --dp_epsilon when no noise multiplier
// up to 1e4 reaches the target (the conversion's log(1/δ)/(order - 1) floor).
double noise_multiplier_for(double target_epsilon, double delta, int64_t rounds, double sampling_fraction);

}  // namespace fedkseed
