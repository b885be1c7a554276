// Where a run ends early (see run_stop.h).
#include "run_stop.h"

#include <c10/util/StringUtil.h>

#include <string>

#include "fedkseed/common/interrupt.h"

namespace fedkseed {
namespace {

// Every rank stops at the same round boundary: with the first signal any rank received.
int agreed_interrupt(RankGroup* group) {
  int signal = interrupt_signal();
  if (!group) return signal;
  for (const auto& received : group->all_gather(std::to_string(signal))) {
    if (signal == 0) signal = std::stoi(received);
  }
  return signal;
}

}  // namespace

bool stop_here(int64_t round, const TrainOptions& options, RankGroup* group, const RunFiles* files) {
  const int signal = agreed_interrupt(group);
  const bool stop_after = options.stop_after > 0 && round == options.stop_after && round < options.rounds;
  if (signal == 0 && !stop_after) return false;
  if (group) group->leave();
  if (signal == 0) return true;
  const std::string next = files ? "; continue with: " + files->resume_command()
                                 : "; nothing was saved (--log makes a run resumable)";
  throw Interrupted(signal, c10::str(signal_name(signal), ": stopped after round ", round, " of ", options.rounds, next));
}

}  // namespace fedkseed
