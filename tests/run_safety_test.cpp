// What `fedkseed train` promises under faults, run as a user would run it: run folders are
// never shared (exclusive creation, --run_name, a lock while a process trains one), --resume
// refuses a changed base model or data and a corrupt state.json with one line and exit 2,
// SIGTERM/SIGINT stop at a round boundary with the command that continues the run (and the
// continued run equals an uninterrupted one), and a failed write names the file and leaves
// no temporary file. Threads are pinned (OMP_NUM_THREADS=1) so runs compare bit for bit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "fedkseed/common/error.h"
#include "fedkseed/common/file.h"
#include "fedkseed/common/run_dir.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fedkseed::test {
namespace {

const std::string kThreads = "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ";

// The one line a refusal prints: "fedkseed: error: ..." and nothing else.
void expect_one_error_line(const CommandResult& result, const std::string& needle) {
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("fedkseed: error: ", 0), 0u) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "one line: " << result.err;
  EXPECT_NE(result.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << result.err;
}

class RunSafety : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("run_safety"));
    ASSERT_EQ(run_fedkseed("init-model --preset tiny --seed 0 --out " + model()).exit_code, 0);
    ASSERT_EQ(run_fedkseed("make-tiny-data --records 300 --seed 0 --out " + data()).exit_code, 0);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*workspace_);
    delete workspace_;
  }

  static std::string model() { return *workspace_ + "/model"; }
  static std::string data() { return *workspace_ + "/data"; }

  // A small logged Dolly run on `model_dir`; later flags in `extra` override these.
  static std::string train_args(const std::string& log_root, const std::string& extra,
                                const std::string& model_dir = model()) {
    return "train --model " + model_dir + " --data_dir " + data() +
           " --dataset dolly --num_clients 10 --iid dir0.5 -m 0.2 --rounds 3 --local_step 3 -K 16"
           " --lr 2e-4 --zo_eps 1e-3 --dtype fp32 --device cpu --max_length 64 --eval_metric loss"
           " --eval_max_samples 8 --log --quiet --log_root " + log_root + " " + extra;
  }
  static CommandResult train(const std::string& log_root, const std::string& extra,
                             const std::string& model_dir = model()) {
    return run_command(kThreads + FEDKSEED_BINARY + " " + train_args(log_root, extra, model_dir));
  }
  static CommandResult resume(const std::string& run) {
    return run_command(kThreads + FEDKSEED_BINARY + " train --quiet --resume " + run);
  }
  static std::string root(const std::string& name) { return *workspace_ + "/runs/" + name; }

  // A run stopped after round 1 (resumable), in root(name)/run.
  static std::string stopped_run(const std::string& name, const std::string& model_dir = model()) {
    const auto result = train(root(name), "--run_name run --stop_after 1", model_dir);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return root(name) + "/run";
  }

  static std::string* workspace_;
};

std::string* RunSafety::workspace_ = nullptr;

TEST_F(RunSafety, RunNameIsExactAndNeverReused) {
  const std::string run = stopped_run("named");
  const std::string state = read_text(run + "/state.json");
  const auto again = train(root("named"), "--run_name run");
  expect_one_error_line(again, "--run_name run: " + run + " already holds a run; continue it with --resume " + run);
  EXPECT_EQ(read_text(run + "/state.json"), state) << "the refused run wrote into the folder";

  fs::create_directories(root("empty") + "/run");  // an empty folder of that name is taken
  ASSERT_EQ(train(root("empty"), "--run_name run --rounds 1").exit_code, 0);
  EXPECT_TRUE(fs::exists(root("empty") + "/run/final_eval.json"));
}

TEST_F(RunSafety, RunsWithoutANameGetAFolderEach) {
  for (int i = 0; i < 2; ++i) ASSERT_EQ(train(root("stamped"), "--rounds 0").exit_code, 0);
  std::set<std::string> runs;
  for (const auto& entry : fs::directory_iterator(root("stamped"))) runs.insert(entry.path().string());
  EXPECT_EQ(runs.size(), 2u);
}

