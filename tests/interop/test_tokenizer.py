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
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from tokenizers import Regex

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


@pytest.mark.parametrize("name", SPM + BYTE_LEVEL + ["bert-wordpiece"])
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
    if "hf" in exp:
        # The HF-side encoder against the tokenizers library.
        bad = [(r["text"], r["pieces"], o["pieces"]) for r, o in zip(exp["hf"], got["hf"]) if r["ids"] != o["ids"]]
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


def test_normalizer_flags_match_vendored_gguf_py(tokcheck, fresh):
    """tokenizer.ggml.normalizer.* as the gguf-py vendored in the pinned
    llama.cpp (the code convert_hf_to_gguf.py runs) sets them; PyPI gguf
    0.19.0 predates the keys. Run in a child process so the vendored gguf-py
    does not meet the PyPI one."""
    src = os.environ.get("LLAMA_CPP_SRC", os.path.expanduser("~/.cache/mlmf/venv/llama.cpp"))
    if not os.path.isfile(os.path.join(src, "gguf-py", "gguf", "vocab.py")):
        pytest.skip("needs LLAMA_CPP_SRC with gguf-py")
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); import gguf; "
            "sv = gguf.SpecialVocab(sys.argv[2]); "
            "print(json.dumps([sv.normalizer_lowercase, sv.normalizer_strip_accents]))")
    seen = {}
    for name in ALL:
        if not (fresh / name / "tokenizer.json").is_file():
            continue
        p = subprocess.run([sys.executable, "-c", code, os.path.join(src, "gguf-py"), str(fresh / name)],
                           capture_output=True, text=True, check=True)
        lower, strip = seen[name] = json.loads(p.stdout.strip().splitlines()[-1])
        ours = {kv["key"]: kv["value"] for kv in run_tokcheck(tokcheck, fresh / name)["kvs"]}
        assert ours.get("tokenizer.ggml.normalizer.lowercase") == lower, name
        assert ours.get("tokenizer.ggml.normalizer.strip_accents") == strip, name
    assert seen["bert-wordpiece"][0] is True  # an uncased BERT: the case this matters for


def test_unknown_pre_tokenizer_refused(tokcheck, fresh):
    got = run_tokcheck(tokcheck, fresh / "odd-pre")
    assert "pre-tokenizer not implemented by llama.cpp" in got["error"]
    assert gen.ODD_REGEX in got["error"]
    assert "tokenizer.json" in got["error"]


@pytest.mark.parametrize("name", BYTE_LEVEL + ["llama-spm", "t5-unigram", "bert-wordpiece"])
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
    if name in SPM:
        # The rebuilt tokenizer.model encodes like the original in sentencepiece.
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
        for p, e in zip(gen.PROMPTS, expected(d)["spm"]):
            assert sp.encode(p) == e["ids"], p
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


# Characters that exercise every branch of the hand-written splitters.
SPLIT_ALPHABET = list("aZéß日本ü") + list("0123٣") + [" ", " ", " ", "\n", "\r", "\t", "\u00a0", "\u3000"] + \
    list("'\".,!?-_/(){}$+<=>^~|`") + ["s", "t", "re", "ve", "m", "ll", "d", "S", "LL", "🙂", "\u0301"]


def random_texts(n: int, seed: int) -> list:
    import random

    rng = random.Random(seed)
    return ["".join(rng.choice(SPLIT_ALPHABET) for _ in range(rng.randint(0, 24))) for _ in range(n)]


@pytest.mark.parametrize("pre,definition", [
    ("gpt-2", lambda p: p.ByteLevel(add_prefix_space=False, use_regex=True)),
    ("llama-bpe", lambda p: p.Split(Regex(gen.LLAMA3_REGEX), behavior="isolated")),
    ("qwen2", lambda p: p.Split(Regex(gen.QWEN2_REGEX), behavior="isolated")),
    ("starcoder", lambda p: p.Sequence([p.Digits(individual_digits=True), p.ByteLevel(add_prefix_space=False, use_regex=True)])),
])
def test_splitters_match_tokenizers(tokcheck, tmp_path, pre, definition):
    """The hand-written splitters (Go's regexp has no lookahead) cut random
    text exactly where the tokenizers library's regex pre-tokenizers do."""
    from tokenizers import pre_tokenizers

    texts = random_texts(3000, hash(pre) & 0xFFFF) + gen.PROMPTS
    f = tmp_path / "texts.json"
    f.write_text(json.dumps(texts), encoding="utf-8")
    ours = json.loads(subprocess.run([tokcheck, "-split", pre, "-prompts", str(f)], capture_output=True, text=True, check=True).stdout)
    pt = definition(pre_tokenizers)
    byte_level = "ByteLevel" in repr(pt)
    bad = []
    for text, got in zip(texts, ours):
        want = [piece for piece, _ in pt.pre_tokenize_str(text)]
        if byte_level:  # pre_tokenize_str shows byte-level pieces: map ours the same way
            got = ["".join(BYTES_TO_UNICODE[b] for b in g.encode("utf-8")) for g in got]
        if got != want:
            bad.append((text, got, want))
    assert not bad, bad[:5]


