// A client's view of the global model, rebuilt from decoded downlinks alone: the seed pool as
// far as the client has seen it, the rounds it has applied and the weights they give.
//
// The simulation shares one view among all its clients (one per rank): every client that is
// synchronised holds the global model of the same round, so a downlink whose rounds the view
// has already applied changes nothing, and the view applies only the rounds it lacks — each
// once, from a decoded message, never from the server's weights.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/replica.h"
#include "fedkseed/federation/run_state.h"

namespace fedkseed {

class ClientView {
 public:
  // θ0 (`init`, views that must outlive the view) and the K candidate seeds (empty: a fresh
  // seed per step), all a client knows before its first round.
  ClientView(const LlamaModel& model, const NamedParams& init, std::vector<uint64_t> candidates,
             ReplayOptions replay, bool incremental);

  // Brings the view to the global model after message.round - 1. Throws fedkseed::Error when
  // the message does not continue from what the view holds (a round or fresh seed missing).
  void apply(const Downlink& message);
  // The view a client held after `state`'s last round (a resumed run).
  void restore(const RunState& state, const std::string& source);

  int64_t round() const { return round_; }
  const at::Tensor& flat() const { return replica_.flat(); }

 private:
  void add_fresh_seeds(const Downlink& message);

  NamedParams init_;
  ModelReplica replica_;
  bool incremental_;
  int64_t round_ = 0;  // the last round whose increment the view holds
  std::vector<uint64_t> seeds_;
  std::vector<double> cumulative_;
};

}  // namespace fedkseed
