// Resolving a --model value to a checkpoint folder: a local folder as given, or a Hugging
// Face id's snapshot in the local cache laid out by huggingface_hub (nothing is downloaded).
#include "fedkseed/model/model_dir.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

namespace fs = std::filesystem;

// "org/name" with Hugging Face's repository characters; a path such as ./x/y or /x/y is not one.
bool is_hub_id(const std::string& model) {
  const size_t slash = model.find('/');
  if (slash == 0 || slash == std::string::npos || slash + 1 == model.size() ||
      model.find('/', slash + 1) != std::string::npos || model[0] == '.' || model[slash + 1] == '.') {
    return false;
  }
  return std::all_of(model.begin(), model.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

// huggingface_hub's cache root: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
fs::path hub_cache() {
  if (const char* cache = std::getenv("HF_HUB_CACHE"); cache != nullptr && *cache != '\0') return cache;
  if (const char* home = std::getenv("HF_HOME"); home != nullptr && *home != '\0') return fs::path(home) / "hub";
  const char* user_home = std::getenv("HOME");
  return fs::path(user_home != nullptr ? user_home : "") / ".cache" / "huggingface" / "hub";
}

}  // namespace

std::string resolve_model_dir(const std::string& model) {
  if (fs::is_directory(model) || !is_hub_id(model)) return model;
  const fs::path cache = hub_cache();
  std::string folder = "models--" + model;
  folder.replace(folder.find('/'), 1, "--");
  const fs::path repo = cache / folder;
  std::ifstream ref(repo / "refs" / "main");
  std::string revision;
  std::getline(ref, revision);
  if (!revision.empty() && fs::is_directory(repo / "snapshots" / revision)) {
    return (repo / "snapshots" / revision).string();
  }
  throw Error("--model " + model + ": not a local folder, and the Hugging Face cache " + cache.string() +
              " has no snapshot of it (looked for " + (repo / "refs" / "main").string() +
              "); nothing is downloaded: run `huggingface-cli download " + model +
              "` first or pass a local checkpoint folder");
}

}  // namespace fedkseed
