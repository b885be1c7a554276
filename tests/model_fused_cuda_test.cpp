// The fused CUDA tails of the LLaMA layer (src/model/fused_cuda.h) against the ATen op chains
// they replace: equal bit for bit in fp32, fp16 and bf16, for prefill- and decode-shaped input.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <ATen/ATen.h>

#if FEDKSEED_WITH_CUDA
#include "fused_cuda.h"
#endif

namespace fedkseed {
namespace {

TEST(ModelFusedCuda, RmsNormAndSwigluEqualTheAtenChainsBitForBit) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(0);
  const double eps = 1e-6;
  for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16}) {
    for (const std::vector<int64_t>& rows : {std::vector<int64_t>{2, 37}, std::vector<int64_t>{5, 1}}) {
      const auto options = at::TensorOptions().dtype(dtype).device(at::kCUDA);
      std::vector<int64_t> shape = rows;
      shape.push_back(320);
      const at::Tensor x = (at::randn(shape, options.dtype(at::kFloat)) * 3).to(dtype);
      const at::Tensor weight = (at::rand({320}, options.dtype(at::kFloat)) + 0.5).to(dtype);
      const at::Tensor xf = x.to(at::kFloat);
      const at::Tensor variance = xf.pow(2).mean(-1, true);
      const at::Tensor expected = weight * (xf * at::rsqrt(variance + eps)).to(dtype);
      const at::Tensor fused =
          detail::rms_norm_scale_cuda(x, detail::square_to_float_cuda(x).mean(-1, true), weight, eps);
      EXPECT_TRUE(at::equal(fused, expected)) << dtype << " rms_norm, max diff "
                                              << (fused.to(at::kFloat) - expected.to(at::kFloat)).abs().max();

      std::vector<int64_t> wide = rows;
      wide.push_back(2 * 96);
      const auto gate_up = (at::randn(wide, options.dtype(at::kFloat)) * 4).to(dtype).chunk(2, -1);
      ASSERT_TRUE(detail::silu_mul_cuda_accepts(gate_up[0], gate_up[1]));
      const at::Tensor product = detail::silu_mul_cuda(gate_up[0], gate_up[1]);
      const at::Tensor reference = at::silu(gate_up[0]) * gate_up[1];
      EXPECT_TRUE(product.is_contiguous());
      EXPECT_TRUE(at::equal(product, reference)) << dtype << " swiglu, max diff "
                                                 << (product.to(at::kFloat) - reference.to(at::kFloat)).abs().max();
    }
  }
  const at::Tensor strided = at::randn({4, 8, 16}, at::TensorOptions().device(at::kCUDA)).transpose(0, 1);
  EXPECT_FALSE(detail::silu_mul_cuda_accepts(strided, strided)) << "rows not at one stride: the ATen path";
#else
  GTEST_SKIP() << "a CPU-only build has no fused CUDA kernels";
#endif
}

}  // namespace
}  // namespace fedkseed
