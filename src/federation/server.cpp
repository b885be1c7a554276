// The server (see server.h).
#include "fedkseed/federation/server.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>

#include "fedkseed/common/error.h"
#include "fedkseed/common/hash.h"
#include "fedkseed/federation/dp_noise.h"
#include "fedkseed/federation/seed_pairs.h"

namespace fedkseed {

Server::Server(const LlamaModel& model, const NamedParams& init, std::vector<uint64_t> candidates,
               int64_t num_clients, ServerOptions options)
    : options_(options),
      init_(init),
      global_(model, model.flat_parameters(), options.replay),
      pool_(SeedPool::from_candidates(std::move(candidates))),
      synced_round_(num_clients, 0),
      synced_pool_size_(num_clients, 0) {
  if (options_.pro) history_.emplace(pool_.size(), options_.grad_initial);
}

void Server::restore(const RunState& state, const std::vector<std::vector<int64_t>>& schedule,
                     const std::string& source) {
  pool_.restore(state.pool_seeds, state.pool_cumulative);
  if (history_) {
    for (std::size_t j = 0; j < state.pro_history.size(); ++j) {
      for (double g : state.pro_history[j]) history_->record(static_cast<int64_t>(j), g);
    }
  }
  if (state.synced_pool_size.size() == synced_pool_size_.size()) {
    synced_pool_size_ = state.synced_pool_size;
  } else if (pool_.unbounded()) {
    throw Error(source + ": synced_pool_size lists " + std::to_string(state.synced_pool_size.size()) +
                " clients, the run has " + std::to_string(synced_pool_size_.size()));
  }
  for (int64_t round = 1; round <= state.last_round; ++round) {
    for (int64_t client : schedule[round - 1]) synced_round_[client] = round - 1;
  }
  increments_ = state.round_increments;
  first_increment_round_ = static_cast<int64_t>(increments_.size()) == state.last_round ? 1 : state.last_round + 1;
  if (first_increment_round_ != 1) increments_.clear();
  replay_state(global_.params(), init_, state, global_.options(), options_.incremental, source);
}

std::vector<double> Server::probabilities() const {
  return history_ ? history_->probabilities(options_.bias_loss_clip) : std::vector<double>{};
}

// Rounds round+1 .. the last aggregated one, as messages carry them.
std::vector<RoundIncrement> Server::increments_since(int64_t round) const {
  std::vector<RoundIncrement> out;
  const int64_t last = first_increment_round_ + static_cast<int64_t>(increments_.size()) - 1;
  for (int64_t r = round + 1; r <= last; ++r) {
    RoundIncrement& increment = out.emplace_back();
    increment.round = static_cast<uint32_t>(r);
    for (const auto& [index, value] : increments_[r - first_increment_round_]) {
      increment.indices.push_back(static_cast<uint32_t>(index));
      increment.values.push_back(value);
    }
  }
  return out;
}

// The increments since the client's last synchronisation, or (--sync from_init) the whole
// pool when that is smaller or those increments are gone (rounds before a resume). An
// incremental client needs every increment: one pass over the pool rounds differently.
std::string Server::downlink(int64_t client, int64_t round) {
  Downlink message;
  message.round = static_cast<uint32_t>(round);
  if (pool_.unbounded()) {
    message.first_fresh = static_cast<uint32_t>(synced_pool_size_[client]);
    message.fresh_seeds.assign(pool_.seeds().begin() + synced_pool_size_[client], pool_.seeds().end());
    synced_pool_size_[client] = pool_.size();
  }
  const bool complete = synced_round_[client] + 1 >= first_increment_round_;
  if (complete) message.increments = increments_since(synced_round_[client]);
  if (!complete ||
      (!options_.incremental && encoded_pool_size(pool_.size()) < encoded_size(message.increments))) {
    message.whole_pool = true;
    message.increments.clear();
    message.pool = pool_.cumulative();
  }
  synced_round_[client] = round - 1;
  message.probabilities = probabilities();
  return encode(message);
}

void Server::aggregate(const std::vector<Uplink>& uplinks) {
  std::vector<ClientUpdate> updates;
  for (const Uplink& received : uplinks) {
    for (std::size_t j = 0; history_ && !received.unbounded_seeds && j < received.seeds.size(); ++j) {
      history_->record(static_cast<int64_t>(received.seeds[j]), received.values[j]);
    }
    updates.push_back({received.data_size, received.seeds,
                       std::vector<double>(received.values.begin(), received.values.end())});
  }
  const std::vector<ClientUpdate> admitted = pool_.admit(std::move(updates));  // K = 0: the pool grows first
  std::vector<double> increment =
      aggregate_updates(admitted, pool_.size(), {options_.aggregator, options_.equal_weight, options_.trim});
  if (options_.noise_std > 0) {
    // The noise of the sum, on the mean: the sum divided by the (public) cohort size.
    const int64_t round = first_increment_round_ + static_cast<int64_t>(increments_.size());
    Rng rng = noise_rng(options_.seed, round, -1);
    add_gaussian_noise(increment, options_.noise_std / static_cast<double>(uplinks.size()), rng);
  }
  pool_.add(increment);
  increments_.push_back(sparse(increment));
  if (options_.incremental) {
    global_.replay_increment(seed_pairs(pool_.seeds(), increments_.back(), "seed pool"));
  } else {
    global_.replay_from(init_, nonzero_pairs(pool_.seeds(), pool_.cumulative()));
  }
}

std::string Server::digest() const {
  const at::Tensor& flat = global_.flat();
  const auto bits = flat.element_size() == 2 ? at::kShort : at::kInt;
  const int64_t parameters = flat.view(bits).sum(at::kLong).item<int64_t>();
  uint64_t hash = fnv1a(pool_.cumulative(), fnv1a(pool_.seeds()));
  for (int64_t j = 0; history_ && j < history_->size(); ++j) hash = fnv1a(history_->values(j), hash);
  return c10::str("parameter checksum ", parameters, " and state hash ", hash);
}

void Server::save_to(RunState& state) const {
  state.pool_seeds = pool_.seeds();
  state.pool_cumulative = pool_.cumulative();
  state.pro_history.clear();
  for (int64_t j = 0; history_ && j < history_->size(); ++j) {
    const auto& values = history_->values(j);
    state.pro_history.emplace_back(values.begin() + 1, values.end());  // after the initial value
  }
  state.synced_pool_size = synced_pool_size_;
  // A from_init run's global model is rebuilt from the pool alone; its state keeps no increments.
  state.round_increments = options_.incremental ? increments_ : std::vector<SparseIncrement>{};
}

}  // namespace fedkseed
