"""Writes the reference fixtures of formats/safetensors with the Python
safetensors package (0.8.0), so the Go tests can check that Encode produces
the same bytes. Run from this directory with the interop venv:

    python gen.py

Each case is described in manifest.json (tensor names, dtypes, shapes and
data in hex) so that the Go test builds the same tensors without reading
the reference files first.
"""
import json

import numpy as np
import safetensors
from safetensors import TensorSpec, serialize

# Python dtype names accepted by TensorSpec, with the safetensors name and
# the element size in bits.
DTYPES = [
    ("bool", "BOOL", 8), ("uint8", "U8", 8), ("int8", "I8", 8),
    ("int16", "I16", 16), ("uint16", "U16", 16), ("int32", "I32", 32),
    ("uint32", "U32", 32), ("int64", "I64", 64), ("uint64", "U64", 64),
    ("float16", "F16", 16), ("bfloat16", "BF16", 16), ("float32", "F32", 32),
    ("float64", "F64", 64), ("complex64", "C64", 64),
    ("float8_e4m3fn", "F8_E4M3", 8), ("float8_e5m2", "F8_E5M2", 8),
    ("float8_e8m0fnu", "F8_E8M0", 8), ("float8_e4m3fnuz", "F8_E4M3FNUZ", 8),
    ("float8_e5m2fnuz", "F8_E5M2FNUZ", 8), ("float4_e2m1fn_x2", "F4", 4),
]
BITS = {st: bits for _, st, bits in DTYPES}
PY = {st: py for py, st, _ in DTYPES}


def tensor(name, st, shape, seed):
    n = 1
    for d in shape:
        n *= d
    nbytes = n * BITS[st] // 8
    data = bytes((seed * 31 + i * 7) % 256 for i in range(nbytes))
    if st == "BOOL":
        data = bytes(b & 1 for b in data)
    return {"name": name, "dtype": st, "shape": shape, "data": data.hex()}


def write(case):
    keep = []
    specs = {}
    for t in case["tensors"]:
        buf = np.frombuffer(bytes.fromhex(t["data"]) or b"\0", dtype=np.uint8).copy()
        keep.append(buf)
        shape = list(t["shape"])
        if t["dtype"] == "F4":
            shape[-1] //= 2  # TensorSpec takes F4's storage shape (two per byte)
        specs[t["name"]] = TensorSpec(dtype=PY[t["dtype"]], shape=shape,
                                      data_ptr=buf.ctypes.data, data_len=len(t["data"]) // 2)
    out = bytes(serialize(specs, metadata=case["metadata"]))
    with open(case["file"], "wb") as f:
        f.write(out)


cases = [
    {
        "file": "all_dtypes.safetensors",
        "metadata": {"format": "pt"},
        "tensors": [tensor("t." + st.lower(), st, [2, 4], i) for i, (_, st, _) in enumerate(DTYPES)]
        + [tensor("a.second_f32", "F32", [3], 99), tensor("z.last_u8", "U8", [5], 98),
           tensor("B.upper", "F32", [1], 97), tensor("\u00e9.accent", "F32", [1], 96)],
    },
    {
        "file": "zero_and_empty.safetensors",
        "metadata": None,
        "tensors": [tensor("scalar", "F32", [], 1), tensor("empty", "F32", [0, 3], 2),
                    tensor("empty64", "F64", [0], 3), tensor("empty_u8", "U8", [4, 0], 4),
                    tensor("scalar_bf16", "BF16", [], 5)],
    },
    {
        "file": "escapes.safetensors",
        "metadata": {"k\n\"\\": "v<\u2028>\x00\x1f\x7f\u00fc\U0001F600"},
        "tensors": [tensor(name, "U8", [1], i) for i, name in enumerate(
            ['q"uote', "back\\slash", "ctl\x01\x1f\x7f", "nl\n\t\r\b\f", "<>&", "\u2028\u2029",
             "\u00fc\u65e5\u672c", "/slash", "emoji\U0001F600", ""])],
    },
    {
        "file": "empty_metadata.safetensors",
        "metadata": {},
        "tensors": [tensor("x", "I32", [3], 7)],
    },
    {
        "file": "no_tensors.safetensors",
        "metadata": None,
        "tensors": [],
    },
    {
        "file": "metadata_only.safetensors",
        "metadata": {"format": "pt"},
        "tensors": [],
    },
]

for case in cases:
    write(case)

weight_map = {
    "model.layers.10.mlp.weight": "model-00002-of-00002.safetensors",
    "model.layers.9.mlp.weight": "model-00001-of-00002.safetensors",
    "lm_head.weight": "model-00002-of-00002.safetensors",
    "caf\u00e9\U0001F600\"\\\n\x7f": "model-00001-of-00002.safetensors",
}
with open("index.json", "w") as f:
    f.write(json.dumps({"metadata": {"total_size": 1234567}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")

with open("manifest.json", "w") as f:
    json.dump({"safetensors_version": safetensors.__version__, "cases": cases,
               "index": {"total_size": 1234567, "weight_map": weight_map}}, f, indent=1)
