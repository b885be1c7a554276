// `fedkseed train` over several processes (Gloo on 127.0.0.1, the tiny model, CPU): 2 and 3
// ranks and a torchrun launch give the single-process run exactly; a killed, stopped, blocked or
// failing rank stops the others with an error (naming a failing rank and its message); a signal
// to one rank stops every rank after the same round; --resume on another process count finishes
// the interrupted run with the uninterrupted results. Plus the launch and record helpers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "fedkseed/common/error.h"
#include "fedkseed/common/options.h"
#include "fedkseed/federation/cohort.h"
#include "fedkseed/federation/distributed.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace fedkseed::test {
namespace {

constexpr const char* kLaunchVariables[] = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                                            "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT"};
constexpr int64_t kTimeout = 10;  // --dist_timeout of the fault runs, seconds

// A port for rank 0's store that no other process can take while this lives: bound with
// SO_REUSEADDR but never listening. The kernel then gives it to nobody else (neither a bind to
// port 0 nor an outgoing connection gets it), while rank 0's store, which sets SO_REUSEADDR too
// (c10d does), can still bind and listen on it. A port found free, closed and passed on could be
// taken in between by the tests that run at the same time.
class ReservedPort {
 public:
  ReservedPort() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const int on = 1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("no port to reserve for rank 0's store");
    }
    number_ = ntohs(address.sin_port);
  }
  ReservedPort(ReservedPort&& other) noexcept : fd_(std::exchange(other.fd_, -1)), number_(other.number_) {}
  ReservedPort& operator=(ReservedPort&&) = delete;
  ~ReservedPort() {
    if (fd_ >= 0) close(fd_);
  }
  int number() const { return number_; }

 private:
  int fd_;
  int number_ = 0;
};

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream split(text);
  for (std::string word; split >> word;) words.push_back(word);
  return words;
}

// Starts `program args` with stderr to `err_path`; as rank `rank` of `world` ranks when
// world > 0, else with no launch variables at all. One thread each, as torchrun sets it.
pid_t spawn(const std::string& program, const std::string& args, int rank, int world, int port,
            const std::string& err_path) {
  auto words = words_of(args);
  const pid_t child = fork();
  if (child != 0) return child;
  for (const char* name : kLaunchVariables) unsetenv(name);
  if (world > 0) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  }
  setenv("OMP_NUM_THREADS", "1", 1);
  std::vector<char*> argv = {const_cast<char*>(program.c_str())};
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  if (!freopen("/dev/null", "w", stdout) || !freopen(err_path.c_str(), "w", stderr)) _exit(126);
  execv(program.c_str(), argv.data());
  _exit(127);
}

// The exit code of `pid` (128 + signal when killed), or -1 after `limit` (the process is killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}


std::string run_dir_in(const std::string& root) {
  if (!fs::exists(root)) return "";
  for (const auto& entry : fs::directory_iterator(root)) return entry.path().string();
  return "";
}

struct Ranks {
  ReservedPort port;  // MASTER_PORT
  std::vector<pid_t> pids;
  std::vector<std::string> errors;  // stderr file per rank
  std::string root;                 // --log_root
};

