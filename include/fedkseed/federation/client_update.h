// One client's round as the server aggregates it, and the K-vector it stands for: per seed,
// the sum of the client's step scalars along that seed (zero for the seeds it never drew).
// Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace fedkseed {

// One client's round: its data size and the (seed, g) pair of every applied step.
// `seeds` hold candidate indices when K > 0 and 64-bit seed values when K = 0; once the seed
// pool has admitted the update (SeedPool::admit), pool indices.
struct ClientUpdate {
  int64_t data_size = 0;  // the mean's weight: len(train_loader), batches per pass
  std::vector<uint64_t> seeds;
  std::vector<double> values;
};

// The client's K-vector, its drawn seeds only: seed -> sum of that seed's step values.
std::map<uint64_t, double> per_seed_sums(const std::vector<uint64_t>& seeds, const std::vector<double>& values);
// Its L2 norm.
double l2_norm(const std::map<uint64_t, double>& sums);

}  // namespace fedkseed
