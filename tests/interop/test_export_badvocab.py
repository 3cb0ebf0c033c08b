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


def gguf_tensors(path):
    import gguf

    return [(t.name, t.tensor_type.name, t.data.tobytes()) for t in gguf.GGUFReader(str(path)).tensors]


def test_rules_file_fixes_renamed_tensors(mlmf, repo_root, tmp_path):
    """testdata/tiny-renamed is the demo with mlp.down_proj renamed proj_out:
    refused as is, and with a mapping file (the format `mlmf map --rules` and
    the TUI's fixer write) it exports the demo's tensors byte for byte."""
    src = repo_root / "testdata" / "tiny-renamed"
    err = refused(mlmf, src, tmp_path, "--no-vocab")
    assert "proj_out" in err and "--rules" in err
    rules = tmp_path / "fix.yaml"
    rules.write_text("arch: llama\nrules:\n  - hf: model.layers.{bid}.mlp.proj_out.weight\n"
                     "    canonical: blk.{bid}.ffn_down.weight\n")
    ours, demo = tmp_path / "fixed.gguf", tmp_path / "demo.gguf"
    mlmf.run("convert", src, ours, "--to", "gguf", "--type", "F16", "--no-vocab", "--rules", rules)
    mlmf.run("convert", repo_root / "internal" / "demo" / "checkpoint", demo, "--to", "gguf", "--type", "F16", "--no-vocab")
    # (the order follows the source's tensor order, which the rename changed)
    assert sorted(gguf_tensors(ours)) == sorted(gguf_tensors(demo))


def test_drop_unmapped(mlmf, demo_copy, repo_root, tmp_path):
    from safetensors.torch import load_file, save_file
    import torch

    f = demo_copy / "model.safetensors"
    tensors = load_file(str(f))
    tensors["model.layers.0.self_attn.mystery.weight"] = torch.zeros(4, 4)
    save_file(tensors, str(f), metadata={"format": "pt"})
    refused(mlmf, demo_copy, tmp_path)
    ours, demo = tmp_path / "dropped.gguf", tmp_path / "demo.gguf"
    p = mlmf.run("convert", demo_copy, ours, "--to", "gguf", "--type", "F16", "--drop-unmapped")
    assert "model.layers.0.self_attn.mystery.weight" in p.stdout
    mlmf.run("convert", repo_root / "internal" / "demo" / "checkpoint", demo, "--to", "gguf", "--type", "F16")
    assert gguf_tensors(ours) == gguf_tensors(demo)
