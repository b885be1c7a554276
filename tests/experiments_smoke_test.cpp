// The experiment scripts end to end on the tiny model: one paper-setting script with smoke
// overrides, then `fedkseed report` and scripts/plot_runs.py on its run; and the launch
// line the scripts build (flag overrides, torchrun with several GPUs) without training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_util.h"

namespace fs = std::filesystem;

namespace fedkseed::test {
namespace {

const std::string kScripts = std::string(FEDKSEED_SOURCE_DIR) + "/scripts/experiments/";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int64_t count_of(const std::string& text, const std::string& word) {
  int64_t count = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++count;
  return count;
}

// A script run that only prints its commands (on stderr), with `gpus` fake GPUs listed by nvidia-smi.
CommandResult dry_run(const std::string& script, const std::string& arguments, int gpus) {
  const std::string bin = make_temp_dir("fake_nvidia_smi");
  std::string listing;
  for (int i = 0; i < gpus; ++i) listing += "echo 'GPU " + std::to_string(i) + ": NVIDIA H200 (UUID: GPU-x)'\n";
  write_text(bin + "/nvidia-smi", "#!/bin/sh\n" + listing);
  fs::permissions(bin + "/nvidia-smi", fs::perms::owner_all);
  const std::string dirs = make_temp_dir("dry_run");
  return run_command("env -u CUDA_VISIBLE_DEVICES -u NPROC -u FEDKSEED DRY_RUN=1 PATH=" + bin + ":$PATH bash " + kScripts +
                     script + " " + dirs + " " + dirs + " " + arguments);
}

TEST(ExperimentScripts, ExtraFlagsReplaceTheScriptsValues) {
  const auto result = dry_run("sweep_k.sh", "/tmp/logs --rounds 2 -K 16 --bias_sampling=false --partition_file ''", 0);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto commands = lines_of(result.err);
  ASSERT_EQ(commands.size(), 8u) << result.err;  // 4 K x {uniform, Pro}
  for (const auto& command : commands) {
    EXPECT_EQ(command.rfind("+ " + std::string(FEDKSEED_SOURCE_DIR) + "/build/fedkseed train ", 0), 0u) << command;
    EXPECT_EQ(count_of(command, " --rounds "), 1) << command;
    EXPECT_EQ(count_of(command, " -K "), 1) << command;
    EXPECT_EQ(count_of(command, " --bias_sampling"), 1) << command;
    EXPECT_NE(command.find("--rounds 2 -K 16 --bias_sampling=false --partition_file ''"), std::string::npos) << command;
    EXPECT_NE(command.find(" --lr 3e-7 "), std::string::npos) << command;
    EXPECT_NE(command.find(" --log_root /tmp/logs"), std::string::npos) << command;
  }
}

TEST(ExperimentScripts, TorchrunWhenSeveralGpusAreVisible) {
  const auto two = dry_run("dolly_alpha0.5_fedkseed.sh", "", 2);
  ASSERT_EQ(two.exit_code, 0) << two.err;
  const std::string launcher = "+ torchrun --nproc-per-node=2 --no-python -- ";
  ASSERT_EQ(two.err.rfind(launcher + std::string(FEDKSEED_SOURCE_DIR) + "/build/fedkseed train ", 0), 0u) << two.err;
  // torchrun's own parser must take the line as printed (the shell undoes its quoting): the
  // program is fedkseed and every train flag (--log included) reaches it.
  if (python_has("torch.distributed.run")) {
    const auto parsed = run_command(
        python() + " -c 'import sys; from torch.distributed.run import get_args_parser as p; a = p().parse_args("
        "sys.argv[1:]); print(a.nproc_per_node, a.training_script, \" \".join(a.training_script_args))' " +
        lines_of(two.err)[0].substr(std::string("+ torchrun ").size()));
    ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
    EXPECT_EQ(parsed.out.rfind("2 " + std::string(FEDKSEED_SOURCE_DIR) + "/build/fedkseed train --model ", 0), 0u)
        << parsed.out;
    EXPECT_NE(parsed.out.find(" --log --log_root runs/dolly_alpha0.5_fedkseed"), std::string::npos) << parsed.out;
  }
  const auto one = dry_run("dolly_alpha0.5_fedkseed.sh", "", 1);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.err.rfind("+ " + std::string(FEDKSEED_SOURCE_DIR) + "/build/fedkseed train ", 0), 0u) << one.err;
  EXPECT_NE(one.err.find(" --log_root runs/dolly_alpha0.5_fedkseed"), std::string::npos) << one.err;
}

TEST(ExperimentScripts, MissingArgumentsPrintUsage) {
  const auto result = run_command("bash " + kScripts + "ni_fedkseed.sh");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("MODEL_DIR DATA_DIR [LOG_ROOT]"), std::string::npos) << result.err;
}

class ExperimentSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = make_temp_dir("experiments_smoke");
    ASSERT_EQ(run_fedkseed("init-model --preset tiny --out " + work_ + "/model --seed 0").exit_code, 0);
    ASSERT_EQ(run_fedkseed("make-tiny-data --out " + work_ + "/data --seed 0").exit_code, 0);
  }
  std::string work_;
};

TEST_F(ExperimentSmoke, ScriptThenReportThenPlots) {
  const std::string logs = work_ + "/logs";
  const auto trained = run_command(
      "FEDKSEED=" + std::string(FEDKSEED_BINARY) + " NPROC=1 bash " + kScripts + "dolly_alpha0.5_fedkseed_pro.sh " +
      work_ + "/model " + work_ + "/data " + logs +
      " --rounds 2 --local_step 5 --eval_max_samples 5 -K 16 --num_clients 10 -m 0.2 --dtype fp32 --device cpu"
      " --max_length 96 --quiet");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  std::vector<std::string> runs;
  for (const auto& entry : fs::directory_iterator(logs)) runs.push_back(entry.path().string());
  ASSERT_EQ(runs.size(), 1u);
  const std::string run = runs[0];
  const std::string config = read_text(run + "/config.yaml");
  for (const char* line : {"K: 16\n", "rounds: 2\n", "bias_sampling: true\n", "lr: 3e-07\n", "dtype: \"fp32\"\n"}) {
    EXPECT_NE(config.find(line), std::string::npos) << line << " not in\n" << config;
  }

  const auto report = run_fedkseed("report " + run + " --csv " + work_ + "/report.csv");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("| FedKSeed-Pro | dolly | dir0.5 | 16 | mean | 42 | 2/2 |"), std::string::npos) << report.out;
  const auto csv = lines_of(read_text(work_ + "/report.csv"));
  ASSERT_EQ(csv.size(), 2u);
  // Totals in the table (state.json) against the per-round metrics.jsonl.
  int64_t bytes_up = 0;
  std::ifstream metrics(run + "/metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) bytes_up += nlohmann::json::parse(line).at("bytes_up").get<int64_t>();
  EXPECT_GT(bytes_up, 0);
  EXPECT_NE(csv[1].find("," + std::to_string(bytes_up) + ","), std::string::npos) << csv[1];

  if (!python_has("matplotlib")) GTEST_SKIP() << "matplotlib missing: scripts/setup.sh --test installs it";
  const auto plots = run_command(python() + " " + FEDKSEED_SOURCE_DIR + "/scripts/plot_runs.py " + run + " --out " +
                                 work_ + "/plots");
  ASSERT_EQ(plots.exit_code, 0) << plots.err;
  for (const char* name : {"eval_loss.png", "communication.png"}) {
    const std::string png = read_text(work_ + "/plots/" + name);
    ASSERT_GT(png.size(), 1000u) << name;
    EXPECT_EQ(png.substr(1, 3), "PNG") << name;
  }
  EXPECT_FALSE(fs::exists(work_ + "/plots/k_ablation.png"));  // one K only
}

}  // namespace
}  // namespace fedkseed::test
