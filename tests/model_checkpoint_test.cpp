// config.json parsing, safetensors reading/writing and every kind of bad checkpoint: each
// must be one fedkseed::Error naming the file and tensor (exit code 2 through the CLI).
// Also the LlamaModel storage contract (views, ties) that the ZO optimizer relies on,
// init-model's outputs and failures, and --model ids found in the Hugging Face cache.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/safetensors.h"
#include "fedkseed/model/tokenizer.h"
#include "test_util.h"

namespace fedkseed::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json tiny_json() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"vocab_size", 50},
          {"hidden_size", 16},
          {"intermediate_size", 24},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2}};
}

// Runs `body`, expecting a fedkseed::Error whose message contains every one of `parts`.
template <class Body>
void expect_error(Body&& body, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "no fedkseed::Error thrown; expected one naming " << parts.front();
  } catch (const Error& error) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
  }
}

TEST(ModelConfig, TransformersSpellingsAgree) {
  json v4 = tiny_json();
  v4["rope_theta"] = 500000;
  v4["rope_scaling"] = {{"type", "llama3"},
                        {"factor", 8.0},
                        {"low_freq_factor", 1.0},
                        {"high_freq_factor", 4.0},
                        {"original_max_position_embeddings", 8192}};
  v4["torch_dtype"] = "bfloat16";
  v4["eos_token_id"] = {128001, 128009};
  json v5 = tiny_json();
  v5["rope_parameters"] = v4["rope_scaling"];
  v5["rope_parameters"]["rope_theta"] = 500000.0;
  v5["dtype"] = "bfloat16";
  v5["eos_token_id"] = {128001, 128009};
  for (const json& spelling : {v4, v5}) {
    const LlamaConfig c = llama_config_from_json(spelling.dump(), "config.json");
    EXPECT_EQ(c.head_dim, 4);
    EXPECT_EQ(c.num_key_value_heads, 2);
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
    EXPECT_EQ(c.dtype, "bfloat16");
    EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128009}));
    EXPECT_EQ(c.pad_token_id, -1);
    const LlamaConfig back = llama_config_from_json(llama_config_to_json(c), "round trip");
    EXPECT_EQ(llama_config_to_json(back), llama_config_to_json(c));
  }
  const LlamaConfig defaults = llama_config_from_json("{}", "config.json");  // transformers' defaults
  EXPECT_EQ(defaults.hidden_size, 4096);
  EXPECT_EQ(defaults.head_dim, 128);
  EXPECT_EQ(defaults.rope_theta, 10000.0);
  EXPECT_EQ(defaults.rope_scaling.type, "default");
}

TEST(ModelConfig, UnsupportedOptionsAreRefusedByKey) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"architectures", {"MistralForCausalLM"}}}, "'architectures'"},
      {{{"model_type", "gemma"}}, "'model_type'"},
      {{{"rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}}}, "'rope_scaling.rope_type'"},
      {{{"rope_parameters", {{"rope_type", "llama3"}, {"factor", 8.0}}}},
       "'rope_parameters.low_freq_factor'"},
      {{{"mlp_bias", true}}, "'mlp_bias'"},
      {{{"model_type", "qwen2"}, {"architectures", {"Qwen2ForCausalLM"}}, {"use_sliding_window", true}},
       "'use_sliding_window'"},
      {{{"model_type", "mistral"}, {"architectures", {"MistralForCausalLM"}}, {"sliding_window", -1}},
       "'sliding_window'"},
      {{{"hidden_act", "gelu"}}, "'hidden_act'"},
      {{{"num_key_value_heads", 3}}, "'num_key_value_heads'"},
      {{{"hidden_size", "big"}}, "'hidden_size'"},
      {{{"quantization_config", {{"bits", 4}}}}, "'quantization_config'"}};
  for (const auto& [patch, key] : cases) {
    json config = tiny_json();
    config.update(patch);
    expect_error([&] { llama_config_from_json(config.dump(), "x/config.json"); }, {"x/config.json", key});
  }
  expect_error([] { llama_config_from_json("{not json", "x/config.json"); }, {"x/config.json", "JSON"});
}

// Sizes are exact integers within bounds: get<int64_t>() would make 64.9 a 64 and 2^64 - 1 a -1,
// and vocab_size 10^11 would reach the allocator.
TEST(ModelConfig, SizesMustBeIntegersWithinBounds) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {R"("hidden_size": 64.9)", {"'hidden_size'", "64.9", "must be an integer"}},
      {R"("vocab_size": 1e12)", {"'vocab_size'", "must be an integer"}},
      {R"("vocab_size": 100000000000)", {"'vocab_size'", "100000000000", "above the supported maximum 16777216"}},
      {R"("num_hidden_layers": 18446744073709551615)", {"'num_hidden_layers'", "beyond int64"}},
      {R"("head_dim": 8192)", {"'head_dim'", "8192", "maximum 4096"}}};
  for (const auto& [patch, parts] : cases) {
    std::string text = tiny_json().dump();
    text.insert(text.size() - 1, "," + patch);  // raw text: json would normalise the numbers
    std::vector<std::string> expected = parts;
    expected.push_back("x/config.json");
    expect_error([&] { llama_config_from_json(text, "x/config.json"); }, expected);
  }
}

