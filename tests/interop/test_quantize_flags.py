"""`mlmf quantize`'s llama-quantize flags against llama.cpp's own
`llama_model_quantize` (pinned llama-cpp-python): --imatrix (with
--include-weights / --exclude-weights), --tensor-type, --output-tensor-type,
--token-embedding-type, --leave-output-tensor, --override-kv and
--keep-split. Every tensor's type and bytes, and the metadata, must be equal.

The library call gets what llama-quantize's main() would give it; the few
lines of CLI glue it runs before the call are reproduced here and cited:
tools/quantize/quantize.cpp's load_imatrix (sums divided by the per-expert
counts, as float), prepare_imatrix (exclude, then include, by substring) and
the quantize.imatrix.* metadata it adds as KV overrides.
"""

import ctypes

import gguf
import numpy as np
import pytest

import llama_cpp  # the pinned oracle; a missing install fails the tests, never skips

from test_quantize import FTYPES, N_EMBD, N_FF, N_LAYER, tensors_of, write_llama_f32

GGML_TYPES = {t.name: int(t.value) for t in gguf.GGMLQuantizationType}
RNG = np.random.default_rng(5)


def quantizable(r):
    """The 2-D weights an importance matrix has rows for: name -> columns."""
    return {t.name: int(t.shape[0]) for t in r.tensors if len(t.shape) == 2 and t.name != "token_embd.weight"}


def write_imatrix(path, model):
    """An imatrix in llama-imatrix's GGUF format: for each weight, .in_sum2
    (sum of squared activations per input column) and .counts (tokens seen)."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["wiki.train.raw"])
    w.add_uint32("imatrix.chunk_count", 17)
    w.add_uint32("imatrix.chunk_size", 512)
    for name, cols in quantizable(gguf.GGUFReader(str(model))).items():
        count = 17 * 512
        sums = (RNG.gamma(0.6, 1.0, size=cols) * count * 0.01).astype(np.float32)
        w.add_tensor(name + ".in_sum2", sums)
        w.add_tensor(name + ".counts", np.array([count], np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_legacy_imatrix(path, model):
    """The same kind of data in llama-imatrix's legacy .dat format: entries of
    (name, ncall, values scaled by ncall), then the chunk count and dataset."""
    import struct

    entries = quantizable(gguf.GGUFReader(str(model)))
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, cols in entries.items():
            ncall = 23
            vals = (RNG.gamma(0.6, 1.0, size=cols) * ncall).astype(np.float32)
            f.write(struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", ncall, cols) + vals.tobytes())
        ds = b"legacy.txt"
        f.write(struct.pack("<ii", 23, len(ds)) + ds)


def load_legacy_imatrix(path):
    """common_imatrix_load_legacy + load_imatrix's legacy branch."""
    import struct

    b = open(path, "rb").read()
    (n,), off, data = struct.unpack_from("<i", b), 4, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<i", b, off)
        name = b[off + 4:off + 4 + ln].decode()
        off += 4 + ln
        ncall, nval = struct.unpack_from("<ii", b, off)
        off += 8
        sums = np.frombuffer(b, np.float32, nval, off)
        off += 4 * nval
        data[name] = sums / np.float32(ncall) if ncall > 0 else sums.copy()
    chunks, ln = struct.unpack_from("<ii", b, off)
    return data, b[off + 8:off + 8 + ln].decode(), chunks


def load_imatrix(path, include=(), exclude=()):
    """quantize.cpp's load_imatrix + prepare_imatrix: name -> float32 values."""
    if str(path).endswith(".dat"):
        data, dataset, chunks = load_legacy_imatrix(path)
        for x in exclude:
            data = {k: v for k, v in data.items() if x not in k}
        if include:
            data = {k: v for k, v in data.items() if any(x in k for x in include)}
        return data, dataset, chunks
    r = gguf.GGUFReader(str(path))
    t = {x.name: np.array(x.data, np.float32).reshape(-1) for x in r.tensors}
    data = {}
    for name in t:
        if not name.endswith(".in_sum2"):
            continue
        base = name[: -len(".in_sum2")]
        sums, counts = t[name], np.rint(t[base + ".counts"]).astype(np.int64)
        ne0 = sums.size // counts.size
        e = np.empty_like(sums)
        for j, c in enumerate(counts):
            e[j * ne0:(j + 1) * ne0] = sums[j * ne0:(j + 1) * ne0] / np.float32(c) if c > 0 else 1
        data[base] = e
    for x in exclude:
        data = {k: v for k, v in data.items() if x not in k}
    if include:
        data = {k: v for k, v in data.items() if any(x in k for x in include)}
    return data, r.fields["imatrix.datasets"].contents()[0], r.fields["imatrix.chunk_count"].contents()


