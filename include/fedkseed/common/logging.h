// Console and run-log output. Torch-free on purpose: the implementation uses
// Debian's spdlog, whose fmt 9 clashes with LibTorch's fmt 12 in one translation unit.
// Callers format their own strings (c10::str, std::to_string).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace fedkseed::log {

enum class Level { debug, info, warn, error, off };

// Parses "debug|info|warn|error|off"; throws fedkseed::Error naming the flag otherwise.
Level parse_level(const std::string& name);
void set_level(Level level);
// Whether messages of `level` reach the console.
bool enabled(Level level);
// Also writes every message to `path` (appending), e.g. <run_dir>/train.log.
void add_file_sink(const std::string& path);

void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);

// A progress display for long loops: redraws one line on a terminal; when stdout is not
// one, prints a plain line every `plain_every` units (0: only the final line).
class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t plain_every = 0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Marks `done` of `total` units finished; `status` is shown after the counter.
  void update(int64_t done, const std::string& status = "");
  void finish(const std::string& status = "");

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace fedkseed::log
