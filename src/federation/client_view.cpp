// A client's view of the global model (see client_view.h).
#include "fedkseed/federation/client_view.h"

#include <c10/util/StringUtil.h>

#include "fedkseed/common/error.h"
#include "fedkseed/federation/seed_pairs.h"

namespace fedkseed {

ClientView::ClientView(const LlamaModel& model, const NamedParams& init, std::vector<uint64_t> candidates,
                       ReplayOptions replay, bool incremental)
    : init_(init),
      replica_(model, model.flat_parameters(), replay),
      incremental_(incremental),
      seeds_(std::move(candidates)),
      cumulative_(seeds_.size(), 0.0) {}

void ClientView::add_fresh_seeds(const Downlink& message) {
  const auto first = static_cast<std::size_t>(message.first_fresh);
  if (first > seeds_.size()) {
    throw Error(c10::str("downlink for round ", message.round, ": fresh seeds from pool entry ", first,
                         " but the client has seen ", seeds_.size()));
  }
  for (std::size_t i = seeds_.size() - first; i < message.fresh_seeds.size(); ++i) {
    seeds_.push_back(message.fresh_seeds[i]);
  }
  cumulative_.resize(seeds_.size(), 0.0);
}

// The server adds each round's increment to its pool and rebuilds the same way (from θ0, or
// on top of the previous round's weights), so doing the same here gives its weights bit for bit.
void ClientView::apply(const Downlink& message) {
  const int64_t target = static_cast<int64_t>(message.round) - 1;
  if (target <= round_) return;
  add_fresh_seeds(message);
  if (message.whole_pool) {
    if (message.pool.size() != seeds_.size()) {
      throw Error(c10::str("downlink for round ", message.round, ": ", message.pool.size(), " pool values for ",
                           seeds_.size(), " seeds"));
    }
    cumulative_ = message.pool;
    replica_.replay_from(init_, nonzero_pairs(seeds_, cumulative_));
    round_ = target;
    return;
  }
  for (const RoundIncrement& increment : message.increments) {
    if (increment.round <= round_) continue;
    if (increment.round != round_ + 1) {
      throw Error(c10::str("downlink for round ", message.round, ": the increment of round ", round_ + 1,
                           " is missing"));
    }
    SparseIncrement entries;
    for (std::size_t i = 0; i < increment.indices.size(); ++i) {
      entries.emplace_back(increment.indices[i], increment.values[i]);
    }
    const auto pairs = seed_pairs(seeds_, entries, c10::str("downlink for round ", message.round));
    for (const auto& [index, value] : entries) cumulative_[index] += value;
    if (incremental_) replica_.replay_increment(pairs);
    round_ = increment.round;
  }
  if (round_ != target) {
    throw Error(c10::str("downlink for round ", message.round, ": increments end at round ", round_));
  }
  if (!incremental_) replica_.replay_from(init_, nonzero_pairs(seeds_, cumulative_));
}

void ClientView::restore(const RunState& state, const std::string& source) {
  seeds_ = state.pool_seeds;
  cumulative_ = state.pool_cumulative;
  round_ = state.last_round;
  replay_state(replica_.params(), init_, state, replica_.options(), incremental_, source);
}

}  // namespace fedkseed
