// Data layer end to end: Dolly on a synthetic 15k-record file, Natural Instructions on
// ../shared/data (skipped when absent), and the data-stats / make-tiny-data CLI.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include <stdlib.h>

#include "fedkseed/common/error.h"
#include "fedkseed/data/dolly.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/data/synthetic.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed {
namespace test {
std::string tiny_tokenizer_dir();  // data_test.cpp
}  // namespace test
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The real LLaMA tokenizer when ../shared/data has it (realistic token counts), else the tiny one.
std::string tokenizer_dir() {
  const std::string data = test::shared_data_dir();
  return data.empty() ? test::tiny_tokenizer_dir() : data + "/tokenizers/llama";
}

std::string synthetic_dolly_dir(int64_t records) {
  static std::map<int64_t, std::string> made;
  if (made.count(records) == 0) {
    made[records] = test::make_temp_dir("dolly-synthetic");
    write_synthetic_dolly(made[records] + "/databricks-dolly-15k.jsonl", records, 11);
  }
  return made[records];
}

// The real Dolly-15K from ../shared/data when it is there, otherwise a synthetic file of its size.
std::string dolly_15k_dir() {
  const std::string shared = test::shared_data_dir().empty() ? "" : test::shared_data_dir() + "/dolly";
  if (!shared.empty() && std::filesystem::exists(shared + "/databricks-dolly-15k.jsonl")) return shared;
  std::cout << "[ note     ] ../shared/data/dolly/databricks-dolly-15k.jsonl is absent: a synthetic "
               "15,011-record file stands in\n";
  return synthetic_dolly_dir(15011);
}

// The invariants of the reference's split (not its exact assignment, which needs numpy's
// generator): summarization held out as the test set, 200 clients of >= 10 records, sizes and
// label histograms that add up, and an equal split of a subsample.
TEST(DataDollyIntegration, SplitsFifteenThousandRecordsConsistently) {
  TrainOptions options;
  options.dataset = "dolly";
  options.data_dir = dolly_15k_dir();
  const auto records = read_dolly(dolly_file(options.data_dir));
  int64_t summarization = 0;
  for (const auto& record : records) summarization += record.category == "summarization";
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_dir());
  const FederatedData data = load_federated_data(options, tokenizer);

  EXPECT_EQ(static_cast<int64_t>(data.test.size()), summarization);
  EXPECT_EQ(data.test_generation.size(), data.test.size());
  ASSERT_EQ(data.clients.size(), 200u);
  int64_t train = 0;
  for (size_t c = 0; c < data.clients.size(); ++c) {
    EXPECT_GE(data.clients[c].size(), 10u);
    const auto& hist = data.train_label_hist[c];
    EXPECT_EQ(std::accumulate(hist.begin(), hist.end(), int64_t{0}), static_cast<int64_t>(data.clients[c].size()));
    EXPECT_EQ(hist[7], 0) << "summarization is held out";
    train += static_cast<int64_t>(data.clients[c].size());
  }
  EXPECT_EQ(train + summarization, static_cast<int64_t>(records.size())) << "client sizes sum to the train size";

  options.iid = "0";
  options.num_clients = 7;
  options.dataset_subsample = 0.5;
  const FederatedData equal = load_federated_data(options, tokenizer);
  int64_t kept = static_cast<int64_t>(equal.test.size());
  for (const auto& client : equal.clients) kept += static_cast<int64_t>(client.size());
  EXPECT_EQ(kept, static_cast<int64_t>(0.5 * static_cast<double>(records.size())));
  EXPECT_EQ(equal.clients[0].size(), equal.clients[1].size());
}

// Rows of a TSV file as column -> value maps.
std::vector<std::map<std::string, std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::istringstream names(line);
  for (std::string name; std::getline(names, name, '\t');) header.push_back(name);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::istringstream cells(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && std::getline(cells, row[header[i]], '\t'); ++i) {
    }
    rows.push_back(row);
  }
  return rows;
}

