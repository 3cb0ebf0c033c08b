"""The embedded demo checkpoint is a real model: transformers loads it,
tokenizes with its tokenizer and runs it; mlmf's view of it matches."""

import json
import os
import subprocess

import pytest
import torch


@pytest.fixture(scope="module")
def demo_dir(mlmf, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    p = mlmf.run("inspect", "--json", env={"XDG_CACHE_HOME": str(cache)})
    summary = json.loads(p.stdout)
    return os.path.dirname(summary["files"][0]), summary


def test_transformers_runs_the_demo(demo_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, summary = demo_dir
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    assert model.config.model_type == "llama"
    ids = tok("The quick brown fox", return_tensors="pt").input_ids
    assert ids[0, 0].item() == model.config.bos_token_id
    assert tok.decode(ids[0, 1:]) == "The quick brown fox"
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], model.config.vocab_size)
    assert torch.isfinite(logits).all()
    # mlmf's parameter count is the model's.
    assert summary["parameter_count"] == sum(p.numel() for p in model.parameters())
    assert summary["dtypes"] == {"BF16": {"tensors": summary["tensor_count"], "parameters": summary["parameter_count"],
                                          "bytes": 2 * summary["parameter_count"]}}


PROMPTS = ["The quick brown fox", "  leading spaces", "digits 12345 and 3.14", "accents: héllo naïve",
           "CJK 世界 and emoji 🙂", "special <s> inside </s>"]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_tokenize_matches_transformers(mlmf, demo_dir, prompt):
    from transformers import AutoTokenizer

    path, _ = demo_dir
    want = AutoTokenizer.from_pretrained(path)(prompt, add_special_tokens=False).input_ids
    got = json.loads(mlmf.run("tokenize", path, prompt, "--json").stdout)
    assert got["hf"] == want, "mlmf's HF-side encoder"
    assert got["gguf"] == want, "the GGUF vocabulary mlmf makes"
    assert got["first_difference"] == -1
