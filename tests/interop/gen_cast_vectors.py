#!/usr/bin/env python3
"""Write dtype-conversion test vectors computed by numpy + ml_dtypes.

Each vector is a pair of raw little-endian files (source elements and the
expected converted elements) listed in manifest.json; formats/cast's
TestMLDtypesVectors converts every source with mlmf and compares bit for bit.

    gen_cast_vectors.py OUT_DIR [--seed N] [--count N] [--full]
    gen_cast_vectors.py OUT.json --f32-digests

--full adds every bit pattern of the 16-bit source types. --f32-digests
writes CRC-32s of the F32 -> F16/BF16/F8 results over all 2^32 inputs
instead (slow; TestExhaustiveF32). The committed set
in formats/cast/testdata/mldtypes is `--seed 1 --count 160`.

Expected values are numpy's / ml_dtypes' astype, with two documented
departures that mlmf makes on purpose (see formats/cast/doc.go):
  * F64 and 32/64-bit integer sources round once to BF16 and the F8 types.
    ml_dtypes rounds those through F32 (twice); the oracle here rounds to F32
    by round-to-odd first, which makes ml_dtypes' second rounding exact
    (Boldo & Melquiond). Vectors with "via_f32": true keep ml_dtypes' own
    double-rounded output and run mlmf with Options.ViaF32.
  * Saturating vectors clip to +-max before the cast ("saturate": true).
  * Float -> integer vectors hold in-range values only (numpy's result for
    NaN and out-of-range values depends on the platform); BOOL targets get
    every value.
"""
import argparse
import json
import os
import sys
import warnings

import ml_dtypes as md
import numpy as np

warnings.simplefilter("ignore")

TYPES = {
    "BOOL": np.dtype(np.bool_), "U8": np.dtype(np.uint8), "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16), "U16": np.dtype(np.uint16), "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32), "I64": np.dtype(np.int64), "U64": np.dtype(np.uint64),
    "F16": np.dtype(np.float16), "BF16": np.dtype(md.bfloat16), "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64), "F8_E4M3": np.dtype(md.float8_e4m3fn),
    "F8_E5M2": np.dtype(md.float8_e5m2), "F8_E8M0": np.dtype(md.float8_e8m0fnu),
    "F8_E4M3FNUZ": np.dtype(md.float8_e4m3fnuz), "F8_E5M2FNUZ": np.dtype(md.float8_e5m2fnuz),
    # one element a byte here; packed two a byte (low nibble first) on disk
    "F4": np.dtype(md.float4_e2m1fn),
}
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
FLOATS = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"]
EXTRA8 = ["F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4"]
INTS = ["BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64"]
ML_TYPES = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4"}


def is_float(t):
    return t in FLOATS or t in EXTRA8


def bits_of(a):
    return a.view(UINT[a.dtype.itemsize])


def finfo_max(t):
    return float(md.finfo(TYPES[t]).max) if t in ML_TYPES else float(np.finfo(TYPES[t]).max)


def all_patterns(t):
    if t == "F4":  # every byte, so every pair of codes
        b = np.arange(256, dtype=np.uint8)
        return np.stack([b & 0xF, b >> 4], axis=1).reshape(-1).view(TYPES[t])
    size = TYPES[t].itemsize
    return np.arange(1 << (8 * size), dtype=UINT[size]).view(TYPES[t])


