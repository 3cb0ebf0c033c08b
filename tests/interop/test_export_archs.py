"""`mlmf convert DIR OUT.gguf --to gguf` for Qwen2, Gemma 2, Phi-3, GPT-2,
Mixtral and Qwen2-MoE against llama.cpp's convert_hf_to_gguf.py, and
llama.cpp running the result like transformers.

Each tiny random checkpoint (tiny_archs.py: seeded, offline, with a real
trained tokenizer of its family) is converted by mlmf and by the pinned
convert_hf_to_gguf.py at F32, F16, BF16 and Q8_0. Besides one plain model
per architecture there are variants for YaRN (qwen2_yarn), LongRoPE factor
tensors (phi3_long), the Q8_0 → F16 fallback (gpt2_odd, rows of 48) and
transformers 5's fused expert parameters (qwen2_moe_fused). For each:

- every tensor (name, order, ggml type, shape, bytes) and the metadata must
  be equal (the vocabulary compared as a mapping, as in test_export.py);
- llama.cpp (llama-cpp-python, F32 KV cache) evaluates mlmf's GGUF on the
  same token ids as transformers: F32 logits within 1e-3, the other types
  within a documented bound and with the same top-1 token wherever
  transformers' top-1 margin exceeds twice that bound;
- llama.cpp tokenizes the shared prompt set (gen_tokenizers.PROMPTS) into the
  ids transformers gives, with and without the special tokens.

As in test_export.py, the script's pre-tokenizer hash lookup is stubbed for
the freshly trained byte-level BPE vocabularies (their hashes are unknown to
it by construction) to return the name mlmf chose; nothing else is stubbed.

odd-pre is a Qwen2 whose byte-level BPE pre-tokenizer regex neither llama.cpp
nor the script knows: both refuse its vocabulary (asserted), so its tensors
and hyper-parameters are compared with the vocabulary left out (mlmf
--no-vocab, the script's set_vocab skipped), and llama.cpp does not run it.

With a llama-quantize preset (--type Q4_K_M, with --output-tensor-type and
--token-embedding-type) mlmf's file must equal what llama_model_quantize
makes of the script's F32 file: tensors, order and metadata.

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        ~/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_export_archs.py -q -rs
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, os.path.dirname(__file__))

import tiny_archs  # noqa: E402

SRC = os.environ.get("LLAMA_CPP_SRC", os.path.expanduser("~/.cache/mlmf/venv/llama.cpp"))
TYPES = {"F32": "f32", "F16": "f16", "BF16": "bf16", "Q8_0": "q8_0"}
ARCHS = ["qwen2", "qwen2_yarn", "gemma2", "phi3", "phi3_long", "gpt2", "gpt2_odd", "mixtral", "qwen2_moe", "qwen2_moe_fused"]
# Vocabularies both converters refuse; their tensors are still compared.
REFUSED = {"odd-pre": "byte-level BPE pre-tokenizer regex \\p{L}+\\p{N}*|\\s+|[^\\s\\p{L}]+ is one llama.cpp does not implement"}

# One child process per checkpoint converts it at every type, so that the
# vendored gguf-py the converter needs does not meet the pinned PyPI gguf of
# the test session. pre "-" skips the vocabulary; "" runs the script's own
# pre-tokenizer detection.
RUNNER = r'''
import os, sys
from pathlib import Path
src, model_dir, pre = sys.argv[1:4]
jobs = [a.split("=", 1) for a in sys.argv[4:]]
sys.path.insert(0, os.path.join(src, "gguf-py"))
sys.path.insert(0, src)
import torch
import convert_hf_to_gguf as conv
import gguf
from conversion import base
if pre not in ("", "-"):
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
hparams = conv.ModelBase.load_hparams(Path(model_dir), False)
arch = conv.get_model_architecture(hparams, conv.ModelType.TEXT)
cls = conv.get_model_class(arch, mmproj=False)
if pre == "-":
    cls.set_vocab = lambda self: None
for outtype, out in jobs:
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    with torch.inference_mode():
        cls(Path(model_dir), ftype, Path(out), eager=True).write()
'''

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(SRC, "convert_hf_to_gguf.py")),
                                reason=f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    out = tmp_path_factory.mktemp("archs")
    return {name: tiny_archs.build(name, out) for name in ARCHS + list(REFUSED)}


@pytest.fixture(scope="module")
def exported(mlmf, checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    files = {}
    for name, d in checkpoints.items():
        extra = ["--no-vocab"] if name in REFUSED else []
        for t in TYPES:
            path = out / f"mlmf-{name}-{t}.gguf"
            mlmf.run("convert", d, path, "--to", "gguf", "--type", t, *extra)
            files[name, t] = path
    return files


def run_script(model_dir, pre, jobs):
    runner = model_dir.parent / "run_convert.py"
    runner.write_text(RUNNER)
    return subprocess.run([sys.executable, str(runner), SRC, str(model_dir), pre, *[f"{t}={p}" for t, p in jobs]],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def reference(exported, checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    files = {}
    for name, d in checkpoints.items():
        pre = "-" if name in REFUSED else field(gguf.GGUFReader(exported[name, "F32"]), "tokenizer.ggml.pre")
        jobs = [(outtype, out / f"ref-{name}-{t}.gguf") for t, outtype in TYPES.items()]
        res = run_script(d, pre, jobs)
        assert res.returncode == 0, f"{name}: convert_hf_to_gguf.py failed:\n{res.stderr[-4000:]}"
        files.update({(name, t): out / f"ref-{name}-{t}.gguf" for t in TYPES})
    return files


def field(r, key):
    return r.fields[key].contents()


def kvs(r):
    return [(k, [int(x) for x in f.types], f.contents()) for k, f in r.fields.items()
            if not k.startswith(("GGUF.", "mlmf."))]  # mlmf.*: provenance, test_provenance_keys


ALL = ARCHS + list(REFUSED)


@pytest.mark.parametrize("typ", list(TYPES))
@pytest.mark.parametrize("name", ALL)
def test_tensors_equal_convert_hf_to_gguf(exported, reference, name, typ):
    got = gguf.GGUFReader(exported[name, typ])
    want = gguf.GGUFReader(reference[name, typ])
    assert [t.name for t in got.tensors] == [t.name for t in want.tensors], "tensor names or order differ"
    for g, w in zip(got.tensors, want.tensors):
        assert g.tensor_type == w.tensor_type, f"{typ}: tensor {g.name}: type {g.tensor_type.name}, want {w.tensor_type.name}"
        assert list(g.shape) == list(w.shape), f"{typ}: tensor {g.name}: shape {list(g.shape)}, want {list(w.shape)}"
        gb, wb = g.data.tobytes(), w.data.tobytes()
        if gb != wb:
            n = sum(a != b for a, b in zip(gb, wb))
            pytest.fail(f"{typ}: tensor {g.name}: {n} of {len(wb)} bytes differ")


@pytest.mark.parametrize("typ", list(TYPES))
@pytest.mark.parametrize("name", ALL)
def test_metadata_equals_convert_hf_to_gguf(exported, reference, name, typ):
    got = kvs(gguf.GGUFReader(exported[name, typ]))
    want = kvs(gguf.GGUFReader(reference[name, typ]))
    model = lambda kv: [x for x in kv if not x[0].startswith("tokenizer.")]  # noqa: E731
    assert model(got) == model(want)
    vocab = lambda kv: {k: (t, v) for k, t, v in kv if k.startswith("tokenizer.")}  # noqa: E731
    g, w = vocab(got), vocab(want)
    assert sorted(g) == sorted(w)
    for k in w:
        assert g[k] == w[k], f"{typ}: {k} differs"
    if name in REFUSED:
        assert not g


def test_tiny_models_exercise_the_transforms(exported):
    """The checkpoints cover what the export does besides renaming: experts
    stacked, Conv1D transposed, fused tensors kept, tied outputs dropped,
    gate_inp kept F32 and the Q8_0 fallback-free row sizes."""
    names = lambda n: {t.name: t for t in gguf.GGUFReader(exported[n, "Q8_0"]).tensors}  # noqa: E731
    mixtral, qmoe, gpt2, qwen2 = names("mixtral"), names("qwen2_moe"), names("gpt2"), names("qwen2")
    assert list(mixtral["blk.0.ffn_gate_exps.weight"].shape) == [64, 128, 4]
    assert list(qmoe["blk.1.ffn_down_exps.weight"].shape) == [32, 64, 4]
    assert qmoe["blk.0.ffn_gate_inp_shexp.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert mixtral["blk.0.ffn_gate_inp.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert list(gpt2["blk.0.attn_qkv.weight"].shape) == [64, 192]
    assert gpt2["position_embd.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert "output.weight" not in gpt2 and "output.weight" not in qwen2
    assert "output.weight" in names("phi3")
    fused = names("qwen2_moe_fused")
    for n, t in qmoe.items():
        assert fused[n].data.tobytes() == t.data.tobytes(), f"fused experts: {n} differs from the per-expert export"
    assert list(names("phi3_long"))[:2] == ["rope_factors_long.weight", "rope_factors_short.weight"]
    # Rows of 48 do not split into Q8_0 blocks: the script's F16 fallback.
    odd = names("gpt2_odd")
    assert odd["blk.0.attn_qkv.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    assert odd["blk.0.ffn_up.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    assert odd["token_embd.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    assert odd["blk.0.ffn_down.weight"].tensor_type == gguf.GGMLQuantizationType.Q8_0  # rows of 192


def test_odd_pre_refused_by_both(mlmf, checkpoints, tmp_path):
    """mlmf refuses the vocabulary with the regex named, writing nothing;
    convert_hf_to_gguf.py refuses it too (unknown pre-tokenizer hash)."""
    d = checkpoints["odd-pre"]
    out = tmp_path / "out"
    out.mkdir()
    p = mlmf.run("convert", d, out / "odd.gguf", "--to", "gguf", "--type", "F16", check=False)
    assert p.returncode != 0
    assert "\\p{L}+\\p{N}*" in p.stderr and "--no-vocab" in p.stderr, p.stderr
    assert list(out.iterdir()) == []
    res = run_script(d, "", [("f16", tmp_path / "ref.gguf")])
    assert res.returncode != 0
    assert "pre-tokenizer was not recognized" in res.stderr, res.stderr[-2000:]


_hf = {}


def hf_model(model_dir):
    import torch
    import transformers

    if model_dir not in _hf:
        m = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
        m.eval()
        _hf[model_dir] = (m, transformers.AutoTokenizer.from_pretrained(model_dir))
    return _hf[model_dir]


def transformers_logits(model_dir, ids):
    import torch

    m, _ = hf_model(model_dir)
    with torch.no_grad():
        return m(torch.tensor([ids])).logits[0].numpy()


def llama(path, **kw):
    llama_cpp = pytest.importorskip("llama_cpp")
    return llama_cpp.Llama(model_path=str(path), n_ctx=64, verbose=False,
                           type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, **kw)


def llama_cpp_logits(path, ids):
    llm = llama(path, logits_all=True)
    try:
        llm.eval(ids)
        return np.array(llm.scores[:len(ids)], dtype=np.float32)
    finally:
        llm.close()


TEXT = "the quick brown fox jumps over the lazy dog, 42 times!"

# F32 is the acceptance bound. The others bound what rounding the weights
# (and llama.cpp's rounded activations in BF16 and Q8_0 matrix products)
# does to these tiny models' logits (|logit| < 1); their bytes already equal
# the reference converter's. Measured maxima over the six models (CPU build
# of llama-cpp-python 0.3.36): F32 5.7e-4 (Gemma 2; the others below 3e-5),
# F16 7.2e-4, BF16 4.8e-3, Q8_0 1.9e-2.
TOLERANCE = {"F32": 1e-3, "F16": 2e-3, "BF16": 1e-2, "Q8_0": 5e-2}


@pytest.mark.parametrize("typ", list(TYPES))
@pytest.mark.parametrize("name", ARCHS)
def test_llama_cpp_logits_equal_transformers(exported, checkpoints, name, typ):
    d = checkpoints[name]
    _, tok = hf_model(d)
    ids = tok(TEXT)["input_ids"]
    assert 8 <= len(ids) <= 64
    want = transformers_logits(d, ids)
    got = llama_cpp_logits(exported[name, typ], ids)
    assert got.shape == want.shape
    bound = TOLERANCE[typ]
    diff = float(np.abs(got - want).max())
    print(f"{name} {typ}: max abs logit difference {diff:.2e}, max |logit| {float(np.abs(want).max()):.2f}")
    assert diff <= bound, f"{name} {typ}: max abs logit difference {diff} (bound {bound})"
    top2 = np.sort(want, axis=-1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * bound
    assert (got.argmax(-1)[clear] == want.argmax(-1)[clear]).all(), f"{name} {typ}: top-1 token differs"


def prompts():
    with open(os.path.join(tiny_archs.REPO, "testdata", "tokenizers", "prompts.json")) as f:
        return json.load(f)


# Where transformers' tokenizer.json (LlamaTokenizer, legacy=False: its
# Metaspace prepends "▁" only when the text does not start with a space)
# and the SentencePiece model it was made from disagree, llama.cpp follows
# sentencepiece, as convert_hf_to_gguf.py's vocabulary is the SentencePiece
# model's. These are the prompts of the llama-spm fixture where that happens
# (testdata/tokenizers/llama-spm/expected.json records the same).
SPM_NOT_TRANSFORMERS = {" leading space", "   three leading spaces", " "}
# llama.cpp encodes the text between special tokens as sentencepiece
# encodes a text of its own (with the dummy prefix "▁"), as transformers'
# legacy LlamaTokenizer did; legacy=False transformers does not prefix text
# that follows a special token.
SPM_FRAGMENTS = {"<|im_start|>user\nhi<|im_end|>"}


def spm_fragments(sp, tok, p):
    import re

    specials = sorted((t for t in tok.get_added_vocab()), key=len, reverse=True)
    ids = []
    for frag in re.split("(" + "|".join(map(re.escape, specials)) + ")", p):
        if frag in specials:
            ids.append(tok.convert_tokens_to_ids(frag))
        elif frag:
            ids += sp.encode(frag)
    return ids


@pytest.mark.parametrize("name", ARCHS)
def test_llama_cpp_tokenizes_like_transformers(exported, checkpoints, name):
    d = checkpoints[name]
    _, tok = hf_model(d)
    sp = None
    if (d / "tokenizer.model").is_file():
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
    llm = llama(exported[name, "F32"], vocab_only=True)
    bad, diverged = [], set()
    try:
        for p in prompts() + ["<|im_start|>user\nhi<|im_end|>", "<start_of_turn>hi<end_of_turn>"]:
            b = p.encode("utf-8")
            want = tok(p, add_special_tokens=False)["input_ids"]
            want_full = tok(p)["input_ids"]
            if sp is not None and p in SPM_NOT_TRANSFORMERS | SPM_FRAGMENTS:
                ref = sp.encode(p) if p in SPM_NOT_TRANSFORMERS else spm_fragments(sp, tok, p)
                if ref != want:
                    diverged.add(p)
                    want_full = want_full[:len(want_full) - len(want)] + ref
                    want = ref
            plain = llm.tokenize(b, add_bos=False, special=True) if p else []
            if plain != want:
                bad.append(("plain", p, plain, want))
            full = llm.tokenize(b, add_bos=True, special=True)
            if p and full != want_full:
                bad.append(("with specials", p, full, want_full))
    finally:
        llm.close()
    assert not bad, f"{name}: {len(bad)} prompts differ: {bad[:4]}"
    # The exception is taken exactly where the fixture is known to need it.
    assert diverged == (SPM_NOT_TRANSFORMERS | SPM_FRAGMENTS if name in ("phi3", "phi3_long", "mixtral") else set())


def rewrite(src, dst, change):
    """Copy an F32 GGUF with change(name, array) applied to every tensor."""
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(str(dst), field(r, "general.architecture"))
    w.kv_data[0].clear()  # the arch key comes back with the copied fields
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == gguf.GGUFValueType.ARRAY:
            w.add_key_value(k, f.contents(), t, sub_type=f.types[-1])
        else:
            w.add_key_value(k, f.contents(), t)
    for t in r.tensors:
        data = np.array(t.data, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
        w.add_tensor(t.name, np.ascontiguousarray(change(t.name, data)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


UNDO = {
    # Gemma's norms without the + 1.
    "gemma2": lambda n, x: x - 1 if n.endswith("norm.weight") else x,
    # GPT-2's square Conv1D attention output left untransposed.
    "gpt2": lambda n, x: x.T if n.endswith("attn_output.weight") else x,
    # Phi-3's LongRoPE factors reversed and scaled by 100 (the tiny model's attention
    # is weak: putting all factors to 1 moves the logits by only 2e-4).
    "phi3_long": lambda n, x: x[::-1] * 100 if n.startswith("rope_factors_") else x,
    # Mixtral's experts stacked in reverse order.
    "mixtral": lambda n, x: x[::-1] if "_exps." in n else x,
}


@pytest.mark.parametrize("name", list(UNDO))
def test_undone_transform_would_fail(exported, checkpoints, tmp_path, name):
    """The logit comparison can fail: undoing a transform in mlmf's F32 file
    moves llama.cpp's logits beyond the F32 bound."""
    d = checkpoints[name]
    _, tok = hf_model(d)
    ids = tok(TEXT)["input_ids"]
    rewrite(exported[name, "F32"], tmp_path / "undone.gguf", UNDO[name])
    diff = float(np.abs(llama_cpp_logits(tmp_path / "undone.gguf", ids) - transformers_logits(d, ids)).max())
    assert diff > 3 * TOLERANCE["F32"], f"{name}: undoing the transform moved the logits by only {diff}"