// A NUL in a value would cut what() short and a newline would break the one-line contract:
// both are printed escaped.
TEST(ModelConfig, ControlCharactersInValuesAreEscapedOnOneLine) {
  const std::string dir = make_temp_dir("config_nul");
  write_text(dir + "/config.json", R"({"model_type": "ll\u0000ama\nx"})");
  const auto result = run_fedkseed("init-model --config " + dir + "/config.json --out " + dir + "/out");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "fedkseed: error: " + dir + "/config.json: key 'model_type' is 'll\\x00ama\\x0ax'; "
                        "supported: llama, mistral, qwen2, qwen3\n");
}

// Each family's extras from its config.json spelling, and transformers' defaults where a key is
// absent: Qwen2's biases need no key, Qwen3's head_dim defaults to 128, Mistral's window to 4096.
TEST(ModelConfig, FamiliesReadTheirExtras) {
  auto parse = [](json patch) {
    json config = tiny_json();
    config.erase("architectures");
    config.update(patch);
    return llama_config_from_json(config.dump(), "config.json");
  };
  const LlamaConfig qwen2 = parse({{"model_type", "qwen2"}, {"sliding_window", 32768}, {"use_sliding_window", false}});
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias);
  EXPECT_EQ(qwen2.sliding_window, 0);
  EXPECT_EQ(qwen2.max_position_embeddings, 32768);
  const LlamaConfig qwen3 = parse({{"model_type", "qwen3"}, {"attention_bias", true}});
  EXPECT_TRUE(qwen3.qk_norm && qwen3.qkv_bias && qwen3.o_bias);
  EXPECT_EQ(qwen3.head_dim, 128);
  EXPECT_EQ(parse({{"model_type", "mistral"}}).sliding_window, 4096);
  EXPECT_EQ(parse({{"model_type", "mistral"}, {"sliding_window", nullptr}}).sliding_window, 0);
  EXPECT_EQ(parse({{"model_type", "mistral"}, {"sliding_window", 7}}).sliding_window, 7);
  const LlamaConfig llama = parse({{"attention_bias", true}});
  EXPECT_TRUE(llama.qkv_bias && llama.o_bias && !llama.qk_norm);
  // The written config.json reads back the same, and names the family's class.
  for (const LlamaConfig& config : {qwen2, qwen3, parse({{"model_type", "mistral"}, {"sliding_window", 7}}), llama}) {
    const std::string text = llama_config_to_json(config);
    EXPECT_EQ(llama_config_to_json(llama_config_from_json(text, "round trip")), text);
  }
  EXPECT_EQ(json::parse(llama_config_to_json(qwen3))["architectures"], json({"Qwen3ForCausalLM"}));
  expect_error([&] { parse({{"model_type", "qwen3"}, {"architectures", {"LlamaForCausalLM"}}}); },
               {"'architectures'", "Qwen3ForCausalLM"});
}

// The presets of released models carry their config.json's shapes; each family's weights count
// includes its biases and norms (Qwen2.5-0.5B: 494,032,768 weights, tied).
TEST(ModelConfig, PresetsOfReleasedModels) {
  EXPECT_EQ(llama_preset("qwen2.5-0.5b").parameter_count(), 494032768);
  EXPECT_EQ(llama_preset("qwen2.5-1.5b").parameter_count(), 1543714304);
  EXPECT_EQ(llama_preset("qwen3-0.6b").parameter_count(), 596049920);
  EXPECT_EQ(llama_preset("llama-3.2-1b").parameter_count(), 1235814400);
  for (const auto& name : llama_preset_names()) {
    EXPECT_NO_THROW(llama_preset(name).validate(name)) << name;
    EXPECT_EQ(llama_preset_is_tiny(name), name.rfind("tiny", 0) == 0);
  }
}

