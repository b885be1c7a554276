// Internal to src/bench: timing helpers and the measurements that live in bench_round.cpp
// (batched decoding, the Dolly-shaped round), shared with bench.cpp.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fedkseed/bench/bench.h"
#include "fedkseed/model/llama.h"

namespace fedkseed::bench {

void synchronize(c10::Device device);
// One console line for a figure as soon as it is measured (a large model takes minutes in all).
void announce(const std::string& name, double value, const std::string& unit);
// The median of non-empty `values` (the upper middle one for an even count).
double median(std::vector<double> values);
// Median milliseconds of `repetitions` calls of fn, each synchronised, after `warmup` calls.
double median_ms(c10::Device device, int warmup, int repetitions, const std::function<void()>& fn);
// One training example of `tokens` random ids in [3, vocab) labelled on its second half:
// {ids, labels}, both [1, tokens] int64 on the CPU.
std::pair<at::Tensor, at::Tensor> random_example(int64_t tokens, int64_t vocab, uint64_t seed);
// Creates options.trace_dir when set; throws fedkseed::Error naming --trace when it cannot.
void prepare_trace_dir(const BenchOptions& options);
// With options.trace_dir set: runs `call` once more under the profiler and writes
// trace_dir/<figure>.json (bench_trace.cpp); otherwise does nothing.
void trace_call(const BenchOptions& options, c10::Device device, const std::string& figure,
                const std::function<void()>& call);

struct DecodeResult {
  double tokens_per_s = 0.0;
  double seconds = 0.0;
};
// Greedy decoding of `batch` random prompts for options.decode_tokens tokens.
DecodeResult measure_decode(const LlamaModel& model, const BenchOptions& options, int64_t batch);

struct RoundResult {
  double seconds = 0.0;        // the whole round
  double train_seconds = 0.0;  // clients' local steps, syncs included
  double replay_seconds = 0.0; // the server's incremental replay of touched seeds
  double eval_seconds = 0.0;
  int64_t steps = 0, touched_seeds = 0;
  double mean_tokens = 0.0;    // average example length
  double eval_loss = 0.0;      // mean eval loss (read once, at the end)
};
// Round `round` (0, 1, ...; each draws its own examples): each client copies the global weights,
// runs round_steps ZO steps on Dolly-shaped examples (ZoDeviceLoop + graphed_loss), then the
// server replays the touched seeds' summed g and evaluates round_eval examples. The first round
// of a process also captures a CUDA graph per new example shape; later rounds mostly replay them.
RoundResult measure_round(LlamaModel& model, const BenchOptions& options, int round);

}  // namespace fedkseed::bench
