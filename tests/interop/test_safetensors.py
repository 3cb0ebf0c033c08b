"""safetensors interop: files the safetensors library and huggingface_hub write
are read by mlmf with identical bytes; files mlmf writes load in those
libraries with identical values; mlmf's dtype conversions equal ml_dtypes'."""

import hashlib
import json
import os
import pathlib

import ml_dtypes
import numpy as np
import pytest
import safetensors
import safetensors.numpy
import safetensors.torch
import torch
from huggingface_hub import save_torch_state_dict, split_torch_state_dict_into_shards, try_to_load_from_cache

RNG = np.random.default_rng(20261127)

# safetensors dtype name -> torch dtype, for every dtype safetensors.torch writes.
TORCH_DTYPES = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "U16": torch.uint16,
    "I32": torch.int32,
    "U32": torch.uint32,
    "I64": torch.int64,
    "U64": torch.uint64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
    "C64": torch.complex64,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "F8_E4M3FNUZ": torch.float8_e4m3fnuz,
    "F8_E5M2FNUZ": torch.float8_e5m2fnuz,
}

# Dtypes torch cannot hold, written through the library's raw TensorSpec
# serializer: (python dtype name, storage shape, bytes, logical shape).
# F4 is given in its storage shape (two elements per byte). The library has
# no spelling for F6_E2M3/F6_E3M2; the Go tests cover those.
RAW_DTYPES = {
    "F8_E8M0": ("float8_e8m0fnu", (4, 8), 32, (4, 8)),
    "F4": ("float4_e2m1fn_x2", (4, 4), 16, (4, 8)),
}


def raw_bytes(t: torch.Tensor) -> bytes:
    t = t.contiguous()
    if t.numel() == 0:
        return b""
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def random_tensor(dtype: torch.dtype, shape) -> torch.Tensor:
    n = int(np.prod(shape)) if len(shape) else 1
    nbytes = n * torch.empty((), dtype=dtype).element_size()
    if dtype == torch.bool:
        return torch.from_numpy(RNG.integers(0, 2, size=shape).astype(np.bool_))
    raw = RNG.integers(0, 256, size=nbytes, dtype=np.uint8)
    return torch.frombuffer(bytearray(raw.tobytes()), dtype=dtype).reshape(shape) if n else torch.empty(shape, dtype=dtype)


def check_inspect(summary: dict, expected: dict, metadata: dict):
    got = {t["name"]: t for t in summary["tensors"]}
    assert set(got) == set(expected), f"tensor names differ: {set(got) ^ set(expected)}"
    for name, (dtype, shape, digest) in expected.items():
        t = got[name]
        assert t["dtype"] == dtype, name
        assert t["shape"] == list(shape), name
        assert t["sha256"] == digest, f"{name}: bytes differ"
    assert summary["tensor_count"] == len(expected)
    for k, v in metadata.items():
        assert summary["metadata"][k] == v


def test_reads_every_torch_dtype(mlmf, tmp_path):
    tensors, expected = {}, {}
    for name, dt in TORCH_DTYPES.items():
        for label, shape in [("mat", (3, 5)), ("scalar", ()), ("empty", (0, 4)), ("vec", (7,))]:
            t = random_tensor(dt, shape)
            key = f"{name.lower()}.{label}"
            tensors[key] = t
            expected[key] = (name, shape, sha(raw_bytes(t)))
    meta = {"format": "pt", "note": "written by safetensors.torch", "unicode": "héllo ✓"}
    path = tmp_path / "all.safetensors"
    safetensors.torch.save_file(tensors, str(path), metadata=meta)
    check_inspect(mlmf.inspect(path, "--hash"), expected, meta)


def test_reads_raw_subbyte_dtypes(mlmf, tmp_path):
    specs, expected, keep = {}, {}, []
    for name, (py, storage, nbytes, logical) in RAW_DTYPES.items():
        buf = RNG.integers(0, 256, size=nbytes, dtype=np.uint8)
        keep.append(buf)
        specs[name.lower()] = safetensors.TensorSpec(dtype=py, shape=list(storage), data_ptr=buf.ctypes.data, data_len=nbytes)
        expected[name.lower()] = (name, logical, sha(buf.tobytes()))
    path = tmp_path / "raw.safetensors"
    path.write_bytes(bytes(safetensors.serialize(specs, metadata={"k": "v"})))
    check_inspect(mlmf.inspect(path, "--hash"), expected, {"k": "v"})


