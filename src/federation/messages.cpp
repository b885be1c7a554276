// Serialisation of the federation messages (see messages.h for their contents). Downlink:
// layout u8, round u32, first_fresh u32, fresh count u32 + seeds u64; then the whole pool
// (count u32 + f64 each) or the increments (count u32; per round: round u32, pair count u32,
// pairs of index u32 + ΔG f64); then the probabilities (count u32 + f64 each).
#include "fedkseed/federation/messages.h"

#include "fedkseed/common/byte_codec.h"
#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

// Layout tags in the first byte, so a message says what follows.
constexpr uint8_t kWholePool = 1, kWithProbabilities = 2;
constexpr uint8_t kSeedIndices = 0, kSeedValues = 1;
constexpr int64_t kCountBytes = 4, kPairBytes = 4 + 8;

void put_doubles(ByteWriter& out, const std::vector<double>& values) {
  out.put<uint32_t>(static_cast<uint32_t>(values.size()));
  out.put_all(values);
}

}  // namespace

int64_t encoded_size(const std::vector<RoundIncrement>& increments) {
  int64_t bytes = kCountBytes;
  for (const auto& increment : increments) bytes += 2 * kCountBytes + kPairBytes * static_cast<int64_t>(increment.indices.size());
  return bytes;
}

int64_t encoded_pool_size(int64_t pool_size) { return kCountBytes + 8 * pool_size; }

std::string encode(const Downlink& message) {
  ByteWriter out;
  uint8_t layout = message.whole_pool ? kWholePool : 0;
  if (!message.probabilities.empty()) layout |= kWithProbabilities;
  out.put<uint8_t>(layout);
  out.put<uint32_t>(message.round);
  out.put<uint32_t>(message.first_fresh);
  out.put<uint32_t>(static_cast<uint32_t>(message.fresh_seeds.size()));
  out.put_all(message.fresh_seeds);
  if (message.whole_pool) {
    put_doubles(out, message.pool);
  } else {
    out.put<uint32_t>(static_cast<uint32_t>(message.increments.size()));
    for (const auto& increment : message.increments) {
      out.put<uint32_t>(increment.round);
      out.put<uint32_t>(static_cast<uint32_t>(increment.indices.size()));
      for (std::size_t i = 0; i < increment.indices.size(); ++i) {
        out.put<uint32_t>(increment.indices[i]);
        out.put<double>(increment.values[i]);
      }
    }
  }
  if (layout & kWithProbabilities) put_doubles(out, message.probabilities);
  return out.take();
}

Downlink decode_downlink(const std::string& bytes) {
  ByteReader in(bytes, "downlink message");
  Downlink message;
  const auto layout = in.get<uint8_t>();
  message.round = in.get<uint32_t>();
  message.first_fresh = in.get<uint32_t>();
  message.fresh_seeds = in.get_all<uint64_t>(in.get<uint32_t>());
  message.whole_pool = (layout & kWholePool) != 0;
  if (message.whole_pool) {
    message.pool = in.get_all<double>(in.get<uint32_t>());
  } else {
    message.increments.resize(in.get<uint32_t>());
    for (auto& increment : message.increments) {
      increment.round = in.get<uint32_t>();
      const auto pairs = in.get<uint32_t>();
      for (uint32_t i = 0; i < pairs; ++i) {
        increment.indices.push_back(in.get<uint32_t>());
        increment.values.push_back(in.get<double>());
      }
    }
  }
  if (layout & kWithProbabilities) message.probabilities = in.get_all<double>(in.get<uint32_t>());
  in.finish();
  return message;
}

std::string encode(const Uplink& message) {
  ByteWriter out;
  out.put<uint8_t>(message.unbounded_seeds ? kSeedValues : kSeedIndices);
  out.put<uint32_t>(message.data_size);
  for (std::size_t i = 0; i < message.seeds.size(); ++i) {
    if (message.unbounded_seeds) {
      out.put<uint64_t>(message.seeds[i]);
    } else {
      out.put<uint32_t>(static_cast<uint32_t>(message.seeds[i]));
    }
    out.put<float>(message.values[i]);
  }
  return out.take();
}

Uplink decode_uplink(const std::string& bytes) {
  ByteReader in(bytes, "uplink message");
  Uplink message;
  message.unbounded_seeds = in.get<uint8_t>() == kSeedValues;
  message.data_size = in.get<uint32_t>();
  const std::size_t pair_size = (message.unbounded_seeds ? 8 : 4) + sizeof(float);
  if (in.remaining() % pair_size != 0) throw Error("uplink message: truncated pair");
  while (in.remaining() > 0) {
    message.seeds.push_back(message.unbounded_seeds ? in.get<uint64_t>() : in.get<uint32_t>());
    message.values.push_back(in.get<float>());
  }
  return message;
}

}  // namespace fedkseed
