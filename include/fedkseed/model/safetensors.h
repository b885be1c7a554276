// The safetensors format: header parsing with every length checked against the file and the
// safetensors library's rules, tensors read one at a time, and a streaming writer.
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
  // Opens `path` and parses its header. Throws fedkseed::Error naming the file for a missing
  // or short file, a header length beyond the file (checked before anything is allocated),
  // invalid JSON, a key repeated in one object, an unknown dtype, data offsets that disagree
  // with the shape, or offsets that do not tile the data section exactly (overlap, gap, tail).
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Entries in data-offset order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // A new CPU tensor in the file's dtype read from the file (not a memory map, so a file
  // truncated meanwhile is a fedkseed::Error naming it rather than a SIGBUS).
  at::Tensor tensor(const SafetensorsEntry& entry) const;

 private:
  struct Descriptor;
  std::string path_;
  std::shared_ptr<Descriptor> descriptor_;
  std::vector<SafetensorsEntry> entries_;
  uint64_t data_offset_ = 0;  // 8 + header length
};

// Writes `tensors` (any device; copied to the CPU one at a time, in the given order) to
// `path` with metadata {"format": "pt"}; throws fedkseed::Error when it cannot be written
// or a tensor's dtype has no safetensors name.
void safetensors_write(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors);

}  // namespace fedkseed
