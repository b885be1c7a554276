// FNV-1a 64: the one non-cryptographic hash of the project (random-stream names, the replica
// digest ranks compare, test fixture stamps). Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

constexpr uint64_t kFnv1aOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnv1aPrime = 0x100000001b3ULL;

// Continues `hash` over `size` bytes at `data`.
inline uint64_t fnv1a(const void* data, std::size_t size, uint64_t hash = kFnv1aOffset) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * kFnv1aPrime;
  return hash;
}

inline uint64_t fnv1a(const std::string& text, uint64_t hash = kFnv1aOffset) {
  return fnv1a(text.data(), text.size(), hash);
}

// The bytes of the values (trivially copyable T).
template <class T>
uint64_t fnv1a(const std::vector<T>& values, uint64_t hash = kFnv1aOffset) {
  return fnv1a(values.data(), values.size() * sizeof(T), hash);
}

}  // namespace fedkseed
