"""formats/ggml against llama.cpp's own ggml (libggml-base from the pinned
llama-cpp-python) and gguf-py: every dequantizer and quantizer, bit for bit.

Go is reached through formats/ggml/internal/codec, built once per session.
The oracle's build (compiler, flags) is recorded in requirements.txt; the
reference code in ggml-quants.c is compiled without FMA there (plain -O3,
no -march), which is what makes bit-exact comparison meaningful.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import pytest

import ggml_oracle
from gguf import GGMLQuantizationType as GT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEQUANT_TYPES = [
    "F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64",
    "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
    "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S",
    "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4",
]
QUANT_TYPES = [
    "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
    "IQ4_NL", "IQ4_XS", "MXFP4", "TQ1_0", "TQ2_0",
]
# Types whose quantizer reads the importance matrix (ggml-quants.c's
# quantize_* with quant_weights != NULL takes a different code path).
USES_IMATRIX = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"}

# Offsets of the fp16 scale fields in each block (ggml-common.h), which
# random bytes must not turn into NaN/Inf: the oracle's files never hold
# such scales, and NaN*q has no single right answer to compare.
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q8_1": [0, 2],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
    "IQ1_S": [0], "IQ2_XXS": [0], "IQ2_XS": [0], "IQ2_S": [0], "IQ3_XXS": [0], "IQ3_S": [0],
    "IQ4_NL": [0], "IQ4_XS": [0], "TQ1_0": [52], "TQ2_0": [64],
}


def gid(name: str) -> int:
    return int(GT[name])


@pytest.fixture(scope="session")
def ggml():
    # Raises OracleUnavailable (a test error, never a skip) with the fix.
    return ggml_oracle.load()


@pytest.fixture(scope="session")
def codec(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("codec") / "codec")
    subprocess.run(["go", "build", "-o", out, "./formats/ggml/internal/codec"], cwd=REPO, check=True)
    return out


class Go:
    def __init__(self, exe: str):
        self.exe = exe

    def quantize(self, name: str, x: np.ndarray, n_per_row: int, imatrix: np.ndarray | None = None) -> bytes:
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in.f32"), os.path.join(d, "out.bin")
            np.ascontiguousarray(x, dtype="<f4").tofile(src)
            args = [self.exe, "quantize", name, str(n_per_row), src, dst]
            if imatrix is not None:
                im = os.path.join(d, "im.f32")
                np.ascontiguousarray(imatrix, dtype="<f4").tofile(im)
                args.append(im)
            subprocess.run(args, check=True)
            with open(dst, "rb") as f:
                return f.read()

    def dequantize(self, name: str, data: bytes) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in.bin"), os.path.join(d, "out.f32")
            with open(src, "wb") as f:
                f.write(data)
            subprocess.run([self.exe, "dequantize", name, src, dst], check=True)
            return np.fromfile(dst, dtype="<f4")


@pytest.fixture(scope="session")
def go(codec):
    return Go(codec)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str):
    got, want = bits(got), bits(want)
    assert got.shape == want.shape, f"{what}: {got.shape} values, want {want.shape}"
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (f"{what}: {bad.size} of {want.size} values differ; first at {bad[0]}: "
                           f"got {got[bad[0]]:#010x} want {want[bad[0]]:#010x}")


def assert_bytes_equal(got: bytes, want: bytes, what: str, block: int):
    assert len(got) == len(want), f"{what}: {len(got)} bytes, want {len(want)}"
    g, w = np.frombuffer(got, np.uint8), np.frombuffer(want, np.uint8)
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, (f"{what}: {bad.size} of {w.size} bytes differ in "
                           f"{np.unique(bad // block).size} blocks; first at byte {bad[0]} (block {bad[0] // block})")


# ---------------------------------------------------------------- inputs

def sane_f16(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random finite fp16 bit patterns: every sign, normal and subnormal
    exponent, zero; never Inf/NaN."""
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    inf_nan = (h & 0x7C00) == 0x7C00
    h[inf_nan] &= 0xBFFF  # exponent 31 -> 15
    return h


