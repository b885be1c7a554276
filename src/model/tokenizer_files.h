// Internal to src/model: reading a tokenizer's JSON side files (tokenizer_config.json,
// special_tokens_map.json, tokenizer.json...), shared by the sentencepiece and BPE tokenizers.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace fedkseed {

// The parsed file, or nullopt when it cannot be opened; throws fedkseed::Error naming the file
// when it is not valid JSON.
std::optional<nlohmann::json> read_json_if_present(const std::string& path);

}  // namespace fedkseed
