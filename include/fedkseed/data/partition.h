// Assignment of records to clients: the Dirichlet label-skew split of the reference
// (§4.6), the equal random split, and the JSON partition file that lets a split made
// elsewhere (e.g. by the Python reference) be reused exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

class Rng;

// party -> record indices (indices into the caller's record list).
using Partition = std::vector<std::vector<int64_t>>;

// Dirichlet(alpha) label skew: per label (ascending), shuffle its records, draw party
// proportions, zero those of parties already holding >= n/parties records, cut; repeat
// until every party has >= min_size records; then shuffle each party. Throws
// fedkseed::Error when n < parties * min_size or 1000 attempts fail.
Partition partition_dirichlet(const std::vector<int64_t>& labels, int64_t parties, double alpha,
                              Rng& rng, int64_t min_size = 10);
// A random permutation cut into floor(n/parties) records each, the remainder to the last
// party. Throws fedkseed::Error when n < parties.
Partition partition_equal(int64_t n, int64_t parties, Rng& rng);

// Records of one client or of the test set; `task` names the NI task file ("" for Dolly).
struct RecordGroup {
  std::string task;
  std::vector<int64_t> records;
};

// The partition file (JSON; data/README.md documents it):
// {"format": "fedkseed-partition-1", "dataset": "dolly"|"instruct",
//  "clients": [{"task": str (instruct only), "records": [int, ...]}, ...],
//  "test": [{"task": ..., "records": [...]}, ...]  (optional)}
// Dolly records index the JSONL's records (0-based, in file order); NI records index the
// task file's "Instances" array.
struct PartitionFile {
  std::string dataset;
  std::vector<RecordGroup> clients;
  std::vector<RecordGroup> test;
  bool has_test = false;
};

// Throws fedkseed::Error naming the file for unreadable or malformed JSON.
PartitionFile read_partition_file(const std::string& path);
// Throws fedkseed::Error when `path` cannot be written.
void write_partition_file(const std::string& path, const PartitionFile& partition);

}  // namespace fedkseed
