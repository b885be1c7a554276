// Creation of run directories and atomic file replacement.
#include "fedkseed/common/run_dir.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fedkseed/common/error.h"

namespace fs = std::filesystem;

namespace fedkseed {

RunDirectory RunDirectory::create(const std::string& log_root) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%lld.%06lld", static_cast<long long>(micros / 1000000),
                static_cast<long long>(micros % 1000000));
  const fs::path path = fs::path(log_root) / stamp;
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw Error("--log_root: cannot create run directory " + path.string() + ": " + error.message());
  return RunDirectory(path.string());
}

RunDirectory RunDirectory::open(const std::string& path) {
  if (!fs::is_directory(path)) throw Error("run directory " + path + ": not found");
  return RunDirectory(path);
}

void RunDirectory::write_file(const std::string& name, const std::string& text) const {
  const std::string target = file(name);
  const std::string temporary = target + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error(temporary + ": write failed");
  }
  std::error_code error;
  fs::rename(temporary, target, error);
  if (error) throw Error(target + ": cannot replace: " + error.message());
}

}  // namespace fedkseed
