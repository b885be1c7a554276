// The top-level CLI: global options and the list of subcommands.
#include "fedkseed/common/logging.h"
#include "src/cli/commands.h"

namespace fedkseed::cli {

void build_app(CLI::App& app) {
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("fedkseed ") + FEDKSEED_VERSION);

  auto level = std::make_shared<std::string>("info");
  app.add_option("--log_level", *level, "Console verbosity: debug|info|warn|error|off")
      ->capture_default_str();
  app.add_flag("--quiet", "Only warnings and errors (same as --log_level warn)");
  app.parse_complete_callback([&app, level] {
    log::set_level(app.count("--quiet") > 0 ? log::Level::warn : log::parse_level(*level));
  });

  add_train_command(app);
  add_model_commands(app);
  add_data_commands(app);
  add_eval_commands(app);
  add_report_command(app);
  add_bench_command(app);
}

}  // namespace fedkseed::cli
