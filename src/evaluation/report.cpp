// Run directories -> summaries -> seed groups -> Markdown and CSV tables.
#include "fedkseed/evaluation/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/error.h"
#include "fedkseed/common/file.h"
#include "fedkseed/federation/run_state.h"

namespace fs = std::filesystem;

namespace fedkseed {
namespace {

using nlohmann::json;

std::string read_run_file(const std::string& path, const std::string& what) {
  const auto text = read_file(path);
  if (!text) throw Error(path + ": not found (" + what + ")");
  return *text;
}

json parse_json_file(const std::string& path) {
  try {
    return json::parse(read_run_file(path, "a run directory file"));
  } catch (const json::exception& error) {
    throw Error(path + ": malformed JSON: " + error.what());
  }
}

// config.yaml as the trainer writes it: one `key: <JSON scalar>` per line.
json read_config_yaml(const std::string& path) {
  std::istringstream in(read_run_file(path, "is this a run directory written with --log?"));
  json config = json::object();
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const auto colon = line.find(": ");
    try {
      if (colon == std::string::npos) throw std::invalid_argument("expected 'key: value'");
      config[line.substr(0, colon)] = json::parse(line.substr(colon + 2));
    } catch (const std::exception& error) {
      throw Error(path + ": line " + std::to_string(number) + " '" + line + "': " + error.what());
    }
  }
  return config;
}

template <class T>
T config_value(const json& config, const std::string& key, const std::string& path) {
  try {
    return config.at(key).get<T>();
  } catch (const json::exception& error) {
    throw Error(path + ": key '" + key + "': " + error.what());
  }
}

// Final metrics from final_eval.json ({"final_eval_rouge": F} or {"final_eval_loss": x}).
void read_final_eval(const std::string& path, RunSummary& summary) {
  if (!fs::exists(path)) return;
  const json final_eval = parse_json_file(path);
  if (final_eval.contains("final_eval_rouge") && final_eval["final_eval_rouge"].is_number()) {
    summary.rouge_l = final_eval["final_eval_rouge"].get<double>() * 100.0;
  } else if (final_eval.contains("final_eval_loss") && final_eval["final_eval_loss"].is_number()) {
    summary.final_eval_loss = final_eval["final_eval_loss"].get<double>();
  } else {
    throw Error(path + ": expected {\"final_eval_rouge\": number} or {\"final_eval_loss\": number}");
  }
}

// The ε spent: final_eval.json's, else (a run still going) the last metrics line's; NaN without DP.
double read_dp_epsilon(const fs::path& dir) {
  const std::string final_path = (dir / "final_eval.json").string();
  if (fs::exists(final_path)) {
    const json final_eval = parse_json_file(final_path);
    if (final_eval.contains("dp_epsilon") && final_eval["dp_epsilon"].is_number()) return final_eval["dp_epsilon"].get<double>();
  }
  double epsilon = std::nan("");
  const auto metrics = read_file((dir / "metrics.jsonl").string());
  std::istringstream lines(metrics ? *metrics : "");
  for (std::string line; std::getline(lines, line);) {
    const json parsed = json::parse(line, nullptr, false);
    if (parsed.is_object() && parsed.contains("dp_epsilon") && parsed["dp_epsilon"].is_number()) {
      epsilon = parsed["dp_epsilon"].get<double>();
    }
  }
  return epsilon;
}

// "--aggregator" (mean for runs from before the flag), with "vs <f> <attack>" under attack.
std::string aggregator_name(const json& config) {
  std::string name = config.value("aggregator", std::string("mean"));
  const double fraction = config.value("byzantine_fraction", 0.0);
  if (fraction > 0) {
    name += " vs " + std::to_string(static_cast<int>(std::lround(fraction * 100))) + "% " +
            config.value("attack", std::string("sign_flip"));
  }
  return name;
}

double read_peak_memory(const std::string& path) {
  if (!fs::exists(path)) return std::nan("");
  const json memory = parse_json_file(path);
  double peak = std::nan("");
  try {
    for (const auto& [device, stats] : memory.items()) {
      const double allocated = stats.at("max_memory_allocated").get<double>();
      peak = std::isnan(peak) ? allocated : std::max(peak, allocated);
    }
  } catch (const json::exception& error) {
    throw Error(path + ": expected {\"<device>\": {\"max_memory_allocated\": bytes, ...}}: " + error.what());
  }
  return peak;
}

bool holds_runs(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (fs::exists(entry.path() / "config.yaml")) return true;
  }
  return false;
}

// A run of 0 rounds only evaluates the model it was given: it is the base every method starts from.
std::string method_name(int64_t rounds, int64_t K, bool pro) {
  if (rounds == 0) return "Base (no tuning)";
  if (K == 0) return "FedZO-style (K=0)";
  return pro ? "FedKSeed-Pro" : "FedKSeed";
}

}  // namespace