def test_regex_splitters_match_onig(tokcheck, tmp_path):
    """Every pre-tokenizer in mlmf's table that the encoder implements (the
    hand-written ones and the RE2-based one with the lookahead tail emulated)
    splits random text where the tokenizers library's Oniguruma regexes do."""
    from tokenizers import pre_tokenizers

    table = json.loads(subprocess.run([tokcheck, "-pre-table"], capture_output=True, text=True, check=True).stdout)
    assert len(table) > 15
    texts = random_texts(1500, 7) + gen.PROMPTS + ["a  \n\n  b", "x   ", "IMGIMGABZ<sentinel:12>", "1234567 89"]
    f = tmp_path / "texts.json"
    f.write_text(json.dumps(texts), encoding="utf-8")
    tested = []
    for name, regexes in sorted(table.items()):
        p = subprocess.run([tokcheck, "-split", name, "-prompts", str(f)], capture_output=True, text=True)
        if p.returncode != 0:
            assert "lookaround" in p.stderr, (name, p.stderr)  # the encoder refuses only these
            continue
        ours = json.loads(p.stdout)
        pt = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r), behavior="isolated") for r in regexes])
        bad = [(t, o, w) for t, o in zip(texts, ours) if o != (w := [piece for piece, _ in pt.pre_tokenize_str(t)])]
        assert not bad, (name, bad[:3])
        tested.append(name)
    assert len(tested) >= 15, tested


def _bytes_to_unicode() -> dict:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTES_TO_UNICODE = _bytes_to_unicode()


