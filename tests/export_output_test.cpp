// `fedkseed export` never clobbers: it refuses the run's own base model folder (and any folder
// holding it or the run), a non-empty --out unless --force, and --force leaves no stale files.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "test_util.h"

namespace fedkseed::test {
namespace {

namespace fs = std::filesystem;

// Every file under `dir` with its contents: equal before and after means nothing was touched.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = read_text(entry.path().string());
  }
  return files;
}

class ExportOutput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("export_output"));
    ASSERT_EQ(run_fedkseed("--quiet init-model --preset tiny --seed 0 --out " + model()).exit_code, 0);
    ASSERT_EQ(run_fedkseed("make-tiny-data --records 100 --seed 0 --out " + *workspace_ + "/data").exit_code, 0);
    const auto trained = run_fedkseed(
        "train --model " + model() + " --data_dir " + *workspace_ + "/data --dataset dolly --num_clients 4 -m 0.5"
        " --rounds 1 --local_step 2 -K 4 --dtype fp32 --device cpu --max_length 64 --eval_metric loss"
        " --eval_max_samples 4 --log --quiet --log_root " + *workspace_ + "/runs");
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    for (const auto& entry : fs::directory_iterator(*workspace_ + "/runs")) run_ = new std::string(entry.path().string());
  }
  static void TearDownTestSuite() {
    delete workspace_;
    delete run_;
  }
  static std::string model() { return *workspace_ + "/model"; }

  // Runs export into `out` and expects exit 2 with one error line starting with `message`.
  static void expect_refused(const std::string& out, const std::string& message, const std::string& extra = "") {
    const auto result = run_fedkseed("export --run " + *run_ + " --out " + out + extra);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("fedkseed: error: " + message, 0), 0u) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }

  static std::string* workspace_;
  static std::string* run_;
};

std::string* ExportOutput::workspace_ = nullptr;
std::string* ExportOutput::run_ = nullptr;

TEST_F(ExportOutput, RefusesTheBaseModelAndTheRunEvenWithForce) {
  const auto base = snapshot(model());
  const auto run = snapshot(*run_);
  for (const std::string force : {"", " --force"}) {
    expect_refused(model(), "--out " + model() + ": is " + model() + ", which this command reads", force);
    expect_refused(*workspace_, "--out " + *workspace_ + ": contains ", force);
    expect_refused(*run_, "--out " + *run_ + ": is " + *run_, force);
  }
  EXPECT_EQ(snapshot(model()), base) << "the base model was modified";
  EXPECT_EQ(snapshot(*run_), run) << "the run folder was modified";
}

TEST_F(ExportOutput, NonEmptyOutNeedsForceWhichLeavesNoStaleFiles) {
  const std::string out = *workspace_ + "/exported";
  write_text(out + "/pytorch_model.bin", "stale weights");
  write_text(out + "/pytorch_model.bin.index.json", "{}");
  expect_refused(out, "--out " + out + ": is not empty (it holds pytorch_model.bin");
  EXPECT_EQ(read_text(out + "/pytorch_model.bin"), "stale weights");

  const auto forced = run_fedkseed("--quiet export --force --run " + *run_ + " --out " + out);
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(out)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model",
                                             "tokenizer_config.json"}));
}

}  // namespace
}  // namespace fedkseed::test