# --type PRESET: what llama-quantize (llama-cpp-python's llama_model_quantize)
# makes of convert_hf_to_gguf.py's F32 file, in one pass. (name, preset,
# --output-tensor-type, --token-embedding-type, --tensor-type REGEX=TYPE
# pairs, llama.cpp's tt_overrides, in order.) llama.cpp's rules for the
# overrides (llama-quant.cpp, llama_tensor_get_type): the explicit output and
# token-embedding types win over any pattern; otherwise the first pattern
# that std::regex_search finds in the GGUF name wins; tensors it does not
# quantize (norms) are left alone; a matched tensor skips the preset's mix,
# whose per-kind layer counters (i_ffn_down …) it then does not advance; the
# row-size fallback still applies.
PRESETS = [
    ("qwen2_wide", "Q4_K_M", None, None, ()),
    ("qwen2_wide", "Q6_K", None, None, ()),
    ("qwen2_wide", "Q3_K_S", "Q8_0", "Q4_K", ()),
    ("mixtral_wide", "Q4_K_M", None, None, ()),
    ("mixtral_wide", "Q5_K_S", None, None, ()),
    # rows of 64: every k-quant falls back
    ("gpt2", "Q4_K_M", None, None, ()),
    # blk.0's ffn_down taken out of the mix: blk.1's is then counted as
    # layer 0 of 2 and gets Q4_K, not the Q6_K of the plain Q4_K_M.
    ("qwen2_wide", "Q4_K_M", None, None, (("blk\\.0\\.ffn_down", "Q8_0"),)),
    # First match wins, searched anywhere in the name: attn_output is taken
    # by "output" (Q4_0), attn_q/attn_k by the second pattern (Q5_K), attn_v
    # by "attn" (Q8_0), attn_norm is left F32; the explicit output and
    # embedding types beat the pattern that names them.
    ("qwen2_wide", "Q4_K_M", "Q6_K", "Q8_0",
     (("output|token_embd", "Q4_0"), ("attn_(q|k)\\.", "Q5_K"), ("attn", "Q8_0"))),
    # Without explicit types the patterns name output and token_embd too;
    # an anchored pattern for one block.
    ("qwen2_wide", "Q6_K", None, None, (("^output\\.", "Q5_K"), ("token_embd", "Q4_K"), ("^blk\\.1\\.", "Q4_0"))),
    # Expert tensors (3-D) and the router (never quantized).
    ("mixtral_wide", "Q4_K_M", None, "Q6_K",
     (("ffn_(up|gate)_exps", "Q5_K"), ("ffn_down_exps", "Q4_0"), ("ffn_gate_inp", "Q8_0"))),
    # Rows of 64, where the preset's k-quants fall back: 32-block types by
    # pattern. (A pattern's k-quant there llama.cpp would replace by its
    # row-size fallback; mlmf refuses it, engine/quant.checkExplicit.)
    ("gpt2", "Q4_K_M", "Q8_0", None, (("attn_qkv", "Q4_0"), ("ffn", "Q5_0"), ("token_embd", "Q4_1"))),
]
FTYPE_IDS = {"Q4_K_M": 15, "Q6_K": 18, "Q3_K_S": 11, "Q5_K_S": 16}
GGML_TYPE_IDS = {"Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q8_0": 8, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14}


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    out = tmp_path_factory.mktemp("wide")
    return {name: tiny_archs.build(name, out) for name in ("qwen2_wide", "mixtral_wide")}


