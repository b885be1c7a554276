// `fedkseed report` on run directories written by the test: per-run numbers, mean ± std
// over runs that differ only in --seed, the CSV layout, and bad input (exit 2, file named).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/evaluation/report.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

struct FakeRun {
  int64_t K = 1024;
  int64_t rounds = 3;
  bool pro = false;
  int64_t seed = 42;
  std::string dataset = "dolly";
  std::string device = "0";
  nlohmann::json final_eval = {{"final_eval_rouge", 0.3}};
  std::vector<double> eval_losses = {2.5, 2.25, 2.0};
  int64_t bytes_up = 1800, bytes_down = 8200;
  double seconds = 12.5;
  int64_t peak = 3 * 1048576;
};

// A run directory laid out as `fedkseed train --log` writes it (config.yaml, state.json,
// final_eval.json, memory.json), with two of three rounds finished.
std::string write_run(const std::string& root, const std::string& name, const FakeRun& run) {
  const std::string dir = root + "/" + name;
  const nlohmann::json options = {{"K", run.K},           {"bias_sampling", run.pro}, {"dataset", run.dataset},
                                  {"iid", "dir0.5"},      {"seed", run.seed},         {"rounds", run.rounds},
                                  {"lr", 3e-7},           {"device", run.device},     {"log", true},
                                  {"log_root", root},     {"model", "/models/dj"},    {"eval_metric", "rouge"}};
  std::string yaml;
  for (const auto& [key, value] : options.items()) yaml += key + ": " + value.dump() + "\n";
  write_text(dir + "/config.yaml", yaml);
  const nlohmann::json state = {
      {"options", options},         {"last_round", 2},
      {"seeds_and_schedule", {{"seeds", {1, 2}}, {"schedule", {{0}, {1}, {0}}}}},
      {"pool_seeds", {1, 2}},       {"pool_cumulative", {0.5, -0.25}},
      {"pro_history", nlohmann::json::array()},
      {"data_positions", {{0, 3}, {0, 2}}},
      {"synced_pool_size", {0, 0}}, {"eval_losses", run.eval_losses},
      {"best_eval_loss", 2.0},      {"best_round", 2},
      {"bytes_up", run.bytes_up},   {"bytes_down", run.bytes_down},
      {"seconds", run.seconds}};
  write_text(dir + "/state.json", state.dump());
  if (!run.final_eval.is_null()) write_text(dir + "/final_eval.json", run.final_eval.dump());
  write_text(dir + "/memory.json",
             nlohmann::json({{"0", {{"max_memory_allocated", run.peak}, {"max_memory_reserved", 2 * run.peak}}}}).dump());
  return dir;
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line + ",");
    std::string field;
    while (std::getline(cells, field, ',')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

TEST(Report, SummaryOfOneRun) {
  const std::string root = make_temp_dir("report");
  FakeRun run;
  run.final_eval = {{"final_eval_rouge", 0.3123}};
  const RunSummary summary = read_run_summary(write_run(root, "1700000000.000001", run));
  EXPECT_EQ(summary.method, "FedKSeed");
  EXPECT_EQ(summary.dataset, "dolly");
  EXPECT_EQ(summary.iid, "dir0.5");
  EXPECT_EQ(summary.K, 1024);
  EXPECT_EQ(summary.seed, 42);
  EXPECT_EQ(summary.rounds_done, 2);
  EXPECT_EQ(summary.rounds, 3);
  EXPECT_NEAR(summary.rouge_l, 31.23, 1e-9);
  EXPECT_DOUBLE_EQ(summary.final_eval_loss, 2.0);  // the last per-round loss: the metric was Rouge-L
  EXPECT_DOUBLE_EQ(summary.bytes_up, 1800);
  EXPECT_DOUBLE_EQ(summary.bytes_down, 8200);
  EXPECT_DOUBLE_EQ(summary.seconds, 12.5);
  EXPECT_DOUBLE_EQ(summary.peak_memory, 3 * 1048576);
}

TEST(Report, MethodNamesAndLossMetric) {
  const std::string root = make_temp_dir("report");
  FakeRun pro;
  pro.pro = true;
  EXPECT_EQ(read_run_summary(write_run(root, "pro", pro)).method, "FedKSeed-Pro");
  FakeRun unbounded;
  unbounded.K = 0;
  EXPECT_EQ(read_run_summary(write_run(root, "zo", unbounded)).method, "FedZO-style (K=0)");
  FakeRun untuned;
  untuned.rounds = 0;
  EXPECT_EQ(read_run_summary(write_run(root, "base", untuned)).method, "Base (no tuning)");
  FakeRun ni;
  ni.dataset = "instruct";
  ni.final_eval = {{"final_eval_loss", 1.75}};
  const RunSummary summary = read_run_summary(write_run(root, "ni", ni));
  EXPECT_EQ(summary.iid, "meta");
  EXPECT_DOUBLE_EQ(summary.final_eval_loss, 1.75);
  EXPECT_TRUE(std::isnan(summary.rouge_l));
  FakeRun interrupted;
  interrupted.final_eval = nullptr;
  EXPECT_TRUE(std::isnan(read_run_summary(write_run(root, "cut", interrupted)).rouge_l));
}

TEST(Report, MeanStdIsTheSampleStdOverFiniteValues) {
  const MeanStd stats = mean_std({1.0, 2.0, 4.0, std::nan("")});
  EXPECT_EQ(stats.n, 3);
  EXPECT_NEAR(stats.mean, 7.0 / 3.0, 1e-12);
  EXPECT_NEAR(stats.std, std::sqrt(42.0 / 18.0), 1e-12);  // sum of squares 42/9 over n - 1 = 2
  EXPECT_TRUE(std::isnan(mean_std({5.0}).std));
  EXPECT_TRUE(std::isnan(mean_std({}).mean));
}

// Three seeds of one setting (one on another device: still the same experiment), and one
// run with another K that must stay on its own.
class ReportTable : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir("report");
    const double rouge[] = {0.30, 0.32, 0.34};
    const double loss[] = {1.0, 2.0, 4.0};
    const char* device[] = {"0", "1", "cpu"};
    for (int i = 0; i < 3; ++i) {
      FakeRun run;
      run.seed = 1 + i;
      run.device = device[i];
      run.final_eval = {{"final_eval_rouge", rouge[i]}};
      run.eval_losses = {3.0, loss[i]};
      run.seconds = 10.0 * (i + 1);
      dirs_ += " " + write_run(root_, "seed" + std::to_string(i + 1), run);
    }
    FakeRun other;
    other.K = 4096;
    dirs_ += " " + write_run(root_, "k4096", other);
  }
  std::string root_, dirs_;
};

