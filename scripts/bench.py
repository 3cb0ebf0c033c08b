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
  7. `mlmf convert --to gguf` vs llama.cpp's convert_hf_to_gguf.py on a
     synthetic >= 4 GB BF16 LLaMA checkpoint, to F16 and Q8_0, file to file
     (target >= 5x faster; peak RSS <= largest tensor x 3 + 300 MB)

Rows are selectable: `BENCH_ROWS=7 make bench` or `scripts/bench.sh 7` runs
row 7 alone (1-3, 4-6 and 7 are the groups that run together). Row 7 needs
about 5 GB free in BENCH_TMP (default: the system temp dir) for its source
checkpoint, and writes both converters' outputs (one at a time) to /dev/shm
when that tmpfs has room: fsync is a no-op there for both, so the row
compares the converters, not the disk. Without room (or with BENCH_OUT_DIR
set, e.g. to a directory on disk) the outputs go to BENCH_OUT_DIR or
BENCH_TMP and both converters fsync them. BENCH_EXPORT_RUNS=N runs each
side N times, alternating, and reports medians.
"""

import ctypes
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def selected():
    """The rows to run: command-line arguments or BENCH_ROWS (comma or space
    separated row numbers), all of them when neither is given."""
    spec = " ".join(sys.argv[1:]) or os.environ.get("BENCH_ROWS", "")
    rows = {int(x) for x in re.split(r"[,\s]+", spec) if x}
    return rows or set(range(1, 8))


def main():
    os.makedirs(BENCH, exist_ok=True)
    want = selected()
    if want & {1, 2, 3}:
        bench_checkpoint()
    if want & {4, 5, 6}:
        bench_ggml()
    if 7 in want:
        bench_export()

    print("\n| benchmark | mlmf | anchor | ratio |\n|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


def bench_checkpoint():
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
        row(f"5. quantize {size/1e9:.2f} GB F32 GGUF -> {preset} ({'same tensors and metadata' if same else 'DIFFERENT files'})",
            ours, "llama_model_quantize", theirs, "s", higher_better=False)
        os.remove(ours_out); os.remove(theirs_out)

    # 6. dequantize per type (MB/s of float32 output, one core)
    deq = go_bench("^BenchmarkDequantize$", "./formats/ggml")
    print("6. dequantize, one core, MB/s of F32 output: " + ", ".join(f"{k.split('/')[-1]} {v:.0f}" for k, v in sorted(deq.items())))


# Runs llama.cpp's converter as its command line does (lazy tensors), then
# fsyncs the output: mlmf writes through a temporary file it fsyncs before the
# rename, so both sides pay for getting the bytes to disk.
EXPORT_RUNNER = r"""
import os, runpy, sys
src, argv = sys.argv[1], sys.argv[2:]
out = argv[argv.index("--outfile") + 1]
sys.path.insert(0, src)
sys.argv = [os.path.join(src, "convert_hf_to_gguf.py")] + argv
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    if e.code:
        raise
fd = os.open(out, os.O_RDONLY)
os.fsync(fd)
os.close(fd)
"""


def fs_type(path):
    """The file system type of the mount holding path (Linux's
    /proc/mounts; "" elsewhere)."""
    path, best, kind = os.path.realpath(path), "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and (path == parts[1] or path.startswith(parts[1].rstrip("/") + "/")) and len(parts[1]) >= len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def timed(cmd):
    """Runs cmd under /usr/bin/time -v: wall seconds, CPU seconds (user +
    system) and peak RSS in bytes."""
    t0 = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    secs = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}… failed ({res.returncode}):\n{res.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1)) * 1024
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", res.stderr).group(1)) for k in ("User", "System"))
    return secs, cpu, rss


def sha256(path):
    """A digest of a GGUF's content as the interop tests compare it: every
    KV (key, types, value) but mlmf's provenance (mlmf.*: its version, the
    options, the source files' hashes, which the script does not write),
    then every tensor's name, type, shape and bytes."""
    import hashlib

    from gguf import GGUFReader

    h = hashlib.sha256()
    r = GGUFReader(path)
    for k, f in r.fields.items():
        if k.startswith("mlmf."):
            continue
        h.update(repr((k, [int(x) for x in f.types], f.contents() if not k.startswith("GGUF.") else None)).encode())
    for t in r.tensors:
        h.update(repr((t.name, int(t.tensor_type), [int(x) for x in t.shape])).encode())
        h.update(memoryview(t.data).cast("B"))
    return h.hexdigest()