class DistributedE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("distributed"));
    const auto model = run_fedkseed("init-model --preset tiny --seed 0 --out " + *workspace_ + "/model");
    ASSERT_EQ(model.exit_code, 0) << model.err;
    const auto data = run_fedkseed("make-tiny-data --records 600 --seed 0 --out " + *workspace_ + "/data");
    ASSERT_EQ(data.exit_code, 0) << data.err;
  }
  static void TearDownTestSuite() { delete workspace_; }

  // A small Dolly run (the federation e2e test's); later flags in `extra` override these.
  static std::string train_args(const std::string& root, const std::string& extra) {
    return "train --model " + *workspace_ + "/model --data_dir " + *workspace_ + "/data" +
           " --dataset dolly --num_clients 20 --iid dir0.5 -m 0.2 --rounds 3 --local_step 15 -K 64 --lr 2e-4"
           " --zo_eps 1e-3 --dtype fp32 --device cpu --max_length 96 --eval_metric loss --eval_max_samples 30"
           " --log --quiet --log_root " + root + " " + extra;
  }

  // Starts `world` ranks by hand (world 0: one process without launch variables).
  static Ranks start(const std::string& name, int world, const std::string& extra,
                     const std::vector<std::string>& rank_extra = {}) {
    Ranks ranks;
    ranks.root = *workspace_ + "/runs/" + name;
    for (int rank = 0; rank < std::max(world, 1); ++rank) {
      ranks.errors.push_back(*workspace_ + "/" + name + ".rank" + std::to_string(rank) + ".err");
      const std::string more = rank < static_cast<int>(rank_extra.size()) ? rank_extra[rank] : "";
      ranks.pids.push_back(spawn(FEDKSEED_BINARY, train_args(ranks.root, extra + " " + more), rank, world,
                                 ranks.port.number(), ranks.errors.back()));
    }
    return ranks;
  }

  // The run directory of `ranks` once its first round is in metrics.jsonl.
  static std::string after_first_round(const Ranks& ranks) {
    std::string run;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline && ((run = run_dir_in(ranks.root)).empty() || !fs::exists(run + "/metrics.jsonl") ||
                                       read_text(run + "/metrics.jsonl").empty())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return run;
  }

  // Runs to the end; every rank must succeed. Returns the run directory.
  static std::string train(const std::string& name, int world, const std::string& extra = "") {
    const Ranks ranks = start(name, world, extra);
    for (std::size_t rank = 0; rank < ranks.pids.size(); ++rank) {
      EXPECT_EQ(wait_for(ranks.pids[rank], std::chrono::seconds(120)), 0)
          << name << " rank " << rank << ": " << read_text(ranks.errors[rank]);
    }
    return run_dir_in(ranks.root);
  }


  // Everything but timings, memory peaks, the bytes between ranks and the launch's own flags.
  static void expect_same_run(const std::string& expected, const std::string& actual) {
    ASSERT_FALSE(actual.empty());
    auto a = read_json(expected + "/state.json"), b = read_json(actual + "/state.json");
    for (auto* state : {&a, &b}) {
      for (const char* key : {"options", "seconds", "peak_memory_allocated", "peak_memory_reserved"}) state->erase(key);
    }
    EXPECT_EQ(a, b) << actual << " differs from " << expected;
    EXPECT_EQ(read_text(expected + "/results.json"), read_text(actual + "/results.json"));
    EXPECT_EQ(read_text(expected + "/final_eval.json"), read_text(actual + "/final_eval.json"));
    const auto lines_a = read_jsonl(expected + "/metrics.jsonl"), lines_b = read_jsonl(actual + "/metrics.jsonl");
    ASSERT_EQ(lines_a.size(), lines_b.size());
    for (std::size_t i = 0; i < lines_a.size(); ++i) {
      for (const char* key : {"round", "train_loss", "eval_loss", "steps_applied", "steps_skipped", "bytes_up",
                              "bytes_down", "bytes_fedavg"}) {
        EXPECT_EQ(lines_a[i].at(key), lines_b[i].at(key)) << key << " in round " << i + 1;
      }
    }
  }

  // The single-process run of the default flags, made once.
  static std::string single_run() {
    static const std::string run = train("single", 0);
    return run;
  }

  static std::string* workspace_;
};

std::string* DistributedE2E::workspace_ = nullptr;

TEST_F(DistributedE2E, TwoAndThreeRanksGiveTheSingleProcessRun) {
  const std::string single = single_run();
  for (int world : {2, 3}) {
    const std::string run = train("ranks" + std::to_string(world), world);
    expect_same_run(single, run);
    // Each rank's (padded) share of the records, sizes and a replica checksum reach the
    // world - 1 others: more than an even share of the replies, less than all of them.
    for (const auto& line : read_jsonl(run + "/metrics.jsonl")) {
      const int64_t records = line.at("bytes_up").get<int64_t>() + 4 * 40;  // 40 bytes beside each uplink
      const int64_t between = line.at("bytes_between_ranks").get<int64_t>(), pairs = world * (world - 1);
      EXPECT_GT(between, pairs * (16 + records / world)) << "world " << world;
      EXPECT_LT(between, pairs * (16 + records + 100)) << "world " << world;
    }
  }
  for (const auto& line : read_jsonl(single + "/metrics.jsonl")) EXPECT_EQ(line.at("bytes_between_ranks").get<int64_t>(), 0);
}

TEST_F(DistributedE2E, ProSeedsUnboundedSeedsAndEpochsGiveTheSingleProcessRun) {
  // Pro records its history from the gathered replies; K = 0 grows the pool; epoch mode has
  // unequal step counts (and 5 ranks for a cohort of 4 leaves one idle).
  const std::vector<std::pair<int, std::string>> cases = {
      {3, "--bias_sampling"}, {2, "-K 0"}, {5, "--batch_or_epoch epoch --local_step 1 --bias_sampling --sync incremental"}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [world, flags] = cases[i];
    SCOPED_TRACE(flags);
    expect_same_run(train("case" + std::to_string(i) + "_single", 0, flags),
                    train("case" + std::to_string(i) + "_ranks", world, flags));
  }
}

