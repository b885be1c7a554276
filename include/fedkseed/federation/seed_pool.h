// The server's seed pool: the K candidate seeds and, per seed, the cumulative
// aggregated scalar gradient G_j since round 1. With K = 0
// every step brings a fresh seed and the pool grows by one entry per such step.
// How a round's updates become one increment is robust_aggregation.h's. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/federation/client_update.h"

namespace fedkseed {

class SeedPool {
 public:
  // K > 0: K seeds uniform in [1, 1e11) from Rng(seed, "candidate_seeds"); K = 0: empty, unbounded.
  static SeedPool draw(int64_t K, uint64_t seed);
  // A pool over given candidates (e.g. from --seeds_file); empty means unbounded.
  static SeedPool from_candidates(std::vector<uint64_t> candidates);

  bool unbounded() const { return unbounded_; }
  int64_t size() const { return static_cast<int64_t>(seeds_.size()); }
  const std::vector<uint64_t>& seeds() const { return seeds_; }
  const std::vector<double>& cumulative() const { return cumulative_; }

  // The cohort's updates with pool indices for seeds: K > 0 checks the candidate indices
  // (fedkseed::Error for one >= K); K = 0 appends an entry per step, in cohort order.
  std::vector<ClientUpdate> admit(std::vector<ClientUpdate> cohort);
  // Adds a round's increment (one value per pool entry) to the cumulative values.
  void add(const std::vector<double>& increment);
  // Restores the cumulative values (and, when unbounded, the seeds) from a saved state.
  void restore(std::vector<uint64_t> seeds, std::vector<double> cumulative);

 private:
  bool unbounded_ = false;
  std::vector<uint64_t> seeds_;
  std::vector<double> cumulative_;
};

// Cohorts of int(num_clients * m) distinct clients for rounds 1..rounds, drawn up front
// from Rng(seed, "schedule"), as the reference draws it.
std::vector<std::vector<int64_t>> draw_client_schedule(int64_t num_clients, double m, int64_t rounds,
                                                       uint64_t seed);

}  // namespace fedkseed
