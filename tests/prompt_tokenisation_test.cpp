// The training ids of Dolly and Natural Instructions records, per model family, as a run makes
// them (load_federated_data over a data folder and a partition file), equal to what the
// reference's Python data code makes: tokens(prompt + response + the EOS text), cut at
// --max_length, labels -100 over tokens(prompt). Families: the real LLaMA sentencepiece
// tokenizer.model (../shared/data) and the small tokenizer.json files of tests/data/bpe
// (byte-level BPE in the Llama-3, Qwen2 and SmolLM2 designs, Metaspace in Mistral's). The
// expected ids are tests/data/prompt_ids.expected.json, written by scripts/parity/prompt_ids.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fedkseed/common/options.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/data/partition.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed {
namespace {

using nlohmann::json;

const json& fixture() {
  static const json value = test::read_json(FEDKSEED_SOURCE_DIR "/tests/data/prompt_ids.expected.json");
  return value;
}

// Every record in the one client and in the test set, in file order.
void write_partition(const std::string& path, const std::string& dataset, const std::string& task, size_t records) {
  RecordGroup all{task, {}};
  for (size_t i = 0; i < records; ++i) all.records.push_back(static_cast<int64_t>(i));
  write_partition_file(path, {dataset, {all}, {all}, true});
}

// The fixture's records as a --data_dir: databricks-dolly-15k.jsonl, one Natural Instructions
// task file named by both splits, and a partition file per dataset (<dataset>.partition.json).
const std::string& data_dir() {
  static const std::string dir = [] {
    const std::string dir = test::make_temp_dir("prompt-ids");
    std::string dolly;
    for (const auto& record : fixture().at("dolly")) dolly += record.dump() + "\n";
    test::write_text(dir + "/databricks-dolly-15k.jsonl", dolly);
    write_partition(dir + "/dolly.partition.json", "dolly", "", fixture().at("dolly").size());

    const json& ni = fixture().at("ni");
    const std::string task = ni.at("task"), root = dir + "/natural-instructions";
    const json task_file = {{"Definition", json::array({ni.at("definition")})}, {"Instances", ni.at("instances")}};
    test::write_text(root + "/tasks/" + task + ".json", task_file.dump());
    for (const char* split : {"train", "test"}) {
      test::write_text(root + "/splits/default/" + split + "_tasks.txt", task + "\n");
    }
    write_partition(dir + "/instruct.partition.json", "instruct", task, ni.at("instances").size());
    return dir;
  }();
  return dir;
}

const json& family(const std::string& name) {
  for (const auto& entry : fixture().at("families")) {
    if (entry.at("name") == name) return entry;
  }
  throw std::runtime_error("no family " + name + " in prompt_ids.expected.json");
}

class PromptTokenisation : public ::testing::TestWithParam<std::string> {};

TEST_P(PromptTokenisation, TrainingIdsEqualTheReferences) {
  const json& entry = family(GetParam());
  const std::string source = entry.at("tokenizer");
  const std::string shared = "shared:";
  if (source.rfind(shared, 0) == 0 && test::shared_data_dir().empty()) {
    GTEST_SKIP() << "../shared/data is absent: no " << source.substr(shared.size());
  }
  const Tokenizer tokenizer = Tokenizer::load(source.rfind(shared, 0) == 0
                                                  ? test::shared_data_dir() + "/" + source.substr(shared.size())
                                                  : std::string(FEDKSEED_SOURCE_DIR) + "/" + source);
  EXPECT_EQ(tokenizer.eos_id(), entry.at("eos_id").get<int64_t>());
  size_t checked = 0;
  for (const auto& [length, datasets] : entry.at("expected").items()) {
    for (const std::string dataset : {"dolly", "instruct"}) {
      TrainOptions options;
      options.dataset = dataset;
      options.data_dir = data_dir();
      options.partition_file = data_dir() + "/" + dataset + ".partition.json";
      options.max_length = std::stoll(length);
      options.zerotask = 0;  // the partition file names the test set; the records have 7 categories, not 8
      const FederatedData data = load_federated_data(options, tokenizer);
      const json& cases = datasets.at(dataset);
      ASSERT_EQ(data.clients.size(), 1u);
      ASSERT_EQ(data.clients[0].size(), cases.size());
      ASSERT_EQ(data.test.size(), cases.size());
      for (size_t i = 0; i < cases.size(); ++i) {
        const auto ids = cases[i].at("input_ids").get<std::vector<int64_t>>();
        std::vector<int64_t> labels = ids;
        std::fill_n(labels.begin(), cases[i].at("masked").get<size_t>(), kIgnoreIndex);
        for (const auto* examples : {&data.clients[0], &data.test}) {
          const std::string where = dataset + " record " + std::to_string(i) + ", --max_length " + length;
          EXPECT_EQ((*examples)[i].input_ids, ids) << where;
          EXPECT_EQ((*examples)[i].labels, labels) << where;
        }
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 * (fixture().at("dolly").size() + fixture().at("ni").at("instances").size()))
      << "--max_length 1024 and one that cuts into the responses";
}

INSTANTIATE_TEST_SUITE_P(Families, PromptTokenisation,
                         ::testing::Values("llama", "llama3", "qwen2", "smollm2", "mistral"));

}  // namespace
}  // namespace fedkseed