TEST_F(ReportTable, MarkdownHasRunRowsAndOneMeanStdRow) {
  const auto result = run_fedkseed("report" + dirs_);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  ASSERT_EQ(rows.size(), 2u + 4u + 1u) << result.out;  // header, rule, 4 runs, 1 aggregate
  EXPECT_NE(rows[0].find("Rouge-L"), std::string::npos);
  const std::string& aggregate = rows[5];
  EXPECT_NE(aggregate.find("mean ± std"), std::string::npos) << aggregate;
  EXPECT_NE(aggregate.find("1, 2, 3 (n=3)"), std::string::npos) << aggregate;
  EXPECT_NE(aggregate.find("32.00 ± 2.00"), std::string::npos) << aggregate;
  EXPECT_NE(aggregate.find("2.3333 ± 1.5275"), std::string::npos) << aggregate;
  for (const char* cell : {"| 2/3 |", "| 20.0 ± 10.0 s |", "| 1.8 ± 0.0 KiB |"}) {
    EXPECT_NE(aggregate.find(cell), std::string::npos) << cell << " not in " << aggregate;
  }
  for (const char* cell : {"| 2/3 |", "| 30.00 |", "| 1.0000 |", "| 1.8 KiB |", "| 8.0 KiB |", "| 10.0 s |", "| 3.0 MiB |"}) {
    EXPECT_NE(rows[2].find(cell), std::string::npos) << cell << " not in " << rows[2];
  }
  EXPECT_NE(rows[6].find("| 4096 |"), std::string::npos) << rows[6];  // the other K: after the group, alone
}

