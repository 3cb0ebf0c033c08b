"""`mlmf diff` and `mlmf verify` against the reference libraries.

The demo checkpoint (internal/demo/checkpoint, a tiny BF16 LLaMA) is turned
into F32 and Q8_0 GGUFs by llama.cpp's convert_hf_to_gguf.py (the pinned
copy, when LLAMA_CPP_SRC has it) and by `mlmf convert --to gguf`. Then:

- `mlmf diff SRC F32.gguf` reports zero difference, every tensor paired with
  its canonical name (Q/K rows un-permuted);
- `mlmf diff SRC Q8_0.gguf` reports, tensor by tensor, the errors
  `mlmf preview SRC --type Q8_0` predicts (1-D tensors stay F32: zero in
  both), and the errors numpy computes from gguf-py's reading of the file,
  un-permuted with llama.cpp's own permutation inverted;
- `mlmf verify` passes the source and the GGUFs, and fails a safetensors
  file with a NaN written by the safetensors library and a GGUF with an Inf
  written by gguf-py.

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        ~/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_verify_diff.py -q -rs
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

from test_export import RUNNER, SRC  # noqa: E402


@pytest.fixture(scope="module")
def demo(repo_root, tmp_path_factory):
    # Named checkpoint, as the demo, so both converters derive the same model name.
    d = tmp_path_factory.mktemp("src") / "checkpoint"
    shutil.copytree(repo_root / "internal" / "demo" / "checkpoint", d)
    return d


@pytest.fixture(scope="module")
def ggufs(mlmf, demo, tmp_path_factory):
    """{(maker, type): path} for maker in mlmf and (when available) llama.cpp."""
    out = tmp_path_factory.mktemp("gguf")
    files = {}
    for t in ("F32", "Q8_0"):
        files["mlmf", t] = out / f"mlmf-{t}.gguf"
        mlmf.run("convert", demo, files["mlmf", t], "--to", "gguf", "--type", t)
    if os.path.isfile(os.path.join(SRC, "convert_hf_to_gguf.py")):
        runner = out / "run_convert.py"
        runner.write_text(RUNNER)
        pre = gguf.GGUFReader(files["mlmf", "F32"]).fields["tokenizer.ggml.pre"].contents()
        for t in ("F32", "Q8_0"):
            path = out / f"llama-{t}.gguf"
            res = subprocess.run([sys.executable, str(runner), SRC, str(demo), str(path), t.lower(), pre],
                                 capture_output=True, text=True)
            assert res.returncode == 0, f"convert_hf_to_gguf.py --outtype {t.lower()} failed:\n{res.stderr[-4000:]}"
            files["llama.cpp", t] = path
    return files


def makers(ggufs):
    return sorted({m for m, _ in ggufs})


def diff(mlmf, a, b):
    p = mlmf.run("diff", a, b, "--json", check=False)
    assert p.returncode in (0, 1), p.stderr
    out = json.loads(p.stdout)
    assert (p.returncode == 0) == out["identical"], "exit status must say whether they differ"
    return out


@pytest.mark.parametrize("maker", ["mlmf", "llama.cpp"])
def test_diff_source_and_f32_gguf_is_zero(mlmf, demo, ggufs, maker):
    if (maker, "F32") not in ggufs:
        pytest.skip(f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}")
    out = diff(mlmf, demo, ggufs[maker, "F32"])
    assert out["identical"]
    assert out["missing"] == [] and out["extra"] == [] and out["shape_diffs"] == []
    rows = out["tensors"]
    assert len(rows) == 21
    for r in rows:
        assert r["status"] == "equal", r
        assert r["rmse"] == 0 and r["max_abs_error"] == 0 and r["cosine"] == 1 and r["snr_db"] is None
    permuted = [r["name"] for r in rows if r.get("transform", "").startswith("permute_qk")]
    assert sorted(permuted) == sorted(f"blk.{i}.attn_{p}.weight" for i in range(2) for p in "qk")


@pytest.mark.parametrize("maker", ["mlmf", "llama.cpp"])
def test_diff_q8_0_equals_preview(mlmf, demo, ggufs, maker):
    if (maker, "Q8_0") not in ggufs:
        pytest.skip(f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}")
    out = diff(mlmf, demo, ggufs[maker, "Q8_0"])
    assert not out["identical"]
    assert out["missing"] == [] and out["extra"] == [] and out["shape_diffs"] == []
    rows = {r["a"]: r for r in out["tensors"]}
    pre = json.loads(mlmf.run("preview", demo, "--type", "Q8_0", "--json").stdout)
    assert len(pre["tensors"]) == len(rows) == 21
    quantized = 0
    for p in pre["tensors"]:
        r = rows[p["name"]]
        if p["to"] == p["from"]:  # 1-D: F32 in the GGUF, unchanged in the preview
            assert r["rmse"] == 0 and r["max_abs_error"] == 0 and r["status"] == "equal", r
            assert p["rmse"] == 0 and p["max_abs_error"] == 0
            continue
        quantized += 1
        assert r["dtype_b"] == "Q8_0"
        for k in ("rmse", "max_abs_error", "snr_db", "cosine"):
            assert r[k] == pytest.approx(p[k], rel=1e-12, abs=0), f"{p['name']} {k}: diff {r[k]}, preview {p[k]}"
    assert quantized == 16  # every 2-D tensor


def unpermute(w, n_head):
    """The inverse of convert_hf_to_gguf.py's LlamaModel.permute."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