def kv_override(key, tag, value):
    o = llama_cpp.llama_model_kv_override()
    o.key = key.encode()
    o.tag = tag
    if tag == llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR:
        o.value.val_str = value.encode()[:127]
    elif tag == llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT:
        o.value.val_i64 = value
    elif tag == llama_cpp.LLAMA_KV_OVERRIDE_TYPE_FLOAT:
        o.value.val_f64 = value
    else:
        o.value.val_bool = value
    return o


def llama_quantize(src, dst, preset, imatrix=None, include=(), exclude=(), tensor_types=(), output_type=None,
                   embd_type=None, leave_output=False, overrides=(), keep_split=False):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = FTYPES[preset]
    p.nthread = 2
    keep = []  # keep ctypes buffers alive during the call
    kvs = [kv_override(*o) for o in overrides]
    if output_type:
        p.output_tensor_type = GGML_TYPES[output_type]
    if embd_type:
        p.token_embedding_type = GGML_TYPES[embd_type]
    p.quantize_output_tensor = not leave_output
    p.keep_split = keep_split
    if tensor_types:
        arr = (llama_cpp.llama_model_tensor_override * (len(tensor_types) + 1))()
        for i, (pat, typ) in enumerate(tensor_types):
            b = ctypes.create_string_buffer(pat.encode())
            keep.append(b)
            arr[i].pattern = ctypes.cast(b, ctypes.c_char_p)
            arr[i].type = GGML_TYPES[typ]
        arr[len(tensor_types)].pattern = None
        p.tt_overrides = arr
        keep.append(arr)
    if imatrix is not None:
        data, dataset, chunks = load_imatrix(imatrix, include, exclude)
        arr = (llama_cpp.llama_model_imatrix_data * (len(data) + 1))()
        for i, (name, v) in enumerate(data.items()):
            nb = ctypes.create_string_buffer(name.encode())
            vb = np.ascontiguousarray(v, np.float32)
            keep += [nb, vb]
            arr[i].name = ctypes.cast(nb, ctypes.c_char_p)
            arr[i].data = vb.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = vb.size
        arr[len(data)].name = None
        p.imatrix = arr
        keep.append(arr)
        kvs.append(kv_override("quantize.imatrix.file", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, str(imatrix)))
        kvs.append(kv_override("quantize.imatrix.dataset", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, dataset))
        kvs.append(kv_override("quantize.imatrix.entries_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, len(data)))
        if chunks > 0:
            kvs.append(kv_override("quantize.imatrix.chunks_count", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, int(chunks)))
    if kvs:
        arr = (llama_cpp.llama_model_kv_override * (len(kvs) + 1))(*kvs)
        arr[len(kvs)].key = b""
        p.kv_overrides = arr
        keep.append(arr)
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(p))
    assert rc == 0, f"llama_model_quantize failed with {rc}"


def assert_same(ours, theirs):
    r_ours, t_ours = tensors_of(ours)
    r_theirs, t_theirs = tensors_of(theirs)
    assert list(t_ours) == list(t_theirs), "tensor order differs"
    for name in t_theirs:
        assert t_ours[name][0] == t_theirs[name][0], f"{name}: type {t_ours[name][0]} vs llama.cpp {t_theirs[name][0]}"
        if t_ours[name][1] != t_theirs[name][1]:
            a, b = np.frombuffer(t_ours[name][1], np.uint8), np.frombuffer(t_theirs[name][1], np.uint8)
            raise AssertionError(f"{name} ({t_theirs[name][0]}): {np.count_nonzero(a != b)} of {len(a)} bytes differ")
    keys_ours = {k: f.contents() for k, f in r_ours.fields.items() if not k.startswith("GGUF.")}
    keys_theirs = {k: f.contents() for k, f in r_theirs.fields.items() if not k.startswith("GGUF.")}
    assert keys_ours == keys_theirs
    return t_theirs


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("qf")
    write_llama_f32(d / "f32.gguf")
    write_imatrix(d / "imatrix.gguf", d / "f32.gguf")
    write_legacy_imatrix(d / "imatrix.dat", d / "f32.gguf")
    return d


@pytest.mark.parametrize("preset", ["Q4_K_M", "Q4_0", "Q5_K_S", "Q3_K_M", "Q2_K", "Q6_K"])
def test_imatrix_matches_llama_quantize(mlmf, model, tmp_path, preset):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    im = model / "imatrix.gguf"
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", preset, "--imatrix", im, "--quiet")
    llama_quantize(model / "f32.gguf", theirs, preset, imatrix=im)
    assert_same(ours, theirs)
    # and the importance matrix made a difference
    plain = tmp_path / "plain.gguf"
    mlmf.run("quantize", model / "f32.gguf", plain, "--type", preset, "--quiet")
    assert tensors_of(plain)[1]["blk.0.attn_q.weight"] != tensors_of(ours)[1]["blk.0.attn_q.weight"]


@pytest.mark.parametrize("preset", ["Q4_K_M", "Q4_0"])
def test_legacy_imatrix_matches_llama_quantize(mlmf, model, tmp_path, preset):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    im = model / "imatrix.dat"
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", preset, "--imatrix", im, "--quiet")
    llama_quantize(model / "f32.gguf", theirs, preset, imatrix=im)
    assert_same(ours, theirs)


@pytest.mark.parametrize("flags", [(("attn_", "ffn_down"), ()), ((), ("attn_v", "ffn_up"))])
def test_imatrix_include_exclude_match_llama_quantize(mlmf, model, tmp_path, flags):
    include, exclude = flags
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    im = model / "imatrix.gguf"
    args = [x for w in include for x in ("--include-weights", w)] + [x for w in exclude for x in ("--exclude-weights", w)]
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", "Q4_K_M", "--imatrix", im, *args, "--quiet")
    llama_quantize(model / "f32.gguf", theirs, "Q4_K_M", imatrix=im, include=include, exclude=exclude)
    assert_same(ours, theirs)


def test_include_with_exclude_refused_like_llama_quantize(mlmf, model, tmp_path):
    p = mlmf.run("quantize", model / "f32.gguf", tmp_path / "q.gguf", "--type", "Q4_K_M", "--imatrix",
                 model / "imatrix.gguf", "--include-weights", "attn", "--exclude-weights", "ffn", check=False)
    assert p.returncode != 0 and "cannot be used together" in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_tensor_type_overrides_match_llama_quantize(mlmf, model, tmp_path):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    tt = [(r"attn_v", "Q8_0"), (r"blk\.[12]\.ffn_down", "Q5_K"), (r"ffn_(up|gate)", "IQ4_NL")]
    args = []
    for pat, typ in tt:
        args += ["--tensor-type", f"{pat}={typ.lower()}"]
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", "Q4_K_M", *args, "--quiet")
    llama_quantize(model / "f32.gguf", theirs, "Q4_K_M", tensor_types=tt)
    types = {k: v[0] for k, v in assert_same(ours, theirs).items()}
    assert types["blk.0.attn_v.weight"] == "Q8_0" and types["blk.1.ffn_down.weight"] == "Q5_K"
    assert types["blk.0.ffn_up.weight"] == "IQ4_NL"


def test_output_and_embedding_types_match_llama_quantize(mlmf, model, tmp_path):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", "Q4_K_M", "--output-tensor-type", "q8_0",
             "--token-embedding-type", "q5_k", "--quiet")
    llama_quantize(model / "f32.gguf", theirs, "Q4_K_M", output_type="Q8_0", embd_type="Q5_K")
    types = {k: v[0] for k, v in assert_same(ours, theirs).items()}
    assert types["output.weight"] == "Q8_0" and types["token_embd.weight"] == "Q5_K"


