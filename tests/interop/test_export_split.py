"""`mlmf convert DIR OUT.gguf --to gguf --split-max-tensors N | --split-max-size S
[--no-tensor-first-split]` against convert_hf_to_gguf.py with the same flags.

The demo checkpoint is converted at F16 by both with each split setting; the
files written must have the same names, and every split the same tensors
(name, order, type, shape, bytes) and metadata: gguf-py's GGUFWriter puts
the model's keys in the first split only, and split.no, split.count,
split.tensors.count (in that order) in every split. mlmf's provenance
(mlmf.*) is in the first split, its hashes written before the files were
committed.

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        /root/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_export_split.py
"""

import hashlib
import os
import subprocess
import sys

import pytest

gguf = pytest.importorskip("gguf")

SRC = os.environ.get("LLAMA_CPP_SRC", "/root/.cache/mlmf/venv/llama.cpp")

# As test_export.py's runner, with the split arguments the script's main
# passes to the model class.
RUNNER = r'''
import os, sys
from pathlib import Path
src, model_dir, out, pre, max_tensors, max_size, first = sys.argv[1:8]
sys.path.insert(0, os.path.join(src, "gguf-py"))
sys.path.insert(0, src)
import torch
import convert_hf_to_gguf as conv
import gguf
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
hparams = conv.ModelBase.load_hparams(Path(model_dir), False)
arch = conv.get_model_architecture(hparams, conv.ModelType.TEXT)
cls = conv.get_model_class(arch, mmproj=False)
with torch.inference_mode():
    cls(Path(model_dir), gguf.LlamaFileType.MOSTLY_F16, Path(out), eager=True,
        split_max_tensors=int(max_tensors), split_max_size=conv.split_str_to_n_bytes(max_size),
        small_first_shard=first == "1").write()
'''

# name: (--split-max-tensors, --split-max-size, --no-tensor-first-split)
CASES = {
    "tensors": (5, "0", False),
    "size": (0, "60K", False),
    "both": (4, "90K", False),
    "first": (7, "0", True),
    "first-only": (0, "0", True),
    "fits-one": (0, "10G", False),
}


def kvs(r):
    return [(k, [int(x) for x in f.types], f.contents()) for k, f in r.fields.items()
            if not k.startswith(("GGUF.", "mlmf."))]


@pytest.fixture(scope="module")
def demo_dir(repo_root):
    return repo_root / "internal" / "demo" / "checkpoint"


@pytest.fixture(scope="module", params=list(CASES))
def outputs(request, mlmf, demo_dir, tmp_path_factory):
    name = request.param
    max_tensors, max_size, first = CASES[name]
    base = tmp_path_factory.mktemp(f"split-{name}")
    ours, theirs = base / "mlmf", base / "script"
    ours.mkdir()
    theirs.mkdir()
    args = ["convert", demo_dir, ours / "model.gguf", "--to", "gguf", "--type", "F16",
            "--split-max-tensors", str(max_tensors), "--split-max-size", max_size]
    if first:
        args.append("--no-tensor-first-split")
    mlmf.run(*args)
    got = sorted(p.name for p in ours.iterdir())
    pre = gguf.GGUFReader(ours / got[0]).fields["tokenizer.ggml.pre"].contents()
    runner = base / "run_convert.py"
    runner.write_text(RUNNER)
    res = subprocess.run([sys.executable, str(runner), SRC, str(demo_dir), str(theirs / "model.gguf"), pre,
                          str(max_tensors), max_size, "1" if first else "0"], capture_output=True, text=True)
    assert res.returncode == 0, f"convert_hf_to_gguf.py failed:\n{res.stderr[-4000:]}"
    return name, ours, theirs


def test_split_files_equal_convert_hf_to_gguf(outputs, demo_dir):
    name, ours, theirs = outputs
    names = sorted(p.name for p in theirs.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == names
    if name == "fits-one":
        assert names == ["model.gguf"]
    else:
        assert len(names) > 1 and all("-of-" in n for n in names)
    for i, fn in enumerate(names):
        got, want = gguf.GGUFReader(ours / fn), gguf.GGUFReader(theirs / fn)
        assert [t.name for t in got.tensors] == [t.name for t in want.tensors], f"{fn}: tensor names or order differ"
        for g, w in zip(got.tensors, want.tensors):
            assert g.tensor_type == w.tensor_type, f"{fn}: tensor {g.name}: type {g.tensor_type.name}, want {w.tensor_type.name}"
            assert list(g.shape) == list(w.shape), f"{fn}: tensor {g.name}: shape differs"
            assert g.data.tobytes() == w.data.tobytes(), f"{fn}: tensor {g.name}: bytes differ"
        g, w = kvs(got), kvs(want)
        model = lambda kv: [x for x in kv if not x[0].startswith("tokenizer.")]
        assert model(g) == model(w), f"{fn}: metadata differs"
        vocab = lambda kv: {k: (t, v) for k, t, v in kv if k.startswith("tokenizer.")}
        assert vocab(g) == vocab(w), f"{fn}: vocabulary differs"
        # provenance: in the first split only, with the real hashes
        if i == 0:
            lines = got.fields["mlmf.source.files"].contents()
            f = demo_dir / "model.safetensors"
            assert [line.split() for line in lines] == [[hashlib.sha256(f.read_bytes()).hexdigest(), str(f.stat().st_size), f.name]]
        else:
            assert not [k for k in got.fields if k.startswith(("mlmf.", "general."))], f"{fn}: metadata outside the first split"
