#!/usr/bin/env python3
"""Writes the numpy twin's z bits (zo_philox.py) for both philox generators on a few seeds,
parameter names and sizes; tests/zo_perturbation_test.cpp compares the C++ generator with the
committed output, bit for bit, without Python.

Sizes up to 8,192 are stored whole. The 2^20 + 3 case is sampled: its first and last 1,024
values and every 257th in between (so every lane of a Philox group and every thread's chunk
is hit); the live test compares all of it.
Output: {"numpy": version, "cases": [{"rng", "seed", "name", "count", "blocks": [{"first",
"stride", "bits"}]}]}, where bits concatenates the 8-hex-digit float32 bit patterns of z[first],
z[first + stride], ...
Usage: zo_philox_fixture.py [OUT_JSON]   (default tests/data/zo/philox_numpy_twin.json)
"""
import json
import sys

import numpy as np

import zo_philox

CASES = [("philox-icdf", 42, "model.layers.0.weight", 1),
         ("philox-icdf", 99999999999, "lm_head.weight", 127),
         ("philox-icdf", 7, "model.embed_tokens.weight", (1 << 20) + 3),
         ("philox", 42, "model.layers.0.weight", 4099),
         ("philox", 99999999999, "lm_head.weight", 127)]
WHOLE = 8192
EDGE, STRIDE = 1024, 257


def block(bits, first, stride, stop):
    return {"first": first, "stride": stride, "bits": "".join(f"{b:08x}" for b in bits[first:stop:stride])}


def blocks(bits):
    count = len(bits)
    if count <= WHOLE:
        return [block(bits, 0, 1, count)]
    return [block(bits, 0, 1, EDGE), block(bits, EDGE, STRIDE, count - EDGE), block(bits, count - EDGE, 1, count)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/zo/philox_numpy_twin.json"
    draw = {"philox": zo_philox.normals, "philox-icdf": zo_philox.icdf_normals}
    cases = [{"rng": rng, "seed": seed, "name": name, "count": count,
              "blocks": blocks(draw[rng](seed, name, count).view(np.uint32))}
             for rng, seed, name, count in CASES]
    with open(out, "w") as f:
        json.dump({"numpy": np.__version__, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