def write_llama_checkpoint(d, layers):
    """A LLaMA-shaped BF16 checkpoint (hidden 4096, 32 heads, 8 KV heads,
    feed-forward 11008; 354 MB a layer) in one safetensors file, with the
    SentencePiece vocabulary of testdata/tokenizers/llama-spm (tokenizer.model
    beside its tokenizer.json, as LLaMA repositories ship it). The values
    cycle through a 64 MiB pool of N(0, 0.02) draws: quantization speed does
    not depend on them and drawing 2 G normals would dominate the run."""
    import numpy as np

    spm = os.path.join(ROOT, "testdata", "tokenizers", "llama-spm")
    for f in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(spm, f), d)
    vocab = json.load(open(os.path.join(spm, "config.json")))["vocab_size"]
    E, F, H, KV = 4096, 11008, 32, 8
    hd = E // H
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": E, "intermediate_size": F,
           "num_attention_heads": H, "num_key_value_heads": KV, "head_dim": hd, "num_hidden_layers": layers, "vocab_size": vocab,
           "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16", "hidden_act": "silu"}
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    shapes = [("model.embed_tokens.weight", (vocab, E))]
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", (E,)), (p + "self_attn.q_proj.weight", (H * hd, E)),
                   (p + "self_attn.k_proj.weight", (KV * hd, E)), (p + "self_attn.v_proj.weight", (KV * hd, E)),
                   (p + "self_attn.o_proj.weight", (E, H * hd)), (p + "post_attention_layernorm.weight", (E,)),
                   (p + "mlp.gate_proj.weight", (F, E)), (p + "mlp.up_proj.weight", (F, E)),
                   (p + "mlp.down_proj.weight", (E, F))]
    shapes += [("model.norm.weight", (E,)), ("lm_head.weight", (vocab, E))]
    shapes.sort()  # as safetensors' save_file lays them out (and the script lists them)
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    hdr = json.dumps(header, separators=(",", ":")).encode()
    hdr += b" " * (-len(hdr) % 8)
    pool = (np.random.default_rng(7).standard_normal(1 << 25, dtype=np.float32) * 0.02).view(np.uint32)
    pool = (pool >> 16).astype(np.uint16)
    ones = np.full(E, 0x3F80, np.uint16)  # 1.0: norms
    largest = 0
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(len(hdr).to_bytes(8, "little"))
        f.write(hdr)
        start = 0
        for name, shape in shapes:
            n = int(np.prod(shape))
            largest = max(largest, n * 2)
            if len(shape) == 1:
                f.write(ones[:n].tobytes())
                continue
            left = n
            while left:
                k = min(left, len(pool) - start)
                f.write(pool[start:start + k].tobytes())
                left -= k
                start = (start + k) % len(pool)
            start = (start + 4099) % len(pool)
    return 8 + len(hdr) + off, largest