TEST(DataNaturalInstructionsIntegration, OneClientPerPresentTrainTaskAsInTheManifest) {
  const std::string shared = test::shared_data_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared/data is absent: no Natural Instructions tasks to load";
  TrainOptions options;
  options.dataset = "instruct";
  options.data_dir = shared;
  const Tokenizer tokenizer = Tokenizer::load(shared + "/tokenizers/llama");
  const auto start = std::chrono::steady_clock::now();
  const FederatedData data = load_federated_data(options, tokenizer);
  std::cout << "[ timing   ] natural instructions (all tasks present) load+tokenise: " << seconds_since(start)
            << " s\n";

  std::map<std::string, int64_t> expected_clients;
  int64_t expected_test = 0;
  for (const auto& row : read_tsv(shared + "/natural-instructions/MANIFEST.tsv")) {
    const int64_t usable = std::stoll(row.at("instances_input_lt_1024_chars"));
    if (row.at("split") == "train" && usable >= 20) expected_clients[row.at("task")] = std::stoll(row.at("reference_sample_size"));
    if (row.at("split") == "test") expected_test += std::stoll(row.at("reference_sample_size"));
  }
  ASSERT_EQ(data.clients.size(), expected_clients.size());
  for (size_t c = 0; c < data.clients.size(); ++c) {
    EXPECT_EQ(static_cast<int64_t>(data.clients[c].size()), expected_clients[data.client_names[c]]) << data.client_names[c];
  }
  EXPECT_EQ(static_cast<int64_t>(data.test.size()), expected_test);
  EXPECT_EQ(data.skipped_tasks, static_cast<int64_t>(read_tsv(shared + "/natural-instructions/MISSING_TASKS.tsv").size()));
  EXPECT_EQ(data.small_tasks, 4);
}

struct Cli {
  std::string data_dir, model_dir;
};

Cli tiny_cli_setup() {
  return {synthetic_dolly_dir(800), test::tiny_tokenizer_dir()};
}

TEST(DataStatsCli, JsonShapeAndPartitionRoundTrip) {
  const Cli cli = tiny_cli_setup();
  const std::string dir = test::make_temp_dir("data-stats");
  const std::string base = "data-stats --dataset dolly --data_dir " + cli.data_dir + " --model " + cli.model_dir +
                           " --num_clients 6 --iid dir0.5 --json";
  const auto first = test::run_fedkseed(base + " --seed 3 --dump_partition " + dir + "/p.json");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto json = nlohmann::json::parse(first.out);
  EXPECT_EQ(json["num_clients"].get<int64_t>(), 6);
  ASSERT_EQ(json["train_sizes"].size(), 6u);
  ASSERT_EQ(json["train_label_hist"].size(), 6u);
  EXPECT_EQ(json["train_label_hist"][0].size(), 8u);
  EXPECT_GT(json["test_size"].get<int64_t>(), 0);
  EXPECT_GT(json["mean_tokens"].get<double>(), 5.0);
  EXPECT_FALSE(json.contains("skipped_tasks"));
  const auto sizes = json["train_sizes"].get<std::vector<int64_t>>();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) + json["test_size"].get<int64_t>(), 800);

  const auto again = test::run_fedkseed(base + " --seed 3");
  EXPECT_EQ(again.out, first.out) << "same seed, same split";
  const auto other = test::run_fedkseed(base + " --seed 4");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(nlohmann::json::parse(other.out)["train_sizes"], json["train_sizes"]);
  const auto reused = test::run_fedkseed(base + " --seed 4 --partition_file " + dir + "/p.json");
  ASSERT_EQ(reused.exit_code, 0) << reused.err;
  EXPECT_EQ(reused.out, first.out) << "the partition file fixes the split whatever the seed";

  const auto table = test::run_fedkseed(base.substr(0, base.size() - 7) + " --seed 3");
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("summarization"), std::string::npos) << table.out;
}

TEST(DataStatsCli, PlotsTheHeatMapWhenMatplotlibIsThere) {
  if (!test::python_has("matplotlib")) GTEST_SKIP() << "the test Python lacks matplotlib";
  setenv("FEDKSEED_PYTHON", test::python().c_str(), 1);
  const Cli cli = tiny_cli_setup();
  const std::string png = test::make_temp_dir("plot") + "/hist.png";
  const auto result = test::run_fedkseed("data-stats --dataset dolly --data_dir " + cli.data_dir + " --model " +
                                         cli.model_dir + " --num_clients 6 --plot " + png);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(test::read_text(png).substr(1, 3), "PNG");
}

