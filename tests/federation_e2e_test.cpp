// `fedkseed train` end to end on the tiny model (CPU): learning, FedKSeed vs Pro,
// measured bytes, resume (clean stop and kill -9) and export.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include <torch/torch.h>

#include "fedkseed/model/llama.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fedkseed::test {
namespace {

constexpr int64_t kClientsPerRound = 4;
constexpr int64_t kSteps = 15;
constexpr int64_t kK = 64;

class FederationE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("e2e"));
    const auto model = run_fedkseed("init-model --preset tiny --seed 0 --out " + model_dir());
    ASSERT_EQ(model.exit_code, 0) << model.err;
    const auto data = run_fedkseed("make-tiny-data --records 600 --seed 0 --out " + *workspace_ + "/data");
    ASSERT_EQ(data.exit_code, 0) << data.err;
  }
  static void TearDownTestSuite() { delete workspace_; }

  static std::string model_dir() { return *workspace_ + "/model"; }

  // Flags of a small Dolly run; later flags in `extra` override these.
  static std::string train_args(const std::string& log_root, const std::string& extra) {
    return "train --model " + model_dir() + " --data_dir " + *workspace_ + "/data" +
           " --dataset dolly --num_clients 20 --iid dir0.5 -m 0.2 --rounds 3 --local_step " +
           std::to_string(kSteps) + " -K " + std::to_string(kK) +
           " --lr 2e-4 --zo_eps 1e-3 --dtype fp32 --device cpu --max_length 96 --eval_metric loss"
           " --eval_max_samples 30 --log --quiet --log_root " + log_root + " " + extra;
  }

  // Runs training and returns its run directory (the only one under log_root).
  static std::string train(const std::string& name, const std::string& extra = "") {
    const std::string root = *workspace_ + "/runs/" + name;
    const auto result = run_fedkseed(train_args(root, extra));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return run_dir_in(root);
  }

  static std::string run_dir_in(const std::string& root) {
    for (const auto& entry : fs::directory_iterator(root)) return entry.path().string();
    return "";
  }



  static std::string* workspace_;
};

std::string* FederationE2E::workspace_ = nullptr;

