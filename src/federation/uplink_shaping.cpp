// A client's uplink between training and sending (see uplink_shaping.h).
#include "fedkseed/federation/uplink_shaping.h"

#include <algorithm>

#include "fedkseed/federation/byzantine.h"
#include "fedkseed/federation/dp_noise.h"

namespace fedkseed {

void UplinkShaping::apply(Uplink& uplink, int64_t client, int64_t round) const {
  clip_uplink(uplink, clip);
  if (std::binary_search(byzantine_clients.begin(), byzantine_clients.end(), client)) {
    Rng rng = attack_rng(seed, round, client);
    ByzantineAttack(attack).manipulate(uplink, rng);
  }
  if (noise_share_std > 0) {
    Rng rng = noise_rng(seed, round, client);
    add_noise_share(uplink, noise_entries, noise_share_std, rng);
  }
}

}  // namespace fedkseed
