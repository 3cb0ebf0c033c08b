"""`mlmf convert DIR OUT.gguf --to gguf` against llama.cpp's convert_hf_to_gguf.py.

The demo checkpoint (internal/demo/checkpoint: a tiny LLaMA in BF16 with a
freshly trained byte-level BPE tokenizer.json) is converted by mlmf and by
convert_hf_to_gguf.py from llama-cpp-python's pinned source distribution at
F32, F16, BF16 and Q8_0. Every tensor — name, order, ggml type, shape and
bytes — must be equal, and so must the metadata.

The script cannot know the pre-tokenizer of a freshly trained vocabulary (it
recognises pre-tokenizers by the hash of a test encoding), so its hash lookup,
and only that, is stubbed to return the name mlmf chose; the rest of its
vocabulary code runs as written.

Then llama.cpp (llama-cpp-python) evaluates mlmf's GGUF on the same token ids
as transformers, every position's logits compared.

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        /root/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_export.py
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

SRC = os.environ.get("LLAMA_CPP_SRC", "/root/.cache/mlmf/venv/llama.cpp")

TYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16", "Q8_0": "q8_0"}

# Runs in a child process so that the vendored gguf-py the converter needs
# does not meet the pinned PyPI gguf of the test session.
RUNNER = r'''
import os, sys
from pathlib import Path
src, model_dir, out, outtype, pre = sys.argv[1:6]
sys.path.insert(0, os.path.join(src, "gguf-py"))
sys.path.insert(0, src)
import torch
import convert_hf_to_gguf as conv
import gguf
from conversion import base
# The only stub: the pre-tokenizer hash of a freshly trained vocabulary is
# unknown to the script, so its lookup returns the name mlmf chose.
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
         "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
hparams = conv.ModelBase.load_hparams(Path(model_dir), False)
arch = conv.get_model_architecture(hparams, conv.ModelType.TEXT)
cls = conv.get_model_class(arch, mmproj=False)
with torch.inference_mode():
    cls(Path(model_dir), ftype, Path(out), eager=True).write()
'''


@pytest.fixture(scope="module")
def demo_dir(repo_root):
    d = repo_root / "internal" / "demo" / "checkpoint"
    assert (d / "config.json").is_file(), f"{d} has no config.json"
    return d


VARIANTS = ["llama", "mistral", "tied", "sharded", "odd"]


def make_variant(name, demo_dir, parent):
    """The demo checkpoint as is (llama), as a MistralForCausalLM, with tied
    embeddings (no lm_head), in two safetensors shards with an index, or
    re-initialised with a hidden size of 48 and a feed-forward size of 80
    (odd: rows that do not divide into Q8_0 blocks fall back to F16). Each
    lives in a directory named checkpoint, like the demo, so that the
    model name both converters derive from the directory is the same."""
    if name == "llama":
        return demo_dir
    from safetensors.torch import load_file, save_file

    d = parent / name / "checkpoint"
    shutil.copytree(demo_dir, d)
    if name == "odd":
        import torch
        import transformers

        cfg = transformers.AutoConfig.from_pretrained(d)
        cfg.hidden_size, cfg.head_dim, cfg.intermediate_size = 48, 12, 80
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(cfg).to(torch.bfloat16)
        os.remove(d / "model.safetensors")
        model.save_pretrained(d)
        return d
    cfg = json.loads((d / "config.json").read_text())
    tensors = load_file(str(d / "model.safetensors"))
    if name == "mistral":
        cfg.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=None)
    elif name == "tied":
        cfg["tie_word_embeddings"] = True
        del tensors["lm_head.weight"]
        save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    elif name == "sharded":
        os.remove(d / "model.safetensors")
        names = sorted(tensors)
        # Blocks in the first shard, the rest (embeddings, final norm, head) in the second.
        parts = [[n for n in names if ".layers." in n], [n for n in names if ".layers." not in n]]
        weight_map = {}
        for i, part in enumerate(parts):
            fn = f"model-{i + 1:05d}-of-{len(parts):05d}.safetensors"
            save_file({n: tensors[n] for n in part}, str(d / fn), metadata={"format": "pt"})
            weight_map.update({n: fn for n in part})
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    return d


@pytest.fixture(scope="module")
def checkpoints(demo_dir, tmp_path_factory):
    parent = tmp_path_factory.mktemp("variants")
    return {v: make_variant(v, demo_dir, parent) for v in VARIANTS}


@pytest.fixture(scope="module")
def exported(mlmf, checkpoints, tmp_path_factory):
    """mlmf's GGUF for each variant and type."""
    out = tmp_path_factory.mktemp("export")
    files = {}
    for v, d in checkpoints.items():
        for t in TYPES:
            path = out / f"mlmf-{v}-{t}.gguf"
            mlmf.run("convert", d, path, "--to", "gguf", "--type", t)
            files[v, t] = path
    return files


