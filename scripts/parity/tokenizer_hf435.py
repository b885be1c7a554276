"""Writes tests/data/llama_tokenizer_hf435.json: the ids the reference's tokenizer gives.

The reference loads its tokenizer with transformers 4.35.0 as
`AutoTokenizer.from_pretrained(model, use_fast=True)`, i.e. LlamaTokenizerFast converted
from tokenizer.model by tokenizers 0.14.1 (BOS prepended, literal "<s>"/"</s>"/"<unk>" in
text split out as special tokens). transformers 5's LlamaTokenizer is a different
conversion (it differs on runs of spaces), so the fixture must come from the pinned pair:

    python -m venv /tmp/tok435
    /tmp/tok435/bin/pip install transformers==4.35.0 tokenizers==0.14.1 sentencepiece==0.1.99 protobuf

usage: /tmp/tok435/bin/python tokenizer_hf435.py LLAMA_TOKENIZER.model OUT.json
OUT: {"transformers", "tokenizers", "tokenizer_class", "texts": [str], "ids": [[int]],
      "datajuicer": {"added_tokens", "special_tokens_map", "pad_id", "vocab_size", "texts", "ids"}}
"datajuicer" is the same tokenizer.model in a folder laid out like DataJuicer's checkpoint
(added_tokens.json and special_tokens_map.json beside it). The probe texts below are written
for this test (no dataset text).
"""
import json
import os
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer

PROBES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "  two leading spaces",
    "    four leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "multiple     spaces  between   words",
    " ",
    "   ",
    "\t",
    "a\tb\t\tc",
    "\n",
    "\n\n\n",
    "line1\nline2\n\n  indented line\n",
    "  \n \t \n  ",
    "def square(x):\n    return x ** 2  # the square\n\n\tif x:\n\t\tpass",
    "for (int i = 0; i < n; ++i) {\n        total += values[i];\n}",
    "{\"key\": [1, 2.5e-3, null], \"other\": true} && a->b != c;",
    "x = 12345678901234567890 + 3.14159",
    "Ünïcödé naïve café résumé",
    "日本語のテキスト 中文文本 한국어 텍스트",
    "Ελληνικά и русский текст",
    "emoji 😀🚀👍🏽 and a family 👨‍👩‍👧",
    "mixed 🙂\tcafé  日本\n  code()",
    "x <s> y",
    "a</s>b",
    "<s>",
    "</s>",
    "<unk>",
    "<unk>?",
    "start <s><s> double",
    "end with eos</s>",
    " </s> spaced ",
    "<s>Hello</s> <unk> world",
    "not special: <S> <s > </ s> <pad> <PAD>",
    "Below is an instruction that describes a task.\n\n### Instruction:\nSay hi\n\n### Response:Hi there",
    "Question: What is 2+2?\r\nAnswer: 4\r\n",
    "zero\u200bwidth and non\u00a0breaking",
    "",
]

DJ_ADDED_TOKENS = {"<CLS>": 32000, "<SEP>": 32001, "<EOD>": 32002, "<MASK>": 32003, "<PAD>": 32004}
DJ_SPECIAL_TOKENS_MAP = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<PAD>"}
DJ_PROBES = [
    "x<PAD>y",
    "a <PAD> b",
    "<SEP>",
    " <SEP>",
    "a <SEP> b",
    "a  <SEP>  b",
    "a<SEP>b",
    "x<PAD><SEP>y",
    "<SEP> <SEP>",
    "a\n<SEP>",
    "<CLS><SEP><EOD><MASK><PAD>",
    "a<PAD>b<CLS> c",
    "Question:<PAD> answer </s> <MASK> end",
    "plain text, no added tokens",
]


def write_json(path, value):
    with open(path, "w") as out:
        json.dump(value, out)


def datajuicer_ids(model_path):
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(model_path, os.path.join(folder, "tokenizer.model"))
        write_json(os.path.join(folder, "added_tokens.json"), DJ_ADDED_TOKENS)
        write_json(os.path.join(folder, "special_tokens_map.json"), DJ_SPECIAL_TOKENS_MAP)
        write_json(os.path.join(folder, "config.json"), {"model_type": "llama"})  # AutoTokenizer needs it
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
        assert type(tokenizer).__name__ == "LlamaTokenizerFast", type(tokenizer).__name__
        return {"added_tokens": DJ_ADDED_TOKENS, "special_tokens_map": DJ_SPECIAL_TOKENS_MAP,
                "pad_id": tokenizer.pad_token_id, "vocab_size": len(tokenizer), "texts": DJ_PROBES,
                "ids": [tokenizer(text)["input_ids"] for text in DJ_PROBES]}


def main():
    model_path, out_path = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(model_path, os.path.join(folder, "tokenizer.model"))
        config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                  "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
                  "clean_up_tokenization_spaces": False}
        write_json(os.path.join(folder, "tokenizer_config.json"), config)
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
        assert type(tokenizer).__name__ == "LlamaTokenizerFast", type(tokenizer).__name__
        ids = [tokenizer(text)["input_ids"] for text in PROBES]
    fixture = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
               "tokenizer_class": type(tokenizer).__name__, "texts": PROBES, "ids": ids}
    # One text and one id list per line, so a diff shows which probe changed.
    lines = [f" {json.dumps(key)}: {json.dumps(fixture[key])}," for key in ("transformers", "tokenizers", "tokenizer_class")]
    for key in ("texts", "ids"):
        items = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in fixture[key])
        lines.append(f" {json.dumps(key)}: [\n{items}\n ]" + ("," if key == "texts" else ""))
    lines[-1] += ","
    lines.append(f' "datajuicer": {json.dumps(datajuicer_ids(model_path), ensure_ascii=False)}')
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("{\n" + "\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    main()
