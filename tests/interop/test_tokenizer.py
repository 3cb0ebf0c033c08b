"""Tokenizer interop: mlmf's tokenizer package against the reference libraries.

The fixtures are regenerated here with the live libraries (sentencepiece,
tokenizers, transformers, gguf-py) by tests/interop/gen_tokenizers.py, and the
tiny Go program tokenizer/internal/tokcheck reports what mlmf makes of them:
  - the encodings of the prompt set equal sentencepiece's (SentencePiece
    models, which llama.cpp follows) or the tokenizers library's (byte-level BPE);
  - the GGUF key/values equal those of gguf-py's SpecialVocab plus the
    generator's port of convert_hf_to_gguf.py's vocabulary code;
  - a byte-level BPE whose pre-tokenizer llama.cpp lacks is refused, showing the regex;
  - tokenizer.json/tokenizer_config.json rebuilt from the GGUF vocabulary load
    in transformers and tokenize the prompts like the original tokenizer.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("gen_tokenizers", REPO / "tests" / "interop" / "gen_tokenizers.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

SPM = ["llama-spm", "t5-unigram"]
BYTE_LEVEL = ["gpt2", "llama3", "qwen2", "starcoder-like"]
ALL = SPM + BYTE_LEVEL + ["bert-wordpiece"]


@pytest.fixture(scope="session")
def tokcheck(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("bin") / "tokcheck"
    subprocess.run(["go", "build", "-o", str(out), "./tokenizer/internal/tokcheck"], cwd=REPO, check=True)
    return str(out)


@pytest.fixture(scope="session")
def fresh(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("tokenizers")
    subprocess.run([sys.executable, str(REPO / "tests" / "interop" / "gen_tokenizers.py"), str(root)], check=True,
                   capture_output=True)
    return root


def run_tokcheck(tokcheck: str, d: pathlib.Path, export: pathlib.Path | None = None) -> dict:
    args = [tokcheck, "-prompts", str(d.parent / "prompts.json")]
    if export is not None:
        export.mkdir(parents=True, exist_ok=True)
        args += ["-export", str(export)]
    p = subprocess.run(args + [str(d)], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def expected(d: pathlib.Path) -> dict:
    return json.loads((d / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SPM + BYTE_LEVEL)
def test_encodings_match_reference(tokcheck, fresh, name):
    d = fresh / name
    got = run_tokcheck(tokcheck, d)
    assert not got.get("error") and not got.get("encode_error"), got
    exp = expected(d)
    if "spm" in exp:
        ours, ref = got["plain"], exp["spm"]
    else:
        ours, ref = got["special"], exp["hf"]
    assert len(ref) == len(ours) > 10
    bad = [(r["text"], r["pieces"], o["pieces"]) for r, o in zip(ref, ours) if r["ids"] != o["ids"]]
    assert not bad, bad


@pytest.mark.parametrize("name", ALL)
def test_kvs_match_reference(tokcheck, fresh, name):
    d = fresh / name
    got = run_tokcheck(tokcheck, d)
    assert not got.get("error"), got
    ours = {kv["key"]: kv["value"] for kv in got["kvs"]}
    ref = expected(d)["kvs"]
    assert set(ours) == set(ref), (sorted(set(ours) ^ set(ref)))
    for k, want in ref.items():
        if k == "tokenizer.ggml.scores":
            np.testing.assert_array_equal(np.float32(ours[k]), np.float32(want), err_msg=k)
        else:
            assert ours[k] == want, k


def test_special_vocab_sees_what_we_see(tokcheck, fresh):
    """gguf-py's SpecialVocab itself, not the generator's port, on one fixture."""
    import gguf

    d = fresh / "qwen2"
    sv = gguf.SpecialVocab(d, load_merges=True)
    ours = {kv["key"]: kv["value"] for kv in run_tokcheck(tokcheck, d)["kvs"]}
    assert ours["tokenizer.ggml.merges"] == sv.merges
    assert ours["tokenizer.ggml.eos_token_id"] == sv.special_token_ids["eos"]
    assert ours["tokenizer.ggml.padding_token_id"] == sv.special_token_ids["pad"]
    assert ours["tokenizer.chat_template"] == sv.chat_template[0]["template"]


def test_unknown_pre_tokenizer_refused(tokcheck, fresh):
    got = run_tokcheck(tokcheck, fresh / "odd-pre")
    assert "pre-tokenizer not implemented by llama.cpp" in got["error"]
    assert gen.ODD_REGEX in got["error"]
    assert "tokenizer.json" in got["error"]


@pytest.mark.parametrize("name", BYTE_LEVEL + ["llama-spm", "t5-unigram"])
def test_export_tokenizes_like_original(tokcheck, fresh, tmp_path, name):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    d = fresh / name
    out = tmp_path / "export"
    got = run_tokcheck(tokcheck, d, export=out)
    assert not got.get("export_error"), got
    exported = Tokenizer.from_file(str(out / "tokenizer.json"))
    if (d / "tokenizer.json").is_file():
        # The original tokenizer.json is the reference.
        original = Tokenizer.from_file(str(d / "tokenizer.json"))
        for p in gen.PROMPTS:
            assert exported.encode(p, add_special_tokens=False).ids == original.encode(p, add_special_tokens=False).ids, p
            assert exported.encode(p).ids == original.encode(p).ids, p
    else:
        # SentencePiece only: sentencepiece is the reference (special tokens in the text aside).
        for p, e in zip(gen.PROMPTS, expected(d)["spm"]):
            if "<s>" not in p:
                assert exported.encode(p, add_special_tokens=False).ids == e["ids"], p
    # transformers loads the export with the same specials and chat template.
    tok = AutoTokenizer.from_pretrained(str(out))
    kvs = {kv["key"]: kv["value"] for kv in got["kvs"]}
    tokens = kvs["tokenizer.ggml.tokens"]
    for key, attr in (("tokenizer.ggml.bos_token_id", "bos_token"), ("tokenizer.ggml.eos_token_id", "eos_token")):
        if key in kvs:
            assert getattr(tok, attr) == tokens[kvs[key]], attr
    if "tokenizer.chat_template" in kvs:
        tmpl = tok.chat_template
        if isinstance(tmpl, dict):
            tmpl = tmpl.get("default")
        assert tmpl == kvs["tokenizer.chat_template"]
    for p in gen.PROMPTS:
        assert tok(p, add_special_tokens=False).input_ids == exported.encode(p, add_special_tokens=False).ids, p


def test_committed_fixtures_encodings_current(fresh):
    """The committed expected encodings are what today's libraries produce
    for the committed tokenizer files (tokenizers' training is not bit-stable
    across runs for WordPiece, so the files themselves are not compared)."""
    from tokenizers import Tokenizer
    import sentencepiece as spm

    committed = REPO / "testdata" / "tokenizers"
    for name in SPM + BYTE_LEVEL:
        d = committed / name
        exp = expected(d)
        if "spm" in exp:
            sp = spm.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
            assert [e["ids"] for e in exp["spm"]] == [sp.encode(e["text"]) for e in exp["spm"]], name
        if "hf" in exp:
            t = Tokenizer.from_file(str(d / "tokenizer.json"))
            assert [e["ids"] for e in exp["hf"]] == [t.encode(e["text"], add_special_tokens=False).ids for e in exp["hf"]], name
