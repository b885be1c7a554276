// `fedkseed train` and `fedkseed export`: the reference's main.py loop (server, clients,
// aggregation, replay, evaluation) over the model, data and zeroth-order layers, with the
// run directory, communication accounting, resume and export.
#pragma once

#include <string>
#include <vector>

#include "fedkseed/common/options.h"

namespace fedkseed {

// The options a run uses. A new run: `given` validated, with absolute paths (so --resume and
// export work from any directory) and -K set to the size of a --seeds_file's seed list. With
// given.resume: the options saved in that run directory, except --stop_after, --backend and
// --dist_timeout; of `given_flags` (the flags set on the command line or in --config) those
// whose value differs from the saved one are named in one warning, and a different --rounds is
// refused. Throws fedkseed::Error for bad flags, seeds file or run directory.
TrainOptions resolve_train_options(const TrainOptions& given, const std::vector<std::string>& given_flags);

// Runs (or, with options.resume, continues) a federated run with options from
// resolve_train_options. Throws fedkseed::Error for bad input (model, data, a run directory
// that does not match).
void run_training(const TrainOptions& options);

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
