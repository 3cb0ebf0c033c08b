"""`make bench`: each mlmf figure next to its anchor, measured in the same run,
with the ratio. Run through the Makefile (it builds the Go side and the venv).

  1. open + list a synthetic sharded checkpoint (2,000 tensors, >= 8 GB)
     vs safetensors.safe_open listing the same files (target: faster, < 50 ms)
  2. read every tensor byte, checksummed, vs `cat` of the same files from
     page cache (target >= 90 % of cat's bandwidth)
  3. dtype conversion per core (F32->BF16, BF16->F16) vs numpy (target >= 1x)
  4. quantize throughput (Q8_0, Q4_0, Q4_K, Q6_K; 1 and 2 threads) vs
     libggml's ggml_quantize_chunk on the same input (target >= 1x per thread)
  5. whole-file `mlmf quantize` vs llama_model_quantize on a >= 1 GB F32 GGUF
  6. dequantize throughput per ggml type
"""

import ctypes
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

    bench_ggml()

    print("\n| benchmark | mlmf | anchor | ratio |\n|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


def go_bench(pattern, pkg, cpu="1"):
    out = sh("go", "test", pkg, "-run", "^$", "-bench", pattern, "-benchtime", "1s", "-cpu", cpu)
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"Benchmark(\S+?)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) MB/s", out)}


def ggml_mbps(g, name, x, threads):
    """libggml's ggml_quantize_chunk on x, split by rows over `threads`
    Python threads (ctypes releases the GIL during the call)."""
    import threading

    import numpy as np
    from gguf import GGMLQuantizationType as GT

    t = int(GT[name])
    parts = np.array_split(x, threads)
    g.quantize(t, x[:1], x.shape[1])
    best = 0.0
    for _ in range(5):
        ths = [threading.Thread(target=g.quantize, args=(t, p, x.shape[1])) for p in parts]
        t0 = time.perf_counter()
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        best = max(best, x.nbytes / (time.perf_counter() - t0) / 1e6)
    return best


def bench_ggml():
    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
    import ggml_oracle

    g = ggml_oracle.load()
    x = np.random.default_rng(11).standard_normal((64, 4096)).astype(np.float32)  # as BenchmarkQuantize
    for threads in (1, 2):
        ours = go_bench("^BenchmarkQuantize$", "./formats/ggml", cpu=str(threads))
        for name in ("Q8_0", "Q4_0", "Q4_K", "Q6_K"):
            row(f"4. quantize {name}, {threads} thread(s)", ours[f"Quantize/{name}/threads={threads}"],
                "libggml", ggml_mbps(g, name, x, threads), "MB/s")

    # 5. whole file, >= 1 GB F32 GGUF
    import gguf
    import llama_cpp

    src = os.path.join(BENCH, "llama-f32.gguf")
    if not os.path.exists(src):
        print("generating a 1.2 GB F32 GGUF (once; kept in .bench/)…", flush=True)
        rng = np.random.default_rng(5)
        w = gguf.GGUFWriter(src + ".tmp", "llama")
        E, F, L, V = 2048, 5632, 4, 32000
        w.add_context_length(2048); w.add_embedding_length(E); w.add_block_count(L)
        w.add_feed_forward_length(F); w.add_head_count(16); w.add_head_count_kv(4)
        w.add_rope_dimension_count(E // 16); w.add_layer_norm_rms_eps(1e-5); w.add_file_type(0)
        def t(name, *shape):
            w.add_tensor(name, (rng.standard_normal(shape, dtype=np.float32) * 0.02) if len(shape) > 1 else np.ones(shape, np.float32))
        t("token_embd.weight", V, E)
        for i in range(L):
            t(f"blk.{i}.attn_norm.weight", E); t(f"blk.{i}.ffn_norm.weight", E)
            t(f"blk.{i}.attn_q.weight", E, E); t(f"blk.{i}.attn_k.weight", E // 4, E)
            t(f"blk.{i}.attn_v.weight", E // 4, E); t(f"blk.{i}.attn_output.weight", E, E)
            t(f"blk.{i}.ffn_gate.weight", F, E); t(f"blk.{i}.ffn_up.weight", F, E); t(f"blk.{i}.ffn_down.weight", E, F)
        t("output_norm.weight", E); t("output.weight", V, E)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        os.rename(src + ".tmp", src)
    size = os.path.getsize(src)
    mlmf = os.environ.get("MLMF_BIN", os.path.join(ROOT, "bin/mlmf"))
    for preset, ftype in (("Q8_0", 7), ("Q4_K_M", 15)):
        ours_out, theirs_out = os.path.join(BENCH, f"mlmf-{preset}.gguf"), os.path.join(BENCH, f"llama-{preset}.gguf")
        t0 = time.perf_counter()
        sh(mlmf, "quantize", src, ours_out, "--type", preset, "--quiet")
        ours = time.perf_counter() - t0
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype, p.nthread = ftype, os.cpu_count()
        saved = os.dup(2)  # llama.cpp logs every tensor on stderr
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            t0 = time.perf_counter()
            rc = llama_cpp.llama_model_quantize(src.encode(), theirs_out.encode(), ctypes.byref(p))
            theirs = time.perf_counter() - t0
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
            os.close(saved)
        assert rc == 0, "llama_model_quantize failed"
        same = open(ours_out, "rb").read() == open(theirs_out, "rb").read()
        row(f"5. quantize {size/1e9:.2f} GB F32 GGUF -> {preset} ({'identical' if same else 'DIFFERENT'} files)",
            ours, "llama_model_quantize", theirs, "s", higher_better=False)
        os.remove(ours_out); os.remove(theirs_out)

    # 6. dequantize per type (MB/s of float32 output, one core)
    deq = go_bench("^BenchmarkDequantize$", "./formats/ggml")
    print("6. dequantize, one core, MB/s of F32 output: " + ", ".join(f"{k.split('/')[-1]} {v:.0f}" for k, v in sorted(deq.items())))


if __name__ == "__main__":
    main()
