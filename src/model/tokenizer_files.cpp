// A tokenizer's files: reading its JSON side files (tokenizer_files.h), copying them (tokenizer.h).
#include "tokenizer_files.h"

#include <filesystem>
#include <fstream>

#include "fedkseed/common/error.h"
#include "fedkseed/model/tokenizer.h"

namespace fedkseed {

std::optional<nlohmann::json> read_json_if_present(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw Error("tokenizer file " + path + ": not valid JSON (" + error.what() + ")");
  }
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "added_tokens.json", "generation_config.json"}) {
    const fs::path source = fs::path(from) / name;
    if (!fs::exists(source)) continue;
    std::error_code error;
    fs::copy_file(source, fs::path(to) / name, fs::copy_options::overwrite_existing, error);
    if (error) throw Error(source.string() + ": cannot be copied to " + to + " (" + error.message() + ")");
  }
}

}  // namespace fedkseed
