#!/usr/bin/env python3
# The reference FedKSeed ZO step (perturb, two losses, restore, update; per-seed replay) written in PyTorch + transformers
# on a random LlamaForCausalLM of a preset's shape: torch.manual_seed(s) then one torch.normal per
# parameter, out-of-place updates (p.data = p.data + scale*z), g via .item(), per-seed replay.
# Prints one JSON line: step / forward / pass milliseconds, replay seconds (timed for a few seeds,
# scaled to K), peak memory. Used by scripts/bench.sh beside `fedkseed bench`.
import argparse
import json
import statistics
import time

import torch

SHAPES = {  # hidden, layers, heads, intermediate, vocab (as `fedkseed bench`)
    'tiny': (64, 2, 4, 128, 1000),
    'dj-1.3b': (2048, 24, 16, 5504, 32005),
    'open-llama-3b': (3200, 26, 32, 8640, 32000),
    'llama-7b': (4096, 32, 32, 11008, 32000),
}


def build(preset, dtype, device):
    from transformers import LlamaConfig, LlamaForCausalLM
    hidden, layers, heads, inter, vocab = SHAPES[preset]
    config = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         num_key_value_heads=heads, intermediate_size=inter, vocab_size=vocab,
                         max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=False)
    config._attn_implementation = 'eager'  # the reference (transformers 4.35) ran eager attention
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def perturb(model, seed, scale):
    torch.manual_seed(seed)
    for _, p in model.named_parameters():
        z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
        p.data = p.data + scale * z


def update(model, seed, g, lr, weight_decay=0.0):
    torch.manual_seed(seed)
    for name, p in model.named_parameters():
        z = torch.normal(mean=0, std=1, size=p.data.size(), device=p.data.device, dtype=p.data.dtype)
        if any(k in name for k in ('bias', 'layer_norm', 'layernorm')):
            p.data = p.data - lr * (g * z)
        else:
            p.data = p.data - lr * (g * z + weight_decay * p.data)


def zo_step(model, batch, seed, eps=5e-4, lr=3e-7):
    with torch.no_grad():
        perturb(model, seed, 1.0 * eps)
        loss1 = model(**batch).loss
        perturb(model, seed, -2.0 * eps)
        loss2 = model(**batch).loss
        perturb(model, seed, 1.0 * eps)
        if torch.isnan(loss1) or torch.isnan(loss2):
            return 0.0
        g = ((loss1 - loss2) / (2 * eps)).item()
        update(model, seed, g, lr)
    return g


def timed(fn, reps, warmup, sync):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='dj-1.3b', choices=sorted(SHAPES))
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--dtype', default='fp16', choices=['fp16', 'bf16', 'fp32'])
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--replay_seeds', type=int, default=8, help='seeds timed; replay K is scaled from these')
    ap.add_argument('--K', type=int, nargs='*', default=[1024, 4096])
    a = ap.parse_args()
    dtype = {'fp16': torch.float16, 'bf16': torch.bfloat16, 'fp32': torch.float32}[a.dtype]
    cuda = a.device.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    model = build(a.preset, dtype, a.device)
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(3, vocab, (1, a.seq), generator=gen).to(a.device)
    labels = ids.clone()
    labels[:, : a.seq // 2] = -100
    batch = dict(input_ids=ids, labels=labels, use_cache=False)
    seeds = iter(torch.randint(1, 10**11, (10000,), generator=gen).tolist())
    out = dict(impl='reference', preset=a.preset, seq=a.seq, dtype=a.dtype, device=a.device,
               params=sum(p.numel() for p in model.parameters()))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    out['zo_step_ms'] = 1e3 * timed(lambda: zo_step(model, batch, next(seeds)), a.steps, a.warmup, sync)
    if cuda:
        out['peak_memory_GB'] = torch.cuda.max_memory_allocated() / 1e9
    with torch.no_grad():
        out['forward_ms'] = 1e3 * timed(lambda: model(**batch).loss, a.steps, a.warmup, sync)
    out['pass_ms'] = 1e3 * timed(lambda: perturb(model, next(seeds), 1e-3), a.steps, a.warmup, sync)
    per_seed = timed(lambda: update(model, next(seeds), 1e-3, 3e-7), a.replay_seeds, 1, sync)
    for k in a.K:
        out[f'replay_k{k}_s'] = per_seed * k   # per-seed replay: K full-model normal draws
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
