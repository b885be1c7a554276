// Internal to the federation: a run's progress as its state keeps it from round to round — the
// eval history and best round, the communication and time totals, the memory peaks.
#pragma once

#include <c10/core/Device.h>

#include "fedkseed/federation/run_state.h"

namespace fedkseed {

// Adds a finished round that took `seconds`: its eval loss (when evaluated) to the history, its
// bytes and time to the totals. True when that loss is the best so far (NaN never is).
bool record_round(RunState& progress, const RoundMetrics& metrics, double seconds);

// Raises the recorded memory peaks to the device's peaks so far.
void record_peak_memory(RunState& progress, c10::Device device);

}  // namespace fedkseed
