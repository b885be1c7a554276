// `fedkseed export`: a run's tuned model rebuilt from its state.json and base model, written
// as a Hugging Face folder with the base model's tokenizer files.
#include <c10/util/StringUtil.h>

#include <filesystem>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/run_dir.h"
#include "fedkseed/common/staged_output.h"
#include "fedkseed/federation/replica.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/trainer.h"
#include "fedkseed/model/model_dir.h"
#include "fedkseed/model/tokenizer.h"

namespace fs = std::filesystem;

namespace fedkseed {

void export_run(const std::string& run_dir, const std::string& out_dir, const std::string& device, bool force,
                bool allow_nonfinite) {
  const RunDirectory run = RunDirectory::open(run_dir);
  const RunState state = read_run_state(run);
  const TrainOptions options = options_from_json(state.options_json);
  const fs::path model_dir = resolve_model_dir(options.model);
  StagedOutput output(out_dir, "--out", "export", force, {model_dir.string(), run_dir});
  LlamaModel model = LlamaModel::load(options.model, LlamaModel::resolve_dtype(options.dtype, options.model, parse_device(device)), parse_device(device),
                                      allow_nonfinite || options.allow_nonfinite);
  const at::Tensor base = model.flat_parameters().clone();
  replay_state(model.named_parameters(), views_like(model, base), state,
               {options.lr, options.weight_decay, parse_rng_kind(options.rng)}, options.sync == "incremental",
               run.file("state.json"));
  model.save(output.staging());
  copy_tokenizer_files(model_dir.string(), output.staging());
  output.commit();
  log::info(c10::str("exported round ", state.last_round, " of ", run_dir, " to ", out_dir));
}

}  // namespace fedkseed
