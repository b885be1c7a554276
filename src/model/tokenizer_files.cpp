// Reading a tokenizer's JSON side files (see tokenizer_files.h).
#include "tokenizer_files.h"

#include <fstream>

#include "fedkseed/common/error.h"

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

}  // namespace fedkseed
