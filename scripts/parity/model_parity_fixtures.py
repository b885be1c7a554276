#!/usr/bin/env python3
"""Writes tests/data/model_parity/<case>/: random tiny checkpoints made by transformers for every
family (LLaMA, Qwen2, Qwen3, Mistral) in every weights layout and config spelling, each with
transformers' logits, loss and greedy tokens (llama_reference.py's create and reference).
tests/model_parity_test.cpp's ModelParity suite reads them without Python; larger checkpoints and
those fedkseed writes are checked against transformers live (ModelParityLive).

Usage: model_parity_fixtures.py [OUT_DIR]   (default tests/data/model_parity)
Pinned: transformers 5.17, torch 2.11 (the project venv).
"""
import os
import shutil
import sys

import llama_reference


def config_4x(vocab, hidden, inter, layers, heads, tied):
    """transformers 4.x's spelling."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden,
            "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
            "tie_word_embeddings": tied, "initializer_range": 0.2, "rope_theta": 10000.0, "rope_scaling": None,
            "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}


def family_config(model_type, architecture, **changes):
    """A tiny checkpoint of `model_type` as its transformers class names it."""
    config = {"architectures": [architecture], "model_type": model_type, "vocab_size": 96, "hidden_size": 32,
              "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
              "initializer_range": 0.2, "torch_dtype": "float32"}
    config.update(changes)
    return config


def llama3_rope(theta):
    return {"rope_type": "llama3", "rope_theta": theta, "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 16}


def cases():
    """(name, config, weights format, seed)."""
    gqa_llama3 = {"architectures": ["LlamaForCausalLM"], "vocab_size": 101, "hidden_size": 48,
                  "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 6,
                  "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 64,
                  "rope_parameters": llama3_rope(500000.0), "tie_word_embeddings": False, "dtype": "float32",
                  "initializer_range": 0.2}
    bin_untied = config_4x(64, 32, 40, 1, 2, False)
    oldest_rope = llama3_rope(10000.0)
    del oldest_rope["rope_type"]
    bin_untied["rope_scaling"] = dict(oldest_rope, type="llama3")  # the oldest spelling
    mqa_tied = {"architectures": ["LlamaForCausalLM"], "vocab_size": 64, "hidden_size": 32,
                "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 1, "tie_word_embeddings": True, "initializer_range": 0.2}
    return [
        ("mha_tied_4x_safetensors", config_4x(97, 32, 48, 2, 4, True), "safetensors", 1),
        ("gqa_llama3_5x_sharded_safetensors", gqa_llama3, "sharded-safetensors", 2),
        ("mha_untied_llama3_bin", bin_untied, "bin", 3),
        ("mqa_tied_defaults_sharded_bin", mqa_tied, "sharded-bin", 4),
        # Qwen2.5's spelling: q/k/v biases without attention_bias, an inactive sliding window.
        ("qwen2_tied_biases",
         family_config("qwen2", "Qwen2ForCausalLM", tie_word_embeddings=True, use_sliding_window=False,
                       sliding_window=32768, max_window_layers=2, bos_token_id=1, eos_token_id=2),
         "safetensors", 8),
        # Qwen3: q/k norms, a head_dim above hidden / heads, and (unlike the released models) biases.
        ("qwen3_head_dim_biases_sharded",
         family_config("qwen3", "Qwen3ForCausalLM", head_dim=16, attention_bias=True, tie_word_embeddings=False),
         "sharded-safetensors", 9),
        ("qwen3_tied",
         family_config("qwen3", "Qwen3ForCausalLM", head_dim=8, tie_word_embeddings=True, sliding_window=None),
         "safetensors", 10),
        # Mistral with a window shorter than the 12-token inputs and the generations.
        ("mistral_sliding_window",
         family_config("mistral", "MistralForCausalLM", sliding_window=4, rope_theta=10000.0), "safetensors", 11),
        # Llama-3.2's layout: tied, GQA, llama3 rope; plus attention biases (q/k/v and o_proj).
        ("llama32_tied_biases",
         family_config("llama", "LlamaForCausalLM", tie_word_embeddings=True, attention_bias=True,
                       rope_parameters=llama3_rope(500000.0)),
         "safetensors", 12),
    ]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/model_parity"
    for name, config, form, seed in cases():
        directory = os.path.join(out, name)
        shutil.rmtree(directory, ignore_errors=True)
        case = {"dir": directory, "config": config, "format": form, "seed": seed}
        llama_reference.create(case)
        llama_reference.reference(case)


if __name__ == "__main__":
    main()
