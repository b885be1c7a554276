// Dolly-15K: JSONL reading and the reference's split (§4.5): category `zerotask` is the
// test set, the other records go to clients by Dirichlet label skew or an equal split.
#include "fedkseed/data/dolly.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fedkseed/common/error.h"
#include "fedkseed/common/random.h"
#include "fedkseed/model/tokenizer.h"
#include "loaders.h"

namespace fedkseed {

std::string dolly_file(const std::string& data_dir) {
  const std::string flat = data_dir + "/databricks-dolly-15k.jsonl";
  const std::string nested = data_dir + "/dolly/databricks-dolly-15k.jsonl";
  if (std::filesystem::is_regular_file(flat)) return flat;
  if (std::filesystem::is_regular_file(nested)) return nested;
  throw Error("dolly: neither " + flat + " nor " + nested + " exists (data/README.md says where to get it)");
}

std::vector<DollyRecord> read_dolly(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("dolly file " + path + ": cannot be read");
  std::vector<DollyRecord> records;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "dolly file " + path + ":" + std::to_string(number) + ": ";
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& error) {
      throw Error(where + "not valid JSON (" + error.what() + ")");
    }
    if (!json.is_object()) throw Error(where + "not a JSON object");
    DollyRecord record;
    for (auto [field, target] : {std::pair{"instruction", &record.instruction}, {"context", &record.context},
                                 {"response", &record.response}, {"category", &record.category}}) {
      if (!json.contains(field) || !json[field].is_string()) {
        throw Error(where + "field \"" + field + "\" is missing or not a string");
      }
      *target = json[field].get<std::string>();
    }
    records.push_back(std::move(record));
  }
  if (records.empty()) throw Error("dolly file " + path + ": no records");
  return records;
}

std::vector<std::string> dolly_categories(const std::vector<DollyRecord>& records) {
  std::vector<std::string> categories;
  for (const auto& record : records) categories.push_back(record.category);
  std::sort(categories.begin(), categories.end());
  categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
  return categories;
}

namespace detail {
namespace {

// The reference's split: records of category `zerotask` form the test set, the rest are
// partitioned over clients. Returns the record indices of each client and of the test set.
PartitionFile split_dolly(const TrainOptions& options, const std::vector<int64_t>& codes, const std::string& path) {
  const auto n = static_cast<int64_t>(codes.size());
  std::vector<int64_t> kept(n);
  for (int64_t i = 0; i < n; ++i) kept[i] = i;
  if (options.dataset_subsample < 1.0) {
    Rng rng(options.seed, "dolly/subsample");
    kept = rng.choice_without_replacement(n, static_cast<int64_t>(options.dataset_subsample * n));
    std::sort(kept.begin(), kept.end());
  }
  PartitionFile split{"dolly", {}, {RecordGroup{}}, true};
  std::vector<int64_t> train, labels;
  for (const int64_t index : kept) {
    if (codes[index] == options.zerotask) {
      split.test[0].records.push_back(index);
    } else {
      train.push_back(index);
      labels.push_back(codes[index]);
    }
  }
  if (train.empty()) {
    throw Error("dolly file " + path + ": no training record is left (" + std::to_string(kept.size()) + " of " +
                std::to_string(n) + " records kept by --dataset_subsample, all outside the test category)");
  }
  Rng rng(options.seed, "dolly/partition");
  const double alpha = iid_alpha(options.iid);
  Partition parts;
  try {
    parts = alpha > 0 ? partition_dirichlet(labels, options.num_clients, alpha, rng)
                      : partition_equal(static_cast<int64_t>(train.size()), options.num_clients, rng);
  } catch (const Error& error) {
    throw Error("dolly file " + path + ": " + error.what());
  }
  for (const auto& part : parts) {
    RecordGroup client;
    for (const int64_t local : part) client.records.push_back(train[local]);
    split.clients.push_back(std::move(client));
  }
  return split;
}

RecordGroup zerotask_records(const std::vector<int64_t>& codes, int64_t zerotask) {
  RecordGroup test;
  for (int64_t i = 0; i < static_cast<int64_t>(codes.size()); ++i) {
    if (codes[i] == zerotask) test.records.push_back(i);
  }
  return test;
}

void check_indices(const PartitionFile& split, int64_t records, const std::string& path) {
  for (const auto* groups : {&split.clients, &split.test}) {
    for (const auto& group : *groups) {
      for (const int64_t index : group.records) {
        if (index >= records) {
          throw Error("partition file: record " + std::to_string(index) + " does not exist in " + path + " (" +
                      std::to_string(records) + " records)");
        }
      }
    }
  }
}

}  // namespace

FederatedData load_dolly_data(const TrainOptions& options, const Tokenizer& tokenizer, const PartitionFile* given) {
  const std::string path = dolly_file(options.data_dir);
  const std::vector<DollyRecord> records = read_dolly(path);
  FederatedData data;
  data.files.push_back(path);
  data.categories = dolly_categories(records);
  if (options.zerotask >= static_cast<int64_t>(data.categories.size())) {
    throw Error("dolly file " + path + ": --zerotask " + std::to_string(options.zerotask) + " but only " +
                std::to_string(data.categories.size()) + " categories");
  }
  std::vector<int64_t> codes;
  for (const auto& record : records) {
    codes.push_back(std::lower_bound(data.categories.begin(), data.categories.end(), record.category) -
                    data.categories.begin());
  }
  if (given == nullptr) {
    data.partition = split_dolly(options, codes, path);
  } else {
    data.partition = *given;
    if (!given->has_test) data.partition.test = {zerotask_records(codes, options.zerotask)};
    data.partition.has_test = true;
    check_indices(data.partition, static_cast<int64_t>(records.size()), path);
  }
  std::vector<PromptPair> pairs;
  for (const auto& group : data.partition.test) {
    for (const int64_t index : group.records) {
      pairs.push_back({dolly_prompt(records[index].instruction, records[index].context), records[index].response});
    }
  }
  if (pairs.empty()) {
    throw Error("dolly file " + path + ": no record of the test category '" + data.categories[options.zerotask] + "'");
  }
  data.test = make_examples(tokenizer, pairs, options.max_length);
  data.test_generation = make_generation_examples(tokenizer, pairs, options.max_length);

  pairs.clear();
  for (const auto& client : data.partition.clients) {
    if (client.records.empty()) throw Error("dolly file " + path + ": a client would get no records");
    for (const int64_t index : client.records) {
      const auto& record = records[index];
      pairs.push_back({dolly_prompt(record.instruction, record.context), record.response});
    }
  }
  std::vector<Example> train = make_examples(tokenizer, pairs, options.max_length);
  size_t next = 0;
  for (size_t c = 0; c < data.partition.clients.size(); ++c) {
    const auto& client = data.partition.clients[c];
    data.client_names.push_back("client" + std::to_string(c));
    data.train_label_hist.emplace_back(data.categories.size(), 0);
    std::vector<Example> examples;
    for (const int64_t index : client.records) {
      ++data.train_label_hist.back()[codes[index]];
      examples.push_back(std::move(train[next++]));
    }
    data.clients.push_back(std::move(examples));
  }
  return data;
}

}  // namespace detail
}  // namespace fedkseed
