#!/usr/bin/env python3
"""Write formats/ggml/testdata/golden/<TYPE>.json: a few blocks per ggml type
encoded and decoded by llama.cpp's own libggml-base (the interop oracle, see
tests/interop/ggml_oracle.py), so that `go test ./formats/ggml` alone proves
bit-exactness on these vectors. Nothing here comes from the Go code.

Run from the repository root with the interop venv:
    /root/.cache/mlmf/venv/bin/python formats/ggml/internal/gengolden/gengolden.py
"""
import base64
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))

import ggml_oracle  # noqa: E402
import test_ggml as T  # noqa: E402  (type lists, block sizes, random valid blocks)


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def main():
    g = ggml_oracle.load()
    out_dir = os.path.join(ROOT, "formats", "ggml", "testdata", "golden")
    os.makedirs(out_dir, exist_ok=True)
    for name in T.DEQUANT_TYPES:
        t = T.gid(name)
        rng = np.random.default_rng(4242 + t)
        doc = {"type": name, "oracle": "libggml-base from llama-cpp-python 0.3.36"}
        if name in T.QUANT_TYPES:
            n = 256
            x = np.concatenate([
                rng.standard_normal(n),                     # plain
                rng.standard_t(2, n) * 1e-3,                # heavy tails, small
                T.rows_of("special", 8, n, rng)[[2, 4]].reshape(-1),  # a spike, tiny
            ]).astype(np.float32)
            im = rng.exponential(1.0, n).astype(np.float32)
            im[:: 17] = 0
            doc.update({
                "n_per_row": n,
                "input_f32": b64(x.tobytes()),
                "imatrix_f32": b64(im.tobytes()),
                "quant": b64(g.quantize(t, x, n)),
                "quant_imatrix": b64(g.quantize(t, x, n, im)),
            })
        nb = 4 if T.TYPE_SIZE[name] > 8 else 128
        blocks = T.random_blocks(name, nb, rng)
        if name in ("I8", "I16", "I32", "I64", "F64"):
            deq = T.c_cast_to_f32(name, blocks)
        elif name == "F32":
            deq = np.frombuffer(blocks, dtype="<f4")
        elif name == "Q8_K":
            deq = g.dequantize_row("dequantize_row_q8_K", t, blocks)
        elif name == "Q8_1":
            blk = np.frombuffer(blocks, np.uint8).reshape(-1, 36)
            d = blk[:, 0:2].copy().view("<f2").astype(np.float32)
            deq = (blk[:, 4:36].copy().view(np.int8).astype(np.float32) * d).reshape(-1)
        else:
            deq = g.to_float(t, blocks)
        doc["dequant_in"] = b64(blocks)
        doc["dequant_f32"] = b64(np.asarray(deq, dtype="<f4").tobytes())
        with open(os.path.join(out_dir, name + ".json"), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
