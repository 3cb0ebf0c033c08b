"""`mlmf convert DIR OUT.gguf --to gguf` for checkpoints that carry a
SentencePiece tokenizer.model and no tokenizer.json, against the pinned
convert_hf_to_gguf.py (its `_set_vocab_sentencepiece`, used for LLaMA,
Mistral, Gemma …).

Without tokenizer.json, gguf-py's SpecialVocab finds special ids only in
config.json (bos/eos/pad_token_id) and the converter writes no others;
llama.cpp then uses its load-time defaults for a "llama" vocabulary (unk 0,
bos 1, eos 2, no pad; llama-vocab.cpp). mlmf takes the missing ids from the
model's trainer_spec and writes only those llama.cpp would not use anyway
(tokenizer/doc.go):

- llama, llama_noids: a tiny LLaMA (tiny_archs.py) with the llama-spm
  fixture's tokenizer.model (unk 0, bos 1, eos 2), config.json naming bos and
  eos, or naming none;
- gemma2: a tiny Gemma 2 with a Gemma-layout tokenizer.model (pad 0, eos 1,
  bos 2, unk 3) and Gemma's config.json (bos 2, eos 1, pad 0): the unk id 3
  is left out as the converter does (llama.cpp's SentencePiece tokenizer
  never reads it).

For these the metadata (keys, types, values and order) and every tensor must
equal the script's, and llama.cpp must tokenize the shared prompts
(gen_tokenizers.PROMPTS) identically with both files.

- gemma2_noids: the same Gemma 2 with the ids removed from config.json. The
  script writes none, so llama.cpp would take <eos> (1) for BOS, <bos> (2)
  for EOS and no pad; mlmf writes bos 2, eos 1, pad 0 from the trainer_spec.
  The test asserts exactly that difference and what llama.cpp does with each
  file.

    MLMF_BIN=/path/to/mlmf LLAMA_CPP_SRC=/path/to/llama.cpp \\
        ~/.cache/mlmf/venv/bin/python -m pytest tests/interop/test_export_spm.py -q -rs
"""

import json
import os
import shutil
import sys

import pytest

gguf = pytest.importorskip("gguf")
pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("sentencepiece")

sys.path.insert(0, os.path.dirname(__file__))

import gen_tokenizers  # noqa: E402
import tiny_archs  # noqa: E402
from test_export_archs import SRC, field, kvs, llama, run_script  # noqa: E402

TYPES = {"F32": "f32", "Q8_0": "q8_0"}
SAME = ["llama", "llama_noids", "gemma2"]
VARIANTS = SAME + ["gemma2_noids"]
IDS = ("bos_token_id", "eos_token_id", "pad_token_id")

pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(SRC, "convert_hf_to_gguf.py")),
                                reason=f"no convert_hf_to_gguf.py under LLAMA_CPP_SRC={SRC}")


def spm_only(src, parent, name, drop_ids):
    """A copy of checkpoint src without tokenizer.json (and, with drop_ids,
    without the special ids in config.json), in parent/name/checkpoint so
    that both converters derive the same model name."""
    d = parent / name / "checkpoint"
    shutil.copytree(src, d)
    os.remove(d / "tokenizer.json")
    if drop_ids:
        cfg = json.loads((d / "config.json").read_text())
        for k in IDS:
            cfg.pop(k, None)
        (d / "config.json").write_text(json.dumps(cfg, indent=2))
    assert (d / "tokenizer.model").is_file() and (d / "tokenizer_config.json").is_file()
    return d


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    built = tmp_path_factory.mktemp("built")
    parent = tmp_path_factory.mktemp("spm")
    llama_dir = tiny_archs.build("llama_spm", built)
    gemma_dir = tiny_archs.build("gemma2", built)
    return {
        "llama": spm_only(llama_dir, parent, "llama", False),
        "llama_noids": spm_only(llama_dir, parent, "llama_noids", True),
        "gemma2": spm_only(gemma_dir, parent, "gemma2", False),
        "gemma2_noids": spm_only(gemma_dir, parent, "gemma2_noids", True),
    }