TEST(DataStatsCli, BadInputExitsTwoNamingFileAndLine) {
  const Cli cli = tiny_cli_setup();
  const std::string dir = test::make_temp_dir("data-bad");
  std::string text = test::read_text(cli.data_dir + "/databricks-dolly-15k.jsonl");
  text.insert(text.find('\n', text.find('\n') + 1) + 1, "{\"instruction\": \"x\",\n");
  test::write_text(dir + "/databricks-dolly-15k.jsonl", text);
  const auto bad = test::run_fedkseed("data-stats --dataset dolly --data_dir " + dir + " --model " + cli.model_dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find(dir + "/databricks-dolly-15k.jsonl:3: not valid JSON"), std::string::npos) << bad.err;

  const std::string dolly_args = "data-stats --dataset dolly --data_dir " + cli.data_dir + " --model " + cli.model_dir;
  const auto emptied = test::run_fedkseed(dolly_args + " --num_clients 2 --dataset_subsample 0.001");
  EXPECT_EQ(emptied.exit_code, 2);
  EXPECT_EQ(emptied.err.rfind("fedkseed: error: dolly file " + cli.data_dir + "/databricks-dolly-15k.jsonl: ", 0),
            0u) << emptied.err;
  const auto zero = test::run_fedkseed(dolly_args + " --dataset_subsample 0");
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_EQ(zero.err.rfind("fedkseed: error: --dataset_subsample", 0), 0u) << zero.err;
  EXPECT_NE(zero.err.find("accepted: (0, 1]"), std::string::npos) << zero.err;
  const auto too_many = test::run_fedkseed(dolly_args + " --num_clients 100000");
  EXPECT_EQ(too_many.exit_code, 2);
  EXPECT_NE(too_many.err.find("databricks-dolly-15k.jsonl: Dirichlet partition"), std::string::npos) << too_many.err;

  const std::string ni = dir + "/ni/natural-instructions-2.8";
  test::write_text(ni + "/splits/default/train_tasks.txt", "task1_ok\ntask2_broken\ntask3_missing\n");
  test::write_text(ni + "/splits/default/test_tasks.txt", "task1_ok\n");
  test::write_text(ni + "/tasks/task1_ok.json",
                   R"({"Definition": ["Echo."], "Instances": [{"id": "1", "input": "a", "output": ["a"]}]})");
  test::write_text(ni + "/tasks/task2_broken.json", R"({"Definition": ["Echo."], "Instances": [)");
  const std::string ni_args = "data-stats --dataset instruct --data_dir " + dir + "/ni --model " + cli.model_dir;
  const auto broken = test::run_fedkseed(ni_args);
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("task task2_broken"), std::string::npos) << broken.err;
  EXPECT_NE(broken.err.find("not valid JSON"), std::string::npos) << broken.err;

  std::filesystem::remove(ni + "/tasks/task2_broken.json");
  const auto filtered = test::run_fedkseed(ni_args);  // task1_ok has 1 instance, fewer than a client needs
  EXPECT_EQ(filtered.exit_code, 2);
  EXPECT_NE(filtered.err.find("no train task survives the filters"), std::string::npos) << filtered.err;

  test::write_text(ni + "/splits/default/test_tasks.txt", "task8_gone\ntask9_gone\n");
  const auto nothing = test::run_fedkseed(ni_args);
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("test_tasks.txt: none of its 2 tasks has a file"), std::string::npos) << nothing.err;
}

TEST(DataStatsCli, MakeTinyDataWritesALoadableDollyFile) {
  const std::string dir = test::make_temp_dir("tiny-data");
  const auto made = test::run_fedkseed("make-tiny-data --out " + dir + " --records 300 --seed 5");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(read_dolly(dir + "/databricks-dolly-15k.jsonl").size(), 300u);
  const auto stats = test::run_fedkseed("data-stats --dataset dolly --data_dir " + dir + " --model " +
                                        test::tiny_tokenizer_dir() + " --num_clients 3 --iid 0 --json");
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(nlohmann::json::parse(stats.out)["num_clients"].get<int64_t>(), 3);
}

}  // namespace
}  // namespace fedkseed
