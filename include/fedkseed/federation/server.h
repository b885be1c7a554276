// The federation's server: the seed pool, the FedKSeed-Pro history, aggregation of decoded
// uplinks, each client's downlink (what changed since that client last synchronised), the
// global model rebuilt after every round, and the digest ranks compare. It sees clients only
// through their encoded messages.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/replica.h"
#include "fedkseed/federation/robust_aggregation.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/seed_pool.h"
#include "fedkseed/optimizers/seed_sampler.h"

namespace fedkseed {

struct ServerOptions {
  ReplayOptions replay;
  bool incremental = false;      // --sync incremental: the global model moves by each round's increment
  bool equal_weight = false;     // --equal_weight
  bool pro = false;              // --bias_sampling (FedKSeed-Pro)
  double bias_loss_clip = 0.0;   // Pro: --bias_loss_clip
  double grad_initial = 0.0;     // Pro: --grad_initial
  Aggregator aggregator = Aggregator::mean;  // --aggregator
  double trim = 0.0;                         // --trim
  double noise_std = 0.0;  // server-drawn DP noise on each entry of the cohort's sum (σC), 0: none
  uint64_t seed = 0;       // --seed: the noise stream
};

class Server {
 public:
  // `init` (θ0 views, which must outlive the server) is the replays' base and the first global
  // model; `candidates` the K seeds (empty: a fresh seed per step).
  Server(const LlamaModel& model, const NamedParams& init, std::vector<uint64_t> candidates, int64_t num_clients,
         ServerOptions options);

  // Continues after `state`'s last round: pool, Pro history, the global model, and when each
  // client last synchronised (the last round the `schedule` put it in). Throws
  // fedkseed::Error naming `source` when the state does not fit the run.
  void restore(const RunState& state, const std::vector<std::vector<int64_t>>& schedule, const std::string& source);

  // The encoded message `client` receives at the start of `round`; it then counts as
  // synchronised with the global model after round - 1.
  std::string downlink(int64_t client, int64_t round);
  // Records the round's decoded uplinks (cohort order) in the Pro history, aggregates them
  // (with the server's DP noise) into the pool and rebuilds the global model.
  void aggregate(const std::vector<Uplink>& uplinks);

  const SeedPool& pool() const { return pool_; }
  const at::Tensor& global() const { return global_.flat(); }
  // Exact and cheap: the integer sum of the global weights' bit patterns (order-free, so
  // equal on any thread count) and a hash of the pool and the Pro history.
  std::string digest() const;
  // Fills the server's part of a run state: pool, Pro history, synchronisation, increments.
  void save_to(RunState& state) const;

 private:
  std::vector<RoundIncrement> increments_since(int64_t round) const;
  std::vector<double> probabilities() const;

  ServerOptions options_;
  NamedParams init_;
  ModelReplica global_;
  SeedPool pool_;
  std::optional<SeedHistory> history_;
  // Per client: the rounds it has applied (0: none) and, K = 0, the pool entries it has seen.
  std::vector<int64_t> synced_round_, synced_pool_size_;
  // Each round's sparse increment from round first_increment_round_ on: every round in a new
  // run; after a --sync from_init resume only the rounds run since (its state keeps none).
  std::vector<SparseIncrement> increments_;
  int64_t first_increment_round_ = 1;
};

}  // namespace fedkseed
