// `fedkseed train` with client-level DP and with Byzantine clients on the tiny model (CPU, one
// thread, fixed seeds): absent and no-op flags change nothing, ε is reported as the accountant
// gives it, an unreachable target is refused, and under a scale:-10 attack the mean's test loss
// rises while the median's and the trimmed mean's fall; without attackers all three stay close.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/dp_accountant.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fedkseed::test {
namespace {

const std::string kEnvironment = "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ";

class PrivacyRobustnessE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("privacy"));
    const auto model = run_fedkseed("init-model --preset tiny --seed 0 --out " + *workspace_ + "/model");
    ASSERT_EQ(model.exit_code, 0) << model.err;
    const auto data = run_fedkseed("make-tiny-data --records 600 --seed 0 --out " + *workspace_ + "/data");
    ASSERT_EQ(data.exit_code, 0) << data.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*workspace_);
    delete workspace_;
  }

  // A small Dolly run: 20 clients, 4 per round; later flags in `extra` override these.
  static CommandResult run_train(const std::string& name, const std::string& extra) {
    return run_command(kEnvironment + FEDKSEED_BINARY + " train --model " + *workspace_ + "/model --data_dir " +
                       *workspace_ + "/data --dataset dolly --num_clients 20 --iid dir0.5 -m 0.2 --rounds 3"
                       " --local_step 10 -K 64 --lr 2e-4 --zo_eps 1e-3 --dtype fp32 --device cpu --max_length 96"
                       " --eval_metric loss --eval_max_samples 30 --seed 3 --log --quiet --log_root " +
                       *workspace_ + "/runs/" + name + " " + extra);
  }
  static std::string train(const std::string& name, const std::string& extra) {
    const auto result = run_train(name, extra);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    for (const auto& entry : fs::directory_iterator(*workspace_ + "/runs/" + name)) return entry.path().string();
    return "";
  }

  static std::vector<double> eval_losses(const std::string& run) {
    return read_json(run + "/results.json").at("eval_avg_acc").get<std::vector<double>>();
  }

  static std::string* workspace_;
};

std::string* PrivacyRobustnessE2E::workspace_ = nullptr;

// σ = 0 and a clip no uplink reaches (C = ∞ in effect) are today's run, bit for bit; the
// committed golden run covers the flags' absence.
TEST_F(PrivacyRobustnessE2E, NoNoiseAndAClipNeverReachedEqualTheRunWithout) {
  const std::string plain = train("plain", "");
  const std::string noop = train("noop", "--dp_clip 1e30 --dp_noise 0 --aggregator mean --byzantine_fraction 0");
  EXPECT_EQ(eval_losses(noop), eval_losses(plain));
  const json a = read_json(plain + "/state.json"), b = read_json(noop + "/state.json");
  EXPECT_EQ(a.at("pool_cumulative"), b.at("pool_cumulative"));
  EXPECT_EQ(read_text(noop + "/seeds.json"), read_text(plain + "/seeds.json"));
  EXPECT_EQ(read_text(plain + "/config.yaml").find("dp_"), std::string::npos) << "defaults are not listed";
  EXPECT_NE(read_text(noop + "/config.yaml").find("dp_clip: 1e+30"), std::string::npos) << read_text(noop + "/config.yaml");
  for (const auto& line : read_jsonl(plain + "/metrics.jsonl")) EXPECT_FALSE(line.contains("dp_epsilon"));
}

TEST_F(PrivacyRobustnessE2E, EpsilonEveryRoundAndInFinalEvalForBothNoiseModes) {
  for (const std::string at : {"server", "clients"}) {
    const std::string run = train("dp_" + at, "--dp_clip 0.5 --dp_noise 2 --dp_noise_at " + at);
    const DpAccountant accountant(4.0 / 20.0, 1.0);  // σ/2: replacing a client moves the clipped sum by 2C
    const auto lines = read_jsonl(run + "/metrics.jsonl");
    ASSERT_EQ(lines.size(), 3u);
    for (const auto& line : lines) {
      EXPECT_DOUBLE_EQ(line.at("dp_epsilon").get<double>(), accountant.epsilon(line.at("round").get<int64_t>(), 1e-5));
      EXPECT_EQ(line.at("steps_applied").get<int64_t>(), 40) << at << ": a noise share is no step";
    }
    const json final_eval = read_json(run + "/final_eval.json");
    EXPECT_DOUBLE_EQ(final_eval.at("dp_epsilon").get<double>(), accountant.epsilon(3, 1e-5));
    EXPECT_DOUBLE_EQ(final_eval.at("dp_delta").get<double>(), 1e-5);
    EXPECT_DOUBLE_EQ(final_eval.at("dp_noise").get<double>(), 2.0);
    EXPECT_TRUE(std::isfinite(final_eval.at("final_eval_loss").get<double>()));
  }
}

TEST_F(PrivacyRobustnessE2E, TargetEpsilonIsMetOrTheRunRefusesToStart) {
  const std::string run = train("target", "--dp_clip 0.5 --dp_epsilon 4 --dp_delta 1e-6");
  const double spent = read_json(run + "/final_eval.json").at("dp_epsilon").get<double>();
  EXPECT_LE(spent, 4.0);
  EXPECT_GT(spent, 4.0 * 0.999);
  const auto refused = run_train("unreachable", "--dp_clip 0.5 --dp_epsilon 0.0001");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_EQ(refused.err.rfind("fedkseed: error: --dp_epsilon 0.0001", 0), 0u) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_FALSE(fs::exists(*workspace_ + "/runs/unreachable")) << "no run directory for a refused run";
}

// 20 clients, 10 per round, 4 attackers (20 %) sending -10 times their uplink; K = 4 so that
// every seed has most of the cohort as voters, and --trim 0.3 cuts two of them from each end.
// (The tiny random model learns little in four rounds: clean runs move the loss by a few
// hundredths either way, the attacked mean by several tenths.)
TEST_F(PrivacyRobustnessE2E, UnderAttackTheMeanRisesWhileMedianAndTrimmedMeanFall) {
  const std::string setting = "-m 0.5 --rounds 4 --local_step 20 -K 4 --lr 1e-3 --max_length 128 --trim 0.3 ";
  const std::string attack = "--byzantine_fraction 0.2 --attack scale:-10 ";
  std::map<std::string, std::vector<double>> clean, attacked;
  for (const std::string rule : {"mean", "median", "trimmed_mean"}) {
    clean[rule] = eval_losses(train("clean_" + rule, setting + "--aggregator " + rule));
    const std::string run = train("attacked_" + rule, setting + attack + "--aggregator " + rule);
    attacked[rule] = eval_losses(run);
    EXPECT_EQ(read_json(run + "/seeds.json").at("byzantine_clients").size(), 4u);
  }
  const double start = clean["mean"].front();
  EXPECT_GT(attacked["mean"].back(), start + 0.3) << json(attacked["mean"]).dump();
  for (const std::string rule : {"median", "trimmed_mean"}) {
    EXPECT_LT(attacked[rule].back(), start) << rule << " " << json(attacked[rule]).dump();
  }
  for (const std::string rule : {"median", "trimmed_mean"}) {
    EXPECT_NEAR(clean[rule].back(), clean["mean"].back(), 0.1) << rule << " " << json(clean[rule]).dump();
  }
}

}  // namespace
}  // namespace fedkseed::test