def test_reads_numpy_written_file(mlmf, tmp_path):
    arrays = {
        "f32": RNG.standard_normal((16, 9)).astype(np.float32),
        "f64": RNG.standard_normal((2, 3, 4)).astype(np.float64),
        "i64": RNG.integers(-(2**62), 2**62, size=(5,), dtype=np.int64),
        "f16": RNG.standard_normal((3,)).astype(np.float16),
    }
    path = tmp_path / "np.safetensors"
    safetensors.numpy.save_file(arrays, str(path))
    names = {"f32": "F32", "f64": "F64", "i64": "I64", "f16": "F16"}
    expected = {k: (names[k], a.shape, sha(a.tobytes())) for k, a in arrays.items()}
    check_inspect(mlmf.inspect(path, "--hash"), expected, {})


def llama_like_state_dict(layers=4, hidden=32):
    sd = {"model.embed_tokens.weight": torch.randn(100, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for m in ("q_proj", "k_proj", "v_proj", "o_proj"):
            sd[p + f"self_attn.{m}.weight"] = torch.randn(hidden, hidden)
        sd[p + "mlp.up_proj.weight"] = torch.randn(2 * hidden, hidden).to(torch.bfloat16)
        sd[p + "input_layernorm.weight"] = torch.ones(hidden)
    sd["lm_head.weight"] = torch.randn(100, hidden)
    return sd


def test_reads_sharded_huggingface_hub_checkpoint(mlmf, tmp_path):
    sd = llama_like_state_dict()
    save_torch_state_dict(sd, tmp_path, max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2, "the test needs several shards"
    expected = {k: (str(v.dtype).replace("torch.", ""), tuple(v.shape), sha(raw_bytes(v))) for k, v in sd.items()}
    dmap = {"float32": "F32", "bfloat16": "BF16"}
    expected = {k: (dmap[d], s, h) for k, (d, s, h) in expected.items()}
    for target in (tmp_path, tmp_path / "model.safetensors.index.json"):
        summary = mlmf.inspect(target, "--hash")
        check_inspect(summary, expected, {})
        assert sorted(os.path.basename(f) for f in summary["files"]) == shards
        # each tensor is reported in the shard weight_map names
        for t in summary["tensors"]:
            assert os.path.basename(t["file"]) == index["weight_map"][t["name"]]


def test_sharded_index_disagreeing_with_shards_is_refused(mlmf, tmp_path):
    sd = llama_like_state_dict(layers=2)
    save_torch_state_dict(sd, tmp_path, max_shard_size="20KB")
    idx_path = tmp_path / "model.safetensors.index.json"
    index = json.loads(idx_path.read_text())
    name = next(iter(index["weight_map"]))
    shards = sorted(set(index["weight_map"].values()))
    index["weight_map"][name] = shards[-1] if index["weight_map"][name] != shards[-1] else shards[0]
    idx_path.write_text(json.dumps(index))
    p = mlmf.run("inspect", tmp_path, check=False)
    assert p.returncode != 0
    assert name in p.stderr, p.stderr


def test_mlmf_copy_is_byte_identical_and_loads(mlmf, tmp_path):
    tensors = {f"t{i}.{n.lower()}": random_tensor(dt, (4, 6)) for i, (n, dt) in enumerate(TORCH_DTYPES.items())}
    tensors["scalar"] = torch.tensor(3.5)
    tensors["empty"] = torch.empty((0,), dtype=torch.float16)
    src, out = tmp_path / "src.safetensors", tmp_path / "out.safetensors"
    safetensors.torch.save_file(tensors, str(src), metadata={"format": "pt", "x": "y"})
    mlmf.run("convert", src, out)
    back = safetensors.torch.load_file(str(out))
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert raw_bytes(back[k]) == raw_bytes(v), k
    with safetensors.safe_open(str(out), "pt") as f:
        assert f.metadata() == {"format": "pt", "x": "y"}
    # Same tensors and metadata: the reference serializer's exact bytes. (The
    # reference orders metadata keys by hash-map iteration, at random, so the
    # byte comparison uses a single key; mlmf sorts keys.)
    src1, out1 = tmp_path / "src1.safetensors", tmp_path / "out1.safetensors"
    safetensors.torch.save_file(tensors, str(src1), metadata={"format": "pt"})
    mlmf.run("convert", src1, out1)
    assert out1.read_bytes() == src1.read_bytes()


def test_mlmf_sharded_output_loads_like_huggingface_hub(mlmf, tmp_path):
    sd = llama_like_state_dict()
    src = tmp_path / "src.safetensors"
    safetensors.torch.save_file(sd, str(src), metadata={"format": "pt"})
    out = tmp_path / "out"
    mlmf.run("convert", src, out, "--shard-size", "20KB")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == sum(v.numel() * v.element_size() for v in sd.values())
    # Same split as huggingface_hub's own planner, given the tensors in the
    # order mlmf streams them: the source file's data order, read from its
    # header here.
    raw = src.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    order = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    plan = split_torch_state_dict_into_shards({k: sd[k] for k in order}, max_shard_size="20KB")
    assert index["weight_map"] == plan.tensor_to_filename
    loaded = {}
    for shard in sorted(set(index["weight_map"].values())):
        with safetensors.safe_open(str(out / shard), "pt") as f:
            assert f.metadata().get("format") == "pt"
            for k in f.keys():
                loaded[k] = f.get_tensor(k)
    assert set(loaded) == set(sd)
    for k, v in sd.items():
        assert raw_bytes(loaded[k]) == raw_bytes(v), k
    # huggingface_hub's loader accepts the directory as a sharded checkpoint.
    from huggingface_hub import load_state_dict_from_file

    for shard in set(index["weight_map"].values()):
        load_state_dict_from_file(out / shard)


# --- dtype conversion against ml_dtypes -------------------------------------

def special_f32(n: int) -> np.ndarray:
    """Random float32 with NaN, ±Inf, ±0, subnormals, ties and near-max values."""
    parts = [
        RNG.standard_normal(n).astype(np.float32) * np.float32(10) ** RNG.integers(-8, 8, n).astype(np.float32),
        RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32),  # every bit pattern
        np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38,
                  448.0, 464.0, 480.0, 57344.0, 61440.0, 65504.0, 65520.0, 2.0**-24, 2.0**-25, 2.0**-149], np.float32),
    ]
    # exact ties for bf16 and f16: low bits 1000…0 after the kept mantissa
    base = RNG.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    parts.append(((base & np.uint32(0xFFFF0000)) | np.uint32(0x8000)).view(np.float32))
    parts.append(((base & np.uint32(0xFFFFE000)) | np.uint32(0x1000)).view(np.float32))
    return np.concatenate(parts)


