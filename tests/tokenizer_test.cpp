// Tokenizer: parity with the reference's transformers 4.35 fast tokenizer (a committed
// fixture) and with transformers 5 on the real LLaMA tokenizer.model (read in place from
// ../shared/data), added tokens (tokenizer_config.json, added_tokens.json), decode, training.
#include "fedkseed/model/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/data/batch.h"
#include "test_util.h"

namespace fedkseed {
namespace {

const std::vector<std::string> kTexts = {
    "Hello world", " leading space", "  two leading", "trailing  ", "line1\nline2\n\n  indented",
    "def f(x):\n    return x**2  # square\n\tTabbed()", "{\"key\": [1, 2.5e-3]} && x->y != z;",
    "Ünïcödé 日本語 中文 한국어 Ελληνικά", "emoji 😀🚀👍🏽 family 👨‍👩‍👧", "a</s>b", "x <s> y", "<unk>?",
    "   ", "", "\n", "\n\n\n", "multiple     spaces  here", "Hello</s>", "a<PAD>b<CLS> c", "x<MASK>",
    "Below is an instruction that describes a task.\n\n### Instruction:\nSay hi\n\n### Response:Hi there",
};

std::string llama_model() {
  const std::string data = test::shared_data_dir();
  return data.empty() ? "" : data + "/tokenizers/llama/tokenizer.model";
}

// A folder whose tokenizer.model is a symlink to the shared file (never a copy).
std::string linked_tokenizer_dir(const std::string& config_json) {
  const std::string dir = test::make_temp_dir("tokenizer");
  std::filesystem::create_symlink(llama_model(), dir + "/tokenizer.model");
  if (!config_json.empty()) test::write_text(dir + "/tokenizer_config.json", config_json);
  return dir;
}

const char* kDataJuicerConfig = R"({"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>",
  "unk_token": "<unk>", "pad_token": "<PAD>", "legacy": true, "tokenizer_class": "LlamaTokenizer",
  "added_tokens_decoder": {
    "32000": {"content": "<CLS>", "lstrip": false, "normalized": false, "rstrip": false, "special": true},
    "32001": {"content": "<SEP>", "lstrip": false, "normalized": false, "rstrip": false, "special": true},
    "32002": {"content": "<EOD>", "lstrip": false, "normalized": false, "rstrip": false, "special": true},
    "32003": {"content": "<MASK>", "lstrip": false, "normalized": false, "rstrip": false, "special": true},
    "32004": {"content": "<PAD>", "lstrip": false, "normalized": false, "rstrip": false, "special": true}}})";

// Runs scripts/parity/tokenizer_reference.py on `request`; returns its JSON answer.
nlohmann::json transformers_reference(const nlohmann::json& request) {
  const std::string dir = test::make_temp_dir("tokenizer-ref");
  test::write_text(dir + "/in.json", request.dump());
  const auto result = test::run_command(test::python() + " " FEDKSEED_SOURCE_DIR
                                        "/scripts/parity/tokenizer_reference.py " + dir + "/in.json " + dir + "/out.json");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return nlohmann::json::parse(test::read_text(dir + "/out.json"));
}