@pytest.mark.parametrize("maker", ["mlmf", "llama.cpp"])
def test_diff_q8_0_equals_numpy(mlmf, demo, ggufs, maker):
    """The same errors computed independently: gguf-py dequantizes, numpy
    un-permutes and measures against the source as torch reads it."""
    if (maker, "Q8_0") not in ggufs:
        pytest.skip(f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}")
    cfg = json.loads((demo / "config.json").read_text())
    src = {k: v.float().numpy() for k, v in load_file(str(demo / "model.safetensors")).items()}
    out = diff(mlmf, demo, ggufs[maker, "Q8_0"])
    rows = {r["name"]: r for r in out["tensors"]}
    reader = gguf.GGUFReader(str(ggufs[maker, "Q8_0"]))
    for t in reader.tensors:
        r = rows[t.name]
        y = gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(d) for d in reversed(t.shape)]).astype(np.float32)
        if t.name.endswith("attn_q.weight"):
            y = unpermute(y, cfg["num_attention_heads"])
        elif t.name.endswith("attn_k.weight"):
            y = unpermute(y, cfg["num_key_value_heads"])
        x = src[r["a"]].astype(np.float64)
        y = y.astype(np.float64)
        d = y - x
        err, s, ds = (d * d).sum(), (x * x).sum(), (y * y).sum()
        assert r["rmse"] == pytest.approx(np.sqrt(err / x.size), rel=1e-9, abs=1e-15), t.name
        assert r["max_abs_error"] == pytest.approx(np.abs(d).max(), rel=1e-9, abs=1e-15), t.name
        assert r["cosine"] == pytest.approx((x * y).sum() / np.sqrt(s * ds), rel=1e-9), t.name


def test_verify_passes_source_and_ggufs(mlmf, demo, ggufs):
    for path in [demo, *ggufs.values()]:
        out = json.loads(mlmf.run("verify", path, "--json").stdout)
        assert out["ok"] and out["problems"] == [], (path, out["problems"])
        assert out["detection"]["arch"] == "llama"
        assert all(t["scanned"] for t in out["tensors"])
        assert out["mapping"]["summary"]["mapped"] == 21


def test_verify_finds_nan_written_by_safetensors(mlmf, demo, tmp_path):
    d = tmp_path / "checkpoint"
    shutil.copytree(demo, d)
    tensors = load_file(str(d / "model.safetensors"))
    w = tensors["model.layers.1.mlp.down_proj.weight"]
    w.view(-1)[[7, 99]] = float("nan")
    w.view(-1)[5] = float("-inf")
    del tensors["model.layers.0.self_attn.v_proj.weight"]
    save_file(tensors, str(d / "model.safetensors"), metadata={"format": "pt"})
    p = mlmf.run("verify", d, "--json", check=False)
    assert p.returncode == 1
    out = json.loads(p.stdout)
    assert not out["ok"]
    bad = {t["name"]: t for t in out["tensors"]}["model.layers.1.mlp.down_proj.weight"]
    assert (bad["nan"], bad["neg_inf"], bad["pos_inf"]) == (2, 1, 0)
    x = tensors["model.layers.1.mlp.down_proj.weight"].float().numpy().ravel()
    fin = x[np.isfinite(x)]
    assert bad["mean"] == pytest.approx(fin.astype(np.float64).mean(), rel=1e-9)
    assert bad["std"] == pytest.approx(fin.astype(np.float64).std(), rel=1e-9)
    assert bad["min"] == fin.min() and bad["max"] == fin.max()
    assert any("blk.0.attn_v.weight" in p for p in out["problems"])
    assert any("down_proj" in p and "2 NaN" in p for p in out["problems"])


def test_verify_finds_inf_in_gguf_written_by_gguf_py(mlmf, tmp_path):
    path = tmp_path / "inf.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    E, L, V = 64, 1, 32
    w.add_block_count(L); w.add_embedding_length(E); w.add_feed_forward_length(128)
    w.add_head_count(4); w.add_head_count_kv(4); w.add_context_length(64); w.add_vocab_size(V)
    w.add_layer_norm_rms_eps(1e-5)
    rng = np.random.default_rng(1)

    def t(name, *shape):
        w.add_tensor(name, rng.standard_normal(shape).astype(np.float32) if len(shape) > 1 else np.ones(shape, np.float32))
    t("token_embd.weight", V, E)
    t("blk.0.attn_norm.weight", E); t("blk.0.ffn_norm.weight", E)
    bad = rng.standard_normal((E, E)).astype(np.float32)
    bad[3, 4] = np.inf
    w.add_tensor("blk.0.attn_q.weight", bad)
    t("blk.0.attn_k.weight", E, E); t("blk.0.attn_v.weight", E, E); t("blk.0.attn_output.weight", E, E)
    t("blk.0.ffn_gate.weight", 128, E); t("blk.0.ffn_up.weight", 128, E); t("blk.0.ffn_down.weight", E, 128)
    t("output_norm.weight", E)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    p = mlmf.run("verify", path, "--json", check=False)
    assert p.returncode == 1, p.stdout
    out = json.loads(p.stdout)
    assert [x for x in out["problems"] if "attn_q" in x] == ['tensor "blk.0.attn_q.weight": 0 NaN, 1 +Inf, 0 -Inf of 4096 values']
    assert len(out["problems"]) == 1, out["problems"]
