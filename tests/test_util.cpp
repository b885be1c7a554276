#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace fedkseed::test {

CommandResult run_command(const std::string& command) {
  const std::string err_path = make_temp_dir("stderr") + "/stderr.txt";
  CommandResult result;
  FILE* pipe = popen((command + " 2>" + err_path).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t count = 0;
  while ((count = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = read_text(err_path);
  return result;
}

CommandResult run_fedkseed(const std::string& arguments) {
  return run_command(std::string(FEDKSEED_BINARY) + " " + arguments);
}

int start_fedkseed(const std::string& arguments, const std::string& err_path) {
  const std::string command = std::string("exec ") + FEDKSEED_BINARY + " " + arguments + " >/dev/null 2>" + err_path;
  const pid_t child = fork();
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return child;
}

int wait_for_exit(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string make_temp_dir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const fs::path path = fs::temp_directory_path() /
                        ("fedkseed_" + prefix + "_" + std::to_string(getpid()) + "_" +
                         std::to_string(counter++));
  fs::remove_all(path);
  fs::create_directories(path);
  return path.string();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::string python() { return FEDKSEED_PYTHON; }

bool python_has(const std::string& module) {
  return run_command(python() + " -c 'import " + module + "'").exit_code == 0;
}

::testing::AssertionResult python_can_import(const std::string& module) {
  if (python_has(module)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "the test Python '" << python() << "' cannot import " << module
                                       << ": run scripts/setup.sh --test to install the test packages";
}

std::string test_data(const std::string& relative) {
  return std::string(FEDKSEED_SOURCE_DIR) + "/tests/data/" + relative;
}

Fixture cached_fixture(const std::string& name, const std::vector<std::string>& inputs,
                       const std::function<std::string(const std::string& dir)>& make) {
  uint64_t stamp = 14695981039346656037ull;
  for (const auto& input : inputs) {
    stamp = (stamp ^ static_cast<uint64_t>(fs::last_write_time(input).time_since_epoch().count())) * 1099511628211ull;
  }
  const fs::path cached = fs::path(FEDKSEED_BINARY).parent_path() / "test_fixtures" / (name + "_" + std::to_string(stamp));
  Fixture fixture{cached.string(), ""};
  if (fs::exists(cached / "complete")) return fixture;
  const std::string fresh = fixture.dir + ".tmp" + std::to_string(getpid());
  fs::remove_all(fresh);
  fs::create_directories(fresh);
  fixture.error = make(fresh);
  if (!fixture.error.empty()) return fixture;
  write_text(fresh + "/complete", "");
  std::error_code lost;
  fs::rename(fresh, cached, lost);
  if (lost) fixture.dir = fresh;
  return fixture;
}

std::string shared_data_dir() {
  return fs::is_directory(FEDKSEED_SHARED_DATA) ? std::string(FEDKSEED_SHARED_DATA) : std::string();
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what << ": shapes differ";
  const auto a = actual.detach().to(torch::kCPU, torch::kFloat64).flatten();
  const auto e = expected.detach().to(torch::kCPU, torch::kFloat64).flatten();
  const auto diff = (a - e).abs();
  const auto bad = diff > (atol + rtol * e.abs());
  const int64_t bad_count = bad.sum().item<int64_t>();
  if (bad_count == 0) return;
  const int64_t where = diff.argmax().item<int64_t>();
  std::ostringstream report;
  report << what << ": " << bad_count << " of " << a.numel() << " values differ; max |diff| "
         << diff[where].item<double>() << " at flat index " << where << "; first mismatches:";
  const auto indices = bad.nonzero().flatten();
  for (int64_t i = 0; i < std::min<int64_t>(5, indices.numel()); ++i) {
    const int64_t k = indices[i].item<int64_t>();
    report << " [" << k << "] " << a[k].item<double>() << " vs " << e[k].item<double>();
  }
  ADD_FAILURE() << report.str();
}

}  // namespace fedkseed::test
