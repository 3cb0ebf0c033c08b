"""`mlmf convert --to gguf` refuses a bad vocabulary before writing anything.

A missing or corrupt tokenizer file, a byte-level BPE whose pre-tokenizer
llama.cpp cannot reproduce, and special tokens that point outside the
vocabulary each stop the conversion with an error naming the file and the
problem; the output directory stays empty (no file, no temp file).
"""

import json
import shutil

import pytest


@pytest.fixture
def demo_copy(repo_root, tmp_path):
    d = tmp_path / "checkpoint"
    shutil.copytree(repo_root / "internal" / "demo" / "checkpoint", d)
    return d


def refused(mlmf, src, tmp_path, *extra):
    out = tmp_path / "out"
    out.mkdir()
    p = mlmf.run("convert", src, out / "model.gguf", "--to", "gguf", "--type", "F16", *extra, check=False)
    assert p.returncode != 0, p.stdout
    assert list(out.iterdir()) == [], "a refused conversion left files behind"
    return p.stderr


def test_missing_tokenizer(mlmf, demo_copy, tmp_path):
    (demo_copy / "tokenizer.json").unlink()
    err = refused(mlmf, demo_copy, tmp_path)
    assert "--no-vocab" in err and "tokenizer" in err
    # and with --no-vocab it converts, without tokenizer keys
    out = tmp_path / "ok.gguf"
    mlmf.run("convert", demo_copy, out, "--to", "gguf", "--type", "F16", "--no-vocab")
    import gguf
    assert not [k for k in gguf.GGUFReader(str(out)).fields if k.startswith("tokenizer.")]


def test_corrupt_tokenizer_json(mlmf, demo_copy, tmp_path):
    f = demo_copy / "tokenizer.json"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    err = refused(mlmf, demo_copy, tmp_path)
    assert "tokenizer.json" in err


def test_unreproducible_pre_tokenizer(mlmf, demo_copy, repo_root, tmp_path):
    """The demo's byte-level BPE given the odd-pre fixture's pre-tokenizer, a
    split regex that matches no pre-tokenizer llama.cpp implements: refused,
    and the error shows the regex."""
    odd = json.loads((repo_root / "testdata" / "tokenizers" / "odd-pre" / "tokenizer.json").read_text())
    f = demo_copy / "tokenizer.json"
    tok = json.loads(f.read_text())
    tok["pre_tokenizer"] = odd["pre_tokenizer"]
    f.write_text(json.dumps(tok))
    err = refused(mlmf, demo_copy, tmp_path)
    assert "pre-tokenizer" in err
    assert odd["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] in err


def test_special_token_outside_vocabulary(mlmf, demo_copy, tmp_path):
    cfg_path = demo_copy / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["eos_token_id"] = cfg["vocab_size"] + 100
    cfg_path.write_text(json.dumps(cfg))
    tc_path = demo_copy / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text())
    tc.pop("eos_token", None)
    tc_path.write_text(json.dumps(tc))
    err = refused(mlmf, demo_copy, tmp_path)
    assert "outside the vocabulary" in err and str(cfg["vocab_size"] + 100) in err
