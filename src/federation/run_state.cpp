// JSON for state.json, seeds.json and metrics.jsonl.
#include "fedkseed/federation/run_state.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/error.h"

namespace fedkseed {
namespace {

using nlohmann::json;

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

SeedsAndSchedule seeds_from_json(const json& object) {
  SeedsAndSchedule seeds;
  seeds.seeds = object.at("seeds").get<std::vector<uint64_t>>();
  seeds.schedule = object.at("schedule").get<std::vector<std::vector<int64_t>>>();
  return seeds;
}

json seeds_to_json(const SeedsAndSchedule& seeds) {
  return json{{"seeds", seeds.seeds}, {"schedule", seeds.schedule}};
}

}  // namespace

SeedsAndSchedule read_seeds_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("--seeds_file " + path + ": cannot open");
  try {
    return seeds_from_json(json::parse(in));
  } catch (const json::exception& error) {
    throw Error("--seeds_file " + path + ": " + error.what() +
                " (expected {\"seeds\": [int, ...], \"schedule\": [[client, ...], ...]})");
  }
}

std::string seeds_file_json(const SeedsAndSchedule& seeds) { return seeds_to_json(seeds).dump() + "\n"; }

std::string run_state_json(const RunState& state) {
  json positions = json::array();
  for (const auto& [pass, offset] : state.data_positions) positions.push_back({pass, offset});
  const json object = {{"options", json::parse(state.options_json)},
                       {"last_round", state.last_round},
                       {"seeds_and_schedule", seeds_to_json(state.seeds)},
                       {"pool_seeds", state.pool_seeds},
                       {"pool_cumulative", state.pool_cumulative},
                       {"pro_history", state.pro_history},
                       {"data_positions", positions},
                       {"synced_pool_size", state.synced_pool_size},
                       {"eval_losses", state.eval_losses},
                       {"best_eval_loss", number_or_null(state.best_eval_loss)},
                       {"best_round", state.best_round},
                       {"bytes_up", state.bytes_up},
                       {"bytes_down", state.bytes_down},
                       {"seconds", state.seconds}};
  return object.dump() + "\n";
}

RunState run_state_from_json(const std::string& text, const std::string& source) {
  try {
    const json object = json::parse(text);
    RunState state;
    state.options_json = object.at("options").dump();
    state.last_round = object.at("last_round").get<int64_t>();
    state.seeds = seeds_from_json(object.at("seeds_and_schedule"));
    state.pool_seeds = object.at("pool_seeds").get<std::vector<uint64_t>>();
    state.pool_cumulative = object.at("pool_cumulative").get<std::vector<double>>();
    state.pro_history = object.at("pro_history").get<std::vector<std::vector<double>>>();
    for (const auto& position : object.at("data_positions")) {
      state.data_positions.emplace_back(position.at(0).get<int64_t>(), position.at(1).get<int64_t>());
    }
    state.synced_pool_size = object.at("synced_pool_size").get<std::vector<int64_t>>();
    state.eval_losses = object.at("eval_losses").get<std::vector<double>>();
    const auto& best = object.at("best_eval_loss");
    state.best_eval_loss = best.is_null() ? std::nan("") : best.get<double>();
    state.best_round = object.at("best_round").get<int64_t>();
    state.bytes_up = object.at("bytes_up").get<int64_t>();
    state.bytes_down = object.at("bytes_down").get<int64_t>();
    state.seconds = object.at("seconds").get<double>();
    return state;
  } catch (const json::exception& error) {
    throw Error(source + ": not a valid run state: " + error.what());
  }
}

std::string round_metrics_json(const RoundMetrics& m) {
  const json object = {{"round", m.round},
                       {"train_loss", number_or_null(m.train_loss)},
                       {"eval_loss", number_or_null(m.eval_loss)},
                       {"steps_applied", m.steps_applied},
                       {"steps_skipped", m.steps_skipped},
                       {"bytes_up", m.bytes_up},
                       {"bytes_down", m.bytes_down},
                       {"bytes_fedavg", m.bytes_fedavg},
                       {"bytes_between_ranks", m.bytes_between_ranks},
                       {"seconds_train", m.seconds_train},
                       {"seconds_aggregate", m.seconds_aggregate},
                       {"seconds_eval", m.seconds_eval},
                       {"peak_memory_allocated", m.peak_memory_allocated},
                       {"peak_memory_reserved", m.peak_memory_reserved}};
  return object.dump();
}

}  // namespace fedkseed
