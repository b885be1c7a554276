// Candidate seeds, client schedule and the cumulative seed pool.
#include "fedkseed/federation/seed_pool.h"

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/optimizers/seed_sampler.h"

namespace fedkseed {
SeedPool SeedPool::draw(int64_t K, uint64_t seed) {
  Rng rng(seed, "candidate_seeds");
  std::vector<uint64_t> candidates(K);
  for (auto& candidate : candidates) candidate = static_cast<uint64_t>(rng.uniform_int(1, kSeedEnd));
  return from_candidates(std::move(candidates));
}

SeedPool SeedPool::from_candidates(std::vector<uint64_t> candidates) {
  SeedPool pool;
  pool.unbounded_ = candidates.empty();
  pool.cumulative_.assign(candidates.size(), 0.0);
  pool.seeds_ = std::move(candidates);
  return pool;
}

std::vector<ClientUpdate> SeedPool::admit(std::vector<ClientUpdate> cohort) {
  for (auto& client : cohort) {
    for (uint64_t& seed : client.seeds) {
      if (unbounded_) {
        seeds_.push_back(seed);
        cumulative_.push_back(0.0);
        seed = seeds_.size() - 1;
      } else if (seed >= seeds_.size()) {
        throw Error("client update: seed index " + std::to_string(seed) + " is not below K = " +
                    std::to_string(seeds_.size()));
      }
    }
  }
  return cohort;
}

void SeedPool::add(const std::vector<double>& increment) {
  for (std::size_t j = 0; j < increment.size(); ++j) cumulative_[j] += increment[j];
}

void SeedPool::restore(std::vector<uint64_t> seeds, std::vector<double> cumulative) {
  if (seeds.size() != cumulative.size() || (!unbounded_ && seeds != seeds_)) {
    throw Error("saved state: seed pool does not match the run's candidate seeds");
  }
  seeds_ = std::move(seeds);
  cumulative_ = std::move(cumulative);
}

std::vector<std::vector<int64_t>> draw_client_schedule(int64_t num_clients, double m, int64_t rounds,
                                                       uint64_t seed) {
  const auto cohort_size = static_cast<int64_t>(num_clients * m);
  if (cohort_size < 1) {
    throw Error("-m " + std::to_string(m) + ": int(num_clients * m) = 0 clients per round with " +
                std::to_string(num_clients) + " clients; raise -m or --num_clients");
  }
  Rng rng(seed, "schedule");
  std::vector<std::vector<int64_t>> schedule;
  for (int64_t round = 0; round < rounds; ++round) {
    schedule.push_back(rng.choice_without_replacement(num_clients, cohort_size));
  }
  return schedule;
}

}  // namespace fedkseed
