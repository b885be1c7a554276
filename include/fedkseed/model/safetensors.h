// The safetensors format: header parsing with every length checked against the file,
// tensors viewed straight out of a read-only memory map, and a streaming writer.
// Checkpoint folders (shards, index files, .bin) are model/checkpoint's job.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fedkseed {

struct SafetensorsEntry {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps `path` and parses its header. Throws fedkseed::Error naming the file for a missing
  // or short file, a header length beyond the file (checked before anything is allocated),
  // invalid JSON, an unknown dtype, or data offsets that disagree with shape or file size.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Entries in data-offset order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // A CPU tensor in the file's dtype viewing the mapped bytes (no copy, read-only memory:
  // never write to it); it keeps the mapping alive.
  at::Tensor tensor(const SafetensorsEntry& entry) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  std::vector<SafetensorsEntry> entries_;
  uint64_t data_offset_ = 0;  // 8 + header length
};

// Writes `tensors` (any device; copied to the CPU one at a time, in the given order) to
// `path` with metadata {"format": "pt"}; throws fedkseed::Error when it cannot be written
// or a tensor's dtype has no safetensors name.
void safetensors_write(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace fedkseed
