// A training run's files (see run_files.h).
#include "run_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/logging.h"
#include "fedkseed/federation/run_identity.h"
#include "fedkseed/model/model_dir.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

// Replaces the previous <prefix>_round<r>* (a state file, or with --save_weights a model
// folder) by this round's, written first: the reference keeps one "best" and one "final".
void replace_saved(const RunDirectory& run, const std::string& prefix, int64_t round,
                   const std::function<void(const std::string& name)>& write) {
  const std::string name = prefix + "_round" + std::to_string(round);
  write(name);
  for (const auto& entry : fs::directory_iterator(run.path())) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix + "_round", 0) == 0 && file != name && file != name + ".json") fs::remove_all(entry.path());
  }
}

// `text` as one shell word.
std::string shell_quoted(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=+@%") ==
                           std::string::npos) {
    return text;
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The program as this process was started (argv[0]).
std::string program() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string name;
  std::getline(in, name, '\0');
  return name.empty() ? "fedkseed" : name;
}

}  // namespace

std::string RunFiles::resume_command() const {
  return shell_quoted(program()) + " train --resume " + shell_quoted(dir_.path());
}

RunFiles RunFiles::create(const TrainOptions& options, const SeedsAndSchedule& seeds) {
  RunFiles files(RunDirectory::create(options.log_root, options.run_name));
  files.dir_.write_file("config.yaml", options_to_yaml(options));
  files.dir_.write_file("seeds.json", seeds_file_json(seeds));
  return files;
}

RunFiles RunFiles::reopen(const RunDirectory& locked, const RunState& state) {
  RunFiles files(locked);
  std::ifstream in(files.dir_.file("metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object() && parsed.contains("round") && parsed.at("round").is_number_integer() &&
        parsed.at("round").get<int64_t>() <= state.last_round) {
      files.metrics_lines_ += line + "\n";
    }
  }
  files.dir_.write_file("metrics.jsonl", files.metrics_lines_);
  files.write_results(state);
  return files;
}

std::optional<RunFiles> RunFiles::open(const TrainOptions& options, const SeedsAndSchedule& seeds,
                                       const std::optional<RunDirectory>& resumed,
                                       const std::vector<std::string>& data_files, RunState& progress) {
  if (!resumed && !options.log) return std::nullopt;
  const std::string model_dir = resolve_model_dir(options.model);
  progress.identity = resumed ? resumed_identity(progress.identity, model_dir, data_files, options.resume)
                              : run_identity(model_dir, data_files);
  std::optional<RunFiles> files = resumed ? reopen(*resumed, progress) : create(options, seeds);
  log::add_file_sink(files->directory().file("train.log"));
  log::info("run directory: " + files->directory().path());
  return files;
}

void RunFiles::add_metrics(const RoundMetrics& metrics) {
  metrics_lines_ += round_metrics_json(metrics) + "\n";
  dir_.write_file("metrics.jsonl", metrics_lines_);
}

// results.json (NaN losses as null: JSON has no NaN) and memory.json.
void RunFiles::write_results(const RunState& state) const {
  dir_.write_file("results.json", nlohmann::json({{"eval_avg_acc", state.eval_losses}}).dump() + "\n");
  const nlohmann::json memory = {{"0", {{"max_memory_allocated", state.peak_memory_allocated},
                                        {"max_memory_reserved", state.peak_memory_reserved}}}};
  dir_.write_file("memory.json", memory.dump() + "\n");
}

void RunFiles::save_round(const RunState& state, bool best, const TrainOptions& options,
                          const std::function<void(const std::string& folder)>& write_weights) const {
  const std::string text = run_state_json(state);
  write_results(state);
  std::vector<std::string> kinds;
  if (options.save) kinds.push_back("final");
  if (options.save && best) kinds.push_back("best");
  for (const auto& kind : kinds) {
    replace_saved(dir_, "state_" + kind, state.last_round,
                  [&](const std::string& name) { dir_.write_file(name + ".json", text); });
    if (options.save_weights) {
      replace_saved(dir_, "model_" + kind, state.last_round,
                    [&](const std::string& name) { write_weights(dir_.file(name)); });
    }
  }
  dir_.write_file("state.json", text);
}

void RunFiles::write_final_eval(const std::string& metric, const FinalEvaluation& result,
                                const std::vector<std::pair<std::string, double>>& extra) const {
  if (metric == "rouge") dir_.write_file("final_generations.jsonl", result.generations);
  nlohmann::json object = {{"final_eval_" + metric, result.value}};
  for (const auto& [key, number] : extra) object[key] = number;
  dir_.write_file("final_eval.json", object.dump() + "\n");
}

}  // namespace fedkseed
