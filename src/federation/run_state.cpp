// JSON for state.json, seeds.json and metrics.jsonl.
#include "fedkseed/federation/run_state.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/error.h"
#include "fedkseed/common/file.h"
#include "fedkseed/common/options.h"
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

json stamp_to_json(const FileStamp& stamp) {
  return {{"path", stamp.path}, {"size", stamp.size}, {"mtime_ns", stamp.mtime_ns}};
}

FileStamp stamp_from_json(const json& object) {
  return {object.at("path").get<std::string>(), object.at("size").get<int64_t>(), object.at("mtime_ns").get<int64_t>()};
}

json identity_to_json(const RunIdentity& identity) {
  json model_files = json::array(), data_files = json::array();
  for (const auto& file : identity.model_files) model_files.push_back(stamp_to_json(file));
  for (const auto& file : identity.data_files) {
    json entry = stamp_to_json(file.stamp);
    entry["fnv1a"] = file.fnv1a;
    data_files.push_back(std::move(entry));
  }
  return {{"model", {{"fnv1a", identity.model_fnv1a}, {"files", model_files}}}, {"data", data_files}};
}

RunIdentity identity_from_json(const json& object) {
  RunIdentity identity;
  identity.model_fnv1a = object.at("model").at("fnv1a").get<std::string>();
  for (const auto& file : object.at("model").at("files")) identity.model_files.push_back(stamp_from_json(file));
  for (const auto& file : object.at("data")) {
    identity.data_files.push_back({stamp_from_json(file), file.at("fnv1a").get<std::string>()});
  }
  return identity;
}

// Throws "<field>: <value> <problem>" unless `ok`; the caller prefixes the file.
void require_field(bool ok, const std::string& field, const std::string& problem) {
  if (!ok) throw Error(field + ": " + problem);
}

// The fields agree with each other and with the run's options, so that resuming indexes no
// table out of range: a hand-edited or damaged state is refused instead.
void check_consistency(const RunState& state, const TrainOptions& options) {
  const auto count = [](std::size_t n) { return std::to_string(n); };
  const int64_t clients = options.num_clients;
  const std::size_t pool = state.pool_seeds.size();
  require_field(state.last_round >= 0 && state.last_round <= options.rounds, "last_round",
                std::to_string(state.last_round) + " is outside 0..--rounds (" + std::to_string(options.rounds) + ")");
  require_field(state.seeds.schedule.size() >= static_cast<std::size_t>(options.rounds), "seeds_and_schedule",
                "the schedule has " + count(state.seeds.schedule.size()) + " rounds, --rounds is " +
                    std::to_string(options.rounds));
  for (const auto& cohort : state.seeds.schedule) {
    for (int64_t client : cohort) {
      require_field(client >= 0 && client < clients, "seeds_and_schedule",
                    "client " + std::to_string(client) + " is outside the run's " + std::to_string(clients) + " clients");
    }
  }
  require_field(state.seeds.seeds.size() == static_cast<std::size_t>(options.K), "seeds_and_schedule",
                count(state.seeds.seeds.size()) + " seeds, -K is " + std::to_string(options.K));
  require_field(options.K == 0 || pool == static_cast<std::size_t>(options.K), "pool_seeds",
                count(pool) + " seeds, -K is " + std::to_string(options.K));
  require_field(state.pool_cumulative.size() == pool, "pool_cumulative",
                count(state.pool_cumulative.size()) + " values for " + count(pool) + " pool seeds");
  require_field(state.pro_history.size() <= pool, "pro_history",
                count(state.pro_history.size()) + " histories for " + count(pool) + " pool seeds");
  require_field(state.data_positions.size() == static_cast<std::size_t>(clients), "data_positions",
                count(state.data_positions.size()) + " positions for " + std::to_string(clients) + " clients");
  for (const auto& [pass, offset] : state.data_positions) {
    require_field(pass >= 0 && offset >= 0, "data_positions",
                  "(" + std::to_string(pass) + ", " + std::to_string(offset) + ") is negative");
  }
  require_field(state.synced_pool_size.empty() || state.synced_pool_size.size() == static_cast<std::size_t>(clients),
                "synced_pool_size",
                count(state.synced_pool_size.size()) + " sizes for " + std::to_string(clients) + " clients");
  require_field(options.K > 0 || state.synced_pool_size.size() == static_cast<std::size_t>(clients), "synced_pool_size",
                "-K 0 needs one size per client, found " + count(state.synced_pool_size.size()));
  for (int64_t size : state.synced_pool_size) {
    require_field(size >= 0 && static_cast<std::size_t>(size) <= pool, "synced_pool_size",
                  std::to_string(size) + " is outside 0.." + count(pool));
  }
  require_field(state.round_increments.empty() ||
                    state.round_increments.size() == static_cast<std::size_t>(state.last_round),
                "round_increments", count(state.round_increments.size()) + " rounds, last_round is " +
                                        std::to_string(state.last_round));
  for (const auto& increment : state.round_increments) {
    for (const auto& pair : increment) {
      require_field(pair.first >= 0 && static_cast<std::size_t>(pair.first) < pool, "round_increments",
                    "seed index " + std::to_string(pair.first) + " is outside the pool of " + count(pool));
    }
  }
  require_field(state.eval_losses.size() <= static_cast<std::size_t>(state.last_round) + 1, "eval_losses",
                count(state.eval_losses.size()) + " losses after " + std::to_string(state.last_round) + " rounds");
  require_field(state.best_round >= -1 && state.best_round <= state.last_round, "best_round",
                std::to_string(state.best_round) + " is outside -1..last_round (" + std::to_string(state.last_round) + ")");
  require_field(state.bytes_up >= 0 && state.bytes_down >= 0, "bytes_up/bytes_down", "negative");
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
  json object = {{"options", json::parse(state.options_json)},
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
  if (state.identity) object["identity"] = identity_to_json(*state.identity);
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
    if (object.contains("identity")) state.identity = identity_from_json(object.at("identity"));
    return state;
  } catch (const json::exception& error) {
    throw Error(source + ": not a valid run state: " + error.what());
  }
}

RunState read_run_state(const RunDirectory& run) {
  if (std::filesystem::is_directory(run.file("state.json"))) {
    throw Error(run.file("state.json") + ": is a folder, not a run state file");
  }
  const auto text = read_file(run.file("state.json"));
  if (!text) throw Error("run directory " + run.path() + ": no state.json (was the run started with --log?)");
  RunState state = run_state_from_json(*text, run.file("state.json"));
  try {
    check_consistency(state, options_from_json(state.options_json));
  } catch (const Error& error) {
    throw Error(run.file("state.json") + ": not a valid run state: " + error.what());
  }
  return state;
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
