// Data layer unit tests on fixtures written here: templates, masking, truncation,
// batching, Dirichlet and equal partitions, partition files, Dolly loading and bad input, and
// loading that gives the same data on any thread count.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/data/batch.h"
#include "fedkseed/data/dolly.h"
#include "fedkseed/data/federated_data.h"
#include "fedkseed/data/natural_instructions.h"
#include "fedkseed/data/synthetic.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed {
namespace test {

// A small sentencepiece model trained once on synthetic Dolly text and the templates;
// also used by data_integration_test.cpp.
std::string tiny_tokenizer_dir() {
  static const std::string dir = [] {
    const std::string folder = make_temp_dir("data-tokenizer");
    write_synthetic_dolly(folder + "/corpus.jsonl", 2000, 1);
    std::vector<std::string> lines = {dolly_prompt("x", "y"), ni_prompt("x", "y", true)};
    for (const auto& record : read_dolly(folder + "/corpus.jsonl")) {
      lines.push_back(record.instruction + " " + record.context + " " + record.response);
    }
    train_tokenizer(lines, folder, 500);
    return folder;
  }();
  return dir;
}

}  // namespace test
namespace {

using test::tiny_tokenizer_dir;

TEST(DataTemplates, MatchTheReferenceCharacterForCharacter) {
  EXPECT_EQ(dolly_prompt("Name a fruit.", ""),
            "Below is an instruction that describes a task. Write a response for the task request.\n\n"
            "### Instruction:\nName a fruit.\n\n### Response:");
  EXPECT_EQ(dolly_prompt("Summarise.", "Some text."),
            "Below is an instruction that describes a task, paired with an input that provides further context. "
            "Write a response for the task request.\n\n### Instruction:\nSummarise.\n\n### Input:\nSome text.\n\n"
            "### Response:");
  EXPECT_EQ(ni_prompt("Add the numbers.", "1 2", true),
            "Below is an instruction that describes a task, paired with an input that provides further context. "
            "Write a response that appropriately completes the request.\n\n### Instruction:\nAdd the numbers.\n\n"
            "### Input:\n1 2\n\n### Response:");
  EXPECT_EQ(ni_prompt("Add the numbers.", "1 2", false), "Add the numbers.\n\nInput: 1 2\n\nOutput:");
}

TEST(DataExample, MasksThePromptAndAppendsEos) {
  const Tokenizer tokenizer = Tokenizer::load(tiny_tokenizer_dir());
  const PromptPair pair{dolly_prompt("What is 2 plus 3?", ""), "5"};
  const Example example = make_example(tokenizer, pair, 1024);
  std::vector<int64_t> expected = tokenizer.encode(pair.prompt + pair.response);
  expected.push_back(tokenizer.eos_id());
  EXPECT_EQ(example.input_ids, expected);
  const size_t masked = tokenizer.encode(pair.prompt).size();
  ASSERT_LT(masked, expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(example.labels[i], i < masked ? kIgnoreIndex : expected[i]) << "position " << i;
  }
  const GenerationExample generation = make_generation_example(tokenizer, pair, 1024);
  EXPECT_EQ(generation.prompt_ids, tokenizer.encode(pair.prompt));
  EXPECT_EQ(generation.reference, "5");
}

TEST(DataExample, TruncatesAtMaxLengthTokens) {
  const Tokenizer tokenizer = Tokenizer::load(tiny_tokenizer_dir());
  const PromptPair pair{dolly_prompt("Copy the first sentence of the text.", "The cat likes the sun."),
                        "The cat likes the sun."};
  const Example full = make_example(tokenizer, pair, 1024);
  const size_t masked = tokenizer.encode(pair.prompt).size();
  const Example cut = make_example(tokenizer, pair, static_cast<int64_t>(masked) + 2);
  ASSERT_EQ(cut.input_ids.size(), masked + 2);
  EXPECT_EQ(cut.input_ids, std::vector<int64_t>(full.input_ids.begin(), full.input_ids.begin() + masked + 2));
  EXPECT_NE(cut.input_ids.back(), tokenizer.eos_id()) << "EOS is cut away like the reference's '</s>'";
  EXPECT_EQ(cut.labels[masked], cut.input_ids[masked]);
  const Example prompt_only = make_example(tokenizer, pair, 5);
  EXPECT_EQ(prompt_only.labels, std::vector<int64_t>(5, kIgnoreIndex)) << "all labels masked";
  EXPECT_EQ(make_generation_example(tokenizer, pair, 5).prompt_ids.size(), 5u);
}

TEST(DataExample, BuilderMatchesExactTokenisationLineByLine) {
  std::vector<std::string> dirs = {tiny_tokenizer_dir()};
  if (!test::shared_data_dir().empty()) dirs.push_back(test::shared_data_dir() + "/tokenizers/llama");
  const std::vector<PromptPair> pairs = {
      {ni_prompt("Define.\nSecond line  with  spaces.", "  indented\n\n\nx", true), "out\nline"},
      {ni_prompt("Define.\nSecond line  with  spaces.", "</s>y\n <s>", false), " lead"},
      {dolly_prompt("Ünï 😀\n\n", ""), "\n"},
      {"\n\nstarts with newlines", "x"}};
  for (const auto& dir : dirs) {
    const Tokenizer tokenizer = Tokenizer::load(dir);
    EXPECT_TRUE(tokenizer.newline_is_boundary()) << dir;
    ExampleBuilder builder(tokenizer, 1024);
    for (int repeat = 0; repeat < 2; ++repeat) {  // the second pass hits the line cache
      for (const auto& pair : pairs) {
        const Example exact = make_example(tokenizer, pair, 1024);
        const Example fast = builder.example(pair);
        EXPECT_EQ(fast.input_ids, exact.input_ids) << dir << ": " << pair.prompt;
        EXPECT_EQ(fast.labels, exact.labels) << dir << ": " << pair.prompt;
        EXPECT_EQ(builder.generation(pair).prompt_ids, make_generation_example(tokenizer, pair, 1024).prompt_ids);
      }
    }
  }
}

TEST(DataBatch, RightPadsWithMaskAndIgnoredLabels) {
  const Example a{{1, 5, 6, 7}, {-100, -100, 6, 7}};
  const Example b{{1, 9}, {-100, 9}};
  const Batch batch = collate({&a, &b}, 2);
  EXPECT_TRUE(at::equal(batch.input_ids, at::tensor({1, 5, 6, 7, 1, 9, 2, 2}, at::kLong).view({2, 4})));
  EXPECT_TRUE(at::equal(batch.labels, at::tensor({-100, -100, 6, 7, -100, 9, -100, -100}, at::kLong).view({2, 4})));
  EXPECT_TRUE(at::equal(batch.attention_mask, at::tensor({1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 4})));
  const Batch single = collate({&b}, 2);
  EXPECT_EQ(single.input_ids.sizes(), (c10::IntArrayRef{1, 2}));
  EXPECT_EQ(single.attention_mask.sum().item<int64_t>(), 2) << "a pad id equal to a real token (EOS) is not masked";
  EXPECT_THROW(collate({}, 0), Error);
}

// Labels with 7 classes of unequal sizes, like Dolly's train categories.
std::vector<int64_t> skewed_labels(int64_t n) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back((i * i + 3 * i) % 7);
  return labels;
}

