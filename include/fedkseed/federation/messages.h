// The bytes that would cross the network in a deployment: the server's message to a client at
// round start and the client's reply. The simulation serialises both for real, clients rebuild
// the global model from the decoded downlink only, and the server aggregates decoded uplinks
// only, so the communication log counts what the components actually exchange.
// Torch-free. Little-endian, fixed-width fields (common/byte_codec.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

// One round's aggregated change of the seed pool: (pool index, ΔG) for every entry it touched.
// Doubles: the client adds and replays exactly what the server did, bit for bit.
struct RoundIncrement {
  uint32_t round = 0;
  std::vector<uint32_t> indices;
  std::vector<double> values;
};

// Server -> client at the start of `round`: what the client lacks to rebuild the global model
// after round - 1 from what it rebuilt at its last synchronisation.
struct Downlink {
  uint32_t round = 0;
  // K = 0 (a fresh seed per step): the seeds of the pool entries the client has not seen,
  // pool indices first_fresh, first_fresh + 1, ...
  uint32_t first_fresh = 0;
  std::vector<uint64_t> fresh_seeds;
  // Either the increments of every round since the client's last synchronisation, in order,
  // or (--sync from_init, when that is smaller) every pool entry's cumulative G (whole_pool).
  bool whole_pool = false;
  std::vector<RoundIncrement> increments;
  std::vector<double> pool;
  std::vector<double> probabilities;  // FedKSeed-Pro: the sampling probability of each candidate
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
// Bytes encode() would return for a downlink carrying these increments or a whole pool of
// `pool_size` values (the rest of the message aside): how the server picks the smaller form.
int64_t encoded_size(const std::vector<RoundIncrement>& increments);
int64_t encoded_pool_size(int64_t pool_size);
// Throw fedkseed::Error on a truncated or inconsistent message.
Downlink decode_downlink(const std::string& bytes);
Uplink decode_uplink(const std::string& bytes);

}  // namespace fedkseed