// generation_config.json's eos_token_id (one id or a list) is what decoding stops at, with the
// tokenizer's EOS; without it config.json's.
TEST(ModelConfig, StopTokensComeFromTheGenerationConfig) {
  const std::string dir = make_temp_dir("generation_config");
  json config = tiny_json();
  config["eos_token_id"] = 7;
  write_text(dir + "/config.json", config.dump());
  EXPECT_EQ(llama_config_load(dir + "/config.json").stop_token_ids(2), (std::vector<int64_t>{2, 7}));
  write_text(dir + "/generation_config.json", R"({"eos_token_id": [9, 2, 11]})");
  const LlamaConfig loaded = llama_config_load(dir + "/config.json");
  EXPECT_EQ(loaded.generation_eos_token_ids, (std::vector<int64_t>{9, 2, 11}));
  EXPECT_EQ(loaded.stop_token_ids(2), (std::vector<int64_t>{2, 9, 11}));
  EXPECT_EQ(loaded.stop_token_ids(-1), (std::vector<int64_t>{9, 2, 11}));
}

// DataJuicer's pad <PAD> = 32004 needs vocab >= 32005, or transformers'
// nn.Embedding(vocab, hidden, padding_idx=pad) refuses the config; transformers builds it on the
// meta device.
TEST(ModelConfig, DjPresetKeepsItsPadInsideTheEmbedding) {
  const LlamaConfig config = llama_preset("dj-1.3b");
  EXPECT_EQ(config.vocab_size, 32005);
  EXPECT_EQ(config.pad_token_id, 32004);
  EXPECT_EQ(config.parameter_count(), 1345443840);
}

TEST(ModelConfig, DjPresetLoadsInTransformers) {
  ASSERT_TRUE(python_can_import("transformers"));
  const LlamaConfig config = llama_preset("dj-1.3b");
  const std::string dir = make_temp_dir("dj_preset");
  write_text(dir + "/config.json", llama_config_to_json(config));
  write_text(dir + "/check.py",
             "import json, sys, torch, transformers\n"
             "config = transformers.LlamaConfig.from_pretrained(sys.argv[1])\n"
             "with torch.device('meta'):\n"
             "    model = transformers.LlamaForCausalLM(config)\n"
             "print(json.dumps([sum(p.numel() for p in model.parameters()), model.model.embed_tokens.padding_idx]))\n");
  const auto result = run_command(python() + " " + dir + "/check.py " + dir);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(json::parse(result.out), (json{1345443840, 32004}));
}

TEST(Safetensors, RoundTripKeepsDtypesShapesAndValues) {
  const std::string path = make_temp_dir("safetensors") + "/t.safetensors";
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"a", torch::randn({3, 5})},
      {"b.half", torch::randn({7}).to(at::kHalf)},
      {"c.bf16", torch::randn({2, 2, 2}).to(at::kBFloat16)},
      {"d.ids", torch::arange(4)},
      {"e.empty", torch::ones({0, 3})}};
  safetensors_write(path, tensors);
  const auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& entry = file.entries()[i];
    EXPECT_EQ(entry.name, tensors[i].first);
    EXPECT_TRUE(torch::equal(file.tensor(entry), tensors[i].second)) << entry.name;
  }
  // transformers' reader also requires the 8-byte aligned header the format recommends.
  std::ifstream in(path, std::ios::binary);
  uint64_t header = 0;
  in.read(reinterpret_cast<char*>(&header), 8);
  EXPECT_EQ(header % 8, 0u);
}

// A saved tiny model; each test damages a copy of it.
class BadCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("bad_checkpoint");
    config_ = llama_config_from_json(tiny_json().dump(), "test");
    model_ = std::make_unique<LlamaModel>(LlamaModel::random_init(config_, 1, at::kFloat, at::kCPU));
    model_->save(dir_);
    weights_ = dir_ + "/model.safetensors";
  }
  // Rewrites model.safetensors with `edit` applied to the name -> tensor list.
  template <class Edit>
  void rewrite(Edit&& edit) {
    auto tensors = model_->named_parameters();
    edit(tensors);
    safetensors_write(weights_, tensors);
  }
  void write_raw(const std::string& bytes) {
    std::ofstream(weights_, std::ios::binary | std::ios::trunc) << bytes;
  }
  void expect_load_error(const std::vector<std::string>& parts) {
    expect_error([&] { LlamaModel::load(dir_, at::kFloat, at::kCPU); }, parts);
  }

  std::string dir_, weights_;
  LlamaConfig config_;
  std::unique_ptr<LlamaModel> model_;
};

TEST_F(BadCheckpoint, LoadsWhenIntact) {
  const auto loaded = LlamaModel::load(dir_, at::kBFloat16, at::kCPU);
  EXPECT_EQ(loaded.dtype(), at::kBFloat16);
  EXPECT_TRUE(torch::equal(loaded.flat_parameters(), model_->flat_parameters().to(at::kBFloat16)));
}

TEST_F(BadCheckpoint, MissingConfig) {
  fs::remove(dir_ + "/config.json");
  expect_load_error({dir_ + "/config.json"});
}