# Block sizes in bytes, as ggml-common.h defines them. (gguf-py 0.19.0's
# GGML_QUANT_SIZES still says 40 for Q8_1, whose block ggml shrank to 36
# bytes when d and s became fp16; test_gguf_py_q8_1_size pins that.)
TYPE_SIZE = {
    "F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I16": 2, "I32": 4, "I64": 8,
    "Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24, "Q8_0": 34, "Q8_1": 36,
    "Q2_K": 84, "Q3_K": 110, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "Q8_K": 292,
    "IQ1_S": 50, "IQ1_M": 56, "IQ2_XXS": 66, "IQ2_XS": 74, "IQ2_S": 82, "IQ3_XXS": 98, "IQ3_S": 110,
    "IQ4_NL": 18, "IQ4_XS": 136, "TQ1_0": 54, "TQ2_0": 66, "MXFP4": 17,
}


def test_tables_file_is_generated():
    """formats/ggml/tables_gen.go is exactly what its generator prints from
    gguf-py (and TestTablesMatchGGMLHeader pins it to ggml-common.h)."""
    gen = os.path.join(REPO, "formats", "ggml", "internal", "gentables", "gentables.py")
    out = subprocess.run([sys.executable, gen], check=True, capture_output=True).stdout
    with open(os.path.join(REPO, "formats", "ggml", "tables_gen.go"), "rb") as f:
        assert f.read() == out


def test_type_sizes_match_ggml(ggml):
    for name, ts in TYPE_SIZE.items():
        assert ggml.traits(gid(name)).type_size == ts, name


def test_gguf_py_q8_1_size():
    from gguf.constants import GGML_QUANT_SIZES
    # gguf-py's table is stale for Q8_1 (ggml: 36 bytes); every other type agrees.
    assert GGML_QUANT_SIZES[GT.Q8_1] == (32, 40)
    for name, ts in TYPE_SIZE.items():
        if name != "Q8_1":
            assert GGML_QUANT_SIZES[GT[name]][1] == ts, name


def random_blocks(name: str, nblocks: int, rng: np.random.Generator) -> bytes:
    ts = TYPE_SIZE[name]
    raw = rng.integers(0, 256, size=(nblocks, ts), dtype=np.uint16).astype(np.uint8)
    if name in ("F16",):
        # every bit pattern, NaNs and infinities included: the payloads must survive
        return raw.tobytes()
    for off in F16_FIELDS.get(name, []):
        raw[:, off:off + 2] = sane_f16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
    if name == "Q8_K":
        d = (rng.standard_normal(nblocks) * 10.0 ** rng.uniform(-8, 8, nblocks)).astype("<f4")
        raw[:, 0:4] = d.view(np.uint8).reshape(nblocks, 4)
    if name == "IQ1_M":
        # the fp16 super-scale lives in the top nibble of the four uint16 scale words
        sc = raw[:, 48:56].copy().view("<u2").reshape(nblocks, 4)
        h = sane_f16(rng, nblocks).astype(np.uint16)
        for k in range(4):
            sc[:, k] = (sc[:, k] & 0x0FFF) | (((h >> (4 * k)) & 0xF) << 12)
        raw[:, 48:56] = sc.view(np.uint8).reshape(nblocks, 8)
    if name == "F64":
        v = (rng.standard_normal(nblocks) * 10.0 ** rng.uniform(-50, 50, nblocks)).astype("<f8")
        raw[:] = v.view(np.uint8).reshape(nblocks, 8)
    return raw.tobytes()


def c_cast_to_f32(name: str, data: bytes) -> np.ndarray:
    """(float)v in C for the scalar types ggml has no to_float for."""
    dt = {"I8": "<i1", "I16": "<i2", "I32": "<i4", "I64": "<i8", "F64": "<f8"}[name]
    with np.errstate(over="ignore"):  # doubles past FLT_MAX become inf, as in C
        return np.frombuffer(data, dtype=dt).astype(np.float32)


