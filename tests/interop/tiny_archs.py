"""Tiny random checkpoints of several architectures with real tokenizers.

Each model is built offline with transformers from a seeded random
initialisation, saved with save_pretrained (BF16 or F16 safetensors) and
given one of the trained tokenizers under testdata/tokenizers/ (SentencePiece
for Gemma 2, Phi-3 and Mixtral, byte-level BPE for Qwen2, GPT-2 and Qwen2-MoE;
odd-pre is a byte-level BPE whose pre-tokenizer neither llama.cpp nor its
converter knows). config.json is written in full (every default spelled
out), as checkpoints on the Hub are, so that convert_hf_to_gguf.py (which
reads AutoConfig.to_dict()) and mlmf (which reads config.json) see the same
hyper-parameters.

    HF_HUB_OFFLINE=1 python tests/interop/tiny_archs.py OUTDIR [NAME...]
"""

import json
import os
import pathlib
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = pathlib.Path(__file__).resolve().parents[2]
TOKENIZERS = REPO / "testdata" / "tokenizers"

COMMON = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=128, max_position_embeddings=128)

# name -> (config class, model class, tokenizer fixture, dtype, config kwargs)
ARCHS = {
    # Tied embeddings, as Qwen2-0.5B: no output tensor is written.
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2", "bfloat16",
              dict(COMMON, tie_word_embeddings=True, rope_theta=1e6)),
    # query_pre_attn_scalar = head_dim: llama.cpp scales queries by
    # 1/sqrt(head_dim) for every Gemma 2 but the 27B. F16 weights: the
    # converter adds 1 to the norms in F16.
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", "llama-spm", "float16",
               dict(COMMON, head_dim=16, query_pre_attn_scalar=16, sliding_window=64)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", "llama-spm", "bfloat16",
             dict(COMMON, pad_token_id=0, original_max_position_embeddings=128, tie_word_embeddings=False)),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "gpt2", "bfloat16",
             dict(n_embd=64, n_layer=2, n_head=4, n_positions=128)),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", "llama-spm", "bfloat16",
                dict(COMMON, num_local_experts=4, num_experts_per_tok=2)),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "qwen2", "bfloat16",
                  dict(COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                       shared_expert_intermediate_size=96, decoder_sparse_step=1, mlp_only_layers=[],
                       norm_topk_prob=False)),
    # A Qwen2 with a byte-level BPE whose pre-tokenizer regex neither the
    # converter (by hash) nor llama.cpp knows.
    "odd-pre": ("Qwen2Config", "Qwen2ForCausalLM", "odd-pre", "bfloat16", dict(COMMON)),
}

# Keys the converter reads that transformers 5 does not write.
EXTRA = {"gpt2": {"n_ctx": 128}}


def vocab_size(tok_dir):
    cfg = json.loads((tok_dir / "config.json").read_text())
    return cfg["vocab_size"]


def build(name, out):
    """Save the tiny model `name` under out/name/checkpoint; returns the dir."""
    import torch
    import transformers

    cfg_cls, model_cls, tok, dtype, kwargs = ARCHS[name]
    tok_dir = TOKENIZERS / tok
    tcfg = json.loads((tok_dir / "config.json").read_text())
    kw = dict(kwargs, vocab_size=tcfg["vocab_size"])
    for k in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if k in tcfg and k not in kw:
            kw[k] = tcfg[k]
    cfg = getattr(transformers, cfg_cls)(**kw)
    torch.manual_seed(0)
    model = getattr(transformers, model_cls)(cfg)
    with torch.no_grad():
        # Random norms and biases: the default ones/zeros would hide a
        # transform applied to the wrong tensor.
        for n, p in model.named_parameters():
            if p.ndim == 1 or "norm" in n or "ln_" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model = model.to(getattr(torch, dtype))
    d = pathlib.Path(out) / name / "checkpoint"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    model.save_pretrained(d)
    full = json.loads((d / "config.json").read_text())
    full.update(json.loads(cfg.to_json_string(use_diff=False)))
    full.update(EXTRA.get(name, {}))
    full.pop("_name_or_path", None)  # "" would blank general.name
    full["architectures"] = [model_cls]
    (d / "config.json").write_text(json.dumps(full, indent=2))
    for f in tok_dir.iterdir():
        if f.name not in ("config.json", "expected.json"):
            shutil.copy(f, d / f.name)
    return d


if __name__ == "__main__":
    out = sys.argv[1]
    for n in sys.argv[2:] or list(ARCHS):
        print(build(n, out))
