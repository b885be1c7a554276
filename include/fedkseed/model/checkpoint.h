// Reading the weights of a Hugging Face checkpoint folder: model.safetensors, sharded
// safetensors with model.safetensors.index.json, pytorch_model.bin and sharded .bin with
// its index. Matching names and shapes to a model is LlamaModel::load's job.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

namespace fedkseed {

// visit(name, tensor, file): a CPU tensor in the file's dtype, valid during the call only
// (it may view a memory map), and the file it came from (for error messages).
using CheckpointVisitor =
    std::function<void(const std::string& name, const at::Tensor& tensor, const std::string& file)>;

// Calls `visit` for every tensor of the checkpoint in `dir`, one file at a time. Prefers
// model.safetensors, then the safetensors index, then pytorch_model.bin, then the .bin
// index. Throws fedkseed::Error naming the file when no weights file exists, an index is
// invalid or lists an absent shard (with a tensor it should hold), or a file is corrupt.
void checkpoint_read(const std::string& dir, const CheckpointVisitor& visit);

}  // namespace fedkseed
