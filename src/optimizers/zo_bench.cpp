// zo_bench: wall-clock timing of the philox kernels, synchronising the device around each batch.
#include "fedkseed/optimizers/zo_bench.h"

#include <ATen/Context.h>
#include <ATen/DeviceAccelerator.h>
#include <ATen/ops/normal.h>
#include <ATen/ops/zeros.h>

#include <chrono>
#include <functional>

#include "fedkseed/optimizers/perturbation.h"

namespace fedkseed {
namespace {

double seconds_per_run(c10::Device device, int iterations, const std::function<void()>& run) {
  auto sync = [&] {
    if (!device.is_cpu()) at::accelerator::synchronizeDevice(device.index());
  };
  run();
  sync();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) run();
  sync();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / iterations;
}

}  // namespace

ZoBenchResult zo_bench(c10::Device device, c10::ScalarType dtype, int64_t numel,
                       int64_t replay_pairs, int iterations, RngKind rng) {
  NamedParams params;
  params.emplace_back("bench.weight",
                      at::zeros({numel}, at::TensorOptions().dtype(dtype).device(device)));
  const at::Tensor& theta = params[0].second;
  const double bytes = 2.0 * static_cast<double>(theta.nbytes());
  ZoBenchResult result;
  uint64_t seed = 1;
  result.perturb_gb_per_s = bytes / 1e9 / seconds_per_run(device, iterations, [&] {
    zo_perturb(params, seed++, 1e-3, rng);
  });
  result.torch_perturb_gb_per_s = bytes / 1e9 / seconds_per_run(device, iterations, [&] {
    at::manual_seed(seed++);
    theta.add_(at::normal(0.0, 1.0, theta.sizes(), std::nullopt, theta.options()).mul(1e-3));
  });
  std::vector<SeedScalar> pairs;
  for (int64_t j = 0; j < replay_pairs; ++j) pairs.push_back({static_cast<uint64_t>(j + 1), 1.0});
  const double replay = seconds_per_run(device, iterations, [&] {
    zo_replay_incremental(params, pairs, 1e-6, 0.0, rng);
  });
  result.replay_normals_per_s = static_cast<double>(replay_pairs * numel) / replay;
  result.replay_gb_per_s = bytes / 1e9 / replay;
  return result;
}

}  // namespace fedkseed
