// The data tool subcommands (filled in by the data layer).
#include "src/cli/commands.h"

namespace fedkseed::cli {

void add_data_commands(CLI::App& app) {}

}  // namespace fedkseed::cli