TEST(DataPartition, DirichletKeepsMinimumSizeAndSkewsLabels) {
  const std::vector<int64_t> labels = skewed_labels(3000);
  Rng rng(42, "test/partition");
  const Partition parts = partition_dirichlet(labels, 50, 0.5, rng);
  ASSERT_EQ(parts.size(), 50u);
  std::set<int64_t> seen;
  double mean_top_share = 0.0;
  for (const auto& part : parts) {
    EXPECT_GE(part.size(), 10u);
    std::map<int64_t, int64_t> counts;
    for (const int64_t index : part) {
      EXPECT_TRUE(seen.insert(index).second) << "record " << index << " assigned twice";
      ++counts[labels[index]];
    }
    int64_t top = 0;
    for (const auto& entry : counts) top = std::max(top, entry.second);
    mean_top_share += static_cast<double>(top) / static_cast<double>(part.size()) / 50.0;
  }
  EXPECT_EQ(seen.size(), labels.size()) << "every record assigned";
  // Seven balanced-ish classes give a top share near 1/7 without skew; alpha 0.5 is far above.
  EXPECT_GT(mean_top_share, 0.4);
  Rng same(42, "test/partition");
  EXPECT_EQ(partition_dirichlet(labels, 50, 0.5, same), parts) << "deterministic for a seed";
  Rng iid(42, "test/partition");
  double iid_top_share = 0.0;
  for (const auto& part : partition_dirichlet(labels, 50, 1000.0, iid)) {
    std::map<int64_t, int64_t> counts;
    for (const int64_t index : part) ++counts[labels[index]];
    int64_t top = 0;
    for (const auto& entry : counts) top = std::max(top, entry.second);
    iid_top_share += static_cast<double>(top) / static_cast<double>(part.size()) / 50.0;
  }
  EXPECT_LT(iid_top_share, 0.35) << "large alpha is close to IID";
  Rng small(1, "test/partition");
  EXPECT_THROW(partition_dirichlet(skewed_labels(100), 20, 0.5, small), Error) << "100 < 20 clients x 10";
}

