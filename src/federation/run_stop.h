// Internal to the federation: where a run ends before its last round — after --stop_after's
// round, or at the round boundary after SIGINT or SIGTERM, the same boundary on every rank.
#pragma once

#include <cstdint>

#include "fedkseed/common/options.h"
#include "fedkseed/federation/distributed.h"
#include "run_files.h"

namespace fedkseed {

// After `round` is saved: ends the run there for --stop_after (true; the caller tells the user)
// or a signal (throws fedkseed::Interrupted, naming the command that continues it from `files`;
// null: nothing was saved). With a `group` (null: one process) the ranks agree on the first signal any of them
// received, and a stopping rank leaves the group.
bool stop_here(int64_t round, const TrainOptions& options, RankGroup* group, const RunFiles* files);

}  // namespace fedkseed