ML_TARGETS = {
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
}


def convert_via_mlmf(mlmf, tmp_path, arr_bytes_tensor: torch.Tensor, target: str, *extra) -> bytes:
    src, out = tmp_path / f"src-{target}.safetensors", tmp_path / f"out-{target}.safetensors"
    safetensors.torch.save_file({"x": arr_bytes_tensor}, str(src))
    mlmf.run("convert", src, out, "--dtype", target, *extra)
    with safetensors.safe_open(str(out), "pt") as f:
        return raw_bytes(f.get_tensor("x"))


@pytest.mark.parametrize("target", sorted(ML_TARGETS))
def test_f32_conversion_is_bit_identical_to_ml_dtypes(mlmf, tmp_path, target):
    x = special_f32(20000)
    got = convert_via_mlmf(mlmf, tmp_path, torch.from_numpy(x.copy()), target)
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(ML_TARGETS[target]).tobytes()
    if got != want:
        g = np.frombuffer(got, np.uint8 if len(got) == len(x) else np.uint16)
        w = np.frombuffer(want, g.dtype)
        bad = np.nonzero(g != w)[0][:5]
        raise AssertionError(f"{target}: {np.count_nonzero(g != w)} of {len(x)} differ, e.g. "
                             + ", ".join(f"{x[i]!r} ({x.view(np.uint32)[i]:#010x}): got {g[i]:#x} want {w[i]:#x}" for i in bad))