TEST_F(BadCheckpoint, MissingWeights) {
  fs::remove(weights_);
  expect_load_error({dir_, "no weights found"});
}

TEST_F(BadCheckpoint, UnsupportedDtype) {
  expect_error([&] { LlamaModel::load(dir_, at::kDouble, at::kCPU); }, {"Double", "fp32|fp16|bf16"});
}

TEST_F(BadCheckpoint, MissingTensor) {
  rewrite([](auto& tensors) { tensors.erase(tensors.begin() + 6); });  // layer 0 up_proj
  expect_load_error({dir_, "model.layers.0.mlp.up_proj.weight", "missing"});
}

TEST_F(BadCheckpoint, WrongShape) {
  rewrite([](auto& tensors) { tensors[6].second = tensors[6].second.t().contiguous(); });
  expect_load_error({"checkpoint " + weights_ +
                     ": tensor model.layers.0.mlp.up_proj.weight is [16, 24], "
                     "config.json implies [24, 16]"});
}

TEST_F(BadCheckpoint, IntegerTensor) {
  rewrite([](auto& tensors) { tensors[0].second = tensors[0].second.to(at::kInt); });
  expect_load_error({weights_, "model.embed_tokens.weight", "floating point"});
}

TEST_F(BadCheckpoint, UnknownSafetensorsDtype) {
  const std::string header =
      R"({"model.norm.weight":{"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  write_raw(bytes + header + std::string(16, '\0'));
  expect_load_error({weights_, "model.norm.weight", "F8_E4M3"});
}

TEST_F(BadCheckpoint, TruncatedHeader) {
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(0xe8), bytes[1] = 0x03;  // 1000 bytes announced, 20 present
  write_raw(bytes + std::string(20, '{'));
  expect_load_error({weights_, "header length 1000 exceeds the file size 28"});
}

TEST_F(BadCheckpoint, OversizedHeaderLengthAllocatesNothing) {
  write_raw(std::string(7, '\xff') + std::string(1, '\x3f') + "{}");
  expect_load_error({weights_, "header length 4611686018427387903 exceeds"});
}

