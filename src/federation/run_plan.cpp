// What a training run derives from its options (see run_plan.h).
#include "run_plan.h"

#include <cmath>

#include "fedkseed/federation/byzantine.h"
#include "fedkseed/federation/dp_noise.h"
#include "fedkseed/federation/robust_aggregation.h"
#include "fedkseed/federation/seed_pool.h"
#include "fedkseed/optimizers/perturbation.h"

namespace fedkseed {

SeedsAndSchedule seeds_and_schedule(const TrainOptions& options, int64_t num_clients, const RunState* resumed) {
  SeedsAndSchedule seeds;
  if (resumed) {
    seeds = resumed->seeds;
  } else if (!options.seeds_file.empty()) {
    seeds = read_seeds_file(options.seeds_file);
  } else {
    seeds.seeds = SeedPool::draw(options.K, options.seed).seeds();
    seeds.schedule = draw_client_schedule(num_clients, options.m, options.rounds, options.seed);
  }
  check_schedule(seeds, num_clients, options.rounds, options.seeds_file);
  if (!resumed) seeds.byzantine_clients = choose_byzantine_clients(num_clients, options.byzantine_fraction, options.seed);
  return seeds;
}

double cohort_fraction(const TrainOptions& options, int64_t num_clients) {
  return static_cast<double>(static_cast<int64_t>(static_cast<double>(num_clients) * options.m)) /
         static_cast<double>(num_clients);
}

double resolve_dp_noise(const TrainOptions& options, int64_t num_clients) {
  if (!std::isfinite(options.dp_epsilon)) return options.dp_noise;
  return dp_noise_for(options.dp_epsilon, options.dp_delta, options.rounds, cohort_fraction(options, num_clients));
}

std::optional<DpAccountant> run_accountant(const TrainOptions& options, int64_t num_clients, double dp_noise) {
  if (dp_noise <= 0) return std::nullopt;
  return accountant_for(dp_noise, cohort_fraction(options, num_clients));
}

std::vector<std::pair<std::string, double>> privacy_spent(const TrainOptions& options,
                                                         const std::optional<DpAccountant>& accountant,
                                                         double dp_noise) {
  if (!accountant) return {};
  return {{"dp_epsilon", accountant->epsilon(options.rounds, options.dp_delta)},
          {"dp_delta", options.dp_delta},
          {"dp_noise", dp_noise}};
}

ServerOptions server_options(const TrainOptions& options, double dp_noise) {
  ServerOptions server;
  server.replay = {options.lr, options.weight_decay, parse_rng_kind(options.rng)};
  server.incremental = options.sync == "incremental";
  // Under DP noise the mean weighs clients equally: data-size weights would let one client
  // count more than C in the sum the noise covers (and its data size is private too).
  server.equal_weight = options.equal_weight || dp_noise > 0;
  server.pro = options.bias_sampling;
  server.bias_loss_clip = options.bias_loss_clip;
  server.grad_initial = options.grad_initial;
  server.aggregator = parse_aggregator(options.aggregator);
  server.trim = options.trim;
  server.noise_std = options.dp_noise_at == "server" ? dp_noise * options.dp_clip : 0.0;
  server.seed = static_cast<uint64_t>(options.seed);
  return server;
}

UplinkShaping uplink_shaping(const TrainOptions& options, const SeedsAndSchedule& seeds, double dp_noise) {
  UplinkShaping shaping;
  shaping.seed = static_cast<uint64_t>(options.seed);
  shaping.clip = options.dp_clip;
  shaping.noise_entries = static_cast<int64_t>(seeds.seeds.size());
  if (options.dp_noise_at == "clients" && dp_noise > 0) {
    const auto cohort_size = static_cast<double>(seeds.schedule.empty() ? 0 : seeds.schedule[0].size());
    shaping.noise_share_std = dp_noise * options.dp_clip / std::sqrt(cohort_size);
  }
  shaping.byzantine_clients = seeds.byzantine_clients;
  shaping.attack = options.attack;
  return shaping;
}

}  // namespace fedkseed