def float_samples(st, dt, n, rng):
    """Values of float type st aimed at dt: random bits, specials, ties, range edges."""
    sd = TYPES[st]
    size = sd.itemsize
    parts = [rng.integers(0, 1 << (8 * size), size=n // 3, dtype=UINT[size], endpoint=False).view(sd)]
    specials = [0.0, -0.0, np.inf, -np.inf, 1.0, -1.0, 0.5, 1.5, 2.5, 3.0, 448, 464, 465, 480,
                57344, 61440, 65504, 65519, 65520, 240, 248, 1e-45, -1e-45, 1e-40, 2.0 ** -24,
                2.0 ** -25, 2.0 ** -25 * 1.5, 2.0 ** -126, 2.0 ** -133, 2.0 ** -149, 3.4e38, -3.4e38,
                1e300, -1e300, 2.0 ** -1074]
    parts.append(np.array(specials, dtype=np.float64).astype(sd))
    # NaNs with assorted signs and payloads, written as bits.
    if st == "F32":
        nans = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FC12345, 0xFFA00001, 0x7FBFFFFF,
                0x7F802000, 0x7FFFE000, 0x7F801FFF]
        parts.append(np.array(nans, dtype=np.uint32).view(sd))
    elif st == "F64":
        nans = [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFF0000000000001,
                0x7FF8123456789ABC, 0x7FF0000020000000, 0x7FF0040000000000, 0x7FF003FFFFFFFFFF]
        parts.append(np.array(nans, dtype=np.uint64).view(sd))
    if is_float(dt) and TYPES[dt].itemsize < size and dt != "F8_E8M0" or dt == "F8_E8M0":
        # Ties and near-ties between adjacent finite dt values, and the edges
        # of its range.
        dd = TYPES[dt]
        ncodes = 16 if dt == "F4" else 1 << (8 * dd.itemsize)
        codes = rng.integers(0, ncodes, size=n // 3, dtype=UINT[dd.itemsize])
        lo = codes.view(dd).astype(np.float64)
        hi = ((codes.astype(np.uint64) + 1) % ncodes).astype(UINT[dd.itemsize]).view(dd).astype(np.float64)
        ok = np.isfinite(lo) & np.isfinite(hi) & (np.sign(lo) == np.sign(hi))
        mid = (lo[ok] + hi[ok]) / 2
        m = mid.astype(sd)
        parts += [m, np.nextafter(m, sd.type(np.inf)), np.nextafter(m, sd.type(-np.inf))]
        if st == "F64":
            parts += [mid * (1 + 2.0 ** -40), mid * (1 - 2.0 ** -40), mid * (1 + 2.0 ** -30)]
        mx = finfo_max(dt)
        parts.append((rng.uniform(-1.2, 1.2, size=n // 8) * mx).astype(sd))
        parts.append((np.ldexp(rng.uniform(-2, 2, size=n // 8),
                               rng.integers(-30, 2, size=n // 8)) * mx).astype(sd))
    out = np.concatenate([p.astype(sd) if p.dtype != sd else p for p in parts])
    return out


def int_samples(st, n, rng):
    d = TYPES[st]
    if st == "BOOL":
        return rng.integers(0, 2, size=n).astype(np.bool_)
    info = np.iinfo(d)
    size = d.itemsize
    parts = [rng.integers(0, 1 << (8 * size), size=n // 2, dtype=UINT[size], endpoint=False).view(d)]
    special = {0, 1, 2, 17, 19, 255, 256, 2049, 2051, 65504, 65519, 65520, info.max, info.min,
               info.max - 1, info.min + 1}
    for s in range(17, 64):
        for k in (1, 3):
            base = (k << s)
            special |= {base + (1 << (s - 8)), base + (1 << (s - 8)) + 1, base - (1 << (s - 8)),
                        base + (1 << (s - 24)) if s >= 24 else base + 1,
                        base + (1 << (s - 24)) + 1 if s >= 24 else base + 3}
    vals = [v for v in special if info.min <= v <= info.max]
    vals += [-v for v in special if info.min <= -v <= info.max]
    parts.append(np.array(vals, dtype=object).astype(d))
    out = np.concatenate(parts)
    return out[: max(n, 1)] if len(out) > n * 2 else out


def round_to_odd_f32(x):
    """float64 -> float32 with round-to-odd; NaN and Inf pass through."""
    x = np.asarray(x, dtype=np.float64)
    t = x.astype(np.float32)
    b = t.view(np.uint32).copy()
    fin = np.isfinite(x)
    over = fin & (np.abs(t.astype(np.float64)) > np.abs(x))
    b[over] -= 1  # one step toward zero in magnitude
    t = b.view(np.float32)
    inexact = fin & (t.astype(np.float64) != x)
    b[inexact] |= 1
    return b.view(np.float32)


def int_round_to_odd_f32(v):
    """Integer array -> float32 rounded to odd at 24 bits, exactly."""
    out = []
    for x in v.tolist():
        x = int(x)
        a = abs(x)
        shift = a.bit_length() - 24
        if shift > 0:
            m = a >> shift
            if a & ((1 << shift) - 1):
                m |= 1
            a = m << shift
        out.append(float(-a if x < 0 else a))
    return np.array(out, dtype=np.float64).astype(np.float32)


def expected(src, st, dt, saturate=False, via_f32=False):
    dd = TYPES[dt]
    x = src
    if saturate:
        # Clip the numbers; NaNs keep the pair's own NaN behaviour.
        mx = finfo_max(dt)
        wide = np.float64 if st == "F64" else np.float32
        clipped = expected(np.clip(src.astype(wide), -mx, mx), "F64" if st == "F64" else "F32", dt)
        plain = expected(src, st, dt)
        nan = np.isnan(src.astype(np.float64))
        return np.where(nan, bits_of(plain), bits_of(clipped)).view(dd)
    if dt in ML_TYPES and not via_f32:
        if st == "F64":
            x = round_to_odd_f32(x)
        elif st in ("I32", "U32", "I64", "U64"):
            x = int_round_to_odd_f32(x)
    return x.astype(dd)


def keep_in_range(src, st, dt):
    """For float -> int pairs: drop NaN and values outside dt's range."""
    if dt == "BOOL":
        return src
    info = np.iinfo(TYPES[dt])
    x = src.astype(np.float64)
    t = np.trunc(x)
    lo = float(info.min) if info.min < 0 else -0.99
    ok = np.isfinite(x) & (t >= lo) & (t < float(info.max) + 1) & (x > -1 if info.min == 0 else True)
    if dt in ("I64",):
        ok &= (t >= -(2.0 ** 63)) & (t < 2.0 ** 63)
    if dt in ("U64",):
        ok &= t < 2.0 ** 64
    return src[ok]


def write(a, t, path):
    if t == "F4":
        codes = a.view(np.uint8) & 0xF
        a = codes[0::2] | (codes[1::2] << 4)
    a.tofile(path)


def pairs():
    for s in FLOATS:
        for d in FLOATS:
            if s != d:
                yield s, d, False, False
    for e in EXTRA8:
        for f in ["F64", "F32", "F16", "BF16"]:
            yield e, f, False, False
            yield f, e, False, False
    yield "F4", "F8_E4M3", False, False
    for s in ["F64", "I32", "U32", "I64", "U64"]:
        for d in ["BF16", "F8_E4M3", "F8_E5M2"] + (EXTRA8 if s == "F64" else []):
            yield s, d, False, True
    for s, d in [("F32", "F16"), ("F32", "BF16"), ("F32", "F8_E4M3"), ("F32", "F8_E5M2"),
                 ("F32", "F8_E4M3FNUZ"), ("F32", "F8_E5M2FNUZ"), ("F64", "F8_E4M3"), ("F64", "F16"),
                 ("BF16", "F8_E4M3"), ("F16", "F8_E5M2"), ("BF16", "F16")]:
        yield s, d, True, False
    for i in INTS:
        for f in ["F64", "F32", "F16", "BF16", "F8_E4M3"]:
            yield i, f, False, False
            yield f, i, False, False
    for s in INTS:
        for d in INTS:
            if s != d:
                yield s, d, False, False


EXHAUSTIVE_F32 = ["F16", "BF16", "F8_E4M3", "F8_E5M2"]


def f32_digests(path):
    """CRC-32 of numpy/ml_dtypes' result for every float32 bit pattern, in
    order, for each target in EXHAUSTIVE_F32 (TestExhaustiveF32 compares)."""
    import zlib
    out = {}
    step = 1 << 24
    for dt in EXHAUSTIVE_F32:
        crc = 0
        for lo in range(0, 1 << 32, step):
            src = np.arange(lo, lo + step, dtype=np.uint64).astype(np.uint32).view(np.float32)
            crc = zlib.crc32(src.astype(TYPES[dt]).tobytes(), crc)
        out["F32->" + dt] = crc
        print(f"F32->{dt} crc32 {crc:08x}", file=sys.stderr)
    with open(path, "w") as f:
        json.dump({"numpy": np.__version__, "ml_dtypes": md.__version__, "crc32": out}, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--f32-digests", action="store_true",
                    help="write OUT as a JSON file of CRC-32s over every float32 input instead")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--count", type=int, default=2048, help="approximate random values per pair")
    ap.add_argument("--full", action="store_true", help="every pattern of 16-bit sources")
    args = ap.parse_args()
    if args.f32_digests:
        f32_digests(args.out)
        return
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    os.makedirs(args.out, exist_ok=True)
    vectors = []
    for st, dt, sat, via in pairs():
        n = args.count if is_float(st) and is_float(dt) else max(args.count // 3, 32)
        if is_float(st) and TYPES[st].itemsize == 1:
            src = all_patterns(st)
        elif is_float(st) and TYPES[st].itemsize == 2 and args.full:
            src = all_patterns(st)
        elif is_float(st):
            src = float_samples(st, dt if is_float(dt) else "F8_E4M3", n, rng)
        else:
            src = int_samples(st, n, rng)
        if is_float(st) and not is_float(dt):
            src = keep_in_range(src, st, dt)
        if "F4" in (st, dt) and len(src) % 2:
            src = src[:-1]  # packed F4 holds whole bytes
        dst = expected(src, st, dt, sat, via)
        name = f"{st}-{dt}" + ("-sat" if sat else "") + ("-viaf32" if via else "")
        write(src, st, os.path.join(args.out, name + ".src.bin"))
        write(dst, dt, os.path.join(args.out, name + ".dst.bin"))
        vectors.append({"name": name, "src": st, "dst": dt, "saturate": sat, "via_f32": via,
                        "count": int(len(src)), "src_file": name + ".src.bin",
                        "dst_file": name + ".dst.bin"})
    manifest = {"generator": "tests/interop/gen_cast_vectors.py", "numpy": np.__version__,
                "ml_dtypes": md.__version__, "seed": seed, "count": args.count, "full": args.full,
                "vectors": vectors}
    vecs = manifest.pop("vectors")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        # one vector a line: readable and small
        head = json.dumps(manifest)[:-1]
        f.write(head + ', "vectors": [\n' + ",\n".join(json.dumps(v) for v in vecs) + "\n]}\n")
    print(f"{len(vectors)} vectors, seed {seed}, in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
