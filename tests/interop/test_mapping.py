"""Interop checks of mlmf's mapping package against gguf-py and transformers.

For every architecture mlmf registers (tests/interop/gen_mapping.py lists the
tiny models), mlmf's HF -> GGUF names must equal gguf-py's TensorNameMap where
gguf-py maps a name, the report must be clean, and the reverse map must give
back the HF names. Detection must work from config.json, from tensor names
alone, and from the metadata of a GGUF file written with gguf-py.

Python reaches Go through mapping/internal/mapcheck, built once per session.

    HF_HUB_OFFLINE=1 /root/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_mapping.py
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(__file__))

import gen_mapping  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "testdata", "mapping", "hf")

try:
    import torch  # noqa: F401
    import transformers  # noqa: F401
    HAVE_TRANSFORMERS = True
except ImportError:  # fall back to the committed fixtures
    HAVE_TRANSFORMERS = False


@pytest.fixture(scope="session")
def mapcheck(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bin") / "mapcheck")
    subprocess.run(["go", "build", "-o", out, "./mapping/internal/mapcheck"], cwd=ROOT, check=True)
    return out


_models = {}


def model(name):
    """The model's fixture data: rebuilt with transformers when available."""
    if name not in _models:
        if name in gen_mapping.CONSOLIDATED:
            _models[name] = gen_mapping.build_consolidated(name)
        elif HAVE_TRANSFORMERS:
            _models[name] = gen_mapping.build(name)
        else:
            with open(os.path.join(FIXTURES, name + ".json")) as f:
                _models[name] = json.load(f)
    return _models[name]


def run_mapcheck(binary, tmp_path, tensors, config=None, kv=None, args=()):
    cmd = [binary, *args]
    if config is not None:
        p = tmp_path / "config.json"
        p.write_text(json.dumps(config))
        cmd += ["-config", str(p)]
    if kv is not None:
        p = tmp_path / "kv.json"
        p.write_text(json.dumps(kv))
        cmd += ["-gguf-kv", str(p)]
    res = subprocess.run(cmd, input=json.dumps(tensors), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


ARCHS = list(gen_mapping.MODELS)
ALL_NAMINGS = ARCHS + gen_mapping.CONSOLIDATED


@pytest.mark.parametrize("arch", ARCHS)
def test_fixture_is_current(arch):
    """The committed fixture equals what transformers and gguf-py give now."""
    if not HAVE_TRANSFORMERS:
        pytest.skip("torch/transformers not installed: using the committed fixtures")
    with open(os.path.join(FIXTURES, arch + ".json")) as f:
        committed = json.load(f)
    fresh = model(arch)
    assert fresh["tensors"] == committed["tensors"]
    assert fresh["gguf_names"] == committed["gguf_names"]


@pytest.mark.parametrize("arch", ALL_NAMINGS)
def test_names_match_gguf_py(mapcheck, tmp_path, arch):
    data = model(arch)
    args = ["-arch", arch] if arch in gen_mapping.CONSOLIDATED else []  # params.json names no architecture
    out = run_mapcheck(mapcheck, tmp_path, data["tensors"], config=data["config"], args=args)
    det = out["detection"]
    assert det["arch"] == arch and not det["ambiguous"], det
    rep = out["report"]
    assert rep["gguf_arch"] == data["gguf_arch"]
    summary = rep["summary"]
    assert summary["ok"], {k: rep[k] for k in ("unmapped", "missing", "shape_mismatches", "collisions")}
    mapped = {m["hf"]: m for m in rep["mapped"]}
    skipped_ties = {n for n in rep["skipped"] if n.endswith("lm_head.weight")}
    compared = 0
    for name, want in data["gguf_names"].items():
        if want is None:
            continue  # gguf-py maps nothing here (fused or derived tensors, skipped buffers)
        if name in skipped_ties:
            continue  # a tied copy of the embedding: mlmf skips it, the name map still agrees
        assert name in mapped, f"{name}: gguf-py maps it to {want}, mlmf does not"
        if mapped[name].get("parts"):
            continue  # split by mlmf (DeepSeek kv_b): not one to one; see test_mapping_convert.py
        got = mapped[name]["canonical"]
        if not want.endswith((".weight", ".bias")):
            got = got.removesuffix(".weight")  # gguf-py keeps suffix-less HF parameters suffix-less
        assert got == want, f"{name}: mlmf {got}, gguf-py {want}"
        compared += 1
    assert compared > 0
    # Reverse map: every canonical tensor gives back exactly the HF names.
    back = {}
    for canon, names in out["reverse"].items():
        for n in names:
            back.setdefault(n, []).append(canon)
    for name in mapped:
        assert name in back, f"{name} is lost in the reverse map"
    # One-to-one tensors: the architecture's own reverse gives the HF name.
    for m in rep["mapped"]:
        if m.get("expert") is None and not m.get("parts"):
            assert out["to_hf"][m["canonical"]] == [m["hf"]]


# Architectures whose tensors are identical to another's: detection from
# names alone must name all of them.
@pytest.mark.parametrize("arch", ALL_NAMINGS)
def test_detect_from_names(mapcheck, tmp_path, arch):
    data = model(arch)
    out = run_mapcheck(mapcheck, tmp_path, data["tensors"])
    det = out["detection"]
    assert det["source"] == "tensor-names"
    assert arch in det["candidates"], det
    assert det["ambiguous"] == (len(det["candidates"]) > 1)


def write_gguf_kv(path, gguf_arch, cfg_model):
    """Write a tiny GGUF with gguf-py naming the architecture, read its
    metadata back with gguf-py, and return it as a JSON-able dict."""
    import gguf

    w = gguf.GGUFWriter(str(path), gguf_arch)
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_context_length(128)
    w.add_feed_forward_length(128)
    if cfg_model.get("num_local_experts") or cfg_model.get("num_experts") or cfg_model.get("n_routed_experts"):
        w.add_expert_count(4)
        w.add_expert_used_count(2)
    w.add_tensor("token_embd.weight", np.zeros((256, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    r = gguf.GGUFReader(str(path))
    kv = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        v = field.contents()
        if isinstance(v, (bytes, bytearray)):
            continue
        kv[key] = v
    return kv


@pytest.mark.parametrize("arch", ARCHS)
def test_detect_from_gguf(mapcheck, tmp_path, arch):
    data = model(arch)
    kv = write_gguf_kv(tmp_path / "m.gguf", data["gguf_arch"], data["config"])
    assert kv["general.architecture"] == data["gguf_arch"]
    out = run_mapcheck(mapcheck, tmp_path, [], kv=kv)
    det = out["detection"]
    assert det["source"] == "gguf", det
    assert arch in det["candidates"], det
    cfg = json.loads(json.dumps(out["config"]))
    assert cfg["num_hidden_layers"] == 2 and cfg["hidden_size"] == 64


def test_suggestions_reach_python(mapcheck, tmp_path):
    data = model("llama")
    renamed = [{"name": t["name"].replace("model.layers.", "blocks.").replace("self_attn.q_proj", "q"),
                "shape": t["shape"]} for t in data["tensors"]]
    out = run_mapcheck(mapcheck, tmp_path, renamed, config=data["config"], args=["-suggest"])
    sugg = {s["name"]: s["suggestions"] for s in out["suggestions"]}
    assert sugg["blocks.0.q.weight"][0]["canonical"] == "blk.0.attn_q.weight"
    assert sugg["blocks.0.q.weight"][0]["rule"]["hf"] == "blocks.{bid}.q.weight"
