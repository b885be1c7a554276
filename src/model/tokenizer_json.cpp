// tokenizer.json -> steps. Each component type the families in the README use is mapped;
// an unknown one is an error rather than a silent difference from the tokenizers package.
#include "tokenizer_json.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"

namespace fedkseed::bpe {
namespace {

using nlohmann::json;

// A component's members, or the members of a "Sequence" of them, flattened.
std::vector<json> flatten(const json& component, const char* list_key) {
  if (component.is_null()) return {};
  if (component.value("type", "") != "Sequence") return {component};
  std::vector<json> parts;
  for (const auto& member : component.at(list_key)) {
    for (auto& part : flatten(member, list_key)) parts.push_back(std::move(part));
  }
  return parts;
}

[[noreturn]] void unsupported(const std::string& path, const std::string& what, const json& component) {
  throw Error("tokenizer " + path + ": " + what + " '" + component.value("type", component.dump()) +
              "' is not supported");
}

// A {"String": s} or {"Regex": r} pattern as a PCRE2 regex.
std::string pattern_regex(const json& pattern) {
  if (pattern.contains("Regex")) return pattern.at("Regex").get<std::string>();
  return "\\Q" + pattern.at("String").get<std::string>() + "\\E";
}

std::string literal_pattern(const std::string& path, const json& pattern) {
  if (!pattern.contains("String")) {
    throw Error("tokenizer " + path + ": a Replace with a regex pattern is not supported");
  }
  return pattern.at("String").get<std::string>();
}

PrependScheme prepend_scheme(const json& component) {
  // Older files say add_prefix_space instead of prepend_scheme.
  const bool add_prefix_space = component.value("add_prefix_space", true);
  const std::string scheme = component.value("prepend_scheme", add_prefix_space ? "always" : "never");
  if (scheme == "first") return PrependScheme::kFirst;
  return scheme == "never" ? PrependScheme::kNever : PrependScheme::kAlways;
}

std::vector<NormalizerStep> read_normalizer(const std::string& path, const json& root) {
  std::vector<NormalizerStep> steps;
  for (const auto& part : flatten(root.value("normalizer", json()), "normalizers")) {
    const std::string type = part.value("type", "");
    NormalizerStep step;
    if (type == "NFC") step.kind = NormalizerStep::Kind::kNfc;
    else if (type == "NFD") step.kind = NormalizerStep::Kind::kNfd;
    else if (type == "NFKC") step.kind = NormalizerStep::Kind::kNfkc;
    else if (type == "NFKD") step.kind = NormalizerStep::Kind::kNfkd;
    else if (type == "Prepend") step = {NormalizerStep::Kind::kPrepend, "", part.at("prepend").get<std::string>()};
    else if (type == "Replace") {
      step = {NormalizerStep::Kind::kReplace, literal_pattern(path, part.at("pattern")),
              part.at("content").get<std::string>()};
    } else unsupported(path, "normalizer", part);
    steps.push_back(step);
  }
  return steps;
}

SplitBehavior split_behavior(const std::string& path, const json& part) {
  const std::string behavior = part.value("behavior", "Isolated");
  if (behavior == "Removed") return SplitBehavior::kRemoved;
  if (behavior == "Isolated") return SplitBehavior::kIsolated;
  if (behavior == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (behavior == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (behavior == "Contiguous") return SplitBehavior::kContiguous;
  throw Error("tokenizer " + path + ": Split behavior '" + behavior + "' is not supported");
}

std::vector<PreTokenizerStep> read_pre_tokenizer(const std::string& path, const json& root) {
  std::vector<PreTokenizerStep> steps;
  for (const auto& part : flatten(root.value("pre_tokenizer", json()), "pretokenizers")) {
    const std::string type = part.value("type", "");
    PreTokenizerStep step;
    if (type == "Split") {
      step.pattern = pattern_regex(part.at("pattern"));
      step.behavior = split_behavior(path, part);
      step.invert = part.value("invert", false);
    } else if (type == "Digits") {
      step.pattern = part.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+";
    } else if (type == "ByteLevel") {
      step.kind = PreTokenizerStep::Kind::kByteLevel;
      step.add_prefix_space = part.value("add_prefix_space", false);
      step.use_regex = part.value("use_regex", true);
    } else if (type == "Metaspace") {
      step.kind = PreTokenizerStep::Kind::kMetaspace;
      step.replacement = part.value("replacement", "\u2581");
      step.prepend_scheme = prepend_scheme(part);
      step.split = part.value("split", true);
    } else {
      unsupported(path, "pre-tokenizer", part);
    }
    steps.push_back(step);
  }
  return steps;
}

std::vector<DecoderStep> read_decoder(const std::string& path, const json& root) {
  std::vector<DecoderStep> steps;
  for (const auto& part : flatten(root.value("decoder", json()), "decoders")) {
    const std::string type = part.value("type", "");
    DecoderStep step;
    if (type == "ByteLevel") step.kind = DecoderStep::Kind::kByteLevel;
    else if (type == "ByteFallback") step.kind = DecoderStep::Kind::kByteFallback;
    else if (type == "Fuse") step.kind = DecoderStep::Kind::kFuse;
    else if (type == "Metaspace") {
      step.kind = DecoderStep::Kind::kMetaspace;
      step.pattern = part.value("replacement", "\u2581");
      step.prepend_scheme = prepend_scheme(part);
    } else if (type == "Replace") {
      step.kind = DecoderStep::Kind::kReplace;
      step.pattern = literal_pattern(path, part.at("pattern"));
      step.content = part.at("content").get<std::string>();
    } else if (type == "Strip") {
      step.kind = DecoderStep::Kind::kStrip;
      step.content = part.at("content").get<std::string>();
      step.start = part.value("start", size_t{0});
      step.stop = part.value("stop", size_t{0});
    } else {
      unsupported(path, "decoder", part);
    }
    steps.push_back(step);
  }
  return steps;
}

std::unique_ptr<BpeModel> read_model(const std::string& path, const json& model) {
  const std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
  if (type != "BPE") {
    throw Error("tokenizer " + path + ": model type '" + (type.empty() ? "unknown" : type) +
                "' is not supported (only byte-pair encoding, BPE)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
      throw Error("tokenizer " + path + ": BPE " + key + " is not supported");
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0) {
    throw Error("tokenizer " + path + ": BPE dropout is not supported");
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& merge : model.at("merges")) {
    if (merge.is_array() && merge.size() == 2) {
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      continue;
    }
    const std::string text = merge.get<std::string>();  // "left right"
    const size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
      throw Error("tokenizer " + path + ": merge '" + text + "' is not two tokens");
    }
    merges.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
  BpeModelOptions options;
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    options.unk_token = model["unk_token"].get<std::string>();
  }
  options.fuse_unk = model.value("fuse_unk", false);
  options.byte_fallback = model.value("byte_fallback", false);
  options.ignore_merges = model.value("ignore_merges", false);
  return std::make_unique<BpeModel>(model.at("vocab").get<std::unordered_map<std::string, int64_t>>(), merges,
                                    options, "tokenizer " + path);
}

// The single leading special token of a TemplateProcessing (the BOS), if any.
std::optional<int64_t> read_prefix_id(const std::string& path, const json& root) {
  std::optional<int64_t> prefix;
  for (const auto& part : flatten(root.value("post_processor", json()), "processors")) {
    const std::string type = part.value("type", "");
    if (type == "ByteLevel") continue;
    if (type != "TemplateProcessing") unsupported(path, "post-processor", part);
    const auto& single = part.at("single");
    for (size_t i = 0; i < single.size(); ++i) {
      if (!single[i].contains("SpecialToken")) continue;
      const auto& name = single[i]["SpecialToken"].at("id").get<std::string>();
      const auto& ids = part.at("special_tokens").at(name).at("ids");
      if (i != 0 || ids.size() != 1) {
        throw Error("tokenizer " + path + ": a post-processor template adding '" + name +
                    "' other than once in front of the text is not supported");
      }
      prefix = ids[0].get<int64_t>();
    }
  }
  return prefix;
}

std::vector<AddedToken> read_added_tokens(const json& root) {
  std::vector<AddedToken> tokens;
  for (const auto& entry : root.value("added_tokens", json::array())) {
    tokens.push_back({entry.at("content").get<std::string>(), entry.at("id").get<int64_t>(),
                      entry.value("special", false), entry.value("lstrip", false), entry.value("rstrip", false),
                      entry.value("single_word", false), entry.value("normalized", false)});
  }
  return tokens;
}

}  // namespace

TokenizerJson read_tokenizer_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("tokenizer " + path + ": cannot be read");
  json root;
  try {
    root = json::parse(in);
  } catch (const json::exception& error) {
    throw Error("tokenizer " + path + ": not valid JSON (" + error.what() + ")");
  }
  try {
    if (!root.is_object() || !root.contains("model")) throw Error("tokenizer " + path + ": no \"model\" object");
    TokenizerJson parsed;
    parsed.model = read_model(path, root.at("model"));
    parsed.normalizer = read_normalizer(path, root);
    parsed.pre_tokenizer = read_pre_tokenizer(path, root);
    parsed.decoder = read_decoder(path, root);
    parsed.added_tokens = read_added_tokens(root);
    parsed.prefix_id = read_prefix_id(path, root);
    return parsed;
  } catch (const json::exception& error) {
    throw Error("tokenizer " + path + ": malformed (" + error.what() + ")");
  }
}

}  // namespace fedkseed::bpe