TEST_F(DistributedE2E, TorchrunLaunchGivesTheSingleProcessRun) {
  if (!python_has("torch.distributed.run")) GTEST_SKIP() << "torch (for torchrun) not importable by " << python();
  const std::string root = *workspace_ + "/runs/torchrun";
  std::string args = train_args(root, "");
  args.erase(args.find(" --quiet"), 8);  // rank 0's info lines say how the group was made
  // --standalone: torchrun's agent binds its store to a port of the kernel's choosing. "--"
  // before the program: Python's argparse takes --log for an abbreviation of torchrun's --log-dir.
  const auto launched = run_command("env -u RANK -u WORLD_SIZE OMP_NUM_THREADS=1 " + python() +
                                    " -m torch.distributed.run --standalone --nproc-per-node=2 --no-python -- " +
                                    FEDKSEED_BINARY + " " + args);
  ASSERT_EQ(launched.exit_code, 0) << launched.err;
  EXPECT_NE(launched.err.find("rank 0 of 2: gloo process group"), std::string::npos) << launched.err;
  EXPECT_NE(launched.err.find("hosted by torchrun's agent"), std::string::npos) << launched.err;
  expect_same_run(single_run(), run_dir_in(root));
}

TEST_F(DistributedE2E, KilledRankStopsTheOthersThenResumeOnTwoRanksFinishesTheRun) {
  const std::string flags = "--rounds 5 --local_step 40 --dist_timeout " + std::to_string(kTimeout);
  const std::string whole = train("whole", 0, flags);
  Ranks ranks = start("killed", 3, flags);
  const std::string run = after_first_round(ranks);
  kill(ranks.pids[1], SIGKILL);
  EXPECT_EQ(wait_for(ranks.pids[1], std::chrono::seconds(10)), 128 + SIGKILL);
  for (int rank : {0, 2}) {
    EXPECT_EQ(wait_for(ranks.pids[rank], std::chrono::seconds(kTimeout + 30)), 2) << "rank " << rank;
    const std::string err = read_text(ranks.errors[rank]);
    EXPECT_NE(err.find("fedkseed: error: rank " + std::to_string(rank) + ": a gloo all-gather failed: another rank "
                       "left the run (it crashed, was killed, or stopped on an error of its own)"),
              std::string::npos) << "rank " << rank << ": " << err;
  }
  const int64_t saved = read_json(run + "/state.json").at("last_round").get<int64_t>();
  ASSERT_LT(saved, 5) << "the run finished before the kill";

  const ReservedPort port;
  std::vector<pid_t> resumed;
  for (int rank = 0; rank < 2; ++rank) {
    resumed.push_back(spawn(FEDKSEED_BINARY, "train --quiet --resume " + run, rank, 2, port.number(),
                            *workspace_ + "/resumed" + std::to_string(rank) + ".err"));
  }
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(wait_for(resumed[rank], std::chrono::seconds(120)), 0)
        << read_text(*workspace_ + "/resumed" + std::to_string(rank) + ".err");
  }
  expect_same_run(whole, run);
}

TEST_F(DistributedE2E, StoppedStoreHostStopsTheOthersAfterTheTimeout) {
  // A stopped rank 0 freezes the store it hosts too: nothing may wait on the store after the
  // rendezvous, or rank 1 would never return.
  Ranks ranks = start("stopped", 2, "--rounds 20 --local_step 40 --dist_timeout " + std::to_string(kTimeout));
  after_first_round(ranks);
  kill(ranks.pids[0], SIGSTOP);
  EXPECT_EQ(wait_for(ranks.pids[1], std::chrono::seconds(kTimeout + 30)), 2);
  kill(ranks.pids[0], SIGKILL);
  wait_for(ranks.pids[0], std::chrono::seconds(10));
  const std::string err = read_text(ranks.errors[1]);
  EXPECT_NE(err.find("fedkseed: error: rank 1: no answer from the other ranks for 10 s in a gloo all-gather "
                     "(--dist_timeout)"),
            std::string::npos) << err;
}

