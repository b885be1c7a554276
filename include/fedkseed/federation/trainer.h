// `fedkseed train` and `fedkseed export`: the reference's main.py loop (server, clients,
// aggregation, replay, evaluation) over the model, data and zeroth-order layers, with the
// run directory, communication accounting, resume and export.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fedkseed/common/options.h"

namespace fedkseed {

class LlamaModel;
class Tokenizer;
struct FederatedData;

// The final evaluation of a run: --eval_metric's value and, for rouge, the lines of
// final_generations.jsonl (empty otherwise).
struct FinalEvaluation {
  double value = 0.0;
  std::string generations;
};

// How a run evaluates its global model. The evaluation layer, above the federation, fills it
// (evaluation/run_evaluation.h), so the federation does not depend on it.
struct RunEvaluation {
  // The test loss after a round.
  std::function<double(const LlamaModel& model, const FederatedData& data, int64_t pad_id)> round_loss;
  std::function<FinalEvaluation(const LlamaModel& model, const Tokenizer& tokenizer, const FederatedData& data,
                                int64_t pad_id)>
      final;
};

// Runs (or, with options.resume, continues) a federated run with options from the CLI's flag
// resolution, holding the run directory's lock. Throws fedkseed::Error for bad input (model,
// data, a run directory that does not match, is damaged or is in use), and
// fedkseed::Interrupted when SIGINT or SIGTERM stopped it after a saved round.
void run_training(const TrainOptions& options, const RunEvaluation& evaluation);

// Rebuilds the tuned model of a run from its state.json and base model (the replay the run
// made: the cumulative seed pool from theta0, or with --sync incremental each round's
// increment in order) and writes it as a Hugging Face checkpoint folder with the base
// model's tokenizer files. Refuses (fedkseed::Error naming --out) an out_dir that is not empty
// unless `force` (its contents are then replaced once the export is complete) or that is or
// holds the run's base model or run folder; base weights with NaN/Inf unless `allow_nonfinite`
// or the run's --allow_nonfinite.
void export_run(const std::string& run_dir, const std::string& out_dir, const std::string& device, bool force,
                bool allow_nonfinite);

}  // namespace fedkseed
