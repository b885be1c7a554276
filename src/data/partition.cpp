// Dirichlet label-skew and equal random splits (spec §4.6), and the partition JSON file.
#include "fedkseed/data/partition.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"

namespace fedkseed {
namespace {

constexpr const char* kPartitionFormat = "fedkseed-partition-1";
constexpr int kDirichletAttempts = 1000;

// One pass of the reference's loop body over every label; returns party -> indices.
Partition dirichlet_attempt(const std::map<int64_t, std::vector<int64_t>>& by_label, int64_t n,
                            int64_t parties, double alpha, Rng& rng) {
  Partition result(parties);
  for (const auto& entry : by_label) {
    std::vector<int64_t> indices = entry.second;
    rng.shuffle(indices);
    std::vector<double> share = rng.dirichlet(alpha, parties);
    double total = 0.0;
    for (int64_t p = 0; p < parties; ++p) {
      // Parties already at or above the average size take nothing more of this label.
      if (static_cast<double>(result[p].size()) >= static_cast<double>(n) / parties) share[p] = 0.0;
      total += share[p];
    }
    const auto count = static_cast<double>(indices.size());
    double cumulative = 0.0;
    size_t begin = 0;
    for (int64_t p = 0; p < parties; ++p) {
      cumulative += share[p] / total;
      const size_t end = p + 1 == parties ? indices.size()
                                          : std::min(indices.size(), static_cast<size_t>(cumulative * count));
      if (end > begin) result[p].insert(result[p].end(), indices.begin() + begin, indices.begin() + end);
      begin = std::max(begin, end);
    }
  }
  return result;
}

}  // namespace

Partition partition_dirichlet(const std::vector<int64_t>& labels, int64_t parties, double alpha, Rng& rng,
                              int64_t min_size) {
  const auto n = static_cast<int64_t>(labels.size());
  if (parties < 1 || n < parties * min_size) {
    throw Error("Dirichlet partition: " + std::to_string(n) + " training records cannot give " +
                std::to_string(parties) + " clients at least " + std::to_string(min_size) +
                " records each; lower --num_clients");
  }
  std::map<int64_t, std::vector<int64_t>> by_label;
  for (int64_t i = 0; i < n; ++i) by_label[labels[i]].push_back(i);
  for (int attempt = 0; attempt < kDirichletAttempts; ++attempt) {
    Partition result = dirichlet_attempt(by_label, n, parties, alpha, rng);
    const auto smallest = std::min_element(result.begin(), result.end(),
                                           [](const auto& a, const auto& b) { return a.size() < b.size(); });
    if (static_cast<int64_t>(smallest->size()) >= min_size) {
      for (auto& party : result) rng.shuffle(party);
      return result;
    }
  }
  throw Error("Dirichlet partition: no split with at least " + std::to_string(min_size) +
              " records per client in " + std::to_string(kDirichletAttempts) +
              " draws; raise alpha or lower --num_clients");
}

Partition partition_equal(int64_t n, int64_t parties, Rng& rng) {
  if (parties < 1 || n < parties) {
    throw Error("equal partition: " + std::to_string(n) + " training records for " +
                std::to_string(parties) + " clients; lower --num_clients");
  }
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  rng.shuffle(order);
  Partition result(parties);
  const int64_t each = n / parties;
  for (int64_t p = 0; p < parties; ++p) {
    const auto begin = order.begin() + p * each;
    result[p].assign(begin, p + 1 == parties ? order.end() : begin + each);
  }
  return result;
}

namespace {

nlohmann::ordered_json groups_to_json(const std::vector<RecordGroup>& groups) {
  auto array = nlohmann::ordered_json::array();
  for (const auto& group : groups) {
    nlohmann::ordered_json item;
    if (!group.task.empty()) item["task"] = group.task;
    item["records"] = group.records;
    array.push_back(std::move(item));
  }
  return array;
}

std::vector<RecordGroup> groups_from_json(const nlohmann::json& array, const std::string& where) {
  if (!array.is_array()) throw Error(where + " is not an array");
  std::vector<RecordGroup> groups;
  for (size_t i = 0; i < array.size(); ++i) {
    const auto& item = array[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("records") || !item["records"].is_array()) {
      throw Error(at + " is not an object with a \"records\" array");
    }
    RecordGroup group;
    if (item.contains("task")) {
      if (!item["task"].is_string()) throw Error(at + ".task is not a string");
      group.task = item["task"].get<std::string>();
    }
    for (const auto& record : item["records"]) {
      if (!record.is_number_integer() || record.get<int64_t>() < 0) {
        throw Error(at + ".records holds " + record.dump() + ", not a record index >= 0");
      }
      group.records.push_back(record.get<int64_t>());
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace

PartitionFile read_partition_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("partition file " + path + ": cannot be read");
  try {
    const auto json = nlohmann::json::parse(in);
    if (json.value("format", "") != kPartitionFormat) {
      throw Error(std::string("\"format\" is not \"") + kPartitionFormat + "\"");
    }
    PartitionFile partition;
    partition.dataset = json.value("dataset", "");
    if (partition.dataset != "dolly" && partition.dataset != "instruct") {
      throw Error("\"dataset\" is not \"dolly\" or \"instruct\"");
    }
    if (!json.contains("clients")) throw Error("no \"clients\" array");
    partition.clients = groups_from_json(json["clients"], "clients");
    partition.has_test = json.contains("test");
    if (partition.has_test) partition.test = groups_from_json(json["test"], "test");
    return partition;
  } catch (const nlohmann::json::exception& error) {
    throw Error("partition file " + path + ": not valid JSON (" + error.what() + ")");
  } catch (const Error& error) {
    throw Error("partition file " + path + ": " + error.what());
  }
}

void write_partition_file(const std::string& path, const PartitionFile& partition) {
  nlohmann::ordered_json json;
  json["format"] = kPartitionFormat;
  json["dataset"] = partition.dataset;
  json["clients"] = groups_to_json(partition.clients);
  if (partition.has_test) json["test"] = groups_to_json(partition.test);
  std::ofstream out(path);
  out << json.dump() << "\n";
  if (!out) throw Error("partition file " + path + ": cannot be written");
}

}  // namespace fedkseed
