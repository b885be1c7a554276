// run_bench: measures each performance figure on a random model and puts it beside its floor
// (copy bandwidth, the weight GEMMs alone in one CUDA graph, the target rate of exact normals).
#include "fedkseed/bench/bench.h"

#include <ATen/ATen.h>
#include <ATen/DeviceAccelerator.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fedkseed/common/device.h"
#include "fedkseed/common/dtype.h"
#include "fedkseed/common/error.h"
#include "fedkseed/common/logging.h"
#include "fedkseed/common/random.h"
#include "fedkseed/optimizers/zo_flat.h"
#include "bench_internal.h"

#if FEDKSEED_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace fedkseed {
namespace bench {

void synchronize(c10::Device device) {
  if (!device.is_cpu()) at::accelerator::synchronizeDevice(device.index());
}

double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

double median_ms(c10::Device device, int warmup, int repetitions, const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  std::vector<double> times;
  for (int i = 0; i < std::max(repetitions, 1); ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    synchronize(device);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(std::move(times));
}

void announce(const std::string& name, double value, const std::string& unit) {
  char text[160];
  std::snprintf(text, sizeof text, "bench: %-22s %12.4g %s", name.c_str(), value, unit.c_str());
  log::info(text);
}

std::pair<at::Tensor, at::Tensor> random_example(int64_t tokens, int64_t vocab, uint64_t seed) {
  Rng rng(seed, "bench example");
  at::Tensor ids = at::empty({1, tokens}, at::kLong);
  for (int64_t i = 0; i < tokens; ++i) ids[0][i] = rng.uniform_int(3, vocab);
  at::Tensor labels = ids.clone();
  labels.narrow(1, 0, tokens / 2).fill_(-100);
  return {ids, labels};
}

}  // namespace bench

namespace {

using bench::announce;
using bench::median_ms;
// The rate an exact generator reaches on one H200 (philox-icdf's target); replays are compute-bound.
constexpr double kTargetNormalsPerS = 1.3e12;

// fn replayed from one CUDA graph on CUDA (captured after one warm-up call), fn itself elsewhere.
std::function<void()> graphed(c10::Device device, const std::function<void()>& fn) {
#if FEDKSEED_WITH_CUDA
  if (device.is_cuda()) {
    auto graph = std::make_shared<at::cuda::CUDAGraph>();
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
    c10::cuda::device_synchronize();
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      fn();
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      fn();
      graph->capture_end();
    }
    c10::cuda::device_synchronize();
    return [graph] { graph->replay(); };
  }
#endif
  return fn;
}

// The seven projections of every layer and lm_head as separate GEMMs at M = seq (the
// "weight GEMMs alone"), in one graph.
double weight_gemms_ms(const LlamaModel& model, const BenchOptions& options) {
  c10::InferenceMode guard;
  std::vector<at::Tensor> weights;
  for (const auto& [name, tensor] : model.named_parameters()) {
    if (tensor.dim() == 2 && name != "model.embed_tokens.weight") weights.push_back(tensor);
  }
  if (model.config().tie_word_embeddings) weights.push_back(model.named_parameters().front().second);
  int64_t widest = 0;
  for (const at::Tensor& w : weights) widest = std::max(widest, w.size(1));
  const at::Tensor x = at::randn({options.seq, widest}, at::TensorOptions().dtype(model.dtype()).device(model.device()));
  std::vector<at::Tensor> outputs;
  for (const at::Tensor& w : weights) outputs.push_back(at::empty({options.seq, w.size(0)}, x.options()));
  const auto run = graphed(model.device(), [&] {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      at::mm_out(outputs[i], x.narrow(1, 0, weights[i].size(1)), weights[i].t());
    }
  });
  return median_ms(model.device(), options.warmup, options.repetitions, run);
}

double peak_bytes_and_reset(c10::Device device, bool reset) {
#if FEDKSEED_WITH_CUDA
  if (device.is_cuda()) {
    namespace allocator = c10::cuda::CUDACachingAllocator;
    const double peak = static_cast<double>(allocator::getDeviceStats(device.index()).allocated_bytes[0].peak);
    if (reset) allocator::resetPeakStats(device.index());
    return peak;
  }
#endif
  (void)reset;
  (void)device;
  return 0.0;
}

struct Measured {
  double copy_bytes_per_s = 0, gemm_ms = 0, forward_ms = 0, eager_forward_ms = 0, step_ms = 0;
  double step_pipelined_ms = 0, pass_ms = 0, pass2_ms = 0, peak_bytes = 0;
};

