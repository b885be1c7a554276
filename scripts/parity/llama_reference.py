#!/usr/bin/env python3
"""Reference outputs of Hugging Face transformers for the model parity tests.

Usage: llama_reference.py SPEC.json. SPEC holds {"cases": [...]}; each case has "dir" and
"kind":
  create: write a random model of the config's family (model_type llama when absent, mistral,
          qwen2, qwen3) with config.json exactly as given ("config", either transformers
          spelling), every weight random (biases and q/k norms included), weights in "format"
          (safetensors | sharded-safetensors | bin | sharded-bin), then reload it from disk and
          dump the reference (below).
  check:  load the existing checkpoint in "dir" (e.g. written by fedkseed) and dump the reference.
The reference goes to DIR/reference.safetensors (input_ids, attention_mask, labels, logits, loss)
and DIR/reference.json (prompts, eos, greedy: new tokens of each prompt alone, EOS excluded;
with "score"/"generate" requests also the CLI's results computed with transformers' tokenizer).
One process serves all cases: importing transformers takes seconds.
Pinned: transformers 5.17, torch 2.11 (the project venv).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import CONFIG_MAPPING, AutoModelForCausalLM


def family_config(directory):
    """The config class of the folder's model_type (transformers' default, llama, when absent)."""
    with open(os.path.join(directory, "config.json")) as config:
        model_type = json.load(config).get("model_type", "llama")
    return CONFIG_MAPPING[model_type].from_pretrained(directory)


def load(directory, dtype):
    return AutoModelForCausalLM.from_pretrained(directory, config=family_config(directory), dtype=dtype)


def save_sharded_bin(model, directory, shards=3):
    state = model.state_dict()
    names = list(state)
    groups = [names[i::shards] for i in range(shards)]
    weight_map = {}
    for index, group in enumerate(groups, start=1):
        file = f"pytorch_model-{index:05d}-of-{shards:05d}.bin"
        torch.save({name: state[name] for name in group}, os.path.join(directory, file))
        weight_map.update({name: file for name in group})
    with open(os.path.join(directory, "pytorch_model.bin.index.json"), "w") as out:
        json.dump({"metadata": {}, "weight_map": weight_map}, out)


def create(case):
    directory = case["dir"]
    os.makedirs(directory, exist_ok=True)
    config_path = os.path.join(directory, "config.json")
    with open(config_path, "w") as out:
        json.dump(case["config"], out)
    torch.manual_seed(case["seed"])
    model = AutoModelForCausalLM.from_config(family_config(directory)).float()
    with torch.no_grad():  # non-trivial norm weights and biases, so a swapped or lost one would show
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.normal_(1.0, 0.2)
            elif name.endswith(".bias"):
                parameter.normal_(0.0, 0.5)
    form = case["format"]
    if form == "safetensors":
        model.save_pretrained(directory)
    elif form == "sharded-safetensors":
        model.save_pretrained(directory, max_shard_size="40KB")
    elif form == "bin":
        torch.save(model.state_dict(), os.path.join(directory, "pytorch_model.bin"))
    elif form == "sharded-bin":
        save_sharded_bin(model, directory)
    else:
        raise ValueError(form)
    with open(config_path, "w") as out:  # save_pretrained rewrote it in the 5.x spelling
        json.dump(case["config"], out)


def greedy(model, prompt, max_new_tokens, eos):
    output = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                            max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos,
                            pad_token_id=0)
    tokens = output[0, len(prompt):].tolist()
    return tokens[: tokens.index(eos)] if eos in tokens else tokens


def reference(case):
    directory = case["dir"]
    model = load(directory, torch.float32).eval()
    model.generation_config.eos_token_id = None
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(case.get("seed", 0) + 1)
    input_ids = torch.randint(0, vocab, (2, 12), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -3:] = 0  # right padding, as the collator makes
    input_ids[1, -3:] = 0
    labels = input_ids.clone()
    labels[attention_mask == 0] = -100
    labels[:, :3] = -100  # a masked prompt
    prompts = [torch.randint(0, vocab, (n,), generator=generator).tolist() for n in (3, 7, 5)]
    max_new = case.get("max_new_tokens", 10)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss.float()
        # EOS = a token the first prompt produces, so that stopping is exercised.
        free = greedy(model, prompts[0], max_new, None)
        eos = free[min(3, len(free) - 1)]
        results = [greedy(model, prompt, max_new, eos) for prompt in prompts]
    tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
               "logits": logits.contiguous(), "loss": loss.reshape(1)}
    if torch.cuda.is_available():
        for dtype in case.get("cuda_dtypes", []):
            tensors["logits_cuda_" + dtype] = cuda_logits(directory, dtype, input_ids, attention_mask)
    save_file(tensors, os.path.join(directory, "reference.safetensors"))
    info = {"prompts": prompts, "eos": eos, "max_new_tokens": max_new, "greedy": results,
            "parameter_names": [name for name, _ in model.named_parameters()]}
    if "score" in case:
        info["score"] = [score(model, directory, record) for record in case["score"]]
    if "generate" in case:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(directory)
        request = case["generate"]
        info["generate"] = greedy(model, tokenizer(request["prompt"]).input_ids, request["max_new_tokens"],
                                  tokenizer.eos_token_id)
    with open(os.path.join(directory, "reference.json"), "w") as out:
        json.dump(info, out)


def cuda_logits(directory, dtype, input_ids, attention_mask):
    model = load(directory, getattr(torch, dtype)).cuda().eval()
    with torch.no_grad():
        return model(input_ids=input_ids.cuda(), attention_mask=attention_mask.cuda()).logits.float().cpu()


def score(model, directory, record):
    """The reference's training format (spec 4.3) with transformers' own tokenizer."""
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(directory)
    ids = tokenizer(record["prompt"] + record["response"]).input_ids + [tokenizer.eos_token_id]
    labels = list(ids)
    masked = len(tokenizer(record["prompt"]).input_ids)
    labels[:masked] = [-100] * masked
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
    return {"loss": loss, "tokens": sum(label != -100 for label in labels[1:]), "ids": ids}


def main():
    with open(sys.argv[1]) as spec:
        cases = json.load(spec)["cases"]
    for case in cases:
        if case["kind"] == "create":
            create(case)
        reference(case)


if __name__ == "__main__":
    main()
