// Encoding runs tokenizers' order: added tokens are cut out of the raw text, each remaining
// segment is normalized (and cut at normalized added tokens), pre-tokenized into words, and
// each word goes through the BPE model. Special-token roles come from the side files.
#include "fedkseed/model/bpe_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "fedkseed/common/error.h"
#include "tokenizer_json.h"
#include "tokenizer_files.h"

namespace fedkseed {
namespace {

using nlohmann::json;

// "eos_token" etc.: a string, an AddedToken object {"content": ...} or null.
std::optional<std::string> token_text(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

// "eos_token_id" etc. of config.json / generation_config.json: an id or a list (first wins).
std::optional<int64_t> token_id(const std::optional<json>& config, const char* key) {
  if (!config || !config->contains(key)) return std::nullopt;
  const json& value = (*config)[key];
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_array() && !value.empty() && value[0].is_number_integer()) return value[0].get<int64_t>();
  return std::nullopt;
}

}  // namespace

struct BpeTokenizer::Impl {
  bpe::TokenizerJson parts;
  std::unique_ptr<bpe::AddedTokens> added;
  std::unique_ptr<bpe::PreTokenizer> pre_tokenizer;
  int64_t bos = -1, eos = -1, pad = -1, size = 0;

  // The id of a token string named by a config file: an added token, else a vocabulary token.
  int64_t resolve(const std::string& content, const std::string& file) const {
    if (const auto* token = added->by_content(content)) return token->id;
    if (const auto id = parts.model->id_of(content)) return *id;
    throw Error("tokenizer " + file + ": token '" + content + "' is not in tokenizer.json");
  }

  void encode_segment(const std::string& text, bool at_text_start, std::vector<int64_t>& ids) const {
    const std::string normalized = bpe::normalize(parts.normalizer, text);
    for (const auto& segment : added->split(normalized, /*normalized=*/true)) {
      if (segment.id >= 0) {
        ids.push_back(segment.id);
        continue;
      }
      const bool at_start = at_text_start && segment.begin == 0;
      const std::string plain = normalized.substr(segment.begin, segment.end - segment.begin);
      for (const auto& word : pre_tokenizer->split(plain, at_start)) parts.model->tokenize(word, ids);
    }
  }
};

BpeTokenizer::BpeTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::load(const std::string& model_dir) {
  const std::string path = model_dir + "/tokenizer.json";
  auto impl = std::make_unique<Impl>();
  impl->parts = bpe::read_tokenizer_json(path);
  impl->added = std::make_unique<bpe::AddedTokens>(impl->parts.added_tokens);
  impl->pre_tokenizer = std::make_unique<bpe::PreTokenizer>(impl->parts.pre_tokenizer, "tokenizer " + path);
  impl->size = impl->parts.model->size();
  for (const auto& token : impl->parts.added_tokens) impl->size = std::max(impl->size, token.id + 1);
  impl->bos = impl->parts.prefix_id.value_or(-1);

  const std::string config_path = model_dir + "/tokenizer_config.json";
  const auto tokenizer_config = read_json_if_present(config_path);
  const auto model_config = read_json_if_present(model_dir + "/config.json");
  const auto generation_config = read_json_if_present(model_dir + "/generation_config.json");
  const auto role = [&](const char* token_key, const char* id_key) -> int64_t {
    if (tokenizer_config) {
      if (auto text = token_text(*tokenizer_config, token_key)) return impl->resolve(*text, config_path);
    }
    for (const auto* config : {&model_config, &generation_config}) {
      if (auto id = token_id(*config, id_key)) return *id;
    }
    return -1;
  };
  impl->eos = role("eos_token", "eos_token_id");
  impl->pad = role("pad_token", "pad_token_id");
  if (impl->eos < 0) {
    throw Error("tokenizer " + model_dir +
                ": no EOS token (tokenizer_config.json eos_token or config.json eos_token_id)");
  }
  if (auto rows = token_id(model_config, "vocab_size"); rows && impl->size > *rows) {
    throw Error("tokenizer " + path + ": its ids go up to " + std::to_string(impl->size - 1) +
                ", beyond the model's embeddings (config.json vocab_size " + std::to_string(*rows) + ")");
  }
  return BpeTokenizer(std::move(impl));
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int64_t> ids;
  if (add_bos && impl_->bos >= 0) ids.push_back(impl_->bos);
  for (const auto& segment : impl_->added->split(text, /*normalized=*/false)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      impl_->encode_segment(text.substr(segment.begin, segment.end - segment.begin), segment.begin == 0, ids);
    }
  }
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int64_t id : ids) {
    if (const auto* token = impl_->added->by_id(id)) {
      if (!token->special) tokens.push_back(token->content);
    } else if (const auto* token = impl_->parts.model->token_of(id)) {
      tokens.push_back(*token);
    }
  }
  // transformers 5 ignores clean_up_tokenization_spaces for BPE tokenizers.
  return bpe::decode_tokens(impl_->parts.decoder, std::move(tokens));
}

int64_t BpeTokenizer::bos_id() const { return impl_->bos; }
int64_t BpeTokenizer::eos_id() const { return impl_->eos; }
int64_t BpeTokenizer::pad_id() const { return impl_->pad; }
int64_t BpeTokenizer::vocab_size() const { return impl_->size; }

}  // namespace fedkseed
