// Helpers shared by the tests: run a command, temporary folders, numeric comparison.
#pragma once

#include <ATen/core/Tensor.h>

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fedkseed::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `command` through /bin/sh and captures stdout, stderr and the exit code.
CommandResult run_command(const std::string& command);
// Runs the built fedkseed binary with `arguments` (already shell-quoted as needed).
CommandResult run_fedkseed(const std::string& arguments);
// Starts the built fedkseed binary with `arguments` in the background, stdout to /dev/null and
// stderr to `err_path`; the returned process is fedkseed itself (signals reach it, not a shell).
int start_fedkseed(const std::string& arguments, const std::string& err_path);
// Waits for a process from start_fedkseed; its exit code, or 128 + the signal that ended it.
int wait_for_exit(int pid);
// A fresh empty directory under the system temp dir, unique per call.
std::string make_temp_dir(const std::string& prefix);
// Writes `text` to `path`, creating parent folders.
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
// A JSON file, and a JSON Lines file (e.g. metrics.jsonl) as one value per line.
nlohmann::json read_json(const std::string& path);
std::vector<nlohmann::json> read_jsonl(const std::string& path);
// The test-only Python interpreter (the project venv) and whether it can import `module`.
std::string python();
bool python_has(const std::string& module);
// For a test that compares against Python now: a failure naming the interpreter and
// scripts/setup.sh --test when it cannot import `module`, so a missing package is never a skip.
// ASSERT_TRUE(python_can_import("transformers"));
::testing::AssertionResult python_can_import(const std::string& module);
// A committed fixture: FEDKSEED_SOURCE_DIR/tests/data/<relative>.
std::string test_data(const std::string& relative);
// A fixture folder written once per version of its inputs, since ctest runs every test in its
// own process: <build>/test_fixtures/<name>_<stamp of the inputs' modification times>. `make`
// fills the empty folder it is given and returns "" or an error message. Parallel tests may
// both make it; the first rename wins and a loser keeps its own copy.
struct Fixture {
  std::string dir;
  std::string error;
};
Fixture cached_fixture(const std::string& name, const std::vector<std::string>& inputs,
                       const std::function<std::string(const std::string& dir)>& make);
// ../shared/data when present, else "".
std::string shared_data_dir();

// Asserts |actual - expected| <= atol + rtol*|expected| everywhere; on failure reports
// the max difference, where it is, and the first five mismatched pairs.
void expect_close(const at::Tensor& actual, const at::Tensor& expected, double atol, double rtol,
                  const std::string& what);

}  // namespace fedkseed::test
