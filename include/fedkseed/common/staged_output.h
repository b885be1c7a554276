// An output folder written all-or-nothing: files go to a staging folder inside it and move in
// only on commit(), so a failure (an exception, a refused input) leaves it as it was.
// Used by init-model and export, which must never clobber a folder by accident.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fedkseed {

class StagedOutput {
 public:
  // Creates `out` (and its missing parents) and the staging folder `out`/.`command`.partial
  // (one left by a killed run is replaced). Throws fedkseed::Error naming `flag` and `out`
  // when `out` is not a folder, is not empty (unless `force`: commit() then replaces its
  // contents), or is or contains one of `protected_dirs` (e.g. the base model being read).
  StagedOutput(const std::string& out, const std::string& flag, const std::string& command, bool force,
               const std::vector<std::string>& protected_dirs = {});
  StagedOutput(const StagedOutput&) = delete;
  StagedOutput& operator=(const StagedOutput&) = delete;
  // Without commit(): removes the staging folder and the folders the constructor created.
  ~StagedOutput();

  // Where to write the output's files.
  std::string staging() const { return staging_.string(); }
  // With `force`, removes what `out` held; then moves the staged files into `out`.
  void commit();

 private:
  std::filesystem::path out_, staging_;
  std::filesystem::path made_from_;  // the outermost folder of `out` created here, or empty
  bool force_ = false;
  bool committed_ = false;
};

}  // namespace fedkseed