TEST(DataPartition, EqualSplitGivesRemainderToLastClient) {
  Rng rng(7, "test/equal");
  const Partition parts = partition_equal(103, 10, rng);
  std::set<int64_t> seen;
  for (size_t p = 0; p < parts.size(); ++p) {
    EXPECT_EQ(parts[p].size(), p + 1 == parts.size() ? 13u : 10u);
    seen.insert(parts[p].begin(), parts[p].end());
  }
  EXPECT_EQ(seen.size(), 103u);
  EXPECT_THROW(partition_equal(3, 10, rng), Error);
}

TEST(DataPartition, FileRoundTripsAndRejectsMalformedContent) {
  const std::string dir = test::make_temp_dir("partition");
  const PartitionFile written{"instruct", {{"task1_a", {3, 1, 2}}, {"task2_b", {0}}}, {{"task9_t", {5, 6}}}, true};
  write_partition_file(dir + "/p.json", written);
  const PartitionFile read = read_partition_file(dir + "/p.json");
  EXPECT_EQ(read.dataset, "instruct");
  ASSERT_EQ(read.clients.size(), 2u);
  EXPECT_EQ(read.clients[0].task, "task1_a");
  EXPECT_EQ(read.clients[0].records, (std::vector<int64_t>{3, 1, 2}));
  ASSERT_TRUE(read.has_test);
  EXPECT_EQ(read.test[0].records, (std::vector<int64_t>{5, 6}));
  for (const std::string bad : {"{", R"({"format": "other", "dataset": "dolly", "clients": []})",
                                R"({"format": "fedkseed-partition-1", "dataset": "dolly", "clients": [{"records": [-1]}]})"}) {
    test::write_text(dir + "/bad.json", bad);
    try {
      read_partition_file(dir + "/bad.json");
      FAIL() << "accepted " << bad;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(dir + "/bad.json"), std::string::npos) << error.what();
    }
  }
}

TEST(DataDolly, ReadErrorsNameFileAndLine) {
  const std::string dir = test::make_temp_dir("dolly-bad");
  const std::string good = R"({"instruction": "a", "context": "", "response": "b", "category": "open_qa"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + "\n" + good + "\n{\"instruction\": \n", ":3: not valid JSON"},
      {good + "\n\n" + R"({"instruction": "a", "context": "", "category": "open_qa"})" + "\n", ":3: field \"response\""},
      {good + "\n" + R"({"instruction": "a", "context": 5, "response": "b", "category": "x"})", ":2: field \"context\""}};
  for (const auto& [text, message] : cases) {
    test::write_text(dir + "/databricks-dolly-15k.jsonl", text);
    try {
      read_dolly(dolly_file(dir));
      FAIL() << "accepted " << text;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(dir + "/databricks-dolly-15k.jsonl" + message), std::string::npos)
          << error.what();
    }
  }
  EXPECT_THROW(dolly_file(test::make_temp_dir("dolly-none")), Error);
}

TEST(DataDolly, SyntheticFileIsDeterministicAndCoversEveryCategory) {
  const std::string dir = test::make_temp_dir("synthetic");
  write_synthetic_dolly(dir + "/a.jsonl", 800, 3);
  write_synthetic_dolly(dir + "/b.jsonl", 800, 3);
  write_synthetic_dolly(dir + "/c.jsonl", 800, 4);
  EXPECT_EQ(test::read_text(dir + "/a.jsonl"), test::read_text(dir + "/b.jsonl"));
  EXPECT_NE(test::read_text(dir + "/a.jsonl"), test::read_text(dir + "/c.jsonl"));
  const auto records = read_dolly(dir + "/a.jsonl");
  EXPECT_EQ(records.size(), 800u);
  EXPECT_EQ(dolly_categories(records),
            (std::vector<std::string>{"brainstorming", "classification", "closed_qa", "creative_writing", "general_qa",
                                      "information_extraction", "open_qa", "summarization"}));
}

