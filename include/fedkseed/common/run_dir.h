// The run directory <log_root>/<timestamp>/ with the reference's file names
// (config.yaml, results.json, memory.json, final_eval.json). Writes are atomic.
#pragma once

#include <string>

namespace fedkseed {

class RunDirectory {
 public:
  // Creates <log_root>/<unix seconds with microseconds>/ (the reference names it by
  // time.time()); throws fedkseed::Error naming the path when it cannot be created.
  static RunDirectory create(const std::string& log_root);
  // Wraps an existing directory; throws fedkseed::Error when it is missing.
  static RunDirectory open(const std::string& path);

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Replaces <path>/<name> by `text` atomically: write a temporary file, then rename.
  void write_file(const std::string& name, const std::string& text) const;

 private:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace fedkseed
