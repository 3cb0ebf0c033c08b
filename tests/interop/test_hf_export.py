"""`mlmf convert SRC DST --to hf`: Hugging Face model directories that
transformers loads as its own.

- safetensors → hf (as is, cast to F32, sharded): transformers loads the
  directory and reproduces the source's logits exactly.
- the demo checkpoint (a tiny LLaMA in BF16) → `--to gguf` at F32, F16 and
  Q8_0 → `--to hf`: transformers' AutoModelForCausalLM and AutoTokenizer load
  the result, the tokenizer rebuilt from the GGUF vocabulary encodes the
  shared prompt set into the original tokenizer's ids, and the logits match
  the original's within each type's bound.
- the model card's front matter is YAML with the Hub keys; every shard has
  "format": "pt" and mlmf's provenance keys.
- the provenance keys mlmf would put in a GGUF read back with gguf-py and
  equal what gguf-py's own Metadata writes for the same directory.
- bad GGUFs (unknown architecture, tensors the mapping does not know) are
  refused before any output exists.
- tiny random transformers models of every architecture the GGUF → HF export
  supports go through llama.cpp's convert_hf_to_gguf.py (F32) and back: the
  logits equal the original's and the rebuilt tokenizer encodes like the
  source's (or, for Gemma, like llama.cpp's).

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        ~/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_hf_export.py
"""

import hashlib
import importlib.util
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")
import yaml  # noqa: E402  (pinned oracle: a missing install fails, never skips)

REPO = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gen_tokenizers", REPO / "tests" / "interop" / "gen_tokenizers.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

# Prompts whose logits are compared (every position, every vocabulary entry).
LOGIT_PROMPTS = ["Hello world", "I'm sure they've done it, it's John's.", "line one\nline two", "Numbers: 1234567 and 3.14159"]

# Largest |logit difference| allowed against the original (BF16 weights,
# evaluated in F32), by GGUF type. BF16 → F32 and BF16 → F16 are exact for
# the demo's weights, so F32 and F16 round-trip exactly; Q8_0 carries its
# quantization error (the measured maximum is about 0.0065 on logits of
# magnitude ~0.7), and Q4_0 (made by `mlmf quantize` from the F32 GGUF) more
# (about 0.105). test_gguf_dequantized_like_gguf_py checks the weights
# themselves exactly.
BOUNDS = {"F32": 1e-5, "F16": 1e-5, "Q8_0": 2e-2, "Q4_0": 2e-1}


@pytest.fixture(scope="module")
def demo_dir():
    d = REPO / "internal" / "demo" / "checkpoint"
    assert (d / "config.json").is_file()
    return d


def load_model(d):
    m = transformers.AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
    m.eval()
    return m


def logits(model, tok):
    out = []
    with torch.no_grad():
        for p in LOGIT_PROMPTS:
            ids = torch.tensor([tok(p).input_ids])
            out.append(model(ids).logits[0].numpy())
    return out


@pytest.fixture(scope="module")
def reference(demo_dir):
    tok = transformers.AutoTokenizer.from_pretrained(str(demo_dir))
    return tok, logits(load_model(demo_dir), tok)


def max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def shard_files(d):
    return sorted(d.glob("*.safetensors"))


@pytest.mark.parametrize("variant", ["as-is", "F32", "sharded"])
def test_safetensors_to_hf(mlmf, demo_dir, reference, tmp_path, variant):
    from safetensors import safe_open

    out = tmp_path / "hf"
    extra = {"as-is": [], "F32": ["--dtype", "F32"], "sharded": ["--dtype", "F32", "--shard-size", "100KB"]}[variant]
    mlmf.run("convert", demo_dir, out, "--to", "hf", *extra)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["torch_dtype"] == ("bfloat16" if variant == "as-is" else "float32")
    for name in ("generation_config.json", "tokenizer.json", "tokenizer_config.json", "README.md", "provenance.json"):
        assert (out / name).is_file(), name
    if variant == "sharded":
        idx = json.loads((out / "model.safetensors.index.json").read_text())
        assert len(set(idx["weight_map"].values())) > 1
        assert len(shard_files(out)) == len(set(idx["weight_map"].values()))
    for f in shard_files(out):
        with safe_open(str(f), "pt") as st:
            want = {"as-is": torch.bfloat16}.get(variant, torch.float32)
            assert all(st.get_tensor(k).dtype == want for k in st.keys())
    tok, ref = reference
    got = logits(load_model(out), tok)
    assert max_diff(got, ref) == 0.0


