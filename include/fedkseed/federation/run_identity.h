// What a run's results depend on besides its flags: the base model and the data files.
// state.json records them so that --resume refuses to continue a run on other inputs (its
// result would silently differ from the run's first rounds). Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedkseed {

// A file as the filesystem describes it: equal stamps let a resume skip rehashing the file.
struct FileStamp {
  std::string path;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp& other) const {
    return path == other.path && size == other.size && mtime_ns == other.mtime_ns;
  }
};

struct DataFileIdentity {
  FileStamp stamp;
  std::string fnv1a;  // FNV-1a 64 of the bytes, in hex
};

struct RunIdentity {
  // FNV-1a 64 (hex) of the base model: every tensor (name, dtype, shape, bytes, in name order,
  // so a resharded or re-saved checkpoint keeps it), config.json and the tokenizer files.
  std::string model_fnv1a;
  std::vector<FileStamp> model_files;  // the model folder's files when the digest was taken
  std::vector<DataFileIdentity> data_files;
};

// The identity of a run on the model folder `model_dir` (resolved) and the data `data_files`.
// Throws fedkseed::Error naming a file that cannot be read.
RunIdentity run_identity(const std::string& model_dir, const std::vector<std::string>& data_files);

// The identity a resumed run continues with, after checking it against `saved` (state.json's,
// nullopt for a state from an older fedkseed: a warning, then the current identity): files
// whose stamps are unchanged are not read again. Throws fedkseed::Error "--resume <run_dir>:
// ..." naming the model folder or the data file that changed, appeared or disappeared.
RunIdentity resumed_identity(const std::optional<RunIdentity>& saved, const std::string& model_dir,
                             const std::vector<std::string>& data_files, const std::string& run_dir);

}  // namespace fedkseed
