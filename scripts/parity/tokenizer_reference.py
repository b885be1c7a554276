"""Reference token ids for tests/tokenizer_test.cpp, from transformers (pinned: 5.17).

transformers 5 has two LLaMA tokenizers: `LlamaTokenizer` is now the Rust `tokenizers`
backend converted from tokenizer.model (it differs from sentencepiece on runs of spaces,
e.g. "  two" -> 259 10184 instead of 259 1023, so it is not the reference's behaviour), and
`SentencePieceBackend` is the slow sentencepiece path with legacy=True. On text without added
tokens the latter gives the ids of the reference's tokenizer (transformers 4.35's
LlamaTokenizerFast; tokenizer_hf435.py pins that one exactly). The C++ encoder is checked
against SentencePieceBackend (with BOS prepended, as LlamaTokenizer's add_bos_token does) and
its decoder against LlamaTokenizer's decode(skip_special_tokens=True).

usage: tokenizer_reference.py IN.json OUT.json (tokenizer_llama_fixture.py writes the committed
fixture for the real LLaMA tokenizer.model through reference())
IN: {"model_dir": str, "texts": [str], "decode_ids": [[int]], "simple_texts": [str]}
OUT: {"encode": [[int]], "decode": [str], "llama_encode_simple": [[int]], "pad_id": int|null, "vocab_size": int}
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")
import transformers  # noqa: E402
from transformers import LlamaTokenizer  # noqa: E402
from transformers.tokenization_utils_sentencepiece import SentencePieceBackend  # noqa: E402


def reference(model_dir, texts, decode_ids, simple_texts=()):
    slow = SentencePieceBackend.from_pretrained(model_dir)
    fast = LlamaTokenizer.from_pretrained(model_dir)
    return {
        "transformers": transformers.__version__,
        "encode": [[slow.bos_token_id] + slow.encode(text) for text in texts],
        "decode": [fast.decode(ids, skip_special_tokens=True) for ids in decode_ids],
        "llama_encode_simple": [fast.encode(text) for text in simple_texts],
        "pad_id": slow.pad_token_id,
        "vocab_size": len(slow),
    }


if __name__ == "__main__":
    request = json.load(open(sys.argv[1], encoding="utf-8"))
    result = reference(request["model_dir"], request["texts"], request["decode_ids"], request.get("simple_texts", []))
    json.dump(result, open(sys.argv[2], "w", encoding="utf-8"))
