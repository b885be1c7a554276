// The run directory <log_root>/<timestamp or --run_name>/ with the reference's file names
// (config.yaml, results.json, memory.json, final_eval.json). Writes are atomic and durable.
#pragma once

#include <memory>
#include <string>

#include "fedkseed/common/run_lock.h"

namespace fedkseed {

class RunDirectory {
 public:
  // Creates <log_root>/<name>/ and locks it (run_lock.h) for the lifetime of the returned
  // object and its copies. An empty `name` means the time, <unix seconds with microseconds>
  // (the reference names it by time.time()), with a suffix -1, -2, ... when a folder of that
  // name exists: a run never writes into another's folder. A given `name` is used as is; an
  // existing folder of that name is taken only when empty. Throws fedkseed::Error naming the
  // path when it cannot be created, or naming --run_name when it is taken.
  static RunDirectory create(const std::string& log_root, const std::string& name);
  // Wraps an existing directory, to read it; throws fedkseed::Error when it is missing.
  static RunDirectory open(const std::string& path);
  // Wraps an existing directory and locks it, to write it: throws fedkseed::Error when it is
  // missing or another process holds its lock.
  static RunDirectory open_locked(const std::string& path);

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Replaces <path>/<name> by `text` atomically and durably (write_file_atomically).
  void write_file(const std::string& name, const std::string& text) const;

 private:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::shared_ptr<const RunLock> lock_;  // held while this run writes the directory
};

}  // namespace fedkseed
