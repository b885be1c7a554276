// CUDA kernels against their CPU twin: the same z and the same θ after perturb, restore+update
// and replay, bit for bit (optimizers/philox.h uses only correctly rounded single ops).
// Skipped without a GPU; the GPU machine runs it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "fedkseed/optimizers/perturbation.h"
#include "fedkseed/optimizers/perturbation_cuda.h"
#include "fedkseed/optimizers/zo_flat.h"

namespace fedkseed {
namespace {

bool gpu_ready() { return FEDKSEED_WITH_CUDA && at::hasCUDA(); }
constexpr const char* kNoGpu = "no CUDA device, or built without CUDA kernels";

int64_t count_bit_differences(const at::Tensor& a, const at::Tensor& b) {
  const auto type = a.element_size() == 4 ? at::kInt : at::kShort;
  return a.cpu().contiguous().view(type).ne(b.cpu().contiguous().view(type)).sum().item<int64_t>();
}

const int64_t kSizes[] = {1, 127, (int64_t{1} << 20) + 3};
const RngKind kGenerators[] = {RngKind::philox_icdf, RngKind::philox};

// The inverse-CDF kernels' table for one scope: what the device takes (expanded on a Hopper),
// or the interpolated one of GPUs with less shared memory.
struct IcdfTableScope {
  explicit IcdfTableScope(bool interpolated) { set(interpolated); }
  ~IcdfTableScope() { set(false); }
  IcdfTableScope(const IcdfTableScope&) = delete;
  IcdfTableScope& operator=(const IcdfTableScope&) = delete;
  static void set(bool interpolated) {
#if FEDKSEED_WITH_CUDA
    detail::zo_set_cuda_icdf_table(interpolated ? detail::CudaIcdfTable::interpolated
                                                : detail::CudaIcdfTable::automatic);
#else
    (void)interpolated;
#endif
  }
};

TEST(ZoCuda, DirectionBitIdenticalToCpu) {
  if (!gpu_ready()) GTEST_SKIP() << kNoGpu;
  for (RngKind rng : kGenerators) {
    for (int64_t n : kSizes) {
      const std::string name = "model.layers.1.mlp.gate_proj.weight";
      const at::Tensor cpu = zo_direction(name, 987654321, {n}, at::kCPU, rng);
      const at::Tensor gpu = zo_direction(name, 987654321, {n}, at::kCUDA, rng);
      EXPECT_EQ(count_bit_differences(gpu, cpu), 0) << rng_kind_name(rng) << " n = " << n;
    }
  }
}

NamedParams on_device(const NamedParams& params, c10::Device device) {
  NamedParams out;
  for (const auto& [name, t] : params) out.emplace_back(name, t.to(device).clone());
  return out;
}

TEST(ZoCuda, PerturbUpdateAndReplayBitIdenticalToCpu) {
  if (!gpu_ready()) GTEST_SKIP() << kNoGpu;
  for (bool interpolated : {false, true}) {
  const IcdfTableScope scope(interpolated);
  for (RngKind rng : kGenerators) {
  for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    at::manual_seed(1);
    NamedParams cpu;
    for (int64_t n : kSizes) {
      cpu.emplace_back("model.w" + std::to_string(n), (at::randn({n}) * 0.02).to(dtype));
    }
    cpu.emplace_back("model.layers.0.input_layernorm.weight", at::ones({4099}, dtype));
    const NamedParams base = on_device(cpu, at::kCPU);
    NamedParams gpu = on_device(cpu, at::kCUDA);
    std::vector<SeedScalar> few = {{11, 1.5}, {12, -2.0}, {13, 0.0}};
    std::vector<SeedScalar> many;
    for (int j = 0; j < 37; ++j) many.push_back({1000ull + j, std::cos(j) * 10});
    for (NamedParams* params : {&cpu, &gpu}) {
      zo_perturb(*params, 5, 1e-3, rng);
      zo_perturb(*params, 5, -2e-3, rng);
      zo_restore_update(*params, 5, 1e-3, 3.0, 1e-3, 0.01, rng);
      zo_replay_incremental(*params, few, 1e-3, 0.01, rng);  // terms inline
      zo_replay_incremental(*params, many, 1e-4, 0.0, rng);  // terms in memory
    }
    const std::string type = rng_kind_name(rng) + " " + c10::toString(dtype) + (interpolated ? " interpolated table" : "");
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      EXPECT_EQ(count_bit_differences(gpu[i].second, cpu[i].second), 0)
          << type << " " << cpu[i].first;
    }
    NamedParams gpu_replayed = on_device(base, at::kCUDA);
    NamedParams cpu_replayed = on_device(base, at::kCPU);
    zo_replay(gpu_replayed, on_device(base, at::kCUDA), many, 1e-3, 0.1, rng);
    zo_replay(cpu_replayed, base, many, 1e-3, 0.1, rng);
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      EXPECT_EQ(count_bit_differences(gpu_replayed[i].second, cpu_replayed[i].second), 0)
          << type << " replay " << cpu[i].first;
    }
  }
  }
  }
}

