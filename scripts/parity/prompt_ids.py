#!/usr/bin/env python3
"""Writes tests/data/prompt_ids.expected.json: the training ids of Dolly and Natural Instructions
records, per model family, as the reference's Python data code makes them.

The reference (utils_data/llm_dataset.py `LLMDataset.preprocess` / `_tokenize_fn`) loads
`AutoTokenizer.from_pretrained(model, use_fast=True)` with `model_max_length = max_length`, adds
any missing pad/eos/bos/unk as "[PAD]", "</s>", "<s>", "<unk>", and for each record tokenises
source = the prompt template and example = source + output + tokenizer.eos_token alone
(truncation at max_length); labels = the example's ids with the first len(tokens(source))
positions (pad ids not counted) set to -100. This script does exactly that, in plain Python.

Families:
- llama: the real LLaMA sentencepiece tokenizer.model (../shared/data/tokenizers/llama). The
  reference's transformers 4.35 LlamaTokenizerFast is not installable beside transformers 5;
  transformers 5's sentencepiece backend (legacy, BOS in front) stands in for it, after this
  script checks that it gives the ids of the committed 4.35 fixture
  tests/data/llama_tokenizer_hf435.json (tokenizer_hf435.py) on every probe text there.
  (transformers 5's LlamaTokenizer is another conversion that differs on runs of spaces.)
- llama3, qwen2, smollm2, mistral: the small committed tokenizer.json files of tests/data/bpe/
  (byte-level BPE in the Llama-3, Qwen2 and SmolLM2 designs; Metaspace + byte fallback in
  Mistral's), loaded as the reference loads a checkpoint folder.

The fixture keeps the records and, per family and --max_length (1024, and one that cuts into
responses), each example's input_ids and its count of masked labels (the labels are -100 there,
the input ids after). The C++ test (tests/prompt_tokenisation_test.cpp) feeds the same records
through load_federated_data, so no Python runs at test time.

usage: .venv/bin/python scripts/parity/prompt_ids.py   (transformers==5.17.0, tokenizers==0.23.3)
"""
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import tokenizers
import transformers
from transformers import AutoTokenizer
from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "prompt_ids.expected.json"
LLAMA_MODEL = ROOT.parent / "shared" / "data" / "tokenizers" / "llama" / "tokenizer.model"
HF435_FIXTURE = ROOT / "tests" / "data" / "llama_tokenizer_hf435.json"
BPE_FIXTURES = ROOT / "tests" / "data" / "bpe"
BPE_FAMILIES = ["llama3", "qwen2", "smollm2", "mistral"]
IGNORE_INDEX = -100

# The reference's templates (utils_data/llm_dataset.py, utils_data/natural_instruction_loader.py).
DOLLY_WITH_CONTEXT = ("Below is an instruction that describes a task, paired with an input that provides further "
                      "context. Write a response for the task request.\n\n### Instruction:\n{instruction}\n\n"
                      "### Input:\n{context}\n\n### Response:")
DOLLY_WITHOUT_CONTEXT = ("Below is an instruction that describes a task. Write a response for the task request.\n\n"
                         "### Instruction:\n{instruction}\n\n### Response:")
NI_TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further context. "
               "Write a response that appropriately completes the request.\n\n### Instruction:\n{definition}\n\n"
               "### Input:\n{input}\n\n### Response:")

# Written for this test: templates with and without a context, a response that starts with a
# space or a newline, runs of spaces and newlines, tabs, code, digits, Unicode and emoji.
DOLLY = [
    {"instruction": "How many cups does Ben have?", "context": "Ben has 3 cups and 2 plates.", "response": "3",
     "category": "closed_qa"},
    {"instruction": "Name a colour.", "context": "", "response": " Blue, or green.", "category": "open_qa"},
    {"instruction": "Hi", "context": "", "response": "Yes", "category": "open_qa"},
    {"instruction": "Write a Python function that squares x.", "context": "",
     "response": "def square(x):\n    return x ** 2  # the square\n", "category": "creative_writing"},
    {"instruction": "Translate to French:  two  spaces", "context": "Café  au lait\n\n\tcrème",
     "response": "\nCafé au lait — 😀 crème brûlée", "category": "information_extraction"},
    {"instruction": "List three numbers.", "context": "", "response": "1, 22 and 333 (3.14159).\n\n- a\n- b",
     "category": "brainstorming"},
    {"instruction": "日本語で答えて。", "context": "中文 한국어 Ελληνικά", "response": "はい、わかりました。",
     "category": "general_qa"},
]
NI_TASK = "task0000_prompt_ids"
NI_DEFINITION = "Given a sentence, answer the question about it.\nAnswer with one word  or a number."
NI_INSTANCES = [
    {"input": "The cat sat on the mat. Where did the cat sit?", "output": ["mat"]},
    {"input": "  Two leading spaces, and a line\nbreak.", "output": [" yes\n"]},
    {"input": "x = 12345 + 678;\n\tprint(x)", "output": ["13023"]},
    {"input": "Ünïcödé naïve café 👍🏽", "output": ["four  words"]},
]


