// Internal to the federation: what a training run derives from its options before the first
// round — the candidate seeds and client schedule, the DP noise multiplier σ and its
// accountant, and the settings of the server and of every client's uplink.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fedkseed/common/dp_accountant.h"
#include "fedkseed/common/options.h"
#include "fedkseed/federation/run_state.h"
#include "fedkseed/federation/server.h"
#include "fedkseed/federation/uplink_shaping.h"

namespace fedkseed {

// The candidate seeds and client schedule: a resumed run's, --seeds_file's or drawn (with the
// Byzantine clients of a new run). Throws fedkseed::Error for a schedule that does not fit.
SeedsAndSchedule seeds_and_schedule(const TrainOptions& options, int64_t num_clients, const RunState* resumed);

// The fraction of clients in each round's cohort, int(N * m) / N: the accountant's sampling rate.
double cohort_fraction(const TrainOptions& options, int64_t num_clients);

// The noise multiplier σ of the run: --dp_noise, or the smallest that keeps --rounds within
// (--dp_epsilon, --dp_delta). Throws fedkseed::Error naming --dp_epsilon when none does.
double resolve_dp_noise(const TrainOptions& options, int64_t num_clients);

// The accountant of a run with DP noise σ = `dp_noise`; none without noise.
std::optional<DpAccountant> run_accountant(const TrainOptions& options, int64_t num_clients, double dp_noise);

// What final_eval.json reports of the privacy spent after --rounds: dp_epsilon, dp_delta and
// dp_noise; nothing without an accountant.
std::vector<std::pair<std::string, double>> privacy_spent(const TrainOptions& options,
                                                         const std::optional<DpAccountant>& accountant,
                                                         double dp_noise);

ServerOptions server_options(const TrainOptions& options, double dp_noise);
UplinkShaping uplink_shaping(const TrainOptions& options, const SeedsAndSchedule& seeds, double dp_noise);

}  // namespace fedkseed