// Step, forward, passes and peak memory.
Measured measure_core(LlamaModel& model, const BenchOptions& options) {
  const c10::Device device = model.device();
  Measured m;
  const at::Tensor& flat = model.flat_parameters();
  const double bytes = static_cast<double>(flat.nbytes());
  {
    at::Tensor copy = at::empty_like(flat);
    m.copy_bytes_per_s = 2 * bytes / (1e-3 * median_ms(device, 1, options.repetitions, [&] { copy.copy_(flat); }));
  }
  announce("device copy", m.copy_bytes_per_s / 1e9, "GB/s");
  m.gemm_ms = weight_gemms_ms(model, options);
  announce("weight_gemms_ms", m.gemm_ms, "ms");
  const auto [ids, labels] = bench::random_example(options.seq, model.config().vocab_size, options.seed);
  m.forward_ms = median_ms(device, options.warmup, options.repetitions, [&] { model.graphed_loss(ids, labels); });
  announce("forward_ms", m.forward_ms, "ms");
  bench::trace_call(options, device, "forward", [&] { model.graphed_loss(ids, labels); });
  m.eager_forward_ms = median_ms(device, 1, std::min(options.repetitions, 5), [&] { model.loss(ids, labels); });
  announce("forward_eager_ms", m.eager_forward_ms, "ms");

  const ZoFlatParams params(model.named_parameters(), parse_rng_kind(options.rng));
  m.pass_ms = median_ms(device, options.warmup, options.repetitions, [&] { params.perturb(7, 1e-3); });
  announce("pass_ms", m.pass_ms, "ms");

  Rng rng(options.seed, "bench step seeds");
  ZoStepOptions step_options;
  step_options.rng = params.rng();
  {
    // The step's fused restore + update + next-perturbation pass, timed inside steps on a
    // constant loss: a step runs that pass, then asks for L+ (here: synchronise, read the clock).
    const at::Tensor constant_loss = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(device));
    ZoDeviceLoop passes(params, step_options, options.warmup + options.repetitions + 2);
    std::vector<double> fused_ms;
    auto step_start = std::chrono::steady_clock::now();
    bool timing = false;
    const auto fused_pass = [&] {
      bench::synchronize(device);
      step_start = std::chrono::steady_clock::now();
      timing = true;
      passes.step({-1, static_cast<uint64_t>(rng.uniform_int(1, kSeedEnd))}, [&] {
        if (timing) {
          bench::synchronize(device);
          fused_ms.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start).count());
          timing = false;
        }
        return constant_loss;
      });
    };
    for (int i = 0; i < 1 + options.warmup; ++i) fused_pass();  // the first has nothing to fuse
    fused_ms.clear();
    for (int i = 0; i < options.repetitions; ++i) fused_pass();
    m.pass2_ms = bench::median(fused_ms);
    announce("pass_two_normals_ms", m.pass2_ms, "ms");
    bench::trace_call(options, device, "pass_two_normals", fused_pass);
    passes.finish();
  }

  constexpr int kTracedSteps = 5;
  const int total = std::max(options.warmup + 2 * options.repetitions, kTracedSteps);
  ZoDeviceLoop loop(params, step_options, total);
  auto step = [&] {
    loop.step({-1, static_cast<uint64_t>(rng.uniform_int(1, kSeedEnd))},
              [&] { return model.graphed_loss(ids, labels); });
  };
  peak_bytes_and_reset(device, true);
  m.step_ms = median_ms(device, options.warmup, options.repetitions, step);
  announce("zo_step_ms", m.step_ms, "ms");
  bench::synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.repetitions; ++i) step();
  bench::synchronize(device);
  m.step_pipelined_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / options.repetitions;
  loop.finish();
  announce("zo_step_pipelined_ms", m.step_pipelined_ms, "ms");
  m.peak_bytes = peak_bytes_and_reset(device, false);
  bench::trace_call(options, device, "zo_steps", [&] {
    for (int i = 0; i < kTracedSteps; ++i) step();
    loop.finish();
  });
  return m;
}

BenchFigure time_figure(const std::string& name, const std::string& unit, double value, double floor,
                        const std::string& basis) {
  return {name, unit, value, floor, floor > 0 ? value / floor : 0.0, basis, false};
}
BenchFigure rate_figure(const std::string& name, const std::string& unit, double value, double ceiling,
                        const std::string& basis) {
  return {name, unit, value, ceiling, value > 0 ? ceiling / value : 0.0, basis, false};
}

