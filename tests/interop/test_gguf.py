"""Interop between mlmf's formats/gguf and gguf-py (the reference reader/writer).

mlmf is reached through formats/gguf/internal/ggufdump, built once per session.
Run from the repository root:

    /root/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_gguf.py
"""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# ggml types mlmf's dtype table knows (formats/dtype.go).
MLMF_TYPES = {
    "F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64",
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
    "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "IQ1_M",
    "TQ1_0", "TQ2_0", "MXFP4",
}

# Q8_1: gguf-py's GGML_QUANT_SIZES says 40 bytes per block (two float32
# scales, the block's layout of 2023); ggml's block_q8_1 is 36 (ggml_half2 ds),
# which is what llama.cpp and mlmf use. A Q8_1 tensor gguf-py writes therefore
# has a size llama.cpp would reject; it is tested separately.
GGUFPY_SIZE_DIFFERS = {"Q8_1"}


@pytest.fixture(scope="session")
def dump_bin(tmp_path_factory):
    out = tmp_path_factory.mktemp("bin") / "ggufdump"
    subprocess.run(["go", "build", "-o", str(out), "./formats/gguf/internal/ggufdump"], cwd=ROOT, check=True)
    return str(out)


def mlmf_dump(dump_bin, path):
    r = subprocess.run([dump_bin, str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def mlmf_run(dump_bin, *args):
    r = subprocess.run([dump_bin, *map(str, args)], capture_output=True, text=True)
    return r


# ---- the JSON form of values (as gguf.KV.MarshalJSON writes it) ----

SCALAR_NP = {
    VT.UINT8: "<u1", VT.INT8: "<i1", VT.UINT16: "<u2", VT.INT16: "<i2", VT.UINT32: "<u4", VT.INT32: "<i4",
    VT.FLOAT32: "<f4", VT.UINT64: "<u8", VT.INT64: "<i8", VT.FLOAT64: "<f8",
}
TYPE_NAME = {
    VT.UINT8: "uint8", VT.INT8: "int8", VT.UINT16: "uint16", VT.INT16: "int16", VT.UINT32: "uint32",
    VT.INT32: "int32", VT.FLOAT32: "float32", VT.BOOL: "bool", VT.STRING: "string", VT.ARRAY: "array",
    VT.UINT64: "uint64", VT.INT64: "int64", VT.FLOAT64: "float64",
}


def jstr(b: bytes):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": b.hex()}


def jscalar(t, v):
    if t in (VT.FLOAT32, VT.FLOAT64):
        return np.asarray(v, dtype=SCALAR_NP[t]).tobytes().hex()
    if t == VT.BOOL:
        return bool(v)
    if t == VT.STRING:
        return jstr(v.encode("utf-8") if isinstance(v, str) else bytes(v))
    return int(v)


def jvalue(t, v, sub=None):
    """JSON form of a value as we hand it to GGUFWriter."""
    if t == VT.ARRAY:
        elem = sub if sub is not None else VT.get_type(v[0])
        return {"elem": TYPE_NAME[elem], "values": [jvalue(elem, x) for x in v]}
    return jscalar(t, v)


def reader_value(field):
    """Rebuild a KV's JSON form from gguf-py's GGUFReader parts (nested arrays included)."""
    parts = field.parts

    def parse(t, i):
        t = VT(int(t))
        if t == VT.STRING:
            return jstr(bytes(parts[i + 1])), i + 2
        if t == VT.ARRAY:
            itype, n = int(parts[i][0]), int(parts[i + 1][0])
            i += 2
            vals = []
            for _ in range(n):
                v, i = parse(itype, i)
                vals.append(v)
            return {"elem": TYPE_NAME[VT(itype)], "values": vals}, i
        v = parts[i][0]
        if t in (VT.FLOAT32, VT.FLOAT64):
            return np.asarray(v, dtype=SCALAR_NP[t]).tobytes().hex(), i + 1
        if t == VT.BOOL:
            return bool(v), i + 1
        return int(v), i + 1

    v, end = parse(int(parts[2][0]), 3)
    assert end == len(parts)
    return {"key": field.name, "type": TYPE_NAME[VT(int(parts[2][0]))], "value": v}


def reader_kvs(r):
    return [reader_value(f) for name, f in r.fields.items() if not name.startswith("GGUF.")]


# ---- fixtures: every metadata type, every tensor type ----

rng = np.random.default_rng(1234)

# (key, type, value, sub_type)
KVS = [
    ("t.u8", VT.UINT8, 200, None),
    ("t.i8", VT.INT8, -100, None),
    ("t.u16", VT.UINT16, 65000, None),
    ("t.i16", VT.INT16, -32000, None),
    ("t.u32", VT.UINT32, 4_000_000_000, None),
    ("t.i32", VT.INT32, -2_000_000_000, None),
    ("t.f32", VT.FLOAT32, 3.1415927, None),
    ("t.f32neg0", VT.FLOAT32, -0.0, None),
    ("t.u64", VT.UINT64, 2**64 - 1, None),
    ("t.i64", VT.INT64, -(2**63), None),
    ("t.f64", VT.FLOAT64, 2.718281828459045, None),
    ("t.bool", VT.BOOL, True, None),
    ("t.boolf", VT.BOOL, False, None),
    ("t.str", VT.STRING, "héllo wörld ✓", None),
    ("t.empty", VT.STRING, "", None),
    ("t.arr.u8", VT.ARRAY, [0, 1, 255], VT.UINT8),
    ("t.arr.i8", VT.ARRAY, [-128, 0, 127], VT.INT8),
    ("t.arr.u16", VT.ARRAY, [1, 65535], VT.UINT16),
    ("t.arr.i16", VT.ARRAY, [-1, 2], VT.INT16),
    ("t.arr.u32", VT.ARRAY, [7, 8, 9], VT.UINT32),
    ("t.arr.i32", VT.ARRAY, list(range(-5, 300)), VT.INT32),
    ("t.arr.f32", VT.ARRAY, [0.5, -1.25, 1e30], VT.FLOAT32),
    ("t.arr.u64", VT.ARRAY, [2**63, 1], VT.UINT64),
    ("t.arr.i64", VT.ARRAY, [-(2**62), 5], VT.INT64),
    ("t.arr.f64", VT.ARRAY, [1e-300, -2.5], VT.FLOAT64),
    ("t.arr.bool", VT.ARRAY, [True, False, True], VT.BOOL),
    ("t.arr.str", VT.ARRAY, ["<s>", "</s>", "▁the", ""], VT.STRING),
    ("t.arr.nested", VT.ARRAY, [[1, 2, 3], [4]], None),
    ("t.arr.nested.str", VT.ARRAY, [["a", "b"], ["c"]], None),
    ("t.arr.nested3", VT.ARRAY, [[[1.5], [2.5, 3.5]], [[4.5]]], None),
]


def kv_json(key, t, v, sub):
    if t == VT.ARRAY and sub is None:
        # gguf-py infers nested element types: ints -> INT32, floats -> FLOAT32, str -> STRING
        def infer(x):
            if isinstance(x, list):
                return {"elem": TYPE_NAME[VT.get_type(x[0])], "values": [infer(y) for y in x]}
            return jscalar(VT.get_type(x), x)
        return {"key": key, "type": "array", "value": infer(v)}
    return {"key": key, "type": TYPE_NAME[t], "value": jvalue(t, v, sub)}


def add_kvs(w):
    for key, t, v, sub in KVS:
        w.add_key_value(key, v, t, sub_type=sub)


NATIVE = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
          "I16": np.int16, "I32": np.int32, "I64": np.int64}


def tensor_cases():
    """(name, type name, row-major shape, raw bytes) for every type GGUFWriter writes."""
    cases = []
    for qt in QT:
        name = qt.name
        blk, tsz = gguf.GGML_QUANT_SIZES[qt]
        shape = (3, 2 * max(blk, 2) if blk > 1 else 40)
        n = shape[0] * shape[1]
        nbytes = n // blk * tsz
        raw = rng.integers(0, 256, size=nbytes, dtype=np.uint8).tobytes()
        if name in ("F32", "F64", "F16"):
            # avoid NaNs with payloads in the native path: np may canonicalise them
            raw = rng.standard_normal(n).astype(NATIVE[name]).tobytes()
        cases.append((f"t.{name.lower()}", name, shape, raw))
    return cases


def write_gguf_py(path, tensors, kvs=True, **kw):
    w = gguf.GGUFWriter(str(path), "llama", **kw)
    if kvs:
        add_kvs(w)
    for name, tname, shape, raw in tensors:
        if tname in NATIVE:
            w.add_tensor(name, np.frombuffer(raw, dtype=NATIVE[tname]).reshape(shape))
        else:
            qt = QT[tname]
            blk, tsz = gguf.GGML_QUANT_SIZES[qt]
            byte_shape = (shape[0], shape[1] // blk * tsz)
            w.add_tensor(name, np.frombuffer(raw, dtype=np.uint8).reshape(byte_shape), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return w


def expected_kvs():
    return [{"key": "general.architecture", "type": "string", "value": "llama"}] + [kv_json(*kv) for kv in KVS]


# ---- gguf-py writes, mlmf reads ----

def test_gguf_py_file_read_by_mlmf(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in MLMF_TYPES and c[1] not in GGUFPY_SIZE_DIFFERS]
    assert len(cases) >= 30
    path = tmp_path / "py.gguf"
    write_gguf_py(path, cases)
    d = mlmf_dump(dump_bin, path)

    # metadata: equal to what we gave gguf-py, and to what gguf-py's reader sees
    assert d["kvs"] == expected_kvs()
    r = gguf.GGUFReader(str(path))
    assert d["kvs"] == reader_kvs(r)
    assert d["version"] == 3 and d["alignment"] == 32 and d["data_offset"] == r.data_offset

    assert [t["name"] for t in d["tensors"]] == [c[0] for c in cases]
    by_name = {t.name: t for t in r.tensors}
    for (name, tname, shape, raw), t in zip(cases, d["tensors"]):
        assert t["type"] == tname, name
        assert t["shape"] == list(shape), name
        assert t["ne"] == list(reversed(shape)), name
        assert t["size"] == len(raw), name
        assert t["sha256"] == hashlib.sha256(raw).hexdigest(), name
        rt = by_name[name]
        assert t["offset"] + r.data_offset == rt.data_offset, name
        assert rt.tensor_type.name == tname
        assert [int(x) for x in rt.shape] == t["ne"]


def test_gguf_py_types_mlmf_does_not_know_are_refused_clearly(dump_bin, tmp_path):
    unknown = [c for c in tensor_cases() if c[1] not in MLMF_TYPES]
    for case in unknown:
        path = tmp_path / f"{case[1]}.gguf"
        write_gguf_py(path, [case], kvs=False)
        r = mlmf_run(dump_bin, path)
        assert r.returncode != 0
        assert f"unknown ggml type id {QT[case[1]].value}" in r.stderr, r.stderr
        assert case[0] in r.stderr


def test_gguf_py_q8_1_block_size_differs(dump_bin, tmp_path):
    # gguf-py sizes Q8_1 blocks at 40 bytes; ggml (and mlmf) at 36. mlmf reads
    # the header and finds the tensor infos consistent with 36-byte blocks.
    case = next(c for c in tensor_cases() if c[1] == "Q8_1")
    path = tmp_path / "q81.gguf"
    write_gguf_py(path, [case], kvs=False)
    d = mlmf_dump(dump_bin, path)
    t = d["tensors"][0]
    assert t["size"] == 3 * (64 // 32) * 36
    assert len(case[3]) == 3 * (64 // 32) * 40


# ---- mlmf writes, gguf-py reads; bytes identical to GGUFWriter ----

def spec_for(tmp_path, tensors, kvs):
    specs = []
    for name, tname, shape, raw in tensors:
        p = tmp_path / f"{name}.bin"
        p.write_bytes(raw)
        specs.append({"name": name, "type": tname, "shape": list(shape), "data": str(p)})
    return {"kvs": kvs, "tensors": specs}


def test_mlmf_file_read_by_gguf_py_and_bytes_identical(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in MLMF_TYPES and c[1] not in GGUFPY_SIZE_DIFFERS]
    spec = spec_for(tmp_path, cases, expected_kvs())
    sp = tmp_path / "spec.json"
    sp.write_text(json.dumps(spec))
    out = tmp_path / "mlmf.gguf"
    r = mlmf_run(dump_bin, "write", sp, out)
    assert r.returncode == 0, r.stderr

    rd = gguf.GGUFReader(str(out))
    assert reader_kvs(rd) == expected_kvs()
    assert len(rd.tensors) == len(cases)
    for (name, tname, shape, raw), t in zip(cases, rd.tensors):
        assert t.name == name
        assert t.tensor_type.name == tname
        assert [int(x) for x in t.shape] == list(reversed(shape))
        assert t.data.tobytes() == raw, name

    ref = tmp_path / "py.gguf"
    write_gguf_py(ref, cases)
    assert out.read_bytes() == ref.read_bytes()


def test_custom_alignment_identical(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in ("F32", "Q4_0", "I8")]
    ref = tmp_path / "py.gguf"
    w = gguf.GGUFWriter(str(ref), "llama")
    w.add_custom_alignment(64)
    for name, tname, shape, raw in cases:
        if tname in NATIVE:
            w.add_tensor(name, np.frombuffer(raw, dtype=NATIVE[tname]).reshape(shape))
        else:
            qt = QT[tname]
            blk, tsz = gguf.GGML_QUANT_SIZES[qt]
            w.add_tensor(name, np.frombuffer(raw, dtype=np.uint8).reshape(shape[0], shape[1] // blk * tsz), raw_dtype=qt)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    kvs = [{"key": "general.architecture", "type": "string", "value": "llama"},
           {"key": "general.alignment", "type": "uint32", "value": 64}]
    sp = tmp_path / "spec.json"
    sp.write_text(json.dumps(spec_for(tmp_path, cases, kvs)))
    out = tmp_path / "mlmf.gguf"
    r = mlmf_run(dump_bin, "write", sp, out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == ref.read_bytes()
    assert mlmf_dump(dump_bin, ref)["alignment"] == 64


# ---- split files ----

def test_gguf_py_split_read_as_one_model(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in ("F32", "F16", "Q8_0", "Q4_K", "I32")]
    path = tmp_path / "model.gguf"
    write_gguf_py(path, cases, split_max_tensors=2)
    shards = sorted(tmp_path.glob("model-*-of-*.gguf"))
    assert [p.name for p in shards] == [f"model-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    for shard in (shards[0], shards[2]):  # any split opens the whole model
        d = mlmf_dump(dump_bin, shard)
        assert len(d["files"]) == 3
        assert [t["name"] for t in d["tensors"]] == [c[0] for c in cases]
        assert [t["split"] for t in d["tensors"]] == [0, 0, 1, 1, 2]
        for (name, tname, shape, raw), t in zip(cases, d["tensors"]):
            assert t["sha256"] == hashlib.sha256(raw).hexdigest()
        keys = {kv["key"]: kv["value"] for kv in d["kvs"]}
        assert keys["split.count"] == 3 and keys["split.tensors.count"] == 5
    shards[1].unlink()
    r = mlmf_run(dump_bin, shards[0])
    assert r.returncode != 0 and "split 2 of 3 is missing" in r.stderr, r.stderr


def test_mlmf_split_read_by_gguf_py(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in ("F32", "F16", "Q8_0", "Q4_K", "I32")]
    spec = spec_for(tmp_path, cases, [{"key": "general.architecture", "type": "string", "value": "llama"}])
    spec["split"] = {"max_tensors": 2}
    sp = tmp_path / "spec.json"
    sp.write_text(json.dumps(spec))
    r = mlmf_run(dump_bin, "split", sp, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    paths = json.loads(r.stdout)
    assert [Path(p).name for p in paths] == [f"out-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    seen = []
    for i, p in enumerate(paths):
        rd = gguf.GGUFReader(p)
        kvs = {kv["key"]: kv for kv in reader_kvs(rd)}
        # gguf-split's key order: split.no, split.tensors.count, split.count
        order = [k for k in kvs if k.startswith("split.")]
        assert order == ["split.no", "split.tensors.count", "split.count"]
        assert kvs["split.no"] == {"key": "split.no", "type": "uint16", "value": i}
        assert kvs["split.count"]["type"] == "uint16" and kvs["split.count"]["value"] == 3
        assert kvs["split.tensors.count"] == {"key": "split.tensors.count", "type": "int32", "value": 5}
        assert ("general.architecture" in kvs) == (i == 0)
        for t in rd.tensors:
            seen.append((t.name, t.data.tobytes()))
    assert seen == [(c[0], c[3]) for c in cases]

    # by size: each split's data (tensors padded to 32) stays within the limit
    spec["split"] = {"max_bytes": 3000}
    sp.write_text(json.dumps(spec))
    r = mlmf_run(dump_bin, "split", sp, tmp_path / "bysize")
    assert r.returncode == 0, r.stderr
    for p in json.loads(r.stdout):
        rd = gguf.GGUFReader(p)
        assert sum((t.n_bytes + 31) // 32 * 32 for t in rd.tensors) <= 3000


# ---- Edit ----

def test_edit_read_back_by_gguf_py(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in ("F32", "Q4_K", "BF16")]
    path = tmp_path / "e.gguf"
    write_gguf_py(path, cases)
    r = mlmf_run(dump_bin, "edit", path,
                 "--set", "tokenizer.chat_template=str:{% for m in messages %}{{ m.content }}{% endfor %}",
                 "--set", "t.u32=int:-7",
                 "--set", "t.new=float:0.25",
                 "--set", "t.bool=bool:false",
                 "--del", "t.arr.str")
    assert r.returncode == 0, r.stderr
    rd = gguf.GGUFReader(str(path))
    kvs = reader_kvs(rd)
    keys = [kv["key"] for kv in kvs]
    assert "t.arr.str" not in keys
    # replaced keys keep their place, new ones are appended in order
    assert keys.index("t.u32") == [k for k, *_ in KVS].index("t.u32") + 1
    assert keys[-2:] == ["tokenizer.chat_template", "t.new"]
    got = {kv["key"]: kv for kv in kvs}
    assert got["t.u32"] == {"key": "t.u32", "type": "uint32", "value": 7}
    assert got["t.new"]["value"] == np.float32(0.25).tobytes().hex()
    assert got["t.bool"]["value"] is False
    assert got["tokenizer.chat_template"]["value"].startswith("{% for m")
    for (name, _, _, raw), t in zip(cases, rd.tensors):
        assert t.data.tobytes() == raw
    r = mlmf_run(dump_bin, "edit", path, "--del", "no.such.key")
    assert r.returncode != 0 and "no.such.key" in r.stderr


def test_edit_in_place_read_back_by_gguf_py(dump_bin, tmp_path):
    cases = [c for c in tensor_cases() if c[1] in ("F32", "Q6_K")]
    path = tmp_path / "e.gguf"
    write_gguf_py(path, cases)
    size = path.stat().st_size
    ino = path.stat().st_ino
    # same-size value: the header is rewritten in place (journaled)
    r = mlmf_run(dump_bin, "edit-in-place", path, "--set", "t.str=str:HÉLLO WÖRLD ✓", "--set", "t.u32=int:12")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "in place"
    assert path.stat().st_size == size and path.stat().st_ino == ino
    rd = gguf.GGUFReader(str(path))
    got = {kv["key"]: kv for kv in reader_kvs(rd)}
    assert got["t.str"]["value"] == "HÉLLO WÖRLD ✓"
    assert got["t.u32"] == {"key": "t.u32", "type": "uint32", "value": 12}
    for (name, _, _, raw), t in zip(cases, rd.tensors):
        assert t.data.tobytes() == raw
    assert not list(tmp_path.glob(".mlmf-*"))


# ---- big-endian ----

def test_big_endian_metadata_read(dump_bin, tmp_path):
    path = tmp_path / "be.gguf"
    w = gguf.GGUFWriter(str(path), "llama", endianess=gguf.GGUFEndian.BIG)
    add_kvs(w)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    d = mlmf_dump(dump_bin, path)
    assert d["kvs"] == expected_kvs()
