#!/usr/bin/env python3
"""Writes the tokenizer.json parity fixtures under tests/data/bpe/ with the `tokenizers` package.

Synthetic tokenizers (committed, small): byte-level BPEs trained on generated text with the
pre-tokenizers, normalizers, post-processors and added tokens of the Llama-3.x, Qwen2.5/Qwen3
and SmolLM2 tokenizer.json files, and a Metaspace + byte-fallback BPE as in Mistral's. Each goes
to tests/data/bpe/<name>/ with its expected ids in tests/data/bpe/<name>.expected.json.

Real tokenizers (not committed): for every folder .cache/tokenizers/<name>/ holding a real
tokenizer.json (and its tokenizer_config.json), tests/data/bpe/real-<name>.expected.json gets
the ids of the same texts plus the file's sha256, so the test can tell a different file
(tests/data/bpe/README.md names the Hugging Face repository of each).
`--qwen-tiktoken FILE` first writes .cache/tokenizers/qwen-vocab/: Qwen's real 151,643-token
byte-level vocabulary (its qwen.tiktoken ranks, merges derived as transformers' TikTokenConverter
does) in the Qwen2.5/Qwen3 tokenizer.json design (NFC, Qwen2 pattern, their added tokens).
`--llama-sentencepiece FILE` first writes .cache/tokenizers/llama-legacy/: a LLaMA tokenizer.model
(e.g. ../shared/data/tokenizers/llama/tokenizer.model) as the legacy LLaMA tokenizer.json design
(Prepend and Replace normalizers, byte fallback, <s> template), converted by transformers.

Texts: probe strings (Unicode, emoji, CJK, runs of spaces and newlines, digits, code, special
tokens inside text) plus, from ../shared/data/natural-instructions, each task's definition and
first instance; a fixture names those by task and field, it never copies them.

Usage: scripts/parity/bpe_tokenizer_fixtures.py [--real-only] [--qwen-tiktoken FILE] [--llama-sentencepiece FILE]   (tokenizers==0.23.3, transformers==5.17.0)
"""
import base64
import hashlib
import json
import random
import sys
from pathlib import Path

import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "bpe"
CACHE = ROOT / ".cache" / "tokenizers"
NI_TASKS = ROOT.parent / "shared" / "data" / "natural-instructions" / "tasks"

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

PROBES = [
    "Hello world", " leading space", "  two leading", "trailing  ", "line1\nline2\n\n  indented",
    "def f(x):\n    return x**2  # square\n\tTabbed()", "{\"key\": [1, 2.5e-3]} && x->y != z;",
    "Ünïcödé 日本語 中文 한국어 Ελληνικά русский العربية", "emoji 😀🚀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    "   ", "", "\n", "\n\n\n", " \n \n", "multiple     spaces  here\t\ttabs", "a\r\nb\rc",
    "1234567890 12 345 6789 3.14159 1,000,000", "I'm you're it's we'll they'd I've DON'T", "ＡＢＣ１２３ café ﬁ",
    "e\u0301 (decomposed) vs é", "non\u00a0breaking\u2009thin\u3000ideographic\u0085next",
    "<|begin_of_text|>Hi<|end_of_text|>", "x <|eot_id|> y", "<|im_start|>user\nhi<|im_end|>\n",
    "a<|endoftext|>b", "<s>[INST] hi [/INST]</s>", "<think>\nhmm\n</think>", "  <|im_end|>  ",
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\nSay hi\n\n### Response:Hi there",
    "https://example.com/path?q=1&r=2#frag", "snake_case camelCase SCREAMING kebab-case", "ß ẞ İ ı ǅ",
    "\u200b\u200d zero width", "tab\tafter", "x" * 300, " " * 40 + "deep", "!!!???...,,,;;;",
    # Words that are Llama-3 tokens its merges cannot build: they need its ignore_merges.
    "Việt: việc hợp nhiều; čeština: jeho; Türkçe: lardan, gösterilmektedir",
]

WORDS = ("the of and to in is was for on that with as by at from it an be this are or have not but "
         "which one had all were when there can more if no out so said what up its about into than them "
         "time only new some could these two may first then do any like my now over such our man me even "
         "most made after also did many before must through back years where much your way well down "
         "should because each just those people how too little state good very make world still own see "
         "men work long get here between both life being under never day same another know while last "
         "instruction response task question answer context sentence output input example definition").split()
