// The tokenizer a model folder asks for: a tokenizer.json (BpeTokenizer) or sentencepiece
// (through the plugin of sentencepiece_api.h) behind a pimpl, plus the Hugging Face side files
// that define added and special tokens.
#include "fedkseed/model/tokenizer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "fedkseed/common/error.h"
#include "fedkseed/model/bpe_tokenizer.h"
#include "fedkseed/model/model_dir.h"
#include "sentencepiece_api.h"
#include "tokenizer_files.h"

namespace fedkseed {
namespace {

using nlohmann::json;

// A string that encode() maps to one id instead of running sentencepiece over it.
struct SpecialToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false;  // swallow whitespace before it (transformers AddedToken)
  bool rstrip = false;  // swallow whitespace after it
  // Matched after the fast tokenizer's normalizer (prepend "▁", " " -> "▁"), so only where
  // a space or the segment start precedes it, swallowing that space: what transformers 4.35
  // does with a non-special token from added_tokens.json (e.g. DataJuicer's <SEP>).
  bool normalized = false;
};

// "bos_token" etc. are either a string, an AddedToken object {"content": ...} or null.
std::optional<std::string> token_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

// What every kind of tokenizer provides (the public methods' contracts are in tokenizer.h).
struct Tokenizer::Impl {
  virtual ~Impl() = default;
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual bool newline_is_boundary() const = 0;
  virtual int64_t bos_id() const = 0;
  virtual int64_t eos_id() const = 0;
  virtual int64_t pad_id() const = 0;
  virtual int64_t vocab_size() const = 0;
};

namespace {

// A tokenizer.json folder. Byte-level vocabularies hold tokens that span a newline
// ("\n\n", ".\n"), so lines are never tokenised on their own.
struct BpeImpl final : Tokenizer::Impl {
  explicit BpeImpl(BpeTokenizer tokenizer) : bpe(std::move(tokenizer)) {}
  std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
    return bpe.encode(text, add_bos);
  }
  std::string decode(const std::vector<int64_t>& ids) const override { return bpe.decode(ids); }
  bool newline_is_boundary() const override { return false; }
  int64_t bos_id() const override { return bpe.bos_id(); }
  int64_t eos_id() const override { return bpe.eos_id(); }
  int64_t pad_id() const override { return bpe.pad_id(); }
  int64_t vocab_size() const override { return bpe.vocab_size(); }
  BpeTokenizer bpe;
};

struct SentencepieceImpl final : Tokenizer::Impl {
  std::unique_ptr<spm::Processor> sp{spm::api().new_processor()};
  std::unique_ptr<spm::Processor> sp_no_prefix{spm::api().new_processor()};  // sp without the dummy "▁" prefix
  std::vector<SpecialToken> specials;  // matched longest-first at each position
  std::vector<bool> skip_on_decode;    // indexed by id
  std::array<bool, 256> first_bytes{};  // first bytes of specials: a cheap pre-check
  int64_t bos = 1, eos = 2, pad = -1, unk = 0, size = 0;
  bool newline_boundary = true;
  bool any_normalized = false;

  void add_special(const std::string& content, int64_t id, bool lstrip, bool rstrip, bool normalized) {
    if (content.empty()) return;
    for (auto& special : specials) {
      if (special.content == content) {
        special = {content, id, lstrip, rstrip, normalized};
        return;
      }
    }
    specials.push_back({content, id, lstrip, rstrip, normalized});
    first_bytes[static_cast<unsigned char>(content[0])] = true;
    size = std::max(size, id + 1);
  }

  // The id of a token string: an added token, else a sentencepiece piece, else a new id
  // after the vocabulary (what transformers' add_special_tokens does, e.g. OpenLLaMA's [PAD]).
  // A special token is never normalized.
  int64_t resolve(const std::string& content) {
    for (auto& special : specials) {
      if (special.content == content) {
        special.normalized = false;
        return special.id;
      }
    }
    const int piece = sp->piece_to_id(content);
    const int64_t id = sp->id_to_piece(piece) == content ? piece : size;
    add_special(content, id, false, false, false);
    return id;
  }

  // The longest token of the `normalized` kind whose content starts at text[pos].
  const SpecialToken* match_at(const std::string& text, size_t pos, bool normalized) const {
    const SpecialToken* best = nullptr;
    for (const auto& special : specials) {
      if (special.normalized == normalized && text.compare(pos, special.content.size(), special.content) == 0 &&
          (best == nullptr || special.content.size() > best->content.size())) {
        best = &special;
      }
    }
    return best;
  }

