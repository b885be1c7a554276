// Dolly-15K (databricks-dolly-15k.jsonl): reading and validating records, and the
// category codes of the reference (pandas Categorical codes, i.e. alphabetical).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

struct DollyRecord {
  std::string instruction;
  std::string context;  // may be empty: the template then has no "Input" block
  std::string response;
  std::string category;
};

// DATA_DIR/databricks-dolly-15k.jsonl, else DATA_DIR/dolly/databricks-dolly-15k.jsonl;
// throws fedkseed::Error naming both paths when neither exists.
std::string dolly_file(const std::string& data_dir);
// One record per non-blank line. Throws fedkseed::Error naming file and line for
// malformed JSON or a missing / non-string field; nothing is returned half-read.
std::vector<DollyRecord> read_dolly(const std::string& path);
// The distinct categories sorted by byte order: index = category code.
std::vector<std::string> dolly_categories(const std::vector<DollyRecord>& records);

}  // namespace fedkseed
