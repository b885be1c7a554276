// Byzantine clients, for robustness experiments: a fixed subset of the clients, chosen from
// --seed, sends a manipulated uplink every round it is in the cohort (after its honest clip,
// before any noise share). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/common/random.h"
#include "fedkseed/federation/messages.h"

namespace fedkseed {

class ByzantineAttack {
 public:
  // --attack: sign_flip (every value negated) | gaussian (every value replaced by a normal draw
  // with the RMS of the honest values: no signal, the same size) | scale:S (S times every value).
  explicit ByzantineAttack(const std::string& attack);

  void manipulate(Uplink& uplink, Rng& rng) const;

 private:
  bool gaussian_ = false;
  double scale_ = -1.0;  // sign_flip: -1
};

// floor(fraction * num_clients) distinct clients from Rng(seed, "byzantine"), ascending.
std::vector<int64_t> choose_byzantine_clients(int64_t num_clients, double fraction, uint64_t seed);

// The stream of a Byzantine client's round (gaussian draws).
Rng attack_rng(uint64_t seed, int64_t round, int64_t client);

}  // namespace fedkseed