  void encode_piece(const spm::Processor& processor, const std::string& text, std::vector<int64_t>& out) const {
    if (text.empty()) return;
    std::vector<int> ids;
    const std::string failure = processor.encode(text, &ids);
    if (!failure.empty()) throw Error("tokenizer: sentencepiece failed to encode text: " + failure);
    out.insert(out.end(), ids.begin(), ids.end());
  }

  // A text between non-normalized tokens, as the fast tokenizer sees it: normalized as a
  // whole (" " + text, without a further dummy prefix) and split at " " + a normalized token.
  void encode_segment(const std::string& text, std::vector<int64_t>& out) const {
    if (!any_normalized || text.empty()) return encode_piece(*sp, text, out);
    const std::string spaced = " " + text;
    size_t start = 0;
    for (size_t pos = 0; pos < spaced.size(); ++pos) {
      const SpecialToken* token = spaced[pos] == ' ' ? match_at(spaced, pos + 1, true) : nullptr;
      if (token == nullptr) continue;
      encode_piece(*sp_no_prefix, spaced.substr(start, pos - start), out);
      out.push_back(token->id);
      start = pos + 1 + token->content.size();
      pos = start - 1;
    }
    encode_piece(*sp_no_prefix, spaced.substr(start), out);
  }

  std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int64_t> ids;
    if (add_bos) ids.push_back(bos);
    size_t start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      const SpecialToken* special =
          first_bytes[static_cast<unsigned char>(text[pos])] ? match_at(text, pos, false) : nullptr;
      if (special == nullptr) {
        ++pos;
        continue;
      }
      size_t end = pos;
      if (special->lstrip) {
        while (end > start && is_space(text[end - 1])) --end;
      }
      encode_segment(text.substr(start, end - start), ids);
      ids.push_back(special->id);
      pos += special->content.size();
      if (special->rstrip) {
        while (pos < text.size() && is_space(text[pos])) ++pos;
      }
      start = pos;
    }
    encode_segment(text.substr(start), ids);
    return ids;
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::vector<int> kept;
    kept.reserve(ids.size());
    const int64_t pieces = sp->piece_size();
    for (const int64_t id : ids) {
      if (id >= 0 && id < pieces && !skip_on_decode[id]) kept.push_back(static_cast<int>(id));
    }
    return sp->decode_ids(kept);
  }

  bool newline_is_boundary() const override { return newline_boundary; }
  int64_t bos_id() const override { return bos; }
  int64_t eos_id() const override { return eos; }
  int64_t pad_id() const override { return pad; }
  int64_t vocab_size() const override { return size; }
};

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

