#!/usr/bin/env python3
"""The reference's perturbation, update and global replay (FedKSeed's optimizers/mezo_*.py)
on CPU tensors, for tests/zo_perturbation_test.cpp's --rng torch parity test.

Usage: zo_torch_reference.py [OUT_DIR [DEVICE]] (cpu, or cuda: the reference's normals come from
the device's generator, so CUDA values hold for one GPU type only). Writes, for parameter i of PARAMS, raw little-endian
files OUT_DIR/<stage>_<i>.bin for the stages init, plus (+eps), minus (-2eps), restored (+eps),
updated (zo_update with G) and replayed (global-model replay of PAIRS from init).
Without arguments: the committed CPU fixture tests/data/zo/torch_cpu_<ATen CPU capability>, since
ATen's CPU kernels (linspace, normal) round differently with and without AVX2; e.g.
ATEN_CPU_CAPABILITY=default writes torch_cpu_DEFAULT.
Pinned: torch 2.11 (the project venv).
"""
import os
import sys

import torch

PARAMS = [("model.embed_tokens.weight", (5, 7), torch.float16),
          ("model.layers.0.input_layernorm.weight", (7,), torch.float16),
          ("model.layers.0.mlp.up_proj.weight", (4, 6), torch.float32),
          ("lm_head.bias", (3,), torch.bfloat16)]
SEED, EPS, G, LR, WD = 123456789012, 5e-4, 37.25, 3e-3, 0.1
PAIRS = [(98765, 2.5), (4242, 0.0), (77777777777, -1.75)]


def perturb(params, seed, scaling_factor):
    torch.manual_seed(seed)
    for i, (_, p) in enumerate(params):
        z = torch.normal(mean=0, std=1, size=p.size(), device=p.device, dtype=p.dtype)
        params[i][1] = p + scaling_factor * EPS * z


def update(params, seed, grad):
    torch.manual_seed(seed)
    for i, (name, p) in enumerate(params):
        z = torch.normal(mean=0, std=1, size=p.size(), device=p.device, dtype=p.dtype)
        if "bias" not in name and "layer_norm" not in name and "layernorm" not in name:
            params[i][1] = p - LR * (grad * z + WD * p)
        else:
            params[i][1] = p - LR * (grad * z)


def dump(out_dir, stage, params):
    for i, (_, p) in enumerate(params):
        with open(os.path.join(out_dir, f"{stage}_{i}.bin"), "wb") as f:
            f.write(p.cpu().contiguous().view(torch.uint8).numpy().tobytes())


def main(out_dir, device):
    init = []
    for k, (name, shape, dtype) in enumerate(PARAMS):
        n = torch.Size(shape).numel()
        init.append([name, (torch.linspace(-1.0, 1.0, n) * (k + 1) / 3).reshape(shape).to(dtype).to(device)])
    params = [[n, p.clone()] for n, p in init]
    dump(out_dir, "init", params)
    for stage, factor in (("plus", 1), ("minus", -2), ("restored", 1)):
        perturb(params, SEED, factor)
        dump(out_dir, stage, params)
    update(params, SEED, G)
    dump(out_dir, "updated", params)
    params = [[n, p.clone()] for n, p in init]
    for seed, value in PAIRS:
        if value != 0:
            update(params, seed, value)
    dump(out_dir, "replayed", params)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cpu")
    else:
        fixture = f"tests/data/zo/torch_cpu_{torch.backends.cpu.get_cpu_capability()}"
        os.makedirs(fixture, exist_ok=True)
        main(fixture, "cpu")
