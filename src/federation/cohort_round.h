// Internal to the federation: the clients' side of a round — the server's downlink to every
// cohort client, the cohort's training (split over ranks by cohort.h), and the decoded uplinks
// the server aggregates, with what they add to the round's metrics.
#pragma once

#include <cstdint>
#include <vector>

#include "fedkseed/federation/client.h"
#include "fedkseed/federation/client_view.h"
#include "fedkseed/federation/cohort.h"
#include "fedkseed/federation/distributed.h"
#include "fedkseed/federation/messages.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/server.h"

namespace fedkseed {

// Every cohort client's downlink for `round`, decoded and applied to the clients' `view`;
// adds the downlinks' bytes to metrics.bytes_down.
std::vector<Downlink> send_downlinks(Server& server, const std::vector<Client>& clients, ClientView& view,
                                     const std::vector<int64_t>& cohort, int64_t round, RoundMetrics& metrics);

// Every cohort client's round, in cohort order, from `view` with `received[slot]`, the decoded
// downlink of `cohort[slot]`. With a `group` (null: one process) each rank trains the clients
// assign_balanced gives it (costs: their steps) and the ranks all-gather the records. Throws
// fedkseed::Error for a record of a slot outside the cohort.
std::vector<ClientRecord> train_cohort(std::vector<Client>& clients, const std::vector<int64_t>& cohort,
                                       const std::vector<Downlink>& received, LocalTrainer& trainer,
                                       const ClientView& view, RankGroup* group);

// The records' uplinks, decoded, in cohort order. Adds their bytes, the applied and skipped steps
// and the mean train loss to `metrics`, and moves every cohort client's data position to its
// record's.
std::vector<Uplink> receive_uplinks(const std::vector<ClientRecord>& records, const std::vector<int64_t>& cohort,
                                    std::vector<Client>& clients, RoundMetrics& metrics);

}  // namespace fedkseed
