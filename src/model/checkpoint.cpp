// Finding and streaming the weight files of a Hugging Face checkpoint folder. Each file is
// read on its own (one mapping or one .bin storage at a time), so peak memory stays at the
// destination model plus one tensor.
#include "fedkseed/model/checkpoint.h"

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

void read_weights_file(const std::string& path, const CheckpointVisitor& visit) {
  if (path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0) {
    const auto file = SafetensorsFile::open(path);
    for (const auto& entry : file.entries()) visit(entry.name, file.tensor(entry), path);
  } else {
    read_torch_bin(path,
                   [&](const std::string& name, const at::Tensor& tensor) { visit(name, tensor, path); });
  }
}

// Reads every shard named by the index at `index_path`, after checking that all exist.
void read_sharded(const std::string& dir, const std::string& index_path, const CheckpointVisitor& visit) {
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
  for (const auto& [shard, tensor] : shards) read_weights_file((fs::path(dir) / shard).string(), visit);
}

}  // namespace

void checkpoint_read(const std::string& dir, const CheckpointVisitor& visit) {
  if (!fs::is_directory(dir)) throw Error("checkpoint " + dir + ": not a directory");
  const fs::path root(dir);
  if (fs::exists(root / "model.safetensors")) {
    read_weights_file((root / "model.safetensors").string(), visit);
  } else if (fs::exists(root / "model.safetensors.index.json")) {
    read_sharded(dir, (root / "model.safetensors.index.json").string(), visit);
  } else if (fs::exists(root / "pytorch_model.bin")) {
    read_weights_file((root / "pytorch_model.bin").string(), visit);
  } else if (fs::exists(root / "pytorch_model.bin.index.json")) {
    read_sharded(dir, (root / "pytorch_model.bin.index.json").string(), visit);
  } else {
    throw Error("checkpoint " + dir +
                ": no weights found (model.safetensors, model.safetensors.index.json, pytorch_model.bin "
                "or pytorch_model.bin.index.json)");
  }
}

}  // namespace fedkseed
