// Dispatch of load_federated_data to the Dolly or Natural Instructions loader, with the
// optional --partition_file, and summary numbers shared by the CLI.
#include "fedkseed/data/federated_data.h"

#include "fedkseed/common/error.h"
#include "loaders.h"

namespace fedkseed {

FederatedData load_federated_data(const TrainOptions& options, const Tokenizer& tokenizer) {
  PartitionFile given;
  if (!options.partition_file.empty()) {
    given = read_partition_file(options.partition_file);
    if (given.dataset != options.dataset) {
      throw Error("partition file " + options.partition_file + ": made for dataset '" + given.dataset +
                  "', not '" + options.dataset + "'");
    }
    for (const auto& group : given.clients) {
      if ((options.dataset == "instruct") == group.task.empty()) {
        throw Error("partition file " + options.partition_file + ": a client " +
                    (group.task.empty() ? "lacks the \"task\" that instruct needs" : "has a \"task\", which dolly has not"));
      }
    }
  }
  const PartitionFile* partition = options.partition_file.empty() ? nullptr : &given;
  if (options.dataset != "dolly" && options.dataset != "instruct") {
    throw Error("--dataset: '" + options.dataset + "' is not dolly or instruct");
  }
  FederatedData data = options.dataset == "dolly" ? detail::load_dolly_data(options, tokenizer, partition)
                                                  : detail::load_ni_data(options, tokenizer, partition);
  if (partition != nullptr) data.files.push_back(options.partition_file);
  return data;
}

double mean_train_tokens(const FederatedData& data) {
  double tokens = 0.0;
  double examples = 0.0;
  for (const auto& client : data.clients) {
    for (const auto& example : client) tokens += static_cast<double>(example.input_ids.size());
    examples += static_cast<double>(client.size());
  }
  return examples > 0 ? tokens / examples : 0.0;
}

}  // namespace fedkseed
