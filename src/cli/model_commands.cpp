// The model tool subcommands: `init-model` (random HF-format checkpoint + tokenizer),
// `score` (per-example loss in the training format) and `generate` (greedy continuation).
#include <ATen/ops/from_blob.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/random.h"
#include "fedkseed/common/staged_output.h"
#include "fedkseed/data/example.h"
#include "fedkseed/model/config_check.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/tokenizer.h"
#include "commands.h"

namespace fedkseed::cli {
namespace {

namespace fs = std::filesystem;

// Pieces of the tokenizer init-model trains when no --tokenizer is given, and its corpus.
constexpr int kTrainedVocab = 1000;
constexpr int64_t kCorpusLines = 6000;

struct InitModelArgs {
  std::string config, preset, out, tokenizer, dtype = "fp32";
  uint64_t seed = 42;
  bool force = false;
};

struct ModelArgs {
  std::string model, dtype = "auto", device = "auto";
  bool allow_nonfinite = false;
};

struct ScoreArgs : ModelArgs {
  std::string data;
  int64_t max_length = 1024;
};

struct GenerateArgs : ModelArgs {
  std::string prompt;
  int64_t max_new_tokens = 128;
};

// What score and generate feed the model: the training format (data/example.h) around text
// used as given, so a model tuned by `train` wants the prompt in training's template.
std::string fed_text_help(const std::string& fed) {
  std::string dolly = dolly_prompt("{instruction}", "");
  for (std::size_t at = dolly.find('\n'); at != std::string::npos; at = dolly.find('\n', at + 2)) {
    dolly.replace(at, 1, "\\n");
  }
  return fed + "\nNo prompt template is applied: to match training, give the prompt in training's, e.g. Dolly's "
               "without a context:\n  \"" + dolly + "\"\n(with a context, and Natural Instructions': see the README).\n";
}

// Procedurally generated English (sentences, numbers, the prompt template, a little code)
// for training init-model's small tokenizer; deterministic for a given seed.
std::vector<std::string> synthetic_corpus(int64_t lines, uint64_t seed) {
  static const std::vector<std::string> kSubjects = {
      "the model",     "a student",          "our team",         "the server",       "each client",
      "the old river", "my neighbour",       "this recipe",      "the committee",    "a small bird",
      "the teacher",   "every program",      "the city council", "a young engineer", "the library",
      "her brother",   "the weather report", "that musician"};
  static const std::vector<std::string> kVerbs = {
      "describes", "answers",    "summarizes", "explains", "builds",   "reads",    "writes",  "measures",
      "compares",  "translates", "remembers",  "follows",  "improves", "collects", "reviews", "predicts"};
  static const std::vector<std::string> kObjects = {
      "the question",         "a long story",           "three simple rules",      "the history of Rome",
      "every instruction",    "the weekly schedule",    "a list of numbers",       "the final result",
      "two different colors", "the mountain trail",     "an interesting article",  "the training data",
      "a cup of coffee",      "the following sentence", "several important ideas", "the response",
      "the input text"};
  static const std::vector<std::string> kEndings = {
      "before the meeting", "with great care",       "in a few minutes",   "because it was raining",
      "during the summer",  "without any help",      "for the first time", "after dinner",
      "quite quickly",      "at the end of the day", "as requested",       "in plain English"};
  static const std::vector<std::string> kTemplates = {
      "Below is an instruction that describes a task. Write a response for the task request.",
      "### Instruction:",
      "### Input:",
      "### Response:",
      "What is the capital of France? Paris.",
      "def add(a, b):\n    return a + b",
      "for (int i = 0; i < n; ++i) { sum += x[i]; }",
      "Question: Why is the sky blue? Answer: Rayleigh scattering.",
      "Yes.",
      "No.",
      "Summarize the text."};
  Rng rng(seed, "synthetic corpus");
  auto pick = [&rng](const std::vector<std::string>& words) {
    return words[rng.uniform_int(0, static_cast<int64_t>(words.size()))];
  };
  std::vector<std::string> corpus;
  corpus.reserve(lines);
  for (int64_t i = 0; i < lines; ++i) {
    std::string line = pick(kSubjects) + " " + pick(kVerbs) + " " + pick(kObjects) + " " + pick(kEndings);
    line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
    line += rng.uniform() < 0.5 ? "." : ", and then " + pick(kVerbs) + " " + pick(kObjects) + "!";
    if (rng.uniform() < 0.3) line += " It costs " + std::to_string(rng.uniform_int(1, 10000)) + " dollars.";
    if (rng.uniform() < 0.2) line += " " + pick(kTemplates);
    corpus.push_back(std::move(line));
  }
  return corpus;
}

// Copies `from` as a new file, so it gets the usual permissions rather than the source's
// (a read-only tokenizer.model would otherwise stay read-only in the checkpoint).
void copy_contents(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  if (!in || !out) throw Error("--tokenizer: cannot copy " + from.string() + " to " + to.string());
}

// Copies the tokenizer (a tokenizer.model or tokenizer.json file, or a folder holding one; a
// folder's tokenizer.json wins, as in Tokenizer::load) and, when they sit beside it, the HF
// files that add tokens and name the special ones.
void copy_tokenizer(const std::string& path, const std::string& out) {
  fs::path file = path;
  if (fs::is_directory(file)) {
    file = fs::is_regular_file(file / "tokenizer.json") ? file / "tokenizer.json" : file / "tokenizer.model";
    if (!fs::is_regular_file(file)) throw Error("--tokenizer " + path + ": holds no tokenizer.json or tokenizer.model");
  } else if (!fs::is_regular_file(file)) {
    throw Error("--tokenizer " + path + ": no such file or folder");
  }
  const std::string name = file.filename() == "tokenizer.json" ? "tokenizer.json" : "tokenizer.model";
  copy_contents(file, fs::path(out) / name);
  for (const char* extra : {"tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}) {
    const fs::path sibling = file.parent_path() / extra;
    if (fs::is_regular_file(sibling)) copy_contents(sibling, fs::path(out) / extra);
  }
}

// The trained tokenizer's size: kTrainedVocab, or fewer for a --config with a smaller vocab.
void train_init_tokenizer(const InitModelArgs& args, int64_t config_vocab, const std::string& dir) {
  const int pieces = static_cast<int>(std::min<int64_t>(kTrainedVocab, config_vocab));
  try {
    train_tokenizer(synthetic_corpus(kCorpusLines, args.seed), dir, pieces);
  } catch (const Error& error) {
    throw Error("init-model: vocab_size " + std::to_string(config_vocab) + " is too small for a trained " +
                std::to_string(pieces) + "-piece tokenizer (" + error.what() +
                "); raise vocab_size or pass --tokenizer");
  }
}

void run_init_model(const InitModelArgs& args) {
  LlamaConfig config = args.preset.empty() ? llama_config_load(args.config) : llama_preset(args.preset);
  const bool tiny = !args.preset.empty() && llama_preset_is_tiny(args.preset);
  StagedOutput output(args.out, "--out", "init-model", args.force);
  const std::string dir = output.staging();
  if (args.tokenizer.empty()) {
    train_init_tokenizer(args, tiny ? kTrainedVocab : config.vocab_size, dir);
  } else {
    copy_tokenizer(args.tokenizer, dir);
  }
  const Tokenizer tokenizer = Tokenizer::load(dir);
  if (tiny) {  // a tiny preset's vocabulary and special tokens are its tokenizer's
    config.vocab_size = tokenizer.vocab_size();
    config.bos_token_id = tokenizer.bos_id();
    config.eos_token_ids = {tokenizer.eos_id()};
    config.pad_token_id = tokenizer.pad_id() < config.vocab_size ? tokenizer.pad_id() : -1;
  } else if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error("init-model: the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                " ids but vocab_size is " + std::to_string(config.vocab_size) + "; raise vocab_size");
  } else if (args.tokenizer.empty() && tokenizer.vocab_size() < config.vocab_size) {
    log::warn("init-model: no --tokenizer, so a " + std::to_string(tokenizer.vocab_size()) +
              "-id tokenizer was trained; embedding rows " + std::to_string(tokenizer.vocab_size()) + ".." +
              std::to_string(config.vocab_size - 1) +
              " are never used (pass --tokenizer with the model's own tokenizer folder)");
  }
  const auto model =
      LlamaModel::random_init(config, args.seed, parse_dtype(args.dtype), c10::Device(c10::kCPU));
  model.save(dir);
  output.commit();
  log::info("init-model: wrote " + args.out + " (" + std::to_string(config.parameter_count()) +
            " parameters, " + args.dtype + ", vocab " + std::to_string(config.vocab_size) + ")");
}

// The model and its tokenizer, checked against each other.
std::pair<LlamaModel, Tokenizer> load_model(const ModelArgs& args) {
  const c10::Device device = parse_device(args.device);
  LlamaModel model =
      LlamaModel::load(args.model, LlamaModel::resolve_dtype(args.dtype, args.model, device), device, args.allow_nonfinite);
  Tokenizer tokenizer = Tokenizer::load(args.model);
  config_check_tokenizer(model.config(), resolve_model_dir(args.model) + "/config.json", tokenizer);
  return {std::move(model), std::move(tokenizer)};
}

at::Tensor as_row(const std::vector<int64_t>& ids) {
  return at::from_blob(const_cast<int64_t*>(ids.data()), {1, static_cast<int64_t>(ids.size())}, at::kLong).clone();
}

// One JSON line per example: {"loss": mean CE over response tokens (null if none), "tokens": count}.
void run_score(const ScoreArgs& args) {
  std::ifstream in(args.data, std::ios::binary);
  if (!in) throw Error("--data " + args.data + ": cannot open");
  const auto [model, tokenizer] = load_model(args);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = args.data + ":" + std::to_string(number);
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("prompt") || !record["prompt"].is_string() ||
        !record.contains("response") || !record["response"].is_string()) {
      throw Error(where + ": expected a JSON object with string fields \"prompt\" and \"response\"");
    }
    const Example example = make_example(
        tokenizer, {record["prompt"].get<std::string>(), record["response"].get<std::string>()}, args.max_length);
    for (const int64_t id : example.input_ids) {
      if (id < 0 || id >= model.config().vocab_size) {
        throw Error(where + ": token id " + std::to_string(id) + " lies outside the model's vocabulary of " +
                    std::to_string(model.config().vocab_size) + " (tokenizer and model do not match)");
      }
    }
    const auto& labels = example.labels;
    const int64_t tokens = labels.empty() ? 0 : std::count_if(labels.begin() + 1, labels.end(),
                                                              [](int64_t id) { return id != kIgnoreIndex; });
    const double loss = model.loss(as_row(example.input_ids), as_row(example.labels)).item<double>();
    std::cout << nlohmann::json{{"loss", loss}, {"tokens", tokens}}.dump() << std::endl;
  }
}

void run_generate(const GenerateArgs& args) {
  if (args.max_new_tokens < 0) throw Error("--max_new_tokens: must be >= 0");
  const auto [model, tokenizer] = load_model(args);
  const auto prompt = tokenizer.encode(args.prompt);
  const int64_t context = model.config().max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) + args.max_new_tokens > context) {
    throw Error("--max_new_tokens " + std::to_string(args.max_new_tokens) + ": with the prompt's " +
                std::to_string(prompt.size()) + " tokens it exceeds the model's max_position_embeddings " +
                std::to_string(context));
  }
  const auto ids =
      model.generate({prompt}, args.max_new_tokens, model.config().stop_token_ids(tokenizer.eos_id()),
                     tokenizer.pad_id()).front();
  const nlohmann::json result = {{"ids", ids}, {"text", tokenizer.decode(ids)}};
  std::cout << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void add_model_options(CLI::App& command, ModelArgs& args) {
  command
      .add_option("--model", args.model,
                  "Checkpoint folder (config.json, weights, tokenizer.model), or a Hugging Face id (org/name) "
                  "already in the local Hugging Face cache")
      ->required();
  command
      .add_option("--dtype", args.dtype,
                  "fp32|fp16|bf16, or auto: the checkpoint's own dtype (config.json's dtype; a bf16 "
                  "checkpoint runs in bf16)")
      ->capture_default_str();
  command.add_option("--device", args.device, kDeviceHelp)->capture_default_str();
  command.add_flag("--allow_nonfinite", args.allow_nonfinite, "Load weights holding NaN or Inf instead of refusing them");
}

}  // namespace