FOREIGN = ["日本語", "中文", "한국어", "Ελληνικά", "русский", "café", "naïve", "Ünïcödé", "😀", "🚀", "👍🏽", "数据"]
CODE = ["def f(x):", "    return x", "for i in range(10):", "{\"a\": 1}", "x->y", "a != b", "i += 1;", "// note"]


def corpus(seed=0, lines=4000):
    """Generated training text: words, punctuation, numbers, code, some non-Latin text."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        parts = []
        for _ in range(rng.randint(3, 18)):
            roll = rng.random()
            if roll < 0.75:
                word = rng.choice(WORDS)
                parts.append(word.capitalize() if rng.random() < 0.1 else word)
            elif roll < 0.85:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 6))))
            elif roll < 0.93:
                parts.append(rng.choice(FOREIGN))
            else:
                parts.append(rng.choice(".,;:!?'\"()-"))
        line = " ".join(parts)
        if rng.random() < 0.2:
            line = rng.choice(CODE) + "\n" + line
        out.append(line + rng.choice(["\n", "\n\n", " ", ""]))
    return out


def train_byte_level(tokenizer, special_tokens, vocab_size=1200):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def llama3():
    tokenizer = Tokenizer(models.BPE(ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    train_byte_level(tokenizer, specials)
    bos = tokenizer.token_to_id("<|begin_of_text|>")
    tokenizer.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "clean_up_tokenization_spaces": False,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    return tokenizer, config


def qwen2():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    train_byte_level(tokenizer, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_tokens([tokenizers.AddedToken("<think>", special=False, normalized=False),
                          tokenizers.AddedToken("</think>", special=False, normalized=False)])
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    config = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
              "clean_up_tokenization_spaces": False, "tokenizer_class": "Qwen2Tokenizer"}
    return tokenizer, config


def smollm2():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    train_byte_level(tokenizer, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    config = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
              "clean_up_tokenization_spaces": False, "tokenizer_class": "GPT2Tokenizer"}
    return tokenizer, config


def mistral():
    """Sentencepiece-style: Metaspace words, characters as the alphabet, <0xXX> byte fallback."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  limit_alphabet=150)
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    spec = json.loads(tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    for byte in range(256):  # the byte tokens a sentencepiece model with byte_fallback carries
        vocab.setdefault(f"<0x{byte:02X}>", len(vocab))
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                             special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "clean_up_tokenization_spaces": False,
              "legacy": False, "tokenizer_class": "LlamaTokenizer"}
    return tokenizer, config


QWEN_ADDED = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
              ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
              ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
              ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
              ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
              ("<|repo_name|>", False), ("<|file_sep|>", False), ("<tool_response>", False), ("</tool_response>", False),
              ("<think>", False), ("</think>", False)]


def byte_level_alphabet():
    """GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest from U+0100."""
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or b >= 0xAE]
    table, shifted = {}, 256
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(shifted)
            shifted += 1
    return table


def qwen_from_tiktoken(path):
    """Qwen's vocabulary from its tiktoken ranks, in the Qwen2.5/Qwen3 tokenizer.json design."""
    ranks = {}
    for line in Path(path).read_text().splitlines():
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    alphabet = byte_level_alphabet()
    text = lambda token: "".join(alphabet[byte] for byte in token)
    vocab, merges = {}, []
    for token, rank in ranks.items():
        vocab[text(token)] = rank
        splits = [(token[:i], token[i:]) for i in range(1, len(token)) if token[:i] in ranks and token[i:] in ranks]
        merges += [(ranks[left], ranks[right], rank, left, right) for left, right in splits]
    merges.sort(key=lambda merge: (merge[2], merge[0], merge[1]))
    tokenizer = Tokenizer(models.BPE(vocab, [(text(m[3]), text(m[4])) for m in merges]))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_tokens([tokenizers.AddedToken(content, special=special, normalized=False)
                          for content, special in QWEN_ADDED])
    folder = CACHE / "qwen-vocab"
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    write_json(folder / "tokenizer_config.json", {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
                                                   "clean_up_tokenization_spaces": False, "tokenizer_class": "Qwen2Tokenizer"})


# (instruction, response) pairs for the reference's Dolly template.
PROMPT_PAIRS = [("Say hi", "Hi there!"), ("Add 2 and 3.", " 5"), ("Name a colour", "Blue\n\nor green."),
                ("Translate: café", "咖啡 ☕"), ("Write code", "def f(x):\n    return x  # done\n")]
DOLLY_TEMPLATE = ("Below is an instruction that describes a task. Write a response for the task request.\n\n"
                  "### Instruction:\n{}\n\n### Response:")