// A 1-byte dtype passes the size bound (1 * 2^64-1 "fits" when a later dimension is 0), and so
// does [0, 2^62, 4], whose strides overflow int64: both are refused before an at::Tensor exists.
TEST_F(BadCheckpoint, ShapeBeyondInt64ExitsWith2NamingFileAndTensor) {
  for (const char* shape : {"[18446744073709551615,0]", "[0,4611686018427387904,4]"}) {
    const std::string header = std::string(R"({"model.norm.weight":{"dtype":"U8","shape":)") + shape +
                               R"(,"data_offsets":[0,0]}})";
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(header.size());
    write_raw(bytes + header + std::string(16, '\0'));
    const auto result = run_fedkseed("generate --model " + dir_ + " --prompt hi");
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("fedkseed: error: safetensors " + weights_ + ": tensor model.norm.weight: shape " +
                                   shape + " has more elements than int64 can count\n",
                               0),
              0u)
        << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

TEST_F(BadCheckpoint, TruncatedData) {
  const auto size = fs::file_size(weights_);
  fs::resize_file(weights_, size - 100);
  expect_load_error({weights_, "data_offsets", "truncated"});
}

TEST_F(BadCheckpoint, AbsentShard) {
  fs::rename(weights_, dir_ + "/model-00001-of-00002.safetensors");
  json map;
  for (const auto& [name, tensor] : model_->named_parameters()) {
    map[name] =
        name == "lm_head.weight" ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  }
  write_text(dir_ + "/model.safetensors.index.json",
             json{{"metadata", json::object()}, {"weight_map", map}}.dump());
  expect_load_error({dir_ + "/model.safetensors.index.json", "model-00002-of-00002.safetensors",
                     "lm_head.weight", "absent"});
}

// Raw safetensors bytes: the 8-byte length, `header` and `data` zero bytes.
std::string safetensors_bytes(const std::string& header, size_t data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  return bytes + header + std::string(data, '\0');
}

// What the safetensors library refuses, we refuse: offsets that overlap, leave a gap or leave
// trailing bytes, a key given twice (nlohmann would keep the last), a header not starting with '{'.
TEST_F(BadCheckpoint, SafetensorsRulesAreTheLibrarys) {
  const auto entry = [](const std::string& name, int begin, int end) {
    return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(end - begin) +
           "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  const std::vector<std::tuple<std::string, size_t, std::vector<std::string>>> cases = {
      {"{" + entry("a", 0, 8) + "," + entry("b", 4, 12) + "}", 12, {"tensor b", "[4, 12]", "overlap", "tensor a"}},
      {"{" + entry("a", 0, 8) + "," + entry("b", 10, 12) + "}", 12, {"tensor b", "leave a gap"}},
      {"{" + entry("a", 4, 8) + "}", 8, {"tensor a", "[4, 8]", "leave a gap"}},
      {"{" + entry("a", 0, 8) + "}", 12, {"cover 8 of the 12 data bytes"}},
      {"{" + entry("a", 0, 8) + "," + entry("a", 0, 8) + "}", 8, {"key \"a\" twice"}},
      {"{" + entry("a", 0, 8) + ",\"__metadata__\":{\"format\":\"pt\",\"format\":\"np\"}}", 8, {"\"format\" twice"}},
      {"{\"__metadata__\":{\"n\":1}," + entry("a", 0, 8) + "}", 8, {"__metadata__"}},
      {" {" + entry("a", 0, 8) + "}", 8, {"does not start with '{'"}}};
  for (const auto& [header, data, parts] : cases) {
    write_raw(safetensors_bytes(header, data));
    std::vector<std::string> expected = parts;
    expected.push_back("safetensors " + weights_);
    expect_error([&] { SafetensorsFile::open(weights_); }, expected);
  }
}

// Reads go through pread: a file cut short after open() is an Error, where a memory map dies
// of SIGBUS.
TEST_F(BadCheckpoint, FileTruncatedWhileReadIsAnErrorNotSigbus) {
  const auto file = SafetensorsFile::open(weights_);
  fs::resize_file(weights_, 4096);
  const auto& last = file.entries().back();
  expect_error([&] { file.tensor(last); }, {weights_, last.name, "truncated while being read"});
}

TEST_F(BadCheckpoint, NonFiniteWeightsAreRefusedUnlessAllowed) {
  rewrite([](auto& tensors) {
    tensors[3].second = tensors[3].second.clone();
    tensors[3].second.view(-1)[0] = std::nan("");
    tensors[3].second.view(-1)[1] = INFINITY;
  });
  const std::string name = model_->named_parameters()[3].first;
  expect_load_error({"checkpoint " + weights_ + ": tensor " + name + " holds 2 NaN or infinite values",
                     "--allow_nonfinite"});
  EXPECT_TRUE(std::isnan(LlamaModel::load(dir_, at::kFloat, at::kCPU, /*allow_nonfinite=*/true)
                             .named_parameters()[3].second.view(-1)[0].item<float>()));
}

// config.json is checked against the weights' headers before the model is allocated: with
// this config the allocation alone would need terabytes.
TEST_F(BadCheckpoint, ConfigContradictingTheWeightsIsRefusedBeforeAllocating) {
  json config = tiny_json();
  config["intermediate_size"] = 1048576;
  config["num_hidden_layers"] = 4096;
  write_text(dir_ + "/config.json", config.dump());
  expect_load_error({"checkpoint " + weights_ + ": tensor model.layers.0.mlp.gate_proj.weight is [24, 16], " + dir_ +
                     "/config.json implies [1048576, 16] (intermediate_size, hidden_size)"});
  config = tiny_json();
  config["num_hidden_layers"] = 3;
  write_text(dir_ + "/config.json", config.dump());
  expect_load_error({"checkpoint " + weights_ + ": holds 2 layers (model.layers.0..1), " + dir_ +
                     "/config.json says num_hidden_layers 3"});
}

TEST_F(BadCheckpoint, CliExitsWith2AndOneLine) {
  rewrite([](auto& tensors) { tensors[6].second = tensors[6].second.t().contiguous(); });
  write_text(dir_ + "/data.jsonl", R"({"prompt": "a", "response": "b"})"
                                   "\n");
  const auto result = run_fedkseed("score --model " + dir_ + " --data " + dir_ + "/data.jsonl");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(
      result.err.rfind("fedkseed: error: checkpoint " + weights_ + ": tensor model.layers.0.mlp.up_proj", 0),
      0u)
      << result.err;
  const auto dtype = run_fedkseed("generate --model " + dir_ + " --prompt hi --dtype fp64");
  EXPECT_EQ(dtype.exit_code, 2);
  EXPECT_NE(dtype.err.find("--dtype"), std::string::npos) << dtype.err;
}

TEST(LlamaModelStorage, ParametersAreViewsOfTheModel) {
  LlamaConfig config = llama_config_from_json(tiny_json().dump(), "test");
  config.tie_word_embeddings = true;
  const auto model = LlamaModel::random_init(config, 3, at::kFloat, at::kCPU);
  const auto parameters = model.named_parameters();
  EXPECT_EQ(parameters.back().first, "model.norm.weight");  // a tied lm_head is not listed again
  int64_t numel = 0;
  for (const auto& [name, tensor] : parameters) numel += tensor.numel();
  EXPECT_EQ(numel, model.flat_parameters().numel());
  EXPECT_EQ(numel, config.parameter_count());

  const at::Tensor ids = torch::tensor({{1, 5, 7, 3}});
  const at::Tensor before = model.logits(ids);
  parameters.front().second.mul_(0);  // zero embeddings = zero tied lm_head = zero logits
  EXPECT_EQ(model.logits(ids).abs().max().item<float>(), 0.0f);
  EXPECT_GT(before.abs().max().item<float>(), 0.0f);
}

// Biases and q/k norms are weights like the others: views into the flat buffer (so the ZO
// engine, replay and export see them), listed in transformers' order, counted by the config.
TEST(LlamaModelStorage, FamilyTensorsAreViewsInTransformersOrder) {
  json patch = tiny_json();
  patch.update({{"model_type", "qwen3"}, {"architectures", {"Qwen3ForCausalLM"}}, {"attention_bias", true},
                {"head_dim", 8}});
  const LlamaConfig config = llama_config_from_json(patch.dump(), "test");
  const auto model = LlamaModel::random_init(config, 3, at::kFloat, at::kCPU);
  std::vector<std::string> layer0;
  int64_t numel = 0;
  for (const auto& [name, tensor] : model.named_parameters()) {
    numel += tensor.numel();
    EXPECT_TRUE(tensor.is_alias_of(model.flat_parameters())) << name;
    if (name.rfind("model.layers.0.self_attn.", 0) == 0) layer0.push_back(name.substr(25));
  }
  EXPECT_EQ(numel, config.parameter_count());
  EXPECT_EQ(numel, model.flat_parameters().numel());
  EXPECT_EQ(layer0, (std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
                                              "v_proj.weight", "v_proj.bias", "o_proj.weight", "o_proj.bias",
                                              "q_norm.weight", "k_norm.weight"}));
  // transformers' init: biases 0, norms 1; a changed bias changes the logits.
  const auto parameters = model.named_parameters();
  const auto named = [&](const std::string& name) {
    for (const auto& [key, tensor] : parameters) {
      if (key == name) return tensor;
    }
    return at::Tensor();
  };
  EXPECT_EQ(named("model.layers.0.self_attn.k_proj.bias").abs().max().item<float>(), 0.0f);
  EXPECT_EQ(named("model.layers.1.self_attn.q_norm.weight").min().item<float>(), 1.0f);
  const at::Tensor ids = torch::tensor({{1, 5, 7, 3}});
  const at::Tensor before = model.logits(ids);
  named("model.layers.1.self_attn.o_proj.bias").fill_(0.5);
  EXPECT_GT((model.logits(ids) - before).abs().max().item<float>(), 1e-4f);
}

