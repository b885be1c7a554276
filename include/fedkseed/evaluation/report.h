// The table of `fedkseed report`: one summary per run directory (config.yaml, state.json,
// final_eval.json, memory.json), mean ± std over runs that differ only in --seed, and
// Markdown / CSV rendering. Torch-free; plotting is scripts/plot_runs.py's job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

struct RunSummary {
  std::string run_dir;
  std::string method;            // FedKSeed | FedKSeed-Pro | FedZO-style (K=0)
  std::string dataset, iid;      // iid is "meta" for instruct, as the reference logs it
  int64_t K = 0, seed = 0;
  std::string aggregator;        // --aggregator, with the attack when there are Byzantine clients
  int64_t rounds_done = 0, rounds = 0;
  double rouge_l = 0.0;          // final Rouge-L F x 100; NaN without a final Rouge-L
  double final_eval_loss = 0.0;  // final_eval.json's loss, else the last per-round eval loss
  double dp_epsilon = 0.0;       // the ε spent (final_eval.json, else the last metrics line); NaN without DP
  double bytes_up = 0.0, bytes_down = 0.0;  // totals over the finished rounds
  double seconds = 0.0;          // wall time of the finished rounds
  double peak_memory = 0.0;      // max_memory_allocated over devices, bytes; NaN without memory.json
  std::string seed_group;        // the options except seed, log_root, device, resume, stop_after, log
};

// Reads one run directory; final_eval.json and memory.json may be absent (an interrupted
// run). Throws fedkseed::Error naming the file that is missing or malformed.
RunSummary read_run_summary(const std::string& run_dir);

// Mean and sample standard deviation over the finite values (NaN when there are none,
// std NaN below two).
struct MeanStd {
  double mean = 0.0, std = 0.0;
  int64_t n = 0;
};
MeanStd mean_std(const std::vector<double>& values);

// Runs sharing seed_group, in order of first appearance; members keep the input order.
struct SeedGroup {
  std::vector<RunSummary> runs;
  MeanStd rounds_done, rouge_l, final_eval_loss, dp_epsilon, bytes_up, bytes_down, seconds, peak_memory;
};
std::vector<SeedGroup> group_by_seed(const std::vector<RunSummary>& runs);

// One row per run and, for a group of two or more runs, a "mean ± std" row after its runs.
std::string report_markdown(const std::vector<SeedGroup>& groups);
// Header, then rows with kind = run | mean | std (mean and std rows for groups of two or
// more); raw numbers (bytes, seconds, Rouge-L x 100); NaN as an empty field.
std::string report_csv(const std::vector<SeedGroup>& groups);

}  // namespace fedkseed
