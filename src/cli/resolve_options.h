// Internal to the CLI: the options `fedkseed train` runs with.
#pragma once

#include <string>
#include <vector>

#include "fedkseed/common/options.h"

namespace fedkseed::cli {

// The options a run uses. A new run: `given` validated, with absolute paths (so --resume and
// export work from any directory) and -K set to the size of a --seeds_file's seed list. With
// given.resume: the options saved in that run directory, except --stop_after, --backend and
// --dist_timeout; of `given_flags` (the flags set on the command line or in --config) those
// whose value differs from the saved one are named in one warning, and a different --rounds is
// refused. Throws fedkseed::Error for bad flags, seeds file or run directory.
TrainOptions resolve_train_options(const TrainOptions& given, const std::vector<std::string>& given_flags);

}  // namespace fedkseed::cli