// --dtype auto is the checkpoint's own dtype: a bf16 checkpoint loads as bf16.
TEST(LlamaModelStorage, AutoDtypeIsTheCheckpointsOwn) {
  const std::string dir = make_temp_dir("auto_dtype");
  const LlamaConfig config = llama_config_from_json(tiny_json().dump(), "test");
  LlamaModel::random_init(config, 3, at::kBFloat16, at::kCPU).save(dir + "/bf16");
  LlamaModel::random_init(config, 3, at::kFloat, at::kCPU).save(dir + "/fp32");
  EXPECT_EQ(LlamaModel::resolve_dtype("auto", dir + "/bf16", at::kCUDA), at::kBFloat16);
  EXPECT_EQ(LlamaModel::resolve_dtype("auto", dir + "/fp32", at::kCUDA), at::kFloat);
  EXPECT_EQ(LlamaModel::resolve_dtype("fp16", dir + "/bf16", at::kCPU), at::kHalf);
  const auto loaded = LlamaModel::load(dir + "/bf16", at::kBFloat16, at::kCPU);
  EXPECT_EQ(loaded.dtype(), at::kBFloat16);
  expect_error([&] { LlamaModel::resolve_dtype("fp64", dir + "/bf16", at::kCPU); }, {"--dtype", "fp64"});
}

// Decoding stops at the first of several EOS ids (Llama-3's and Qwen's lists).
TEST(LlamaModelStorage, GenerationStopsAtAnyEosId) {
  const LlamaConfig config = llama_config_from_json(tiny_json().dump(), "test");
  const auto model = LlamaModel::random_init(config, 5, at::kFloat, at::kCPU);
  const std::vector<int64_t> prompt{1, 5, 7};
  const auto free = model.generate({prompt}, 8, {}, 0).front();
  ASSERT_EQ(free.size(), 8u);
  int64_t unused = 0;  // an id the free run never produces
  while (std::find(free.begin(), free.end(), unused) != free.end()) ++unused;
  const std::vector<int64_t> before_fourth(free.begin(), std::find(free.begin(), free.end(), free[3]));
  EXPECT_EQ(model.generate({prompt}, 8, {unused, free[3]}, 0).front(), before_fourth);
  EXPECT_EQ(model.generate({prompt}, 8, {unused}, 0).front(), free);
}