def bench_export():
    """Row 7: mlmf convert --to gguf vs convert_hf_to_gguf.py, both file to file."""
    mlmf = os.environ.get("MLMF_BIN", os.path.join(ROOT, "bin/mlmf"))
    src = os.environ.get("LLAMA_CPP_SRC", os.path.join(os.path.dirname(sys.executable), "..", "llama.cpp"))
    src = os.path.abspath(src)
    if not os.path.isfile(os.path.join(src, "convert_hf_to_gguf.py")):
        print(f"7. skipped: no convert_hf_to_gguf.py under {src} (set LLAMA_CPP_SRC)")
        return
    layers = int(os.environ.get("BENCH_EXPORT_LAYERS", "12"))  # 12 layers: 4.3 GB
    parent = os.environ.get("BENCH_TMP") or tempfile.gettempdir()
    # The outputs go to a tmpfs (/dev/shm) when it has room: both
    # converters write through the page cache and fsync, which is a no-op
    # there for both, so the row times the converters rather than the disk.
    # BENCH_OUT_DIR chooses the place instead (a directory on disk measures
    # with the disk, fsync included for both).
    out_need = layers * 354e6 + 1e9  # one F16 output at a time
    out_parent = os.environ.get("BENCH_OUT_DIR")
    if not out_parent:
        shm = "/dev/shm"
        out_parent = shm if os.path.isdir(shm) and shutil.disk_usage(shm).free >= out_need else parent
    need = layers * 354e6 * (1 if out_parent != parent else 2) + 1e9  # source + one F16 output at a time
    for where, n in ((parent, need), (out_parent, out_need)):
        free = shutil.disk_usage(where).free
        if free < n:
            print(f"7. skipped: {where} has {free/1e9:.1f} GB free, the row needs {n/1e9:.1f} GB (set BENCH_TMP, BENCH_OUT_DIR)")
            return
    tmpfs = fs_type(out_parent) == "tmpfs"
    print(f"7. outputs on {out_parent} ({'tmpfs: fsync is a no-op for both converters' if tmpfs else 'disk: both converters fsync'}); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    runs = max(1, int(os.environ.get("BENCH_EXPORT_RUNS", "1")))
    tmp = tempfile.mkdtemp(prefix="mlmf-bench-export-", dir=parent)
    outs = tmp if out_parent == parent else tempfile.mkdtemp(prefix="mlmf-bench-export-out-", dir=out_parent)
    try:
        d = os.path.join(tmp, "checkpoint")  # both converters name the model after the directory
        os.mkdir(d)
        print(f"7. generating a {layers}-layer BF16 LLaMA checkpoint in {tmp}…", flush=True)
        size, largest = write_llama_checkpoint(d, layers)
        bound = 3 * largest + 300e6
        print(f"   {size/1e9:.2f} GB, largest tensor {largest/1e6:.0f} MB: RSS bound {bound/1e6:.0f} MB", flush=True)
        runner = os.path.join(tmp, "run_convert.py")
        with open(runner, "w") as f:
            f.write(EXPORT_RUNNER)
        subprocess.run(["cat", os.path.join(d, "model.safetensors")], stdout=subprocess.DEVNULL, check=True)
        where = f", output on {out_parent}" + (" (tmpfs)" if tmpfs else ", fsynced")
        for typ in ("F16", "Q8_0"):
            ours_out, theirs_out = os.path.join(outs, f"mlmf-{typ}.gguf"), os.path.join(outs, f"llama-{typ}.gguf")
            ours_runs, theirs_runs, same = [], [], True
            for _ in range(runs):
                ours_runs.append(timed([mlmf, "convert", d, ours_out, "--to", "gguf", "--type", typ]))
                ours_sum = sha256(ours_out)
                os.remove(ours_out)
                theirs_runs.append(timed([sys.executable, runner, src, d, "--outfile", theirs_out, "--outtype", typ.lower()]))
                same = same and sha256(theirs_out) == ours_sum
                os.remove(theirs_out)
            med = lambda xs, i: statistics.median(x[i] for x in xs)
            ours, ours_cpu, ours_rss = med(ours_runs, 0), med(ours_runs, 1), max(x[2] for x in ours_runs)
            theirs, theirs_cpu, theirs_rss = med(theirs_runs, 0), med(theirs_runs, 1), max(x[2] for x in theirs_runs)
            row(f"7. HF BF16 {size/1e9:.2f} GB -> GGUF {typ}{where} ({'same tensors and metadata' if same else 'DIFFERENT files'})",
                ours, "convert_hf_to_gguf.py", theirs, "s", higher_better=False)
            if runs > 1:
                print(f"   medians of {runs} alternating runs: mlmf {', '.join(f'{x[0]:.1f}' for x in ours_runs)} s; "
                      f"convert_hf_to_gguf.py {', '.join(f'{x[0]:.1f}' for x in theirs_runs)} s", flush=True)
            verdict = "within" if ours_rss <= bound else "OVER"
            print(f"   CPU (user+sys): mlmf {ours_cpu:.1f} s, convert_hf_to_gguf.py {theirs_cpu:.1f} s ({theirs_cpu/ours_cpu:.2f}x); "
                  f"speed target >= 5x; load average now {os.getloadavg()[0]:.2f}", flush=True)
            print(f"   peak RSS: mlmf {ours_rss/1e6:.0f} MB ({verdict} the bound of {bound/1e6:.0f} MB), "
                  f"convert_hf_to_gguf.py {theirs_rss/1e6:.0f} MB", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(outs, ignore_errors=True)


if __name__ == "__main__":
    main()