TEST_F(ReportTable, CsvShapeAndNumbers) {
  const std::string csv_path = root_ + "/table.csv", md_path = root_ + "/table.md";
  const auto result = run_fedkseed("report" + dirs_ + " --csv " + csv_path + " --markdown " + md_path);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(read_text(md_path), result.out);
  const auto rows = parse_csv(read_text(csv_path));
  ASSERT_EQ(rows.size(), 1u + 3u + 2u + 1u);  // header, 3 runs, mean, std, the other run
  const auto& header = rows[0];
  ASSERT_EQ(header.size(), 18u);
  for (const auto& row : rows) ASSERT_EQ(row.size(), header.size()) << read_text(csv_path);
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  std::vector<std::string> kinds;
  for (std::size_t i = 1; i < rows.size(); ++i) kinds.push_back(rows[i][column("kind")]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"run", "run", "run", "mean", "std", "run"}));
  EXPECT_DOUBLE_EQ(std::stod(rows[1][column("rouge_l")]), 30.0);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][column("bytes_up")]), 1800);
  EXPECT_EQ(rows[1][column("rounds_done")], "2");
  EXPECT_EQ(rows[1][column("rounds")], "3");
  EXPECT_NEAR(std::stod(rows[4][column("rouge_l")]), 32.0, 1e-9);
  EXPECT_NEAR(std::stod(rows[5][column("rouge_l")]), 2.0, 1e-9);
  EXPECT_NEAR(std::stod(rows[5][column("final_eval_loss")]), std::sqrt(42.0 / 18.0), 1e-8);
  EXPECT_EQ(rows[4][column("seed")], "1;2;3");
  EXPECT_EQ(rows[4][column("n")], "3");
  EXPECT_EQ(rows[5][column("bytes_up")], "0");  // equal across seeds
  EXPECT_EQ(rows[6][column("K")], "4096");
  EXPECT_EQ(rows[6][column("method")], "FedKSeed");
  EXPECT_EQ(rows[1][column("aggregator")], "mean");  // runs from before --aggregator
  EXPECT_EQ(rows[1][column("dp_epsilon")], "");      // no DP
}

struct BadRun {
  const char* file;      // replaced (or removed when contents is null)
  const char* contents;
};

void PrintTo(const BadRun& bad, std::ostream* out) {
  *out << bad.file << (bad.contents == nullptr ? " missing" : " malformed");
}

class ReportBadInput : public ::testing::TestWithParam<BadRun> {};

TEST_P(ReportBadInput, Exit2NamingTheFile) {
  const std::string dir = write_run(make_temp_dir("report"), "run", FakeRun{});
  const std::string path = dir + "/" + GetParam().file;
  if (GetParam().contents == nullptr) {
    std::remove(path.c_str());
  } else {
    write_text(path, GetParam().contents);
  }
  const auto result = run_fedkseed("report " + dir);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("fedkseed: error: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find(path), std::string::npos) << result.err;
}

INSTANTIATE_TEST_SUITE_P(
    Files, ReportBadInput,
    ::testing::Values(BadRun{"state.json", nullptr}, BadRun{"config.yaml", nullptr},
                      BadRun{"state.json", "{\"last_round\": 2"}, BadRun{"state.json", "{\"last_round\": 2}"},
                      BadRun{"final_eval.json", "{\"final_eval_rouge\": "},
                      BadRun{"final_eval.json", "{\"accuracy\": 0.5}"}, BadRun{"memory.json", "[1, 2"},
                      BadRun{"config.yaml", "K: 1024\nseed 42\n"}, BadRun{"config.yaml", "K: 1024\n"}),
    [](const ::testing::TestParamInfo<BadRun>& info) { return "case" + std::to_string(info.index); });

TEST(Report, LogRootInsteadOfRunDirectoriesSaysSo) {
  const std::string root = make_temp_dir("report");
  write_run(root, "1700000000.000001", FakeRun{});
  const auto result = run_fedkseed("report " + root);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(root + "/config.yaml: not found; " + root + " holds run directories: pass them (" +
                            root + "/*)"),
            std::string::npos)
      << result.err;
}

TEST(Report, MissingDirectoryOrNoArgumentIsUsageError) {
  const auto missing = run_fedkseed("report /nonexistent/fedkseed_run");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/fedkseed_run"), std::string::npos) << missing.err;
  EXPECT_EQ(run_fedkseed("report").exit_code, 2);
}

}  // namespace
}  // namespace fedkseed::test
