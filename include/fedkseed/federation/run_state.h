// Everything a run needs to continue after an interruption (state.json), the seeds and
// schedule file (seeds.json, also --seeds_file), and per-round metrics. Torch-free.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fedkseed/common/run_dir.h"
#include "fedkseed/federation/run_identity.h"

namespace fedkseed {

struct SeedsAndSchedule {
  std::vector<uint64_t> seeds;                  // empty: K = 0 (a fresh seed per step)
  std::vector<std::vector<int64_t>> schedule;   // round -> client ids
  std::vector<int64_t> byzantine_clients;       // --byzantine_fraction's clients (listed when any)
};

// Reads {"seeds": [...], "schedule": [[...], ...]}; throws fedkseed::Error naming the file
// (and the index of a seed outside the reference's range [1, 1e11)).
SeedsAndSchedule read_seeds_file(const std::string& path);
std::string seeds_file_json(const SeedsAndSchedule& seeds);
// Throws fedkseed::Error naming --seeds_file `source` unless the schedule has `rounds` rounds
// (or more) of distinct clients in [0, num_clients): a client trains once per round.
void check_schedule(const SeedsAndSchedule& seeds, int64_t num_clients, int64_t rounds, const std::string& source);

// One round's aggregated increment of the seeds it touched: (pool index, value).
using SparseIncrement = std::vector<std::pair<int64_t, double>>;

// Doubles are stored as JSON numbers, NaN and infinities as null (read back as NaN).
struct RunState {
  std::string options_json;                    // the run's TrainOptions (options_to_json)
  int64_t last_round = 0;                      // the last finished round (0: none)
  SeedsAndSchedule seeds;
  std::vector<uint64_t> pool_seeds;            // seed pool entries (== seeds unless K = 0)
  std::vector<double> pool_cumulative;         // cumulative G per pool entry
  std::vector<std::vector<double>> pro_history;  // Pro: per candidate, recorded g after the initial value
  std::vector<std::pair<int64_t, int64_t>> data_positions;  // per client: (pass, offset)
  std::vector<int64_t> synced_pool_size;       // K = 0: pool size at each client's last synchronisation
  // --sync incremental: rounds 1..last_round's increments, replayed in order to rebuild the model
  // exactly (one pass over the cumulative pool rounds differently).
  std::vector<SparseIncrement> round_increments;
  std::vector<double> eval_losses;             // results.json's eval_avg_acc: one per evaluated round
  double best_eval_loss = 0.0;
  int64_t best_round = -1;
  int64_t bytes_up = 0, bytes_down = 0;        // totals so far
  double seconds = 0.0;                        // wall time of finished rounds
  int64_t peak_memory_allocated = 0, peak_memory_reserved = 0;  // memory.json's
  std::optional<RunIdentity> identity;         // absent in states of older versions
};

std::string run_state_json(const RunState& state);
// Throws fedkseed::Error naming `source` when the JSON is malformed or incomplete or a field
// has the wrong type.
RunState run_state_from_json(const std::string& text, const std::string& source);
// The run's state.json, to continue or export it; throws fedkseed::Error when it is missing,
// not a file or malformed, or when its fields disagree with each other or with the run's
// options (rounds, -K, clients), naming the field: nothing is read out of range later.
RunState read_run_state(const RunDirectory& run);

struct RoundMetrics {
  int64_t round = 0;
  double train_loss = 0.0;        // mean L+ over the round's applied steps
  bool evaluated = false;         // the test loss was computed this round (it may be NaN)
  double eval_loss = 0.0;         // NaN when not evaluated this round
  int64_t steps_applied = 0, steps_skipped = 0;
  int64_t bytes_up = 0, bytes_down = 0, bytes_fedavg = 0;
  int64_t bytes_between_ranks = 0;  // several processes: payload of the round's process-group calls
  double seconds_train = 0.0, seconds_aggregate = 0.0, seconds_eval = 0.0;
  int64_t peak_memory_allocated = 0, peak_memory_reserved = 0;
  double dp_epsilon = std::nan("");  // the ε spent after this round with DP noise (written only then)
};

// One line of metrics.jsonl (no trailing newline); NaN is written as null.
std::string round_metrics_json(const RoundMetrics& metrics);

}  // namespace fedkseed
