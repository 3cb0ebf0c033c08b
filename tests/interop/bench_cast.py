#!/usr/bin/env python3
"""Print numpy / ml_dtypes single-thread conversion throughput.

One line per pair, MB/s of input, best of several runs on 64 MB inputs of
realistic weights (normal values around 0.02), for the bench harness to set
beside `go test ./formats/cast -bench . -cpu 1` (same input size and data):

    numpy F32->BF16 MBps=1234.5
"""
import argparse
import os
import time

# numpy's casts are single-threaded; pin the BLAS pools anyway.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402

TYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
}
PAIRS = [("F32", "BF16"), ("BF16", "F16"), ("BF16", "F32"), ("F32", "F16"), ("F16", "F32"),
         ("F16", "BF16"), ("F32", "F8_E4M3"), ("BF16", "F8_E4M3"), ("F64", "BF16")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=64, help="input size in MB")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("pairs", nargs="*", help="SRC->DST names; default: all")
    args = ap.parse_args()
    pairs = [tuple(p.split("->")) for p in args.pairs] or PAIRS
    rng = np.random.default_rng(0)
    for st, dt in pairs:
        s, d = np.dtype(TYPES[st]), np.dtype(TYPES[dt])
        n = args.mb * (1 << 20) // s.itemsize
        src = (rng.standard_normal(n, dtype=np.float32) * 0.02).astype(s)
        out = np.empty(n, dtype=d)
        # Two ways to convert: what users write, a.astype(ml_dtypes.bfloat16)
        # (allocates the result), and np.copyto into a preallocated array (as
        # mlmf's benchmark does). The faster of the two counts.
        best = float("inf")
        for _ in range(args.runs):
            t = time.perf_counter()
            src.astype(d)
            best = min(best, time.perf_counter() - t)
            t = time.perf_counter()
            np.copyto(out, src, casting="unsafe")
            best = min(best, time.perf_counter() - t)
        print(f"numpy {st}->{dt} MBps={src.nbytes / best / 1e6:.1f}", flush=True)


if __name__ == "__main__":
    main()