TEST_F(FederationE2E, LossFallsAndTheReferenceFilesAreWritten) {
  // lr 5e-4: at the default 2e-4 the eval loss of this random tiny model moves by about as much
  // from round to round (±0.02) as it falls in five rounds, and the test would hang on luck.
  const std::string run = train("learn", "--rounds 5 --local_step 40 -K 256 --max_length 128 --lr 5e-4");
  const auto losses = read_json(run + "/results.json").at("eval_avg_acc").get<std::vector<double>>();
  ASSERT_EQ(losses.size(), 6u);  // round 0 and every round
  EXPECT_LT(losses.back(), losses.front() - 0.01) << "eval loss did not fall: " << json(losses).dump();
  const auto lines = read_jsonl(run + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_LT(lines.back().at("train_loss").get<double>(), lines.front().at("train_loss").get<double>() - 0.05);
  for (const char* file : {"config.yaml", "memory.json", "final_eval.json", "seeds.json", "state.json"}) {
    EXPECT_TRUE(fs::exists(run + "/" + file)) << file;
  }
  EXPECT_TRUE(read_json(run + "/final_eval.json").contains("final_eval_loss"));
  EXPECT_GT(read_json(run + "/memory.json").at("0").at("max_memory_allocated").get<int64_t>(), 0);
}

TEST_F(FederationE2E, BytesOnTheWireMatchTheMessageEncoding) {
  const std::string uniform = train("bytes");
  const std::string pro = train("bytes_pro", "--bias_sampling");
  // Down, per client: layout, round, first fresh index and fresh count (13 bytes), then the
  // rounds' increments since its last synchronisation (round 1: none, a 4-byte count) or at
  // most the whole pool (count + K doubles), and for Pro the K probabilities (count + doubles).
  constexpr int64_t kHeader = 13, kWholePool = 4 + 8 * kK;
  for (const auto& [run, probability_bytes] : {std::pair<std::string, int64_t>{uniform, 0}, std::pair<std::string, int64_t>{pro, 4 + 8 * kK}}) {
    const auto lines = read_jsonl(run + "/metrics.jsonl");
    for (const auto& line : lines) {
      // Up: per client a layout byte, a 4-byte data size (batches) and 8 bytes per applied step.
      EXPECT_EQ(line.at("bytes_up").get<int64_t>(),
                kClientsPerRound * 5 + 8 * line.at("steps_applied").get<int64_t>());
      EXPECT_LE(line.at("bytes_down").get<int64_t>(), kClientsPerRound * (kHeader + kWholePool + probability_bytes));
      EXPECT_GT(line.at("bytes_fedavg").get<int64_t>(), 1000 * line.at("bytes_down").get<int64_t>());
    }
    EXPECT_EQ(lines[0].at("bytes_down").get<int64_t>(), kClientsPerRound * (kHeader + 4 + probability_bytes));
    EXPECT_GT(lines[1].at("bytes_down").get<int64_t>(), lines[0].at("bytes_down").get<int64_t>());
  }
  // Pro samples seeds differently from round 2 on, so the pools differ.
  EXPECT_NE(read_json(uniform + "/state.json").at("pool_cumulative"),
            read_json(pro + "/state.json").at("pool_cumulative"));
  EXPECT_FALSE(read_json(pro + "/state.json").at("pro_history").empty());
}

// --local_step 0: clients send no pairs and the global model stays theta0 (same eval loss).
TEST_F(FederationE2E, RoundsWithoutLocalStepsChangeNothing) {
  const std::string run = train("no_steps", "--local_step 0 --rounds 2");
  for (const auto& line : read_jsonl(run + "/metrics.jsonl")) {
    EXPECT_EQ(line.at("steps_applied").get<int64_t>(), 0);
    EXPECT_EQ(line.at("bytes_up").get<int64_t>(), kClientsPerRound * 5);
  }
  const auto losses = read_json(run + "/results.json").at("eval_avg_acc").get<std::vector<double>>();
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_EQ(losses[1], losses[0]);
  EXPECT_EQ(losses[2], losses[0]);
}

TEST_F(FederationE2E, UnboundedSeedsMakeCommunicationGrow) {
  const std::string run = train("unbounded", "-K 0");
  const auto lines = read_jsonl(run + "/metrics.jsonl");
  const auto state = read_json(run + "/state.json");
  EXPECT_TRUE(state.at("seeds_and_schedule").at("seeds").empty());
  EXPECT_EQ(state.at("pool_seeds").size(), static_cast<size_t>(lines[0].at("steps_applied").get<int64_t>() +
                                                                lines[1].at("steps_applied").get<int64_t>() +
                                                                lines[2].at("steps_applied").get<int64_t>()));
  // Up: 12 bytes per (64-bit seed, scalar) pair.
  EXPECT_EQ(lines[0].at("bytes_up").get<int64_t>(), kClientsPerRound * 5 + 12 * lines[0].at("steps_applied").get<int64_t>());
}

// --stop_after 2 then --resume equals the uninterrupted run, for both replays of the global
// model (incremental runs are rebuilt round by round from their saved increments).
TEST_F(FederationE2E, StopAndResumeEqualsAnUninterruptedRun) {
  for (const std::string sync : {"from_init", "incremental"}) {
    SCOPED_TRACE(sync);
    const std::string whole = train("whole_" + sync, "--sync " + sync);
    const std::string root = *workspace_ + "/runs/stopped_" + sync;
    const auto first = run_fedkseed(train_args(root, "--sync " + sync + " --stop_after 2"));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const std::string stopped = run_dir_in(root);
    EXPECT_EQ(read_json(stopped + "/state.json").at("last_round").get<int64_t>(), 2);
    EXPECT_FALSE(fs::exists(stopped + "/final_eval.json"));
    const auto resumed = run_fedkseed("train --quiet --resume " + stopped);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;

    const auto a = read_json(whole + "/state.json"), b = read_json(stopped + "/state.json");
    EXPECT_EQ(a.at("pool_cumulative"), b.at("pool_cumulative"));
    EXPECT_EQ(a.at("round_increments"), b.at("round_increments"));
    EXPECT_EQ(a.at("data_positions"), b.at("data_positions"));
    EXPECT_EQ(read_text(whole + "/results.json"), read_text(stopped + "/results.json"));
    EXPECT_EQ(read_text(whole + "/final_eval.json"), read_text(stopped + "/final_eval.json"));
    EXPECT_EQ(read_jsonl(stopped + "/metrics.jsonl").size(), 3u);
  }
  EXPECT_EQ(read_json(run_dir_in(*workspace_ + "/runs/whole_incremental") + "/state.json").at("round_increments").size(), 3u);
}

// state.json is written last: a run killed after writing a round's other files (here a torn
// metrics line, as an in-place append leaves it, and results.json a round ahead or behind)
// is rebuilt from the state on resume.
TEST_F(FederationE2E, ResumeRebuildsTornOrStaleRunFilesFromTheState) {
  const std::string whole = train("torn_whole");
  const std::string root = *workspace_ + "/runs/torn";
  ASSERT_EQ(run_fedkseed(train_args(root, "--stop_after 2")).exit_code, 0);
  const std::string torn = run_dir_in(root);
  write_text(torn + "/metrics.jsonl", read_text(torn + "/metrics.jsonl") + "{\"round\": 3, \"train_lo");
  write_text(torn + "/results.json", "{\"eval_avg_acc\": [1.0, 2.0, 3.0, 4.0]}\n");
  const auto resumed = run_fedkseed("train --quiet --resume " + torn);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_text(whole + "/results.json"), read_text(torn + "/results.json"));
  EXPECT_EQ(read_text(whole + "/final_eval.json"), read_text(torn + "/final_eval.json"));
  ASSERT_EQ(read_jsonl(torn + "/metrics.jsonl").size(), 3u);
  EXPECT_EQ(read_jsonl(torn + "/metrics.jsonl")[2].at("train_loss"), read_jsonl(whole + "/metrics.jsonl")[2].at("train_loss"));

  // Killed after the last round's state but before its results and final evaluation.
  const std::string finished = *workspace_ + "/runs/finished_copy";
  fs::copy(whole, finished, fs::copy_options::recursive);
  write_text(finished + "/results.json", "{\"eval_avg_acc\": [1.0]}\n");
  fs::remove(finished + "/final_eval.json");
  const auto completed = run_fedkseed("train --quiet --resume " + finished);
  ASSERT_EQ(completed.exit_code, 0) << completed.err;
  EXPECT_EQ(read_text(whole + "/results.json"), read_text(finished + "/results.json"));
  EXPECT_EQ(read_text(whole + "/final_eval.json"), read_text(finished + "/final_eval.json"));
}

