// The federated view of a dataset: one tokenised example list per client plus the test
// set, built from TrainOptions exactly as the reference's get_loaders (§4.5-4.7), or from
// a partition file. Random choices use fedkseed::Rng(seed, purpose) with the purposes
// "dolly/subsample", "dolly/partition", "ni/train/<task>", "ni/test/<task>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedkseed/common/options.h"
#include "fedkseed/data/example.h"
#include "fedkseed/data/partition.h"

namespace fedkseed {

class Tokenizer;

struct FederatedData {
  std::vector<std::vector<Example>> clients;     // client -> training examples
  std::vector<Example> test;                     // loss format
  std::vector<GenerationExample> test_generation;  // same records, generation format
  std::vector<std::string> client_names;         // NI: task name; Dolly: "client<i>"
  int64_t skipped_tasks = 0;  // NI: split tasks without a task file (train + test)
  int64_t small_tasks = 0;    // NI: train tasks with fewer than 20 short-enough instances
  std::vector<std::string> categories;                  // Dolly: category name by code
  std::vector<std::vector<int64_t>> train_label_hist;   // Dolly: [client][category code]
  PartitionFile partition;  // the record indices behind clients and test (for --dump_partition)
  std::vector<std::string> files;  // every file the data was read from (a run's identity records them)
};

// Loads options.dataset ("dolly" | "instruct") from options.data_dir, honouring
// num_clients, iid, zerotask, dataset_subsample, max_length, use_prompts, seed and
// partition_file. Throws fedkseed::Error naming file and line (or task) for bad input,
// and when a client or the test set would be empty.
FederatedData load_federated_data(const TrainOptions& options, const Tokenizer& tokenizer);

// Mean number of input tokens over all training examples (0 when there are none).
double mean_train_tokens(const FederatedData& data);

}  // namespace fedkseed