def rows_of(kind: str, nrows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.standard_normal((nrows, n))
    if kind == "uniform":
        return rng.uniform(-1, 1, (nrows, n))
    if kind == "heavy":
        return rng.standard_t(2, (nrows, n))
    if kind == "positive":
        return rng.exponential(1.0, (nrows, n))
    if kind == "scaled":  # a different magnitude per row, 1e-8 .. 1e8
        return rng.standard_normal((nrows, n)) * 10.0 ** rng.uniform(-8, 8, (nrows, 1))
    if kind == "outliers":
        x = rng.standard_normal((nrows, n)) * 0.02
        idx = rng.integers(0, n, (nrows, 4))
        np.put_along_axis(x, idx, rng.standard_normal((nrows, 4)) * 5, axis=1)
        return x
    if kind == "special":
        x = np.zeros((8, n))
        x[1] = 1.0                                   # constant
        x[2, n // 3] = -7.5                          # one spike
        x[3] = rng.standard_normal(n) * 1e18          # huge
        x[4] = rng.standard_normal(n) * 1e-30         # tiny (squares underflow)
        x[5] = rng.standard_normal(n) * 1e-40         # subnormal
        x[6] = -rng.exponential(1.0, n)               # all negative
        x[7, ::2] = rng.standard_normal(n // 2)       # half zeros
        return x
    if kind == "negzero":  # non-negative with -0.0s: min is -0 until a fit moves it to +0
        x = np.abs(rng.standard_normal((nrows, n)))
        for r in range(nrows):
            x[r, r % 5::2 + r % 7] = -0.0
        return x
    if kind == "nonfinite":  # NaN and +-Inf among normal values: garbage in, but the same garbage
        x = rng.standard_normal((nrows, n))
        for r in range(nrows):
            idx = rng.integers(0, n, 1 + r % 3)
            x[r, idx] = [np.nan, np.inf, -np.inf][r % 3]
        x[0, :] = np.nan
        return x
    raise ValueError(kind)


DISTS = ["normal", "uniform", "heavy", "positive", "scaled", "outliers", "special", "negzero", "nonfinite"]

# ---------------------------------------------------------------- tests


def test_oracle_is_the_pinned_build(ggml):
    if not os.environ.get("MLMF_LIBGGML"):
        import llama_cpp
        assert llama_cpp.__version__ == "0.3.36", "requirements.txt pins llama-cpp-python==0.3.36"
    # the library we compare against answers for the types we need
    for name in QUANT_TYPES:
        assert ggml.row_size(gid(name), 256) > 0
    assert ggml.requires_imatrix(gid("IQ2_XXS"))
    assert not ggml.requires_imatrix(gid("Q4_K"))


@pytest.mark.parametrize("name", DEQUANT_TYPES)
def test_dequantize_matches_ggml(name, ggml, go):
    rng = np.random.default_rng(1000 + gid(name))
    nblocks = 4096 if name in ("F16", "BF16", "I8", "I16") else 512
    data = random_blocks(name, nblocks, rng)
    got = go.dequantize(name, data)
    t = gid(name)
    if name in ("I8", "I16", "I32", "I64", "F64"):
        # ggml has no to_float for these (type_traits leaves it NULL); the
        # conversion llama.cpp applies when it needs floats is a C cast.
        assert not ggml.traits(t).to_float
        want = c_cast_to_f32(name, data)
    elif name == "F32":
        want = np.frombuffer(data, dtype="<f4")
    elif name == "Q8_K":
        # no to_float trait either, but dequantize_row_q8_K is exported
        want = ggml.dequantize_row("dequantize_row_q8_K", t, data)
    elif name == "Q8_1":
        # ggml has no Q8_1 dequantizer at all (it is the CPU backend's dot
        # product operand): check the defined meaning qs*d in float32, and
        # that blocks from quantize_row_q8_1_ref decode within half a step
        # (plus the fp16 rounding of d, at most 127 * 2^-11 * d).
        assert not ggml.traits(t).to_float
        blk = np.frombuffer(data, np.uint8).reshape(-1, 36)
        d = blk[:, 0:2].copy().view("<f2").astype(np.float32)
        qs = blk[:, 4:36].copy().view(np.int8).astype(np.float32)
        want = (qs * d).reshape(-1)
        x = rng.standard_normal(256 * 8).astype(np.float32)
        q = ggml.from_float_ref(t, x)
        back = go.dequantize(name, q)
        dq = np.frombuffer(q, np.uint8).reshape(-1, 36)[:, 0:2].copy().view("<f2").astype(np.float32)
        assert np.all(np.abs(back - x).reshape(-1, 32) <= np.abs(dq) * (0.5 + 127 / 2048))
    else:
        want = ggml.to_float(t, data)
    assert_bits_equal(got, want, f"dequantize {name} vs ggml")


def gguf_py_dequant_difference(name: str, data: bytes, got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The values where gguf-py's dequantizer may depart from ggml's, each
    checked against its one known reason; every other value must match."""
    allowed = np.zeros(got.size, dtype=bool)
    if name == "F16":
        # Signalling NaNs: numpy's float16->float32 keeps them signalling
        # (0x7d00 -> 0x7fa00000); ggml_compute_fp16_to_fp32 multiplies by
        # 2^-112, which on x86 quiets them (-> 0x7fe00000), and mlmf does what
        # ggml does. Same sign and payload, quiet bit the only difference.
        h = np.frombuffer(data, dtype="<u2")
        snan = ((h & 0x7C00) == 0x7C00) & ((h & 0x03FF) != 0) & ((h & 0x0200) == 0)
        assert np.all(bits(got)[snan] == (bits(ref)[snan] | 0x00400000))
        allowed |= snan
    return allowed


# gguf-py 0.19.0 dequantizes every type but these (libggml covers them above).
NO_GGUF_PY_DEQUANT = ["F64", "I8", "I16", "I32", "I64", "Q8_1", "Q8_K"]


def test_gguf_py_dequantizer_list():
    missing = [n for n in DEQUANT_TYPES if not ggml_oracle.gguf_can(gid(n), "dequantize")]
    assert missing == NO_GGUF_PY_DEQUANT


@pytest.mark.parametrize("name", [n for n in DEQUANT_TYPES if n not in NO_GGUF_PY_DEQUANT])
def test_dequantize_matches_gguf_py(name, go):
    t = gid(name)
    rng = np.random.default_rng(2000 + t)
    data = random_blocks(name, 4096 if name == "F16" else 512, rng)
    got = go.dequantize(name, data)
    with np.errstate(over="ignore"):  # MXFP4 scales up to 2^127 overflow to inf, in ggml too
        ref = ggml_oracle.gguf_dequantize(data, t)
    allowed = gguf_py_dequant_difference(name, data, got, ref)
    if name == "F16":
        assert allowed.any(), "the random F16 data should hold signalling NaNs"
    keep = ~allowed
    assert_bits_equal(got[keep], ref[keep], f"dequantize {name} vs gguf-py")


@pytest.mark.parametrize("imat", [False, True], ids=["plain", "imatrix"])
@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("name", QUANT_TYPES)
def test_quantize_matches_ggml(name, dist, imat, ggml, go):
    # With imat, the importance matrix is passed to every type: those not in
    # USES_IMATRIX ignore it in ggml, and must in mlmf too.
    t = gid(name)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{dist}/{imat}".encode()))
    n_per_row = 256 * int(rng.integers(1, 5))
    x = rows_of(dist, 16, n_per_row, rng).astype(np.float32)
    imatrix = None
    if imat:
        imatrix = rng.exponential(1.0, n_per_row).astype(np.float32)
        imatrix[rng.integers(0, n_per_row, n_per_row // 16)] = 0  # unused columns
    want = ggml.quantize(t, x, n_per_row, imatrix)
    got = go.quantize(name, x, n_per_row, imatrix)
    block = ggml.traits(t).type_size
    assert_bytes_equal(got, want, f"quantize {name} {dist} imatrix={imat} n_per_row={n_per_row}", block)


# ---------------------------------------------------------------- gguf-py quantizers

GGUF_PY_QUANT = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4", "TQ1_0", "TQ2_0"]


def test_gguf_py_quantizer_list():
    # the types gguf-py 0.19.0 quantizes; a new one must be added above
    have = [n for n in QUANT_TYPES if ggml_oracle.gguf_can(gid(n), "quantize")]
    assert have == GGUF_PY_QUANT


@pytest.mark.parametrize("dist", DISTS + ["bf16"])
@pytest.mark.parametrize("name", GGUF_PY_QUANT)
def test_quantize_matches_gguf_py(name, dist, go):
    """gguf-py's numpy quantizers against mlmf (= llama.cpp, see above).

    The issue that asked for this reported gguf-py's Q4_0/Q5_0 differing from
    llama-quantize in a few bytes, blamed on gguf-py rounding x*id+8.5 as a
    fused multiply-add. With the pinned gguf 0.19.0 and numpy 2.4.6 on
    x86-64, gguf-py computes x*id and +8.5 as two float32 ops, exactly as
    ggml-quants.c, and we measure no difference (millions of blocks of
    bf16-like and random data); so this test asserts identity, and
    test_fused_rounding_would_differ shows that the difference the issue
    describes would be caught."""
    t = gid(name)
    rng = np.random.default_rng(zlib.crc32(f"gguf/{name}/{dist}".encode()))
    if dist == "bf16":  # real checkpoints: bf16 values widened to float32
        x = (rng.standard_normal((64, 4096)) * 0.02).astype(np.float32)
        x = (x.view(np.uint32) & 0xFFFF0000).view(np.float32)
        n = 4096
    else:
        n = 1024
        x = rows_of(dist, 16, n, rng).astype(np.float32)
    with np.errstate(all="ignore"):
        ref = ggml_oracle.gguf_quantize(x, t)
    got = go.quantize(name, x, n)
    ts = TYPE_SIZE[name]
    if dist == "nonfinite":
        # NaN/Inf inputs: gguf-py's numpy (NaN-propagating max, np.where,
        # astype) and ggml's C (comparisons that skip NaN, cvttss2si) produce
        # different garbage, and mlmf produces ggml's (test_quantize_matches_ggml).
        # Only blocks that hold a non-finite input may differ.
        bs = len(x.reshape(-1)) // (len(got) // ts)
        bad_in = ~np.isfinite(x.reshape(-1, bs)).all(axis=1)
        diff = (np.frombuffer(got, np.uint8).reshape(-1, ts) != np.frombuffer(ref, np.uint8).reshape(-1, ts)).any(axis=1)
        assert not (diff & ~bad_in).any(), f"{name}: finite blocks differ from gguf-py"
        return
    assert_bytes_equal(got, ref, f"quantize {name} {dist} vs gguf-py", ts)


def test_fused_rounding_would_differ(ggml, go):
    """Q4_0 with x*id+8.5 rounded once (an FMA, emulated in float64) differs
    from ggml on real-looking data, while mlmf matches ggml: the comparison
    above can see the kind of difference the issue describes."""
    rng = np.random.default_rng(99)
    x = (rng.standard_normal((256, 4096)) * 0.02).astype(np.float32)
    x = (x.view(np.uint32) & 0xFFFF0000).view(np.float32)
    blocks = x.reshape(-1, 32)
    imax = np.abs(blocks).argmax(axis=1)
    mx = blocks[np.arange(blocks.shape[0]), imax][:, None]
    d = (mx / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    fused = (blocks.astype(np.float64) * idv.astype(np.float64) + 8.5).astype(np.float32)
    sep = (blocks * idv).astype(np.float32) + np.float32(8.5)
    qf = np.minimum(15, np.trunc(fused)).astype(np.uint8)
    qsep = np.minimum(15, np.trunc(sep)).astype(np.uint8)
    pack = lambda q: (q[:, :16] | (q[:, 16:] << 4))
    dbytes = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    fused_bytes = np.concatenate([dbytes, pack(qf)], axis=1).tobytes()
    sep_bytes = np.concatenate([dbytes, pack(qsep)], axis=1).tobytes()
    want = ggml.quantize(gid("Q4_0"), x, 4096)
    assert sep_bytes == want
    assert go.quantize("Q4_0", x, 4096) == want
    diff = np.frombuffer(fused_bytes, np.uint8).reshape(-1, 18) != np.frombuffer(want, np.uint8).reshape(-1, 18)
    assert diff.any(axis=1).sum() > 0, "fused rounding should change some blocks"
