// Internal to the federation: a run's state as it saves it after a round and continues from it
// (the run's progress and options, the server's part, every client's data position), and the
// digest of the part that every rank holds alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/common/options.h"
#include "fedkseed/federation/client.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/server.h"

namespace fedkseed {

// The run state after `last_round`: `progress` (eval history, totals, peaks, identity) with the
// options, the seeds and schedule, the server's part and the clients' data positions.
RunState run_snapshot(const RunState& progress, const TrainOptions& options, const SeedsAndSchedule& seeds,
                      const Server& server, const std::vector<Client>& clients, int64_t last_round);

// Brings the server, the clients' view and the clients' data positions to `state`'s last round
// (a resumed run). Throws fedkseed::Error naming `source` when the state does not fit the run.
void restore_run(const RunState& state, const std::string& source, Server& server, ClientView& view,
                 std::vector<Client>& clients);

// The server's digest and the clients' data positions.
std::string replica_digest(const Server& server, const std::vector<Client>& clients);

}  // namespace fedkseed