RunSummary read_run_summary(const std::string& run_dir) {
  const fs::path dir(run_dir);
  if (!fs::is_directory(dir)) throw Error("run directory " + run_dir + ": not found");
  const std::string config_path = (dir / "config.yaml").string();
  if (!fs::exists(config_path) && holds_runs(dir)) {
    throw Error(config_path + ": not found; " + run_dir + " holds run directories: pass them (" + run_dir + "/*)");
  }
  const json config = read_config_yaml(config_path);
  const std::string state_path = (dir / "state.json").string();
  const RunState state = run_state_from_json(read_run_file(state_path, "the run has not finished round 0"), state_path);

  RunSummary summary;
  summary.run_dir = run_dir;
  summary.K = config_value<int64_t>(config, "K", config_path);
  summary.rounds = config_value<int64_t>(config, "rounds", config_path);
  summary.method = method_name(summary.rounds, summary.K, config_value<bool>(config, "bias_sampling", config_path));
  summary.aggregator = aggregator_name(config);
  summary.dataset = config_value<std::string>(config, "dataset", config_path);
  summary.iid = summary.dataset == "instruct" ? "meta" : config_value<std::string>(config, "iid", config_path);
  summary.seed = config_value<int64_t>(config, "seed", config_path);
  summary.rounds_done = state.last_round;
  summary.rouge_l = std::nan("");
  summary.final_eval_loss = state.eval_losses.empty() ? std::nan("") : state.eval_losses.back();
  read_final_eval((dir / "final_eval.json").string(), summary);
  summary.dp_epsilon = read_dp_epsilon(dir);
  summary.bytes_up = static_cast<double>(state.bytes_up);
  summary.bytes_down = static_cast<double>(state.bytes_down);
  summary.seconds = state.seconds;
  summary.peak_memory = read_peak_memory((dir / "memory.json").string());

  json group = config;
  for (const char* key : {"seed", "log_root", "device", "resume", "stop_after", "log"}) group.erase(key);
  summary.seed_group = group.dump();
  return summary;
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd result{std::nan(""), std::nan(""), 0};
  double sum = 0.0;
  for (double value : values) {
    if (std::isfinite(value)) {
      sum += value;
      ++result.n;
    }
  }
  if (result.n == 0) return result;
  result.mean = sum / static_cast<double>(result.n);
  if (result.n < 2) return result;
  double squares = 0.0;
  for (double value : values) {
    if (std::isfinite(value)) squares += (value - result.mean) * (value - result.mean);
  }
  result.std = std::sqrt(squares / static_cast<double>(result.n - 1));
  return result;
}

std::vector<SeedGroup> group_by_seed(const std::vector<RunSummary>& runs) {
  std::vector<SeedGroup> groups;
  for (const auto& run : runs) {
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const SeedGroup& g) { return g.runs.front().seed_group == run.seed_group; });
    if (group == groups.end()) group = groups.insert(groups.end(), SeedGroup{});
    group->runs.push_back(run);
  }
  for (auto& group : groups) {
    const auto column = [&](double RunSummary::*field) {
      std::vector<double> values;
      for (const auto& run : group.runs) values.push_back(run.*field);
      return mean_std(values);
    };
    std::vector<double> rounds;
    for (const auto& run : group.runs) rounds.push_back(static_cast<double>(run.rounds_done));
    group.rounds_done = mean_std(rounds);
    group.rouge_l = column(&RunSummary::rouge_l);
    group.final_eval_loss = column(&RunSummary::final_eval_loss);
    group.dp_epsilon = column(&RunSummary::dp_epsilon);
    group.bytes_up = column(&RunSummary::bytes_up);
    group.bytes_down = column(&RunSummary::bytes_down);
    group.seconds = column(&RunSummary::seconds);
    group.peak_memory = column(&RunSummary::peak_memory);
  }
  return groups;
}

namespace {

struct Unit {
  double size;
  const char* name;
  int digits;
};
const std::vector<Unit> kByteUnits = {{1.0, "B", 0},           {1024.0, "KiB", 1},
                                      {1048576.0, "MiB", 1},   {1073741824.0, "GiB", 2},
                                      {1099511627776.0, "TiB", 2}};
const std::vector<Unit> kTimeUnits = {{1.0, "s", 1}, {60.0, "min", 1}, {3600.0, "h", 2}};

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// "mean ± std" with `digits` decimals ("—" for NaN, no "± std" when std is NaN).
std::string cell(const MeanStd& value, int digits) {
  if (std::isnan(value.mean)) return "—";
  const std::string format = "%." + std::to_string(digits) + "f";
  std::string text = printf_string(format.c_str(), value.mean);
  if (!std::isnan(value.std)) text += " ± " + printf_string(format.c_str(), value.std);
  return text;
}

// As cell(), in the largest unit not above the mean ("17.6 KiB ± 0.3", "2.50 h").
std::string scaled_cell(const MeanStd& value, const std::vector<Unit>& units) {
  if (std::isnan(value.mean)) return "—";
  std::size_t u = 0;
  while (u + 1 < units.size() && std::fabs(value.mean) >= units[u + 1].size) ++u;
  const MeanStd in_unit{value.mean / units[u].size, value.std / units[u].size, value.n};
  return cell(in_unit, units[u].digits) + " " + units[u].name;
}

MeanStd single(double value) { return {value, std::nan(""), 1}; }

std::string seed_list(const SeedGroup& group, const char* separator) {
  std::string text;
  for (const auto& run : group.runs) text += (text.empty() ? "" : separator) + std::to_string(run.seed);
  return text;
}

// "done/total" when every run got as far, else "mean ± std of total".
std::string rounds_cell(const SeedGroup& group, int64_t rounds) {
  const std::string total = std::to_string(rounds);
  if (group.rounds_done.std == 0.0) return std::to_string(group.runs.front().rounds_done) + "/" + total;
  return cell(group.rounds_done, 1) + " of " + total;
}

std::string markdown_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const auto& text : cells) row += " " + text + " |";
  return row + "\n";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_number(double value) { return std::isfinite(value) ? printf_string("%.10g", value) : ""; }

}  // namespace