def test_leave_output_tensor_matches_llama_quantize(mlmf, model, tmp_path):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", "Q4_K_M", "--leave-output-tensor", "--quiet")
    llama_quantize(model / "f32.gguf", theirs, "Q4_K_M", leave_output=True)
    assert assert_same(ours, theirs)["output.weight"][0] == "F32"


def test_override_kv_matches_llama_quantize(mlmf, model, tmp_path):
    ours, theirs = tmp_path / "mlmf.gguf", tmp_path / "llama.gguf"
    mlmf.run("quantize", model / "f32.gguf", ours, "--type", "Q8_0", "--quiet",
             "--override-kv", "general.name=str:renamed", "--override-kv", "llama.context_length=int:1024",
             "--override-kv", "mlmf.test.flag=bool:true", "--override-kv", "llama.rope.freq_base=float:500000")
    llama_quantize(model / "f32.gguf", theirs, "Q8_0", overrides=[
        ("general.name", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR, "renamed"),
        ("llama.context_length", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT, 1024),
        ("mlmf.test.flag", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_BOOL, True),
        ("llama.rope.freq_base", llama_cpp.LLAMA_KV_OVERRIDE_TYPE_FLOAT, 500000.0)])
    assert_same(ours, theirs)
    assert gguf.GGUFReader(str(ours)).fields["general.name"].contents() == "renamed"


