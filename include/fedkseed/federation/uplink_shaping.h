// What a client does to its uplink after training, before sending it: the privacy mechanism's
// clip (and, with --dp_noise_at clients, its noise share) and, for a Byzantine client, the
// attack. The defaults leave the uplink exactly as trained.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fedkseed/federation/messages.h"

namespace fedkseed {

struct UplinkShaping {
  uint64_t seed = 0;                                      // --seed: the noise and attack streams
  double clip = std::numeric_limits<double>::infinity();  // --dp_clip
  int64_t noise_entries = 0;                              // K: a noise share covers every candidate
  double noise_share_std = 0.0;                           // σC/√n, split noise only
  std::vector<int64_t> byzantine_clients;                 // ascending
  std::string attack = "sign_flip";                       // --attack

  // Clip, then the attack for a Byzantine client, then the noise share.
  void apply(Uplink& uplink, int64_t client, int64_t round) const;
};

}  // namespace fedkseed