LlamaConfig bench_config(const std::string& preset) {
  LlamaConfig config = llama_preset(preset);
  if (llama_preset_is_tiny(preset)) config.vocab_size = 1000;
  return config;
}

}  // namespace

BenchReport run_bench(const BenchOptions& options) {
  if (options.seq < 2) throw Error("--seq: " + std::to_string(options.seq) + " is too short; use at least 2");
  const c10::Device device = parse_device(options.device);
  const c10::ScalarType dtype = resolve_dtype(options.dtype, device, "float16");  // auto: the reference's fp16 on a GPU
  if (!rng_is_philox(parse_rng_kind(options.rng))) throw Error("--rng: bench times philox-icdf or philox");
  const LlamaConfig config = bench_config(options.preset);
  bench::prepare_trace_dir(options);
  log::info("bench: " + options.preset + " (" + std::to_string(config.parameter_count()) + " weights), " +
            dtype_name(dtype) + " on " + device.str() + ", seq " + std::to_string(options.seq) +
            "; each figure below as it is measured");
  LlamaModel model = LlamaModel::random_init(config, options.seed, dtype, device);
  BenchReport report{options.preset, device.str(), dtype_name(dtype), options.seq, config.parameter_count(), {}};
  const double n = static_cast<double>(config.parameter_count());
  const double bytes = static_cast<double>(model.flat_parameters().nbytes());

  const Measured m = measure_core(model, options);
  const double pass_floor_ms = 1e3 * 2 * bytes / m.copy_bytes_per_s;
  const std::string copy_basis = "device copy " + c10::str(m.copy_bytes_per_s / 1e9) + " GB/s";
  auto& f = report.figures;
  f.push_back(time_figure("zo_step_ms", "ms", m.step_ms, 2 * m.gemm_ms + 2 * pass_floor_ms,
                          "2 x weight GEMMs + 2 passes at copy bandwidth"));
  f.push_back(time_figure("zo_step_pipelined_ms", "ms", m.step_pipelined_ms, 2 * m.gemm_ms + 2 * pass_floor_ms,
                          "as zo_step_ms; steps back to back, one sync"));
  f.push_back(time_figure("forward_ms", "ms", m.forward_ms, m.gemm_ms, "weight GEMMs alone at M = seq"));
  f.push_back(time_figure("forward_eager_ms", "ms", m.eager_forward_ms, m.gemm_ms, "weight GEMMs alone"));
  f.push_back(time_figure("weight_gemms_ms", "ms", m.gemm_ms, m.gemm_ms, "itself (cuBLAS, one graph)"));
  f.push_back(time_figure("pass_ms", "ms", m.pass_ms, pass_floor_ms, copy_basis));
  f.push_back(rate_figure("pass_GBps", "GB/s", 2 * bytes / (1e-3 * m.pass_ms) / 1e9, m.copy_bytes_per_s / 1e9, copy_basis));
  f.push_back(time_figure("pass_two_normals_ms", "ms", m.pass2_ms, pass_floor_ms,
                          copy_basis + "; the fused pass inside a step"));
  f.push_back(time_figure("peak_memory_GB", "GB", m.peak_bytes / 1e9, 1.02 * bytes / 1e9, "weights x 1.02"));

  // Replay: timed where an estimate from 16 seeds is under the cap, else extrapolated.
  const ZoFlatParams params(model.named_parameters(), parse_rng_kind(options.rng));
  std::vector<SeedScalar> pairs;
  for (int64_t j = 0; j < 16; ++j) pairs.push_back({static_cast<uint64_t>(j + 1), 1e-3});
  const double per_seed_s = median_ms(device, 1, 1, [&] { params.replay_incremental(pairs, 1e-7, 0.0); }) / 1e3 / 16;
  double normals_per_s = n / per_seed_s;
  for (const int64_t k : options.replay_k) {
    pairs.clear();
    for (int64_t j = 0; j < k; ++j) pairs.push_back({static_cast<uint64_t>(j + 1), 1e-3});
    BenchFigure figure = time_figure("replay_k" + std::to_string(k) + "_s", "s", per_seed_s * static_cast<double>(k),
                                     static_cast<double>(k) * n / kTargetNormalsPerS, "K x n normals at 1.3e12/s");
    if (figure.value <= options.replay_cap_s) {
      figure.value = median_ms(device, 0, 1, [&] { params.replay_incremental(pairs, 1e-7, 0.0); }) / 1e3;
      normals_per_s = std::max(normals_per_s, static_cast<double>(k) * n / figure.value);
    } else {
      figure.extrapolated = true;
    }
    figure.ratio = figure.value / figure.floor;
    announce(figure.name, figure.value, figure.extrapolated ? "s (extrapolated)" : "s");
    f.push_back(figure);
  }
  f.push_back(rate_figure("normals_per_s", "1/s", normals_per_s, kTargetNormalsPerS, "target 1.3e12/s"));

  if (options.decode_batch > 0 && options.decode_tokens > 0) {
    for (const int64_t batch : {options.decode_batch, int64_t{1}}) {
      const bench::DecodeResult d = bench::measure_decode(model, options, batch);
      const double ceiling = static_cast<double>(batch) * m.copy_bytes_per_s / bytes;
      f.push_back(rate_figure(batch == 1 ? "decode_b1_tokens_per_s" : "decode_tokens_per_s", "tok/s", d.tokens_per_s,
                              ceiling, "batch / (weights read once per token at copy bandwidth)"));
      announce(f.back().name, d.tokens_per_s, "tok/s");
      bench::trace_call(options, device, "decode_b" + std::to_string(batch),
                        [&] { bench::measure_decode(model, options, batch); });
    }
  }
  if (options.round_clients > 0 && options.round_steps > 0) {
    // Two rounds: the first captures a graph per new example shape, the second is the steady
    // round that the rest of a run repeats.
    const bench::RoundResult first = bench::measure_round(model, options, 0);
    announce("round_first_s", first.seconds, "s");
    const bench::RoundResult r = bench::measure_round(model, options, 1);
    announce("round_s", r.seconds, "s");
    const double scale = r.mean_tokens / static_cast<double>(options.seq);
    const double floor = 1e-3 * static_cast<double>(r.steps) * (2 * m.gemm_ms * scale + 2 * pass_floor_ms) +
                         static_cast<double>(r.touched_seeds) * n / kTargetNormalsPerS +
                         1e-3 * static_cast<double>(options.round_eval) * m.gemm_ms * scale;
    f.push_back(time_figure("round_s", "s", r.seconds, floor,
                            "steps x step floor (scaled by mean length " + c10::str(r.mean_tokens) +
                                ") + replay of " + std::to_string(r.touched_seeds) + " seeds at 1.3e12/s + eval GEMMs"));
    f.push_back(time_figure("round_train_s", "s", r.train_seconds, 0, "part of round_s"));
    f.push_back(time_figure("round_replay_s", "s", r.replay_seconds,
                            static_cast<double>(r.touched_seeds) * n / kTargetNormalsPerS, "touched seeds at 1.3e12/s"));
    f.push_back(time_figure("round_eval_s", "s", r.eval_seconds, 0, "part of round_s"));
    f.push_back(time_figure("round_first_s", "s", first.seconds, floor,
                            "the first round: also a graph capture per new example shape"));
    f.push_back(time_figure("rounds60_min", "min", (first.seconds + 59 * r.seconds) / 60, 60 * floor / 60,
                            "60 rounds: the first, then 59 as round_s"));
  }
  return report;
}

