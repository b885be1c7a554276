// LlamaModel against Hugging Face transformers: logits, loss and greedy tokens of random tiny
// checkpoints of every family (LLaMA, Qwen2, Qwen3, Mistral) in every weights layout and config
// spelling (committed: tests/data/model_parity, scripts/parity/model_parity_fixtures.py), and,
// against transformers run now (scripts/parity/llama_reference.py, one Python run per suite), a
// larger checkpoint, fedkseed-written checkpoints (init-model's tiny presets) and the GPU paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "fedkseed/model/llama.h"
#include "fedkseed/model/safetensors.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

using nlohmann::json;

const char* const kPrompt = "### Instruction:\nSay hello.\n\n### Response:";
const char* const kResponse = "Hello, the model describes the question.";

std::string committed(const std::string& name) { return test_data("model_parity/" + name); }

std::map<std::string, at::Tensor> reference_tensors(const std::string& dir) {
  const auto file = SafetensorsFile::open(dir + "/reference.safetensors");
  std::map<std::string, at::Tensor> tensors;
  for (const auto& entry : file.entries()) tensors[entry.name] = file.tensor(entry).clone();
  return tensors;
}

// The checkpoint in `dir` against transformers' answers beside it (reference.safetensors, .json).
void expect_matches_transformers(const std::string& dir, at::Device device = at::kCPU) {
  const std::string name = std::filesystem::path(dir).filename().string();
  const auto model = LlamaModel::load(dir, at::kFloat, device);
  auto ref = reference_tensors(dir);
  const json info = json::parse(read_text(dir + "/reference.json"));
  std::vector<std::string> names;
  for (const auto& [parameter, tensor] : model.named_parameters()) names.push_back(parameter);
  EXPECT_EQ(names, info["parameter_names"].get<std::vector<std::string>>());

  // Padded slots hold an id outside the vocabulary, as open_llama's [PAD] = 32000 does.
  const at::Tensor mask = ref["attention_mask"];
  const at::Tensor ids = ref["input_ids"].masked_fill(mask == 0, model.config().vocab_size);
  const at::Tensor logits = model.logits(ids, mask).cpu();
  // fp32 on the CPU, same formulas; only summation order differs (fused q/k/v, gate/up GEMMs).
  expect_close(logits[0], ref["logits"][0], 1e-4, 0, name + " logits, row 0");
  expect_close(logits[1].narrow(0, 0, 9), ref["logits"][1].narrow(0, 0, 9), 1e-4, 0,
               name + " logits, row 1 before its padding");
  const at::Tensor loss = model.loss(ids, ref["labels"], mask).reshape({1}).cpu();
  expect_close(loss, ref["loss"], 1e-5, 0, name + " loss");
  std::cout << name << " on " << device << ": max |logits - transformers| "
            << (logits[0] - ref["logits"][0]).abs().max().item<double>() << ", |loss - transformers| "
            << (loss - ref["loss"]).abs().item<double>() << "\n";

  const auto prompts = info["prompts"].get<std::vector<std::vector<int64_t>>>();
  const auto greedy = info["greedy"].get<std::vector<std::vector<int64_t>>>();
  const int64_t eos = info["eos"], max_new = info["max_new_tokens"];
  EXPECT_EQ(model.generate(prompts, max_new, {eos}, 0), greedy) << name << ": batched greedy";
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(model.generate({prompts[i]}, max_new, {eos}, 0).front(), greedy[i]) << name << ": prompt " << i;
  }
}