@pytest.fixture(scope="module")
def reference(exported, checkpoints, tmp_path_factory):
    """convert_hf_to_gguf.py's GGUF for each variant and type."""
    script = os.path.join(SRC, "convert_hf_to_gguf.py")
    assert os.path.isfile(script), f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}"
    out = tmp_path_factory.mktemp("reference")
    runner = out / "run_convert.py"
    runner.write_text(RUNNER)
    files = {}
    for v, d in checkpoints.items():
        pre = field(gguf.GGUFReader(exported[v, "F32"]), "tokenizer.ggml.pre")
        for t, outtype in TYPES.items():
            path = out / f"ref-{v}-{t}.gguf"
            res = subprocess.run([sys.executable, str(runner), SRC, str(d), str(path), outtype, pre],
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"{v}: convert_hf_to_gguf.py --outtype {outtype} failed:\n{res.stderr[-4000:]}"
            files[v, t] = path
    return files


def field(r, key):
    f = r.fields[key]
    return f.contents()


def kvs(r):
    """Metadata as (key, value types, contents), GGUF header fields left out."""
    return [(k, [int(x) for x in f.types], f.contents()) for k, f in r.fields.items()
            if not k.startswith(("GGUF.", "mlmf."))]  # mlmf.*: provenance, test_provenance_keys


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("typ", list(TYPES))
def test_tensors_equal_convert_hf_to_gguf(exported, reference, variant, typ):
    got = gguf.GGUFReader(exported[variant, typ])
    want = gguf.GGUFReader(reference[variant, typ])
    assert [t.name for t in got.tensors] == [t.name for t in want.tensors], "tensor names or order differ"
    for g, w in zip(got.tensors, want.tensors):
        assert g.tensor_type == w.tensor_type, f"{typ}: tensor {g.name}: type {g.tensor_type.name}, want {w.tensor_type.name}"
        assert list(g.shape) == list(w.shape), f"{typ}: tensor {g.name}: shape {list(g.shape)}, want {list(w.shape)}"
        gb, wb = g.data.tobytes(), w.data.tobytes()
        if gb != wb:
            n = sum(a != b for a, b in zip(gb, wb))
            pytest.fail(f"{typ}: tensor {g.name}: {n} of {len(wb)} bytes differ")
    # The types are the script's policy: norms F32, 2-D weights the type asked for.
    want_type = gguf.GGMLQuantizationType[typ]
    fallbacks = 0
    for t in got.tensors:
        expect = gguf.GGMLQuantizationType.F32 if len(t.shape) == 1 else want_type
        if typ == "Q8_0" and len(t.shape) > 1 and int(t.shape[0]) % 32:
            expect = gguf.GGMLQuantizationType.F16  # the script's QuantError fallback
            fallbacks += 1
        assert t.tensor_type == expect, f"{typ}: tensor {t.name} is {t.tensor_type.name}"
    assert (fallbacks > 0) == (variant == "odd" and typ == "Q8_0")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("typ", list(TYPES))
def test_metadata_equals_convert_hf_to_gguf(exported, reference, variant, typ):
    got = kvs(gguf.GGUFReader(exported[variant, typ]))
    want = kvs(gguf.GGUFReader(reference[variant, typ]))
    # general.* and llama.* keys: same keys, types, values and order.
    model = lambda kv: [x for x in kv if not x[0].startswith("tokenizer.")]
    assert model(got) == model(want)
    # The vocabulary: same keys, types and values. Its order follows the
    # tokenizer files in gguf-py's SpecialVocab (add_*_token), so it is
    # compared as a mapping.
    vocab = lambda kv: {k: (t, v) for k, t, v in kv if k.startswith("tokenizer.")}
    g, w = vocab(got), vocab(want)
    assert sorted(g) == sorted(w)
    for k in w:
        assert g[k] == w[k], f"{typ}: {k} differs"
    assert [x[0] for x in model(got)][:1] == ["general.architecture"]


def test_provenance_keys(exported, checkpoints):
    """mlmf's own keys: its version, the options, and every source file with
    its size and sha256 (hashed while the tensors streamed, written into the
    header before the file was committed)."""
    import hashlib

    for variant in ("llama", "sharded"):
        r = gguf.GGUFReader(exported[variant, "Q8_0"])
        assert r.fields["mlmf.version"].contents()
        assert "type=Q8_0" in r.fields["mlmf.options"].contents()
        lines = r.fields["mlmf.source.files"].contents()
        files = sorted(pathlib.Path(checkpoints[variant]).glob("*.safetensors"))
        assert len(lines) == len(files) > 0
        for line, f in zip(sorted(lines, key=lambda x: x.split()[-1]), files):
            digest, size, name = line.split()
            assert name == f.name and int(size) == f.stat().st_size
            assert digest == hashlib.sha256(f.read_bytes()).hexdigest(), name


_logits_cache = {}


def transformers_logits(model_dir, ids):
    key = (str(model_dir), tuple(ids))
    if key in _logits_cache:
        return _logits_cache[key]
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    m = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    m.eval()
    with torch.no_grad():
        _logits_cache[key] = m(torch.tensor([ids])).logits[0].numpy()
    return _logits_cache[key]


def llama_cpp_logits(path, ids):
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=str(path), logits_all=True, n_ctx=64, verbose=False,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    try:
        llm.eval(ids)
        return np.array(llm.scores[:len(ids)], dtype=np.float32)
    finally:
        llm.close()


@pytest.fixture(scope="module")
def token_ids(demo_dir):
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(demo_dir)
    ids = tok("the quick brown fox jumps over the lazy dog, 42 times!")["input_ids"]
    assert 8 <= len(ids) <= 64
    return ids


# F32 is the acceptance bound; the others are sanity bounds for files whose
# bytes already equal the reference converter's (llama.cpp computes BF16 and
# Q8_0 matrix products with rounded activations). The demo's logits are
# below 1 in magnitude.
TOLERANCE = {"F32": 1e-3, "F16": 1e-2, "BF16": 1e-2, "Q8_0": 5e-2}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("typ", list(TYPES))
def test_llama_cpp_logits_equal_transformers(exported, checkpoints, token_ids, variant, typ):
    want = transformers_logits(checkpoints[variant], token_ids)
    got = llama_cpp_logits(exported[variant, typ], token_ids)
    assert got.shape == want.shape
    diff = float(np.abs(got - want).max())
    assert diff <= TOLERANCE[typ], f"{variant} {typ}: max abs logit difference {diff} (bound {TOLERANCE[typ]})"


def test_unpermuted_export_would_fail(exported, demo_dir, token_ids, tmp_path):
    """The logit comparison can fail: undoing the Q/K permutation in mlmf's
    F32 file moves llama.cpp's logits beyond the F32 bound (the demo's
    attention is weak, so the shift is small, but several times the bound)."""
    r = gguf.GGUFReader(exported["llama", "F32"])
    heads = {"attn_q": int(field(r, "llama.attention.head_count")), "attn_k": int(field(r, "llama.attention.head_count_kv"))}
    w = gguf.GGUFWriter(str(tmp_path / "unpermuted.gguf"), "llama")
    w.kv_data[0].clear()  # the arch key comes back with the copied fields
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            w.add_key_value(k, f.contents(), t, sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), t)
    for t in r.tensors:
        data = np.array(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
        kind = t.name.split(".")[-2] if t.name.startswith("blk.") else ""
        if kind in heads:
            n = heads[kind]
            # inverse of reshape(n, 2, rows/n/2, cols).swapaxes(1, 2)
            data = data.reshape(n, data.shape[0] // n // 2, 2, *data.shape[1:]).swapaxes(1, 2).reshape(data.shape)
        w.add_tensor(t.name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    want = transformers_logits(demo_dir, token_ids)
    got = llama_cpp_logits(tmp_path / "unpermuted.gguf", token_ids)
    diff = float(np.abs(got - want).max())
    assert diff > 3 * TOLERANCE["F32"], f"unpermuted Q/K moved the logits by only {diff}"


@pytest.mark.parametrize("args, message", [
    (["--type", "Q4_K"], "Q4_K"),
    (["--type", "F7"], "F7"),
    (["--dtype", "F16"], "--type"),
])
def test_cli_refuses_bad_options(mlmf, demo_dir, tmp_path, args, message):
    out = tmp_path / "out.gguf"
    p = mlmf.run("convert", demo_dir, out, "--to", "gguf", *args, check=False)
    assert p.returncode != 0
    assert message in p.stderr
    assert list(tmp_path.iterdir()) == [], "a refused conversion left files behind"


def test_unmapped_tensor_refused_before_writing(mlmf, demo_dir, tmp_path):
    from safetensors.torch import load_file, save_file
    import torch

    d = tmp_path / "checkpoint"
    shutil.copytree(demo_dir, d)
    tensors = load_file(str(d / "model.safetensors"))
    tensors["model.layers.0.self_attn.mystery.weight"] = torch.zeros(4, 4)
    save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    out = tmp_path / "out"
    out.mkdir()
    p = mlmf.run("convert", d, out / "model.gguf", "--to", "gguf", "--type", "F16", check=False)
    assert p.returncode != 0
    assert "model.layers.0.self_attn.mystery.weight" in p.stderr
    assert list(out.iterdir()) == []
