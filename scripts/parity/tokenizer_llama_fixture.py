#!/usr/bin/env python3
"""Writes tests/data/tokenizer/llama_transformers5.json: what transformers 5.17 (through
tokenizer_reference.py's reference()) gives on the real LLaMA tokenizer.model for the probe
texts below, with two tokenizer_config.json files beside it: the slow tokenizer's plain one and
DataJuicer's (added tokens <CLS>..<PAD>, pad <PAD>). tests/tokenizer_test.cpp encodes the texts
and decodes transformers' ids against it, without Python.

Usage: tokenizer_llama_fixture.py [TOKENIZER.model [OUT_JSON]]
  (defaults: ../shared/data/tokenizers/llama/tokenizer.model, the fixture above)
OUT: {"transformers", "tokenizer_model_sha256", "texts": [str], "configs": {NAME: {"tokenizer_config",
      "encode": [[int]], "decode": [str] (transformers' decode of its own ids), "pad_id", "vocab_size"}}}
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

from tokenizer_reference import reference

TEXTS = [
    "Hello world", " leading space", "  two leading", "trailing  ", "line1\nline2\n\n  indented",
    "def f(x):\n    return x**2  # square\n\tTabbed()", "{\"key\": [1, 2.5e-3]} && x->y != z;",
    "Ünïcödé 日本語 中文 한국어 Ελληνικά", "emoji 😀🚀👍🏽 family 👨‍👩‍👧", "a</s>b", "x <s> y", "<unk>?",
    "   ", "", "\n", "\n\n\n", "multiple     spaces  here", "Hello</s>", "a<PAD>b<CLS> c", "x<MASK>",
    "Below is an instruction that describes a task.\n\n### Instruction:\nSay hi\n\n### Response:Hi there",
]


def added(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "special": True}


CONFIGS = {
    "slow": {"tokenizer_class": "LlamaTokenizer", "legacy": True, "bos_token": "<s>", "eos_token": "</s>",
             "unk_token": "<unk>"},
    "datajuicer": {"add_bos_token": True, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "pad_token": "<PAD>", "legacy": True, "tokenizer_class": "LlamaTokenizer",
                   "added_tokens_decoder": {str(32000 + i): added(token) for i, token in
                                            enumerate(["<CLS>", "<SEP>", "<EOD>", "<MASK>", "<PAD>"])}},
}


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/tokenizers/llama/tokenizer.model"
    out = sys.argv[2] if len(sys.argv) > 2 else "tests/data/tokenizer/llama_transformers5.json"
    with open(model, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    configs = {}
    for name, config in CONFIGS.items():
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy(model, os.path.join(folder, "tokenizer.model"))
            with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
                json.dump(config, f)
            ids = reference(folder, TEXTS, [])["encode"]
            result = reference(folder, [], ids)
        configs[name] = {"tokenizer_config": config, "encode": ids, "decode": result["decode"],
                         "pad_id": result["pad_id"], "vocab_size": result["vocab_size"]}
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"transformers": result["transformers"], "tokenizer_model_sha256": sha256, "texts": TEXTS,
                   "configs": configs}, f, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
