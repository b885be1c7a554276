// Natural Instructions v2: split lists, task files, and the reference's sampling (§4.7):
// one client per train task with >= 20 short-enough instances (20 % of them), and
// max(20, 2 %) instances per test task. Tasks are read and tokenised in parallel; each
// task draws from its own Rng stream, so the result does not depend on thread timing.
#include "fedkseed/data/natural_instructions.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <limits>
#include <optional>
#include <tuple>

#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/parallel.h"
#include "fedkseed/common/random.h"
#include "fedkseed/model/tokenizer.h"
#include "loaders.h"

namespace fedkseed {
namespace {

constexpr int64_t kMinTrainInstances = 20;  // smaller train tasks get no client
constexpr double kTrainFraction = 0.2;
constexpr int64_t kMinTestInstances = 20;
constexpr double kTestFraction = 0.02;

}  // namespace

int64_t utf8_length(const std::string& text) {
  int64_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

std::string ni_root(const std::string& data_dir) {
  for (const char* name : {"natural-instructions", "natural-instructions-2.8"}) {
    const std::string root = data_dir + "/" + name;
    if (std::filesystem::is_directory(root + "/splits/default")) return root;
  }
  throw Error("natural instructions: neither " + data_dir + "/natural-instructions/splits/default nor " + data_dir +
              "/natural-instructions-2.8/splits/default exists (data/README.md says where to get it)");
}

std::vector<std::string> read_ni_split(const std::string& root, const std::string& split) {
  const std::string path = root + "/splits/default/" + split + "_tasks.txt";
  std::ifstream in(path);
  if (!in) throw Error("natural instructions split " + path + ": cannot be read");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const auto end = line.find_last_not_of(" \t\r");
    if (end != std::string::npos) names.push_back(line.substr(0, end + 1));
  }
  return names;
}

std::string ni_task_path(const std::string& root, const std::string& task) { return root + "/tasks/" + task + ".json"; }

NiTask read_ni_task(const std::string& root, const std::string& name, int64_t max_input_chars) {
  const std::string path = ni_task_path(root, name);
  const std::string where = "natural instructions task " + name + " (" + path + "): ";
  std::ifstream in(path);
  if (!in) throw Error(where + "cannot be read");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    throw Error(where + "not valid JSON (" + error.what() + ")");
  }
  NiTask task;
  task.name = name;
  const auto& definition = json.is_object() ? json.value("Definition", nlohmann::json()) : nlohmann::json();
  if (!definition.is_array() || definition.empty() || !definition[0].is_string()) {
    throw Error(where + "\"Definition\" is not a non-empty list of strings");
  }
  task.definition = definition[0].get<std::string>();
  if (!json.contains("Instances") || !json["Instances"].is_array()) throw Error(where + "\"Instances\" is not a list");
  const auto& instances = json["Instances"];
  for (size_t i = 0; i < instances.size(); ++i) {
    const auto& instance = instances[i];
    if (!instance.is_object() || !instance.contains("input") || !instance["input"].is_string() ||
        !instance.contains("output") || !instance["output"].is_array() || instance["output"].empty() ||
        !instance["output"][0].is_string()) {
      throw Error(where + "instance " + std::to_string(i) + " lacks a string \"input\" or a list \"output\"");
    }
    std::string input = instance["input"].get<std::string>();
    if (utf8_length(input) >= max_input_chars) continue;
    task.instances.push_back({static_cast<int64_t>(i), std::move(input), instance["output"][0].get<std::string>()});
  }
  return task;
}

