// `fedkseed train`: the reference main.py's flags bound to TrainOptions, then the run.
#include <iostream>
#include <memory>
#include <type_traits>
#include <vector>

#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/options.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/trainer.h"
#include "src/cli/commands.h"

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
void apply_config_file(CLI::App& command, const std::string& path) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& error) {
    throw Error("--config " + path + ": " + error.what());
  }
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    const std::string prefix = item.name.size() == 1 ? "-" : "--";
    CLI::Option* option = command.get_option_no_throw(prefix + item.name);
    if (option == nullptr || item.name == "config") {
      throw Error("--config " + path + ": unknown key '" + item.fullname() + "'");
    }
    if (option->count() > 0) continue;
    option->add_result(item.inputs);
    option->run_callback();
  }
}

void run_train(const TrainOptions& options) {
  if (options.resume.empty()) options.validate();  // a resumed run validates its saved flags
  const auto launch = launch_from_environment();
  if (!launch || launch->rank == 0) std::cout << options_to_yaml(options) << std::flush;
  run_training(options);
}

struct ExportArgs {
  std::string run, out, device = "cpu";
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto* command = app.add_subcommand("train", "Federated ZO fine-tuning (the reference's main.py)");
  auto config_path = std::make_shared<std::string>();
  command->add_option("--config", *config_path,
                      "Read flags from a TOML/INI file (key = value, names without dashes)");
  bind_options(*command, *options);
  command->callback([command, options, config_path] {
    if (!config_path->empty()) apply_config_file(*command, *config_path);
    run_train(*options);
  });

  auto args = std::make_shared<ExportArgs>();
  auto* export_command = app.add_subcommand(
      "export", "Write a run's tuned model (base model + replay of its state.json) as a Hugging Face folder");
  export_command->add_option("--run", args->run, "Run directory holding state.json")->required();
  export_command->add_option("--out", args->out, "Output checkpoint folder")->required();
  export_command->add_option("--device", args->device, "Device for the replay: cpu | cuda[:N]")->capture_default_str();
  export_command->callback([args] { export_run(args->run, args->out, args->device); });
}

}  // namespace fedkseed::cli
