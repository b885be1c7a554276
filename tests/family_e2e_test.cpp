// The newer families trained end to end with their byte-level BPE tokenizer.json: the ZO steps
// move every weight, and `fedkseed export` writes a Hugging Face folder that transformers loads
// with our logits. Qwen3 on the CPU; Qwen2, Qwen3 and Mistral on CUDA.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <tuple>
#include <nlohmann/json.hpp>

#include "fedkseed/model/llama.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fedkseed::test {
namespace {

// Tunes init-model's tiny preset of `family` (with the tokenizer.json fixture `tokenizer`) for two
// rounds on `device`, exports it, and checks that every tensor moved and that transformers loads
// the export as `hf_class` with our logits. `eval_metric` rouge also runs the final greedy decoding.
void expect_tuned_export_loads_in_transformers(const std::string& family, const std::string& tokenizer,
                                               const std::string& hf_class, const std::string& device,
                                               const std::string& eval_metric) {
  ASSERT_TRUE(python_can_import("transformers"));
  const std::string dir = make_temp_dir("family_e2e_" + family);
  const std::string model = dir + "/model", data = dir + "/data", out = dir + "/exported";
  // --tokenizer takes a folder: its tokenizer.json and tokenizer_config.json are copied.
  const auto init = run_fedkseed("--quiet init-model --preset tiny-" + family + " --seed 0 --tokenizer " +
                                 std::string(FEDKSEED_SOURCE_DIR) + "/tests/data/bpe/" + tokenizer + " --out " + model);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_TRUE(fs::exists(model + "/tokenizer.json"));
  const json config = json::parse(read_text(model + "/config.json"));
  EXPECT_EQ(config.at("model_type"), family);
  if (tokenizer == "qwen2") EXPECT_TRUE(config.at("bos_token_id").is_null()) << "Qwen's tokenizer has no BOS";

  ASSERT_EQ(run_fedkseed("make-tiny-data --records 200 --seed 0 --out " + data).exit_code, 0);
  const auto trained = run_fedkseed("train --model " + model + " --data_dir " + data +
                                    " --dataset dolly --num_clients 10 -m 0.2 --rounds 2 --local_step 6 -K 32"
                                    " --lr 2e-4 --zo_eps 1e-3 --dtype auto --device " + device +
                                    " --max_length 160 --eval_metric " + eval_metric +
                                    " --eval_max_samples 10 --log --quiet --log_root " + dir + "/runs");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string run = fs::directory_iterator(dir + "/runs")->path().string();
  const json final_eval = json::parse(read_text(run + "/final_eval.json"));
  const double final_value = final_eval.at(eval_metric == "rouge" ? "final_eval_rouge" : "final_eval_loss").get<double>();
  EXPECT_TRUE(std::isfinite(final_value)) << final_eval.dump();
  const auto exported = run_fedkseed("--quiet export --run " + run + " --out " + out);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));

  // Every tensor moved (biases and q/k norms included), and nothing else changed shape or name.
  const auto base = LlamaModel::load(model, at::kFloat, at::kCPU);
  const auto tuned = LlamaModel::load(out, at::kFloat, at::kCPU);
  const auto base_parameters = base.named_parameters(), tuned_parameters = tuned.named_parameters();
  ASSERT_EQ(base_parameters.size(), tuned_parameters.size());
  for (size_t i = 0; i < base_parameters.size(); ++i) {
    ASSERT_EQ(base_parameters[i].first, tuned_parameters[i].first);
    EXPECT_FALSE(base_parameters[i].second.equal(tuned_parameters[i].second)) << base_parameters[i].first;
  }

  write_text(dir + "/logits.py",
             "import json, sys, torch\n"
             "from transformers import AutoModelForCausalLM\n"
             "model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()\n"
             "names = [name for name, _ in model.named_parameters()]\n"
             "with torch.no_grad():\n"
             "    logits = model(torch.tensor([[3, 50, 9, 700, 1090, 17, 250, 4]])).logits[0]\n"
             "json.dump({'logits': logits.tolist(), 'names': names, 'class': type(model).__name__},"
             " open(sys.argv[2], 'w'))\n");
  const auto python_run = run_command(python() + " " + dir + "/logits.py " + out + " " + dir + "/logits.json");
  ASSERT_EQ(python_run.exit_code, 0) << python_run.err;
  const json expected = json::parse(read_text(dir + "/logits.json"));
  EXPECT_EQ(expected.at("class"), hf_class);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tuned_parameters) names.push_back(name);
  EXPECT_EQ(names, expected.at("names").get<std::vector<std::string>>());
  std::vector<float> flat;
  for (const auto& row : expected.at("logits")) {
    for (const double value : row) flat.push_back(static_cast<float>(value));
  }
  const at::Tensor ours = tuned.logits(torch::tensor({3, 50, 9, 700, 1090, 17, 250, 4}).view({1, -1}))[0];
  expect_close(ours, torch::tensor(flat).view(ours.sizes()), 1e-4, 0, "exported " + family + " logits vs transformers");
}

// Qwen3 (q/k norms, head_dim above hidden / heads) with Qwen's tokenizer, which has no BOS.
TEST(FamilyE2E, TunedQwen3ExportLoadsInTransformersWithOurLogits) {
  expect_tuned_export_loads_in_transformers("qwen3", "qwen2", "Qwen3ForCausalLM", "cpu", "loss");
}

// Each family's extra tensors and masks through the CUDA kernels: the ZO steps, the replay, the
// final greedy decoding (Mistral's sliding window is shorter than the examples) and the export.
TEST(FamilyE2ECuda, TunedFamiliesExportLoadInTransformersWithOurLogits) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const auto& [family, tokenizer, hf_class] :
       {std::tuple{"qwen2", "qwen2", "Qwen2ForCausalLM"}, std::tuple{"qwen3", "qwen2", "Qwen3ForCausalLM"},
        std::tuple{"mistral", "mistral", "MistralForCausalLM"}}) {
    SCOPED_TRACE(family);
    expect_tuned_export_loads_in_transformers(family, tokenizer, hf_class, "0", "rouge");
  }
}

}  // namespace
}  // namespace fedkseed::test
