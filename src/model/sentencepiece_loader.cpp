// Opens the sentencepiece plugin once. RTLD_DEEPBIND makes the plugin and the
// libsentencepiece.so.0 it brings resolve their symbols among themselves first, so
// sentencepiece's FLAGS_minloglevel stays its own instead of landing on libc10's; RTLD_LOCAL
// keeps their symbols out of everything loaded later.
#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "fedkseed/common/error.h"
#include "sentencepiece_api.h"

namespace fedkseed::spm {
namespace {

// Beside the executable first (a build folder copied elsewhere), then where CMake built it
// (the test binary lives one folder deeper).
std::vector<std::string> plugin_candidates() {
  const std::string name = std::filesystem::path(FEDKSEED_SENTENCEPIECE_PLUGIN).filename().string();
  std::vector<std::string> candidates;
  std::error_code error;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back((executable.parent_path() / name).string());
  candidates.push_back(FEDKSEED_SENTENCEPIECE_PLUGIN);
  return candidates;
}

const Api* open_plugin() {
  std::string failures;
  for (const auto& path : plugin_candidates()) {
    if (!std::filesystem::exists(path)) continue;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (handle == nullptr) {
      failures += std::string("; ") + dlerror();
      continue;
    }
    using Entry = const Api* (*)();
    const auto entry = reinterpret_cast<Entry>(dlsym(handle, "fedkseed_sentencepiece_api"));
    const Api* api = entry == nullptr ? nullptr : entry();
    if (api == nullptr || api->version != kApiVersion) {
      throw Error("tokenizer plugin " + path + ": built from other sources (API version mismatch); rebuild fedkseed");
    }
    return api;  // the handle stays open for the life of the process
  }
  throw Error("tokenizer plugin " + std::filesystem::path(FEDKSEED_SENTENCEPIECE_PLUGIN).filename().string() +
              ": cannot be opened from beside the executable or from " + FEDKSEED_SENTENCEPIECE_PLUGIN + failures +
              " (it needs libsentencepiece.so.0 on the library path)");
}

}  // namespace

const Api& api() {
  static std::once_flag once;
  static const Api* opened = nullptr;
  std::call_once(once, [] { opened = open_plugin(); });
  return *opened;
}

}  // namespace fedkseed::spm