TEST(ModelParity, MhaTiedConfig4xSafetensors) { expect_matches_transformers(committed("mha_tied_4x_safetensors")); }
TEST(ModelParity, GqaLlama3Config5xShardedSafetensors) {
  expect_matches_transformers(committed("gqa_llama3_5x_sharded_safetensors"));
}
TEST(ModelParity, MhaUntiedLlama3Bin) { expect_matches_transformers(committed("mha_untied_llama3_bin")); }
TEST(ModelParity, MqaTiedDefaultsShardedBin) { expect_matches_transformers(committed("mqa_tied_defaults_sharded_bin")); }
TEST(ModelParity, Qwen2TiedWithBiases) { expect_matches_transformers(committed("qwen2_tied_biases")); }
TEST(ModelParity, Qwen3QkNormHeadDimAndBiasesSharded) {
  expect_matches_transformers(committed("qwen3_head_dim_biases_sharded"));
}
TEST(ModelParity, Qwen3Tied) { expect_matches_transformers(committed("qwen3_tied")); }
TEST(ModelParity, MistralSlidingWindowShorterThanTheSequence) {
  expect_matches_transformers(committed("mistral_sliding_window"));
}
TEST(ModelParity, Llama32TiedWithAttentionBiases) { expect_matches_transformers(committed("llama32_tied_biases")); }

json llama3_rope(double theta) {
  return {{"rope_type", "llama3"},  {"rope_theta", theta},     {"factor", 8.0},
          {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 16}};
}

// Each case: {"kind": create|check, "dir", ...} as llama_reference.py reads it.
json live_cases(const std::string& root) {
  json cases = json::array();
  // Too large to commit (5.8 MB), the GPU tests' main case.
  cases.push_back({{"kind", "create"},
                   {"dir", root + "/cuda_sized_gqa"},
                   {"config",
                    {{"architectures", {"LlamaForCausalLM"}},
                     {"model_type", "llama"},
                     {"vocab_size", 512},
                     {"hidden_size", 256},
                     {"intermediate_size", 512},
                     {"num_hidden_layers", 2},
                     {"num_attention_heads", 4},
                     {"num_key_value_heads", 2},
                     {"tie_word_embeddings", false},
                     {"initializer_range", 0.2},
                     {"rope_theta", 10000.0},
                     {"rope_scaling", nullptr},
                     {"torch_dtype", "float32"},
                     {"bos_token_id", 1},
                     {"eos_token_id", 2}}},
                   {"format", "safetensors"},
                   {"seed", 5},
                   {"cuda_dtypes", {"float16", "bfloat16"}}});
  // A copy of the committed one, for transformers' half-precision logits on this GPU (if any).
  cases.push_back({{"kind", "check"},
                   {"dir", root + "/gqa_llama3_5x_sharded_safetensors"},
                   {"seed", 2},
                   {"cuda_dtypes", {"float16", "bfloat16"}}});
  cases.push_back({{"kind", "check"}, {"dir", root + "/fedkseed_saved"}, {"seed", 6}});
  cases.push_back({{"kind", "check"},
                   {"dir", root + "/init_model_tiny"},
                   {"seed", 7},
                   {"score", {{{"prompt", kPrompt}, {"response", kResponse}}}},
                   {"generate", {{"prompt", kPrompt}, {"max_new_tokens", 12}}}});
  for (const char* family : {"qwen2", "qwen3", "mistral"}) {
    cases.push_back({{"kind", "check"},
                     {"dir", root + "/init_model_tiny_" + family},
                     {"seed", 13},
                     {"cuda_dtypes", {"float16", "bfloat16"}}});
  }
  return cases;
}