@pytest.mark.parametrize("source,bits", [("BF16", 16), ("F16", 16), ("F8_E4M3", 8), ("F8_E5M2", 8)])
def test_widening_every_bit_pattern_matches_ml_dtypes(mlmf, tmp_path, source, bits):
    patterns = np.arange(2**bits, dtype=np.uint16 if bits == 16 else np.uint8)
    ml = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}[source]
    t = torch.from_numpy(patterns.view(np.int16) if bits == 16 else patterns.copy()).view(TORCH_DTYPES[source])
    got = convert_via_mlmf(mlmf, tmp_path, t, "F32")
    want = patterns.view(ml).astype(np.float32).tobytes()
    assert got == want


def test_saturating_f8_clamps_finite_overflow(mlmf, tmp_path):
    x = special_f32(5000)
    x = x[np.isfinite(x)]
    for target, ml in (("F8_E4M3", ml_dtypes.float8_e4m3fn), ("F8_E5M2", ml_dtypes.float8_e5m2)):
        fmax = np.float32(ml_dtypes.finfo(ml).max)
        got = convert_via_mlmf(mlmf, tmp_path, torch.from_numpy(x.copy()), target, "--saturate")
        with np.errstate(over="ignore", invalid="ignore"):
            want = np.clip(x, -fmax, fmax).astype(ml).tobytes()
        assert got == want, target


# --- Hugging Face hub cache --------------------------------------------------

def make_cache(root: pathlib.Path, repo: str, commit: str, branch="main"):
    """Lay out a hub cache entry as huggingface_hub does: blobs + symlinks."""
    folder = root / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / branch).write_text(commit)
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (folder / "blobs").mkdir()
    tmp = root / "tmp.safetensors"
    safetensors.torch.save_file({"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}, str(tmp))
    digest = sha(tmp.read_bytes())
    blob = folder / "blobs" / digest
    tmp.rename(blob)
    (snap / "model.safetensors").symlink_to(os.path.relpath(blob, snap))
    (folder / "blobs" / "cfg").write_text("{}")
    (snap / "config.json").symlink_to(os.path.relpath(folder / "blobs" / "cfg", snap))
    return snap


def test_hub_cache_reference_resolves(mlmf, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    make_cache(tmp_path, "acme/tiny-model", commit, branch="v1")
    (tmp_path / "models--acme--tiny-model" / "refs" / "main").write_text(commit)
    env = {"HF_HUB_CACHE": str(tmp_path)}
    want = try_to_load_from_cache("acme/tiny-model", "model.safetensors", cache_dir=tmp_path)
    assert isinstance(want, str)
    for ref in ("hf://acme/tiny-model", "hf://acme/tiny-model@v1", f"hf://acme/tiny-model@{commit}",
                "hf://acme/tiny-model/model.safetensors"):
        s = mlmf.inspect(ref, env=env)
        assert [os.path.realpath(f) for f in s["files"]] == [os.path.realpath(want)], ref
        assert s["tensors"][0]["name"] == "w" and s["tensors"][0]["shape"] == [2, 3]
    p = mlmf.run("inspect", "hf://acme/missing", check=False, env=env)
    assert p.returncode != 0 and "acme/missing" in p.stderr
    p = mlmf.run("inspect", "hf://acme/tiny-model@nope", check=False, env=env)
    assert p.returncode != 0 and "nope" in p.stderr


def test_hf_home_fallback(mlmf, tmp_path):
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    make_cache(tmp_path / "home" / "hub", "org/m", commit)
    env = {"HF_HOME": str(tmp_path / "home"), "HF_HUB_CACHE": ""}
    s = mlmf.inspect("hf://org/m", env=env)
    assert s["tensor_count"] == 1
