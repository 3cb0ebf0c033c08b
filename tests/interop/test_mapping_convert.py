"""mlmf's GGUF export plan against llama.cpp's convert_hf_to_gguf.py.

For every tiny model of gen_mapping.MODELS that convert_hf_to_gguf.py (from
llama-cpp-python's pinned source distribution) can convert, the tensors mlmf
plans to write -- names and shapes, with MoE experts stacked, fused tensors
split, Conv1D weights transposed and tied outputs dropped -- equal the tensors
of the GGUF the converter writes. Bytes are compared once the conversion job
exists.

Needs LLAMA_CPP_SRC (vendor/llama.cpp of the unpacked sdist; see
gen_mapping_convert.py) and torch/transformers; skipped otherwise.
"""

import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import gen_mapping  # noqa: E402
import gen_mapping_convert  # noqa: E402
from test_mapping import HAVE_TRANSFORMERS, ROOT, mapcheck, model, run_mapcheck  # noqa: E402,F401

SRC = os.environ.get("LLAMA_CPP_SRC", gen_mapping_convert.DEFAULT_SRC)
CONVERT_FIXTURES = os.path.join(ROOT, "testdata", "mapping", "convert")

pytestmark = pytest.mark.skipif(
    not (HAVE_TRANSFORMERS and os.path.isfile(os.path.join(SRC, "convert_hf_to_gguf.py"))),
    reason="needs torch, transformers and LLAMA_CPP_SRC with convert_hf_to_gguf.py")


def squeeze(shape):
    return [d for d in shape if d != 1]


@pytest.mark.parametrize("arch", list(gen_mapping.MODELS))
def test_plan_matches_convert(mapcheck, tmp_path, arch):  # noqa: F811
    conv = gen_mapping_convert.convert(arch, SRC)
    with open(os.path.join(CONVERT_FIXTURES, arch + ".json")) as f:
        committed = json.load(f)
    assert conv.get("error") == committed.get("error")
    assert conv.get("tensors") == committed.get("tensors"), "testdata/mapping/convert is stale: rerun gen_mapping_convert.py"
    if conv.get("error"):
        pytest.skip(f"convert_hf_to_gguf.py cannot convert it: {conv['error']}")
    data = model(arch)
    out = run_mapcheck(mapcheck, tmp_path, data["tensors"], config=data["config"])
    assert out["report"]["gguf_arch"] == conv["gguf_arch"]
    plan = {p["name"]: p.get("shape") for p in out["plan"]}
    written = {t["name"]: t["shape"] for t in conv["tensors"]}
    assert sorted(plan) == sorted(written)
    for name, shape in written.items():
        assert squeeze(plan[name]) == squeeze(shape), name
