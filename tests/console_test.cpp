// What `fedkseed` prints, run as a user runs it: train's one options line (the full YAML only
// with --log_level debug), its client and round lines and closing summary (also where
// --stop_after ends it, with the resume command); the command line over a
// --config file over the defaults for the verbosity; --device auto and the CPU's fp32 default
// shared by the subcommands; the text score and generate feed the model; bench's running lines.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdio>
#include <filesystem>

#include "test_util.h"

namespace fs = std::filesystem;

namespace fedkseed::test {
namespace {

// One thread: the tests run beside each other on few cores.
const std::string kThreads = "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ";

CommandResult fedkseed(const std::string& arguments) {
  return run_command(kThreads + FEDKSEED_BINARY + " " + arguments);
}

int count_of(const std::string& text, const std::string& part) {
  int count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

bool gpu_visible() { return FEDKSEED_WITH_CUDA && torch::cuda::device_count() > 0; }

class Console : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("console"));
    ASSERT_EQ(fedkseed("init-model --preset tiny --seed 0 --out " + model()).exit_code, 0);
    ASSERT_EQ(fedkseed("make-tiny-data --records 200 --seed 0 --out " + *workspace_ + "/data").exit_code, 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*workspace_);
    delete workspace_;
  }
  static std::string model() { return *workspace_ + "/model"; }
  // A small run on the CPU; --device and --dtype are left to their defaults.
  static std::string train_args(const std::string& extra) {
    return "train --model " + model() + " --data_dir " + *workspace_ +
           "/data --dataset dolly --num_clients 4 -m 0.5 --rounds 2 --local_step 2 -K 8 --max_length 160 "
           "--eval_max_samples 2 " + extra;
  }
  static std::string* workspace_;
};

std::string* Console::workspace_ = nullptr;

TEST_F(Console, TrainShowsOneOptionsLineRoundLinesAndASummary) {
  const std::string root = *workspace_ + "/runs/summary";
  const auto result = fedkseed(train_args("--log --log_root " + root));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string run;
  for (const auto& entry : fs::directory_iterator(root)) run = entry.path().string();

  // The options: one line on the console, all of them in config.yaml only.
  EXPECT_EQ(count_of(result.err, "FedKSeed on dolly (--iid dir0.5): 2 rounds"), 1) << result.err;
  EXPECT_NE(result.err.find("(all options: config.yaml in the run folder)"), std::string::npos) << result.err;
  for (const std::string& text : {result.out, result.err}) {
    EXPECT_EQ(text.find("zo_eps:"), std::string::npos) << text;
    EXPECT_EQ(text.find("num_clients:"), std::string::npos) << text;
  }
  EXPECT_NE(read_text(run + "/config.yaml").find("zo_eps: 0.0005\n"), std::string::npos);

  // A progress line per round: rounds done, steps/s, skipped steps, time left.
  for (const char* round : {"round 1/2 (50%): ", "round 2/2 (100%): "}) {
    const std::size_t at = result.err.find(round);
    ASSERT_NE(at, std::string::npos) << round << "\n" << result.err;
    const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
    for (const char* part : {"train L+ ", "eval loss ", "4 steps at ", "/s, ", " skipped, ", "bytes up ", "ETA "}) {
      EXPECT_NE(line.find(part), std::string::npos) << part << " missing from: " << line;
    }
  }

  // A line per client at the default level: its id, steps, mean L+ and skipped steps.
  for (const char* round : {"round 1 client ", "round 2 client "}) {
    EXPECT_EQ(count_of(result.err, std::string("] info ") + round), 2) << round << "\n" << result.err;
    const std::size_t at = result.err.find(round);
    ASSERT_NE(at, std::string::npos) << round << "\n" << result.err;
    const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
    for (const char* part : {"  2/2  ", "/s  ", "  mean L+ ", ", 0 skipped"}) {
      EXPECT_NE(line.find(part), std::string::npos) << part << " missing from: " << line;
    }
  }

  // The summary on stdout, after the final evaluation's line.
  const std::size_t summary = result.out.find("\nsummary\n");
  ASSERT_NE(summary, std::string::npos) << result.out;
  EXPECT_LT(result.out.find("final round rouge: "), summary) << result.out;
  for (const std::string& part :
       {std::string("  eval loss       round 0 "), std::string(", best "), std::string(", final "),
        std::string("  final Rouge-L   "), std::string("  communication   up "),
        std::string("  skipped steps   0 of 8\n"), std::string("  wall time       "),
        "  run folder      " + run + "\n", "  fedkseed report " + run + "\n",
        "  fedkseed export --run " + run + " --out exported/" + fs::path(run).filename().string() + "\n",
        "  .venv/bin/python scripts/plot_runs.py " + run + " --out figures\n"}) {
    EXPECT_NE(result.out.find(part, summary), std::string::npos) << part << " missing from:\n" << result.out;
  }
}

