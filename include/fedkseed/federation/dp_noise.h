// Client-level differential privacy of the K scalars, DP-FedAvg style: every client clips its
// K-vector of per-seed sums to L2 norm C, and every round N(0, σ²C²) is added to each of the K
// entries of the cohort's sum of clipped vectors (so the released increment hides which seeds a
// client drew too), before the sum is divided by the cohort size. The noise is drawn by the
// server, or split: each of the n cohort clients adds N(0, σ²C²/n) to all K entries of its
// uplink, so that a secure aggregation would never reveal an un-noised sum; the sum's
// distribution is the same.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/common/dp_accountant.h"
#include "fedkseed/common/random.h"
#include "fedkseed/federation/messages.h"

namespace fedkseed {

// Scales the uplink's values so that its per-seed sums have L2 norm at most `clip`
// (unchanged when they already do or `clip` is infinite).
void clip_uplink(Uplink& uplink, double clip);

// Adds an independent N(0, std²) draw to every entry.
void add_gaussian_noise(std::vector<double>& entries, double std, Rng& rng);

// A client's share of split noise: one (seed index j, N(0, std²)) pair for every j < K.
void add_noise_share(Uplink& uplink, int64_t K, double std, Rng& rng);

// The stream of a round's noise: the server's (client < 0) or a client's share.
Rng noise_rng(uint64_t seed, int64_t round, int64_t client);

// Replacing one client's data moves the cohort's sum of clipped vectors by up to 2C, so noise
// σC on that sum is the accountant's noise multiplier σ/2 (standard deviation over L2
// sensitivity).
DpAccountant accountant_for(double dp_noise, double cohort_fraction);
// The --dp_noise σ whose `rounds` rounds spend at most (epsilon, delta). Throws fedkseed::Error
// naming --dp_epsilon when none does.
double dp_noise_for(double epsilon, double delta, int64_t rounds, double cohort_fraction);

}  // namespace fedkseed
