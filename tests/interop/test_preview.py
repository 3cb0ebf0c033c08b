"""`mlmf preview` against numpy computing the same metrics on gguf-py's
quantization round trip of the same tensors, and its sizes against the file
`mlmf quantize` writes."""

import json

import gguf
import numpy as np
import pytest

from test_quantize import write_llama_f32


def metrics(x, y):
    x, y = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
    d = y - x
    err, src, dst = (d * d).sum(), (x * x).sum(), (y * y).sum()
    return {
        "rmse": np.sqrt(err / x.size),
        "max_abs_error": np.abs(d).max(),
        "snr_db": 10 * np.log10(src / err) if err > 0 else None,
        "cosine": (x * y).sum() / np.sqrt(src * dst),
    }


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("p") / "f32.gguf"
    write_llama_f32(path)
    return path


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_1", "Q5_1"])
def test_metrics_match_numpy_on_gguf_py_round_trip(mlmf, model, qtype):
    out = json.loads(mlmf.run("preview", model, "--type", qtype, "--json").stdout)
    rows = {r["name"]: r for r in out["tensors"]}
    reader = gguf.GGUFReader(str(model))
    qt = gguf.GGMLQuantizationType[qtype]
    checked = 0
    for t in reader.tensors:
        x = np.array(t.data, dtype=np.float32)
        row = rows[t.name]
        if x.ndim < 2:
            assert row["to"] == "F32" and row["bytes_after"] == row["bytes_before"]
            continue
        y = gguf.quants.dequantize(gguf.quants.quantize(x, qt), qt)
        want = metrics(x, y)
        assert row["to"] == qtype
        assert row["bytes_after"] == gguf.quants.quantize(x, qt).nbytes
        for k, v in want.items():
            assert row[k] == pytest.approx(v, rel=1e-9, abs=1e-12), f"{t.name} {k}"
        checked += 1
    assert checked > 10


def test_preset_sizes_equal_the_quantized_file(mlmf, model, tmp_path):
    out = json.loads(mlmf.run("preview", model, "--type", "Q4_K_M", "--json").stdout)
    q = tmp_path / "q.gguf"
    mlmf.run("quantize", model, q, "--type", "Q4_K_M", "--quiet")
    r = gguf.GGUFReader(str(q))
    types = {t.name: t.tensor_type.name for t in r.tensors}
    for row in out["tensors"]:
        assert row["to"] == types[row["name"]], row["name"]
    assert out["total"]["bytes_after"] == sum(int(t.n_bytes) for t in r.tensors)
