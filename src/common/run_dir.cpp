// Creation of run directories and atomic file replacement.
#include "fedkseed/common/run_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fedkseed/common/error.h"
#include "fedkseed/common/file.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

std::string time_stamp() {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%lld.%06lld", static_cast<long long>(micros / 1000000),
                static_cast<long long>(micros % 1000000));
  return stamp;
}

// mkdir(2), which unlike create_directories fails when the folder exists: two runs started
// in the same microsecond (or given the same name) cannot both get it. False when it exists.
bool make_new_folder(const fs::path& path) {
  if (::mkdir(path.c_str(), 0777) == 0) return true;
  if (errno == EEXIST) return false;
  throw Error("--log_root: cannot create run directory " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

RunDirectory RunDirectory::create(const std::string& log_root, const std::string& name) {
  std::error_code error;
  fs::create_directories(log_root, error);
  if (error) throw Error("--log_root " + log_root + ": cannot create: " + error.message());
  fs::path path;
  bool made = false;
  if (name.empty()) {
    const std::string stamp = time_stamp();
    for (int suffix = 0; !made; ++suffix) {
      path = fs::path(log_root) / (suffix == 0 ? stamp : stamp + "-" + std::to_string(suffix));
      made = make_new_folder(path);
    }
  } else {
    path = fs::path(log_root) / name;
    made = make_new_folder(path);
  }
  RunDirectory run(path.string());
  if (!made && !fs::is_directory(path)) {
    throw Error("--run_name " + name + ": " + path.string() + " exists and is not a folder; choose another name");
  }
  run.lock_ = std::make_shared<const RunLock>(run.path_);
  if (!made && !fs::is_empty(path, error)) {  // checked under the lock: no one else can fill it now
    throw Error("--run_name " + name + ": " + path.string() + " already holds a run; continue it with --resume " +
                path.string() + ", or choose another name");
  }
  return run;
}

RunDirectory RunDirectory::open(const std::string& path) {
  if (!fs::is_directory(path)) throw Error("run directory " + path + ": not found");
  return RunDirectory(path);
}

RunDirectory RunDirectory::open_locked(const std::string& path) {
  RunDirectory run = open(path);
  run.lock_ = std::make_shared<const RunLock>(path);
  return run;
}

void RunDirectory::write_file(const std::string& name, const std::string& text) const {
  write_file_atomically(file(name), text);
}

}  // namespace fedkseed
