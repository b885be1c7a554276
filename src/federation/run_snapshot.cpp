// A run's saved state and the ranks' digest (see run_snapshot.h).
#include "run_snapshot.h"

#include <c10/util/StringUtil.h>

#include "fedkseed/common/hash.h"

namespace fedkseed {

RunState run_snapshot(const RunState& progress, const TrainOptions& options, const SeedsAndSchedule& seeds,
                      const Server& server, const std::vector<Client>& clients, int64_t last_round) {
  RunState state = progress;
  state.options_json = options_to_json(options);
  state.last_round = last_round;
  state.seeds = seeds;
  server.save_to(state);
  state.data_positions.clear();
  for (const auto& client : clients) {
    state.data_positions.emplace_back(client.data().position().pass, client.data().position().offset);
  }
  return state;
}

void restore_run(const RunState& state, const std::string& source, Server& server, ClientView& view,
                 std::vector<Client>& clients) {
  server.restore(state, state.seeds.schedule, source);
  view.restore(state, source);
  for (std::size_t c = 0; c < clients.size() && c < state.data_positions.size(); ++c) {
    clients[c].data().set_position({state.data_positions[c].first, state.data_positions[c].second});
  }
}

std::string replica_digest(const Server& server, const std::vector<Client>& clients) {
  uint64_t hash = kFnv1aOffset;
  for (const auto& client : clients) {
    const auto position = client.data().position();
    hash = fnv1a(&position.offset, sizeof(position.offset), fnv1a(&position.pass, sizeof(position.pass), hash));
  }
  return c10::str(server.digest(), ", data positions ", hash);
}

}  // namespace fedkseed