TEST_F(DistributedE2E, RankBlockedWhileLoadingStopsTheOthersAfterTheTimeout) {
  // Rank 1's config.json is a FIFO that nobody writes: its main thread blocks in open() after
  // the rendezvous, and rank 0 waits for it at the first exchange. Rank 1 itself stays blocked
  // (no library call ends a read that never returns): under torchrun the agent ends it once
  // rank 0 has failed, here the test does.
  const std::string model = *workspace_ + "/fifo_model";
  fs::create_directories(model);
  for (const auto& entry : fs::directory_iterator(*workspace_ + "/model")) {
    if (entry.path().filename() == "config.json") continue;
    fs::copy_file(entry.path(), model / entry.path().filename(), fs::copy_options::overwrite_existing);
  }
  fs::remove(model + "/config.json");
  ASSERT_EQ(mkfifo((model + "/config.json").c_str(), 0600), 0);
  Ranks ranks = start("blocked", 2, "--dist_timeout " + std::to_string(kTimeout), {"", "--model " + model});
  EXPECT_EQ(wait_for(ranks.pids[0], std::chrono::seconds(kTimeout + 60)), 2);
  kill(ranks.pids[1], SIGKILL);
  wait_for(ranks.pids[1], std::chrono::seconds(10));
  const std::string err = read_text(ranks.errors[0]);
  EXPECT_NE(err.find("fedkseed: error: rank 0: no answer from the other ranks for 10 s in a gloo all-gather "
                     "(--dist_timeout)"),
            std::string::npos) << err;
  fs::remove(model + "/config.json");
}

TEST_F(DistributedE2E, FailingRankStopsTheOthersWithItsError) {
  // Rank 1, or rank 0 (which hosts the store and writes the run), fails while loading the data.
  for (int failing : {1, 0}) {
    std::vector<std::string> rank_extra(2);
    rank_extra[failing] = "--data_dir " + *workspace_ + "/nowhere";
    Ranks ranks = start("failing" + std::to_string(failing), 2, "", rank_extra);
    const int other = 1 - failing;
    EXPECT_EQ(wait_for(ranks.pids[failing], std::chrono::seconds(60)), 2);
    EXPECT_EQ(wait_for(ranks.pids[other], std::chrono::seconds(60)), 2);
    const std::string err = read_text(ranks.errors[other]);
    EXPECT_NE(err.find("fedkseed: error: rank " + std::to_string(failing) + " stopped with an error, so rank " +
                       std::to_string(other) + " stops too: dolly: neither " + *workspace_ + "/nowhere"),
              std::string::npos) << err;
  }
}

TEST_F(DistributedE2E, SignalToOneRankStopsEveryRankAfterTheSameRound) {
  Ranks ranks = start("signalled", 2, "--rounds 20 --local_step 40");
  const std::string run = after_first_round(ranks);
  kill(ranks.pids[1], SIGTERM);
  std::vector<std::string> stopped_after;
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(wait_for(ranks.pids[rank], std::chrono::seconds(120)), 128 + SIGTERM) << "rank " << rank;
    const std::string err = read_text(ranks.errors[rank]);
    const auto at = err.find("fedkseed: SIGTERM: stopped after round ");
    ASSERT_NE(at, std::string::npos) << "rank " << rank << ": " << err;
    stopped_after.push_back(err.substr(at, err.find(" of ", at) - at));
  }
  EXPECT_EQ(stopped_after[0], stopped_after[1]);
  EXPECT_EQ(stopped_after[0], "fedkseed: SIGTERM: stopped after round " +
                                  std::to_string(read_json(run + "/state.json").at("last_round").get<int64_t>()));
}

TEST_F(DistributedE2E, DivergingReplicasStopTheRun) {
  Ranks ranks = start("diverging", 2, "", {"", "--lr 3e-4"});
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(wait_for(ranks.pids[rank], std::chrono::seconds(60)), 2);
    const std::string err = read_text(ranks.errors[rank]);
    EXPECT_NE(err.find("the replica after round 1 differs between ranks: rank 0 has parameter checksum"),
              std::string::npos) << err;
  }
}

// Sets the launch variables for one test and clears them afterwards.
class DistributedLaunch : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* name : kLaunchVariables) unsetenv(name);
  }
  static void set(const char* name, const char* value) { setenv(name, value, 1); }
  static std::string error_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
};

TEST_F(DistributedLaunch, NoVariablesMeansOneProcess) { EXPECT_FALSE(launch_from_environment().has_value()); }

