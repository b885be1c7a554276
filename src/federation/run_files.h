// Internal to the federation: the run directory as a training run keeps it up to date —
// config.yaml and seeds.json at the start; each round metrics.jsonl, results.json,
// memory.json, the --save copies and state.json, written last (the commit point); at the end
// final_eval.json (and final_generations.jsonl).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fedkseed/common/options.h"
#include "fedkseed/common/run_dir.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/trainer.h"

namespace fedkseed {

class RunFiles {
 public:
  // A new run directory under options.log_root (named options.run_name, or by the time),
  // locked while this object lives, holding config.yaml and seeds.json.
  static RunFiles create(const TrainOptions& options, const SeedsAndSchedule& seeds);
  // A resumed run's directory (`locked` by the caller), with metrics.jsonl, results.json and
  // memory.json rebuilt from `state`: a run killed before its state.json may have left them a
  // round ahead (or, from an older fedkseed, a torn metrics line).
  static RunFiles reopen(const RunDirectory& locked, const RunState& state);
  // A run's directory: the resumed run's (`resumed`, locked by the caller) reopened or, with
  // --log, a new one; none otherwise. First records the run's identity on its model and
  // `data_files` in `progress` (checked against the saved one when resuming); the log then goes
  // to the directory's train.log too.
  static std::optional<RunFiles> open(const TrainOptions& options, const SeedsAndSchedule& seeds,
                                      const std::optional<RunDirectory>& resumed,
                                      const std::vector<std::string>& data_files, RunState& progress);

  const RunDirectory& directory() const { return dir_; }
  // The shell command that continues this run: "<this program> train --resume <dir>".
  std::string resume_command() const;
  void add_metrics(const RoundMetrics& metrics);
  // results.json and memory.json, the --save copies ("final", and "best" when `best`; with
  // --save_weights `write_weights(folder)` writes the model), then state.json.
  void save_round(const RunState& state, bool best, const TrainOptions& options,
                  const std::function<void(const std::string& folder)>& write_weights) const;
  // For rouge final_generations.jsonl, then final_eval.json {"final_eval_<metric>": value,
  // ...`extra` (e.g. the privacy spent)}.
  void write_final_eval(const std::string& metric, const FinalEvaluation& result,
                        const std::vector<std::pair<std::string, double>>& extra) const;

 private:
  explicit RunFiles(RunDirectory dir) : dir_(std::move(dir)) {}
  void write_results(const RunState& state) const;

  RunDirectory dir_;
  std::string metrics_lines_;  // metrics.jsonl, rewritten whole (atomically) every round
};

}  // namespace fedkseed
