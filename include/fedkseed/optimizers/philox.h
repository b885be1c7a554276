// The perturbation directions z(seed, parameter name, element index) drawn from Philox4x32-10:
// philox-icdf (8 normals per Philox call, 16 bits each through an inverse-CDF table) and philox
// (4 per call, Box–Muller). Host and device share this code; every float operation is a single
// IEEE op rounded to nearest (no FMA contraction, no fast-math, our own log/sin/cos polynomials),
// so CPU, CUDA and the numpy twin produce bit-identical z.
#pragma once

#include <cstdint>
#include <cstring>

#include "fedkseed/common/hash.h"
#include "fedkseed/optimizers/normal_table.h"

#if defined(__CUDACC__)
#define FEDKSEED_HD __host__ __device__ __forceinline__
#else
#define FEDKSEED_HD inline
#endif

namespace fedkseed::philox {

struct Uint4 {
  uint32_t x, y, z, w;
};
struct Float4 {
  float x, y, z, w;
};

// Correctly rounded single-precision ops. On the device the _rn intrinsics stop nvcc from
// fusing a multiply and an add into an FMA (which rounds once and would change the bits).
FEDKSEED_HD float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
FEDKSEED_HD float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FEDKSEED_HD float div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
FEDKSEED_HD float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return __builtin_sqrtf(a);
#endif
}
FEDKSEED_HD uint32_t float_bits(float a) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(a);
#else
  uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  return bits;
#endif
}
FEDKSEED_HD float bits_float(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float a;
  std::memcpy(&a, &bits, sizeof a);
  return a;
#endif
}

// One Philox4x32 round on the counter (x, y, z, w) with key (key0, key1).
// On the device the halves come from __umulhi and a 32-bit multiply: a 64-bit product there
// makes nvcc add a zero high word after every wide multiply.
FEDKSEED_HD void philox_round(uint32_t& x, uint32_t& y, uint32_t& z, uint32_t& w, uint32_t key0,
                              uint32_t key1) {
#if defined(__CUDA_ARCH__)
  const uint32_t hi0 = __umulhi(0xD2511F53u, x), lo0 = 0xD2511F53u * x;
  const uint32_t hi1 = __umulhi(0xCD9E8D57u, z), lo1 = 0xCD9E8D57u * z;
#else
  const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * x;
  const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * z;
  const auto hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const auto hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
#endif
  x = hi1 ^ y ^ key0;
  y = lo1;
  z = hi0 ^ w ^ key1;
  w = lo0;
}
// The key schedule: the Weyl increments added to the key after each round.
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;