TEST_F(Console, ARunOfNoRoundsSummarisesTheBaseLossAlone) {
  const auto result = fedkseed(train_args("--rounds 0 --eval_metric loss"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find(" (no rounds trained)\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("best none"), std::string::npos) << result.out;
}

TEST_F(Console, WithoutLogTheSummarySaysThereIsNoRunFolder) {
  const auto result = fedkseed(train_args("--rounds 1 --eval_metric loss"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("  final eval loss "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("  run folder      none (add --log to keep one)\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("fedkseed report"), std::string::npos) << result.out;
}

// --stop_after ends with the finished run's summary of the rounds so far, led by the exact command
// that continues the run; the resumed run's summary counts its own rounds.
TEST_F(Console, StopAfterShowsTheSummaryAndTheResumeCommand) {
  const std::string root = *workspace_ + "/runs/stopped";
  const auto stopped =
      fedkseed(train_args("--eval_metric loss --log --log_root " + root + " --run_name run --stop_after 1"));
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err;
  const std::string run = root + "/run";
  const std::string resume = std::string(FEDKSEED_BINARY) + " train --resume " + run;
  EXPECT_EQ(stopped.out.rfind("stopped after round 1 of 2; continue with: " + resume + "\n", 0), 0u) << stopped.out;
  const std::size_t summary = stopped.out.find("\nsummary\n");
  ASSERT_NE(summary, std::string::npos) << stopped.out;
  for (const std::string& part :
       {std::string("  eval loss       round 0 "), std::string(", best "), std::string(", latest "),
        std::string("  communication   up "), std::string(" in 1 rounds\n"), std::string("  skipped steps   0 of 4\n"),
        std::string("  wall time       "), "  run folder      " + run + "\nnext\n  " + resume + "\n",
        "  fedkseed report " + run + "\n"}) {
    EXPECT_NE(stopped.out.find(part, summary), std::string::npos) << part << " missing from:\n" << stopped.out;
  }
  EXPECT_EQ(stopped.out.find("final "), std::string::npos) << "no final evaluation yet\n" << stopped.out;
  // The best loss so far counts round 0, the base model, too.
  double base = 0, best = 0;
  ASSERT_EQ(std::sscanf(stopped.out.c_str() + stopped.out.find("  eval loss "), "  eval loss round 0 %lf, best %lf",
                        &base, &best), 2) << stopped.out;
  EXPECT_LE(best, base) << stopped.out;

  const auto resumed = run_command(kThreads + resume);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("  final eval loss "), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("  skipped steps   0 of 4 (rounds 2-2, since the resume)\n"), std::string::npos)
      << resumed.out;
  EXPECT_EQ(resumed.out.find("train --resume"), std::string::npos) << "a finished run has nothing to resume\n"
                                                                   << resumed.out;
}

TEST_F(Console, QuietStopAfterKeepsOnlyTheResumeLine) {
  const std::string root = *workspace_ + "/runs/stopped-quiet";
  const auto result =
      fedkseed(train_args("--eval_metric loss --log --log_root " + root + " --run_name run --stop_after 1 --quiet"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "stopped after round 1 of 2; continue with: " + std::string(FEDKSEED_BINARY) +
                            " train --resume " + root + "/run\n");
  EXPECT_EQ(result.err.find(" info "), std::string::npos) << result.err;
}

TEST_F(Console, QuietKeepsOnlyTheFinalLine) {
  const auto result = fedkseed(train_args("--rounds 1 --eval_metric loss --quiet"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("final round loss: ", 0), 0u) << result.out;
  EXPECT_EQ(count_of(result.out, "\n"), 1) << result.out;
  EXPECT_EQ(result.err.find(" info "), std::string::npos) << result.err;
}

// Parsed flags are logged (all of them with --log_level debug) before the model is opened.
CommandResult parse_only(const std::string& arguments) {
  return fedkseed("train --model /nonexistent/model " + arguments);
}

TEST(ConsoleOptions, FullYamlOnlyWithDebug) {
  const auto debug = parse_only("--log_level debug -K 23");
  EXPECT_EQ(debug.exit_code, 2);
  EXPECT_NE(debug.err.find("\nK: 23\n"), std::string::npos) << debug.err;
  EXPECT_EQ(debug.out, "");
  const auto info = parse_only("-K 23");
  EXPECT_EQ(info.exit_code, 2);
  EXPECT_EQ(info.err.find("K: 23"), std::string::npos) << info.err;
  EXPECT_NE(info.err.find(", K 23, "), std::string::npos) << info.err;
}

// Command line > config file > defaults, for the verbosity as for every flag.
TEST(ConsoleOptions, CommandLineVerbosityWinsOverTheConfigFile) {
  const std::string dir = make_temp_dir("console-config");
  write_text(dir + "/quiet.toml", "quiet = true\nK = 17\n");
  write_text(dir + "/debug.toml", "log_level = \"debug\"\n");

  const auto from_file = parse_only("--config " + dir + "/quiet.toml");
  EXPECT_EQ(from_file.err.find(" info "), std::string::npos) << from_file.err;
  const auto info_wins = parse_only("--config " + dir + "/quiet.toml --log_level info");
  EXPECT_NE(info_wins.err.find(" info "), std::string::npos) << info_wins.err;
  EXPECT_NE(info_wins.err.find(", K 17, "), std::string::npos) << "the file's other keys still count\n" << info_wins.err;
  const auto debug_wins = parse_only("--log_level debug --config " + dir + "/quiet.toml -K 5");
  EXPECT_NE(debug_wins.err.find("\nK: 5\n"), std::string::npos) << debug_wins.err;

  const auto quiet_wins = parse_only("--quiet --config " + dir + "/debug.toml");
  EXPECT_EQ(quiet_wins.err.find(" info "), std::string::npos) << quiet_wins.err;
  EXPECT_EQ(quiet_wins.err.find(" debug "), std::string::npos) << quiet_wins.err;
  const auto file_debug = parse_only("--config " + dir + "/debug.toml");
  EXPECT_NE(file_debug.err.find(" debug "), std::string::npos) << file_debug.err;
}

// --device auto (the default) on a machine without a GPU is the CPU, and there --dtype auto is
// fp32 with a note; theta0 is then kept in host memory. config.yaml records what ran.
TEST(ConsoleOptions, DeviceAutoPicksTheCpuAndFp32WithANote) {
  const auto result = parse_only("--log_level debug");
  EXPECT_EQ(result.exit_code, 2);
  if (gpu_visible()) {
    EXPECT_NE(result.err.find("device: \"cuda:0\"\n"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("dtype: \"fp16\"\n"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("init_on: \"gpu\"\n"), std::string::npos) << result.err;
    return;
  }
  EXPECT_NE(result.err.find("device: \"cpu\"\n"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("dtype: \"fp32\"\n"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("init_on: \"cpu\"\n"), std::string::npos) << result.err;
  EXPECT_EQ(count_of(result.err, "note: --dtype fp32 on the CPU"), 1) << result.err;

  const auto explicit_dtype = parse_only("--log_level debug --dtype fp16 --init_on gpu");
  EXPECT_NE(explicit_dtype.err.find("dtype: \"fp16\"\n"), std::string::npos) << explicit_dtype.err;
  EXPECT_NE(explicit_dtype.err.find("init_on: \"cpu\"\n"), std::string::npos) << explicit_dtype.err;
  EXPECT_EQ(explicit_dtype.err.find("note: --dtype"), std::string::npos) << explicit_dtype.err;
}

TEST_F(Console, EverySubcommandTakesDeviceAuto) {
  for (const char* command : {"train", "score", "generate", "export", "bench"}) {
    const auto help = fedkseed(std::string(command) + " --help");
    ASSERT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.out.find("auto (cuda:0 when a GPU is visible, else cpu)"), std::string::npos) << help.out;
  }
  if (gpu_visible()) GTEST_SKIP() << "the CPU defaults need a machine without a GPU";
  const auto generated = fedkseed("generate --model " + model() + " --prompt hi --max_new_tokens 2");
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  write_text(*workspace_ + "/score.jsonl", "{\"prompt\": \"Say yes.\", \"response\": \" Yes.\"}\n");
  const auto scored = fedkseed("score --model " + model() + " --data " + *workspace_ + "/score.jsonl");
  EXPECT_EQ(scored.exit_code, 0) << scored.err;
  EXPECT_EQ(scored.out.rfind("{\"loss\":", 0), 0u) << scored.out;
}

TEST(ConsoleOptions, ScoreAndGenerateStateTheTextTheyFeedTheModel) {
  const auto score = fedkseed("score --help");
  ASSERT_EQ(score.exit_code, 0);
  EXPECT_NE(score.out.find("BOS + prompt + response + EOS"), std::string::npos) << score.out;
  EXPECT_NE(score.out.find("no separator"), std::string::npos) << score.out;
  const auto generate = fedkseed("generate --help");
  ASSERT_EQ(generate.exit_code, 0);
  EXPECT_NE(generate.out.find("BOS + prompt"), std::string::npos) << generate.out;
  for (const std::string& text : {score.out, generate.out}) {
    EXPECT_NE(text.find("### Instruction:"), std::string::npos) << text;
  }
}

TEST(ConsoleOptions, BenchShowsEachFigureAsItIsMeasured) {
  const auto result = fedkseed(
      "bench --preset tiny --seq 16 --warmup 0 --repetitions 1 --replay_k 4 --decode_batch 0 --round_clients 0");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* figure : {"forward_ms", "zo_step_ms", "pass_ms", "replay_k4_s"}) {
    EXPECT_NE(result.err.find(std::string("bench: ") + figure + " "), std::string::npos) << result.err;
  }
  if (!gpu_visible()) {
    EXPECT_NE(result.out.find("fp32 on cpu"), std::string::npos) << result.out;
  }
}

}  // namespace
}  // namespace fedkseed::test