// A NaN eval loss (here: the first 4 test examples have no answer token within 64 tokens, so
// the mean is over no labels, as in the reference) keeps its round in results.json, as null
// (JSON has no NaN), so entries still line up with rounds 0, 1, 2; it is never the best round.
TEST_F(FederationE2E, NanEvalLossKeepsItsRoundInResults) {
  const std::string run = train("nan", "--rounds 2 --local_step 2 --max_length 64 --eval_max_samples 4");
  const auto losses = read_json(run + "/results.json").at("eval_avg_acc");
  EXPECT_EQ(losses, json::parse("[null, null, null]"));
  const auto lines = read_jsonl(run + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1].at("evaluated").get<bool>());
  EXPECT_TRUE(lines[1].at("eval_loss").is_null());
  EXPECT_EQ(read_json(run + "/state.json").at("best_round").get<int64_t>(), -1);
}

// The reference weighs a client by len(train_loader), its number of batches: with batches
// larger than every client's data each client has one, so the weights are equal.
TEST_F(FederationE2E, AggregationWeighsClientsByBatchesAsTheReference) {
  const std::string extra = "--rounds 1 --local_step 2 --batch_size 1000 --eval_max_samples 2";
  const std::string by_size = train("weights_size", extra);
  const std::string equal = train("weights_equal", extra + " --equal_weight");
  const auto pool = read_json(by_size + "/state.json").at("pool_cumulative");
  EXPECT_EQ(pool, read_json(equal + "/state.json").at("pool_cumulative"));
  EXPECT_GT(std::count_if(pool.begin(), pool.end(), [](const json& g) { return g.get<double>() != 0.0; }), 0);
}