namespace detail {
namespace {

// One task's contribution: the sampled instance indices and their tokenised examples.
struct TaskResult {
  bool is_client = false;
  RecordGroup records;
  std::vector<Example> examples;
  std::vector<GenerationExample> generation;
};

// Positions (into task.instances) the reference samples for a train or test task;
// nullopt when a train task is too small to become a client.
std::optional<std::vector<int64_t>> sample_task(const NiTask& task, bool train, int64_t seed) {
  const auto n = static_cast<int64_t>(task.instances.size());
  Rng rng(static_cast<uint64_t>(seed), std::string(train ? "ni/train/" : "ni/test/") + task.name);
  if (train) {
    if (n < kMinTrainInstances) return std::nullopt;
    return rng.choice_without_replacement(n, static_cast<int64_t>(kTrainFraction * static_cast<double>(n)));
  }
  if (n <= kMinTestInstances) {
    std::vector<int64_t> all(n);
    for (int64_t i = 0; i < n; ++i) all[i] = i;
    return all;
  }
  const auto count = std::max(kMinTestInstances, static_cast<int64_t>(kTestFraction * static_cast<double>(n)));
  return rng.choice_without_replacement(n, count);
}

// Reads, samples (or takes `given` instance indices) and tokenises one task.
TaskResult load_task(const std::string& root, const std::string& name, bool train, const TrainOptions& options,
                     const Tokenizer& tokenizer, const RecordGroup* given) {
  const int64_t char_limit = given != nullptr ? std::numeric_limits<int64_t>::max() : options.max_length;
  const NiTask task = read_ni_task(root, name, char_limit);
  std::vector<int64_t> positions;
  if (given != nullptr) {
    if (given->records.empty()) throw Error("partition file: task " + name + " has an empty \"records\" list");
    for (const int64_t index : given->records) {
      if (index >= static_cast<int64_t>(task.instances.size())) {
        throw Error("partition file: task " + name + " has no instance " + std::to_string(index));
      }
      positions.push_back(index);
    }
  } else if (auto sampled = sample_task(task, train, options.seed)) {
    positions = std::move(*sampled);
  } else {
    return {};
  }
  TaskResult result{train, {name, {}}, {}, {}};
  ExampleBuilder builder(tokenizer, options.max_length);  // the definition's lines are tokenised once
  for (const int64_t position : positions) {
    const NiInstance& instance = task.instances[position];
    const PromptPair pair{ni_prompt(task.definition, instance.input, options.use_prompts), instance.output};
    result.records.records.push_back(instance.index);
    result.examples.push_back(builder.example(pair));
    if (!train) result.generation.push_back(builder.generation(pair));
  }
  return result;
}

// The split's task names that have a file; counts the others into `missing`.
std::vector<std::string> present_tasks(const std::string& root, const std::string& split, int64_t& missing) {
  const std::vector<std::string> names = read_ni_split(root, split);
  std::vector<std::string> present;
  for (const auto& name : names) {
    if (std::filesystem::is_regular_file(ni_task_path(root, name))) present.push_back(name);
  }
  if (present.empty()) {
    throw Error("natural instructions split " + root + "/splits/default/" + split + "_tasks.txt: none of its " +
                std::to_string(names.size()) + " tasks has a file in " + root + "/tasks/");
  }
  missing += static_cast<int64_t>(names.size() - present.size());
  return present;
}

}  // namespace

FederatedData load_ni_data(const TrainOptions& options, const Tokenizer& tokenizer, const PartitionFile* given) {
  const std::string root = ni_root(options.data_dir);
  FederatedData data;
  // (task name, is train, given records) in output order: train tasks, then test tasks.
  std::vector<std::tuple<std::string, bool, const RecordGroup*>> jobs;
  if (given != nullptr) {
    for (const auto& group : given->clients) jobs.emplace_back(group.task, true, &group);
  } else {
    for (auto& name : present_tasks(root, "train", data.skipped_tasks)) jobs.emplace_back(name, true, nullptr);
  }
  if (given != nullptr && given->has_test) {
    for (const auto& group : given->test) jobs.emplace_back(group.task, false, &group);
  } else {
    for (auto& name : present_tasks(root, "test", data.skipped_tasks)) jobs.emplace_back(name, false, nullptr);
  }
  if (data.skipped_tasks > 0) {
    log::warn("natural instructions: " + std::to_string(data.skipped_tasks) + " tasks named in " + root +
              "/splits/default/ have no file in " + root + "/tasks/; skipped");
  }
  std::vector<TaskResult> results(jobs.size());
  parallel_for_each(static_cast<int64_t>(jobs.size()), [&](int64_t i) {
    const auto& [name, train, group] = jobs[i];
    results[i] = load_task(root, name, train, options, tokenizer, group);
  });
  data.partition = {"instruct", {}, {}, true};
  if (given == nullptr) data.files.push_back(root + "/splits/default/train_tasks.txt");
  if (given == nullptr || !given->has_test) data.files.push_back(root + "/splits/default/test_tasks.txt");
  for (const auto& job : jobs) data.files.push_back(ni_task_path(root, std::get<0>(job)));
  for (size_t i = 0; i < jobs.size(); ++i) {
    TaskResult& result = results[i];
    if (std::get<1>(jobs[i])) {
      if (!result.is_client) {
        ++data.small_tasks;
        continue;
      }
      data.client_names.push_back(result.records.task);
      data.clients.push_back(std::move(result.examples));
      data.partition.clients.push_back(std::move(result.records));
    } else {
      data.test.insert(data.test.end(), std::make_move_iterator(result.examples.begin()),
                       std::make_move_iterator(result.examples.end()));
      data.test_generation.insert(data.test_generation.end(), std::make_move_iterator(result.generation.begin()),
                                  std::make_move_iterator(result.generation.end()));
      data.partition.test.push_back(std::move(result.records));
    }
  }
  if (data.small_tasks > 0) {
    log::info("natural instructions: " + std::to_string(data.small_tasks) + " train tasks have fewer than " +
              std::to_string(kMinTrainInstances) + " instances with input < " + std::to_string(options.max_length) +
              " characters; no client for them");
  }
  if (data.clients.empty()) throw Error("natural instructions " + root + ": no train task survives the filters");
  if (data.test.empty()) throw Error("natural instructions " + root + ": the test tasks hold no instance");
  return data;
}

}  // namespace detail
}  // namespace fedkseed