@pytest.fixture(scope="module")
def exported(mlmf, checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    files = {}
    for name, d in checkpoints.items():
        for t in TYPES:
            files[name, t] = out / f"mlmf-{name}-{t}.gguf"
            mlmf.run("convert", d, files[name, t], "--to", "gguf", "--type", t)
    return files


@pytest.fixture(scope="module")
def reference(checkpoints, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    files = {}
    for name, d in checkpoints.items():
        jobs = [(outtype, out / f"ref-{name}-{t}.gguf") for t, outtype in TYPES.items()]
        # pre "": nothing stubbed (a SentencePiece vocabulary has no pre-tokenizer hash).
        res = run_script(d, "", jobs)
        assert res.returncode == 0, f"{name}: convert_hf_to_gguf.py failed:\n{res.stderr[-4000:]}"
        files.update({(name, t): p for (_, p), t in zip(jobs, TYPES)})
    return files


@pytest.mark.parametrize("typ", list(TYPES))
@pytest.mark.parametrize("name", VARIANTS)
def test_tensors_equal_convert_hf_to_gguf(exported, reference, name, typ):
    got = gguf.GGUFReader(exported[name, typ])
    want = gguf.GGUFReader(reference[name, typ])
    assert [t.name for t in got.tensors] == [t.name for t in want.tensors], "tensor names or order differ"
    for g, w in zip(got.tensors, want.tensors):
        assert g.tensor_type == w.tensor_type, f"{typ}: tensor {g.name}: type {g.tensor_type.name}, want {w.tensor_type.name}"
        assert list(g.shape) == list(w.shape), f"{typ}: tensor {g.name}: shape {list(g.shape)}, want {list(w.shape)}"
        assert g.data.tobytes() == w.data.tobytes(), f"{typ}: tensor {g.name}: bytes differ"


SPACE_PREFIX = "tokenizer.ggml.add_space_prefix"


def ordered(path):
    """The metadata, GGUF header fields and mlmf.* provenance left out, with
    add_space_prefix moved last: Gemma's set_vocab writes it after
    SpecialVocab's keys, LLaMA's (from add_prefix_space) before all the
    vocabulary; mlmf writes it, with the other SentencePiece settings, after
    the token types. Only that key's place differs."""
    kv = kvs(gguf.GGUFReader(path))
    return [x for x in kv if x[0] != SPACE_PREFIX] + [x for x in kv if x[0] == SPACE_PREFIX]


@pytest.mark.parametrize("typ", list(TYPES))
@pytest.mark.parametrize("name", SAME)
def test_metadata_equals_convert_hf_to_gguf(exported, reference, name, typ):
    got, want = ordered(exported[name, typ]), ordered(reference[name, typ])
    assert [k for k, _, _ in got] == [k for k, _, _ in want], "keys or their order differ"
    for g, w in zip(got, want):
        assert g == w, f"{typ}: {w[0]} differs"


def test_special_ids_are_the_converters(exported, reference):
    """Which ids each file names: the script's (from config.json only) and
    mlmf's are the same where llama.cpp's defaults are right."""
    ids = lambda p: {k.removeprefix("tokenizer.ggml."): v for k, _, v in kvs(gguf.GGUFReader(p))  # noqa: E731
                     if k.startswith("tokenizer.ggml.") and k.endswith("_id")}
    want = {"llama": {"bos_token_id": 1, "eos_token_id": 2}, "llama_noids": {},
            "gemma2": {"bos_token_id": 2, "eos_token_id": 1, "padding_token_id": 0}, "gemma2_noids": {}}
    for name, w in want.items():
        assert ids(reference[name, "F32"]) == w, f"{name}: the script's ids"
    for name in SAME:
        assert ids(exported[name, "F32"]) == want[name], f"{name}: mlmf's ids"
    # The documented difference: Gemma's layout without ids in config.json.
    assert ids(exported["gemma2_noids", "F32"]) == {"bos_token_id": 2, "eos_token_id": 1, "padding_token_id": 0}
    g = [x for x in ordered(exported["gemma2_noids", "F32"]) if not x[0].endswith(("bos_token_id", "eos_token_id", "padding_token_id"))]
    assert g == ordered(reference["gemma2_noids", "F32"]), "anything but the ids differs"


def tokenize_all(path):
    """llama.cpp's ids for every prompt, without and with BOS, special tokens parsed."""
    llm = llama(path, vocab_only=True)
    try:
        out = []
        for p in gen_tokenizers.PROMPTS + ["<|im_start|>user\nhi<|im_end|>", "<start_of_turn>hi<end_of_turn>"]:
            b = p.encode("utf-8")
            out.append((p, llm.tokenize(b, add_bos=False, special=True) if p else [],
                        llm.tokenize(b, add_bos=True, special=True)))
        return out
    finally:
        llm.close()


@pytest.mark.parametrize("name", SAME)
def test_llama_cpp_tokenizes_both_files_alike(exported, reference, name):
    got, want = tokenize_all(exported[name, "F32"]), tokenize_all(reference[name, "F32"])
    bad = [(p, g, w) for (p, *g), (_, *w) in zip(got, want) if g != w]
    assert not bad, f"{name}: {len(bad)} prompts differ: {bad[:4]}"


def special_ids(path):
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama(path, vocab_only=True)
    try:
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        return llm.token_bos(), llm.token_eos(), llama_cpp.llama_vocab_pad(vocab)
    finally:
        llm.close()


def test_gemma_layout_without_config_ids(exported, reference, checkpoints):
    """Why mlmf keeps the trainer_spec ids that differ from llama.cpp's
    defaults: with the script's file llama.cpp prepends <eos> as BOS and
    stops at <bos>; with mlmf's it uses the model's own ids (those
    sentencepiece reports), and the text between is tokenized alike."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(checkpoints["gemma2_noids"] / "tokenizer.model"))
    assert (sp.bos_id(), sp.eos_id(), sp.pad_id(), sp.IdToPiece(1), sp.IdToPiece(2)) == (2, 1, 0, "<eos>", "<bos>")
    assert special_ids(exported["gemma2_noids", "F32"]) == (2, 1, 0)
    assert special_ids(reference["gemma2_noids", "F32"]) == (1, 2, -1)
    got, want = tokenize_all(exported["gemma2_noids", "F32"]), tokenize_all(reference["gemma2_noids", "F32"])
    for (p, plain_g, full_g), (_, plain_w, full_w) in zip(got, want):
        assert plain_g == plain_w, p
        assert full_g == [2] + plain_g and full_w == [1] + plain_w, p
    # And the checkpoint with Gemma's config.json gets the same from both.
    assert special_ids(reference["gemma2", "F32"]) == (2, 1, 0)
    assert field(gguf.GGUFReader(exported["gemma2", "F32"]), "tokenizer.ggml.model") == "llama"


@pytest.mark.parametrize("which", ["mlmf", "script"])
def test_hf_export_keeps_the_ids_llama_cpp_uses(mlmf, exported, reference, tmp_path, which):
    """GGUF → HF of a file without the id keys: the tokens are the ones
    llama.cpp assumes (its "llama" defaults), for mlmf's file as for the
    script's."""
    src = (exported if which == "mlmf" else reference)["llama_noids", "F32"]
    mlmf.run("convert", src, tmp_path / "hf", "--to", "hf")
    tc = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert (tc.get("bos_token"), tc.get("eos_token"), tc.get("unk_token")) == ("<s>", "</s>", "<unk>")
