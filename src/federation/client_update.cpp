// A client's K-vector (see client_update.h).
#include "fedkseed/federation/client_update.h"

#include <cmath>

namespace fedkseed {

std::map<uint64_t, double> per_seed_sums(const std::vector<uint64_t>& seeds, const std::vector<double>& values) {
  std::map<uint64_t, double> sums;
  for (std::size_t step = 0; step < seeds.size(); ++step) sums[seeds[step]] += values[step];
  return sums;
}

double l2_norm(const std::map<uint64_t, double>& sums) {
  double squares = 0.0;
  for (const auto& [seed, sum] : sums) squares += sum * sum;
  return std::sqrt(squares);
}

}  // namespace fedkseed
