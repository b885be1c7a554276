// Serialisation of the federation messages (see messages.h for their contents).
#include "fedkseed/federation/messages.h"

#include <cstring>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

// Layout tags in the first byte, so a message says what follows.
constexpr uint8_t kDenseDeltas = 1, kWithProbabilities = 2, kFreshPairs = 4;
constexpr uint8_t kSeedIndices = 0, kSeedValues = 1;

class Writer {
 public:
  template <class T>
  void put(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));  // x86-64 and aarch64 are little-endian
    bytes_.append(raw, sizeof(T));
  }
  template <class T>
  void put_all(const std::vector<T>& values) {
    bytes_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Reader {
 public:
  Reader(const std::string& bytes, const char* what) : bytes_(bytes), what_(what) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_all(std::size_t count) {
    need(count * sizeof(T));
    std::vector<T> values(count);
    std::memcpy(values.data(), bytes_.data() + offset_, count * sizeof(T));
    offset_ += count * sizeof(T);
    return values;
  }
  std::size_t remaining() const { return bytes_.size() - offset_; }
  void finish() const {
    if (remaining() != 0) throw Error(std::string(what_) + ": " + std::to_string(remaining()) + " trailing bytes");
  }

 private:
  void need(std::size_t count) const {
    if (count > remaining()) throw Error(std::string(what_) + ": truncated message");
  }
  const std::string& bytes_;
  const char* what_;
  std::size_t offset_ = 0;
};

}  // namespace

std::string encode(const Downlink& message) {
  Writer out;
  const bool fresh = !message.fresh_seeds.empty() || message.seed_deltas.empty();
  uint8_t layout = fresh ? kFreshPairs : kDenseDeltas;
  if (!message.probabilities.empty()) layout |= kWithProbabilities;
  out.put<uint8_t>(layout);
  out.put<uint32_t>(message.round);
  if (fresh) {
    out.put<uint32_t>(static_cast<uint32_t>(message.fresh_seeds.size()));
    out.put_all(message.fresh_seeds);
    out.put_all(message.fresh_values);
  } else {
    out.put<uint32_t>(static_cast<uint32_t>(message.seed_deltas.size()));
    out.put_all(message.seed_deltas);
  }
  out.put_all(message.probabilities);
  return out.take();
}

Downlink decode_downlink(const std::string& bytes) {
  Reader in(bytes, "downlink message");
  Downlink message;
  const auto layout = in.get<uint8_t>();
  message.round = in.get<uint32_t>();
  const auto count = in.get<uint32_t>();
  if (layout & kFreshPairs) {
    message.fresh_seeds = in.get_all<uint64_t>(count);
    message.fresh_values = in.get_all<float>(count);
  } else {
    message.seed_deltas = in.get_all<float>(count);
  }
  if (layout & kWithProbabilities) message.probabilities = in.get_all<float>(in.remaining() / sizeof(float));
  in.finish();
  return message;
}

std::string encode(const Uplink& message) {
  Writer out;
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
  Reader in(bytes, "uplink message");
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
