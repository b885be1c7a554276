// gemv_cuda (src/model/gemv_cuda.h) against the product in fp64 on the CPU: row counts that
// fill the device and that make warps share a row, K not a multiple of a warp's 256-element
// run, both half types; and the operands it must leave to at::linear.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <ATen/ATen.h>

#include <tuple>

#if FEDKSEED_WITH_CUDA
#include "gemv_cuda.h"
#endif

namespace fedkseed {
namespace {

TEST(GemvCuda, MatchesFp64ProductAndRefusesWhatItCannotTake) {
#if FEDKSEED_WITH_CUDA
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(0);
  // (rows N, K)
  for (const auto& [rows, k] : {std::tuple<int64_t, int64_t>{1, 8}, {37, 264}, {2048, 2048}, {32005, 2048},
                                {300, 5504}, {6, 17920}}) {
    // Relative rounding of the result in the dtype (half an ulp at 1).
    for (const auto& [dtype, rounding] : {std::tuple{at::kHalf, 0x1p-11}, std::tuple{at::kBFloat16, 0x1p-8}}) {
      const auto cuda = at::TensorOptions().dtype(dtype).device(at::kCUDA);
      const at::Tensor x = at::randn({1, 1, k}, cuda.dtype(at::kFloat)).to(dtype);
      const at::Tensor weight = (at::randn({rows, k}, cuda.dtype(at::kFloat)) / std::sqrt(double(k))).to(dtype);
      ASSERT_TRUE(detail::gemv_cuda_accepts(x, weight));
      const at::Tensor y = detail::gemv_cuda(x, weight);
      ASSERT_EQ(y.sizes(), (at::IntArrayRef{1, 1, rows}));
      ASSERT_EQ(y.scalar_type(), dtype);
      const at::Tensor x64 = x.to(at::kCPU, at::kDouble).reshape({k});
      const at::Tensor w64 = weight.to(at::kCPU, at::kDouble);
      const at::Tensor expected = at::mv(w64, x64);
      // fp32 summation error (K terms of size |w||x|) plus the final rounding.
      const at::Tensor bound = at::mv(w64.abs(), x64.abs()) * (double(k) * 0x1p-24) + expected.abs() * rounding;
      const at::Tensor error = (y.to(at::kCPU, at::kDouble).reshape({rows}) - expected).abs();
      EXPECT_TRUE((error <= bound + 1e-7).all().item<bool>())  // 1e-7: fp16 subnormal steps
          << dtype << " N " << rows << " K " << k << ": worst excess " << (error - bound).max().item<double>();
    }
  }
  const auto half = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
  const at::Tensor weight = at::randn({16, 64}, half);
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({2, 64}, half), weight)) << "two rows";
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({64}, half.dtype(at::kFloat)), weight.to(at::kFloat))) << "fp32";
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({12}, half), at::randn({16, 12}, half))) << "K % 8";
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({65}, half).narrow(0, 1, 64), weight)) << "misaligned x";
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({64}, half), at::randn({64, 16}, half).t())) << "strided weight";
  EXPECT_FALSE(detail::gemv_cuda_accepts(at::randn({64}, half).requires_grad_(), weight)) << "gradient wanted";
#else
  GTEST_SKIP() << "built without CUDA";
#endif
}

}  // namespace
}  // namespace fedkseed