// Against transformers run now: a missing transformers fails every test here.
class ModelParityLive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto transformers = python_can_import("transformers");
    if (!transformers) {
      failure_ = transformers.message();
      return;
    }
    // The fixture holds checkpoints written by this test binary and by fedkseed, so it is
    // rewritten whenever either (or the script) changes.
    const std::string script = std::string(FEDKSEED_SOURCE_DIR) + "/scripts/parity/llama_reference.py";
    const std::string gqa = committed("gqa_llama3_5x_sharded_safetensors");
    const auto fixture =
        cached_fixture("model_parity", {script, FEDKSEED_BINARY, "/proc/self/exe", gqa + "/reference.json"},
                       [&](const std::string& root) { return write_fixture(root, script); });
    root_ = fixture.dir;
    failure_ = fixture.error;
  }

  // fedkseed-written checkpoints for transformers to read (the library's save() and the CLI),
  // then transformers' answers for every case.
  static std::string write_fixture(const std::string& root, const std::string& script) {
    LlamaConfig config = llama_config_from_json(json{{"vocab_size", 80},
                                                     {"hidden_size", 32},
                                                     {"intermediate_size", 48},
                                                     {"num_hidden_layers", 2},
                                                     {"num_attention_heads", 4},
                                                     {"num_key_value_heads", 2},
                                                     {"max_position_embeddings", 64},
                                                     {"rope_parameters", llama3_rope(10000.0)}}
                                                    .dump(),
                                                "test config");
    LlamaModel::random_init(config, 11, at::kFloat, at::kCPU).save(root + "/fedkseed_saved");
    const auto init = run_fedkseed("--quiet init-model --preset tiny --seed 3 --out " + root + "/init_model_tiny");
    if (init.exit_code != 0) return "init-model failed: " + init.err;
    for (const std::string family : {"qwen2", "qwen3", "mistral"}) {
      const auto made = run_fedkseed("--quiet init-model --preset tiny-" + family + " --seed 4 --out " + root +
                                     "/init_model_tiny_" + family);
      if (made.exit_code != 0) return "init-model --preset tiny-" + family + " failed: " + made.err;
    }
    std::filesystem::copy(committed("gqa_llama3_5x_sharded_safetensors"), root + "/gqa_llama3_5x_sharded_safetensors",
                          std::filesystem::copy_options::recursive);
    write_text(root + "/spec.json", json{{"cases", live_cases(root)}}.dump());
    const auto result = run_command(python() + " " + script + " " + root + "/spec.json");
    return result.exit_code == 0 ? std::string() : "llama_reference.py failed: " + result.err;
  }

  void SetUp() override { ASSERT_TRUE(failure_.empty()) << failure_; }

  static std::string root_, failure_;
};

std::string ModelParityLive::root_, ModelParityLive::failure_;

TEST_F(ModelParityLive, LargerGqaSafetensors) { expect_matches_transformers(root_ + "/cuda_sized_gqa"); }
TEST_F(ModelParityLive, FedkseedSavedCheckpointLoadsInTransformers) {
  expect_matches_transformers(root_ + "/fedkseed_saved");
}
TEST_F(ModelParityLive, InitModelTinyLoadsInTransformers) { expect_matches_transformers(root_ + "/init_model_tiny"); }
TEST_F(ModelParityLive, InitModelFamilyPresetsLoadInTransformers) {
  for (const char* family : {"qwen2", "qwen3", "mistral"}) {
    SCOPED_TRACE(family);
    expect_matches_transformers(root_ + "/init_model_tiny_" + family);
  }
}

// `fedkseed score` equals transformers' loss with transformers' own tokenizer (spec §4.3 format).
TEST_F(ModelParityLive, ScoreCommandMatchesTransformers) {
  const std::string dir = root_ + "/init_model_tiny";
  const json expected = json::parse(read_text(dir + "/reference.json"))["score"][0];
  write_text(dir + "/score.jsonl", json{{"prompt", kPrompt}, {"response", kResponse}}.dump() + "\n");
  const auto result = run_fedkseed("--quiet score --model " + dir + " --data " + dir + "/score.jsonl");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json actual = json::parse(result.out);
  EXPECT_EQ(actual["tokens"], expected["tokens"]);
  EXPECT_NEAR(actual["loss"].get<double>(), expected["loss"].get<double>(), 1e-5);
}

