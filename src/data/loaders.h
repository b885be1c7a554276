// The per-dataset halves of load_federated_data (internal to the data layer).
#pragma once

#include "fedkseed/data/federated_data.h"

namespace fedkseed::detail {

// `given` is the --partition_file content, or nullptr to split with the seed.
FederatedData load_dolly_data(const TrainOptions& options, const Tokenizer& tokenizer,
                              const PartitionFile* given);
FederatedData load_ni_data(const TrainOptions& options, const Tokenizer& tokenizer,
                           const PartitionFile* given);

}  // namespace fedkseed::detail