TEST(LlamaModelStorage, RandomInitIsSeeded) {
  const LlamaConfig config = llama_config_from_json(tiny_json().dump(), "test");
  const auto a = LlamaModel::random_init(config, 5, at::kFloat, at::kCPU);
  const auto b = LlamaModel::random_init(config, 5, at::kFloat, at::kCPU);
  const auto c = LlamaModel::random_init(config, 6, at::kFloat, at::kCPU);
  EXPECT_TRUE(torch::equal(a.flat_parameters(), b.flat_parameters()));
  EXPECT_FALSE(torch::equal(a.flat_parameters(), c.flat_parameters()));
  const double std = a.named_parameters()[1].second.std().item<double>();
  EXPECT_NEAR(std, 0.02, 0.004);  // transformers' initializer_range
}

TEST(LlamaModelStorage, LossIsNanWithoutLabelsAndChecksIds) {
  const LlamaConfig config = llama_config_from_json(tiny_json().dump(), "test");
  const auto model = LlamaModel::random_init(config, 5, at::kFloat, at::kCPU);
  const at::Tensor ids = torch::tensor({{1, 5, 7, 3}});
  EXPECT_TRUE(std::isnan(model.loss(ids, torch::full({1, 4}, -100)).item<float>()));
  expect_error([&] { model.logits(torch::tensor({{1, 50}})); }, {"input_ids", "50", "[0, 50)"});
  expect_error([&] { model.generate({{}}, 3, {2}, 0); }, {"prompt 0 is empty"});
}

// A --config file like tiny_json() with `vocab` rows.
std::string small_config(const std::string& dir, int64_t vocab) {
  json config = tiny_json();
  config["vocab_size"] = vocab;
  write_text(dir + "/config_" + std::to_string(vocab) + ".json", config.dump());
  return dir + "/config_" + std::to_string(vocab) + ".json";
}

std::vector<std::string> folder_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(InitModel, ConfigVocabBelow1000TrainsThatManyPiecesOrSaysWhy) {
  const std::string root = make_temp_dir("init_small_vocab");
  const auto made = run_fedkseed("--quiet init-model --config " + small_config(root, 400) + " --out " + root + "/m400");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_LE(Tokenizer::load(root + "/m400").vocab_size(), 400);
  EXPECT_EQ(LlamaModel::load(root + "/m400", at::kFloat, at::kCPU).config().vocab_size, 400);

  const auto refused = run_fedkseed("--quiet init-model --config " + small_config(root, 50) + " --out " + root + "/m50");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err.rfind("fedkseed: error: init-model: vocab_size 50 is too small", 0), 0u) << refused.err;
  EXPECT_NE(refused.err.find("pass --tokenizer"), std::string::npos) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  EXPECT_FALSE(fs::exists(root + "/m50")) << "a failed init-model leaves no --out folder it made";
}

