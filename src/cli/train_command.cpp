// `fedkseed train`: the reference main.py's flags bound to TrainOptions, then the run.
#include <filesystem>
#include <memory>
#include <sstream>
#include <type_traits>
#include <vector>

#include "fedkseed/common/device.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/options.h"
#include "fedkseed/common/threads.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/evaluation/run_evaluation.h"
#include "fedkseed/federation/trainer.h"
#include "commands.h"
#include "resolve_options.h"

namespace fedkseed::cli {
namespace {

void bind_options(CLI::App& command, TrainOptions& options) {
  options.visit_fields([&](const std::string& flag, auto& field, const char* help) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<Field, bool>) {
      if (flag == "--use_prompts") {
        // The reference declares it without a type, so it needs a value there; here
        // it works bare (true) or with one (true/false/1/0).
        command.add_option(flag, field, help)->expected(0, 1)->default_str("true")->multi_option_policy(
            CLI::MultiOptionPolicy::TakeLast);
      } else {
        command.add_flag(flag, field, help);
      }
    } else {
      // Repeated flags: the last wins, so scripts can append overrides.
      command.add_option(flag, field, help)->capture_default_str()->multi_option_policy(
          CLI::MultiOptionPolicy::TakeLast);
    }
  });
}

// CLI11 2.1 reads config files only for the top-level app, so the train command
// applies its own: each key fills the flag of that name unless given on the command line.
// The global --quiet / --log_level may live there too. Returns the flags the file set.
std::vector<std::string> apply_config_file(CLI::App& command, const std::string& path) {
  std::error_code error_code;
  if (!std::filesystem::is_regular_file(path, error_code)) {
    throw Error("--config " + path + ": not a readable file");
  }
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& error) {
    throw Error("--config " + path + ": " + error.what());
  }
  CLI::App& app = *command.get_parent();
  // --quiet and --log_level are one setting, the verbosity: either on the command line
  // overrides both keys of the file (a file's quiet = true gives way to --log_level info).
  const bool verbosity_given = app.count("--quiet") + app.count("--log_level") > 0;
  std::vector<std::string> set;
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    const std::string flag = (item.name.size() == 1 ? "-" : "--") + item.name;
    const bool global = item.name == "quiet" || item.name == "log_level";
    CLI::Option* option = (global ? app : command).get_option_no_throw(flag);
    if (option == nullptr || item.name == "config") {
      throw Error("--config " + path + ": unknown key '" + item.fullname() + "'");
    }
    if (option->count() > 0 || (global && verbosity_given)) continue;
    try {
      option->add_result(item.inputs);
      option->run_callback();
    } catch (const CLI::Error& error) {
      throw Error("--config " + path + ": key '" + item.fullname() + "': " + error.what());
    }
    set.push_back(flag);
  }
  apply_log_options(app);
  return set;
}

// Validates a new run's flags; an out-of-range value that came from the config file says so.
void validate_naming_config(const TrainOptions& options, const std::vector<std::string>& set,
                            const std::string& path) {
  try {
    options.validate();
  } catch (const Error& error) {
    const std::string what = error.what();
    for (const auto& flag : set) {
      if (what.rfind(flag + ":", 0) == 0 || what.rfind(flag + " ", 0) == 0) {
        throw Error(what + " (set by --config " + path + ")");
      }
    }
    throw;
  }
}

// The options that shape a run, on one line; config.yaml in the run folder holds them all.
std::string options_summary(const TrainOptions& options) {
  std::ostringstream line;
  line << (options.bias_sampling ? "FedKSeed-Pro" : "FedKSeed") << " on " << options.dataset
       << (options.dataset == "dolly" ? " (--iid " + options.iid + ")" : std::string()) << ": " << options.rounds
       << " rounds, m " << options.m << ", " << options.local_step
       << (options.batch_or_epoch == "batch" ? " steps" : " epochs") << " per client, K " << options.K
       << ", lr " << options.lr << ", eps " << options.zo_eps << ", " << options.dtype << " on " << options.device
       << ", model " << options.model;
  return line.str();
}

// Names the options the run actually uses (a resumed run's saved ones) in one line, all of them
// with --log_level debug, then runs.
void run_train(const CLI::App& command, const TrainOptions& given) {
  std::vector<std::string> given_flags;
  for (const CLI::Option* option : command.get_options()) {
    if (option->count() > 0) given_flags.push_back(option->get_name());
  }
  const TrainOptions options = resolve_train_options(given, given_flags);
  const auto launch = launch_from_environment();
  use_threads(options.threads);
  if (!launch || launch->rank == 0) {
    log::info(options_summary(options) + (options.log ? " (all options: config.yaml in the run folder)" : ""));
    log::debug("options:\n" + options_to_yaml(options));
    if (parse_device(options.device).is_cpu()) {
      if (const auto advice = oversubscription_advice()) log::warn(*advice);
    }
  }
  run_training(options, run_evaluation(options));
}

struct ExportArgs {
  std::string run, out, device = "auto";
  bool force = false, allow_nonfinite = false;
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* command = app.add_subcommand("train", "Federated ZO fine-tuning (the reference's main.py)");
  auto config_path = std::make_shared<std::string>();
  command->add_option("--config", *config_path,
                      "Read flags from a TOML/INI file (key = value, names without dashes)");
  bind_options(*command, *options);
  command->footer("Also accepted here and in --config files: the global --quiet and --log_level LEVEL.\n");
  command->callback([command, options, config_path] {
    if (!config_path->empty()) {
      const auto set = apply_config_file(*command, *config_path);
      if (options->resume.empty()) validate_naming_config(*options, set, *config_path);
    }
    run_train(*command, *options);
  });

  auto args = std::make_shared<ExportArgs>();
  auto* export_command = app.add_subcommand(
      "export", "Write a run's tuned model (base model + replay of its state.json) as a Hugging Face folder");
  export_command->add_option("--run", args->run, "Run directory holding state.json")->required();
  export_command->add_option("--out", args->out, "Output checkpoint folder (new or empty)")->required();
  export_command->add_option("--device", args->device, std::string("Device of the replay: ") + kDeviceHelp)
      ->capture_default_str();
  export_command->add_flag("--force", args->force, "Replace the contents of a non-empty --out (once all is written)");
  export_command->add_flag("--allow_nonfinite", args->allow_nonfinite,
                           "Load base weights holding NaN or Inf instead of refusing them");
  export_command->callback(
      [args] { export_run(args->run, args->out, args->device, args->force, args->allow_nonfinite); });
}

}  // namespace fedkseed::cli
