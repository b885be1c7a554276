// The committed golden run: `fedkseed train` on the tiny model for 3 rounds, FedKSeed and
// FedKSeed-Pro (and K = 0), both --sync modes, with the direction generator named (--rng
// philox) so that a new default generator does not move it, on the CPU with 2 threads. Every
// run file (timings and memory peaks aside), stdout and a digest of the final weights must
// equal tests/golden/<case>.json bit for bit: a refactor that changes any output fails here.
// scripts/regenerate_golden.sh rewrites the files (FEDKSEED_REGENERATE_GOLDEN=1) after a
// deliberate change of the outputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/model/llama.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace fedkseed::test {
namespace {

struct GoldenCase {
  const char* name;
  const char* flags;
};

const GoldenCase kCases[] = {
    {"uniform_from_init", "-K 24 --sync from_init"},
    {"uniform_incremental", "-K 24 --sync incremental"},
    {"pro_from_init", "-K 24 --sync from_init --bias_sampling"},
    {"pro_incremental", "-K 24 --sync incremental --bias_sampling"},
    {"unbounded_from_init", "-K 0 --sync from_init"},
    {"unbounded_incremental", "-K 0 --sync incremental"},
};

// Thread counts and the CPU's vector width change the rounding of the forward's reductions: the
// golden pins both (LibTorch's kernels and MKL's take their AVX2 paths on AVX-512 machines too).
const std::string kEnvironment = "OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 ";

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// FNV-1a 64 of the parameters' bytes: equal digests mean bit-identical weights.
std::string weights_digest(const std::string& model_dir) {
  const auto flat = LlamaModel::load(model_dir, at::kFloat, at::kCPU).flat_parameters().contiguous();
  const auto* bytes = static_cast<const unsigned char*>(flat.data_ptr());
  uint64_t hash = 14695981039346656037ull;
  for (int64_t i = 0; i < flat.nbytes(); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  std::ostringstream hex;
  hex << std::hex << hash;
  return hex.str();
}

json without(json object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) object.erase(key);
  return object;
}

// state.json's identity without the files' modification times, which differ on every machine.
json without_mtimes(json state) {
  for (auto& file : state["identity"]["model"]["files"]) file.erase("mtime_ns");
  for (auto& file : state["identity"]["data"]) file.erase("mtime_ns");
  return state;
}

// Everything the run wrote, with the machine-dependent parts (the workspace path, timings,
// memory peaks, file modification times, the timestamped run folder) taken out.
json normalised_run(const std::string& run, const std::string& workspace, const std::string& stdout_text) {
  const auto text = [&](const std::string& file) { return replace_all(read_text(run + "/" + file), workspace, "<ws>"); };
  json out;
  json files = json::array();
  for (const auto& entry : fs::directory_iterator(run)) files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  out["files"] = files;
  out["config.yaml"] = text("config.yaml");
  out["seeds.json"] = json::parse(text("seeds.json"));
  out["state.json"] = without_mtimes(
      without(json::parse(text("state.json")), {"seconds", "peak_memory_allocated", "peak_memory_reserved"}));
  out["results.json"] = json::parse(text("results.json"));
  out["final_eval.json"] = json::parse(text("final_eval.json"));
  json metrics = json::array();
  std::istringstream lines(text("metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    metrics.push_back(without(json::parse(line), {"seconds_train", "seconds_aggregate", "seconds_eval",
                                                  "peak_memory_allocated", "peak_memory_reserved"}));
  }
  out["metrics.jsonl"] = metrics;
  out["stdout"] = replace_all(stdout_text, workspace, "<ws>");
  out["weights_fnv1a"] = weights_digest(run + "/model_final_round3");
  return out;
}

class GoldenRun : public ::testing::TestWithParam<GoldenCase> {
 protected:
  static void SetUpTestSuite() {
    workspace_ = new std::string(make_temp_dir("golden"));
    const auto model = run_command(kEnvironment + FEDKSEED_BINARY + " init-model --preset tiny --seed 0 --out " +
                                   *workspace_ + "/model");
    ASSERT_EQ(model.exit_code, 0) << model.err;
    const auto data = run_fedkseed("make-tiny-data --records 300 --seed 0 --out " + *workspace_ + "/data");
    ASSERT_EQ(data.exit_code, 0) << data.err;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*workspace_);
    delete workspace_;
  }
  static std::string* workspace_;
};

std::string* GoldenRun::workspace_ = nullptr;

TEST_P(GoldenRun, ReproducesTheCommittedOutputsBitForBit) {
  const GoldenCase& golden = GetParam();
  const std::string root = *workspace_ + "/runs/" + golden.name;
  const auto result = run_command(
      kEnvironment + FEDKSEED_BINARY + " train --model " + *workspace_ + "/model --data_dir " + *workspace_ +
      "/data --dataset dolly --num_clients 12 --iid dir0.5 -m 0.25 --rounds 3 --local_step 4 --batch_size 2"
      " --lr 2e-4 --zo_eps 1e-3 --rng philox --dtype fp32 --device cpu --max_length 96 --eval_metric loss"
      " --eval_max_samples 8 --seed 7 --log --save --save_weights --quiet --log_root " + root + " " + golden.flags);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string run;
  for (const auto& entry : fs::directory_iterator(root)) run = entry.path().string();
  const json actual = normalised_run(run, *workspace_, result.out);

  const std::string path = std::string(FEDKSEED_SOURCE_DIR) + "/tests/golden/" + golden.name + ".json";
  if (std::getenv("FEDKSEED_REGENERATE_GOLDEN") != nullptr) {
    write_text(path, actual.dump(1) + "\n");
    GTEST_SKIP() << "rewrote " << path;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing: run scripts/regenerate_golden.sh";
  const json expected = json::parse(read_text(path));
  EXPECT_EQ(actual, expected) << "differences (JSON patch from the golden to this run):\n"
                              << json::diff(expected, actual).dump(1);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenRun, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace fedkseed::test
