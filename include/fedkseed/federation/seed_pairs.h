// From the seed pool's per-entry scalars to the (seed, scalar) pairs a replay applies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/federation/run_state.h"
#include "fedkseed/optimizers/perturbation.h"

namespace fedkseed {

// The non-zero entries of a round's dense increment, as (pool index, value).
SparseIncrement sparse(const std::vector<double>& increment);

// (seed, value) of a sparse increment over the pool `seeds`; throws fedkseed::Error naming
// `source` for an index outside the pool.
std::vector<SeedScalar> seed_pairs(const std::vector<uint64_t>& seeds, const SparseIncrement& increment,
                                   const std::string& source);

// (seed, value) of every non-zero value, in pool order: what a replay from θ0 applies.
std::vector<SeedScalar> nonzero_pairs(const std::vector<uint64_t>& seeds, const std::vector<double>& values);

}  // namespace fedkseed