// `fedkseed generate` gives transformers' greedy ids for transformers' own encoding of the prompt.
TEST_F(ModelParityLive, GenerateCommandMatchesTransformers) {
  const std::string dir = root_ + "/init_model_tiny";
  const auto expected =
      json::parse(read_text(dir + "/reference.json"))["generate"].get<std::vector<int64_t>>();
  const auto result = run_fedkseed("--quiet generate --model " + dir + " --max_new_tokens 12 --prompt '" +
                                   std::string(kPrompt) + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json actual = json::parse(result.out);
  EXPECT_EQ(actual["ids"].get<std::vector<int64_t>>(), expected);
  EXPECT_TRUE(actual["text"].is_string());
}

// The GPU paths: skipped without a CUDA device, before any Python runs.
class ModelParityLiveCuda : public ModelParityLive {
 protected:
  static void SetUpTestSuite() {
    if (torch::cuda::is_available()) ModelParityLive::SetUpTestSuite();
  }

  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    ModelParityLive::SetUp();
  }
};

// fp32 on CUDA (TF32 off, LibTorch's default) against the CPU reference: the KV cache, masks and
// SDPA kernels of the GPU path.
TEST_F(ModelParityLiveCuda, Fp32MatchesTransformers) {
  for (const char* name : {"mha_tied_4x_safetensors", "gqa_llama3_5x_sharded_safetensors", "mha_untied_llama3_bin",
                           "mqa_tied_defaults_sharded_bin", "qwen2_tied_biases", "qwen3_head_dim_biases_sharded",
                           "mistral_sliding_window", "llama32_tied_biases"}) {
    expect_matches_transformers(committed(name), at::Device(at::kCUDA, 0));
  }
  expect_matches_transformers(root_ + "/cuda_sized_gqa", at::Device(at::kCUDA, 0));
}

// fp16/bf16 on CUDA: our error against the fp32 CPU logits may exceed transformers' own error
// in that precision (same device, same weights) by at most 50% plus a rounding step.
TEST_F(ModelParityLiveCuda, HalfPrecisionLogitsAsAccurateAsTransformers) {
  for (const std::string name : {"cuda_sized_gqa", "gqa_llama3_5x_sharded_safetensors", "init_model_tiny_qwen2",
                                 "init_model_tiny_qwen3", "init_model_tiny_mistral"}) {
    const std::string dir = root_ + "/" + name;
    auto ref = reference_tensors(dir);
    const at::Tensor mask = ref["attention_mask"];
    for (const auto& [dtype, hf_name, step] :
         {std::tuple{at::kHalf, "float16", 1e-3}, std::tuple{at::kBFloat16, "bfloat16", 8e-3}}) {
      ASSERT_TRUE(ref.count("logits_cuda_" + std::string(hf_name))) << "python saw no CUDA";
      const auto model = LlamaModel::load(dir, dtype, at::Device(at::kCUDA, 0));
      const at::Tensor ours = model.logits(ref["input_ids"], mask).cpu();
      const at::Tensor valid = mask.to(at::kBool).unsqueeze(-1).expand_as(ours);
      const double our_error = (ours - ref["logits"]).abs().masked_select(valid).max().item<double>();
      const double hf_error = (ref["logits_cuda_" + std::string(hf_name)] - ref["logits"])
                                  .abs()
                                  .masked_select(valid)
                                  .max()
                                  .item<double>();
      const double ours_vs_hf =
          (ours - ref["logits_cuda_" + std::string(hf_name)]).abs().masked_select(valid).max().item<double>();
      RecordProperty(name + "_" + hf_name,
                     c10::str("ours-fp32 ", our_error, " hf-fp32 ", hf_error, " ours-hf ", ours_vs_hf));
      std::cout << name << " " << hf_name << ": max|ours - fp32| " << our_error
                << ", max|transformers - fp32| " << hf_error << ", max|ours - transformers| " << ours_vs_hf
                << "\n";
      EXPECT_LE(our_error, 1.5 * hf_error + step) << name << " " << hf_name;
      EXPECT_LE(ours_vs_hf, hf_error + step) << name << " " << hf_name;
    }
  }
}

}  // namespace
}  // namespace fedkseed::test