// Encodes kTexts with `dir` here and in transformers, and decodes our ids in both.
void expect_parity(const std::string& dir) {
  const Tokenizer tokenizer = Tokenizer::load(dir);
  std::vector<std::vector<int64_t>> ours;
  for (const auto& text : kTexts) ours.push_back(tokenizer.encode(text));
  const auto reference = transformers_reference({{"model_dir", dir}, {"texts", kTexts}, {"decode_ids", ours}});
  for (size_t i = 0; i < kTexts.size(); ++i) {
    EXPECT_EQ(ours[i], reference["encode"][i].get<std::vector<int64_t>>()) << "text: '" << kTexts[i] << "'";
    EXPECT_EQ(tokenizer.decode(ours[i]), reference["decode"][i].get<std::string>()) << "text: '" << kTexts[i] << "'";
  }
  EXPECT_EQ(tokenizer.vocab_size(), reference["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer.pad_id(), reference["pad_id"].is_null() ? -1 : reference["pad_id"].get<int64_t>());
}

// tests/data/llama_tokenizer_hf435.json, written by scripts/parity/tokenizer_hf435.py with
// transformers 4.35.0 / tokenizers 0.14.1 (the reference's versions).
nlohmann::json hf435_fixture() {
  std::ifstream in(FEDKSEED_SOURCE_DIR "/tests/data/llama_tokenizer_hf435.json");
  return nlohmann::json::parse(in);
}

class TokenizerLlama : public ::testing::Test {
 protected:
  void SetUp() override {
    if (llama_model().empty()) GTEST_SKIP() << "../shared/data is absent: no LLaMA tokenizer.model to test against";
  }
};

TEST_F(TokenizerLlama, MatchesTheReferencesFastTokenizer) {
  const auto fixture = hf435_fixture();
  ASSERT_EQ(fixture["transformers"], "4.35.0");
  ASSERT_EQ(fixture["tokenizer_class"], "LlamaTokenizerFast");
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(""));
  const auto& texts = fixture["texts"];
  ASSERT_GE(texts.size(), 40u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto text = texts[i].get<std::string>();
    EXPECT_EQ(tokenizer.encode(text), fixture["ids"][i].get<std::vector<int64_t>>()) << "text: '" << text << "'";
  }
}

// DataJuicer's layout: added_tokens.json (non-special <CLS>..<MASK>, matched only after a
// space in 4.35's fast tokenizer) and special_tokens_map.json making <PAD> the pad token.
TEST_F(TokenizerLlama, DataJuicerAddedTokensJsonMatchesTheReference) {
  const auto fixture = hf435_fixture()["datajuicer"];
  const std::string dir = linked_tokenizer_dir("");
  test::write_text(dir + "/added_tokens.json", fixture["added_tokens"].dump());
  test::write_text(dir + "/special_tokens_map.json", fixture["special_tokens_map"].dump());
  const Tokenizer tokenizer = Tokenizer::load(dir);
  EXPECT_EQ(tokenizer.pad_id(), 32004);
  EXPECT_EQ(tokenizer.pad_id(), fixture["pad_id"].get<int64_t>());
  EXPECT_EQ(tokenizer.vocab_size(), fixture["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer.encode("x<PAD>y"), (std::vector<int64_t>{1, 921, 32004, 343}));
  EXPECT_EQ(tokenizer.encode("a <SEP> b"), (std::vector<int64_t>{1, 263, 32001, 289}));
  for (size_t i = 0; i < fixture["texts"].size(); ++i) {
    const auto text = fixture["texts"][i].get<std::string>();
    EXPECT_EQ(tokenizer.encode(text), fixture["ids"][i].get<std::vector<int64_t>>()) << "text: '" << text << "'";
  }
  EXPECT_EQ(tokenizer.decode({1, 263, 32001, 289, 32004}), "a b") << "added tokens are skipped on decode";
}

TEST_F(TokenizerLlama, MatchesTransformersSlowTokenizer) {
  if (!test::python_has("transformers")) GTEST_SKIP() << "the test Python lacks transformers";
  expect_parity(linked_tokenizer_dir(R"({"tokenizer_class": "LlamaTokenizer", "legacy": true,
      "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})"));
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(""));
  EXPECT_EQ(tokenizer.encode("Hello world"), (std::vector<int64_t>{1, 15043, 3186}));
  EXPECT_EQ(tokenizer.encode("Hello world", false), (std::vector<int64_t>{15043, 3186}));
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.pad_id(), -1);
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
}

TEST_F(TokenizerLlama, AddedTokensFromTokenizerConfig) {
  if (!test::python_has("transformers")) GTEST_SKIP() << "the test Python lacks transformers";
  const std::string dir = linked_tokenizer_dir(kDataJuicerConfig);
  expect_parity(dir);
  const Tokenizer tokenizer = Tokenizer::load(dir);
  EXPECT_EQ(tokenizer.pad_id(), 32004);
  EXPECT_EQ(tokenizer.vocab_size(), 32005);
  EXPECT_EQ(tokenizer.encode("x<MASK>"), (std::vector<int64_t>{1, 921, 32003}));
  EXPECT_EQ(batch_pad_id(tokenizer, 32000), 2) << "pad outside the embedding falls back to EOS";
  EXPECT_EQ(batch_pad_id(tokenizer, 32128), 32004);
}

TEST_F(TokenizerLlama, DecodeRoundTripsPlainText) {
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(""));
  for (const auto& text : kTexts) {
    if (text.find('<') != std::string::npos) continue;  // special tokens are dropped on decode
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
  }
  EXPECT_EQ(tokenizer.decode({1, 15043, 2, 0, 99999, -5, 3186}), "Hello world") << "specials and bad ids skipped";
}

TEST(TokenizerLoad, MissingAndMalformedFilesAreNamed) {
  const std::string empty = test::make_temp_dir("tokenizer-missing");
  try {
    Tokenizer::load(empty);
    FAIL() << "no error for a folder without tokenizer.model";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(empty + "/tokenizer.model"), std::string::npos) << error.what();
  }
  test::write_text(empty + "/tokenizer.model", "not a model");
  EXPECT_THROW(Tokenizer::load(empty), Error);
  if (llama_model().empty()) return;
  const std::string broken = linked_tokenizer_dir("{\"pad_token\": ");
  try {
    Tokenizer::load(broken);
    FAIL() << "no error for a malformed tokenizer_config.json";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("tokenizer_config.json"), std::string::npos) << error.what();
  }
}

TEST(TokenizerTrain, OutputLoadsInTransformersAndEncodesIdentically) {
  if (!test::python_has("transformers")) GTEST_SKIP() << "the test Python lacks transformers";
  std::vector<std::string> corpus;
  for (int i = 0; i < 400; ++i) {
    corpus.push_back("Record " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog.");
    corpus.push_back("What is " + std::to_string(i % 10) + " plus " + std::to_string(i % 7) + "? Answer: yes");
  }
  const std::string dir = test::make_temp_dir("tokenizer-trained");
  train_tokenizer(corpus, dir, 400);
  const Tokenizer tokenizer = Tokenizer::load(dir);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  const std::vector<std::string> simple = {"the quick brown fox", "What is 12 plus 3?", "unseen ßé 日本 text"};
  std::vector<std::vector<int64_t>> ours;
  for (const auto& text : kTexts) ours.push_back(tokenizer.encode(text));
  const auto reference = transformers_reference(
      {{"model_dir", dir}, {"texts", kTexts}, {"decode_ids", ours}, {"simple_texts", simple}});
  for (size_t i = 0; i < kTexts.size(); ++i) {
    EXPECT_EQ(ours[i], reference["encode"][i].get<std::vector<int64_t>>()) << "text: '" << kTexts[i] << "'";
  }
  // transformers' default LlamaTokenizer (Rust backend) agrees on single-spaced text.
  for (size_t i = 0; i < simple.size(); ++i) {
    EXPECT_EQ(tokenizer.encode(simple[i]), reference["llama_encode_simple"][i].get<std::vector<int64_t>>()) << simple[i];
  }
  EXPECT_THROW(train_tokenizer({}, dir, 400), Error);
}

}  // namespace
}  // namespace fedkseed