@pytest.fixture(scope="module")
def gguf_exports(mlmf, demo_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf")
    out = {}
    for t in BOUNDS:
        g = root / f"demo-{t}.gguf"
        if t == "Q4_0":
            mlmf.run("quantize", root / "demo-F32.gguf", g, "--type", "Q4_0")
        else:
            mlmf.run("convert", demo_dir, g, "--to", "gguf", "--type", t)
        hf = root / f"hf-{t}"
        mlmf.run("convert", g, hf, "--to", "hf")
        out[t] = (g, hf)
    return out


@pytest.mark.parametrize("typ", list(BOUNDS))
def test_gguf_to_hf_loads_and_matches(gguf_exports, demo_dir, reference, typ):
    _, hf = gguf_exports[typ]
    cfg = json.loads((hf / "config.json").read_text())
    orig = json.loads((demo_dir / "config.json").read_text())
    for k in ("architectures", "model_type", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
              "num_hidden_layers", "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
              "bos_token_id", "eos_token_id"):
        assert cfg[k] == orig[k], k
    # Default dtype: the 16-bit type of F16 weights, else the exact F32.
    assert cfg["torch_dtype"] == {"F16": "float16"}.get(typ, "float32")

    # The tokenizer rebuilt from the GGUF vocabulary encodes like the original.
    tok, ref = reference
    ours = transformers.AutoTokenizer.from_pretrained(str(hf))
    for p in gen.PROMPTS:
        assert ours(p).input_ids == tok(p).input_ids, p
        assert ours(p, add_special_tokens=False).input_ids == tok(p, add_special_tokens=False).input_ids, p
    assert ours.bos_token == tok.bos_token and ours.eos_token == tok.eos_token
    assert ours.chat_template == tok.chat_template
    msgs = [{"role": "user", "content": "Hi there"}]
    assert ours.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) == \
        tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    got = logits(load_model(hf), tok)
    d = max_diff(got, ref)
    print(f"{typ}: max |logit diff| {d:.3g}")
    assert d <= BOUNDS[typ]
    if typ == "Q4_0":
        r = gguf.GGUFReader(gguf_exports[typ][0])
        assert any(t.tensor_type == gguf.GGMLQuantizationType.Q4_0 for t in r.tensors)
    if typ == "Q8_0":
        # The same token wins at every position.
        assert all((g.argmax(-1) == r.argmax(-1)).all() for g, r in zip(got, ref))


def test_gguf_to_hf_dtypes(mlmf, gguf_exports, reference, tmp_path):
    """--dtype F16 and BF16 from a Q8_0 GGUF: the dequantized weights cast once."""
    tok, ref = reference
    g, _ = gguf_exports["Q8_0"]
    for dt, name, bound in (("F16", "float16", 2e-2), ("BF16", "bfloat16", 2e-2)):
        out = tmp_path / dt
        mlmf.run("convert", g, out, "--to", "hf", "--dtype", dt)
        assert json.loads((out / "config.json").read_text())["torch_dtype"] == name
        d = max_diff(logits(load_model(out), tok), ref)
        print(f"Q8_0 → {dt}: max |logit diff| {d:.3g}")
        assert d <= bound


def test_gguf_weights_match_exactly(gguf_exports, demo_dir):
    """F32 GGUF → hf gives back the original tensors bit for bit (the Q/K
    permutation undone), under the original names."""
    from safetensors.torch import load_file

    orig = load_file(str(demo_dir / "model.safetensors"))
    _, hf = gguf_exports["F32"]
    ours = {}
    for f in shard_files(hf):
        ours.update(load_file(str(f)))
    assert sorted(ours) == sorted(orig)
    for k, v in orig.items():
        assert torch.equal(ours[k], v.float()), k


LLAMA_BLOCK = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
               "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
               "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
