"""The quantize rows of `make bench` (section 4 of scripts/bench.py) alone,
interleaved and repeated: each repetition runs formats/ggml's
BenchmarkQuantize (1 and 2 threads) and libggml's ggml_quantize_chunk on
the same input, one after the other, and the medians are printed with
their ratios and the load average, for busy machines. Extra arguments
name other `go test -c` binaries of formats/ggml to time in the same
repetitions (a baseline, say).

    VENV=~/.cache/mlmf/venv; $VENV/bin/python scripts/bench_quant.py [-reps N] [BASELINE.test ...]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

from bench import ggml_mbps  # noqa: E402

TYPES = ("Q8_0", "Q4_0", "Q4_K", "Q6_K")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-reps", type=int, default=5)
    ap.add_argument("others", nargs="*")
    a = ap.parse_args()

    import numpy as np
    import ggml_oracle

    bench = os.path.join(ROOT, ".bench")
    os.makedirs(bench, exist_ok=True)
    ours = os.path.join(bench, "ggml.test")
    subprocess.run(["go", "test", "-c", "-o", ours, "./formats/ggml"], cwd=ROOT, check=True)
    bins = [ours] + a.others
    g = ggml_oracle.load()
    x = np.random.default_rng(11).standard_normal((64, 4096)).astype(np.float32)  # as BenchmarkQuantize
    got, loads = {}, []
    for rep in range(a.reps):
        for threads in (1, 2):
            for b in bins:
                out = subprocess.run([b, "-test.run", "^$", "-test.bench", "^BenchmarkQuantize$",
                                      "-test.benchtime", "1s", "-test.cpu", str(threads)],
                                     check=True, capture_output=True, text=True).stdout
                for m in re.finditer(r"BenchmarkQuantize/(\S+?)/threads=(\d)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) MB/s", out):
                    if int(m.group(2)) == threads:
                        got.setdefault((b, m.group(1), threads), []).append(float(m.group(3)))
            for name in TYPES:
                got.setdefault(("libggml", name, threads), []).append(ggml_mbps(g, name, x, threads))
        loads.append(os.getloadavg()[0])
        print(f"repetition {rep + 1}/{a.reps}, load average {loads[-1]:.2f}", flush=True)
    med = {k: statistics.median(v) for k, v in got.items()}
    print(f"\nmedians of {a.reps}; load average (1 min) {min(loads):.2f}-{max(loads):.2f}, median {statistics.median(loads):.2f}")
    for name in TYPES:
        for b in bins:
            who = "mlmf" if b == ours else os.path.basename(b)
            cells = []
            for threads in (1, 2):
                us, them = med[(b, name, threads)], med[("libggml", name, threads)]
                cells.append(f"{us:,.1f} / libggml {them:,.1f} = {us / them:.2f}x")
            print(f"quantize {name:<5} {who:<12} 1 thread: {cells[0]:<36} 2 threads: {cells[1]}")


if __name__ == "__main__":
    main()