TEST_F(RunSafety, ALockedRunIsNotResumedTwice) {
  const std::string run = stopped_run("locked");
  const int fd = ::open(run.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a process training the run holds it
  expect_one_error_line(resume(run), "another fedkseed process is training this run");
  ::close(fd);
  EXPECT_EQ(resume(run).exit_code, 0);
}

TEST_F(RunSafety, ResumeRefusesAChangedBaseModelOrDataNamingIt) {
  const std::string copy = *workspace_ + "/model_copy";
  fs::copy(model(), copy, fs::copy_options::recursive);
  const std::string run = stopped_run("changed_model", copy);
  // Touched, not changed: the digest is taken again and still matches.
  fs::last_write_time(copy + "/config.json", fs::file_time_type::clock::now());
  fs::last_write_time(data() + "/databricks-dolly-15k.jsonl", fs::file_time_type::clock::now());
  const std::string copied_run = root("changed_model") + "/touched";
  fs::copy(run, copied_run, fs::copy_options::recursive);
  EXPECT_EQ(resume(copied_run).exit_code, 0) << "a touched model or data file is not a change";

  ASSERT_EQ(run_fedkseed("init-model --preset tiny --seed 1 --force --out " + copy).exit_code, 0);
  expect_one_error_line(resume(run), "the base model " + copy + " changed since the run began");

  const std::string data_run = stopped_run("changed_data");
  const std::string dolly = data() + "/databricks-dolly-15k.jsonl";
  const std::string original = read_text(dolly);
  write_text(dolly, original + "\n");
  expect_one_error_line(resume(data_run), "data file " + dolly + " changed since the run began");
  write_text(dolly, original);
  EXPECT_EQ(resume(data_run).exit_code, 0);
}

TEST_F(RunSafety, CorruptStateFieldsAreRefusedWithOneLine) {
  const std::string run = stopped_run("corrupt");
  const json state = json::parse(read_text(run + "/state.json"));
  const std::vector<std::pair<std::string, std::function<void(json&)>>> damages = {
      {"last_round", [](json& s) { s["last_round"] = -5; }},
      {"last_round", [](json& s) { s["last_round"] = 99; }},
      {"type must be number", [](json& s) { s["last_round"] = "one"; }},
      {"synced_pool_size", [](json& s) { s["synced_pool_size"] = json::array({1, 2}); }},
      {"data_positions", [](json& s) { s["data_positions"][0] = json::array({0, -3}); }},
      {"data_positions", [](json& s) { s["data_positions"].erase(0); }},
      {"pool_cumulative", [](json& s) { s["pool_cumulative"].erase(0); }},
      {"round_increments", [](json& s) { s["round_increments"][0] = json::array({json::array({1000, 0.5})}); }},
      {"best_round", [](json& s) { s["best_round"] = 7; }},
      {"seeds_and_schedule", [](json& s) { s["seeds_and_schedule"]["schedule"][0][0] = 55; }},
  };
  for (const auto& [field, damage] : damages) {
    SCOPED_TRACE(field);
    json broken = state;
    damage(broken);
    write_text(run + "/state.json", broken.dump());
    expect_one_error_line(resume(run), run + "/state.json: not a valid run state: ");
    EXPECT_NE(resume(run).err.find(field), std::string::npos);
  }
  fs::remove(run + "/state.json");
  fs::create_directories(run + "/state.json");
  expect_one_error_line(resume(run), "state.json: is a folder");
}

// K = 0 keeps one pool size per client: an empty list is refused, not read past its end.
TEST_F(RunSafety, UnboundedRunWithoutPoolSizesIsRefused) {
  ASSERT_EQ(train(root("unbounded"), "-K 0 --run_name run --stop_after 1").exit_code, 0);
  const std::string run = root("unbounded") + "/run";
  json state = json::parse(read_text(run + "/state.json"));
  state["synced_pool_size"] = json::array();
  write_text(run + "/state.json", state.dump());
  expect_one_error_line(resume(run), "synced_pool_size: -K 0 needs one size per client");
}

// A signal waits for the round in progress, then the run ends with 128 + the signal and the
// exact command that continues it; continued, it equals a run that was never interrupted.
TEST_F(RunSafety, SignalsStopAtARoundBoundaryAndTheRunResumesIdentically) {
  const std::string extra = "--rounds 8 --run_name run";
  ASSERT_EQ(train(root("whole"), extra).exit_code, 0);
  const std::string whole = root("whole") + "/run";
  for (const auto& [signal, code] : {std::pair{SIGTERM, 143}, std::pair{SIGINT, 130}}) {
    SCOPED_TRACE(code);
    const std::string name = "signal" + std::to_string(code);
    const std::string run = root(name) + "/run";
    const std::string err = *workspace_ + "/" + name + ".err";
    ::setenv("OMP_NUM_THREADS", "1", 1);
    const int child = start_fedkseed(train_args(root(name), extra), err);
    // Once round 1 is saved the run is in round 2 (or later): interrupt it there. (The deadline
    // only bounds a run that failed to start; the exit code below then says why.)
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (!(fs::exists(run + "/state.json") &&
             json::parse(read_text(run + "/state.json")).at("last_round").get<int64_t>() >= 1) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(child, signal);
    const int exit_code = wait_for_exit(child);
    if (exit_code == 0) GTEST_SKIP() << "the run finished before the signal";
    ASSERT_EQ(exit_code, code) << read_text(err);
    const std::string message = read_text(err);
    const std::string command = std::string(FEDKSEED_BINARY) + " train --resume " + run;
    EXPECT_NE(message.find("continue with: " + command + "\n"), std::string::npos) << message;
    for (const auto& entry : fs::directory_iterator(run)) EXPECT_NE(entry.path().extension(), ".tmp");

    const auto resumed = run_command(kThreads + command + " --quiet");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    for (const std::string file : {"results.json", "final_eval.json", "seeds.json"}) {
      EXPECT_EQ(read_text(whole + "/" + file), read_text(run + "/" + file)) << file;
    }
    // bytes_down may grow: a --sync from_init state keeps no per-round increments, so a client
    // last synchronised before the stop is sent the whole pool (README, Communication).
    json a = json::parse(read_text(whole + "/state.json")), b = json::parse(read_text(run + "/state.json"));
    for (const char* key : {"pool_cumulative", "data_positions", "eval_losses", "bytes_up", "last_round"}) {
      EXPECT_EQ(a.at(key), b.at(key)) << key;
    }
    std::istringstream whole_lines(read_text(whole + "/metrics.jsonl")), run_lines(read_text(run + "/metrics.jsonl"));
    for (std::string x, y; std::getline(whole_lines, x) && std::getline(run_lines, y);) {
      for (const char* key : {"round", "train_loss", "eval_loss", "steps_applied", "steps_skipped", "bytes_up"}) {
        EXPECT_EQ(json::parse(x).at(key), json::parse(y).at(key)) << key << " in " << y;
      }
    }
  }
}

// Every write goes to <file>.tmp first; here that name leads to a full disk (/dev/full).
TEST_F(RunSafety, AFailedWriteNamesTheFileAndLeavesNoTemporary) {
  const std::string run = stopped_run("full_disk");
  const std::string state = read_text(run + "/state.json");
  fs::create_symlink("/dev/full", run + "/metrics.jsonl.tmp");
  expect_one_error_line(resume(run), "write failed: " + run + "/metrics.jsonl: No space left on device");
  EXPECT_FALSE(fs::exists(fs::symlink_status(run + "/metrics.jsonl.tmp")));
  EXPECT_EQ(read_text(run + "/state.json"), state);
  EXPECT_EQ(resume(run).exit_code, 0);
}

// With no answer token left inside --max_length every loss is NaN: each round and the end
// of the run say so, with the likely causes.
TEST_F(RunSafety, ARunWhoseEveryStepIsSkippedWarns) {
  const auto result = train(root("skipped"), "--max_length 2 --rounds 2");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("round 1: all 6 steps were skipped: each had a NaN loss"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("round 2: all 6 steps were skipped"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("no step of rounds 1..2 was applied (all 12 skipped)"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--max_length too small"), std::string::npos) << result.err;
}

TEST(RunDirectoryUnit, WriteFileAtomicallyNamesTheFileAndCleansUp) {
  const std::string dir = make_temp_dir("atomic");
  write_file_atomically(dir + "/a.json", "{}\n");
  EXPECT_EQ(read_text(dir + "/a.json"), "{}\n");
  try {
    write_file_atomically(dir + "/missing/b.json", "{}\n");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "write failed: " + dir + "/missing/b.json: No such file or directory");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

TEST(RunDirectoryUnit, CreatedFoldersAreDistinctAndLocked) {
  const std::string root = make_temp_dir("run_dirs");
  std::set<std::string> paths;
  std::vector<RunDirectory> runs;
  for (int i = 0; i < 20; ++i) {
    runs.push_back(RunDirectory::create(root, ""));
    paths.insert(runs.back().path());
  }
  EXPECT_EQ(paths.size(), 20u);
  EXPECT_THROW(RunDirectory::open_locked(runs.front().path()), Error);
  EXPECT_THROW(RunDirectory::create(root, fs::path(runs.front().path()).filename().string()), Error);
  runs.clear();  // the locks end with their last copies
  EXPECT_NO_THROW(RunDirectory::open_locked(*paths.begin()));
  fs::remove_all(root);
}

}  // namespace
}  // namespace fedkseed::test
