// Flag resolution of `fedkseed train`: a new run's flags checked and made absolute, or a
// resumed run's saved flags with the few a resume may change and checks of the rest.
#include "resolve_options.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/model/llama.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/run_dir.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/run_state.h"

namespace fs = std::filesystem;

namespace fedkseed::cli {

namespace {

// A flag missing from the saved options (a run of an older version) keeps its default.
TrainOptions options_of(const RunState& state) { return options_from_json(state.options_json); }

std::string absolute_path(const std::string& path) {
  return path.empty() ? path : fs::absolute(path).lexically_normal().string();
}

// Paths as a run saves them, so that the run works (and compares equal) from any directory.
TrainOptions with_absolute_paths(TrainOptions options) {
  for (std::string* path : {&options.data_dir, &options.partition_file, &options.seeds_file, &options.log_root}) {
    *path = absolute_path(*path);
  }
  if (fs::exists(options.model)) options.model = absolute_path(options.model);  // else a Hugging Face id
  return options;
}

bool speaks_for_the_run() {
  const auto launch = launch_from_environment();
  return !launch || launch->rank == 0;
}

// --device, --dtype and --init_on as the run uses them, so that config.yaml and a resume
// record what ran: auto's device; fp32 on the CPU unless --dtype names one (with a note);
// theta0 in host memory on the CPU, where there is no GPU to keep it on.
TrainOptions with_resolved_device(TrainOptions options) {
  const c10::Device device = parse_device(options.device);
  if (options.device == "auto") options.device = device.str();
  if (options.dtype == "auto") {
    options.dtype = dtype_name(LlamaModel::resolve_dtype(options.dtype, options.model, device));
    if (device.is_cpu() && speaks_for_the_run()) {
      log::info("note: --dtype fp32 on the CPU (fp16 is about 3x slower there); give --dtype to choose another");
    }
  }
  if (device.is_cpu() || options.init_on == "auto") options.init_on = device.is_cpu() ? "cpu" : "gpu";
  return options;
}

// Warns about (or, for --rounds and --rng, refuses) flags given with a resume whose value
// differs from the run's saved one.
void check_resume_flags(const TrainOptions& given, const TrainOptions& saved, const std::vector<std::string>& flags) {
  const auto asked = nlohmann::json::parse(options_to_json(with_absolute_paths(given)));
  const auto kept = nlohmann::json::parse(options_to_json(saved));
  std::string ignored;
  for (const auto& flag : flags) {
    const std::string key = flag.substr(flag.find_first_not_of('-'));
    if (key == "resume" || key == "stop_after" || key == "backend" || key == "dist_timeout" || key == "threads" ||
        !asked.contains(key) || asked.at(key) == kept.at(key)) {
      continue;
    }
    if (key == "rounds") {
      throw Error("--rounds " + asked.at(key).dump() + ": the run in " + given.resume + " has --rounds " +
                  kept.at(key).dump() + " and a resumed run keeps it; start a new run to train longer");
    }
    if (key == "rng") {
      throw Error("--rng " + given.rng + ": the run in " + given.resume + " was made with --rng " + saved.rng +
                  "; its model can only be rebuilt with that generator");
    }
    ignored += (ignored.empty() ? "" : ", ") + flag;
  }
  if (!ignored.empty() && speaks_for_the_run()) {
    log::warn("--resume " + given.resume + ": ignoring " + ignored + ": a resumed run keeps its saved flags "
              "(only --stop_after, --threads, --backend and --dist_timeout may change)");
  }
}

}  // namespace

TrainOptions resolve_train_options(const TrainOptions& given, const std::vector<std::string>& given_flags) {
  if (given.resume.empty()) {
    given.validate();
    if ((given.stop_after > 0 || given.save || !given.run_name.empty()) && !given.log) {
      throw Error(std::string(given.save ? "--save" : given.stop_after > 0 ? "--stop_after" : "--run_name") +
                  " needs --log: the run state is written to the run directory");
    }
    TrainOptions options = with_resolved_device(with_absolute_paths(given));
    options.validate();  // the resolved device against --backend
    if (!given.seeds_file.empty()) options.K = static_cast<int64_t>(read_seeds_file(given.seeds_file).seeds.size());
    if (options.bias_sampling && options.K == 0) {
      throw Error(options.seeds_file.empty()
                      ? "--bias_sampling: FedKSeed-Pro needs a finite seed set; use -K > 0"
                      : "--seeds_file " + given.seeds_file + ": the seed list is empty (a fresh seed every step), "
                        "but --bias_sampling (FedKSeed-Pro) needs a finite seed set");
    }
    return options;
  }
  const RunState state = read_run_state(RunDirectory::open(given.resume));
  TrainOptions options = options_of(state);
  check_resume_flags(given, options, given_flags);
  if (given.stop_after > 0 && given.stop_after <= state.last_round) {
    throw Error("--stop_after " + std::to_string(given.stop_after) + ": the run in " + given.resume +
                " has already finished round " + std::to_string(state.last_round) +
                "; give a later round, or leave --stop_after out to run to the end");
  }
  options.resume = given.resume;
  options.stop_after = given.stop_after;
  options.backend = given.backend;
  options.dist_timeout = given.dist_timeout;
  options.threads = given.threads;
  options.validate();
  return options;
}

}  // namespace fedkseed::cli