TEST_F(DistributedLaunch, VariablesDescribeTheRank) {
  set("RANK", "2");
  set("WORLD_SIZE", "4");
  set("MASTER_ADDR", "node7");
  set("MASTER_PORT", "29500");
  auto launch = launch_from_environment();
  ASSERT_TRUE(launch.has_value());
  EXPECT_EQ(launch->rank, 2);
  EXPECT_EQ(launch->world_size, 4);
  EXPECT_EQ(launch->local_rank, 2);  // LOCAL_RANK defaults to RANK (one host)
  EXPECT_EQ(launch->master_addr, "node7");
  EXPECT_EQ(launch->master_port, 29500);
  EXPECT_FALSE(launch->agent_store);
  set("LOCAL_RANK", "0");
  set("TORCHELASTIC_USE_AGENT_STORE", "True");
  set("TORCHELASTIC_RESTART_COUNT", "3");
  launch = launch_from_environment();
  EXPECT_EQ(launch->local_rank, 0);
  EXPECT_TRUE(launch->agent_store);
  EXPECT_EQ(launch->restart_count, 3);
}

TEST_F(DistributedLaunch, BadVariablesAreNamed) {
  set("RANK", "0");
  EXPECT_NE(error_of([] { launch_from_environment(); }).find("environment variable WORLD_SIZE: not set"),
            std::string::npos);
  set("WORLD_SIZE", "2");
  set("MASTER_ADDR", "127.0.0.1");
  EXPECT_NE(error_of([] { launch_from_environment(); }).find("environment variable MASTER_PORT: not set"),
            std::string::npos);
  set("MASTER_PORT", "http");
  EXPECT_EQ(error_of([] { launch_from_environment(); }),
            "environment variable MASTER_PORT: 'http' is not an integer in [1, 65535]");
  set("MASTER_PORT", "29500");
  set("RANK", "2");
  EXPECT_EQ(error_of([] { launch_from_environment(); }),
            "environment variable RANK: '2' is not an integer in [0, 1]");
}

TEST(DistributedUnit, CohortSplitBalancesStepCounts) {
  EXPECT_EQ(assign_balanced({15, 15, 15, 15}, 3), (std::vector<int64_t>{0, 1, 2, 0}));
  // Largest first to the least-loaded rank (ties: the lower rank): 40 | 30+10 | 20+10.
  EXPECT_EQ(assign_balanced({10, 40, 20, 30, 10}, 3), (std::vector<int64_t>{2, 0, 2, 1, 1}));
  EXPECT_EQ(assign_balanced({5, 5}, 4), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(assign_balanced({7, 3, 2}, 1), (std::vector<int64_t>{0, 0, 0}));
}

TEST(DistributedUnit, ClientRecordsRoundTripAndTruncationIsAnError) {
  const std::vector<ClientRecord> records = {{3, std::string("\x01\x02\x00\x05", 4), 12.5, 1, 7, 9},
                                             {0, "", -0.25, 0, 0, 0}};
  const std::string bytes = encode_records(records);
  EXPECT_EQ(bytes.size(), 2 * 40u + 4);
  const auto decoded = decode_records(bytes);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0].slot, 3u);
  EXPECT_EQ(decoded[0].uplink, records[0].uplink);
  EXPECT_EQ(decoded[0].loss_sum, 12.5);
  EXPECT_EQ(decoded[0].pass, 1);
  EXPECT_EQ(decoded[0].offset, 7);
  EXPECT_EQ(decoded[0].applied, 9);
  EXPECT_EQ(decoded[1].loss_sum, -0.25);
  EXPECT_TRUE(decode_records("").empty());
  EXPECT_THROW(decode_records(bytes.substr(0, bytes.size() - 1)), Error);
}

TEST(DistributedUnit, BackendAndTimeoutFlagsAreValidated) {
  EXPECT_EQ(resolve_backend("auto", c10::Device(c10::kCPU)), "gloo");
  EXPECT_EQ(resolve_backend("gloo", c10::Device(c10::kCPU)), "gloo");
  try {
    resolve_backend("nccl", c10::Device(c10::kCPU));
    ADD_FAILURE() << "nccl on the CPU was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "--backend nccl: NCCL connects GPUs, --device is cpu; use --backend gloo");
  }
  TrainOptions options;
  options.device = "cpu";
  options.backend = "mpi";
  EXPECT_THROW(options.validate(), Error);
  options.backend = "gloo";
  options.dist_timeout = 0;
  try {
    options.validate();
    ADD_FAILURE() << "--dist_timeout 0 was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()), "--dist_timeout: 0 is invalid; accepted: >= 1 (seconds)");
  }
}

}  // namespace
}  // namespace fedkseed::test
