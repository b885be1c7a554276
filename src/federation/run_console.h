// Internal to the federation: what a training run tells its user as it goes — one progress line
// per round (rounds done, steps/s, time left, skipped steps) with a warning when every step was
// skipped and, at the end of the run or where --stop_after ends it, a summary with the run folder and the commands that take the run further.
// (Each client's line comes from its own progress display, client.cpp.) The run files are written
// elsewhere (run_files.h); nothing here changes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "fedkseed/common/dp_accountant.h"
#include "fedkseed/common/options.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/seed_pool.h"

namespace fedkseed {

class RunConsole {
 public:
  // `ranks`: the size of the process group sharing the cohort (0 without one: a single-process
  // run). The wall clock starts here.
  RunConsole(const TrainOptions& options, int ranks);

  // The opening lines at info level: the algorithm, `num_clients` and the cohort size of `seeds`'
  // schedule, the seed pool, the model's `parameters` on `device`; with an `accountant` the
  // (epsilon, delta) after --rounds at noise multiplier `dp_noise`; the Byzantine clients if any.
  void start(int64_t num_clients, const SeedsAndSchedule& seeds, const SeedPool& pool, int64_t parameters,
             const std::string& device, double dp_noise, const std::optional<DpAccountant>& accountant) const;
  // The round's line at info level: metrics of the round that took `seconds`, with `progress`
  // (totals and eval history) already updated by it; a warning when the round skipped every step.
  void round(const RoundMetrics& metrics, const RunState& progress, double seconds);
  // After the last round: a warning when the rounds this process ran skipped every step.
  void rounds_done() const;
  // The final evaluation's `final_value` (--eval_metric) on stdout, then the summary block
  // (unless the console level is above info): eval losses from `progress`, bytes, skipped steps,
  // wall time, and — when `run_folder` is not empty — the folder and the report/export/plot
  // commands.
  void summary(const RunState& progress, double final_value, const std::string& run_folder) const;
  // A run that --stop_after ended after `round` (saved in `run_folder`): the line
  // "stopped after round R of N; continue with: `resume_command`" on stdout at any console level
  // (as the final evaluation's line is), then at info level the summary of the rounds so far,
  // the resume command first among the next commands.
  void stopped(const RunState& progress, int64_t round, const std::string& run_folder,
               const std::string& resume_command) const;

 private:
  // The summary's lines after its first: bytes over `rounds`, skipped steps, wall time, the run
  // folder and the next commands (`resume_command` first when not empty).
  std::string totals(const RunState& progress, int64_t rounds, const std::string& run_folder,
                     const std::string& resume_command) const;

  TrainOptions options_;
  int ranks_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  int64_t first_round_ = 0;  // the first round this process ran (a resumed run starts later)
  int64_t rounds_run_ = 0, steps_ = 0, skipped_ = 0;
  double round_seconds_ = 0.0;
};

}  // namespace fedkseed
