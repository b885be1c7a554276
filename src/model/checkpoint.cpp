// Finding and streaming the weight files of a Hugging Face checkpoint folder. Each file is
// read on its own (one safetensors tensor or one .bin storage at a time), so peak memory stays
// at the destination model plus one tensor.
#include "fedkseed/model/checkpoint.h"

#include <ATen/ops/isfinite.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/error.h"
#include "fedkseed/model/safetensors.h"
#include "fedkseed/model/torch_bin.h"

namespace fedkseed {
namespace {

namespace fs = std::filesystem;

bool is_safetensors(const std::string& path) {
  return path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
}

// NaN or Inf in a weight poisons every loss computed with it; refused unless asked for.
void check_finite(const std::string& name, const at::Tensor& tensor, const std::string& file) {
  if (!at::isFloatingType(tensor.scalar_type()) || at::isfinite(tensor).all().item<bool>()) return;
  const int64_t bad = tensor.numel() - at::isfinite(tensor).sum().item<int64_t>();
  throw Error("checkpoint " + file + ": tensor " + name + " holds " + std::to_string(bad) +
              " NaN or infinite values (pass --allow_nonfinite to load it anyway)");
}

void read_weights_file(const std::string& path, const CheckpointVisitor& visit) {
  if (is_safetensors(path)) {
    const auto file = SafetensorsFile::open(path);
    for (const auto& entry : file.entries()) visit(entry.name, file.tensor(entry), path);
  } else {
    read_torch_bin(path,
                   [&](const std::string& name, const at::Tensor& tensor) { visit(name, tensor, path); });
  }
}

// The shards named by the index at `index_path`, after checking that all exist.
std::vector<std::string> sharded_files(const std::string& dir, const std::string& index_path) {
  const std::string where = "checkpoint " + index_path;
  std::ifstream in(index_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& error) {
    throw Error(where + ": not valid JSON: " + error.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    throw Error(where + ": needs a \"weight_map\" object {tensor name: shard file}");
  }
  std::map<std::string, std::string> shards;  // shard file -> one tensor it holds
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) throw Error(where + ": tensor " + name + " maps to " + shard.dump());
    shards.emplace(shard.get<std::string>(), name);
  }
  for (const auto& [shard, tensor] : shards) {
    if (!fs::is_regular_file(fs::path(dir) / shard)) {
      throw Error(where + ": shard " + shard + " (holding tensor " + tensor + ") is absent from " + dir);
    }
  }
  std::vector<std::string> files;
  for (const auto& entry : shards) files.push_back((fs::path(dir) / entry.first).string());
  return files;
}

// The weights files of `dir`, in the order checkpoint_read documents.
std::vector<std::string> weight_files(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("checkpoint " + dir + ": not a directory");
  const fs::path root(dir);
  if (fs::exists(root / "model.safetensors")) return {(root / "model.safetensors").string()};
  if (fs::exists(root / "model.safetensors.index.json")) {
    return sharded_files(dir, (root / "model.safetensors.index.json").string());
  }
  if (fs::exists(root / "pytorch_model.bin")) return {(root / "pytorch_model.bin").string()};
  if (fs::exists(root / "pytorch_model.bin.index.json")) {
    return sharded_files(dir, (root / "pytorch_model.bin.index.json").string());
  }
  throw Error("checkpoint " + dir +
              ": no weights found (model.safetensors, model.safetensors.index.json, pytorch_model.bin "
              "or pytorch_model.bin.index.json)");
}

}  // namespace

void checkpoint_read(const std::string& dir, const CheckpointVisitor& visit, bool allow_nonfinite) {
  const CheckpointVisitor checked = [&](const std::string& name, const at::Tensor& tensor, const std::string& file) {
    if (!allow_nonfinite) check_finite(name, tensor, file);
    visit(name, tensor, file);
  };
  for (const auto& file : weight_files(dir)) read_weights_file(file, checked);
}

std::map<std::string, CheckpointTensorShape> checkpoint_shapes(const std::string& dir) {
  std::map<std::string, CheckpointTensorShape> shapes;
  for (const auto& file : weight_files(dir)) {
    if (is_safetensors(file)) {
      const auto header = SafetensorsFile::open(file);
      for (const auto& entry : header.entries()) shapes[entry.name] = {entry.shape, file};
    } else {
      for (auto& [name, shape] : read_torch_bin_shapes(file)) shapes[name] = {std::move(shape), file};
    }
  }
  return shapes;
}

}  // namespace fedkseed
