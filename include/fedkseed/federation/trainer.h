// `fedkseed train` and `fedkseed export`: the reference's main.py loop (server, clients,
// aggregation, replay, evaluation) over the model, data and zeroth-order layers, with the
// run directory, communication accounting, resume and export.
#pragma once

#include <string>

#include "fedkseed/common/options.h"

namespace fedkseed {

// Runs (or, with options.resume, continues) a federated run. Throws fedkseed::Error for
// bad input (model, data, flags, a run directory that does not match).
void run_training(const TrainOptions& options);

// Rebuilds the tuned model of a run from its state.json and base model (replay of the
// cumulative seed pool from theta0) and writes it as a Hugging Face checkpoint folder
// with the base model's tokenizer files.
void export_run(const std::string& run_dir, const std::string& out_dir, const std::string& device);

}  // namespace fedkseed
