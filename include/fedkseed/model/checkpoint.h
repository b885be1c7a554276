// Reading the weights of a Hugging Face checkpoint folder: model.safetensors, sharded
// safetensors with model.safetensors.index.json, pytorch_model.bin and sharded .bin with
// its index. Matching names and shapes to a model is LlamaModel::load's job.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fedkseed {

// visit(name, tensor, file): a CPU tensor in the file's dtype, valid during the call only
// (it may view a memory map), and the file it came from (for error messages).
using CheckpointVisitor =
    std::function<void(const std::string& name, const at::Tensor& tensor, const std::string& file)>;

// Calls `visit` for every tensor of the checkpoint in `dir`, one file at a time. Prefers
// model.safetensors, then the safetensors index, then pytorch_model.bin, then the .bin
// index. Throws fedkseed::Error naming the file when no weights file exists, an index is
// invalid or lists an absent shard (with a tensor it should hold), or a file is corrupt; and
// naming the tensor and file when a floating-point tensor holds NaN or Inf, unless `allow_nonfinite`.
void checkpoint_read(const std::string& dir, const CheckpointVisitor& visit, bool allow_nonfinite = false);

// A tensor's shape as its weights file's header states it, and that file.
struct CheckpointTensorShape {
  std::vector<int64_t> shape;
  std::string file;
};
// Every tensor's shape in `dir`'s weights from the safetensors headers and .bin pickles alone
// (no tensor data is read), to check a config against before allocating a model. Throws like
// checkpoint_read.
std::map<std::string, CheckpointTensorShape> checkpoint_shapes(const std::string& dir);

}  // namespace fedkseed