def prompt_cases(auto):
    """The reference's tokenisation: ids of prompt + response + the EOS text, and the prompt's length."""
    cases = []
    for instruction, response in PROMPT_PAIRS:
        prompt = DOLLY_TEMPLATE.format(instruction)
        cases.append({"prompt": prompt, "response": response,
                      "input_ids": auto(prompt + response + auto.eos_token)["input_ids"],
                      "prompt_length": len(auto(prompt)["input_ids"])})
    return cases


def llama_from_sentencepiece(path):
    """A LLaMA sentencepiece model in the legacy LLaMA tokenizer.json design."""
    from transformers.convert_slow_tokenizer import SentencePieceExtractor
    parts = SentencePieceExtractor(path).extract(models.BPE)
    tokenizer = Tokenizer(models.BPE(parts["vocab"], parts["merges"], unk_token="<unk>", fuse_unk=True,
                                     byte_fallback=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens([tokenizers.AddedToken(token, normalized=False) for token in ("<unk>", "<s>", "</s>")])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                             special_tokens=[("<s>", 1)])
    folder = CACHE / "llama-legacy"
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    write_json(folder / "tokenizer_config.json", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                                   "legacy": True, "tokenizer_class": "LlamaTokenizer"})


def ni_texts():
    """(reference, text) for each task's definition, first input and first output."""
    if not NI_TASKS.is_dir():
        sys.exit(f"bpe_tokenizer_fixtures.py: {NI_TASKS} is missing (the Natural Instructions tasks)")
    texts = []
    for path in sorted(NI_TASKS.glob("*.json")):
        task = json.loads(path.read_text(encoding="utf-8"))
        instance = task["Instances"][0]
        for field, text in (("definition", task["Definition"][0]), ("input", instance["input"]),
                            ("output", instance["output"][0])):
            texts.append(({"task": path.name, "field": field}, text))
    return texts


def expected(folder, name):
    """The ids, decoded text and special ids tokenizers/transformers give for every text."""
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(str(folder))
    cases = [{"text": text} for text in PROBES] + [{"ni": ref} for ref, _ in ni_texts()]
    all_texts = PROBES + [text for _, text in ni_texts()]
    for case, text in zip(cases, all_texts):
        case["ids"] = tokenizer.encode(text, add_special_tokens=False).ids
        case["ids_with_bos"] = tokenizer.encode(text, add_special_tokens=True).ids
        case["decoded"] = auto.decode(case["ids_with_bos"], skip_special_tokens=True)
    digest = hashlib.sha256((folder / "tokenizer.json").read_bytes()).hexdigest()
    return {"name": name, "tokenizer_json_sha256": digest, "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__, "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True),
            "eos_id": auto.eos_token_id, "pad_id": auto.pad_token_id, "prompt_cases": prompt_cases(auto),
            "cases": cases}


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_expected(path, value):
    """One case a line: small diffs when a tokenizer changes."""
    head = json.dumps({key: item for key, item in value.items() if key != "cases"}, ensure_ascii=False)
    cases = ",\n".join(json.dumps(case, ensure_ascii=False) for case in value["cases"])
    path.write_text(head[:-1] + ', "cases": [\n' + cases + "\n]}\n", encoding="utf-8")


def main():
    if "--qwen-tiktoken" in sys.argv:
        qwen_from_tiktoken(sys.argv[sys.argv.index("--qwen-tiktoken") + 1])
    if "--llama-sentencepiece" in sys.argv:
        llama_from_sentencepiece(sys.argv[sys.argv.index("--llama-sentencepiece") + 1])
    synthetic = (("llama3", llama3), ("qwen2", qwen2), ("smollm2", smollm2), ("mistral", mistral))
    for name, build in [] if "--real-only" in sys.argv else synthetic:
        tokenizer, config = build()
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        tokenizer.save(str(folder / "tokenizer.json"), pretty=False)
        write_json(folder / "tokenizer_config.json", config)
        write_expected(OUT / f"{name}.expected.json", expected(folder, name))
        print(f"wrote {folder} and {name}.expected.json")
    for folder in sorted(CACHE.glob("*/")) if CACHE.is_dir() else []:
        if (folder / "tokenizer.json").is_file():
            write_expected(OUT / f"real-{folder.name}.expected.json", expected(folder, folder.name))
            print(f"wrote real-{folder.name}.expected.json from {folder}")


if __name__ == "__main__":
    main()
