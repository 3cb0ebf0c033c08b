"""Generate the mapping fixtures under testdata/mapping/.

For every architecture mlmf registers, build a tiny random model offline with
transformers (on the meta device: no weights are allocated, nothing is
downloaded), record its config.json, its full state-dict tensor list (names and
shapes) and what gguf-py's TensorNameMap says each name maps to. The Go tests
(mapping/oracle_test.go) read these fixtures; tests/interop/test_mapping.py
regenerates them and checks that they are current.

    HF_HUB_OFFLINE=1 /root/.cache/mlmf/venv/bin/python tests/interop/gen_mapping.py [OUTDIR]
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
import gguf  # noqa: E402
from gguf.constants import MODEL_ARCH_NAMES  # noqa: E402
from gguf.tensor_mapping import TensorNameMap  # noqa: E402

COMMON = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, intermediate_size=128, max_position_embeddings=128)

# name -> (config class, model class, gguf arch name, config kwargs)
MODELS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", "llama", dict(COMMON)),
    "mistral": ("MistralConfig", "MistralForCausalLM", "llama", dict(COMMON)),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", "llama",
                dict(COMMON, num_local_experts=4, num_experts_per_tok=2)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", "qwen2", dict(COMMON)),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "qwen2moe",
                  dict(COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
                       shared_expert_intermediate_size=96, decoder_sparse_step=1, mlp_only_layers=[])),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", "qwen3", dict(COMMON, head_dim=32)),
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM", "qwen3moe",
                  dict(COMMON, head_dim=32, num_experts=4, num_experts_per_tok=2,
                       moe_intermediate_size=32, decoder_sparse_step=1, mlp_only_layers=[])),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", "gemma", dict(COMMON, head_dim=16)),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", "gemma2", dict(COMMON, head_dim=16)),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", "gemma3", dict(COMMON, head_dim=16)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", "phi3", dict(COMMON, pad_token_id=0)),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "gpt2",
             dict(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=128)),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", "gptneox",
                 dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=128, max_position_embeddings=128)),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", "gptj",
             dict(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=128, rotary_dim=8)),
    "falcon": ("FalconConfig", "FalconForCausalLM", "falcon",
               dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    num_kv_heads=2, new_decoder_architecture=True)),
    "starcoder2": ("Starcoder2Config", "Starcoder2ForCausalLM", "starcoder2", dict(COMMON)),
    "stablelm": ("StableLmConfig", "StableLmForCausalLM", "stablelm", dict(COMMON)),
    "olmo": ("OlmoConfig", "OlmoForCausalLM", "olmo", dict(COMMON)),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", "olmo2", dict(COMMON)),
    "deepseek_v2": ("DeepseekV2Config", "DeepseekV2ForCausalLM", "deepseek2",
                    dict(COMMON, num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=16,
                         qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1,
                         num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1,
                         n_group=1, topk_group=1)),
    "deepseek_v3": ("DeepseekV3Config", "DeepseekV3ForCausalLM", "deepseek2",
                    dict(COMMON, num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=16,
                         qk_rope_head_dim=8, v_head_dim=16, n_routed_experts=4, n_shared_experts=1,
                         num_experts_per_tok=2, moe_intermediate_size=32, first_k_dense_replace=1,
                         n_group=1, topk_group=1)),
    "bert": ("BertConfig", "BertModel", "bert",
             dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=128, max_position_embeddings=128)),
    "modernbert": ("ModernBertConfig", "ModernBertModel", "modern-bert",
                   dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128, global_attn_every_n_layers=2,
                        pad_token_id=0, eos_token_id=1, bos_token_id=2, cls_token_id=2, sep_token_id=1)),
    "t5": ("T5Config", "T5ForConditionalGeneration", "t5",
           dict(vocab_size=256, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
                num_heads=4, feed_forward_proj="gated-gelu", tie_word_embeddings=False)),
}


def gguf_map(arch_name, n_blocks, names):
    arch = next(a for a, v in MODEL_ARCH_NAMES.items() if v == arch_name)
    # TensorNameMap.__init__ updates the class-level block table with per-arch
    # overrides; build from a pristine copy so one arch cannot leak into another.
    saved = dict(TensorNameMap.block_mappings_cfg)
    try:
        tmap = gguf.get_tensor_name_map(arch, n_blocks)
        return {n: tmap.get_name(n, try_suffixes=(".weight", ".bias")) for n in names}
    finally:
        TensorNameMap.block_mappings_cfg = saved


def build(name):
    cfg_cls, model_cls, gguf_arch, kwargs = MODELS[name]
    cfg = getattr(transformers, cfg_cls)(**kwargs)
    with torch.device("meta"):
        model = getattr(transformers, model_cls)(cfg)
    sd = model.state_dict()
    tensors = [{"name": k, "shape": list(v.shape)} for k, v in sd.items()]
    config = json.loads(cfg.to_json_string(use_diff=True))
    config["architectures"] = [model_cls]
    n_blocks = max(getattr(cfg, "num_hidden_layers", 0) or 0, getattr(cfg, "num_decoder_layers", 0) or 0)
    return {
        "arch": name,
        "gguf_arch": gguf_arch,
        "versions": {"transformers": transformers.__version__, "gguf": "0.19.0"},
        "config": config,
        "tensors": tensors,
        "gguf_names": gguf_map(gguf_arch, n_blocks, [t["name"] for t in tensors]),
    }


# Meta's consolidated.*.pth naming (Mistral's releases share it) has no
# transformers class: its tensor list is written out from the original
# layout, with params.json as the config.
CONSOLIDATED = ["llama_consolidated", "mistral_consolidated"]


def build_consolidated(name, n_layers=2, dim=64, n_heads=4, n_kv=2, ffn=128, vocab=256):
    hd = dim // n_heads
    tensors = [{"name": "tok_embeddings.weight", "shape": [vocab, dim]}]
    for b in range(n_layers):
        p = f"layers.{b}."
        tensors += [
            {"name": p + "attention.wq.weight", "shape": [n_heads * hd, dim]},
            {"name": p + "attention.wk.weight", "shape": [n_kv * hd, dim]},
            {"name": p + "attention.wv.weight", "shape": [n_kv * hd, dim]},
            {"name": p + "attention.wo.weight", "shape": [dim, n_heads * hd]},
            {"name": p + "feed_forward.w1.weight", "shape": [ffn, dim]},
            {"name": p + "feed_forward.w2.weight", "shape": [dim, ffn]},
            {"name": p + "feed_forward.w3.weight", "shape": [ffn, dim]},
            {"name": p + "attention_norm.weight", "shape": [dim]},
            {"name": p + "ffn_norm.weight", "shape": [dim]},
        ]
    tensors += [{"name": "norm.weight", "shape": [dim]}, {"name": "output.weight", "shape": [vocab, dim]}]
    config = {"dim": dim, "n_layers": n_layers, "n_heads": n_heads, "n_kv_heads": n_kv, "vocab_size": vocab,
              "norm_eps": 1e-5, "multiple_of": 32, "hidden_dim": ffn}
    return {
        "arch": name,
        "gguf_arch": "llama",
        "versions": {"gguf": "0.19.0"},
        "config": config,
        "tensors": tensors,
        "gguf_names": gguf_map("llama", n_layers, [t["name"] for t in tensors]),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "testdata", "mapping", "hf")
    os.makedirs(out, exist_ok=True)
    for name in MODELS:
        data = build(name)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(name, len(data["tensors"]), "tensors")
    for name in CONSOLIDATED:
        data = build_consolidated(name)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(name, len(data["tensors"]), "tensors")


if __name__ == "__main__":
    main()
