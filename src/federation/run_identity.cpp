// Digests of the base model and data files (see run_identity.h).
#include "fedkseed/federation/run_identity.h"

#include <ATen/ATen.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "fedkseed/common/error.h"
#include "fedkseed/common/hash.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/model/checkpoint.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

FileStamp stamp(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) throw Error("file " + path + ": cannot be read (" + std::strerror(errno) + ")");
  if (!S_ISREG(status.st_mode)) throw Error("file " + path + ": not a regular file");
  return {path, static_cast<int64_t>(status.st_size),
          static_cast<int64_t>(status.st_mtim.tv_sec) * 1000000000 + status.st_mtim.tv_nsec};
}

uint64_t file_hash(const std::string& path, uint64_t hash = kFnv1aOffset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("file " + path + ": cannot be read");
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    hash = fnv1a(buffer.data(), static_cast<std::size_t>(in.gcount()), hash);
  }
  return hash;
}

// config.json and the tokenizer's files: they change a run's results as much as the weights.
bool is_model_text(const std::string& name) {
  return name == "config.json" || name.rfind("tokenizer", 0) == 0 || name == "special_tokens_map.json" ||
         name == "added_tokens.json";
}

std::vector<FileStamp> model_files(const std::string& model_dir) {
  std::vector<FileStamp> files;
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    if (entry.is_regular_file()) files.push_back(stamp(entry.path().string()));
  }
  std::sort(files.begin(), files.end(), [](const FileStamp& a, const FileStamp& b) { return a.path < b.path; });
  return files;
}

std::string model_fnv1a(const std::string& model_dir) {
  std::map<std::string, uint64_t> tensors;
  checkpoint_read(
      model_dir,
      [&](const std::string& name, const at::Tensor& tensor, const std::string&) {
        const at::Tensor bytes = tensor.contiguous();
        uint64_t hash = fnv1a(name);
        hash = fnv1a(std::string(c10::toString(bytes.scalar_type())), hash);
        hash = fnv1a(bytes.sizes().vec(), hash);
        tensors[name] = fnv1a(bytes.data_ptr(), bytes.nbytes(), hash);
      },
      /*allow_nonfinite=*/true);
  uint64_t hash = kFnv1aOffset;
  for (const auto& [name, tensor_hash] : tensors) hash = fnv1a(&tensor_hash, sizeof tensor_hash, fnv1a(name, hash));
  for (const auto& file : model_files(model_dir)) {
    const std::string name = fs::path(file.path).filename().string();
    if (is_model_text(name)) hash = file_hash(file.path, fnv1a(name, hash));
  }
  return hex(hash);
}

DataFileIdentity data_file(const std::string& path) { return {stamp(path), hex(file_hash(path))}; }

// A data file as a resumed run finds it: unchanged stamps skip the rehash.
DataFileIdentity checked_data_file(const DataFileIdentity& saved, const std::string& run_dir) {
  const FileStamp now = stamp(saved.stamp.path);
  if (now == saved.stamp) return saved;
  const DataFileIdentity current{now, hex(file_hash(now.path))};
  if (current.fnv1a != saved.fnv1a) {
    throw Error("--resume " + run_dir + ": data file " + now.path + " changed since the run began (" +
                (now.size != saved.stamp.size
                     ? std::to_string(saved.stamp.size) + " bytes then, " + std::to_string(now.size) + " now"
                     : "other contents") +
                "); resume with the original data, or start a new run");
  }
  return current;
}

}  // namespace

RunIdentity run_identity(const std::string& model_dir, const std::vector<std::string>& data_files) {
  RunIdentity identity;
  identity.model_files = model_files(model_dir);
  identity.model_fnv1a = model_fnv1a(model_dir);
  for (const auto& path : data_files) identity.data_files.push_back(data_file(path));
  return identity;
}

RunIdentity resumed_identity(const std::optional<RunIdentity>& saved, const std::string& model_dir,
                             const std::vector<std::string>& data_files, const std::string& run_dir) {
  if (!saved) {
    log::warn("--resume " + run_dir + ": its state.json (from an older fedkseed) does not identify the base model "
              "and data, so they cannot be checked; continuing on the ones given now");
    return run_identity(model_dir, data_files);
  }
  RunIdentity identity = *saved;
  identity.model_files = model_files(model_dir);
  if (identity.model_files != saved->model_files) {
    identity.model_fnv1a = model_fnv1a(model_dir);
    if (identity.model_fnv1a != saved->model_fnv1a) {
      throw Error("--resume " + run_dir + ": the base model " + model_dir + " changed since the run began (its "
                  "weights, config.json or tokenizer differ); resume with the original model, or start a new run");
    }
  }
  std::map<std::string, const DataFileIdentity*> recorded;
  for (const auto& file : saved->data_files) recorded[file.stamp.path] = &file;
  identity.data_files.clear();
  for (const auto& path : data_files) {
    const auto found = recorded.find(path);
    if (found == recorded.end()) {
      throw Error("--resume " + run_dir + ": the data now includes " + path +
                  ", which the run did not read; resume with the original data, or start a new run");
    }
    identity.data_files.push_back(checked_data_file(*found->second, run_dir));
    recorded.erase(found);
  }
  if (!recorded.empty()) {
    throw Error("--resume " + run_dir + ": the run read data file " + recorded.begin()->first +
                ", which the data no longer includes; resume with the original data, or start a new run");
  }
  return identity;
}

}  // namespace fedkseed
