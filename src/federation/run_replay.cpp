// Resuming and exporting a run: the options a run uses (new, or saved in the run directory
// being resumed), the global model rebuilt from state.json (one pass from theta0, or round by
// round for --sync incremental), and the tuned model written as a Hugging Face folder.
#include "src/federation/run_replay.h"

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/staged_output.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/trainer.h"
#include "fedkseed/model/model_dir.h"

namespace fs = std::filesystem;

namespace fedkseed {

RunState read_run_state(const RunDirectory& run) {
  std::ifstream in(run.file("state.json"));
  if (!in) throw Error("run directory " + run.path() + ": no state.json (was the run started with --log?)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return run_state_from_json(text, run.file("state.json"));
}

NamedParams views_like(const LlamaModel& model, const at::Tensor& flat) {
  const auto& model_flat = model.flat_parameters();
  NamedParams views;
  for (const auto& [name, param] : model.named_parameters()) {
    const int64_t offset = param.storage_offset() - model_flat.storage_offset();
    views.emplace_back(name, flat.narrow(0, offset, param.numel()).view(param.sizes()));
  }
  return views;
}

SparseIncrement sparse(const std::vector<double>& increment) {
  SparseIncrement pairs;
  for (std::size_t j = 0; j < increment.size(); ++j) {
    if (increment[j] != 0.0) pairs.emplace_back(static_cast<int64_t>(j), increment[j]);
  }
  return pairs;
}

std::vector<SeedScalar> seed_pairs(const std::vector<uint64_t>& seeds, const SparseIncrement& increment,
                                   const std::string& source) {
  std::vector<SeedScalar> pairs;
  for (const auto& [index, value] : increment) {
    if (index < 0 || index >= static_cast<int64_t>(seeds.size())) {
      throw Error(source + ": round increment for seed index " + std::to_string(index) + " outside the pool of " +
                  std::to_string(seeds.size()));
    }
    pairs.push_back({seeds[index], value});
  }
  return pairs;
}

std::vector<SeedScalar> nonzero_pairs(const std::vector<uint64_t>& seeds, const std::vector<double>& values) {
  return seed_pairs(seeds, sparse(values), "seed pool");
}

// One pass over the cumulative values would round differently from the run's round-by-round
// increments, so an incremental run is replayed as it ran (on the CPU bit for bit).
void replay_state(const NamedParams& params, const NamedParams& init, const RunState& state,
                  const TrainOptions& options, const std::string& source) {
  const RngKind rng = parse_rng_kind(options.rng);
  const bool per_round = static_cast<int64_t>(state.round_increments.size()) == state.last_round;
  if (options.sync == "incremental" && per_round) {
    for (const auto& increment : state.round_increments) {
      zo_replay_incremental(params, seed_pairs(state.pool_seeds, increment, source), options.lr,
                            options.weight_decay, rng);
    }
    return;
  }
  if (options.sync == "incremental") {
    log::warn(source + " lacks the per-round increments (an older fedkseed): replaying the cumulative pool "
                       "from theta0, which differs from the run by rounding");
  }
  zo_replay(params, init, nonzero_pairs(state.pool_seeds, state.pool_cumulative), options.lr,
            options.weight_decay, rng);
}

namespace {

// A flag missing from the saved options (a run of an older version) keeps its default.
TrainOptions options_of(const RunState& state) {
  TrainOptions options = options_from_json(state.options_json);
  // Runs saved before philox-icdf existed name no generator, and they all drew with philox.
  if (!nlohmann::json::parse(state.options_json).contains("rng")) options.rng = "philox";
  return options;
}

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

// Warns about (or, for --rounds and --rng, refuses) flags given with a resume whose value
// differs from the run's saved one.
void check_resume_flags(const TrainOptions& given, const TrainOptions& saved, const std::vector<std::string>& flags) {
  const auto asked = nlohmann::json::parse(options_to_json(with_absolute_paths(given)));
  const auto kept = nlohmann::json::parse(options_to_json(saved));
  std::string ignored;
  for (const auto& flag : flags) {
    const std::string key = flag.substr(flag.find_first_not_of('-'));
    if (key == "resume" || key == "stop_after" || key == "backend" || key == "dist_timeout" ||
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
  const auto launch = launch_from_environment();
  if (!ignored.empty() && (!launch || launch->rank == 0)) {
    log::warn("--resume " + given.resume + ": ignoring " + ignored + ": a resumed run keeps its saved flags "
              "(only --stop_after, --backend and --dist_timeout may change)");
  }
}

}  // namespace

TrainOptions resolve_train_options(const TrainOptions& given, const std::vector<std::string>& given_flags) {
  if (given.resume.empty()) {
    given.validate();
    TrainOptions options = with_absolute_paths(given);
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
  options.validate();
  return options;
}

void export_run(const std::string& run_dir, const std::string& out_dir, const std::string& device, bool force,
                bool allow_nonfinite) {
  const RunDirectory run = RunDirectory::open(run_dir);
  const RunState state = read_run_state(run);
  const TrainOptions options = options_of(state);
  const fs::path model_dir = resolve_model_dir(options.model);
  StagedOutput output(out_dir, "--out", "export", force, {model_dir.string(), run_dir});
  LlamaModel model = LlamaModel::load(options.model, parse_dtype(options.dtype), parse_device(device),
                                      allow_nonfinite || options.allow_nonfinite);
  const at::Tensor base = model.flat_parameters().clone();
  replay_state(model.named_parameters(), views_like(model, base), state, options, run.file("state.json"));
  model.save(output.staging());
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                           "added_tokens.json", "generation_config.json"}) {
    const fs::path source = model_dir / name;
    if (fs::exists(source)) fs::copy_file(source, fs::path(output.staging()) / name);
  }
  output.commit();
  log::info(c10::str("exported round ", state.last_round, " of ", run_dir, " to ", out_dir));
}

}  // namespace fedkseed
