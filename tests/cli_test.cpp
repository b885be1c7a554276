// The train CLI: every reference flag is offered, and bad input is one line naming
// the flag with exit code 2.
#include <gtest/gtest.h>

#include "test_util.h"

namespace fedkseed::test {
namespace {

TEST(Cli, TrainHelpListsEveryReferenceFlag) {
  const auto result = run_fedkseed("train --help");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* flag :
       {"-K", "-m", "--rounds", "--local_step", "--batch_or_epoch", "--equal_weight", "--dataset",
        "--batch_size", "--max_length", "--use_prompts", "--iid", "--zerotask",
        "--dataset_subsample", "--model", "--lr", "--weight_decay", "--grad_clip", "--zo_eps",
        "--bias_sampling", "--bias_loss_clip", "--grad_initial", "--device", "--log", "--log_root",
        "--seed", "--eval_metric", "--save", "--data_dir", "--dtype", "--config", "--num_clients"}) {
    const std::string text = result.out;
    const bool found = text.find(" " + std::string(flag) + " ") != std::string::npos ||
                       text.find(" " + std::string(flag) + ",") != std::string::npos ||
                       text.find(" " + std::string(flag) + "\n") != std::string::npos;
    EXPECT_TRUE(found) << flag << " missing from train --help";
  }
}

struct BadInput {
  const char* arguments;
  const char* flag;      // must be named in the message
  const char* accepted;  // part of the accepted range shown
};

class CliBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(CliBadInput, OneLineNamingTheFlagAndExit2) {
  const auto& param = GetParam();
  const auto result = run_fedkseed(std::string("train --device cpu ") + param.arguments);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  const std::string first_line = result.err.substr(0, result.err.find('\n'));
  EXPECT_EQ(first_line.rfind("fedkseed: error: ", 0), 0u) << result.err;
  EXPECT_NE(first_line.find(param.flag), std::string::npos) << result.err;
  EXPECT_NE(first_line.find(param.accepted), std::string::npos) << result.err;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CliBadInput,
    ::testing::Values(BadInput{"-K -1", "-K", "0..16777216"}, BadInput{"-m 0", "-m", "(0, 1]"},
                      BadInput{"-m 1.5", "-m", "(0, 1]"},
                      BadInput{"--rounds -3", "--rounds", "0..100000"},
                      BadInput{"--local_step -1", "--local_step", "0..1000000"},
                      BadInput{"--iid dirx", "--iid", "dir<alpha>"},
                      BadInput{"--iid dir0", "--iid", "alpha > 0"},
                      BadInput{"--iid 1", "--iid", "dir<alpha>"},
                      BadInput{"--dataset alpaca", "--dataset", "instruct|dolly"},
                      BadInput{"--dtype fp8", "--dtype", "fp16|bf16|fp32"},
                      BadInput{"--config /nonexistent/fedkseed.toml", "--config", "fedkseed.toml"},
                      BadInput{"--config /", "--config /", "not a readable file"},
                      BadInput{"--log --run_name a/b", "--run_name", "one folder name"},
                      BadInput{"--run_name x", "--run_name", "needs --log"},
                      BadInput{"--dp_clip 0", "--dp_clip", "> 0"}, BadInput{"--dp_clip -1", "--dp_clip", "> 0"},
                      BadInput{"--dp_noise -0.5", "--dp_noise", ">= 0"},
                      BadInput{"--dp_delta 0", "--dp_delta", "(0, 1)"}, BadInput{"--dp_delta 1", "--dp_delta", "(0, 1)"},
                      BadInput{"--dp_epsilon 0", "--dp_epsilon", "> 0"},
                      BadInput{"--dp_noise_at both", "--dp_noise_at", "server|clients"},
                      BadInput{"--dp_noise 1", "--dp_noise", "--dp_clip C"},
                      BadInput{"--dp_clip 1 --dp_noise 1 --aggregator median", "--dp_noise", "--aggregator mean"},
                      BadInput{"--aggregator mode", "--aggregator", "mean|median|trimmed_mean|norm_bound"},
                      BadInput{"--trim 0.5", "--trim", "[0, 0.5)"}, BadInput{"--trim -0.1", "--trim", "[0, 0.5)"},
                      BadInput{"--byzantine_fraction 1", "--byzantine_fraction", "[0, 1)"},
                      BadInput{"--byzantine_fraction -0.2", "--byzantine_fraction", "[0, 1)"},
                      BadInput{"--attack lie", "--attack", "sign_flip|gaussian|scale:S"},
                      BadInput{"--attack scale:x", "--attack", "sign_flip|gaussian|scale:S"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return "case" + std::to_string(info.index); });

// No machine has 1000 GPUs: a CPU-only build, a machine without GPUs and one with GPUs all
// refuse the device with one line naming the flag.
TEST(Cli, MissingCudaDeviceIsRefused) {
  const auto result = run_fedkseed("train --device cuda:999");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err.rfind("fedkseed: error: --device cuda:999: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find("CUDA"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "one line: " << result.err;
  EXPECT_NE(result.err.find("use --device cpu"), std::string::npos) << result.err;
}

TEST(Cli, GenerateRefusesImpossibleMaxNewTokens) {
  const std::string model = make_temp_dir("generate") + "/model";
  ASSERT_EQ(run_fedkseed("init-model --preset tiny --seed 0 --out " + model).exit_code, 0);
  for (const char* count : {"-1", "1000000000"}) {
    const auto result = run_fedkseed("generate --model " + model + " --prompt hi --max_new_tokens " + std::string(count));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("fedkseed: error: --max_new_tokens", 0), 0u) << result.err;
  }
  EXPECT_NE(run_fedkseed("generate --model " + model + " --prompt hi --max_new_tokens 1000000000").err.find(
                "max_position_embeddings 2048"),
            std::string::npos);
  const auto ok = run_fedkseed("generate --model " + model + " --prompt hi --max_new_tokens 3");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("\"ids\""), std::string::npos) << ok.out;
}

// Sizes that would exhaust memory and a NaN that would silently mean "off" are refused by
// validation, naming the flag, before any model or data is opened.
TEST(Cli, HugeCountsAndNanAreRefusedNamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--rounds 1000000000000", "--rounds: 1000000000000 is invalid; accepted: 0..100000"},
      {"-K 1000000000000", "-K: 1000000000000 is invalid; accepted: 0..16777216 (0 = a fresh seed every step)"},
      {"--local_step 1000000000000", "--local_step: 1000000000000 is invalid; accepted: 0..1000000"},
      {"--num_clients 1000000000000", "--num_clients: 1000000000000 is invalid; accepted: 1..1000000"},
      {"--grad_clip nan", "--grad_clip: nan is invalid; accepted: a number (<= 0: off)"},
      {"--grad_initial inf", "--grad_initial: inf is invalid; accepted: a finite value"},
      {"--threads -1", "--threads: -1 is invalid; accepted: 0 (automatic) or 1..4096"}};
  for (const auto& [flags, message] : cases) {
    const auto result = run_fedkseed("train --device cpu --model /nonexistent/model " + flags);
    EXPECT_EQ(result.exit_code, 2) << flags << ": " << result.err;
    EXPECT_EQ(result.err, "fedkseed: error: " + message + "\n") << flags;
  }
}

