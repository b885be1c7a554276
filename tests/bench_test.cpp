// `fedkseed bench` on the CPU with the tiny preset and few repetitions: every figure present in
// the JSON with a positive value, its floor and ratio; bad flags exit 2 with a message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_util.h"

namespace fedkseed {
namespace {

TEST(Bench, TinyOnCpuWritesEveryFigure) {
  const std::string dir = test::make_temp_dir("bench");
  const auto result = test::run_fedkseed(
      "bench --preset tiny --device cpu --seq 32 --warmup 1 --repetitions 2 --replay_k 4,8 "
      "--decode_batch 2 --decode_prompt 8 --decode_tokens 4 --round_clients 2 --round_steps 3 "
      "--round_k 16 --round_eval 2 --json " + dir + "/bench.json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("zo_step_ms"), std::string::npos);
  const auto json = nlohmann::json::parse(test::read_text(dir + "/bench.json"));
  EXPECT_EQ(json.at("preset"), "tiny");
  EXPECT_EQ(json.at("device"), "cpu");
  EXPECT_EQ(json.at("seq"), 32);
  EXPECT_GT(json.at("parameters").get<int64_t>(), 0);
  const auto& figures = json.at("figures");
  for (const char* name :
       {"zo_step_ms", "zo_step_pipelined_ms", "forward_ms", "weight_gemms_ms", "pass_ms", "pass_GBps",
        "pass_two_normals_ms", "peak_memory_GB", "replay_k4_s", "replay_k8_s", "normals_per_s",
        "decode_tokens_per_s", "decode_b1_tokens_per_s", "round_s", "round_replay_s", "round_first_s", "rounds60_min"}) {
    ASSERT_TRUE(figures.contains(name)) << name;
    const auto& f = figures.at(name);
    for (const char* key : {"value", "unit", "floor", "ratio", "floor_basis", "extrapolated"}) {
      EXPECT_TRUE(f.contains(key)) << name << "." << key;
    }
    if (std::string(name) != "peak_memory_GB") {
      EXPECT_GT(f.at("value").get<double>(), 0.0) << name;
    }
    EXPECT_GT(f.at("floor").get<double>(), 0.0) << name;
  }
  // Both replays were timed (none extrapolated), and each floor scales with K.
  EXPECT_FALSE(figures.at("replay_k4_s").at("extrapolated").get<bool>());
  EXPECT_FALSE(figures.at("replay_k8_s").at("extrapolated").get<bool>());
  EXPECT_DOUBLE_EQ(figures.at("replay_k8_s").at("floor").get<double>(), 2 * figures.at("replay_k4_s").at("floor").get<double>());
  // 60 rounds: the first round, then 59 steady ones.
  EXPECT_NEAR(figures.at("rounds60_min").at("value").get<double>(),
              (figures.at("round_first_s").at("value").get<double>() + 59 * figures.at("round_s").at("value").get<double>()) / 60,
              1e-9);
}

// Counts the operator `name` among a Chrome trace's events.
int count_events(const nlohmann::json& trace, const std::string& name) {
  int count = 0;
  for (const auto& event : trace.at("traceEvents")) count += event.value("name", "") == name ? 1 : 0;
  return count;
}

TEST(Bench, TraceRecordsOneExtraCallOfEachFigure) {
  const std::string dir = test::make_temp_dir("bench-trace");
  const auto result = test::run_fedkseed(
      "bench --preset tiny --device cpu --seq 16 --warmup 0 --repetitions 1 --replay_k 4 --decode_batch 3 "
      "--decode_prompt 8 --decode_tokens 4 --round_clients 0 --trace " + dir + "/traces");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // The tiny preset has 2 layers, each with one attention call per forward.
  const auto forward = nlohmann::json::parse(test::read_text(dir + "/traces/forward.json"));
  EXPECT_EQ(count_events(forward, "aten::scaled_dot_product_attention"), 2);
  // Five ZO steps, two forwards each.
  const auto steps = nlohmann::json::parse(test::read_text(dir + "/traces/zo_steps.json"));
  EXPECT_EQ(count_events(steps, "aten::scaled_dot_product_attention"), 5 * 2 * 2);
  // Decoding 4 tokens (the untimed call and the timed one): per call a prefill and 3 steps.
  for (const char* figure : {"decode_b3", "decode_b1"}) {
    const auto decode = nlohmann::json::parse(test::read_text(dir + "/traces/" + figure + ".json"));
    EXPECT_EQ(count_events(decode, "aten::scaled_dot_product_attention"), 2 * 4 * 2) << figure;
  }
  EXPECT_TRUE(nlohmann::json::parse(test::read_text(dir + "/traces/pass_two_normals.json")).contains("traceEvents"));

  // scripts/trace_summary.py tabulates a CPU trace by operator: the forward's 2 attention calls.
  const auto summary = test::run_command(std::string(FEDKSEED_PYTHON) + " " + FEDKSEED_SOURCE_DIR +
                                         "/scripts/trace_summary.py " + dir + "/traces/forward.json --top 100");
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("CPU operators; span"), std::string::npos) << summary.out;
  bool attention_listed = false;
  std::istringstream lines(summary.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string count, total, share, mean, name;
    if (fields >> count >> total >> share >> mean >> name && name == "aten::scaled_dot_product_attention") {
      attention_listed = true;
      EXPECT_EQ(count, "2") << line;
    }
  }
  EXPECT_TRUE(attention_listed) << summary.out;

  const std::string file = dir + "/a-file";
  test::write_text(file, "x");
  const auto bad = test::run_fedkseed("bench --preset tiny --device cpu --trace " + file);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--trace " + file + ": cannot be created as a directory"), std::string::npos) << bad.err;
}

TEST(Bench, BadPresetAndSeqExitWith2) {
  auto result = test::run_fedkseed("bench --preset gpt-9 --device cpu");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--preset: 'gpt-9' is unknown"), std::string::npos) << result.err;
  result = test::run_fedkseed("bench --preset tiny --device cpu --seq 1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--seq"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace fedkseed
