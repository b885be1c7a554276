// Byzantine uplinks (see byzantine.h).
#include "fedkseed/federation/byzantine.h"

#include <algorithm>
#include <cmath>

#include "fedkseed/common/options.h"

namespace fedkseed {

ByzantineAttack::ByzantineAttack(const std::string& attack) : gaussian_(attack == "gaussian") {
  if (const auto scale = attack_scale(attack)) scale_ = *scale;
}

void ByzantineAttack::manipulate(Uplink& uplink, Rng& rng) const {
  if (!gaussian_) {
    for (float& value : uplink.values) value = static_cast<float>(scale_ * value);
    return;
  }
  double squares = 0.0;
  for (float value : uplink.values) squares += static_cast<double>(value) * value;
  const double rms = uplink.values.empty() ? 0.0 : std::sqrt(squares / static_cast<double>(uplink.values.size()));
  for (float& value : uplink.values) value = static_cast<float>(rms * rng.normal());
}

std::vector<int64_t> choose_byzantine_clients(int64_t num_clients, double fraction, uint64_t seed) {
  const auto count = static_cast<int64_t>(std::floor(fraction * static_cast<double>(num_clients)));
  if (count == 0) return {};
  Rng rng(seed, "byzantine");
  std::vector<int64_t> clients = rng.choice_without_replacement(num_clients, count);
  std::sort(clients.begin(), clients.end());
  return clients;
}

Rng attack_rng(uint64_t seed, int64_t round, int64_t client) {
  return Rng(seed, "attack/" + std::to_string(round) + "/" + std::to_string(client));
}

}  // namespace fedkseed