std::string preset_choices() {
  std::string names;
  for (const auto& name : llama_preset_names()) names += (names.empty() ? "" : " | ") + name;
  return names;
}

void add_model_commands(CLI::App& app) {
  auto init = std::make_shared<InitModelArgs>();
  auto* init_command = app.add_subcommand(
      "init-model",
      "Write a random-weight Hugging Face checkpoint of a LLaMA-family model (config.json, model.safetensors, "
      "tokenizer)");
  auto* config_option =
      init_command->add_option("--config", init->config, "config.json of the model to create");
  auto* preset_option =
      init_command->add_option("--preset", init->preset,
                               preset_choices() + " (tiny*: small random models of each family, taking the "
                                                  "tokenizer's vocabulary; the others: the shapes of those models)");
  config_option->excludes(preset_option);
  init_command->add_option("--out", init->out, "Output folder (new or empty)")->required();
  init_command->add_flag("--force", init->force, "Replace the contents of a non-empty --out (once all is written)");
  init_command->add_option("--seed", init->seed, "Seed of the weights and the tokenizer corpus")
      ->capture_default_str();
  init_command->add_option("--dtype", init->dtype, "Stored dtype: fp32|fp16|bf16")->capture_default_str();
  init_command->add_option(
      "--tokenizer", init->tokenizer,
      "Copy this tokenizer.json or tokenizer.model, or the one in this folder (tokenizer.json first), and "
      "tokenizer_config.json, special_tokens_map.json, added_tokens.json beside it. Without it a " +
          std::to_string(kTrainedVocab) +
          "-piece sentencepiece model (at most vocab_size pieces) is trained on built-in synthetic "
          "English; tiny presets take its vocab_size, others keep theirs and leave the other rows unused");
  init_command->callback([init, config_option, preset_option] {
    if (config_option->count() + preset_option->count() != 1)
      throw Error("init-model: give --config FILE or --preset NAME");
    run_init_model(*init);
  });

  auto score = std::make_shared<ScoreArgs>();
  auto* score_command = app.add_subcommand("score",
                                           "Per-line loss of {\"prompt\", \"response\"} JSONL in the "
                                           "training format: one {\"loss\", \"tokens\"} line each");
  score_command->footer(fed_text_help(
      "Scored text: BOS + prompt + response + EOS (BOS where the tokenizer puts one), prompt and response joined "
      "as they are, with no separator (training's format). The loss is the mean cross-entropy over the response "
      "tokens and EOS; \"tokens\" counts them."));
  add_model_options(*score_command, *score);
  score_command->add_option("--data", score->data, "JSONL file")->required();
  score_command
      ->add_option("--max_length", score->max_length, "Truncate prompt+response+EOS to this many tokens")
      ->capture_default_str();
  score_command->callback([score] { run_score(*score); });

  auto generate = std::make_shared<GenerateArgs>();
  auto* generate_command = app.add_subcommand(
      "generate", "Greedy continuation of --prompt: one {\"ids\", \"text\"} line (EOS excluded)");
  add_model_options(*generate_command, *generate);
  generate_command->add_option("--prompt", generate->prompt, "Prompt text, used as given (BOS is prepended)")
      ->required();
  generate_command->footer(fed_text_help(
      "Continued text: BOS + prompt, greedily, until EOS or --max_new_tokens (the final evaluation's format)."));
  generate_command->add_option("--max_new_tokens", generate->max_new_tokens, "Most tokens to generate")
      ->capture_default_str();
  generate_command->callback([generate] { run_generate(*generate); });
}

}  // namespace fedkseed::cli
