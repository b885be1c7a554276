// Tokenizer: parity with the reference's transformers 4.35 fast tokenizer and with transformers 5
// (committed fixtures) on the real LLaMA tokenizer.model (read in place from ../shared/data),
// added tokens (tokenizer_config.json, added_tokens.json), decode, training (checked in
// transformers now).
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

// tests/data/tokenizer/llama_transformers5.json, written by scripts/parity/tokenizer_llama_fixture.py:
// probe texts and what transformers 5.17 makes of them on the real tokenizer.model, under the
// slow tokenizer's tokenizer_config.json and DataJuicer's.
nlohmann::json transformers5_fixture() { return test::read_json(test::test_data("tokenizer/llama_transformers5.json")); }

std::vector<std::string> probe_texts() { return transformers5_fixture().at("texts").get<std::vector<std::string>>(); }

// Runs scripts/parity/tokenizer_reference.py on `request`; returns its JSON answer.
nlohmann::json transformers_reference(const nlohmann::json& request) {
  const std::string dir = test::make_temp_dir("tokenizer-ref");
  test::write_text(dir + "/in.json", request.dump());
  const auto result = test::run_command(test::python() + " " FEDKSEED_SOURCE_DIR
                                        "/scripts/parity/tokenizer_reference.py " + dir + "/in.json " + dir + "/out.json");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return nlohmann::json::parse(test::read_text(dir + "/out.json"));
}

// The fixture's texts encoded with the LLaMA tokenizer.model under the fixture's `config`
// tokenizer_config.json, and transformers' ids decoded, against transformers' answers.
void expect_transformers5_parity(const std::string& config) {
  const auto fixture = transformers5_fixture();
  const auto sum = test::run_command("sha256sum '" + llama_model() + "'");
  ASSERT_EQ(sum.out.substr(0, 64), fixture.at("tokenizer_model_sha256").get<std::string>())
      << llama_model() << " is not the tokenizer.model the fixture was written from";
  const auto& expected = fixture.at("configs").at(config);
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(expected.at("tokenizer_config").dump()));
  const auto& texts = fixture.at("texts");
  ASSERT_EQ(texts.size(), expected.at("encode").size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto text = texts[i].get<std::string>();
    const auto ids = expected.at("encode")[i].get<std::vector<int64_t>>();
    EXPECT_EQ(tokenizer.encode(text), ids) << "text: '" << text << "'";
    EXPECT_EQ(tokenizer.decode(ids), expected.at("decode")[i].get<std::string>()) << "text: '" << text << "'";
  }
  EXPECT_EQ(tokenizer.vocab_size(), expected.at("vocab_size").get<int64_t>());
  EXPECT_EQ(tokenizer.pad_id(), expected.at("pad_id").is_null() ? -1 : expected.at("pad_id").get<int64_t>());
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
  expect_transformers5_parity("slow");
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(""));
  EXPECT_EQ(tokenizer.encode("Hello world"), (std::vector<int64_t>{1, 15043, 3186}));
  EXPECT_EQ(tokenizer.encode("Hello world", false), (std::vector<int64_t>{15043, 3186}));
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.pad_id(), -1);
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
}

TEST_F(TokenizerLlama, AddedTokensFromTokenizerConfig) {
  expect_transformers5_parity("datajuicer");
  const Tokenizer tokenizer = Tokenizer::load(
      linked_tokenizer_dir(transformers5_fixture().at("configs").at("datajuicer").at("tokenizer_config").dump()));
  EXPECT_EQ(tokenizer.pad_id(), 32004);
  EXPECT_EQ(tokenizer.vocab_size(), 32005);
  EXPECT_EQ(tokenizer.encode("x<MASK>"), (std::vector<int64_t>{1, 921, 32003}));
  EXPECT_EQ(batch_pad_id(tokenizer, 32000), 2) << "pad outside the embedding falls back to EOS";
  EXPECT_EQ(batch_pad_id(tokenizer, 32128), 32004);
}

TEST_F(TokenizerLlama, DecodeRoundTripsPlainText) {
  const Tokenizer tokenizer = Tokenizer::load(linked_tokenizer_dir(""));
  for (const auto& text : probe_texts()) {
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

// The trained tokenizer.model through transformers now.
TEST(TokenizerTrain, OutputLoadsInTransformersAndEncodesIdentically) {
  ASSERT_TRUE(test::python_can_import("transformers"));
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
  const auto texts = probe_texts();
  std::vector<std::vector<int64_t>> ours;
  for (const auto& text : texts) ours.push_back(tokenizer.encode(text));
  const auto reference = transformers_reference(
      {{"model_dir", dir}, {"texts", texts}, {"decode_ids", ours}, {"simple_texts", simple}});
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(ours[i], reference["encode"][i].get<std::vector<int64_t>>()) << "text: '" << texts[i] << "'";
  }
  // transformers' default LlamaTokenizer (Rust backend) agrees on single-spaced text.
  for (size_t i = 0; i < simple.size(); ++i) {
    EXPECT_EQ(tokenizer.encode(simple[i]), reference["llama_encode_simple"][i].get<std::vector<int64_t>>()) << simple[i];
  }
  EXPECT_THROW(train_tokenizer({}, dir, 400), Error);
}

}  // namespace
}  // namespace fedkseed
