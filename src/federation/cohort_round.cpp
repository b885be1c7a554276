// The clients' side of a round (see cohort_round.h).
#include "cohort_round.h"

#include <cmath>
#include <string>

#include "fedkseed/common/error.h"

namespace fedkseed {

std::vector<Downlink> send_downlinks(Server& server, const std::vector<Client>& clients, ClientView& view,
                                     const std::vector<int64_t>& cohort, int64_t round, RoundMetrics& metrics) {
  std::vector<Downlink> received;
  for (int64_t client : cohort) {
    const std::string downlink = server.downlink(client, round);
    metrics.bytes_down += static_cast<int64_t>(downlink.size());
    received.push_back(clients[client].receive(downlink, view));
  }
  return received;
}

std::vector<ClientRecord> train_cohort(std::vector<Client>& clients, const std::vector<int64_t>& cohort,
                                       const std::vector<Downlink>& received, LocalTrainer& trainer,
                                       const ClientView& view, RankGroup* group) {
  std::vector<int64_t> costs;
  for (int64_t client : cohort) costs.push_back(clients[client].steps());
  const auto owners = assign_balanced(costs, group ? group->size() : 1);
  std::vector<ClientRecord> results(cohort.size()), mine;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    if (owners[slot] != (group ? group->rank() : 0)) continue;
    results[slot] = clients[cohort[slot]].train(trainer, view, received[slot]);
    results[slot].slot = static_cast<uint32_t>(slot);
    mine.push_back(results[slot]);
  }
  if (!group) return results;
  for (const auto& bytes : group->all_gather(encode_records(mine))) {
    for (auto& record : decode_records(bytes)) {
      if (record.slot >= results.size()) throw Error("rank exchange: a record for cohort slot " + std::to_string(record.slot));
      results[record.slot] = std::move(record);
    }
  }
  return results;
}

std::vector<Uplink> receive_uplinks(const std::vector<ClientRecord>& records, const std::vector<int64_t>& cohort,
                                    std::vector<Client>& clients, RoundMetrics& metrics) {
  std::vector<Uplink> uplinks;
  double loss_sum = 0.0;
  for (std::size_t slot = 0; slot < cohort.size(); ++slot) {
    // The server sees only the decoded message, as it would over a network.
    uplinks.push_back(decode_uplink(records[slot].uplink));
    const int64_t applied = records[slot].applied;
    metrics.bytes_up += static_cast<int64_t>(records[slot].uplink.size());
    metrics.steps_applied += applied;
    metrics.steps_skipped += clients[cohort[slot]].steps() - applied;
    loss_sum += records[slot].loss_sum;
    clients[cohort[slot]].data().set_position({records[slot].pass, records[slot].offset});
  }
  metrics.train_loss = metrics.steps_applied ? loss_sum / metrics.steps_applied : std::nan("");
  return uplinks;
}

}  // namespace fedkseed
