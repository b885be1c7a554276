// First-order training: the autograd gradient of training_loss() against central finite
// differences of the inference loss (an independent check of every backward formula used),
// a loss that falls on a learnable set, bit-identical repeats, and `fedkseed pretrain` end to end.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <torch/cuda.h>

#include "fedkseed/common/random.h"
#include "fedkseed/model/first_order_training.h"
#include "fedkseed/model/llama.h"
#include "test_util.h"

namespace fedkseed {
namespace {

LlamaConfig small_config() {
  LlamaConfig config = llama_preset("tiny");
  config.vocab_size = 50;
  config.num_hidden_layers = 2;
  return config;
}

std::vector<std::vector<int64_t>> counting_sequences() {
  // Each sequence counts up from its start modulo 40: easy to learn, hard to guess.
  std::vector<std::vector<int64_t>> sequences;
  for (int64_t start = 0; start < 12; ++start) {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < 10 + start % 4; ++i) ids.push_back(3 + (start + i) % 40);
    sequences.push_back(ids);
  }
  return sequences;
}

TEST(FirstOrderTraining, GradientMatchesFiniteDifferences) {
  at::set_num_threads(1);
  const LlamaModel base = LlamaModel::random_init(small_config(), 3, at::kFloat, at::kCPU);
  const LlamaModel trainable = base.with_gradients();
  at::manual_seed(0);
  const at::Tensor ids = at::randint(3, 50, {2, 9}, at::kLong);
  at::Tensor labels = ids.clone();
  labels[1].narrow(0, 0, 3).fill_(-100);
  trainable.training_loss(ids, labels).backward();
  const at::Tensor gradient = trainable.flat_parameters().grad().to(at::kDouble);
  for (int direction = 0; direction < 3; ++direction) {
    const at::Tensor v = at::randn({base.flat_parameters().numel()});
    const at::Tensor unit = v / v.norm();
    const double h = 1e-2;
    const LlamaModel shifted = LlamaModel::random_init(small_config(), 3, at::kFloat, at::kCPU);
    shifted.flat_parameters().copy_(base.flat_parameters() + h * unit);
    const double plus = shifted.loss(ids, labels).item<double>();
    shifted.flat_parameters().copy_(base.flat_parameters() - h * unit);
    const double minus = shifted.loss(ids, labels).item<double>();
    const double numeric = (plus - minus) / (2 * h);
    const double analytic = (gradient * unit.to(at::kDouble)).sum().item<double>();
    EXPECT_NEAR(analytic, numeric, 1e-3 + 2e-2 * std::abs(numeric)) << "direction " << direction;
  }
}

TEST(FirstOrderTraining, LowersTheLossAndRepeatsBitForBit) {
  at::set_num_threads(1);
  const LlamaModel base = LlamaModel::random_init(small_config(), 5, at::kFloat, at::kCPU);
  const auto sequences = counting_sequences();
  FirstOrderOptions options;
  options.steps = 60;
  options.batch_size = 4;
  options.lr = 3e-3;
  options.seed = 11;
  std::vector<TrainingPoint> points;
  const LlamaModel first = train_first_order(base, sequences, 0, options, 20, [&](const TrainingPoint& p) { points.push_back(p); });
  const LlamaModel second = train_first_order(base, sequences, 0, options, 20, [](const TrainingPoint&) {});
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points.back().step, 60);
  const double before = language_model_loss(base, sequences, 0, 4);
  const double after = language_model_loss(first, sequences, 0, 4);
  EXPECT_NEAR(before, std::log(50.0), 0.5);  // a random model guesses uniformly
  EXPECT_LT(after, 0.5 * before);
  EXPECT_TRUE(at::equal(first.flat_parameters(), second.flat_parameters()));
  EXPECT_FALSE(at::equal(first.flat_parameters(), base.flat_parameters()));
}

TEST(PretrainCli, WritesALoadableBaseWhoseHeldOutLossFell) {
  const std::string dir = test::make_temp_dir("pretrain");
  const std::string env = "OMP_NUM_THREADS=1 ";
  ASSERT_EQ(test::run_command(env + FEDKSEED_BINARY + " init-model --preset tiny --seed 0 --out " + dir + "/random").exit_code, 0);
  ASSERT_EQ(test::run_fedkseed("make-tiny-data --records 200 --seed 1 --out " + dir + "/data").exit_code, 0);
  const std::string dolly = dir + "/data/databricks-dolly-15k.jsonl";
  const auto result = test::run_command(env + FEDKSEED_BINARY + " pretrain --model " + dir + "/random --out " + dir +
                                        "/base --dolly_text " + dolly + " --dolly " + dolly +
                                        " --steps 40 --batch_size 8 --lr 3e-3 --threads 1 --log_every 20");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto record = nlohmann::json::parse(test::read_text(dir + "/base/pretrain.json"));
  EXPECT_EQ(record.at("curve").size(), 2u);
  EXPECT_LT(record.at("heldout_loss").get<double>(), record.at("heldout_loss_before").get<double>() - 1.0);
  // The written folder is a checkpoint the tools load, with the base's tokenizer.
  test::write_text(dir + "/probe.jsonl", "{\"prompt\": \"What is 2 plus 3?\", \"response\": \"5\"}\n");
  const auto score = test::run_fedkseed("score --model " + dir + "/base --data " + dir + "/probe.jsonl");
  EXPECT_EQ(score.exit_code, 0) << score.err;

  // Bad input: one line naming the flag or file, exit 2, nothing written.
  for (const std::string& flags : {std::string(" --dolly ") + dir + "/missing.jsonl --steps 2",
                                   " --dolly " + dolly + " --steps 0"}) {
    const auto bad = test::run_fedkseed("pretrain --model " + dir + "/random --out " + dir + "/bad" + flags);
    EXPECT_EQ(bad.exit_code, 2) << flags;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/bad/config.json"));
  }
  std::filesystem::remove_all(dir);
}

// On a GPU the same seed gives the same weights, bit for bit: sequences of 256 tokens make the
// fused attention backwards split their keys, whose atomic sums change from run to run.
TEST(PretrainCuda, SameSeedGivesTheSameWeights) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string dir = test::make_temp_dir("pretrain_cuda");
  ASSERT_EQ(test::run_fedkseed("init-model --preset tiny --seed 0 --out " + dir + "/random").exit_code, 0);
  Rng rng(5, "pretrain_cuda/text");
  std::string records;
  for (int record = 0; record < 64; ++record) {
    std::string words;
    for (int word = 0; word < 400; ++word) words += " w" + std::to_string(rng.next_u64() % 97);
    records += nlohmann::json{{"instruction", "Say it"}, {"context", ""}, {"response", words}, {"category", "open_qa"}}.dump() + "\n";
  }
  test::write_text(dir + "/long.jsonl", records);
  for (const std::string run : {"a", "b"}) {
    const auto result = test::run_fedkseed("--quiet pretrain --model " + dir + "/random --out " + dir + "/" + run +
                                           " --dolly_text " + dir + "/long.jsonl --steps 8 --batch_size 16"
                                           " --max_length 256 --lr 3e-3 --device 0 --seed 1");
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  const auto a = LlamaModel::load(dir + "/a", at::kFloat, at::kCPU), b = LlamaModel::load(dir + "/b", at::kFloat, at::kCPU);
  EXPECT_TRUE(a.flat_parameters().equal(b.flat_parameters()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fedkseed
