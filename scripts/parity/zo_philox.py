#!/usr/bin/env python3
"""Independent numpy re-implementation of include/fedkseed/optimizers/philox.h's z(seed, name, index)
for both philox generators (philox-icdf: inverse-CDF table; philox: Box-Muller).

Every float step is one numpy float32 op (IEEE, rounded to nearest), the same sequence the C++
and CUDA code performs, so the outputs must match bit for bit. The inverse-CDF table is rebuilt
by scripts/make_normal_table.py, so this also checks the committed header against its script.
Used by tests/zo_perturbation_test.cpp.
Usage: zo_philox.py SEED NAME COUNT [philox-icdf|philox]  -> COUNT lines, each the hex bits of
one float32 z (default generator: philox).
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import make_normal_table  # noqa: E402

MASK32 = np.uint64(0xFFFFFFFF)
F = np.float32


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    c = [np.asarray(x, dtype=np.uint64) for x in (c0, c1, c2, c3)]
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & MASK32,
             (p0 >> np.uint64(32)) ^ c[3] ^ k1, p0 & MASK32]
        k0 = (k0 + np.uint64(0x9E3779B9)) & MASK32
        k1 = (k1 + np.uint64(0xBB67AE85)) & MASK32
    return c


def odd24(word):
    return (((word >> np.uint64(9)) << np.uint64(1)) | np.uint64(1)).astype(np.uint32)


def log_of_odd24(w):
    bits = w.astype(np.float32).view(np.uint32)
    exponent = (bits >> 23).astype(np.int64) - 127
    bits = (bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000)
    big = bits > np.uint32(0x3FB504F3)
    bits = np.where(big, bits - np.uint32(0x00800000), bits).astype(np.uint32)
    exponent = exponent + big
    m = bits.view(np.float32)
    s = (m + F(-1.0)) / (m + F(1.0))
    s2 = s * s
    p = np.full_like(s, F(float.fromhex("0x1.c71c72p-4")))
    for c in ("0x1.24924ap-3", "0x1.99999ap-3", "0x1.555556p-2", "0x1p+0"):
        p = p * s2 + F(float.fromhex(c))
    log_m = (F(2.0) * s) * p
    return (exponent - 24).astype(np.float32) * F(float.fromhex("0x1.62e430p-1")) + log_m


def cos_sin_of_odd24(w):
    w = w.astype(np.int64)
    q = (w + (1 << 21)) >> 22
    f = w - (q << 22)
    x = (f.astype(np.float32) * F(2.0**-22)) * F(float.fromhex("0x1.921fb6p+0"))
    x2 = x * x
    sp = np.full_like(x, F(float.fromhex("0x1.71de3ap-19")))
    for c in ("-0x1.a01a02p-13", "0x1.111112p-7", "-0x1.555556p-3"):
        sp = sp * x2 + F(float.fromhex(c))
    s = x + (x * x2) * sp
    cp = np.full_like(x, F(float.fromhex("-0x1.27e4fcp-22")))
    for c in ("0x1.a01a02p-16", "-0x1.6c16c2p-10", "0x1.555556p-5", "-0x1p-1"):
        cp = cp * x2 + F(float.fromhex(c))
    c = F(1.0) + x2 * cp
    quadrant = q & 3
    cos_out = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [c, -s, -c], s)
    sin_out = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [s, c, -s], -c)
    return cos_out.astype(np.float32), sin_out.astype(np.float32)


def normals(seed: int, name: str, count: int) -> np.ndarray:
    h = fnv1a64(name)
    groups = np.arange((count + 3) // 4, dtype=np.uint64)
    x, y, z, w = philox4x32_10(groups & MASK32, groups >> np.uint64(32), h & 0xFFFFFFFF, h >> 32,
                               seed & 0xFFFFFFFF, seed >> 32)
    out = np.empty((len(groups), 4), dtype=np.float32)
    for lanes, (a, b) in ((slice(0, 2), (x, y)), (slice(2, 4), (z, w))):
        r = np.sqrt(F(-2.0) * log_of_odd24(odd24(a)))
        c, s = cos_sin_of_odd24(odd24(b))
        out[:, lanes] = np.stack([r * c, r * s], axis=1)
    return out.reshape(-1)[:count]


def icdf_normals(seed: int, name: str, count: int) -> np.ndarray:
    h = fnv1a64(name)
    groups = np.arange((count + 7) // 8, dtype=np.uint64)
    words = philox4x32_10(groups & MASK32, groups >> np.uint64(32), h & 0xFFFFFFFF, h >> 32,
                          seed & 0xFFFFFFFF, seed >> 32)
    halves = np.stack([part for w in words for part in (w & np.uint64(0xFFFF), w >> np.uint64(16))], axis=1)
    u = halves.reshape(-1)[:count].astype(np.uint32)
    start, step = make_normal_table.signed(*make_normal_table.table())
    segment = u >> np.uint32(4)
    return (start[segment] + step[segment] * (u & np.uint32(15)).astype(np.float32)).astype(np.float32)


if __name__ == "__main__":
    seed_arg, name_arg, count_arg = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    generator = sys.argv[4] if len(sys.argv) > 4 else "philox"
    draw = {"philox": normals, "philox-icdf": icdf_normals}[generator]
    for bits in draw(seed_arg, name_arg, count_arg).view(np.uint32):
        print(f"{bits:08x}")
