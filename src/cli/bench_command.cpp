// `fedkseed bench` (filled in by the performance work).
#include "src/cli/commands.h"

namespace fedkseed::cli {

void add_bench_command(CLI::App& app) {}

}  // namespace fedkseed::cli
