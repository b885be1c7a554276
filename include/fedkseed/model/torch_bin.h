// Reads Hugging Face `pytorch_model.bin` files: torch.save'd state dicts (zip format) streamed
// one storage at a time, through a strict pickle reader that builds tensors and nothing else.
// Name mapping, shape checks and dtype casts are left to model/checkpoint.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fedkseed {

// Calls visit(name, tensor) for each entry of the torch.save'd state dict at `path` (zip format,
// collections.OrderedDict or dict of tensors), in the file's order: CPU tensors in the file's dtype
// with its shape, strides and storage offset; entries viewing one storage (tied weights) share it.
// A storage is read when its first tensor is built and dropped after its last one is visited.
// Throws fedkseed::Error naming the file (and tensor) for a missing/corrupt/truncated file, a
// legacy non-zip .bin, a non-tensor entry, or any pickle construct beyond tensors in a dict.
void read_torch_bin(const std::string& path,
                    const std::function<void(const std::string& name, const at::Tensor& tensor)>& visit);

// The (name, shape) of each state-dict entry at `path`, in the file's order, from the pickle
// alone: no tensor data is read. Throws like read_torch_bin.
std::vector<std::pair<std::string, std::vector<int64_t>>> read_torch_bin_shapes(const std::string& path);

}  // namespace fedkseed