std::string report_markdown(const std::vector<SeedGroup>& groups) {
  std::string table = markdown_row({"Method", "Dataset", "iid", "K", "Aggregator", "Seed", "Rounds", "Rouge-L",
                                    "Eval loss", "ε", "Bytes up", "Bytes down", "Wall time", "Peak memory", "Run"});
  table += "|---|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& group : groups) {
    for (const auto& run : group.runs) {
      table += markdown_row({run.method, run.dataset, run.iid, std::to_string(run.K), run.aggregator,
                             std::to_string(run.seed), std::to_string(run.rounds_done) + "/" + std::to_string(run.rounds),
                             cell(single(run.rouge_l), 2), cell(single(run.final_eval_loss), 4),
                             cell(single(run.dp_epsilon), 3),
                             scaled_cell(single(run.bytes_up), kByteUnits),
                             scaled_cell(single(run.bytes_down), kByteUnits),
                             scaled_cell(single(run.seconds), kTimeUnits),
                             scaled_cell(single(run.peak_memory), kByteUnits), "`" + run.run_dir + "`"});
    }
    if (group.runs.size() < 2) continue;
    const RunSummary& first = group.runs.front();
    table += markdown_row({"**" + first.method + "** mean ± std", first.dataset, first.iid, std::to_string(first.K),
                           first.aggregator, seed_list(group, ", ") + " (n=" + std::to_string(group.runs.size()) + ")",
                           rounds_cell(group, first.rounds),
                           "**" + cell(group.rouge_l, 2) + "**", cell(group.final_eval_loss, 4),
                           cell(group.dp_epsilon, 3),
                           scaled_cell(group.bytes_up, kByteUnits), scaled_cell(group.bytes_down, kByteUnits),
                           scaled_cell(group.seconds, kTimeUnits), scaled_cell(group.peak_memory, kByteUnits), ""});
  }
  return table;
}

std::string report_csv(const std::vector<SeedGroup>& groups) {
  std::string csv =
      "kind,run_dir,method,dataset,iid,K,aggregator,seed,n,rounds_done,rounds,rouge_l,final_eval_loss,dp_epsilon,"
      "bytes_up,bytes_down,wall_seconds,peak_memory_bytes\n";
  const auto row = [&](const std::string& kind, const std::string& run_dir, const RunSummary& like,
                       const std::string& seed, std::size_t n, const std::vector<double>& numbers) {
    csv += kind + "," + csv_field(run_dir) + "," + csv_field(like.method) + "," + csv_field(like.dataset) + "," +
           csv_field(like.iid) + "," + std::to_string(like.K) + "," + csv_field(like.aggregator) + "," + seed + "," +
           std::to_string(n);
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      csv += "," + csv_number(numbers[i]);
      if (i == 0) csv += "," + std::to_string(like.rounds);  // rounds_done, rounds
    }
    csv += "\n";
  };
  for (const auto& group : groups) {
    for (const auto& run : group.runs) {
      row("run", run.run_dir, run, std::to_string(run.seed), 1,
          {static_cast<double>(run.rounds_done), run.rouge_l, run.final_eval_loss, run.dp_epsilon, run.bytes_up,
           run.bytes_down, run.seconds, run.peak_memory});
    }
    if (group.runs.size() < 2) continue;
    const auto columns = {&MeanStd::mean, &MeanStd::std};
    for (auto part : columns) {
      row(part == &MeanStd::mean ? "mean" : "std", "", group.runs.front(), seed_list(group, ";"), group.runs.size(),
          {group.rounds_done.*part, group.rouge_l.*part, group.final_eval_loss.*part, group.dp_epsilon.*part,
           group.bytes_up.*part,
           group.bytes_down.*part, group.seconds.*part, group.peak_memory.*part});
    }
  }
  return csv;
}

}  // namespace fedkseed
