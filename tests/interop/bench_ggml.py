#!/usr/bin/env python3
"""Time libggml's ggml_quantize_chunk, 1 thread, on the input formats/ggml's
BenchmarkQuantize uses (64 rows x 4096 float32 standard normals, 1 MiB), and
print `ggml quantize TYPE MBps=...` (MB = 1e6 bytes of float32 input, as Go's
b.SetBytes reports) for the bench harness to set next to mlmf's numbers.

    python tests/interop/bench_ggml.py [TYPE ...]     (default: Q8_0 Q4_0 Q4_K Q6_K)
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_oracle  # noqa: E402
from gguf import GGMLQuantizationType as GT  # noqa: E402

ROWS, COLS = 64, 4096


def bench(g, name, x, min_time=1.0):
    t = int(GT[name])
    g.quantize(t, x[:COLS], COLS)  # warm up (and ggml_quantize_init)
    n, start = 0, time.perf_counter()
    while True:
        g.quantize(t, x, COLS)
        n += 1
        el = time.perf_counter() - start
        if el >= min_time and n >= 3:
            return x.nbytes * n / el / 1e6


def main():
    g = ggml_oracle.load()
    names = sys.argv[1:] or ["Q8_0", "Q4_0", "Q4_K", "Q6_K"]
    x = np.random.default_rng(11).standard_normal((ROWS, COLS)).astype(np.float32)
    for name in names:
        print(f"ggml quantize {name} MBps={bench(g, name, x):.2f}", flush=True)


if __name__ == "__main__":
    main()
