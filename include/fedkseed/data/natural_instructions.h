// Natural Instructions v2 (Super-NaturalInstructions): split lists and task files under
// DATA_DIR/natural-instructions[-2.8]/, validated; sampling lives in federated_data.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

struct NiInstance {
  int64_t index = 0;  // position in the task file's "Instances" array
  std::string input;
  std::string output;  // the first output; the others are ignored like the reference
};

struct NiTask {
  std::string name;
  std::string definition;  // Definition[0]
  std::vector<NiInstance> instances;
};

// DATA_DIR/natural-instructions, else DATA_DIR/natural-instructions-2.8; throws
// fedkseed::Error naming both when neither holds splits/default/.
std::string ni_root(const std::string& data_dir);
// Task names of ROOT/splits/default/<split>_tasks.txt (split: "train" | "test"), blank
// lines skipped; throws fedkseed::Error naming the file when it cannot be read.
std::vector<std::string> read_ni_split(const std::string& root, const std::string& split);
std::string ni_task_path(const std::string& root, const std::string& task);
// Reads ROOT/tasks/<name>.json keeping instances whose input has fewer than
// `max_input_chars` Unicode characters (the reference's len(input) < max_length).
// Throws fedkseed::Error naming the task for invalid JSON or a missing / mistyped field.
NiTask read_ni_task(const std::string& root, const std::string& name, int64_t max_input_chars);

// Number of Unicode code points of UTF-8 `text` (Python's len()).
int64_t utf8_length(const std::string& text);

}  // namespace fedkseed