// Everything a loader produced, as comparable values.
std::vector<std::vector<int64_t>> flattened(const FederatedData& data) {
  std::vector<std::vector<int64_t>> rows;
  for (const auto& client : data.clients) {
    for (const auto& example : client) {
      rows.push_back(example.input_ids);
      rows.push_back(example.labels);
    }
    rows.emplace_back();  // the client boundary
  }
  for (const auto& example : data.test) {
    rows.push_back(example.input_ids);
    rows.push_back(example.labels);
  }
  for (const auto& example : data.test_generation) {
    rows.push_back(example.prompt_ids);
    rows.emplace_back(example.reference.begin(), example.reference.end());
  }
  return rows;
}

// load_federated_data with LibTorch's (and so the loaders') thread count set to `threads`.
FederatedData load_with_threads(const TrainOptions& options, const Tokenizer& tokenizer, int threads) {
  const int saved = at::get_num_threads();
  at::set_num_threads(threads);
  try {
    FederatedData data = load_federated_data(options, tokenizer);
    at::set_num_threads(saved);
    return data;
  } catch (...) {
    at::set_num_threads(saved);
    throw;
  }
}

// A Natural Instructions folder of `tasks` train tasks (25 instances each) and two test tasks.
std::string write_ni_fixture(int tasks) {
  const std::string root = test::make_temp_dir("ni-parallel") + "/natural-instructions";
  std::string train_list;
  for (int t = 0; t < tasks; ++t) {
    const std::string name = "task" + std::to_string(t);
    train_list += name + "\n";
    nlohmann::json instances = nlohmann::json::array();
    for (int i = 0; i < 25; ++i) {
      instances.push_back({{"input", "the cat " + std::to_string(t * i) + " likes the sun"},
                           {"output", {"yes " + std::to_string(i)}}});
    }
    test::write_text(root + "/tasks/" + name + ".json",
                     nlohmann::json{{"Definition", {"Answer task " + name + "."}}, {"Instances", instances}}.dump());
  }
  for (const char* name : {"test0", "test1"}) {
    test::write_text(root + "/tasks/" + std::string(name) + ".json",
                     nlohmann::json{{"Definition", {"Say yes."}},
                                    {"Instances", {{{"input", "the duck"}, {"output", {"yes"}}}}}}
                         .dump());
  }
  test::write_text(root + "/splits/default/train_tasks.txt", train_list);
  test::write_text(root + "/splits/default/test_tasks.txt", "test0\ntest1\n");
  return root;
}

TEST(DataParallelLoading, EveryThreadCountGivesTheSameData) {
  const Tokenizer tokenizer = Tokenizer::load(tiny_tokenizer_dir());
  TrainOptions dolly;
  dolly.dataset = "dolly";
  dolly.data_dir = test::make_temp_dir("dolly-parallel");
  dolly.num_clients = 6;
  dolly.max_length = 64;
  write_synthetic_dolly(dolly.data_dir + "/databricks-dolly-15k.jsonl", 400, 5);
  TrainOptions ni;
  ni.dataset = "instruct";
  ni.data_dir = std::filesystem::path(write_ni_fixture(9)).parent_path().string();
  ni.max_length = 64;
  for (const TrainOptions& options : {dolly, ni}) {
    const auto one = flattened(load_with_threads(options, tokenizer, 1));
    EXPECT_GT(one.size(), 20u) << options.dataset;
    for (int threads : {2, 5}) {
      EXPECT_EQ(flattened(load_with_threads(options, tokenizer, threads)), one)
          << options.dataset << " on " << threads << " threads";
    }
  }
}

TEST(DataParallelLoading, TheFirstBadTaskIsReportedOnAnyThreadCount) {
  const Tokenizer tokenizer = Tokenizer::load(tiny_tokenizer_dir());
  const std::string root = write_ni_fixture(9);
  for (const char* bad : {"task3", "task6", "task8"}) test::write_text(root + "/tasks/" + bad + ".json", "{not json");
  TrainOptions options;
  options.dataset = "instruct";
  options.data_dir = std::filesystem::path(root).parent_path().string();
  for (int threads : {1, 4}) {
    try {
      load_with_threads(options, tokenizer, threads);
      ADD_FAILURE() << "no error on " << threads << " threads";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("task task3 "), std::string::npos) << threads << " threads: "
                                                                                 << error.what();
    }
  }
}

TEST(DataNaturalInstructions, CountsCharactersNotBytes) {
  EXPECT_EQ(utf8_length("abc"), 3);
  EXPECT_EQ(utf8_length("Ünï 日本 😀"), 8);
}

}  // namespace
}  // namespace fedkseed