@pytest.mark.parametrize("split_args", [("--split-max-tensors", "10"), ("--split-max-size", "1M")])
def test_keep_split_matches_llama_quantize(mlmf, model, tmp_path, split_args):
    """A model split by gguf-split rules (mlmf's `gguf split`, itself checked
    against gguf-split elsewhere; here by tensor count and by size, so splits
    are uneven) quantized with --keep-split: the same files, each with the
    same tensors, as llama.cpp writes."""
    src = tmp_path / "in"
    src.mkdir()
    w = gguf.GGUFWriter(str(src / "m.gguf"), "llama", split_max_tensors=int(split_args[1]) if split_args[0] == "--split-max-tensors" else 0,
                        split_max_size=10**6 if split_args[0] == "--split-max-size" else 0)
    r = gguf.GGUFReader(str(model / "f32.gguf"))
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        w.add_key_value(k, f.contents(), f.types[0] if len(f.types) == 1 else gguf.GGUFValueType.ARRAY,
                        sub_type=f.types[-1] if len(f.types) > 1 else None)
    for t in r.tensors:
        w.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    inputs = sorted(src.iterdir())
    assert len(inputs) > 2, inputs
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    mlmf.run("quantize", inputs[0], ours / "q.gguf", "--type", "Q4_K_M", "--keep-split", "--quiet")
    llama_quantize(inputs[0], theirs / "q", "Q4_K_M", keep_split=True)
    names = sorted(p.name for p in theirs.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == names
    assert len(names) == len(inputs)
    for n in names:
        assert_same(ours / n, theirs / n)


# A block of values clustered near +5e4 with importance weights (i % 7) / 2:
# Q4_1's make_qkx3_quants fits a min below the f16 range (formats/ggml
# TestQ4_1ImatrixOverflowIsLibggmls, FuzzQuantize's crasher). In a row of
# 256 the fit depends on the row's mean square too, so overflow_row looks
# for a row that overflows in libggml itself.
OVERFLOW_BLOCK = np.array([53493.273, 53873.156, 53297.09, 53378.957, 53582.844, 53560.24, 53597.59, 53691.77, 53723.31, 53930.57, 52231.258, 53680.363, 53326.44, 51974.586, 53598.26, 53464.69, 53144.016, 53488.2, 53458.383, 52759.543, 53607.184, 54209.027, 53579.62, 53445.445, 54864.44, 52927.18, 52602.426, 52052.402, 54126.1, 53281.332, 53494.98, 53514.273], np.float32)


def overflow_row(n, im):
    import ggml_oracle

    g = ggml_oracle.load()
    rng = np.random.default_rng(0)
    for _ in range(1000):
        row = (np.tile(OVERFLOW_BLOCK, n // 32) + rng.standard_normal(n) * rng.choice([1, 10, 100, 300])).astype(np.float32)
        q = np.frombuffer(g.quantize(GGML_TYPES["Q4_1"], row, n, im), np.uint8).reshape(-1, 20)
        if not np.isfinite(q[:, 2:4].copy().view(np.float16).astype(np.float32)).all():
            return row
    pytest.fail("no row of clustered values overflows libggml's Q4_1 min")


def test_scale_overflow_refused_like_llama_quantize(mlmf, model, tmp_path):
    """A weight made of OVERFLOW_BLOCK: Q4_1 with the importance matrix gives
    -Inf block mins in libggml; llama_model_quantize checks what it wrote
    (ggml_validate_row_data) and refuses the tensor, and so does mlmf,
    leaving no file. Without the importance matrix both quantize it alike."""
    src = tmp_path / "big.gguf"
    r = gguf.GGUFReader(str(model / "f32.gguf"))
    w = gguf.GGUFWriter(str(src), "llama")
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
        a = np.array(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
        if t.name == "blk.0.attn_q.weight":
            a = np.tile(overflow_row(a.shape[1], np.arange(a.shape[1]) % 7 * np.float32(0.5)), (a.shape[0], 1))
        w.add_tensor(t.name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    im = tmp_path / "imatrix.gguf"
    w = gguf.GGUFWriter(str(im), "llama")
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", ["synthetic"])
    w.add_uint32("imatrix.chunk_count", 1)
    w.add_uint32("imatrix.chunk_size", 512)
    for name, cols in quantizable(r).items():
        w.add_tensor(name + ".in_sum2", (np.arange(cols) % 7 * 0.5 * 512).astype(np.float32))
        w.add_tensor(name + ".counts", np.array([512], np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(AssertionError, match="llama_model_quantize failed"):
        llama_quantize(src, tmp_path / "llama.gguf", "Q4_1", imatrix=im)
    ours = tmp_path / "out" / "mlmf.gguf"
    ours.parent.mkdir()
    p = mlmf.run("quantize", src, ours, "--type", "Q4_1", "--imatrix", im, "--quiet", check=False)
    assert p.returncode != 0
    assert "blk.0.attn_q.weight" in p.stderr and "invalid quantized data" in p.stderr, p.stderr
    assert list(ours.parent.iterdir()) == []
    # Without the importance matrix both quantize it.
    llama_quantize(src, tmp_path / "llama-plain.gguf", "Q4_1")
    mlmf.run("quantize", src, tmp_path / "mlmf-plain.gguf", "--type", "Q4_1", "--quiet")
    assert_same(tmp_path / "mlmf-plain.gguf", tmp_path / "llama-plain.gguf")
