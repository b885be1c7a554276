// The top-level CLI: global options and the list of subcommands.
#include "fedkseed/common/logging.h"
#include "commands.h"

namespace fedkseed::cli {

void apply_log_options(const CLI::App& app) {
  const bool quiet = app.count("--quiet") > 0 && app.get_option("--quiet")->as<bool>();
  log::set_level(quiet ? log::Level::warn : log::parse_level(app.get_option("--log_level")->as<std::string>()));
}

void build_app(CLI::App& app) {
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("fedkseed ") + FEDKSEED_VERSION);

  app.add_option("--log_level", "Console verbosity: debug|info|warn|error|off")->default_str("info");
  app.add_flag("--quiet", "Only warnings and errors (same as --log_level warn)");
  app.parse_complete_callback([&app] { apply_log_options(app); });

  add_train_command(app);
  add_model_commands(app);
  add_pretrain_command(app);
  add_data_commands(app);
  add_eval_commands(app);
  add_report_command(app);
  add_bench_command(app);
}

}  // namespace fedkseed::cli