TEST(Cli, UnknownFlagIsAnError) {
  const auto result = run_fedkseed("train --device cpu --round 3");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--round"), std::string::npos) << result.err;
}

// Flags are parsed and, with --log_level debug, logged as config.yaml before the model is
// opened, so a missing model shows how the flags were understood and that parsing succeeded.
CommandResult parse_only(const std::string& arguments) {
  return run_fedkseed("train --device cpu --model /nonexistent/model --log_level debug " + arguments);
}

void expect_parsed(const CommandResult& result, const std::string& context) {
  EXPECT_EQ(result.exit_code, 2) << context;
  EXPECT_NE(result.err.find("--model /nonexistent/model: no such folder"), std::string::npos)
      << context << ": " << result.err;
}

TEST(Cli, UsePromptsWorksBareAndWithAValue) {
  for (const char* form : {"--use_prompts", "--use_prompts true", "--use_prompts=1"}) {
    const auto result = parse_only(form);
    expect_parsed(result, form);
    EXPECT_NE(result.err.find("use_prompts: true"), std::string::npos) << form;
  }
  const auto off = parse_only("--use_prompts false");
  expect_parsed(off, "--use_prompts false");
  EXPECT_NE(off.err.find("use_prompts: false"), std::string::npos) << off.err;
}

TEST(Cli, ConfigFileSetsFlagsAndCommandLineWins) {
  const std::string dir = make_temp_dir("config");
  write_text(dir + "/run.toml", "K = 17\nrounds = 0\nlr = 3e-7\nbias_sampling = true\ndataset = \"dolly\"\n");
  const auto result = parse_only("--config " + dir + "/run.toml -K 23");
  expect_parsed(result, "config file");
  EXPECT_NE(result.err.find("K: 23"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("bias_sampling: true"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("dataset: \"dolly\""), std::string::npos) << result.err;

  write_text(dir + "/typo.toml", "rouns = 3\n");
  const auto typo = run_fedkseed("train --device cpu --config " + dir + "/typo.toml");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("unknown key 'rouns'"), std::string::npos) << typo.err;

  write_text(dir + "/bad_value.toml", "K = \"many\"\n");
  const auto bad_value = run_fedkseed("train --device cpu --config " + dir + "/bad_value.toml");
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_EQ(bad_value.err.rfind("fedkseed: error: --config " + dir + "/bad_value.toml: key 'K': ", 0), 0u)
      << bad_value.err;

  write_text(dir + "/out_of_range.toml", "rounds = -3\n");
  const auto out_of_range = run_fedkseed("train --device cpu --config " + dir + "/out_of_range.toml");
  EXPECT_EQ(out_of_range.exit_code, 2);
  EXPECT_EQ(out_of_range.err.rfind("fedkseed: error: --rounds: ", 0), 0u) << out_of_range.err;
  EXPECT_NE(out_of_range.err.find("(set by --config " + dir + "/out_of_range.toml)\n"), std::string::npos)
      << out_of_range.err;
}

// The global --quiet and --log_level can live in a config file too.
TEST(Cli, ConfigFileMaySetTheLogLevel) {
  const std::string dir = make_temp_dir("config-log");
  const std::string model = dir + "/model", data = dir + "/data";
  ASSERT_EQ(run_fedkseed("init-model --preset tiny --seed 0 --out " + model).exit_code, 0);
  ASSERT_EQ(run_fedkseed("make-tiny-data --records 200 --seed 0 --out " + data).exit_code, 0);
  const std::string run = "train --device cpu --dtype fp32 --model " + model + " --data_dir " + data +
                          " --dataset dolly --num_clients 4 -m 0.5 --rounds 0 --eval_metric loss --eval_max_samples 4";
  const auto chatty = run_fedkseed(run);
  ASSERT_EQ(chatty.exit_code, 0) << chatty.err;
  EXPECT_NE(chatty.err.find(" info "), std::string::npos) << chatty.err;
  write_text(dir + "/quiet.toml", "quiet = true\n");
  const auto quiet = run_fedkseed(run + " --config " + dir + "/quiet.toml");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find(" info "), std::string::npos) << quiet.err;
}

}  // namespace
}  // namespace fedkseed::test
