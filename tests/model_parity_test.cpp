// LlamaModel against Hugging Face transformers (scripts/parity/llama_reference.py, one
// Python run per suite): logits, loss and greedy tokens of random tiny checkpoints of every
// family (LLaMA, Qwen2, Qwen3, Mistral) in every weights layout and config spelling, and
// fedkseed-written checkpoints (init-model's tiny presets) loaded by transformers.
#include <gtest/gtest.h>
#include <torch/torch.h>

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

json config_4x(int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads, bool tied) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", vocab},
          {"hidden_size", hidden},
          {"intermediate_size", inter},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"tie_word_embeddings", tied},
          {"initializer_range", 0.2},
          {"rope_theta", 10000.0},
          {"rope_scaling", nullptr},
          {"torch_dtype", "float32"},
          {"bos_token_id", 1},
          {"eos_token_id", 2}};
}

// A tiny checkpoint of `model_type` as its transformers class names it.
json family_config(const std::string& model_type, const std::string& architecture) {
  return {{"architectures", {architecture}}, {"model_type", model_type}, {"vocab_size", 96},
          {"hidden_size", 32},               {"intermediate_size", 48},  {"num_hidden_layers", 2},
          {"num_attention_heads", 4},        {"num_key_value_heads", 2}, {"max_position_embeddings", 64},
          {"rms_norm_eps", 1e-6},            {"rope_theta", 1000000.0},  {"initializer_range", 0.2},
          {"torch_dtype", "float32"}};
}

json llama3_rope(double theta) {
  return {{"rope_type", "llama3"},  {"rope_theta", theta},     {"factor", 8.0},
          {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 16}};
}

// Each case: {"kind": create|check, "dir", ...} as llama_reference.py reads it.
json parity_cases(const std::string& root) {
  json mha_tied = config_4x(97, 32, 48, 2, 4, true);
  json gqa_llama3 = {{"architectures", {"LlamaForCausalLM"}},
                     {"vocab_size", 101},
                     {"hidden_size", 48},
                     {"intermediate_size", 64},
                     {"num_hidden_layers", 2},
                     {"num_attention_heads", 6},
                     {"num_key_value_heads", 2},
                     {"head_dim", 16},
                     {"max_position_embeddings", 64},
                     {"rope_parameters", llama3_rope(500000.0)},
                     {"tie_word_embeddings", false},
                     {"dtype", "float32"},
                     {"initializer_range", 0.2}};
  json bin_untied = config_4x(64, 32, 40, 1, 2, false);
  bin_untied["rope_scaling"] = llama3_rope(10000.0);
  bin_untied["rope_scaling"].erase("rope_type");
  bin_untied["rope_scaling"]["type"] = "llama3";  // the oldest spelling
  json mqa_tied = {{"architectures", {"LlamaForCausalLM"}},
                   {"vocab_size", 64},
                   {"hidden_size", 32},
                   {"intermediate_size", 40},
                   {"num_hidden_layers", 2},
                   {"num_attention_heads", 4},
                   {"num_key_value_heads", 1},
                   {"tie_word_embeddings", true},
                   {"initializer_range", 0.2}};
  json cases = json::array();
  auto create = [&](const std::string& name, const json& config, const std::string& format, int seed) {
    cases.push_back({{"kind", "create"},
                     {"dir", root + "/" + name},
                     {"config", config},
                     {"format", format},
                     {"seed", seed},
                     {"cuda_dtypes", {"float16", "bfloat16"}}});
  };
  create("mha_tied_4x_safetensors", mha_tied, "safetensors", 1);
  create("gqa_llama3_5x_sharded_safetensors", gqa_llama3, "sharded-safetensors", 2);
  create("mha_untied_llama3_bin", bin_untied, "bin", 3);
  create("mqa_tied_defaults_sharded_bin", mqa_tied, "sharded-bin", 4);
  create("cuda_sized_gqa", config_4x(512, 256, 512, 2, 4, false), "safetensors", 5);
  cases.back()["config"]["num_key_value_heads"] = 2;
  // Qwen2.5's spelling: q/k/v biases without attention_bias, an inactive sliding window.
  json qwen2 = family_config("qwen2", "Qwen2ForCausalLM");
  qwen2.update({{"tie_word_embeddings", true}, {"use_sliding_window", false}, {"sliding_window", 32768},
                {"max_window_layers", 2}, {"bos_token_id", 1}, {"eos_token_id", 2}});
  create("qwen2_tied_biases", qwen2, "safetensors", 8);
  // Qwen3: q/k norms, a head_dim above hidden / heads, and (unlike the released models) biases.
  json qwen3 = family_config("qwen3", "Qwen3ForCausalLM");
  qwen3.update({{"head_dim", 16}, {"attention_bias", true}, {"tie_word_embeddings", false}});
  create("qwen3_head_dim_biases_sharded", qwen3, "sharded-safetensors", 9);
  json qwen3_tied = family_config("qwen3", "Qwen3ForCausalLM");
  qwen3_tied.update({{"head_dim", 8}, {"tie_word_embeddings", true}, {"sliding_window", nullptr}});
  create("qwen3_tied", qwen3_tied, "safetensors", 10);
  // Mistral with a window shorter than the 12-token inputs and the generations.
  json mistral = family_config("mistral", "MistralForCausalLM");
  mistral.update({{"sliding_window", 4}, {"rope_theta", 10000.0}});
  create("mistral_sliding_window", mistral, "safetensors", 11);
  // Llama-3.2's layout: tied, GQA, llama3 rope; plus attention biases (q/k/v and o_proj).
  json llama32 = family_config("llama", "LlamaForCausalLM");
  llama32.update({{"tie_word_embeddings", true}, {"attention_bias", true}, {"rope_parameters", llama3_rope(500000.0)}});
  create("llama32_tied_biases", llama32, "safetensors", 12);
  cases.push_back({{"kind", "check"}, {"dir", root + "/fedkseed_saved"}, {"seed", 6}});
  cases.push_back({{"kind", "check"},
                   {"dir", root + "/init_model_tiny"},
                   {"seed", 7},
                   {"score", {{{"prompt", kPrompt}, {"response", kResponse}}}},
                   {"generate", {{"prompt", kPrompt}, {"max_new_tokens", 12}}}});
  for (const char* family : {"qwen2", "qwen3", "mistral"}) {
    cases.push_back({{"kind", "check"}, {"dir", root + "/init_model_tiny_" + family}, {"seed", 13}});
  }
  return cases;
}

class ModelParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!python_has("transformers")) {
      skip_ = "transformers is not installed in " + python();
      return;
    }
    // The fixture holds checkpoints written by this test binary and by fedkseed, so it is
    // rewritten whenever either (or the script) changes.
    const std::string script = std::string(FEDKSEED_SOURCE_DIR) + "/scripts/parity/llama_reference.py";
    const auto fixture = cached_fixture("model_parity", {script, FEDKSEED_BINARY, "/proc/self/exe"},
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
    write_text(root + "/spec.json", json{{"cases", parity_cases(root)}}.dump());
    const auto result = run_command(python() + " " + script + " " + root + "/spec.json");
    return result.exit_code == 0 ? std::string() : "llama_reference.py failed: " + result.err;
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static std::map<std::string, at::Tensor> reference_tensors(const std::string& dir) {
    const auto file = SafetensorsFile::open(dir + "/reference.safetensors");
    std::map<std::string, at::Tensor> tensors;
    for (const auto& entry : file.entries()) tensors[entry.name] = file.tensor(entry).clone();
    return tensors;
  }

  static void expect_matches_transformers(const std::string& name, at::Device device = at::kCPU) {
    const std::string dir = root_ + "/" + name;
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

  static std::string root_, skip_, failure_;
};

std::string ModelParity::root_, ModelParity::skip_, ModelParity::failure_;

TEST_F(ModelParity, MhaTiedConfig4xSafetensors) { expect_matches_transformers("mha_tied_4x_safetensors"); }
TEST_F(ModelParity, GqaLlama3Config5xShardedSafetensors) {
  expect_matches_transformers("gqa_llama3_5x_sharded_safetensors");
}
TEST_F(ModelParity, MhaUntiedLlama3Bin) { expect_matches_transformers("mha_untied_llama3_bin"); }
TEST_F(ModelParity, MqaTiedDefaultsShardedBin) {
  expect_matches_transformers("mqa_tied_defaults_sharded_bin");
}
TEST_F(ModelParity, LargerGqaSafetensors) { expect_matches_transformers("cuda_sized_gqa"); }
TEST_F(ModelParity, FedkseedSavedCheckpointLoadsInTransformers) {
  expect_matches_transformers("fedkseed_saved");
}
TEST_F(ModelParity, InitModelTinyLoadsInTransformers) { expect_matches_transformers("init_model_tiny"); }
TEST_F(ModelParity, Qwen2TiedWithBiases) { expect_matches_transformers("qwen2_tied_biases"); }
TEST_F(ModelParity, Qwen3QkNormHeadDimAndBiasesSharded) { expect_matches_transformers("qwen3_head_dim_biases_sharded"); }
TEST_F(ModelParity, Qwen3Tied) { expect_matches_transformers("qwen3_tied"); }
TEST_F(ModelParity, MistralSlidingWindowShorterThanTheSequence) {
  expect_matches_transformers("mistral_sliding_window");
}
TEST_F(ModelParity, Llama32TiedWithAttentionBiases) { expect_matches_transformers("llama32_tied_biases"); }
TEST_F(ModelParity, InitModelFamilyPresetsLoadInTransformers) {
  for (const char* family : {"qwen2", "qwen3", "mistral"}) {
    SCOPED_TRACE(family);
    expect_matches_transformers(std::string("init_model_tiny_") + family);
  }
}

// `fedkseed score` equals transformers' loss with transformers' own tokenizer (spec §4.3 format).
TEST_F(ModelParity, ScoreCommandMatchesTransformers) {
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
TEST_F(ModelParity, GenerateCommandMatchesTransformers) {
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

// fp32 on CUDA (TF32 off, LibTorch's default) against the CPU reference: the KV cache, masks and
// SDPA kernels of the GPU path.
TEST_F(ModelParity, CudaFp32MatchesTransformers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* name : {"mha_tied_4x_safetensors", "gqa_llama3_5x_sharded_safetensors", "mha_untied_llama3_bin",
                           "mqa_tied_defaults_sharded_bin", "cuda_sized_gqa", "qwen2_tied_biases",
                           "qwen3_head_dim_biases_sharded", "mistral_sliding_window", "llama32_tied_biases"}) {
    expect_matches_transformers(name, at::Device(at::kCUDA, 0));
  }
}

// fp16/bf16 on CUDA: our error against the fp32 CPU logits may exceed transformers' own error
// in that precision (same device, same weights) by at most 50% plus a rounding step.
TEST_F(ModelParity, CudaHalfPrecisionLogitsAsAccurateAsTransformers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const std::string name : {"cuda_sized_gqa", "gqa_llama3_5x_sharded_safetensors"}) {
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