_ref_f32 = {}


def reference_f32(mlmf, d):
    """convert_hf_to_gguf.py's F32 file of checkpoint d (made once)."""
    if d not in _ref_f32:
        f32 = d.parent / "mlmf-f32.gguf"
        mlmf.run("convert", d, f32, "--to", "gguf", "--type", "F32")
        ref = d.parent / "ref-f32.gguf"
        res = run_script(d, field(gguf.GGUFReader(f32), "tokenizer.ggml.pre"), [("f32", ref)])
        assert res.returncode == 0, res.stderr[-4000:]
        _ref_f32[d] = ref
    return _ref_f32[d]


@pytest.mark.parametrize("name, preset, out_type, emb_type, tensor_types", PRESETS)
def test_preset_matches_llama_quantize_of_the_f32_export(mlmf, wide, checkpoints, tmp_path, name, preset, out_type, emb_type,
                                                         tensor_types):
    import ctypes

    llama_cpp = pytest.importorskip("llama_cpp")
    d = wide.get(name) or checkpoints[name]
    ours = tmp_path / "mlmf.gguf"
    extra = []
    if out_type:
        extra += ["--output-tensor-type", out_type]
    if emb_type:
        extra += ["--token-embedding-type", emb_type]
    for pat, typ in tensor_types:
        extra += ["--tensor-type", f"{pat}={typ}"]
    mlmf.run("convert", d, ours, "--to", "gguf", "--type", preset, *extra)
    ref_f32 = reference_f32(mlmf, d)
    theirs = tmp_path / "llama.gguf"
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = FTYPE_IDS[preset]
    p.nthread = 2
    if out_type:
        p.output_tensor_type = GGML_TYPE_IDS[out_type]
    if emb_type:
        p.token_embedding_type = GGML_TYPE_IDS[emb_type]
    keep = []  # the ctypes buffers must outlive the call
    if tensor_types:
        arr = (llama_cpp.llama_model_tensor_override * (len(tensor_types) + 1))()
        for i, (pat, typ) in enumerate(tensor_types):
            b = ctypes.create_string_buffer(pat.encode())
            keep.append(b)
            arr[i].pattern = ctypes.cast(b, ctypes.c_char_p)
            arr[i].type = GGML_TYPE_IDS[typ]
        arr[len(tensor_types)].pattern = None
        p.tt_overrides = arr
        keep.append(arr)
    assert llama_cpp.llama_model_quantize(str(ref_f32).encode(), str(theirs).encode(), ctypes.byref(p)) == 0
    got, want = gguf.GGUFReader(ours), gguf.GGUFReader(theirs)
    assert [t.name for t in got.tensors] == [t.name for t in want.tensors], "tensor names or order differ"
    types = set()
    for g, w in zip(got.tensors, want.tensors):
        assert g.tensor_type == w.tensor_type, f"{preset}: tensor {g.name}: type {g.tensor_type.name}, want {w.tensor_type.name}"
        assert list(g.shape) == list(w.shape), g.name
        if g.data.tobytes() != w.data.tobytes():
            pytest.fail(f"{preset}: tensor {g.name} ({g.tensor_type.name}): bytes differ")
        types.add(w.tensor_type.name)
    assert kvs(got) == kvs(want)
    if name != "gpt2":
        assert any(t.endswith("_K") for t in types), f"{preset} on {name} chose no k-quant: {types}"
