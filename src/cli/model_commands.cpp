// The model tool subcommands (filled in by the model layer).
#include "src/cli/commands.h"

namespace fedkseed::cli {

void add_model_commands(CLI::App& app) {}

}  // namespace fedkseed::cli