def dolly_prompt(record):
    template = DOLLY_WITH_CONTEXT if record["context"] else DOLLY_WITHOUT_CONTEXT
    return template.format(instruction=record["instruction"], context=record["context"])


def sources_and_targets(dataset, eos_token):
    if dataset == "dolly":
        return [(dolly_prompt(record), record["response"] + eos_token) for record in DOLLY]
    return [(NI_TEMPLATE.format(definition=NI_DEFINITION, input=instance["input"]), instance["output"][0] + eos_token)
            for instance in NI_INSTANCES]


def with_missing_specials(tokenizer, max_length):
    """get_loaders' setup: the length limit, and any missing special token added by name."""
    tokenizer.model_max_length = max_length
    missing = {key: value for key, value in (("pad_token", "[PAD]"), ("eos_token", "</s>"), ("bos_token", "<s>"),
                                             ("unk_token", "<unk>")) if getattr(tokenizer, key) is None}
    if missing:
        tokenizer.add_special_tokens(missing)
    return tokenizer


def tokenize(tokenizer, text):
    """_tokenize_fn on one string: its ids and their count without pad ids."""
    ids = tokenizer(text, padding="longest", max_length=tokenizer.model_max_length, truncation=True)["input_ids"]
    return ids, sum(1 for token in ids if token != tokenizer.pad_token_id)


def examples(tokenizer, dataset):
    """LLMDataset.preprocess: input_ids and the number of masked labels, per record."""
    out = []
    for source, target in sources_and_targets(dataset, tokenizer.eos_token):
        input_ids, _ = tokenize(tokenizer, source + target)
        _, source_length = tokenize(tokenizer, source)
        labels = list(input_ids)
        labels[:source_length] = [IGNORE_INDEX] * min(source_length, len(labels))
        masked = sum(1 for label in labels if label == IGNORE_INDEX)
        out.append({"input_ids": input_ids, "masked": masked})
    return out


def llama_reference(folder):
    """The sentencepiece backend as LlamaTokenizerFast, checked against transformers 4.35's own ids."""
    shutil.copy(LLAMA_MODEL, folder / "tokenizer.model")
    tokenizer = SentencePieceBackend.from_pretrained(str(folder), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                                     legacy=True, special_tokens_pattern="bos")
    hf435 = json.loads(HF435_FIXTURE.read_text(encoding="utf-8"))
    for text, ids in zip(hf435["texts"], hf435["ids"]):
        if tokenizer(text)["input_ids"] != ids:
            sys.exit(f"prompt_ids.py: the sentencepiece backend differs from transformers 4.35 on {text!r}")
    return tokenizer


def family(name, make_tokenizer, source):
    """The examples at --max_length 1024 (the default), then at two tokens past the second-shortest
    Dolly prompt, where one example keeps its EOS, one is cut inside its response and one is
    masked whole."""
    tokenizer = with_missing_specials(make_tokenizer(), 1024)
    expected = {"1024": {dataset: examples(tokenizer, dataset) for dataset in ("dolly", "instruct")}}
    cut = sorted(example["masked"] for example in expected["1024"]["dolly"])[1] + 2
    tokenizer = with_missing_specials(make_tokenizer(), cut)
    expected[str(cut)] = {dataset: examples(tokenizer, dataset) for dataset in ("dolly", "instruct")}
    kinds = {"eos kept" if example["input_ids"][-1] == tokenizer.eos_token_id else
             "masked whole" if example["masked"] == len(example["input_ids"]) else "response cut"
             for example in expected[str(cut)]["dolly"]}
    assert len(kinds) == 3, f"{name}: --max_length {cut} gives only {kinds}"
    return {"name": name, "tokenizer": source, "eos_id": tokenizer.eos_token_id, "expected": expected}


def write_fixture(value):
    """Indented JSON with one example a line, so a diff shows which one changed."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    example = re.compile(r'\{\s*"input_ids": \[([^\]]*)\],\s*"masked": (\d+)\s*\}')
    text = example.sub(lambda m: json.dumps({"input_ids": json.loads(f"[{m[1]}]"), "masked": int(m[2])}), text)
    OUT.write_text(text + "\n", encoding="utf-8")


def main():
    if not LLAMA_MODEL.is_file():
        sys.exit(f"prompt_ids.py: {LLAMA_MODEL} is missing (the LLaMA tokenizer.model)")
    with tempfile.TemporaryDirectory() as scratch:
        llama_folder = Path(scratch)
        families = [family("llama", lambda: llama_reference(llama_folder), "shared:tokenizers/llama")]
        for name in BPE_FAMILIES:
            folder = BPE_FIXTURES / name
            families.append(family(name, lambda: AutoTokenizer.from_pretrained(str(folder), use_fast=True),
                                   f"tests/data/bpe/{name}"))
    write_fixture({"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                   "dolly": DOLLY,
                   "ni": {"task": NI_TASK, "definition": NI_DEFINITION, "instances": NI_INSTANCES},
                   "families": families})
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
