// A round's cohort split over ranks: which rank trains which client, and the record of a
// client's round that the ranks exchange (its encoded uplink and what the simulation keeps
// beside it). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

// Owner rank of each item when items of the given costs are split over `ranks`: largest cost
// first (ties: earlier item first) to the least-loaded rank (ties: lowest rank). Deterministic.
std::vector<int64_t> assign_balanced(const std::vector<int64_t>& costs, int64_t ranks);

// One cohort client's round as it travels between ranks.
struct ClientRecord {
  uint32_t slot = 0;             // the client's position in the round's cohort
  std::string uplink;            // its encoded Uplink (messages.h)
  double loss_sum = 0.0;         // the sum of its applied steps' L+
  int64_t pass = 0, offset = 0;  // its data position after the round (ClientData::Position)
  int64_t applied = 0;           // its applied steps (a noise share adds uplink pairs that are none)
};

// Concatenated records (common/byte_codec.h): slot u32, uplink size u32, uplink, loss_sum f64,
// pass i64, offset i64, applied i64.
std::string encode_records(const std::vector<ClientRecord>& records);
// Throws fedkseed::Error on a truncated buffer.
std::vector<ClientRecord> decode_records(const std::string& bytes);

}  // namespace fedkseed