std::string bench_json(const BenchReport& report) {
  nlohmann::json figures = nlohmann::json::object();
  for (const BenchFigure& f : report.figures) {
    figures[f.name] = {{"value", f.value},           {"unit", f.unit},
                       {"floor", f.floor},           {"ratio", f.ratio},
                       {"floor_basis", f.floor_basis}, {"extrapolated", f.extrapolated}};
  }
  return nlohmann::json{{"preset", report.preset}, {"device", report.device}, {"dtype", report.dtype},
                        {"seq", report.seq},       {"parameters", report.parameters}, {"figures", figures}}
      .dump(2);
}

std::string bench_table(const BenchReport& report) {
  std::ostringstream out;
  out << report.preset << " (" << report.parameters << " weights), " << report.dtype << " on " << report.device
      << ", seq " << report.seq << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %14s %14s %8s  %s\n", "figure", "value", "floor", "ratio", "floor basis");
  out << line;
  for (const BenchFigure& f : report.figures) {
    std::snprintf(line, sizeof line, "%-22s %14.4g %14.4g %8.2f  %s%s\n", f.name.c_str(), f.value, f.floor, f.ratio,
                  f.floor_basis.c_str(), f.extrapolated ? " (extrapolated)" : "");
    out << line;
  }
  return out.str();
}

}  // namespace fedkseed