// init-model never clobbers: a non-empty --out is refused, --force replaces its contents only
// once the new checkpoint is complete, and a failure leaves --out as it was.
TEST(InitModel, FailureLeavesOutAsItWasAndCopiesAreWritable) {
  const std::string root = make_temp_dir("init_partial");
  const auto source = run_fedkseed("--quiet init-model --config " + small_config(root, 400) + " --out " + root + "/src");
  ASSERT_EQ(source.exit_code, 0) << source.err;
  const std::string tokenizer = root + "/src/tokenizer.model";
  fs::permissions(tokenizer, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);

  write_text(root + "/kept/notes.txt", "mine");
  const auto occupied = run_fedkseed("--quiet init-model --config " + small_config(root, 400) + " --tokenizer " +
                                     tokenizer + " --out " + root + "/kept");
  EXPECT_EQ(occupied.exit_code, 2);
  EXPECT_EQ(occupied.err, "fedkseed: error: --out " + root +
                              "/kept: is not empty (it holds notes.txt); choose an empty folder, or pass --force "
                              "to replace its contents\n");
  const auto refused = run_fedkseed("--quiet init-model --force --config " + small_config(root, 100) +
                                    " --tokenizer " + tokenizer + " --out " + root + "/kept");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("raise vocab_size"), std::string::npos) << refused.err;
  EXPECT_EQ(folder_entries(root + "/kept"), std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(read_text(root + "/kept/notes.txt"), "mine");
  const auto nested = run_fedkseed("--quiet init-model --config " + small_config(root, 100) + " --tokenizer " +
                                   tokenizer + " --out " + root + "/made/a/b");
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_FALSE(fs::exists(root + "/made")) << "the folders a failed init-model created are gone";

  const auto copied = run_fedkseed("--quiet init-model --force --config " + small_config(root, 400) +
                                   " --tokenizer " + tokenizer + " --out " + root + "/kept");
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  EXPECT_EQ(folder_entries(root + "/kept"),
            (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"}));
  EXPECT_NE(fs::status(root + "/kept/tokenizer.model").permissions() & fs::perms::owner_write, fs::perms::none)
      << "the copy of a read-only tokenizer.model is owner-writable";
  EXPECT_EQ(read_text(root + "/kept/tokenizer.model"), read_text(tokenizer));
}

// A tokenizer with more ids than the embedding has rows fails at load, naming config.json,
// not at the first forward.
TEST(InitModel, TokenizerLargerThanTheEmbeddingIsRefused) {
  const std::string root = make_temp_dir("tokenizer_too_large");
  ASSERT_EQ(run_fedkseed("--quiet init-model --config " + small_config(root, 400) + " --out " + root + "/m400").exit_code, 0);
  ASSERT_EQ(run_fedkseed("--quiet init-model --config " + small_config(root, 1000) + " --out " + root + "/m1000").exit_code, 0);
  const int64_t ids = Tokenizer::load(root + "/m1000").vocab_size();
  ASSERT_GT(ids, 400);
  fs::copy_file(root + "/m1000/tokenizer.model", root + "/m400/tokenizer.model", fs::copy_options::overwrite_existing);
  const auto result = run_fedkseed("generate --model " + root + "/m400 --prompt hi");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "fedkseed: error: " + root + "/m400/config.json: vocab_size is 400, but the tokenizer beside it has " +
                            std::to_string(ids) + " ids: the embedding has no row for ids 400.." +
                            std::to_string(ids - 1) + " (tokenizer and weights of different models?)\n");
}

// A fake Hugging Face cache: HF_HOME/hub/models--acme--tiny-llama/{refs/main, snapshots/REV}.
TEST(ModelDir, HuggingFaceIdResolvesThroughTheLocalCache) {
  const std::string root = make_temp_dir("hf_cache");
  const std::string repo = root + "/hf/hub/models--acme--tiny-llama";
  const std::string snapshot = repo + "/snapshots/0123abcd";
  ASSERT_EQ(run_fedkseed("--quiet init-model --config " + small_config(root, 400) + " --out " + snapshot).exit_code, 0);
  write_text(repo + "/refs/main", "0123abcd");
  write_text(root + "/data.jsonl", R"({"prompt": "a b", "response": " c"})" "\n");
  const std::string generate = " --quiet generate --prompt hi --max_new_tokens 3 --model ";
  const auto by_folder = run_fedkseed(generate + snapshot);
  ASSERT_EQ(by_folder.exit_code, 0) << by_folder.err;
  for (const std::string env :
       {"HF_HUB_CACHE= HF_HOME=" + root + "/hf", "HF_HUB_CACHE=" + root + "/hf/hub HF_HOME=/nowhere"}) {
    const auto by_id = run_command(env + " " + FEDKSEED_BINARY + generate + "acme/tiny-llama");
    EXPECT_EQ(by_id.exit_code, 0) << env << ": " << by_id.err;
    EXPECT_EQ(by_id.out, by_folder.out) << env;
    const auto scored = run_command(env + " " + FEDKSEED_BINARY + " --quiet score --data " + root +
                                    "/data.jsonl --model acme/tiny-llama");
    EXPECT_EQ(scored.exit_code, 0) << env << ": " << scored.err;
  }
  const auto absent = run_command("HF_HUB_CACHE= HF_HOME=" + root + "/hf " + FEDKSEED_BINARY +
                                  " score --data " + root + "/data.jsonl --model acme/absent");
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_EQ(absent.err.rfind("fedkseed: error: --model acme/absent: not a local folder, and the Hugging Face cache " +
                             root + "/hf/hub has no snapshot of it", 0),
            0u)
      << absent.err;
  EXPECT_NE(absent.err.find("huggingface-cli download acme/absent"), std::string::npos) << absent.err;
  EXPECT_EQ(std::count(absent.err.begin(), absent.err.end(), '\n'), 1) << absent.err;
  EXPECT_EQ(resolve_model_dir(root), root) << "an existing folder is taken as given";
  EXPECT_EQ(resolve_model_dir("./no/such"), "./no/such") << "a path that is no id is left to the loaders";
}

}  // namespace
}  // namespace fedkseed::test
