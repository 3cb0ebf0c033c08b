"""mlmf's GGUF export plan against llama.cpp's convert_hf_to_gguf.py.

For every tiny model of gen_mapping.MODELS that convert_hf_to_gguf.py (from
llama-cpp-python's pinned source distribution) can convert, the tensors mlmf
plans to write -- names and shapes, with MoE experts stacked, fused tensors
split, Conv1D weights transposed and tied outputs dropped -- equal the tensors
of the GGUF the converter writes. Bytes are compared once the conversion job
exists.

Needs LLAMA_CPP_SRC (vendor/llama.cpp of the unpacked sdist; see
gen_mapping_convert.py) and torch/transformers; skipped otherwise.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import gen_mapping  # noqa: E402
import gen_mapping_convert  # noqa: E402
from test_mapping import HAVE_TRANSFORMERS, ROOT, mapcheck, model, run_mapcheck  # noqa: E402,F401

SRC = os.environ.get("LLAMA_CPP_SRC", gen_mapping_convert.DEFAULT_SRC)
CONVERT_FIXTURES = os.path.join(ROOT, "testdata", "mapping", "convert")

pytestmark = pytest.mark.skipif(
    not (HAVE_TRANSFORMERS and os.path.isfile(os.path.join(SRC, "convert_hf_to_gguf.py"))),
    reason="needs torch, transformers and LLAMA_CPP_SRC with convert_hf_to_gguf.py")


def squeeze(shape):
    return [d for d in shape if d != 1]


@pytest.mark.parametrize("arch", list(gen_mapping.MODELS))
def test_plan_matches_convert(mapcheck, tmp_path, arch):  # noqa: F811
    conv = gen_mapping_convert.convert(arch, SRC)
    with open(os.path.join(CONVERT_FIXTURES, arch + ".json")) as f:
        committed = json.load(f)
    assert conv.get("error") == committed.get("error")
    assert conv.get("tensors") == committed.get("tensors"), "testdata/mapping/convert is stale: rerun gen_mapping_convert.py"
    if conv.get("error"):
        pytest.skip(f"convert_hf_to_gguf.py cannot convert it: {conv['error']}")
    data = model(arch)
    out = run_mapcheck(mapcheck, tmp_path, data["tensors"], config=data["config"])
    assert out["report"]["gguf_arch"] == conv["gguf_arch"]
    plan = {p["name"]: p.get("shape") for p in out["plan"]}
    written = {t["name"]: t["shape"] for t in conv["tensors"]}
    assert sorted(plan) == sorted(written)
    for name, shape in written.items():
        assert squeeze(plan[name]) == squeeze(shape), name


def apply_transform(p, sources, v):
    """mlmf's declared transform of a plan entry, written the way
    convert_hf_to_gguf.py implements each operation."""
    t = (p.get("transform") or {})
    op, arg = t.get("op", ""), t.get("arg", "")
    if op in ("stack_experts",):
        return np.stack(sources)
    (x,) = sources
    if op == "":
        return x
    if op == "permute_qk":
        n = v[arg]
        return x.reshape(n, 2, x.shape[0] // n // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)
    if op == "norm_plus_one":
        return x + np.float32(1)
    if op == "transpose":
        return x.T if x.ndim == 2 else x
    if op == "split":
        return np.split(x, p["parts"], axis=1 if x.ndim > 1 else 0)[p.get("part", 0)]
    if op == "split_kv_b":
        kv = x.reshape(v["n_head"], v["qk_nope_head_dim"] + v["v_head_dim"], v["kv_lora_rank"])
        k_b, v_b = kv[:, :v["qk_nope_head_dim"]], kv[:, v["qk_nope_head_dim"]:]
        return k_b.transpose(0, 2, 1) if p.get("part", 0) == 0 else v_b
    if op == "regroup_qkv" and arg == "falcon":
        nh, nkv, hd = v["n_head"], v["n_head_kv"], v["head_dim"]
        if x.ndim == 1:
            return x  # no bias in the new decoder
        qkv = x.reshape(nkv, nh // nkv + 2, hd, x.shape[-1])
        q = qkv[:, :-2].reshape(nh * hd, -1)
        k = qkv[:, -2:-1].reshape(nkv * hd, -1)
        vv = qkv[:, -1:].reshape(nkv * hd, -1)
        return np.concatenate([q, k, vv]).reshape(x.shape)
    if op == "regroup_qkv" and arg == "neox":
        nh, hd = v["n_head"], v["head_dim"]
        qkv = x.reshape(nh, 3, hd, *x.shape[1:])
        return np.concatenate([qkv[:, i].reshape(nh * hd, *x.shape[1:]) for i in range(3)])
    raise AssertionError(f"no reference for transform {t}")


@pytest.mark.parametrize("arch", list(gen_mapping.MODELS))
def test_saved_checkpoint_bytes(mapcheck, tmp_path, arch):  # noqa: F811
    """On the checkpoint transformers saves (per-expert MoE names, tied output
    dropped), mlmf's plan applied to the source tensors gives the exact bytes
    convert_hf_to_gguf.py writes: the declared transforms are the right ones,
    on the right tensors."""
    import gguf
    from safetensors.numpy import load_file

    conv = gen_mapping_convert.convert(arch, SRC, keep_dir=tmp_path)
    if conv.get("error"):
        pytest.skip(f"convert_hf_to_gguf.py cannot convert it: {conv['error']}")
    model_dir = tmp_path / "model"
    st = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        st.update(load_file(str(f)))
    with open(model_dir / "config.json") as f:
        config = json.load(f)
    tensors = [{"name": k, "shape": list(a.shape)} for k, a in st.items()]
    out = run_mapcheck(mapcheck, tmp_path, tensors, config=config)
    rep = out["report"]
    assert not rep["unmapped"] and not rep["missing"] and not rep["shape_mismatches"] and not rep["collisions"], rep["summary"]
    written = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(tmp_path / "model.gguf")).tensors}
    plan = {p["name"]: p for p in out["plan"]}
    assert sorted(plan) == sorted(written)
    for name, p in plan.items():
        want = written[name].reshape(-1)
        got = apply_transform(p, [st[s] for s in p["sources"]], out["vars"])
        assert got.size == want.size, name
        np.testing.assert_array_equal(got.reshape(-1), want, err_msg=f"{name} ({p.get('transform')})")