// Philox4x32 with 10 rounds (Salmon et al., SC'11; Random123's constants and key schedule).
// Same layout as ATen's philox_engine: key = seed, counter = (offset, subsequence).
FEDKSEED_HD Uint4 philox4x32_10(Uint4 counter, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < 10; ++round) {
    philox_round(counter.x, counter.y, counter.z, counter.w, key0, key1);
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// ln(w · 2^-24) for an odd integer w in [1, 2^24): exponent split, then
// ln m = 2·atanh((m−1)/(m+1)) for m in [√½, √2) (series to s^9: truncation < 1e-9).
FEDKSEED_HD float log_of_odd24(uint32_t w) {
  uint32_t bits = float_bits(static_cast<float>(w));  // exact: w < 2^24
  int exponent = static_cast<int>(bits >> 23) - 127;
  bits = (bits & 0x007FFFFFu) | 0x3F800000u;  // mantissa m in [1, 2)
  const uint32_t above = bits > 0x3FB504F3u ? 1u : 0u;  // m > √2: use m/2, exponent + 1 (exact)
  bits -= above << 23;
  exponent += static_cast<int>(above);
  const float m = bits_float(bits);
  const float s = div(add(m, -1.0f), add(m, 1.0f));
  const float s2 = mul(s, s);
  float p = 0x1.c71c72p-4f;  // 1/9 (hex literals: the same float on every parser)
  p = add(mul(p, s2), 0x1.24924ap-3f);
  p = add(mul(p, s2), 0x1.99999ap-3f);
  p = add(mul(p, s2), 0x1.555556p-2f);
  p = add(mul(p, s2), 1.0f);
  const float log_m = mul(mul(2.0f, s), p);
  return add(mul(static_cast<float>(exponent - 24), 0x1.62e430p-1f), log_m);
}

// cos and sin of 2π·w·2^-24 for an odd integer w in [1, 2^24): reduce to quarter turns
// q + f with |f| <= ½ exactly in integers, then Taylor polynomials on |x| <= π/4.
FEDKSEED_HD void cos_sin_of_odd24(uint32_t w, float& cos_out, float& sin_out) {
  const uint32_t q = (w + (1u << 21)) >> 22;  // nearest quarter turn (w odd: no ties)
  const int32_t f = static_cast<int32_t>(w) - static_cast<int32_t>(q << 22);
  const float x = mul(mul(static_cast<float>(f), 0x1p-22f), 0x1.921fb6p+0f);  // f·2^-22·π/2
  const float x2 = mul(x, x);
  float sp = 0x1.71de3ap-19f;  // 1/9!
  sp = add(mul(sp, x2), -0x1.a01a02p-13f);
  sp = add(mul(sp, x2), 0x1.111112p-7f);
  sp = add(mul(sp, x2), -0x1.555556p-3f);
  const float s = add(x, mul(mul(x, x2), sp));
  float cp = -0x1.27e4fcp-22f;  // -1/10!
  cp = add(mul(cp, x2), 0x1.a01a02p-16f);
  cp = add(mul(cp, x2), -0x1.6c16c2p-10f);
  cp = add(mul(cp, x2), 0x1.555556p-5f);
  cp = add(mul(cp, x2), -0.5f);
  const float c = add(1.0f, mul(x2, cp));
  // Rotate by q quarter turns; selects rather than a switch so the CPU loop vectorises.
  const bool odd = (q & 1u) != 0;
  const float cos_abs = odd ? s : c;
  const float sin_abs = odd ? c : s;
  cos_out = ((q + 1u) & 2u) != 0 ? -cos_abs : cos_abs;
  sin_out = (q & 2u) != 0 ? -sin_abs : sin_abs;
}

// The uniform (2v+1)·2^-24 of a Philox word, v its top 23 bits: an exact float strictly
// inside (0, 1), passed around as the odd integer 2v+1.
FEDKSEED_HD uint32_t odd24(uint32_t word) { return ((word >> 9) << 1) | 1u; }

// Box–Muller on two Philox words: r·cos θ and r·sin θ with r = sqrt(−2 ln u1), θ = 2π·u2.
// |z| <= sqrt(−2 ln 2^-24) ≈ 5.77.
FEDKSEED_HD void normal_pair(uint32_t radius_word, uint32_t angle_word, float& first,
                             float& second) {
  const float r = sqrt_rn(mul(-2.0f, log_of_odd24(odd24(radius_word))));
  float c, s;
  cos_sin_of_odd24(odd24(angle_word), c, s);
  first = mul(r, c);
  second = mul(r, s);
}

FEDKSEED_HD Uint4 philox_words(uint64_t seed, uint64_t name_hash, uint64_t group) {
  return philox4x32_10(
      Uint4{static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
            static_cast<uint32_t>(name_hash), static_cast<uint32_t>(name_hash >> 32)},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Four standard normals z(seed, name_hash, 4·group + lane), lane 0..3: the Philox counter is
// (group, name_hash), the key the seed.
FEDKSEED_HD Float4 normals4(uint64_t seed, uint64_t name_hash, uint64_t group) {
  const Uint4 bits = philox_words(seed, name_hash, group);
  Float4 z;
  normal_pair(bits.x, bits.y, z.x, z.y);
  normal_pair(bits.z, bits.w, z.z, z.w);
  return z;
}

// philox-icdf's normal of 16 random bits u: bits 4..15 a segment (bit 15 its sign), bits 0..3
// a point in it, z = start + step·point (normal_table.h); z(u ^ 0x8000) = −z(u) exactly and
// |z| <= 4.33. `table` holds the (start, step) pairs interleaved. A step has at most 20
// significant bits, so step·point is exact and a fused multiply-add rounds exactly as this
// multiply then add (the CUDA kernels compute it with one from the table's first half and the
// sign bit, or look up its every value so precomputed). Normal 8·g + 2k (k = 0..3) of a tensor
// takes u from the low half of word k of Philox group g (normals4's counter layout), normal
// 8·g + 2k + 1 from its high half.
FEDKSEED_HD float icdf_normal(uint32_t u, const float* table) {
  const uint32_t segment = u >> 4;
  return add(table[2 * segment], mul(table[2 * segment + 1], static_cast<float>(u & 15u)));
}

// The host copy of the table (CUDA kernels keep their own device copy of the same literals).
inline constexpr float kIcdfTable[2 * FEDKSEED_ICDF_SEGMENTS] = FEDKSEED_ICDF_TABLE_VALUES;

// FNV-1a, 64 bit: the parameter name's share of the Philox counter.
inline uint64_t name_hash(const char* name, std::size_t length) { return fnv1a(name, length); }

}  // namespace fedkseed::philox
