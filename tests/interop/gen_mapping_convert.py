"""Record what llama.cpp's convert_hf_to_gguf.py writes for each tiny model.

For every architecture of gen_mapping.MODELS, save the tiny random model
(real weights this time, a few hundred KiB) with transformers, convert it to
GGUF with convert_hf_to_gguf.py from llama-cpp-python's pinned source
distribution (its vocabulary step is skipped: the tiny models have no
tokenizer, and tensors do not depend on it), and record the GGUF tensor names
and shapes under testdata/mapping/convert/. mapping/convert_test.go compares
mlmf's export plan with them; tests/interop/test_mapping_convert.py
regenerates them and checks they are current.

    LLAMA_CPP_SRC=/path/to/llama_cpp_python-0.3.36/vendor/llama.cpp \\
        HF_HUB_OFFLINE=1 /root/.cache/mlmf/venv/bin/python tests/interop/gen_mapping_convert.py [OUTDIR]

The source distribution comes from
`pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36`.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(__file__))

import gen_mapping  # noqa: E402

LLAMA_CPP_PYTHON = "0.3.36"
DEFAULT_SRC = f"/tmp/lcp/llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp"

# Runs in a child process so that the vendored gguf-py the converter needs
# does not meet the pinned PyPI gguf of the test session.
RUNNER = r'''
import hashlib, json, os, sys
from pathlib import Path
src, model_dir, out = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "gguf-py"))
sys.path.insert(0, src)
import torch
import convert_hf_to_gguf as conv
import gguf
hparams = conv.ModelBase.load_hparams(Path(model_dir), False)
arch = conv.get_model_architecture(hparams, conv.ModelType.TEXT)
cls = conv.get_model_class(arch, mmproj=False)
cls.set_vocab = lambda self: None  # no tokenizer in the tiny models
with torch.inference_mode():
    cls(Path(model_dir), gguf.LlamaFileType.ALL_F32, Path(out), eager=True).write()
r = gguf.GGUFReader(out)
print(json.dumps({
    "arch": r.fields["general.architecture"].contents(),
    # GGUF stores dims innermost first; record them row-major like HF.
    "tensors": [{"name": t.name, "shape": [int(x) for x in reversed(t.shape)],
                 "sha256": hashlib.sha256(t.data.astype("<f4").tobytes()).hexdigest()} for t in r.tensors],
}))
'''


# Keys the converter reads that transformers 5 no longer writes (it saves
# only non-default fields, and renamed some).
CONVERT_EXTRA = {
    "gpt2": {"n_ctx": 128},
    "gpt_neox": {"rotary_pct": 0.25},
    "t5": {"decoder_start_token_id": 0},
}


def convert(name, src, keep_dir=None):
    """Convert the tiny model; with keep_dir, the saved model (keep_dir/model)
    and the GGUF (keep_dir/model.gguf) stay there for byte comparisons."""
    import torch
    import transformers

    cfg_cls, model_cls, _, kwargs = gen_mapping.MODELS[name]
    cfg = getattr(transformers, cfg_cls)(**kwargs)
    for k, v in CONVERT_EXTRA.get(name, {}).items():
        setattr(cfg, k, v)
    torch.manual_seed(0)
    model = getattr(transformers, model_cls)(cfg)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = scratch
        if keep_dir is not None:
            tmp = os.path.join(str(keep_dir), "model")
            os.makedirs(tmp, exist_ok=True)
        model.save_pretrained(tmp)
        # The checkpoint as saved: transformers 5 writes MoE experts one
        # module per expert again and drops the tied output.
        from safetensors import safe_open
        saved = []
        for fn in sorted(os.listdir(tmp)):
            if fn.endswith(".safetensors"):
                with safe_open(os.path.join(tmp, fn), "np") as st:
                    saved += [{"name": k, "shape": list(st.get_slice(k).get_shape()),
                               "sha256": hashlib.sha256(st.get_tensor(k).astype("<f4").tobytes()).hexdigest()}
                              for k in st.keys()]
        cfg_path = os.path.join(tmp, "config.json")
        with open(cfg_path) as f:
            full = json.load(f)
        full.update(json.loads(cfg.to_json_string(use_diff=False)))
        full.update(CONVERT_EXTRA.get(name, {}))
        with open(cfg_path, "w") as f:
            json.dump(full, f)
        # Gemma 3 trims the embedding to the tokenizer's vocabulary: a
        # tokenizer.json listing every id keeps all rows.
        with open(os.path.join(tmp, "tokenizer.json"), "w") as f:
            json.dump({"model": {"vocab": {f"t{i}": i for i in range(cfg.vocab_size)}}, "added_tokens": []}, f)
        runner = os.path.join(tmp, "run_convert.py")
        with open(runner, "w") as f:
            f.write(RUNNER)
        out_gguf = os.path.join(str(keep_dir) if keep_dir is not None else tmp, "model.gguf")
        res = subprocess.run([sys.executable, runner, src, tmp, out_gguf], capture_output=True, text=True)
        if res.returncode != 0:
            if os.environ.get("GEN_DEBUG"):
                print(res.stderr, file=sys.stderr)
            return {"arch": name, "error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed",
                    "saved_tensors": saved, "saved_config": full}
        data = json.loads(res.stdout.strip().splitlines()[-1])
    data["arch"], data["gguf_arch"] = name, data.pop("arch")
    data["saved_tensors"] = saved
    data["saved_config"] = full
    data["versions"] = {"llama-cpp-python": LLAMA_CPP_PYTHON, "transformers": transformers.__version__}
    return data


def main():
    src = os.environ.get("LLAMA_CPP_SRC", DEFAULT_SRC)
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "testdata", "mapping", "convert")
    os.makedirs(out, exist_ok=True)
    for name in gen_mapping.MODELS:
        data = convert(name, src)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print(name, data.get("error") or f"{len(data['tensors'])} tensors")


if __name__ == "__main__":
    main()
