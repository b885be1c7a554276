// JSON for state.json, seeds.json and metrics.jsonl.
#include "fedkseed/federation/run_state.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/error.h"
#include "fedkseed/common/file.h"
#include "fedkseed/optimizers/seed_sampler.h"

namespace fedkseed {
namespace {

using nlohmann::json;

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

double number_or_nan(const json& value) { return value.is_null() ? std::nan("") : value.get<double>(); }

std::vector<double> numbers_or_nan(const json& values) {
  std::vector<double> numbers;
  for (const auto& value : values) numbers.push_back(number_or_nan(value));
  return numbers;
}

json increments_to_json(const std::vector<SparseIncrement>& rounds) {
  json object = json::array();
  for (const auto& round : rounds) {
    json pairs = json::array();
    for (const auto& [index, value] : round) pairs.push_back({index, number_or_null(value)});
    object.push_back(std::move(pairs));
  }
  return object;
}

std::vector<SparseIncrement> increments_from_json(const json& object) {
  std::vector<SparseIncrement> rounds;
  for (const auto& round : object) {
    SparseIncrement& pairs = rounds.emplace_back();
    for (const auto& pair : round) pairs.emplace_back(pair.at(0).get<int64_t>(), number_or_nan(pair.at(1)));
  }
  return rounds;
}

SeedsAndSchedule seeds_from_json(const json& object) {
  SeedsAndSchedule seeds;
  seeds.seeds = object.at("seeds").get<std::vector<uint64_t>>();
  seeds.schedule = object.at("schedule").get<std::vector<std::vector<int64_t>>>();
  if (object.contains("byzantine_clients")) seeds.byzantine_clients = object.at("byzantine_clients").get<std::vector<int64_t>>();
  return seeds;
}

json seeds_to_json(const SeedsAndSchedule& seeds) {
  json object{{"seeds", seeds.seeds}, {"schedule", seeds.schedule}};
  if (!seeds.byzantine_clients.empty()) object["byzantine_clients"] = seeds.byzantine_clients;
  return object;
}

}  // namespace

SeedsAndSchedule read_seeds_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("--seeds_file " + path + ": cannot open");
  SeedsAndSchedule seeds;
  try {
    const json object = json::parse(in);
    // Checked as JSON numbers: a conversion to uint64 would wrap -5 and truncate 1.5.
    const json& listed = object.at("seeds");
    for (std::size_t j = 0; listed.is_array() && j < listed.size(); ++j) {
      const json& seed = listed[j];
      if (!seed.is_number_unsigned() || seed.get<uint64_t>() < 1 || seed.get<uint64_t>() >= static_cast<uint64_t>(kSeedEnd)) {
        throw Error("--seeds_file " + path + ": seeds[" + std::to_string(j) + "] = " + seed.dump() +
                    " is not an integer in [1, 1e11)");
      }
    }
    seeds = seeds_from_json(object);
  } catch (const json::exception& error) {
    throw Error("--seeds_file " + path + ": " + error.what() +
                " (expected {\"seeds\": [int, ...], \"schedule\": [[client, ...], ...]})");
  }
  return seeds;
}

std::string seeds_file_json(const SeedsAndSchedule& seeds) { return seeds_to_json(seeds).dump() + "\n"; }

void check_schedule(const SeedsAndSchedule& seeds, int64_t num_clients, int64_t rounds, const std::string& source) {
  if (static_cast<int64_t>(seeds.schedule.size()) < rounds) {
    throw Error("--seeds_file " + source + ": schedule has " + std::to_string(seeds.schedule.size()) +
                " rounds, --rounds is " + std::to_string(rounds));
  }
  for (std::size_t round = 0; round < seeds.schedule.size(); ++round) {
    std::vector<bool> listed(num_clients, false);
    for (int64_t client : seeds.schedule[round]) {
      if (client < 0 || client >= num_clients) {
        throw Error("--seeds_file " + source + ": client " + std::to_string(client) + " outside [0, " +
                    std::to_string(num_clients) + ")");
      }
      if (listed[client]) {
        throw Error("--seeds_file " + source + ": client " + std::to_string(client) + " is listed twice in round " +
                    std::to_string(round + 1) + " of the schedule");
      }
      listed[client] = true;
    }
  }
}

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
                       {"round_increments", increments_to_json(state.round_increments)},
                       {"eval_losses", state.eval_losses},
                       {"best_eval_loss", number_or_null(state.best_eval_loss)},
                       {"best_round", state.best_round},
                       {"bytes_up", state.bytes_up},
                       {"bytes_down", state.bytes_down},
                       {"seconds", state.seconds},
                       {"peak_memory_allocated", state.peak_memory_allocated},
                       {"peak_memory_reserved", state.peak_memory_reserved}};
  return object.dump() + "\n";
}

RunState run_state_from_json(const std::string& text, const std::string& source) {
  try {
    const json object = json::parse(text);
    RunState state;
    json options = object.at("options");
    // Runs saved before philox-icdf existed name no generator: they all drew with philox.
    if (options.is_object() && !options.contains("rng")) options["rng"] = "philox";
    state.options_json = options.dump();
    state.last_round = object.at("last_round").get<int64_t>();
    state.seeds = seeds_from_json(object.at("seeds_and_schedule"));
    state.pool_seeds = object.at("pool_seeds").get<std::vector<uint64_t>>();
    state.pool_cumulative = numbers_or_nan(object.at("pool_cumulative"));
    for (const auto& values : object.at("pro_history")) state.pro_history.push_back(numbers_or_nan(values));
    for (const auto& position : object.at("data_positions")) {
      state.data_positions.emplace_back(position.at(0).get<int64_t>(), position.at(1).get<int64_t>());
    }
    state.synced_pool_size = object.at("synced_pool_size").get<std::vector<int64_t>>();
    // Older states lack the per-round increments and peaks.
    state.round_increments = increments_from_json(object.value("round_increments", json::array()));
    state.eval_losses = numbers_or_nan(object.at("eval_losses"));
    state.best_eval_loss = number_or_nan(object.at("best_eval_loss"));
    state.best_round = object.at("best_round").get<int64_t>();
    state.bytes_up = object.at("bytes_up").get<int64_t>();
    state.bytes_down = object.at("bytes_down").get<int64_t>();
    state.seconds = object.at("seconds").get<double>();
    state.peak_memory_allocated = object.value("peak_memory_allocated", int64_t{0});
    state.peak_memory_reserved = object.value("peak_memory_reserved", int64_t{0});
    return state;
  } catch (const json::exception& error) {
    throw Error(source + ": not a valid run state: " + error.what());
  }
}

RunState read_run_state(const RunDirectory& run) {
  const auto text = read_file(run.file("state.json"));
  if (!text) throw Error("run directory " + run.path() + ": no state.json (was the run started with --log?)");
  return run_state_from_json(*text, run.file("state.json"));
}

std::string round_metrics_json(const RoundMetrics& m) {
  json object = {{"round", m.round},
                       {"train_loss", number_or_null(m.train_loss)},
                       {"evaluated", m.evaluated},
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
  if (!std::isnan(m.dp_epsilon)) object["dp_epsilon"] = number_or_null(m.dp_epsilon);
  return object.dump();
}

}  // namespace fedkseed