// A run started with relative paths resumes from another directory; flags the resume would
// ignore are named in a warning (the options line shows the saved values), --rounds is refused.
TEST_F(FederationE2E, ResumeUsesTheSavedFlagsFromAnyDirectory) {
  const std::string root = *workspace_ + "/runs/relative";
  const std::string relative_args = "train --model model --data_dir data --dataset dolly --num_clients 20 -m 0.2 "
                                    "--rounds 2 --stop_after 1 --local_step 2 -K 8 --lr 2e-4 --dtype fp32 --device cpu "
                                    "--max_length 64 --eval_metric loss --eval_max_samples 4 --log --quiet --log_root runs/relative";
  const auto first = run_command("cd " + *workspace_ + " && " + FEDKSEED_BINARY + " " + relative_args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string run = run_dir_in(root);
  EXPECT_EQ(read_json(run + "/state.json").at("options").at("model").get<std::string>(), model_dir());

  const auto longer = run_command("cd / && " + std::string(FEDKSEED_BINARY) + " train --resume " + run + " --rounds 5");
  EXPECT_EQ(longer.exit_code, 2);
  EXPECT_NE(longer.err.find("--rounds 5: the run in " + run + " has --rounds 2"), std::string::npos) << longer.err;
  // The state records its generator (the default, philox-icdf); another one cannot rebuild it.
  EXPECT_EQ(read_json(run + "/state.json").at("options").at("rng").get<std::string>(), "philox-icdf");
  const auto other = run_command("cd / && " + std::string(FEDKSEED_BINARY) + " train --resume " + run + " --rng philox");
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("fedkseed: error: --rng philox: the run in " + run + " was made with --rng philox-icdf"),
            std::string::npos) << other.err;

  // The job's own command line plus --resume: its relative paths equal the saved absolute
  // ones, so nothing is "ignored"; its --stop_after 1 is a round already finished.
  const auto again = run_command("cd " + *workspace_ + " && " + FEDKSEED_BINARY + " " + relative_args + " --resume " + run);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_EQ(again.err.find("ignoring"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--stop_after 1: the run in " + run + " has already finished round 1"), std::string::npos)
      << again.err;

  const auto resumed = run_command("cd / && " + std::string(FEDKSEED_BINARY) + " train --resume " + run + " --lr 0.1 -K 8");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("ignoring --lr: a resumed run keeps its saved flags"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find(", lr 0.0002,"), std::string::npos) << resumed.err;
  EXPECT_EQ(read_json(run + "/state.json").at("last_round").get<int64_t>(), 2);
}

// --seeds_file: its seed count is the K used (config.yaml shows it); seeds outside the
// reference's [1, 1e11) and an empty list with FedKSeed-Pro are refused, naming the file.
TEST_F(FederationE2E, SeedsFileSetsKAndIsChecked) {
  const std::string file = *workspace_ + "/seeds.json";
  const std::string schedule = "\"schedule\": [[0, 1, 2, 3]]}";
  write_text(file, "{\"seeds\": [5, 99999999999, 7], " + schedule);
  const std::string run = train("seeds_file", "--rounds 1 --local_step 2 --eval_max_samples 2 --seeds_file " + file);
  EXPECT_NE(read_text(run + "/config.yaml").find("K: 3\n"), std::string::npos) << read_text(run + "/config.yaml");

  for (const char* bad : {"0", "100000000000", "-5", "1.5", "18446744073709551617"}) {
    write_text(file, std::string("{\"seeds\": [5, 6, ") + bad + "], " + schedule);
    const auto result = run_fedkseed(train_args(*workspace_ + "/runs/bad_seeds", "--seeds_file " + file));
    EXPECT_EQ(result.exit_code, 2) << bad;
    EXPECT_EQ(result.err.rfind("fedkseed: error: --seeds_file " + file + ": seeds[2] = ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(" is not an integer in [1, 1e11)"), std::string::npos) << result.err;
  }
  write_text(file, "{\"seeds\": [5, 6], \"schedule\": [[0, 1, 2, 3], [4, 2, 5, 2]]}");
  const auto twice = run_fedkseed(train_args(*workspace_ + "/runs/bad_seeds", "--rounds 2 --seeds_file " + file));
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("--seeds_file " + file + ": client 2 is listed twice in round 2 of the schedule"),
            std::string::npos) << twice.err;
  write_text(file, "{\"seeds\": [], " + schedule);
  const auto pro = run_fedkseed(train_args(*workspace_ + "/runs/bad_seeds", "--bias_sampling --seeds_file " + file));
  EXPECT_EQ(pro.exit_code, 2);
  EXPECT_NE(pro.err.find("--seeds_file " + file + ": the seed list is empty"), std::string::npos) << pro.err;
}

// --save keeps one "final" and one "best" state (and with --save_weights model folder),
// replacing the previous round's, as the reference does.
TEST_F(FederationE2E, SaveKeepsOnlyTheLatestFinalAndBestRound) {
  const std::string run = train("saved", "--save --save_weights --local_step 3");
  std::vector<std::string> saved;
  for (const auto& entry : fs::directory_iterator(run)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("model_", 0) == 0 || name.rfind("state_", 0) == 0) saved.push_back(name);
  }
  std::sort(saved.begin(), saved.end());
  ASSERT_EQ(saved.size(), 4u) << ::testing::PrintToString(saved);
  const std::string best_round = saved[0].substr(std::string("model_best_round").size());
  EXPECT_EQ(saved, (std::vector<std::string>{"model_best_round" + best_round, "model_final_round3",
                                             "state_best_round" + best_round + ".json", "state_final_round3.json"}));
  const auto trained = LlamaModel::load(run + "/model_final_round3", at::kFloat, at::kCPU);
  const auto initial = LlamaModel::load(model_dir(), at::kFloat, at::kCPU);
  EXPECT_FALSE(trained.flat_parameters().equal(initial.flat_parameters())) << "the saved weights are not trained";
}

TEST_F(FederationE2E, KillNineMidRoundThenResumeEqualsAnUninterruptedRun) {
  const std::string whole = train("whole_kill", "--rounds 4");
  const std::string root = *workspace_ + "/runs/killed";
  const int child = start_fedkseed(train_args(root, "--rounds 4"), "/dev/null");
  // Wait until round 1 is saved, then kill during round 2 (or later).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string killed;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(root) && !(killed = run_dir_in(root)).empty() && fs::exists(killed + "/state.json") &&
        read_json(killed + "/state.json").at("last_round").get<int64_t>() >= 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(child, SIGKILL);
  wait_for_exit(child);
  ASSERT_FALSE(killed.empty());
  const int64_t saved_round = read_json(killed + "/state.json").at("last_round").get<int64_t>();
  if (saved_round == 4 && fs::exists(killed + "/final_eval.json")) GTEST_SKIP() << "the run finished before the kill";

  const auto resumed = run_fedkseed("train --quiet --resume " + killed);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_json(whole + "/state.json").at("pool_cumulative"), read_json(killed + "/state.json").at("pool_cumulative"));
  EXPECT_EQ(read_text(whole + "/results.json"), read_text(killed + "/results.json"));
  EXPECT_EQ(read_text(whole + "/final_eval.json"), read_text(killed + "/final_eval.json"));
  EXPECT_EQ(read_jsonl(killed + "/metrics.jsonl").size(), 4u);
}

TEST_F(FederationE2E, ExportLoadsInTransformersWithTheSameLogits) {
  ASSERT_TRUE(python_can_import("transformers"));
  const std::string run = train("export");
  const std::string out = *workspace_ + "/exported";
  const auto exported = run_fedkseed("export --run " + run + " --out " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(out + "/tokenizer.model"));

  const std::string script =
      "import json,sys,torch\n"
      "from transformers import AutoModelForCausalLM\n"
      "ids=torch.tensor([[1,5,9,33,2,17,250,4]])\n"
      "out={}\n"
      "for name,path in (('tuned',sys.argv[1]),('base',sys.argv[2])):\n"
      "  m=AutoModelForCausalLM.from_pretrained(path,torch_dtype=torch.float32).eval()\n"
      "  with torch.no_grad(): out[name]=m(ids).logits[0].tolist()\n"
      "json.dump(out,open(sys.argv[3],'w'))\n";
  write_text(*workspace_ + "/logits.py", script);
  const auto python_run = run_command(python() + " " + *workspace_ + "/logits.py " + out + " " + model_dir() + " " +
                                      *workspace_ + "/logits.json");
  ASSERT_EQ(python_run.exit_code, 0) << python_run.err;
  const auto expected = read_json(*workspace_ + "/logits.json");

  const auto model = LlamaModel::load(out, at::kFloat, at::kCPU);
  const auto ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 33, 2, 17, 250, 4}).view({1, -1});
  const auto ours = model.logits(ids)[0];
  const auto vocab = ours.size(1);
  auto to_tensor = [&](const json& rows) {
    std::vector<float> flat;
    for (const auto& row : rows) for (double v : row) flat.push_back(static_cast<float>(v));
    return torch::tensor(flat).view({-1, vocab});
  };
  expect_close(ours, to_tensor(expected.at("tuned")), 1e-4, 0, "exported model logits vs transformers");
  EXPECT_GT((to_tensor(expected.at("tuned")) - to_tensor(expected.at("base"))).abs().max().item<double>(), 1e-6)
      << "the export equals the base model: the tuning was lost";
}

// Export replays what the run applied: bit for bit the run's own --save_weights model, for
// both --sync modes (one pass over an incremental run's cumulative pool rounds differently).
TEST_F(FederationE2E, ExportEqualsTheRunsSavedWeights) {
  for (const std::string sync : {"from_init", "incremental"}) {
    SCOPED_TRACE(sync);
    const std::string run = train("export_" + sync, "--sync " + sync + " --save --save_weights --local_step 8");
    const std::string out = *workspace_ + "/exported_" + sync;
    const auto exported = run_fedkseed("export --run " + run + " --out " + out);
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto saved = LlamaModel::load(run + "/model_final_round3", at::kFloat, at::kCPU);
    const auto replayed = LlamaModel::load(out, at::kFloat, at::kCPU);
    EXPECT_TRUE(replayed.flat_parameters().equal(saved.flat_parameters()))
        << "max difference " << (replayed.flat_parameters() - saved.flat_parameters()).abs().max().item<double>();
  }
}

}  // namespace
}  // namespace fedkseed::test
