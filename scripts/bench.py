"""`make bench`: each mlmf figure next to its anchor, measured in the same run,
with the ratio. Run through the Makefile (it builds the Go side and the venv).

  1. open + list a synthetic sharded checkpoint (2,000 tensors, >= 8 GB)
     vs safetensors.safe_open listing the same files (target: faster, < 50 ms)
  2. read every tensor byte, checksummed, vs `cat` of the same files from
     page cache (target >= 90 % of cat's bandwidth)
  3. dtype conversion per core (F32->BF16, BF16->F16) vs numpy (target >= 1x)
"""

import glob
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.environ.get("BENCH_DIR", os.path.join(ROOT, ".bench"))
TOOL = os.path.join(BENCH, "benchtool")
CKPT = os.path.join(BENCH, "ckpt")
ROWS = []


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw).stdout


def field(out, key):
    return float(re.search(rf"{key}=([0-9.]+)", out).group(1))


def row(what, mlmf, anchor_name, anchor, unit, higher_better=True):
    ratio = mlmf / anchor if higher_better else anchor / mlmf
    ROWS.append((what, f"{mlmf:.3f} {unit}", f"{anchor_name} {anchor:.3f} {unit}", f"{ratio:.2f}x"))
    print(f"{what:<40} mlmf {mlmf:10.3f} {unit:<6} {anchor_name} {anchor:10.3f} {unit:<6} ratio {ratio:.2f}x", flush=True)


def python_list_ms(files, runs=5):
    from safetensors import safe_open

    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        n = 0
        for f in files:
            with safe_open(f, "np") as h:
                for k in h.keys():
                    h.get_slice(k).get_shape()
                    n += 1
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best, n


def cat_gbps(files, total, runs=3):
    best = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
        best = max(best, total / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    os.makedirs(BENCH, exist_ok=True)
    sh("go", "build", "-o", TOOL, "./internal/cmd/benchtool")
    if not os.path.exists(os.path.join(CKPT, "model.safetensors.index.json")):
        print("generating the synthetic checkpoint (once; kept in .bench/)…", flush=True)
        print(sh(TOOL, "gen", "-dir", CKPT, "-tensors", "2000", "-bytes", "8.4e9").strip(), flush=True)
    files = sorted(glob.glob(os.path.join(CKPT, "*.safetensors")))
    total = sum(os.path.getsize(f) for f in files)
    print(f"checkpoint: {len(files)} shards, {total/1e9:.2f} GB\n", flush=True)

    # 1. open + list, warm
    out = sh(TOOL, "list", "-runs", "20", CKPT)
    go_ms = field(out, "ms")
    py_ms, n = python_list_ms(files)
    assert n == int(field(out, "tensors")), "both sides must list the same tensors"
    row("1. open+list 2000 tensors (warm)", go_ms, "python safe_open", py_ms, "ms", higher_better=False)
    t0 = time.perf_counter()
    sh(os.environ.get("MLMF_BIN", "bin/mlmf"), "inspect", CKPT, "--json")
    print(f"   (whole `mlmf inspect --json` process incl. start and JSON: {(time.perf_counter()-t0)*1e3:.1f} ms)")

    # 2. read every byte from page cache
    cat_gbps(files, total, runs=1)  # warm the page cache
    cat = cat_gbps(files, total)
    out = sh(TOOL, "read", "-runs", "3", CKPT)
    row("2. read all bytes, checksummed", field(out, "GBps"), "cat", cat, "GB/s")

    # 3. conversion throughput per core
    out = sh("go", "test", "./formats/cast", "-run", "^$", "-bench", "^Benchmark(F32ToBF16|BF16ToF16)$",
             "-benchtime", "2s", "-cpu", "1")
    go_mbps = {m.group(1): float(m.group(2)) for m in re.finditer(r"Benchmark(\w+?)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) MB/s", out)}
    np_out = subprocess.run([sys.executable, os.path.join(ROOT, "tests/interop/bench_cast.py")], check=True,
                            capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1")).stdout
    np_mbps = {m.group(1): float(m.group(2)) for m in re.finditer(r"numpy (\S+) MBps=([\d.]+)", np_out)}
    for go_name, np_name in (("F32ToBF16", "F32->BF16"), ("BF16ToF16", "BF16->F16")):
        row(f"3. {np_name} per core", go_mbps[go_name], "numpy", np_mbps[np_name], "MB/s")

    print("\n| benchmark | mlmf | anchor | ratio |\n|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
