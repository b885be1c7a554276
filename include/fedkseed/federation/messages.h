// The bytes that would cross the network in a deployment: the server's message to a
// client at round start and the client's reply. The simulation serialises both for
// real and counts their sizes, so the communication log is measured, not estimated.
// Torch-free. Little-endian, fixed-width fields.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

// Server -> client. With K > 0: the K per-seed scalars the client needs to catch up
// (cumulative aggregate change since its last synchronisation, float32), plus the K
// seed probabilities for FedKSeed-Pro. With K = 0 (a fresh seed per step): the
// (seed, scalar) pairs added to the pool since the client's last synchronisation.
struct Downlink {
  uint32_t round = 0;
  std::vector<float> seed_deltas;      // K > 0: one per candidate seed
  std::vector<float> probabilities;    // Pro only: one per candidate seed
  std::vector<uint64_t> fresh_seeds;   // K = 0: seeds of the new pairs
  std::vector<float> fresh_values;     // K = 0: their aggregated scalars
};

// Client -> server: the client's data size and one (seed, g) pair per step that
// produced a gradient. The seed is a candidate index (K > 0) or the 64-bit seed (K = 0).
struct Uplink {
  uint32_t data_size = 0;              // the reference's len(train_loader): batches per pass
  bool unbounded_seeds = false;        // K = 0: seeds are 64-bit values, not indices
  std::vector<uint64_t> seeds;
  std::vector<float> values;
};

std::string encode(const Downlink& message);
std::string encode(const Uplink& message);
// Throw fedkseed::Error on a truncated or inconsistent message.
Downlink decode_downlink(const std::string& bytes);
Uplink decode_uplink(const std::string& bytes);

}  // namespace fedkseed
