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
    # YaRN rope scaling (Qwen2.5's long-context setting).
    "qwen2_yarn": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2", "bfloat16",
                   dict(COMMON, max_position_embeddings=512, tie_word_embeddings=True,
                        rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128,
                                         "rope_theta": 1e6})),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", "gemma-spm", "float16",
               dict(COMMON, head_dim=16, query_pre_attn_scalar=16, sliding_window=64)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", "llama-spm", "bfloat16",
             dict(COMMON, pad_token_id=0, original_max_position_embeddings=128, tie_word_embeddings=False)),
    # LongRoPE (Phi-3 128k style): the converter writes the long and short
    # factors as tensors and an attention factor. llama.cpp picks the long
    # factors when its context (at least 256 in llama-cpp-python) exceeds
    # the original one, transformers when the sequence does: an original
    # context of 256 has both use the short factors on the test's text.
    "phi3_long": ("Phi3Config", "Phi3ForCausalLM", "llama-spm", "bfloat16",
                  dict(COMMON, pad_token_id=0, max_position_embeddings=1024, original_max_position_embeddings=256,
                       tie_word_embeddings=False,
                       rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                        "long_factor": [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0],
                                        "short_factor": [1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.75]})),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "gpt2", "bfloat16",
             dict(n_embd=64, n_layer=2, n_head=4, n_positions=128)),
    # Rows of 48 (and 192): Q8_0 falls back to F16 for the weights.
    "gpt2_odd": ("GPT2Config", "GPT2LMHeadModel", "gpt2", "float16",
                 dict(n_embd=48, n_layer=2, n_head=4, n_positions=128)),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", "llama-spm", "bfloat16",
                dict(COMMON, num_local_experts=4, num_experts_per_tok=2)),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "qwen2", "bfloat16",
                  dict(COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                       shared_expert_intermediate_size=96, decoder_sparse_step=1, mlp_only_layers=[],
                       norm_topk_prob=False)),
    # The same checkpoint with each block's experts in transformers 5's
    # fused parameters (mlp.experts.gate_up_proj [E, 2F, D] and
    # mlp.experts.down_proj [E, D, F], no .weight): the export splits
    # gate_up_proj into ffn_gate_exps and ffn_up_exps.
    "qwen2_moe_fused": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "qwen2", "bfloat16",
                        dict(COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                             shared_expert_intermediate_size=96, decoder_sparse_step=1, mlp_only_layers=[],
                             norm_topk_prob=False)),
    # Rows of 256 and more, so that llama-quantize's k-quant presets apply
    # without falling back (tests of --type Q4_K_M …).
    "qwen2_wide": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2", "bfloat16",
                   dict(COMMON, hidden_size=256, intermediate_size=512, tie_word_embeddings=False)),
    "mixtral_wide": ("MixtralConfig", "MixtralForCausalLM", "llama-spm", "bfloat16",
                     dict(COMMON, hidden_size=256, intermediate_size=256, num_local_experts=4, num_experts_per_tok=2)),
    # The demo's LLaMA shape with the SentencePiece fixture (test_export_spm.py
    # removes tokenizer.json).
    "llama_spm": ("LlamaConfig", "LlamaForCausalLM", "llama-spm", "bfloat16",
                  dict(COMMON, tie_word_embeddings=False)),
    # A Qwen2 with a byte-level BPE whose pre-tokenizer regex neither the
    # converter (by hash) nor llama.cpp knows.
    "odd-pre": ("Qwen2Config", "Qwen2ForCausalLM", "odd-pre", "bfloat16", dict(COMMON)),
}

# Keys the converter reads that transformers 5 does not write.
EXTRA = {"gpt2": {"n_ctx": 128}, "gpt2_odd": {"n_ctx": 128}}


def gemma_tokenizer(out):
    """A Gemma-style SentencePiece BPE (no dummy prefix, byte fallback,
    <pad> <eos> <bos> <unk> as ids 0-3), trained on gen_tokenizers' corpus,
    with the tokenizer.json transformers' GemmaTokenizer makes of it."""
    import io
    import tempfile

    import sentencepiece as spm
    from transformers import AutoTokenizer

    sys.path.insert(0, os.path.dirname(__file__))
    import gen_tokenizers

    out = pathlib.Path(out)
    if (out / "tokenizer.json").is_file():
        return out
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(gen_tokenizers.CORPUS.split("\n")), model_writer=buf, model_type="bpe",
        vocab_size=700, character_coverage=1.0, byte_fallback=True, split_digits=True,
        allow_whitespace_only_pieces=True, remove_extra_whitespaces=False, normalization_rule_name="identity",
        add_dummy_prefix=False, user_defined_symbols=["<start_of_turn>", "<end_of_turn>"],
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", num_threads=1, seed_sentencepiece_size=1000, minloglevel=2)
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp)
        (src / "tokenizer.model").write_bytes(buf.getvalue())
        (src / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>",
            "pad_token": "<pad>", "mask_token": None, "add_bos_token": True, "add_eos_token": False}))
        tok = AutoTokenizer.from_pretrained(str(src))
        out.mkdir(parents=True, exist_ok=True)
        tok.save_pretrained(str(out))
        (out / "tokenizer.model").write_bytes(buf.getvalue())
    (out / "config.json").write_text(json.dumps({"vocab_size": len(tok), "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2}))
    return out


def build(name, out):
    """Save the tiny model `name` under out/name/checkpoint; returns the dir."""
    import torch
    import transformers

    cfg_cls, model_cls, tok, dtype, kwargs = ARCHS[name]
    tok_dir = TOKENIZERS / tok
    if tok == "gemma-spm":
        tok_dir = gemma_tokenizer(pathlib.Path(out) / "gemma-spm")
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
    if name.endswith("_fused"):
        fuse_experts(d, full)
    # transformers 4 (which wrote most checkpoints on the Hub) lists the
    # added tokens in tokenizer_config.json; transformers 5 does not, and
    # convert_hf_to_gguf.py's SentencePiece path types user-defined pieces
    # from that list only.
    tc = json.loads((d / "tokenizer_config.json").read_text())
    if "added_tokens_decoder" not in tc and (d / "tokenizer.json").is_file():
        added = json.loads((d / "tokenizer.json").read_text()).get("added_tokens", [])
        tc["added_tokens_decoder"] = {str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in added}
        (d / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))
    return d


def fuse_experts(d, cfg):
    """Rewrite d's per-expert tensors as transformers 5's fused ones."""
    import torch
    from safetensors.torch import load_file, save_file

    t = load_file(str(d / "model.safetensors"))
    for b in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{b}.mlp.experts."
        stack = lambda w: torch.stack([t.pop(f"{p}{x}.{w}.weight") for x in range(cfg["num_experts"])])  # noqa: E731
        gate, up, down = stack("gate_proj"), stack("up_proj"), stack("down_proj")
        t[p + "gate_up_proj"] = torch.cat([gate, up], dim=1).contiguous()
        t[p + "down_proj"] = down.contiguous()
    save_file(t, str(d / "model.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    out = sys.argv[1]
    for n in sys.argv[2:] or list(ARCHS):
        print(build(n, out))
