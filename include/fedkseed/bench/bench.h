// `fedkseed bench`: a random model of a preset's shape and its performance figures (ZO step,
// forward and its weight GEMMs alone, one pass, normals/s, replay, peak memory, batched decoding,
// a Dolly-shaped round), each with its floor and the ratio to it, as JSON and as a table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedkseed {

struct BenchOptions {
  std::string preset = "dj-1.3b";
  int64_t seq = 256;
  std::string dtype = "auto";                  // fp32 on the CPU, fp16 on a GPU
  std::string device = "auto";
  std::string rng = "philox-icdf";             // the direction generator (philox-icdf | philox)
  int warmup = 3;
  int repetitions = 20;                        // timed repetitions per figure (median)
  std::vector<int64_t> replay_k{1024, 4096};
  double replay_cap_s = 60.0;                  // above this estimate a replay is extrapolated
  int64_t decode_batch = 64, decode_prompt = 128, decode_tokens = 128;
  int64_t round_clients = 10, round_steps = 200, round_k = 4096, round_eval = 100;
  uint64_t seed = 0;
  std::string trace_dir;                       // non-empty: a Chrome trace of each figure's work done once more
};

// One figure: `value` in `unit`; `floor` the best it could be on this device and how that was
// obtained; ratio = value/floor for times and sizes, floor/value for rates (>= 1 when short).
struct BenchFigure {
  std::string name, unit;
  double value = 0.0, floor = 0.0, ratio = 0.0;
  std::string floor_basis;
  bool extrapolated = false;
};

struct BenchReport {
  std::string preset, device, dtype;
  int64_t seq = 0, parameters = 0;
  std::vector<BenchFigure> figures;
};

// Builds LlamaModel::random_init(llama_preset(preset)) and measures every figure. Throws
// fedkseed::Error for an unknown preset, dtype or device, or seq < 2.
BenchReport run_bench(const BenchOptions& options);

// {"preset", "device", "dtype", "seq", "parameters", "figures": {name: {value, unit, floor,
// ratio, floor_basis, extrapolated}}}.
std::string bench_json(const BenchReport& report);
// A fixed-width table, one figure per line.
std::string bench_table(const BenchReport& report);

}  // namespace fedkseed