std::unique_ptr<SentencepieceImpl> load_sentencepiece(const std::string& model_dir) {
  auto impl = std::make_unique<SentencepieceImpl>();
  const std::string model_path = model_dir + "/tokenizer.model";
  if (!std::filesystem::is_regular_file(model_path)) {
    throw Error("tokenizer " + model_path + ": file not found");
  }
  const std::string failure = impl->sp->load(model_path);
  if (!failure.empty()) throw Error("tokenizer " + model_path + ": not a sentencepiece model (" + failure + ")");
  // Appending NormalizerSpec{add_dummy_prefix: false} (field 3 {field 3 = 0}) overrides that
  // one field: protobuf merges a repeated message field and keeps the last scalar.
  const std::string raw_failure = impl->sp_no_prefix->load_from_serialized_proto(
      impl->sp->serialized_model_proto() + std::string("\x1a\x02\x18\x00", 4));
  if (!raw_failure.empty()) {
    throw Error("tokenizer " + model_path + ": cannot disable its dummy prefix (" + raw_failure + ")");
  }
  impl->size = impl->sp->piece_size();
  impl->unk = impl->sp->unk_id();
  impl->bos = impl->sp->bos_id();
  impl->eos = impl->sp->eos_id();
  impl->pad = impl->sp->pad_id();

  const auto config = read_json_if_present(model_dir + "/tokenizer_config.json");
  const auto added = read_json_if_present(model_dir + "/added_tokens.json");
  const auto special_map = read_json_if_present(model_dir + "/special_tokens_map.json");
  try {
    if (added && added->is_object()) {
      for (const auto& [content, id] : added->items()) {
        impl->add_special(content, id.get<int64_t>(), false, false, /*normalized=*/true);
      }
    }
    if (config && config->contains("added_tokens_decoder")) {
      for (const auto& [id, token] : (*config)["added_tokens_decoder"].items()) {
        const bool special = token.value("special", false);
        impl->add_special(token.at("content").get<std::string>(), std::stoll(id), token.value("lstrip", false),
                          token.value("rstrip", false), token.value("normalized", !special));
      }
    }
  } catch (const std::exception& error) {
    throw Error("tokenizer " + model_dir + ": malformed added tokens (" + error.what() + ")");
  }
  // Control pieces (<s>, </s>) and <unk> are split out of text like added tokens.
  for (int id = 0; id < impl->sp->piece_size(); ++id) {
    if (impl->sp->is_control(id) || impl->sp->is_unknown(id)) {
      impl->add_special(impl->sp->id_to_piece(id), id, false, false, false);
    }
  }
  const auto role = [&](const char* key) -> std::optional<std::string> {
    for (const auto* source : {&config, &special_map}) {
      if (*source && (*source)->contains(key)) {
        if (auto text = token_text((**source)[key])) return text;
      }
    }
    return std::nullopt;
  };
  if (auto text = role("bos_token")) impl->bos = impl->resolve(*text);
  if (auto text = role("eos_token")) impl->eos = impl->resolve(*text);
  if (auto text = role("unk_token")) impl->unk = impl->resolve(*text);
  if (auto text = role("pad_token")) impl->pad = impl->resolve(*text);
  if (special_map && special_map->contains("additional_special_tokens")) {
    for (const auto& token : (*special_map)["additional_special_tokens"]) {
      if (auto text = token_text(token)) impl->resolve(*text);
    }
  }
  for (int id = 0; id < impl->sp->piece_size(); ++id) {
    if (!impl->sp->is_byte(id) && impl->sp->id_to_piece(id).find('\n') != std::string::npos) {
      impl->newline_boundary = false;
    }
  }
  for (const auto& special : impl->specials) {
    if (special.content.find('\n') != std::string::npos) impl->newline_boundary = false;
    impl->any_normalized = impl->any_normalized || special.normalized;
  }
  impl->skip_on_decode.assign(impl->size, false);
  for (const auto& special : impl->specials) impl->skip_on_decode[special.id] = true;
  return impl;
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& model) {
  const std::string model_dir = resolve_model_dir(model);
  if (std::filesystem::is_regular_file(model_dir + "/tokenizer.json")) {
    return Tokenizer(std::make_unique<BpeImpl>(BpeTokenizer::load(model_dir)));
  }
  return Tokenizer(load_sentencepiece(model_dir));
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  return impl_->encode(text, add_bos);
}
std::string Tokenizer::decode(const std::vector<int64_t>& ids) const { return impl_->decode(ids); }
bool Tokenizer::newline_is_boundary() const { return impl_->newline_is_boundary(); }
int64_t Tokenizer::bos_id() const { return impl_->bos_id(); }
int64_t Tokenizer::eos_id() const { return impl_->eos_id(); }
int64_t Tokenizer::pad_id() const { return impl_->pad_id(); }
int64_t Tokenizer::vocab_size() const { return impl_->vocab_size(); }

void train_tokenizer(const std::vector<std::string>& corpus_lines, const std::string& out_dir, int vocab_size) {
  // LLaMA's own trainer settings, except a vocabulary sized for small test models.
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},          {"vocab_size", std::to_string(vocab_size)},
      {"byte_fallback", "true"},      {"split_digits", "true"},
      {"unk_id", "0"},                {"bos_id", "1"},
      {"eos_id", "2"},                {"pad_id", "-1"},
      {"character_coverage", "1.0"},  {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "true"},   {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"}, {"hard_vocab_limit", "false"},
      {"minloglevel", "2"}};
  // One sentence per line, as LLaMA's trainer saw it: no piece then spans a newline.
  std::vector<std::string> sentences;
  for (const auto& text : corpus_lines) {
    for (size_t start = 0; start <= text.size();) {
      const size_t end = std::min(text.find('\n', start), text.size());
      sentences.push_back(text.substr(start, end - start));
      start = end + 1;
    }
  }
  if (std::all_of(sentences.begin(), sentences.end(), [](const std::string& line) { return line.empty(); })) {
    throw Error("train_tokenizer: the corpus has no non-empty line");
  }
  std::string model;
  const std::string failure = spm::api().train(args, sentences, &model);
  if (!failure.empty()) throw Error("train_tokenizer: sentencepiece training failed: " + failure);

  std::error_code ignored;
  std::filesystem::create_directories(out_dir, ignored);
  const json config = {{"tokenizer_class", "LlamaTokenizer"}, {"add_bos_token", true},
                       {"add_eos_token", false},             {"bos_token", "<s>"},
                       {"eos_token", "</s>"},                {"unk_token", "<unk>"},
                       {"pad_token", nullptr},               {"legacy", true},
                       {"clean_up_tokenization_spaces", false}};
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"tokenizer.model", model},
                                    {"tokenizer_config.json", config.dump(2) + "\n"}}) {
    std::ofstream out(out_dir + "/" + name, std::ios::binary);
    out << bytes;
    if (!out) throw Error("train_tokenizer: cannot write " + out_dir + "/" + name);
  }
}

}  // namespace fedkseed