TEST(ZoCuda, MisalignedViewsTakeTheScalarPathWithSameResult) {
  if (!gpu_ready()) GTEST_SKIP() << kNoGpu;
  const at::Tensor storage_cpu = at::randn({1000}).to(at::kHalf);
  const at::Tensor storage_gpu = storage_cpu.cuda();
  NamedParams cpu = {{"w", storage_cpu.slice(0, 3, 1000)}};  // 6-byte offset: not 16-byte aligned
  NamedParams gpu = {{"w", storage_gpu.slice(0, 3, 1000)}};
  for (RngKind rng : kGenerators) {
    zo_perturb(cpu, 77, 0.5, rng);
    zo_perturb(gpu, 77, 0.5, rng);
    EXPECT_EQ(count_bit_differences(storage_gpu, storage_cpu), 0) << rng_kind_name(rng);
  }
}


// Views of one flat buffer spanning several chunks, one of them misaligned for 16-byte packs.
NamedParams flat_views(const at::Tensor& flat) {
  NamedParams params;
  int64_t offset = 0;
  for (const auto& [name, n] : std::vector<std::pair<std::string, int64_t>>{
           {"model.layers.0.mlp.up_proj.weight", 3 * 8192 + 5},
           {"model.layers.0.input_layernorm.weight", 4},
           {"lm_head.weight", 20000}}) {
    params.emplace_back(name, flat.narrow(0, offset, n));
    offset += n;
  }
  return params;
}

TEST(ZoCuda, FlatPassesAndDeviceLoopBitIdenticalToCpu) {
  if (!gpu_ready()) GTEST_SKIP() << kNoGpu;
  for (bool interpolated : {false, true}) {
  const IcdfTableScope scope(interpolated);
  for (RngKind rng : kGenerators) {
  for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    at::manual_seed(2);
    const at::Tensor cpu_flat = (at::randn({3 * 8192 + 5 + 4 + 20000}) * 0.02).to(dtype);
    const at::Tensor gpu_flat = cpu_flat.cuda();
    std::vector<SeedScalar> many;
    for (int j = 0; j < 37; ++j) many.push_back({1000ull + j, std::cos(j) * 10});
    const std::vector<float> losses = {2.0f, 1.5f, NAN, 1.0f, 3.0f, 3.25f};
    for (const at::Tensor& flat : {cpu_flat, gpu_flat}) {
      const ZoFlatParams passes(flat_views(flat), rng);
      passes.perturb(5, 1e-3);
      passes.replay_incremental(many, 1e-4, 0.1);
      ZoStepOptions options;
      options.rng = rng;
      options.lr = 1e-3;
      options.weight_decay = 0.01;
      ZoDeviceLoop loop(passes, options, 3);
      int call = 0;
      for (uint64_t seed : {11, 12, 13}) {
        loop.step({-1, seed}, [&] { return at::full({1}, losses[call++], flat.options().dtype(at::kFloat)); });
      }
      const auto results = loop.finish();
      EXPECT_TRUE(results[0].applied);
      EXPECT_FALSE(results[1].applied);
    }
    EXPECT_EQ(count_bit_differences(gpu_flat, cpu_flat), 0)
        << rng_kind_name(rng) << " " << c10::toString(dtype) << (interpolated ? " interpolated table" : "");
  }
  }
  }
}

}  // namespace
}  // namespace fedkseed
