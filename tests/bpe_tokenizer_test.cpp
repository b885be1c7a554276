// tokenizer.json (BpeTokenizer through Tokenizer::load): ids, decoded text and special ids
// equal to the `tokenizers` package / transformers, from fixtures that
// scripts/parity/bpe_tokenizer_fixtures.py writes into tests/data/bpe/ (committed synthetic
// tokenizers of each family's design, plus real files read from .cache/tokenizers/ when
// present); bad tokenizer.json files give one error naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/data/example.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed {
namespace {

using nlohmann::json;

const std::string kFixtures = FEDKSEED_SOURCE_DIR "/tests/data/bpe";

json read_fixture(const std::string& name) {
  std::ifstream in(kFixtures + "/" + name + ".expected.json");
  if (!in) throw std::runtime_error("fixture " + kFixtures + "/" + name + ".expected.json is missing");
  return json::parse(in);
}

// The text of a case: inline, or a Natural Instructions task field read from ../shared/data
// (each task file parsed once).
std::string case_text(const json& entry) {
  if (entry.contains("text")) return entry["text"].get<std::string>();
  static std::map<std::string, json> tasks;
  const std::string name = entry["ni"]["task"].get<std::string>();
  if (tasks.count(name) == 0) {
    const std::string path = test::shared_data_dir() + "/natural-instructions/tasks/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    tasks[name] = json::parse(in);
  }
  const json& task = tasks[name];
  const std::string field = entry["ni"]["field"];
  if (field == "definition") return task["Definition"][0];
  if (field == "input") return task["Instances"][0]["input"];
  return task["Instances"][0]["output"][0];
}

// Checks every case of `fixture` (probes, and the Natural Instructions texts when
// `with_ni`) against the tokenizer in `dir`.
void expect_parity(const json& fixture, const std::string& dir, bool with_ni) {
  const Tokenizer tokenizer = Tokenizer::load(dir);
  EXPECT_EQ(tokenizer.vocab_size(), fixture["vocab_size"].get<int64_t>());
  EXPECT_EQ(tokenizer.eos_id(), fixture["eos_id"].get<int64_t>());
  EXPECT_EQ(tokenizer.pad_id(), fixture["pad_id"].is_null() ? -1 : fixture["pad_id"].get<int64_t>());
  EXPECT_FALSE(tokenizer.newline_is_boundary());
  size_t checked = 0;
  for (const auto& entry : fixture["cases"]) {
    if (entry.contains("ni") && !with_ni) continue;
    const std::string text = case_text(entry);
    const auto with_bos = tokenizer.encode(text, true);
    EXPECT_EQ(tokenizer.encode(text, false), entry["ids"].get<std::vector<int64_t>>()) << "text: '" << text << "'";
    EXPECT_EQ(with_bos, entry["ids_with_bos"].get<std::vector<int64_t>>()) << "text: '" << text << "'";
    EXPECT_EQ(tokenizer.decode(with_bos), entry["decoded"].get<std::string>()) << "text: '" << text << "'";
    ++checked;
  }
  EXPECT_GT(checked, 30u);
  // The reference tokenises prompt + response + the EOS text; make_example appends the EOS id.
  for (const auto& entry : fixture["prompt_cases"]) {
    const Example example = make_example(tokenizer, {entry["prompt"], entry["response"]}, 1024);
    const auto expected = entry["input_ids"].get<std::vector<int64_t>>();
    EXPECT_EQ(example.input_ids, expected) << "prompt: '" << entry["prompt"] << "'";
    const size_t masked = entry["prompt_length"].get<size_t>();
    ASSERT_EQ(example.labels.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(example.labels[i], i < masked ? kIgnoreIndex : expected[i]);
    EXPECT_EQ(example.labels.back(), tokenizer.eos_id());
  }
  EXPECT_GT(fixture["prompt_cases"].size(), 0u);
}

class SyntheticFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(SyntheticFamily, ProbesMatchTokenizers) {
  expect_parity(read_fixture(GetParam()), kFixtures + "/" + GetParam(), false);
}

TEST_P(SyntheticFamily, NaturalInstructionsMatchTokenizers) {
  if (test::shared_data_dir().empty()) GTEST_SKIP() << "../shared/data is absent: no Natural Instructions texts";
  expect_parity(read_fixture(GetParam()), kFixtures + "/" + GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(BpeTokenizer, SyntheticFamily, ::testing::Values("llama3", "qwen2", "smollm2", "mistral"));

// Each real-<name>.expected.json was written from .cache/tokenizers/<name>/; the test runs
// where that folder holds the same tokenizer.json (same sha256).
TEST(BpeTokenizer, RealFilesMatchTokenizers) {
  size_t fixtures = 0, checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(kFixtures)) {
    const std::string name = file.path().filename().string();
    if (name.rfind("real-", 0) != 0) continue;
    ++fixtures;
    const json fixture = read_fixture(name.substr(0, name.size() - std::string(".expected.json").size()));
    const std::string dir = FEDKSEED_SOURCE_DIR "/.cache/tokenizers/" + fixture["name"].get<std::string>();
    if (!std::filesystem::is_regular_file(dir + "/tokenizer.json")) continue;
    const auto sum = test::run_command("sha256sum '" + dir + "/tokenizer.json'");
    ASSERT_EQ(sum.out.substr(0, 64), fixture["tokenizer_json_sha256"].get<std::string>())
        << dir << " holds another file";
    SCOPED_TRACE(dir);
    expect_parity(fixture, dir, !test::shared_data_dir().empty());
    ++checked;
  }
  ASSERT_GT(fixtures, 0u) << "no real-*.expected.json in " << kFixtures;
  if (checked == 0) {
    GTEST_SKIP() << "no real tokenizer.json under .cache/tokenizers/ (see scripts/parity/bpe_tokenizer_fixtures.py)";
  }
}

TEST(BpeTokenizer, QwenHasNoBosAndLlamaThreeHasOne) {
  const Tokenizer qwen = Tokenizer::load(kFixtures + "/qwen2");
  EXPECT_EQ(qwen.bos_id(), -1);
  EXPECT_EQ(qwen.encode("hi", true), qwen.encode("hi", false));
  const Tokenizer llama = Tokenizer::load(kFixtures + "/llama3");
  EXPECT_EQ(llama.encode("hi", true).front(), llama.bos_id());
  EXPECT_EQ(llama.encode("<|end_of_text|>", false), std::vector<int64_t>{llama.eos_id()});
}

// A folder holding a copy of a fixture's tokenizer.json with `edit` applied, its
// tokenizer_config.json, and `config` as config.json when not empty.
std::string edited_folder(const std::string& family, const std::function<void(json&)>& edit,
                          const std::string& config = "") {
  std::ifstream in(kFixtures + "/" + family + "/tokenizer.json");
  json spec = json::parse(in);
  edit(spec);
  const std::string dir = test::make_temp_dir("bpe-bad");
  test::write_text(dir + "/tokenizer.json", spec.dump());
  const std::string config_file = "/tokenizer_config.json";
  test::write_text(dir + config_file, test::read_text(kFixtures + "/" + family + config_file));
  if (!config.empty()) test::write_text(dir + "/config.json", config);
  return dir;
}

std::string load_error(const std::string& dir) {
  try {
    Tokenizer::load(dir);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Llama-3's tokenizer.json sets ignore_merges: a word that is itself a vocabulary token is
// that token even where the merges cannot build it (588 of Llama-3's tokens, e.g. " việc").
TEST(BpeTokenizer, IgnoreMergesKeepsAWordThatIsAToken) {
  int64_t word_id = 0;
  const auto add_word = [&](json& spec, bool ignore_merges) {
    json& vocab = spec["model"]["vocab"];
    for (const auto& item : vocab.items()) word_id = std::max(word_id, item.value().get<int64_t>() + 1);
    vocab["Ġqqqq"] = word_id;  // no merge builds it
    spec["model"]["ignore_merges"] = ignore_merges;
  };
  const Tokenizer ignoring = Tokenizer::load(edited_folder("llama3", [&](json& spec) { add_word(spec, true); }));
  const Tokenizer merging = Tokenizer::load(edited_folder("llama3", [&](json& spec) { add_word(spec, false); }));
  EXPECT_EQ(ignoring.encode(" qqqq", false), std::vector<int64_t>{word_id});
  EXPECT_GT(merging.encode(" qqqq", false).size(), 1u);
  EXPECT_EQ(ignoring.encode(" qqqqq", false), merging.encode(" qqqqq", false));  // not a token: merged as usual
}

TEST(BpeTokenizer, RejectsOtherModelTypes) {
  for (const std::string type : {"WordPiece", "Unigram", "WordLevel"}) {
    const std::string dir = edited_folder("qwen2", [&](json& spec) { spec["model"]["type"] = type; });
    const std::string message = load_error(dir);
    EXPECT_NE(message.find(dir + "/tokenizer.json"), std::string::npos) << message;
    EXPECT_NE(message.find("model type '" + type + "' is not supported"), std::string::npos) << message;
  }
}

TEST(BpeTokenizer, RejectsMalformedFiles) {
  const std::string dir = test::make_temp_dir("bpe-bad");
  test::write_text(dir + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
  EXPECT_NE(load_error(dir).find(dir + "/tokenizer.json: not valid JSON"), std::string::npos) << load_error(dir);
  const std::string no_merges = edited_folder("qwen2", [](json& spec) { spec["model"].erase("merges"); });
  EXPECT_NE(load_error(no_merges).find(no_merges + "/tokenizer.json: malformed"), std::string::npos)
      << load_error(no_merges);
  const std::string bad_merge = edited_folder("qwen2", [](json& spec) { spec["model"]["merges"][0] = "a b c"; });
  EXPECT_NE(load_error(bad_merge).find("merge 'a b c' is not two tokens"), std::string::npos) << load_error(bad_merge);
}

TEST(BpeTokenizer, RejectsVocabularyBeyondTheEmbeddings) {
  const std::string dir = edited_folder("qwen2", [](json&) {}, R"({"model_type": "qwen2", "vocab_size": 1000})");
  const std::string message = load_error(dir);
  EXPECT_NE(message.find(dir + "/tokenizer.json: its ids go up to 1095"), std::string::npos) << message;
  EXPECT_NE(message.find("vocab_size 1000"), std::string::npos) << message;
}

TEST(BpeTokenizer, CommandLineReportsOneErrorLine) {
  const std::string dir = edited_folder("smollm2", [](json& spec) { spec["model"]["type"] = "Unigram"; });
  const auto result = test::run_fedkseed("data-stats --dataset dolly --model '" + dir + "' --data_dir '" + dir + "'");
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err, "fedkseed: error: tokenizer " + dir + "/tokenizer.json: model type 'Unigram' is not supported "
                        "(only byte-pair encoding, BPE)\n");
}

// A model folder whose tokenizer is tokenizer.json trains, evaluates and generates end to end.
TEST(BpeTokenizer, TrainsATinyModelEndToEnd) {
  const std::string dir = test::make_temp_dir("bpe-train");
  const std::string model = dir + "/model", data = dir + "/data";
  test::write_text(dir + "/config.json", R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1100,
    "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "tie_word_embeddings": false})");
  ASSERT_EQ(test::run_fedkseed("init-model --config " + dir + "/config.json --seed 0 --out " + model).exit_code, 0);
  for (const std::string file : {"tokenizer.json", "tokenizer_config.json"}) {
    test::write_text(model + "/" + file, test::read_text(kFixtures + "/qwen2/" + file));
  }
  ASSERT_EQ(test::run_fedkseed("make-tiny-data --records 40 --seed 0 --out " + data).exit_code, 0);
  const auto run = test::run_fedkseed("train --device cpu --dtype fp32 --model " + model + " --data_dir " + data +
                                      " --dataset dolly --num_clients 2 -m 1 --rounds 1 -K 4 --local_step 2 "
                                      "--eval_metric rouge --eval_max_samples 2 --quiet");
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

}  // namespace
}  // namespace fedkseed