LLAMA_TOP = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def hf_name(name):
    parts = name.split(".")
    if parts[0] == "blk":
        return f"model.layers.{parts[1]}.{LLAMA_BLOCK[parts[2]]}.{parts[3]}"
    return f"{LLAMA_TOP[parts[0]]}.{parts[1]}"


@pytest.mark.parametrize("typ", ["Q8_0", "Q4_0", "F16"])
def test_gguf_dequantized_like_gguf_py(gguf_exports, typ):
    """Every HF tensor is gguf-py's dequantization of its GGUF tensor, with
    llama.cpp's Q/K permutation undone in numpy, bit for bit."""
    from gguf.quants import dequantize
    from safetensors.numpy import load_file

    g, hf = gguf_exports[typ]
    ours = {}
    for f in shard_files(hf):
        ours.update(load_file(str(f)))
    r = gguf.GGUFReader(str(g))
    assert len(r.tensors) == len(ours)
    heads = {"attn_q": 4, "attn_k": 2}
    for t in r.tensors:
        shape = tuple(reversed([int(x) for x in t.shape]))
        x = dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        n = heads.get(t.name.split(".")[2]) if t.name.startswith("blk.") else None
        if n:
            rows = shape[0]
            x = x.reshape(n, rows // n // 2, 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
        got = ours[hf_name(t.name)]
        if got.dtype == np.float16:
            x = x.astype(np.float16)
        assert got.shape == x.shape, t.name
        assert np.array_equal(got, x), t.name


def card_meta(path):
    text = path.read_text()
    assert text.startswith("---\n")
    front, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


@pytest.fixture(scope="module")
def carded(demo_dir, tmp_path_factory):
    """The demo with a model card and an _name_or_path, as a fine-tune
    downloaded from the Hub would have."""
    d = tmp_path_factory.mktemp("carded") / "tiny-llama"
    shutil.copytree(demo_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["_name_or_path"] = "mlmf-test/tiny-llama"
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    (d / "README.md").write_text("---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-2-7b-hf\n"
                                 "tags:\n- tiny\n- test\nlanguage:\n- en\npipeline_tag: text-generation\n---\n\n# Tiny\n")
    return d


def test_model_card(mlmf, carded, tmp_path):
    out = tmp_path / "hf"
    mlmf.run("convert", carded, out, "--to", "hf", "--dtype", "F16")
    meta, body = card_meta(out / "README.md")
    assert meta["base_model"] == "mlmf-test/tiny-llama"
    assert meta["base_model_relation"] == "quantized"
    assert meta["license"] == "apache-2.0"
    assert meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "text-generation"
    assert {"mlmf", "llama", "tiny", "test"} <= set(meta["tags"])
    assert meta["language"] == ["en"]
    sha = hashlib.sha256((carded / "model.safetensors").read_bytes()).hexdigest()
    assert sha in body
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["repo_id"] == "mlmf-test/tiny-llama"
    assert prov["source_files"] == [{"name": "model.safetensors", "size": (carded / "model.safetensors").stat().st_size, "sha256": sha}]
    assert prov["options"] == {"to": "hf", "dtype": "F16"}
    # huggingface_hub reads the same card.
    hub = pytest.importorskip("huggingface_hub")
    card = hub.ModelCard.load(str(out / "README.md"))
    assert card.data.base_model == "mlmf-test/tiny-llama" and card.data.library_name == "transformers"


def test_model_card_from_gguf(gguf_exports):
    _, hf = gguf_exports["Q8_0"]
    meta, body = card_meta(hf / "README.md")
    assert meta["library_name"] == "transformers"
    assert "gguf-to-hf" in meta["tags"]
    g, _ = gguf_exports["Q8_0"]
    assert hashlib.sha256(g.read_bytes()).hexdigest() in body
    assert "Q8_0" in body


def test_safetensors_metadata(mlmf, gguf_exports, carded, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "hf"
    mlmf.run("convert", carded, out, "--to", "hf", "--shard-size", "100KB")
    dirs = [out] + [hf for _, hf in gguf_exports.values()]
    for d in dirs:
        files = shard_files(d)
        assert files
        for f in files:
            with safe_open(str(f), "pt") as st:
                md = st.metadata()
            assert md["format"] == "pt", f
            assert md["mlmf.version"]
            assert md["mlmf.source.files"].split("  ")[0] in (d / "README.md").read_text()
    with safe_open(str(shard_files(out)[0]), "pt") as st:
        assert st.metadata()["mlmf.source.repo_id"] == "mlmf-test/tiny-llama"


@pytest.fixture(scope="module")
def provcheck(tmp_path_factory):
    out = tmp_path_factory.mktemp("bin") / "provcheck"
    subprocess.run(["go", "build", "-o", str(out), "./engine/internal/provcheck"], cwd=REPO, check=True)
    return str(out)


def read_kvs(path):
    r = gguf.GGUFReader(str(path))
    out = {}
    for f in r.fields.values():
        if f.name.startswith("GGUF."):
            continue
        out[f.name] = f.contents()
    return out


def test_provenance_keys_read_back(provcheck, carded, tmp_path):
    """The general.* keys mlmf derives for a directory are those gguf-py's
    Metadata (what convert_hf_to_gguf.py uses) writes for it, and mlmf's
    own keys read back."""
    from gguf.metadata import Metadata

    ours_path = tmp_path / "ours.gguf"
    p = subprocess.run([provcheck, str(carded), str(ours_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ours = read_kvs(ours_path)

    md = Metadata.load(model_path=carded)
    ref_path = tmp_path / "ref.gguf"
    w = gguf.GGUFWriter(str(ref_path), "llama")
    md.set_gguf_meta_model(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    ref = read_kvs(ref_path)
    compared = [k for k in ref if k.startswith("general.") and k not in ("general.architecture", "general.size_label")]
    assert "general.base_model.0.repo_url" in compared and "general.license" in compared
    for k in compared:
        assert ours.get(k) == ref[k], k
    # In gguf-py's order too.
    assert [k for k in ours if k in compared] == compared
    sha = hashlib.sha256((carded / "model.safetensors").read_bytes()).hexdigest()
    assert ours["mlmf.source.files"] == [f"{sha}  {(carded / 'model.safetensors').stat().st_size}  model.safetensors"]
    assert ours["mlmf.options"] == "type=F16"
    assert ours["mlmf.version"]
    assert ours["general.source.repo_url"] == "https://huggingface.co/mlmf-test/tiny-llama"


def write_gguf(path, arch, tensors, kv=None):
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_context_length(32)
    for k, v in (kv or {}).items():
        w.add_string(k, v)
    for name, shape in tensors:
        w.add_tensor(name, np.zeros(shape, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("case", ["unknown-arch", "unmapped-tensor", "bert"])
def test_bad_gguf_refused_before_output(mlmf, tmp_path, case):
    g = tmp_path / "bad.gguf"
    if case == "unknown-arch":
        write_gguf(g, "frobnicator", [("token_embd.weight", (10, 8))])
        want = 'architecture "frobnicator" is not known'
    elif case == "unmapped-tensor":
        write_gguf(g, "llama", [("token_embd.weight", (10, 8)), ("blk.0.mystery.weight", (8, 8))])
        want = '"blk.0.mystery.weight" has no Hugging Face name'
    else:
        write_gguf(g, "bert", [("token_embd.weight", (10, 8))])
        want = "not supported"
    out = tmp_path / "out"
    # An existing model directory stays as it was.
    out.mkdir()
    (out / "config.json").write_text("{}")
    p = mlmf.run("convert", g, out, "--to", "hf", check=False)
    assert p.returncode != 0
    assert want in p.stderr, p.stderr
    assert sorted(x.name for x in out.iterdir()) == ["config.json"] and (out / "config.json").read_text() == "{}"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.gguf", "out"]


def test_output_not_a_model_dir_refused(mlmf, demo_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    p = mlmf.run("convert", demo_dir, out, "--to", "hf", check=False)
    assert p.returncode != 0 and "neither empty nor a model directory" in p.stderr
    assert [x.name for x in out.iterdir()] == ["notes.txt"]


def test_replaces_existing_model_dir(mlmf, demo_dir, tmp_path):
    out = tmp_path / "out"
    mlmf.run("convert", demo_dir, out, "--to", "hf", "--dtype", "F32")
    (out / "stale.bin").write_text("x")
    mlmf.run("convert", demo_dir, out, "--to", "hf")
    assert not (out / "stale.bin").exists()
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out"]


# convert_hf_to_gguf.py in a child process (its vendored gguf-py must not meet
# the pinned one); only the pre-tokenizer hash lookup of the freshly trained
# demo vocabulary is stubbed, as in test_export.py.
CONVERT = r'''
import os, sys
from pathlib import Path
src, model_dir, out, pre = sys.argv[1:5]
sys.path.insert(0, os.path.join(src, "gguf-py"))
sys.path.insert(0, src)
import torch
import convert_hf_to_gguf as conv
import gguf
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
hparams = conv.ModelBase.load_hparams(Path(model_dir), False)
arch = conv.get_model_architecture(hparams, conv.ModelType.TEXT)
cls = conv.get_model_class(arch, mmproj=False)
with torch.inference_mode():
    cls(Path(model_dir), gguf.LlamaFileType.ALL_F32, Path(out), eager=True).write()
'''

COMMON = dict(vocab_size=343, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False, bos_token_id=341, eos_token_id=342)

# Architectures llama.cpp's converter writes and mlmf turns back into the
# transformers model: tiny random models, F32 GGUF, logits compared.
ARCHS = {
    # transformers 5 loads the demo tokenizer as Qwen2Tokenizer for qwen2, which
    # adds <|endoftext|> as token 343: the converter wants it inside the vocabulary.
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {"vocab_size": 352}),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", {"head_dim": 16}),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {"num_local_experts": 4, "num_experts_per_tok": 2}),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                                                            "shared_expert_intermediate_size": 64}),
    "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM", {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                                                            "head_dim": 16}),
    "tied-llama": ("LlamaConfig", "LlamaForCausalLM", {"tie_word_embeddings": True}),
    # Gemma's norms are stored as w - 1 and written by the converter as w.
    "gemma": ("GemmaConfig", "GemmaForCausalLM", {"vocab_size": 703, "head_dim": 16, "tie_word_embeddings": True,
                                                  "bos_token_id": 1, "eos_token_id": 2}),
    # Gemma 2: sandwich norms, logit soft-capping, sliding window (4, shorter
    # than the longest id list) on every other layer; query_pre_attn_scalar
    # is head_dim, as llama.cpp assumes for every size but 27B.
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", {"vocab_size": 703, "head_dim": 16, "tie_word_embeddings": True,
                                                    "bos_token_id": 1, "eos_token_id": 2, "query_pre_attn_scalar": 16,
                                                    "sliding_window": 4, "attn_logit_softcapping": 50.0,
                                                    "final_logit_softcapping": 30.0}),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", {"vocab_size": 703, "head_dim": 16, "tie_word_embeddings": True,
                                                        "bos_token_id": 1, "eos_token_id": 2, "query_pre_attn_scalar": 16,
                                                        "sliding_window": 4}),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 256, "n_ctx": 256,
                                                "n_inner": 192, "layer_norm_epsilon": 1e-6}),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", {"pad_token_id": 0, "vocab_size": 703}),
    "starcoder2": ("Starcoder2Config", "Starcoder2ForCausalLM", {"norm_epsilon": 1e-6}),
    "olmo": ("OlmoConfig", "OlmoForCausalLM", {"pad_token_id": 0}),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", {"pad_token_id": 0}),
    # Optional modules: config flags rebuilt from the tensors present.
    "llama-bias": ("LlamaConfig", "LlamaForCausalLM", {"attention_bias": True, "mlp_bias": True}),
    # Partial rotary (0.25) and Q/K/V biases. (With qk_layernorm the
    # converter fails on this tiny model: "Unprocessed norms"; the per-head
    # norms' unstacking is tested in Go, TestExportHFUnstacksPerHeadNorms.)
    "stablelm": ("StableLmConfig", "StableLmForCausalLM", {"use_qkv_bias": True, "layer_norm_eps": 1e-6}),
}

# Tokenizers the converter needs for an architecture (default: the demo's).
ARCH_TOKENIZERS = {a: REPO / "testdata" / "tokenizers" / "llama-spm" for a in ("gemma", "gemma2", "gemma3", "phi3")}

# Token ids whose logits are compared (valid in every vocabulary above).
ARCH_IDS = [[341, 5, 17, 99, 200, 3, 42, 7], list(range(1, 40))]


def test_mistral_round_trip(mlmf, demo_dir, reference, tmp_path):
    """A MistralForCausalLM → GGUF (general.architecture llama, as llama.cpp
    writes Mistral) → hf: a LlamaForCausalLM with the same logits."""
    d = tmp_path / "mistral"
    shutil.copytree(demo_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=None)
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    g = tmp_path / "mistral.gguf"
    mlmf.run("convert", d, g, "--to", "gguf", "--type", "F32")
    out = tmp_path / "hf"
    mlmf.run("convert", g, out, "--to", "hf")
    tok, _ = reference
    want = logits(load_model(d), tok)
    assert max_diff(logits(load_model(out), tok), want) == 0.0


@pytest.mark.parametrize("arch", list(ARCHS))
def test_arch_round_trip_through_llama_cpp_gguf(mlmf, demo_dir, gguf_exports, tmp_path, arch):
    import os
    import sys

    src = os.environ.get("LLAMA_CPP_SRC", str(pathlib.Path.home() / ".cache/mlmf/venv/llama.cpp"))
    if not os.path.isfile(os.path.join(src, "convert_hf_to_gguf.py")):
        pytest.skip(f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={src}")
    cfg_name, cls_name, extra = ARCHS[arch]
    cfg = getattr(transformers, cfg_name)(**{**COMMON, **extra})
    torch.manual_seed(0)
    model = getattr(transformers, cls_name)(cfg).eval()
    d = tmp_path / "model"
    model.save_pretrained(str(d))
    tokdir = ARCH_TOKENIZERS.get(arch, demo_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"):
        if (tokdir / name).is_file():
            shutil.copy(tokdir / name, d / name)
    g = tmp_path / "model.gguf"
    runner = tmp_path / "convert.py"
    runner.write_text(CONVERT)
    pre = gguf.GGUFReader(gguf_exports["F32"][0]).fields["tokenizer.ggml.pre"].contents()
    res = subprocess.run([sys.executable, str(runner), src, str(d), str(g), pre], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    out = tmp_path / "hf"
    mlmf.run("convert", g, out, "--to", "hf")
    # The tokenizer rebuilt from the converter's vocabulary encodes like the
    # source's. Gemma aside: its converter writes add_space_prefix=false,
    # which the llama-spm fixture standing in for Gemma's tokenizer does not
    # share; there llama.cpp on the same GGUF is the reference.
    ours = transformers.AutoTokenizer.from_pretrained(str(out))
    enc = lambda tok, p: tok(p, add_special_tokens=False).input_ids
    if not arch.startswith("gemma"):
        src_tok = transformers.AutoTokenizer.from_pretrained(str(d))
        for p in gen.PROMPTS:
            assert enc(ours, p) == enc(src_tok, p), p
    else:
        llama_cpp = pytest.importorskip("llama_cpp")
        lm = llama_cpp.Llama(model_path=str(g), vocab_only=True, verbose=False)
        for p in gen.PROMPTS:
            assert enc(ours, p) == lm.tokenize(p.encode(), add_bos=False, special=True), p
        del lm
    ours = load_model(out)
    with torch.no_grad():
        want = [model(torch.tensor([ids])).logits[0].numpy() for ids in ARCH_IDS]
        got = [ours(torch.tensor([ids])).logits[0].numpy() for ids in ARCH_IDS]
    d = max_diff(got, want)
    print(f"{arch}: max |logit diff| {d:.3g}")
    assert d <= 1e-4


def test_hub_cache_source_names_base_model(mlmf, demo_dir, tmp_path):
    """hf://org/name resolves in the hub cache, and the cache path names the
    repository the card points base_model at."""
    rev = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--mlmf-test--tiny-demo"
    shutil.copytree(demo_dir, repo / "snapshots" / rev)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    out = tmp_path / "out"
    mlmf.run("convert", "hf://mlmf-test/tiny-demo", out, "--to", "hf", env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    meta, _ = card_meta(out / "README.md")
    assert meta["base_model"] == "mlmf-test/tiny-demo" and meta["base_model_relation"] == "quantized"
    assert json.loads((out / "provenance.json").read_text())["name"] == "Tiny Demo"
