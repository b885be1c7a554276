// How the server turns a round's client updates into one increment of the seed pool.
//
// mean: the reference's rule, the data-size-weighted (or with equal_weight uniform) mean of the
// clients' K-vectors; a seed a client never drew counts as 0 for it.
// The robust rules weigh every client equally: a data size is whatever the client claims.
//   median, trimmed_mean: per seed, over the clients whose update drew that seed only: with
//     K = 4096 and 200 steps a client touches under 5 % of the seeds, so a zero for a seed it
//     never drew is absence, not a vote (a coordinate-wise median over the whole cohort would
//     be 0 almost everywhere). The statistic of the voters is scaled by voters / cohort size,
//     so that where all voters agree each rule equals the equal-weight mean.
//   norm_bound: every client's K-vector clipped to the cohort's median L2 norm, then the
//     equal-weight mean: no client moves the model further than a typical one.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/federation/client_update.h"

namespace fedkseed {

enum class Aggregator { mean, median, trimmed_mean, norm_bound };

// --aggregator's names (validated with the options): mean|median|trimmed_mean|norm_bound.
Aggregator parse_aggregator(const std::string& name);

struct AggregationOptions {
  Aggregator rule = Aggregator::mean;
  bool equal_weight = false;  // mean: weigh clients equally instead of by data size
  double trim = 0.0;          // trimmed_mean: fraction of a seed's voters cut from each end, [0, 0.5)
};

// The round's increment of each of `pool_size` entries; the updates' seeds are pool indices
// (SeedPool::admit).
std::vector<double> aggregate_updates(const std::vector<ClientUpdate>& cohort, int64_t pool_size,
                                      const AggregationOptions& options);

}  // namespace fedkseed
