// Seed pool entries -> replay pairs (see seed_pairs.h).
#include "fedkseed/federation/seed_pairs.h"

#include "fedkseed/common/error.h"

namespace fedkseed {

SparseIncrement sparse(const std::vector<double>& increment) {
  SparseIncrement pairs;
  for (std::size_t j = 0; j < increment.size(); ++j) {
    if (increment[j] != 0.0) pairs.emplace_back(static_cast<int64_t>(j), increment[j]);
  }
  return pairs;
}

std::vector<SeedScalar> seed_pairs(const std::vector<uint64_t>& seeds, const SparseIncrement& increment,
                                   const std::string& source) {
  std::vector<SeedScalar> pairs;
  for (const auto& [index, value] : increment) {
    if (index < 0 || index >= static_cast<int64_t>(seeds.size())) {
      throw Error(source + ": round increment for seed index " + std::to_string(index) + " outside the pool of " +
                  std::to_string(seeds.size()));
    }
    pairs.push_back({seeds[index], value});
  }
  return pairs;
}

std::vector<SeedScalar> nonzero_pairs(const std::vector<uint64_t>& seeds, const std::vector<double>& values) {
  return seed_pairs(seeds, sparse(values), "seed pool");
}

}  // namespace fedkseed