def write_vocab_gguf(path: pathlib.Path, kvs: list) -> None:
    """A tensor-less GGUF holding our tokenizer KVs (written by gguf-py) and
    the few llama hyperparameters llama.cpp reads before the vocabulary."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(4)
    for kv in kvs:
        k, v = kv["key"], kv["value"]
        if k == "tokenizer.ggml.scores":
            w.add_token_scores([float(x) for x in v])
        elif k == "tokenizer.ggml.token_type":
            w.add_token_types(v)
        elif k == "tokenizer.ggml.precompiled_charsmap":
            w.add_precompiled_charsmap(bytes(v))
        elif k == "tokenizer.ggml.token_type_count":
            w.add_token_type_count(v)
        elif isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            w.add_uint32(k, v)
        elif isinstance(v, str):
            w.add_string(k, v)
        else:
            w.add_array(k, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# llama.cpp's unigram (t5) tokenizer has no byte fallback: it emits <unk> for
# characters outside the vocabulary (one for a run of them) and treats a lone
# space differently from sentencepiece. mlmf's encoder follows sentencepiece;
# these prompts show llama.cpp's divergence.
LLAMA_CPP_UGM_DIVERGES = {"emoji 🙂👍🏽 party 🎉", "line one\nline two\n\nline four", " "}


@pytest.mark.parametrize("name", BYTE_LEVEL + SPM + ["bert-wordpiece"])
def test_llama_cpp_tokenizes_like_us(tokcheck, fresh, tmp_path, name):
    """llama.cpp (llama-cpp-python, vocab_only) loads a GGUF carrying our KVs
    and tokenizes the prompts into our ids, which the tests above tie to the
    reference tokenizers."""
    llama_cpp = pytest.importorskip("llama_cpp")
    got = run_tokcheck(tokcheck, fresh / name)
    path = tmp_path / f"{name}.gguf"
    write_vocab_gguf(path, got["kvs"])
    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    bad = []
    for e in got["special"]:
        if name == "t5-unigram" and e["text"] in LLAMA_CPP_UGM_DIVERGES:
            continue
        ids = llm.tokenize(e["text"].encode("utf-8"), add_bos=False, special=True) if e["text"] else []
        if ids != e["ids"]:
            bad.append((e["text"], ids, e["ids"]))
    assert not bad, bad
    # add_bos as our KVs say: llama.cpp prepends our BOS id exactly when add_bos_token is true.
    kvs = {kv["key"]: kv["value"] for kv in got["kvs"]}
    with_bos = llm.tokenize(b"Hello world", add_bos=True, special=True)
    if kvs.get("tokenizer.ggml.add_bos_token"):
        assert with_bos[0] == kvs["tokenizer.ggml.bos_token_id"]


def dump_gguf_kvs(path: pathlib.Path, out: pathlib.Path) -> None:
    """tokenizer.* key/values of a GGUF, read back by gguf-py's GGUFReader,
    as [{key, type, value}] for tokcheck -kvs."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    kvs = []
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        t = field.types[0].name
        if t == "ARRAY":
            t = "ARRAY:" + field.types[1].name
        value = field.contents()
        if isinstance(value, (bytes, bytearray)):
            value = list(value)
        kvs.append({"key": key, "type": t, "value": value})
    out.write_text(json.dumps(kvs, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("name", BYTE_LEVEL + SPM + ["bert-wordpiece"])
def test_gguf_to_hf_export(tokcheck, fresh, tmp_path, name):
    """GGUF → HF: the vocabulary read back from a GGUF file (gguf-py's reader)
    rebuilds a tokenizer.json that tokenizes like the original tokenizer."""
    from tokenizers import Tokenizer

    d = fresh / name
    got = run_tokcheck(tokcheck, d)
    path = tmp_path / "vocab.gguf"
    write_vocab_gguf(path, got["kvs"])
    kv_file = tmp_path / "kvs.json"
    dump_gguf_kvs(path, kv_file)
    out = tmp_path / "hf"
    out.mkdir()
    p = subprocess.run([tokcheck, "-kvs", str(kv_file), "-prompts", str(d.parent / "prompts.json"), "-export", str(out)],
                       capture_output=True, text=True, check=True)
    back = json.loads(p.stdout)
    assert not back.get("error") and not back.get("export_error"), back
    # The same KVs after the trip through the file (scores compared as float32).
    a = {kv["key"]: kv["value"] for kv in got["kvs"]}
    b = {kv["key"]: kv["value"] for kv in back["kvs"]}
    assert set(a) == set(b)
    for k in a:
        if k == "tokenizer.ggml.scores":
            np.testing.assert_array_equal(np.float32(a[k]), np.float32(b[k]))
        else:
            assert a[k] == b[k], k
    exported = Tokenizer.from_file(str(out / "tokenizer.json"))
    if (d / "tokenizer.json").is_file():
        original = Tokenizer.from_file(str(d / "tokenizer.json"))
        for prompt in gen.PROMPTS:
            assert exported.encode(prompt).ids == original.encode(prompt).ids, prompt
    else:
        for prompt, e in zip(gen.PROMPTS, expected(d)["spm"]):
            if "<s>" not in prompt:
                assert exported.encode(prompt, add_special_tokens=False).ids == e["ids"], prompt


def test_spm_without_dummy_prefix(tokcheck, fresh, tmp_path):
    """A SentencePiece BPE model with add_dummy_prefix=false (Gemma's kind):
    our encoder, sentencepiece and llama.cpp with our KVs agree."""
    import shutil

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    d = tmp_path / "nodummy"
    shutil.copytree(fresh / "llama-spm", d)
    shutil.copy(fresh / "prompts.json", tmp_path / "prompts.json")
    proto = pb.ModelProto()
    proto.ParseFromString((d / "tokenizer.model").read_bytes())
    proto.normalizer_spec.add_dummy_prefix = False
    (d / "tokenizer.model").write_bytes(proto.SerializeToString())
    sp = spm.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
    got = run_tokcheck(tokcheck, d)
    kvs = {kv["key"]: kv["value"] for kv in got["kvs"]}
    assert kvs["tokenizer.ggml.add_space_prefix"] is False
    bad = [(e["text"], e["ids"], sp.encode(e["text"])) for e in got["plain"] if e["ids"] != sp.encode(e["text"])]
    assert not bad, bad
    llama_cpp = pytest.importorskip("llama_cpp")
    write_vocab_gguf(tmp_path / "v.gguf", got["kvs"])
    llm = llama_cpp.Llama(str(tmp_path / "v.gguf"), vocab_only=True, verbose=False)
    for e in got["plain"]:
        if e["text"]:
            assert llm.tokenize(e["text"].encode("utf-8"), add_bos=False, special=False) == e["ids"], e["text"]
